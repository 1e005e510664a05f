//! `corelog-bench run` end to end on a tiny workload: a broker started in
//! this process, a warm-up and a one-second measured phase, a broker
//! restart and a catch-up read from disk, a small raw baseline; then the
//! stored result is read back and compared with itself.

use std::path::{Path, PathBuf};

use corelog_benches::broker::BrokerMode;
use corelog_benches::chart::{self, Series};
use corelog_benches::compare::{self, Run};
use corelog_benches::result::{BenchResult, RESULT_FILE};
use corelog_benches::runner::{self, RawOptions, RunOptions};
use corelog_benches::workload::Workload;
use corelog_perf::hgrm::parse_hgrm;

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("corelog-bench-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const TINY: &str = r#"
name = "it-tiny"
description = "integration test: 2 s of 512 B records, then a catch-up read"
topics = 1
partitions_per_topic = 2
message_size = 512
producers = 1
consumers = 1
producer_rate = 4000
acks = "all"
flush_policy = "always"
warmup = 0.5
duration = 1
consumer_backlog = true
"#;

#[test]
fn a_tiny_workload_runs_and_its_stored_result_parses() {
    let root = scratch("run");
    let workload = Workload::from_toml(TINY).unwrap();
    let options = RunOptions {
        broker: BrokerMode::InProcess,
        cores: 2,
        data_dir: root.join("data"),
        results: root.join("results"),
        raw: RawOptions { volume: Some(16 << 20), ..RawOptions::default() },
        verbose: false,
        keep_data: false,
        rate: None,
    };
    let (result, dir) = runner::run(&workload, "test", &options).unwrap();
    assert!(dir.starts_with(root.join("results").join("it-tiny")), "{}", dir.display());

    // The stored result is the returned one (through the same JSON parser:
    // serde_json may round a float's last bit).
    let stored = BenchResult::load(&dir).unwrap();
    assert_eq!(stored, BenchResult::from_json(&result.to_json().unwrap()).unwrap());
    assert_eq!(stored.workload, workload);
    assert_eq!(stored.broker.mode, "in-process");

    // About a second at 4000 records/s, nothing lost.
    let produce = stored.produce.as_ref().unwrap();
    assert_eq!(produce.records_failed, 0);
    assert!((3000..=4400).contains(&produce.throughput.records), "{}", produce.throughput.records);
    assert_eq!(produce.throughput.bytes, produce.throughput.records * 512);
    assert!(produce.co_corrected);
    assert_eq!(produce.latency.count, produce.throughput.records);
    assert!(produce.latency.p50_ms > 0.0 && produce.latency.p99_ms <= produce.latency.max_ms);

    // The broker's own histograms over the phase, from its metrics endpoint.
    let side = produce.broker_side.as_ref().expect("broker-side histograms");
    let requests = side.produce.as_ref().expect("produce requests");
    assert!(requests.count > 0 && requests.buckets_ms.iter().all(|&(_, f)| (0.0..=1.0).contains(&f)));
    assert!(side.fdatasync.as_ref().is_some_and(|f| f.count > 0), "flush always: fdatasync per group commit");

    // The catch-up read saw the warm-up's records too, from a restarted broker.
    let consume = stored.consume.as_ref().unwrap();
    assert!(consume.broker_restarted && !consume.timed_out);
    assert_eq!(Some(consume.throughput.records), consume.expected);
    assert!(consume.throughput.records > produce.throughput.records);

    // The raw baseline and the ratios.
    let raw = stored.raw.as_ref().unwrap();
    assert_eq!(raw.volume_bytes, 16 << 20);
    assert!(raw.write.mb_per_sec > 0.0 && raw.read.mb_per_sec > 0.0);
    let ratio = stored.ratios.produce_vs_raw_write.unwrap();
    assert!((ratio - produce.throughput.mb_per_sec / raw.write.mb_per_sec).abs() < 1e-9);
    assert!(stored.ratios.consume_vs_raw_read.is_some());
    assert!(
        stored.report.iter().any(|l| l.starts_with("produce: ") && l.contains("% of raw write")),
        "{:?}",
        stored.report
    );
    assert!(stored.report.iter().any(|l| l.contains("% of raw read")), "{:?}", stored.report);

    // The files: the percentile distributions parse and agree with the counts.
    for file in
        [RESULT_FILE, "produce-latency.hgrm", "catch-up-latency.hgrm", "report.txt", "perf/measured/summary.json"]
    {
        assert!(stored.files.iter().any(|f| f == file), "{file} in {:?}", stored.files);
        assert!(dir.join(file).is_file(), "{file}");
    }
    let hgrm = parse_hgrm(&std::fs::read_to_string(dir.join("produce-latency.hgrm")).unwrap()).unwrap();
    assert_eq!(hgrm.total_count, produce.throughput.records);
    let catch_up = parse_hgrm(&std::fs::read_to_string(dir.join("catch-up-latency.hgrm")).unwrap()).unwrap();
    assert_eq!(catch_up.total_count, consume.throughput.records);

    // The broker's data and the raw file are gone; the data dir stays.
    let data = std::fs::canonicalize(root.join("data")).unwrap();
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0, "scratch data removed");

    // compare reads it back: the table and the chart.
    let runs = vec![Run::load(&dir).unwrap(), Run::load(&root.join("results").join("it-tiny")).unwrap()];
    let table = compare::table(&runs);
    assert!(table.contains("produce MB/s") && table.contains("(1.00x)"), "{table}");
    let series: Vec<Series> = runs.iter().enumerate().map(|(i, r)| Series::from_hgrm(&r.label(i), &hgrm)).collect();
    chart::render(&series, "it", &root.join("c.png"), &root.join("c.svg")).unwrap();
    assert!(std::fs::metadata(root.join("c.png")).unwrap().len() > 0);
    let _ = std::fs::remove_dir_all(&root);
}
