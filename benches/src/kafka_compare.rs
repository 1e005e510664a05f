//! `corelog-bench kafka`: the Kafka listener against the native port, on
//! one broker in one run.
//!
//! For each compression codec asked for, and for `rounds` rounds, two
//! produce runs of the same records into fresh topics of the same shape
//! (one partition per broker core):
//! - native: `corelog-perf produce` (the library) on the native endpoints;
//! - Kafka: librdkafka's producer through confluent-kafka (a Python
//!   process, [`KAFKA_PRODUCER`]) on the Kafka listener.
//!
//! Both send one random A–Z value per producer, reused for every record, as
//! kafka-producer-perf-test does, with acks=all, 2 ms linger and batches up
//! to 1 MB. Each run is timed from the first record handed to the client to
//! the last acknowledgement. The order alternates between rounds so drift
//! on the machine does not favour one side; the report gives each run and
//! the medians, and the Kafka/native ratio of the medians.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use corelog_client::{Acks, Compression};
use corelog_perf::config::{compression_name, Display, Limit, Payload, ProduceConfig, ProducerSettings, TopicSettings};
use serde::{Deserialize, Serialize};

use crate::broker::{BenchBroker, BrokerMode};

/// The Kafka side: a librdkafka producer (confluent-kafka). Arguments:
/// bootstrap, topic, records, value size, compression, acks, linger ms,
/// batch bytes. Prints one JSON object: records acknowledged, failed, the
/// seconds from the first produce to the end of `flush`, the first error.
pub const KAFKA_PRODUCER: &str = r#"
import json, random, string, sys, time
from confluent_kafka import Producer

bootstrap, topic, records, size, compression, acks, linger, batch = sys.argv[1:9]
records, size = int(records), int(size)
value = ''.join(random.choice(string.ascii_uppercase) for _ in range(size)).encode()
failed = [0, None]

def report(err, msg):
    if err is not None:
        failed[0] += 1
        if failed[1] is None:
            failed[1] = str(err)

p = Producer({
    'bootstrap.servers': bootstrap,
    'acks': acks,
    'compression.type': compression,
    'linger.ms': int(linger),
    'batch.size': int(batch),
    'queue.buffering.max.kbytes': 65536,
    'queue.buffering.max.messages': 1000000,
    # Only failures call back into Python: a callback per record would
    # measure the interpreter, not the broker.
    'delivery.report.only.error': True,
    'on_delivery': report,
})
# Connect and learn the partitions before the clock starts, as the native
# side does.
p.list_topics(topic, timeout=30)
produce, poll = p.produce, p.poll
start = time.perf_counter()
for i in range(records):
    while True:
        try:
            produce(topic, value)
            break
        except BufferError:
            poll(0.0005)
    if i & 1023 == 0:
        poll(0)
left = p.flush(300)
elapsed = time.perf_counter() - start
print(json.dumps({'acked': records - failed[0] - left, 'failed': failed[0] + left,
                  'elapsed_s': elapsed, 'first_error': failed[1]}))
"#;

/// Linger of both producers.
pub const LINGER: Duration = Duration::from_millis(2);
/// Largest batch of both producers (librdkafka's `batch.size` default and
/// its ceiling under the default `message.max.bytes`).
pub const BATCH_BYTES: usize = 1_000_000;
/// How long one Kafka producer process may run.
const KAFKA_RUN_LIMIT: Duration = Duration::from_secs(600);

/// What to compare.
#[derive(Debug, Clone)]
pub struct KafkaCompareOptions {
    pub broker: BrokerMode,
    pub cores: usize,
    pub records: u64,
    pub record_size: usize,
    pub compressions: Vec<Compression>,
    pub rounds: usize,
    pub data_dir: PathBuf,
    pub results: PathBuf,
    pub python: String,
    pub quiet: bool,
}

/// One produce run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProduceRun {
    pub path: String,
    pub compression: String,
    pub round: usize,
    pub records: u64,
    pub failed: u64,
    pub elapsed_s: f64,
    pub records_per_sec: f64,
    /// Value MiB/s (Kafka's "MB").
    pub mb_per_sec: f64,
    pub first_error: Option<String>,
}

/// Medians of one codec.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodecSummary {
    pub compression: String,
    pub native_records_per_sec: f64,
    pub native_mb_per_sec: f64,
    pub kafka_records_per_sec: f64,
    pub kafka_mb_per_sec: f64,
    /// Kafka median / native median (records/s).
    pub kafka_to_native: f64,
}

/// `kafka-vs-native/<timestamp>/result.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KafkaCompareResult {
    pub started_at: String,
    pub cores: usize,
    pub records: u64,
    pub record_size: usize,
    pub runs: Vec<ProduceRun>,
    pub summaries: Vec<CodecSummary>,
    pub report: String,
}

