//! `corelog-bench kafka` end to end on a few records: a broker in this
//! process with its Kafka listener, corelog-perf on the native port and
//! librdkafka (confluent-kafka) on the Kafka port, both codecs, and the
//! stored result read back.

use std::path::Path;

use corelog_benches::broker::BrokerMode;
use corelog_benches::kafka_compare::{self, KafkaCompareOptions, KafkaCompareResult};
use corelog_client::Compression;

fn have_confluent_kafka() -> bool {
    std::process::Command::new("python3").args(["-c", "import confluent_kafka"]).status().is_ok_and(|s| s.success())
}

#[test]
fn both_paths_produce_every_record_and_the_result_is_stored() {
    if !have_confluent_kafka() {
        eprintln!("skipping: confluent-kafka is not installed (run scripts/install-deps.sh)");
        return;
    }
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("kafka-compare-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let options = KafkaCompareOptions {
        broker: BrokerMode::InProcess,
        cores: 1,
        records: 3000,
        record_size: 1024,
        compressions: vec![Compression::None, Compression::Lz4],
        rounds: 1,
        data_dir: root.join("data"),
        results: root.join("results"),
        python: "python3".into(),
        quiet: true,
    };
    let (result, dir) = kafka_compare::run(&options).unwrap();
    assert_eq!(result.runs.len(), 4, "{:?}", result.runs);
    for run in &result.runs {
        assert_eq!((run.records, run.failed), (3000, 0), "{run:?}");
        assert!(run.records_per_sec > 0.0 && run.mb_per_sec > 0.0, "{run:?}");
    }
    for (summary, codec) in result.summaries.iter().zip(["none", "lz4"]) {
        assert_eq!(summary.compression, codec);
        assert!(summary.kafka_to_native > 0.0, "{summary:?}");
    }
    assert!(result.report.contains("kafka/native"), "{}", result.report);
    let stored: KafkaCompareResult =
        serde_json::from_str(&std::fs::read_to_string(dir.join("result.json")).unwrap()).unwrap();
    assert_eq!(stored.runs.len(), 4);
    assert!(!root.join("data").read_dir().unwrap().any(|e| e.is_ok()), "the broker's data is removed");
    let _ = std::fs::remove_dir_all(&root);
}
