//! Every mode against a real broker started in this process: each runs for
//! about two seconds through the library API (and the binary once), then
//! the files it wrote are parsed and the counts checked against each other.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use corelog_broker::{Broker, BrokerConfig};
use corelog_perf::config::{
    Common, ConsumeConfig, Display, E2eConfig, KeyPattern, Limit, ProduceConfig, ProducerSettings, StartFrom,
    TopicSettings,
};
use corelog_perf::hgrm::parse_hgrm;
use corelog_perf::hlog::read_hlog;
use corelog_perf::RunReport;
use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("corelog-perf-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

use corelog_testkit::free_ports as free_base_port;

fn start_broker(data_dir: &Path) -> Broker {
    let cores = corelog_runtime::available_cores().min(2);
    let mut last = None;
    for _ in 0..5 {
        let config = BrokerConfig {
            base_port: free_base_port(cores as u16),
            data_dir: data_dir.to_path_buf(),
            cores,
            io_memory: 1 << 20,
            // A clash is answered with another port, not waited out.
            bind_retry: Duration::ZERO,
            ..BrokerConfig::default()
        };
        match Broker::start(config) {
            Ok(broker) => return broker,
            Err(e) => last = Some(e),
        }
    }
    panic!("cannot start a broker: {last:?}");
}

fn common(bootstrap: &[SocketAddr], topic: &str, output: &Path) -> Common {
    Common {
        bootstrap: bootstrap.to_vec(),
        topic: topic.into(),
        reporting_interval: Duration::from_millis(500),
        output: Some(output.to_path_buf()),
        display: Display::Quiet,
    }
}

/// Reads `<dir>/<stream>-latency.{hgrm,hlog}` and `summary.json`; checks the
/// histogram files agree with each other and with `count`.
fn check_files(dir: &Path, stream: &str, count: u64, report: &RunReport) -> Value {
    let hgrm = parse_hgrm(&std::fs::read_to_string(dir.join(format!("{stream}-latency.hgrm"))).unwrap()).unwrap();
    assert_eq!(hgrm.total_count, count, "{stream}.hgrm total count");
    if count > 0 {
        assert_eq!(hgrm.rows.last().unwrap().total_count, count);
        assert_eq!(hgrm.rows.last().unwrap().percentile, 1.0);
    }
    let intervals = read_hlog(&std::fs::read(dir.join(format!("{stream}-latency.hlog"))).unwrap()).unwrap();
    assert!(intervals.len() >= 2, "{stream}.hlog has {} intervals", intervals.len());
    let logged: u64 = intervals.iter().map(|i| i.hist.len()).sum();
    assert_eq!(logged, count, "{stream}.hlog intervals add up");
    for pair in intervals.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!((a.start_s + a.length_s - b.start_s).abs() < 0.002, "intervals are contiguous: {a:?} {b:?}");
    }
    let hist = report.histogram(stream).unwrap();
    assert_eq!(hist.len(), count);
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let files: Vec<&str> = summary["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert!(files.contains(&format!("{stream}-latency.hgrm").as_str()), "{files:?}");
    assert!(files.contains(&"summary.json"));
    summary
}

#[test]
fn every_mode_against_a_real_broker() {
    let data = scratch("data");
    let broker = start_broker(&data);
    let bootstrap = broker.endpoints();

    // produce: 2 s at 2000 records/s, 2 producers on 2 threads, random keys.
    let out = scratch("produce");
    let produce = corelog_perf::produce::run(&ProduceConfig {
        common: common(&bootstrap, "it-perf", &out),
        topic: TopicSettings { partitions: Some(3), configs: vec![] },
        producer: ProducerSettings {
            limit: Limit::Duration(Duration::from_secs(2)),
            throughput: Some(2000.0),
            payload: corelog_perf::config::Payload::Random(200),
            producers: 2,
            threads: 2,
            key_pattern: KeyPattern::Random,
            ..ProducerSettings::default()
        },
    })
    .unwrap();
    let p = produce.summary.produce.clone().unwrap();
    assert_eq!(p.records_failed, 0, "{:?}", p.first_error);
    assert_eq!(p.records_sent, p.records_acked);
    assert!((3990..=4000).contains(&p.records_acked), "{} records in 2 s at 2000/s", p.records_acked);
    assert_eq!(p.bytes, p.records_acked * 200);
    assert!(p.co_corrected);
    let summary = check_files(&out, "produce", p.records_acked, &produce);
    assert_eq!(summary["mode"], "produce");
    assert_eq!(summary["produce"]["records_acked"], p.records_acked);
    assert_eq!(summary["config"]["producer"]["throughput"], 2000.0);
    assert_eq!(summary["config"]["topic"]["partitions"], 3);
    assert_eq!(summary["topic"]["partitions"], 3);
    assert_eq!(summary["topic"]["created"], true);
    assert_eq!(summary["machine"]["cores"], corelog_runtime::available_cores());
    assert!(summary["produce"]["latency"]["p99_ms"].as_f64().unwrap() > 0.0);

    // consume: everything produced, from the start.
    let out = scratch("consume");
    let consume = corelog_perf::consume::run(&ConsumeConfig {
        common: common(&bootstrap, "it-perf", &out),
        from: StartFrom::Earliest,
        timeout: Duration::from_secs(5),
        ..ConsumeConfig::default()
    })
    .unwrap();
    let c = consume.summary.consume.clone().unwrap();
    assert_eq!(c.expected, Some(p.records_acked));
    assert_eq!(c.records, p.records_acked, "consumed everything produced");
    assert_eq!(c.bytes, p.bytes);
    assert!(!c.timed_out);
    assert!(c.fetch_time_ms + c.rebalance_time_ms <= (c.end_ms - c.start_ms) as u64 + 1);
    let summary = check_files_min(&out, "consume", c.records, &consume);
    assert_eq!(summary["consume"]["records"], c.records);

    // e2e: 2 s at 1000 records/s; every acknowledged record is consumed.
    let out = scratch("e2e");
    let e2e = corelog_perf::e2e::run(&E2eConfig {
        common: common(&bootstrap, "it-e2e", &out),
        topic: TopicSettings { partitions: Some(2), configs: vec![] },
        producer: ProducerSettings {
            limit: Limit::Duration(Duration::from_secs(2)),
            throughput: Some(1000.0),
            payload: corelog_perf::config::Payload::Random(100),
            ..ProducerSettings::default()
        },
        fetch_size: 1 << 20,
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let ep = e2e.summary.produce.clone().unwrap();
    let ee = e2e.summary.e2e.clone().unwrap();
    assert_eq!(ep.records_failed, 0, "{:?}", ep.first_error);
    assert_eq!(ep.records_sent, ep.records_acked);
    assert_eq!(ee.records_received, ep.records_acked, "sent == acked == consumed");
    assert_eq!(ee.records_missing, 0);
    assert!((1990..=2000).contains(&ee.records_received), "{}", ee.records_received);
    check_files(&out, "produce", ep.records_acked, &e2e);
    let summary = check_files(&out, "e2e", ee.records_received, &e2e);
    assert_eq!(summary["e2e"]["records_received"], ee.records_received);
    assert!(summary["e2e"]["latency"]["p50_ms"].as_f64().unwrap() > 0.0);

    // The binary: unthrottled, acks=1, plain lines; then a consume with --group.
    let out = scratch("bin");
    let bootstrap_arg = bootstrap.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(",");
    let run = Command::new(env!("CARGO_BIN_EXE_corelog-perf"))
        .args(["produce", "--topic", "it-bin", "--num-records", "20000", "--record-size", "100", "--acks", "1"])
        // Many batches, so the group reads below take many fetches.
        .args(["--batch-size", "16384"])
        .args(["--throughput", "-1", "--reporting-interval", "200", "--progress", "lines", "--bootstrap"])
        .arg(&bootstrap_arg)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "stdout {stdout}\nstderr {}", String::from_utf8_lossy(&run.stderr));
    let last = stdout.lines().last().unwrap();
    assert!(last.starts_with("20000 records sent, "), "{last}");
    assert!(last.ends_with(" ms 99.99th."), "{last}");
    for line in stdout.lines().filter(|l| !l.starts_with("20000 ")) {
        assert!(line.ends_with(" ms max latency.") && line.contains(" records sent, "), "window line {line:?}");
    }
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["produce"]["records_acked"], 20000);
    assert_eq!(summary["config"]["producer"]["acks"], "1");

    // A member of group g reads part of the backlog and commits it on
    // leaving; the next member of g starts there and reads the rest (a
    // partition the joining polls did not reach starts at the committed
    // offset), the next finds nothing, and another group reads everything.
    let group_consume = |group: &str, name: &str, messages: Option<u64>| {
        let out = scratch(name);
        let mut command = Command::new(env!("CARGO_BIN_EXE_corelog-perf"));
        // Small fetches: the polls that join bring only part of the backlog.
        command.args(["consume", "--topic", "it-bin", "--group", group, "--fetch-size", "1024"]);
        if let Some(n) = messages {
            command.args(["--messages", &n.to_string()]);
        }
        let run =
            command.args(["--progress", "quiet", "--bootstrap"]).arg(&bootstrap_arg).arg("--output").arg(&out).output();
        let run = run.unwrap();
        assert!(run.status.success(), "consume --group {group}: {}", String::from_utf8_lossy(&run.stderr));
        let summary: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["config"]["group"], group, "{summary}");
        summary["consume"]["records"].as_u64().unwrap()
    };
    let committed = |group: &str| {
        let bootstrap = bootstrap.clone();
        let group = group.to_owned();
        corelog_runtime::run_local(async move {
            let cluster = corelog_client::Cluster::connect(&bootstrap, Default::default()).await.unwrap();
            corelog_client::Admin::new(&cluster).group_offsets(&group).await.unwrap().values().sum::<u64>()
        })
    };
    assert_eq!(group_consume("g", "group-1", Some(5000)), 5000);
    let first = committed("g");
    assert!((5000..20000).contains(&first), "g committed what it read: {first}");
    assert_eq!(group_consume("g", "group-2", None), 20000 - first, "g resumes at its committed offsets");
    assert_eq!(committed("g"), 20000);
    assert_eq!(group_consume("g", "group-3", None), 0);
    assert_eq!(group_consume("other", "group-4", None), 20000);

    broker.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&data);
}

/// Like [`check_files`], for a run that may fit in one reporting interval.
fn check_files_min(dir: &Path, stream: &str, count: u64, report: &RunReport) -> Value {
    let hgrm = parse_hgrm(&std::fs::read_to_string(dir.join(format!("{stream}-latency.hgrm"))).unwrap()).unwrap();
    assert_eq!(hgrm.total_count, count);
    let intervals = read_hlog(&std::fs::read(dir.join(format!("{stream}-latency.hlog"))).unwrap()).unwrap();
    assert_eq!(intervals.iter().map(|i| i.hist.len()).sum::<u64>(), count);
    assert_eq!(report.histogram(stream).unwrap().len(), count);
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}