/// Runs the comparison and stores it; returns the result and its directory.
pub fn run(options: &KafkaCompareOptions) -> Result<(KafkaCompareResult, PathBuf), String> {
    check_python(&options.python)?;
    let stamp = crate::runner::compact_utc(std::time::SystemTime::now());
    let out = options.results.join("kafka-vs-native").join(&stamp);
    std::fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    let data = options.data_dir.join(format!("kafka-vs-native-{stamp}"));
    let broker =
        BenchBroker::start_with_kafka(options.broker.clone(), &data, options.cores, Some(out.join("broker.log")))?;
    let native = broker.bootstrap();
    let kafka = broker.kafka_endpoints();
    let mut runs = Vec::new();
    for &compression in &options.compressions {
        for round in 0..options.rounds {
            let kafka_first = round % 2 == 1;
            for kafka_turn in [kafka_first, !kafka_first] {
                let topic = format!(
                    "{}-{}-{round}",
                    if kafka_turn { "kafka" } else { "native" },
                    compression_name(compression)
                );
                let settings = TopicSettings { partitions: Some(options.cores as u32), configs: Vec::new() };
                corelog_perf::topic::ensure(&native, &topic, &settings).map_err(|e| e.to_string())?;
                let run = if kafka_turn {
                    kafka_run(options, &kafka, &topic, compression, round)?
                } else {
                    native_run(options, &native, &topic, compression, round, &out)?
                };
                if !options.quiet {
                    println!("{}", run_line(&run));
                }
                runs.push(run);
            }
        }
    }
    drop(broker);
    let _ = std::fs::remove_dir_all(&data);
    let summaries: Vec<CodecSummary> =
        options.compressions.iter().map(|&c| summarize(&runs, compression_name(c))).collect();
    let report = report(options, &runs, &summaries);
    let result = KafkaCompareResult {
        started_at: stamp,
        cores: options.cores,
        records: options.records,
        record_size: options.record_size,
        runs,
        summaries,
        report: report.clone(),
    };
    let json = serde_json::to_string_pretty(&result).map_err(|e| e.to_string())?;
    write(&out.join("result.json"), &json)?;
    write(&out.join("report.txt"), &report)?;
    Ok((result, out))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn check_python(python: &str) -> Result<(), String> {
    let probe = Command::new(python)
        .args(["-c", "import confluent_kafka"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match probe {
        Ok(s) if s.success() => Ok(()),
        _ => Err(format!(
            "{python} cannot import confluent_kafka (librdkafka's Python binding): \
             pip install confluent-kafka, as scripts/install-deps.sh does"
        )),
    }
}

fn native_run(
    options: &KafkaCompareOptions,
    bootstrap: &[SocketAddr],
    topic: &str,
    compression: Compression,
    round: usize,
    out: &Path,
) -> Result<ProduceRun, String> {
    let config = ProduceConfig {
        common: crate::runner::common(bootstrap, topic, &out.join(topic), Display::Quiet),
        topic: TopicSettings { partitions: Some(options.cores as u32), configs: Vec::new() },
        producer: ProducerSettings {
            limit: Limit::Records(options.records),
            payload: Payload::Random(options.record_size),
            acks: Acks::All,
            batch_size: BATCH_BYTES,
            linger: LINGER,
            compression,
            ..ProducerSettings::default()
        },
    };
    let report = corelog_perf::produce::run(&config).map_err(|e| e.to_string())?;
    let p = report.summary.produce.ok_or("corelog-perf produced no produce summary")?;
    Ok(ProduceRun {
        path: "native".into(),
        compression: compression_name(compression).into(),
        round,
        records: p.records_acked,
        failed: p.records_failed,
        elapsed_s: p.elapsed_s,
        records_per_sec: p.records_per_sec,
        mb_per_sec: p.mb_per_sec,
        first_error: p.first_error,
    })
}

#[derive(Deserialize)]
struct KafkaOutput {
    acked: u64,
    failed: u64,
    elapsed_s: f64,
    first_error: Option<String>,
}

fn kafka_run(
    options: &KafkaCompareOptions,
    kafka: &[SocketAddr],
    topic: &str,
    compression: Compression,
    round: usize,
) -> Result<ProduceRun, String> {
    let bootstrap = kafka.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(",");
    let child = Command::new(&options.python)
        .args(["-c", KAFKA_PRODUCER, &bootstrap, topic])
        .arg(options.records.to_string())
        .arg(options.record_size.to_string())
        .args([compression_name(compression), "all"])
        .arg(LINGER.as_millis().to_string())
        .arg(BATCH_BYTES.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running {}: {e}", options.python))?;
    // Its pipes are drained while it runs (a chatty librdkafka must not
    // block on a full pipe), in a thread that the limit can give up on.
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(KAFKA_RUN_LIMIT) {
        Ok(output) => output.map_err(|e| e.to_string())?,
        Err(_) => {
            // SAFETY: kill(2) on the child we spawned; its waiting thread
            // reaps it.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            return Err(format!("the Kafka producer did not finish within {KAFKA_RUN_LIMIT:?}"));
        }
    };
    if !output.status.success() {
        return Err(format!(
            "the Kafka producer failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let o: KafkaOutput = serde_json::from_str(line).map_err(|e| format!("the Kafka producer printed {line:?}: {e}"))?;
    let secs = o.elapsed_s.max(f64::MIN_POSITIVE);
    Ok(ProduceRun {
        path: "kafka".into(),
        compression: compression_name(compression).into(),
        round,
        records: o.acked,
        failed: o.failed,
        elapsed_s: o.elapsed_s,
        records_per_sec: o.acked as f64 / secs,
        mb_per_sec: o.acked as f64 * options.record_size as f64 / secs / (1u64 << 20) as f64,
        first_error: o.first_error,
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// The medians of one codec's runs.
pub fn summarize(runs: &[ProduceRun], compression: &str) -> CodecSummary {
    let of = |path: &str, f: fn(&ProduceRun) -> f64| {
        median(runs.iter().filter(|r| r.path == path && r.compression == compression).map(f).collect())
    };
    let native = of("native", |r| r.records_per_sec);
    let kafka = of("kafka", |r| r.records_per_sec);
    CodecSummary {
        compression: compression.into(),
        native_records_per_sec: native,
        native_mb_per_sec: of("native", |r| r.mb_per_sec),
        kafka_records_per_sec: kafka,
        kafka_mb_per_sec: of("kafka", |r| r.mb_per_sec),
        kafka_to_native: if native > 0.0 { kafka / native } else { 0.0 },
    }
}

fn run_line(r: &ProduceRun) -> String {
    let failed = if r.failed > 0 {
        format!("  {} FAILED ({})", r.failed, r.first_error.as_deref().unwrap_or("?"))
    } else {
        String::new()
    };
    format!(
        "{:<6} {:<4} round {}  {:>10.0} records/s  {:>7.1} MB/s  ({} records in {:.2} s){failed}",
        r.path, r.compression, r.round, r.records_per_sec, r.mb_per_sec, r.records, r.elapsed_s
    )
}

fn report(options: &KafkaCompareOptions, runs: &[ProduceRun], summaries: &[CodecSummary]) -> String {
    let mut text = format!(
        "Kafka listener (librdkafka via confluent-kafka) vs native port (corelog-perf), one broker, {} core(s)\n\
         {} records of {} B per run, acks=all, linger {} ms, batches up to {} B, {} round(s), order alternating\n\n",
        options.cores,
        options.records,
        options.record_size,
        LINGER.as_millis(),
        BATCH_BYTES,
        options.rounds
    );
    for r in runs {
        text.push_str(&run_line(r));
        text.push('\n');
    }
    text.push_str("\nmedians          native records/s    MB/s     kafka records/s    MB/s   kafka/native\n");
    for s in summaries {
        text.push_str(&format!(
            "{:<16} {:>16.0} {:>7.1} {:>19.0} {:>7.1} {:>13.1}%\n",
            s.compression,
            s.native_records_per_sec,
            s.native_mb_per_sec,
            s.kafka_records_per_sec,
            s.kafka_mb_per_sec,
            s.kafka_to_native * 100.0
        ));
    }
    if runs.iter().any(|r| r.failed > 0) {
        text.push_str("\nSOME RECORDS FAILED: see the runs above\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(path: &str, compression: &str, rps: f64) -> ProduceRun {
        ProduceRun {
            path: path.into(),
            compression: compression.into(),
            round: 0,
            records: 10,
            failed: 0,
            elapsed_s: 1.0,
            records_per_sec: rps,
            mb_per_sec: rps / 1000.0,
            first_error: None,
        }
    }

    #[test]
    fn summaries_are_medians_per_path_and_codec() {
        let runs = vec![
            run("native", "none", 100.0),
            run("native", "none", 300.0),
            run("native", "none", 200.0),
            run("kafka", "none", 150.0),
            run("kafka", "none", 50.0),
            run("kafka", "lz4", 999.0),
        ];
        let s = summarize(&runs, "none");
        assert_eq!(s.native_records_per_sec, 200.0);
        assert_eq!(s.kafka_records_per_sec, 100.0);
        assert!((s.kafka_to_native - 0.5).abs() < 1e-9);
        assert_eq!(summarize(&runs, "lz4").kafka_to_native, 0.0, "no native run: no ratio");
    }
}
