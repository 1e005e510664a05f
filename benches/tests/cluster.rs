//! `corelog-bench run --broker cluster` end to end on a tiny replicated
//! workload: three `corelog broker` processes (each a controller, `--cores
//! 1`), a topic of replication factor 3, a few thousand acks=all records,
//! then every replica's log end and the ISR, and the nodes stopped.
//!
//! The `corelog` binary comes from `CORELOG_BIN`, else this test builds it
//! (`cargo build -p corelog-tools --bin corelog`, the test's profile) so it
//! matches the tree under test.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use corelog_benches::broker::BrokerMode;
use corelog_benches::result::BenchResult;
use corelog_benches::runner::{self, RawOptions, RunOptions};
use corelog_benches::workload::Workload;

/// The whole run (three node starts, quorum, topic, load, stop) must fit.
const RUN_BOUND: Duration = Duration::from_secs(180);

fn corelog_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("CORELOG_BIN") {
        return PathBuf::from(bin);
    }
    // CARGO_TARGET_TMPDIR is <target>/tmp; the test's profile dir is the
    // directory holding this test binary's `deps/`.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let mut build = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build.args(["build", "-q", "-p", "corelog-tools", "--bin", "corelog", "--target-dir"]).arg(target);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let status = build.current_dir(env!("CARGO_MANIFEST_DIR")).status().expect("running cargo build");
    assert!(status.success(), "building corelog: {status}");
    profile_dir.join("corelog")
}

const TINY_RF3: &str = r#"
name = "it-cluster-rf3"
description = "integration test: 4000 acks=all records on a 3-node cluster, RF 3"
partitions_per_topic = 1
replication_factor = 3
message_size = 1024
producer_rate = "max"
acks = "all"
flush_policy = "always"
warmup = 0.5
duration = 60
records = 4000
"#;

#[test]
fn the_cluster_mode_starts_three_brokers_and_replicates_a_tiny_rf3_workload() {
    let bin = corelog_bin();
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("corelog-bench-cluster-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let workload = Workload::from_toml(TINY_RF3).unwrap();
    let options = RunOptions {
        broker: BrokerMode::Cluster { bin },
        cores: 1,
        data_dir: root.join("data"),
        results: root.join("results"),
        raw: RawOptions { volume: Some(16 << 20), ..RawOptions::default() },
        verbose: false,
        keep_data: false,
        rate: None,
    };
    let started = Instant::now();
    let (result, dir) = runner::run(&workload, "test", &options).unwrap();
    assert!(started.elapsed() < RUN_BOUND, "took {:?}", started.elapsed());
    let stored = BenchResult::load(&dir).unwrap();
    assert_eq!(stored, BenchResult::from_json(&result.to_json().unwrap()).unwrap());

    // Three node processes, all of them bootstrap endpoints, now gone.
    assert_eq!(stored.broker.mode, "cluster");
    assert_eq!((stored.broker.bootstrap.len(), stored.broker.pids.len()), (3, 3));
    for pid in &stored.broker.pids {
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "node {pid} stopped (and reaped)");
    }
    for id in 1..=3 {
        assert!(dir.join(format!("broker-{id}.log")).is_file(), "node {id}'s log");
    }

    // Exactly the bounded number of records, all acknowledged by every replica.
    let produce = stored.produce.as_ref().unwrap();
    assert_eq!((produce.throughput.records, produce.records_failed), (4000, 0));
    assert_eq!(produce.latency.count, 4000);
    let replication = stored.replication.as_ref().expect("cluster mode reports the replicas");
    assert_eq!((replication.replication_factor, replication.nodes), (3, 3));
    assert!(replication.converged_after_ms.is_some(), "every replica reached the leader's log end");
    assert_eq!(replication.partitions.len(), 1);
    let p = &replication.partitions[0];
    let mut replicas = p.replicas.clone();
    replicas.sort();
    assert_eq!(replicas, vec![1, 2, 3], "one replica on each node");
    assert_eq!(p.isr.len(), 3, "all in sync at the end: {p:?}");
    assert_eq!(p.log_ends.len(), 3);
    // The warm-up's records are in the same log, before the measured ones.
    assert!(p.log_ends.iter().all(|&end| end == p.log_ends[0] && end > 4000), "{:?}", p.log_ends);
    assert!(stored.report.iter().any(|l| l.starts_with("replication: factor 3 on 3 nodes")), "{:?}", stored.report);
    assert!(stored.ratios.produce_vs_raw_write.is_some());

    // Replication factor 3 is refused without a cluster.
    let no_cluster = RunOptions { broker: BrokerMode::InProcess, ..options };
    assert!(runner::run(&workload, "test", &no_cluster).unwrap_err().contains("--broker cluster"));
    let _ = std::fs::remove_dir_all(&root);
}
