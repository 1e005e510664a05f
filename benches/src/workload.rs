//! Named workloads: what `corelog-bench run` runs, read from TOML files in
//! the shape of OpenMessaging Benchmark's workload files.
//!
//! ```toml
//! name = "1k-max-durable"
//! description = "1 KiB records as fast as the producers go, acks=all, fdatasync before every ack"
//! topics = 1
//! partitions_per_topic = 2
//! message_size = 1024
//! producers = 2            # per topic
//! consumers = 0            # per topic: 0 or 1
//! producer_rate = "max"    # records/s over all topics, "max", or "half-max"
//! acks = "all"             # "0", "1" or "all"
//! flush_policy = "always"  # or a flush interval in ms, e.g. 1000
//! warmup = 5               # seconds, not measured
//! duration = 20            # seconds, measured
//! consumer_backlog = false # consume from disk after producing (catch-up)
//! retention_bytes = 2147483648 # optional: per partition (the topic's retention.bytes)
//! segment_bytes = 268435456    # optional: the topic's segment.bytes
//! ```
//!
//! `producer_rate = "half-max"` runs the workload at `"max"` first (warm-up
//! and measured phase: the calibration), then at half the rate it reached,
//! in the same invocation. The standard set lives in `benches/workloads/`
//! and is also compiled into the binary ([`STANDARD`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use corelog_client::Acks;
use corelog_perf::cli::{parse_acks, parse_key_pattern};
use corelog_perf::config::{KeyPattern, Limit, Payload, ProducerSettings, TopicSettings};
use serde::{Deserialize, Serialize};

/// The standard workloads, as shipped in `benches/workloads/` (name, file text).
pub const STANDARD: [(&str, &str); 11] = [
    ("1k-max-durable", include_str!("../workloads/1k-max-durable.toml")),
    ("1k-half-max-durable", include_str!("../workloads/1k-half-max-durable.toml")),
    ("1k-1p-max-durable", include_str!("../workloads/1k-1p-max-durable.toml")),
    ("1k-1p-half-max-durable", include_str!("../workloads/1k-1p-half-max-durable.toml")),
    ("100b-many-partitions", include_str!("../workloads/100b-many-partitions.toml")),
    ("64k-large-records", include_str!("../workloads/64k-large-records.toml")),
    ("1k-catch-up-from-disk", include_str!("../workloads/1k-catch-up-from-disk.toml")),
    ("rf1-acks-all", include_str!("../workloads/rf1-acks-all.toml")),
    ("rf3-acks-all", include_str!("../workloads/rf3-acks-all.toml")),
    ("rf1-acks-all-3p", include_str!("../workloads/rf1-acks-all-3p.toml")),
    ("rf3-acks-all-3p", include_str!("../workloads/rf3-acks-all-3p.toml")),
];

/// The producers' target rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "NumberOrText", into = "NumberOrText")]
pub enum Rate {
    /// As fast as the producers go.
    Max,
    /// Half of what a `Max` run reached, measured first in the same invocation.
    HalfMax,
    /// Records/s over all topics and producers.
    PerSec(f64),
}

/// When the broker makes appends durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "NumberOrText", into = "NumberOrText")]
pub enum Flush {
    /// fdatasync before every acknowledgement.
    Always,
    /// fdatasync at most every this many ms.
    IntervalMs(u64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(f64),
    Text(String),
}

impl TryFrom<NumberOrText> for Rate {
    type Error = String;
    fn try_from(v: NumberOrText) -> Result<Rate, String> {
        let n = match v {
            NumberOrText::Text(t) => match t.trim() {
                "max" | "-1" => return Ok(Rate::Max),
                "half-max" => return Ok(Rate::HalfMax),
                other => other
                    .parse::<f64>()
                    .map_err(|_| format!("producer_rate {other:?}: expected records/s, \"max\" or \"half-max\""))?,
            },
            NumberOrText::Number(n) => n,
        };
        if n == -1.0 {
            Ok(Rate::Max)
        } else if n.is_finite() && n > 0.0 {
            Ok(Rate::PerSec(n))
        } else {
            Err(format!("producer_rate {n}: must be a positive number of records/s, \"max\" or \"half-max\""))
        }
    }
}

impl From<Rate> for NumberOrText {
    fn from(r: Rate) -> NumberOrText {
        match r {
            Rate::Max => NumberOrText::Text("max".into()),
            Rate::HalfMax => NumberOrText::Text("half-max".into()),
            Rate::PerSec(n) => NumberOrText::Number(n),
        }
    }
}

impl TryFrom<NumberOrText> for Flush {
    type Error = String;
    fn try_from(v: NumberOrText) -> Result<Flush, String> {
        let ms = match v {
            NumberOrText::Text(t) if t.trim() == "always" => return Ok(Flush::Always),
            NumberOrText::Text(t) => t
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("flush_policy {t:?}: expected \"always\" or milliseconds"))?,
            NumberOrText::Number(n) if n >= 0.0 && n.fract() == 0.0 && n < u64::MAX as f64 => n as u64,
            NumberOrText::Number(n) => return Err(format!("flush_policy {n}: expected \"always\" or whole ms")),
        };
        // The broker's convention: 0 means always.
        Ok(if ms == 0 { Flush::Always } else { Flush::IntervalMs(ms) })
    }
}

impl From<Flush> for NumberOrText {
    fn from(f: Flush) -> NumberOrText {
        match f {
            Flush::Always => NumberOrText::Text("always".into()),
            Flush::IntervalMs(ms) => NumberOrText::Number(ms as f64),
        }
    }
}

impl Flush {
    /// The topic config value (`flush.policy`).
    pub fn config_value(self) -> String {
        match self {
            Flush::Always => "always".into(),
            Flush::IntervalMs(ms) => ms.to_string(),
        }
    }
}

fn one() -> usize {
    1
}

fn one_replica() -> u16 {
    1
}

fn is_one_replica(rf: &u16) -> bool {
    *rf == 1
}

fn acks_all() -> String {
    "all".into()
}

/// One workload file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// Names the results directory (`[A-Za-z0-9._-]`, at most 100 characters).
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "one")]
    pub topics: usize,
    pub partitions_per_topic: u32,
    /// Record value size in bytes.
    pub message_size: usize,
    /// Producers per topic (each on its own thread).
    #[serde(default = "one")]
    pub producers: usize,
    /// Consumers per topic: 0, or 1 (one consumer reads every partition;
    /// more need consumer groups).
    #[serde(default)]
    pub consumers: usize,
    pub producer_rate: Rate,
    /// `"0"`, `"1"` or `"all"`.
    #[serde(default = "acks_all")]
    pub acks: String,
    pub flush_policy: Flush,
    /// Seconds of load before the measured phase (same topics, not measured).
    pub warmup: f64,
    /// Seconds of measured load (the longest, with `records`).
    pub duration: f64,
    /// Measured load ends after this many records over every producer of
    /// a topic (or at `duration`, whichever comes first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<u64>,
    /// Replicas of every partition (more than 1 needs `--broker cluster`
    /// or an external cluster).
    #[serde(default = "one_replica", skip_serializing_if = "is_one_replica")]
    pub replication_factor: u16,
    /// Consume after producing, from the start of the log, with the broker
    /// restarted in between (cold caches): a catch-up read from disk.
    #[serde(default)]
    pub consumer_backlog: bool,
    /// `none` (sticky partitioning, the default), `random`, `sequential:N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_pattern: Option<String>,
    /// Producer batch size in bytes (default 1 MiB, as corelog-perf).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Producer linger in ms (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linger_ms: Option<f64>,
    /// Consumer bytes per partition per fetch (default 1 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch_size: Option<u32>,
    /// Each partition's `retention.bytes` (none: the run keeps everything).
    /// A max-rate run then needs a few segments of disk per partition, not
    /// tens of GB, and writes in steady state: each roll deletes the oldest
    /// segment and writes the new one into its file, as a broker at its
    /// retention limit does (corelog_storage's segment/recycled.rs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_bytes: Option<u64>,
    /// The topic's `segment.bytes` (none: the broker's default, 1 GiB).
    /// With `retention_bytes` it sets how much a partition writes before
    /// its rolls reuse deleted segments' files: a cluster run, whose
    /// partitions each get a share of one producer, reaches that steady
    /// state within its warm-up only with smaller segments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_bytes: Option<u64>,
}

impl Workload {
    /// Parses and validates a workload file's text.
    pub fn from_toml(text: &str) -> Result<Workload, String> {
        let w: Workload = toml::from_str(text).map_err(|e| e.to_string())?;
        w.validate()?;
        Ok(w)
    }

    /// Reads a workload file.
    pub fn load(path: &Path) -> Result<Workload, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        Workload::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// `arg` as a file path, else as the name of a workload in
    /// `benches/workloads/` (this crate's, then under the current
    /// directory), else of a built-in standard one. Returns the workload
    /// and where it came from.
    pub fn resolve(arg: &str) -> Result<(Workload, String), String> {
        let path = Path::new(arg);
        if path.is_file() {
            return Ok((Workload::load(path)?, path.display().to_string()));
        }
        let file = format!("{arg}.toml");
        let candidates = [
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("workloads").join(&file),
            PathBuf::from("benches/workloads").join(&file),
            PathBuf::from("workloads").join(&file),
        ];
        if let Some(found) = candidates.iter().find(|p| p.is_file()) {
            return Ok((Workload::load(found)?, found.display().to_string()));
        }
        if let Some((_, text)) = STANDARD.iter().find(|(name, _)| *name == arg) {
            return Ok((Workload::from_toml(text)?, format!("built-in {arg}")));
        }
        let names: Vec<&str> = STANDARD.iter().map(|(n, _)| *n).collect();
        Err(format!("no workload file {arg:?} and no standard workload of that name (standard: {})", names.join(", ")))
    }

    /// Checks the settings make sense.
    pub fn validate(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 100
            && self.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            && !self.name.starts_with('.');
        if !name_ok {
            return Err(format!("name {:?}: use 1-100 of A-Z a-z 0-9 . _ - (not starting with '.')", self.name));
        }
        if self.topics == 0 {
            return Err("topics must be at least 1".into());
        }
        if self.partitions_per_topic == 0 {
            return Err("partitions_per_topic must be at least 1".into());
        }
        if self.message_size == 0 {
            return Err("message_size must be at least 1".into());
        }
        if self.producers == 0 {
            return Err("producers must be at least 1".into());
        }
        if self.consumers > 1 {
            return Err(format!(
                "consumers = {}: at most 1 per topic (one consumer reads every partition; more need consumer groups)",
                self.consumers
            ));
        }
        if self.consumer_backlog && self.consumers == 0 {
            return Err("consumer_backlog needs consumers = 1".into());
        }
        if !(self.warmup.is_finite() && self.warmup >= 0.0) {
            return Err(format!("warmup {}: must be >= 0 seconds", self.warmup));
        }
        if !(self.duration.is_finite() && self.duration > 0.0) {
            return Err(format!("duration {}: must be > 0 seconds", self.duration));
        }
        if self.records == Some(0) {
            return Err("records must be at least 1".into());
        }
        if self.replication_factor == 0 {
            return Err("replication_factor must be at least 1".into());
        }
        self.acks()?;
        self.keys()?;
        if self.batch_size == Some(0) {
            return Err("batch_size must be at least 1".into());
        }
        if self.linger_ms.is_some_and(|l| !(l.is_finite() && l >= 0.0)) {
            return Err("linger_ms must be >= 0".into());
        }
        if self.fetch_size == Some(0) {
            return Err("fetch_size must be at least 1".into());
        }
        if self.segment_bytes == Some(0) {
            return Err("segment_bytes must be at least 1".into());
        }
        if self.retention_bytes.is_some() && self.consumer_backlog {
            return Err("retention_bytes would delete the backlog a catch-up read reads".into());
        }
        Ok(())
    }

    pub fn acks(&self) -> Result<Acks, String> {
        parse_acks(&self.acks).map_err(|e| format!("acks {e}"))
    }

    pub fn keys(&self) -> Result<KeyPattern, String> {
        self.key_pattern
            .as_deref()
            .map_or(Ok(KeyPattern::None), |k| parse_key_pattern(k).map_err(|e| format!("key_pattern {e}")))
    }

    /// How the topics are created.
    pub fn topic_settings(&self) -> TopicSettings {
        TopicSettings {
            partitions: Some(self.partitions_per_topic),
            configs: std::iter::once(("flush.policy".into(), self.flush_policy.config_value()))
                .chain(self.retention_bytes.map(|b| ("retention.bytes".into(), b.to_string())))
                .chain(self.segment_bytes.map(|b| ("segment.bytes".into(), b.to_string())))
                .collect(),
        }
    }

    /// How long one topic's measured load runs: `records`, or `duration`.
    /// (corelog-perf stops at one limit; `records` wins when both are set,
    /// and `duration` then only bounds the run in docs and the report.)
    pub fn measured_limit(&self) -> Limit {
        match self.records {
            Some(n) => Limit::Records(n),
            None => Limit::Duration(Duration::from_secs_f64(self.duration)),
        }
    }

    /// One topic's producers until `limit` at `rate` records/s for that
    /// topic (`None`: unthrottled).
    pub fn producer_settings(&self, rate: Option<f64>, limit: Limit) -> Result<ProducerSettings, String> {
        let defaults = ProducerSettings::default();
        Ok(ProducerSettings {
            limit,
            payload: Payload::Random(self.message_size),
            throughput: rate,
            acks: self.acks()?,
            batch_size: self.batch_size.unwrap_or(defaults.batch_size),
            linger: self.linger_ms.map_or(defaults.linger, |ms| Duration::from_secs_f64(ms / 1000.0)),
            producers: self.producers,
            threads: self.producers,
            key_pattern: self.keys()?,
            ..defaults
        })
    }

    /// Consumer fetch size.
    pub fn fetch_bytes(&self) -> u32 {
        self.fetch_size.unwrap_or(1 << 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        name = "t"
        partitions_per_topic = 4
        message_size = 100
        producer_rate = 5000
        flush_policy = 250
        warmup = 0
        duration = 1.5
    "#;

    #[test]
    fn every_shipped_workload_parses_and_matches_its_file() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut built_in: Vec<String> = STANDARD.iter().map(|(n, _)| n.to_string()).collect();
        built_in.sort();
        assert_eq!(on_disk, built_in, "benches/workloads/ and STANDARD list the same workloads");
        for (name, text) in STANDARD {
            let w = Workload::from_toml(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(w.name, name, "a workload's name is its file name");
            let (resolved, source) = Workload::resolve(name).unwrap();
            assert_eq!(resolved, w);
            assert!(source.ends_with(&format!("{name}.toml")), "{source}");
            assert!(!w.description.is_empty(), "{name} has a description");
        }
    }

    #[test]
    fn the_standard_set_covers_the_issue() {
        let get = |n: &str| Workload::from_toml(STANDARD.iter().find(|(name, _)| *name == n).unwrap().1).unwrap();
        let max = get("1k-max-durable");
        assert_eq!((max.message_size, max.producer_rate, max.flush_policy), (1024, Rate::Max, Flush::Always));
        assert_eq!(max.acks().unwrap(), Acks::All);
        assert_eq!(get("1k-half-max-durable").producer_rate, Rate::HalfMax);
        assert_eq!(get("100b-many-partitions").message_size, 100);
        assert!(get("100b-many-partitions").partitions_per_topic >= 32);
        assert_eq!(get("64k-large-records").message_size, 64 * 1024);
        assert!(get("1k-catch-up-from-disk").consumer_backlog);
        // The max-rate runs write in steady state, a few segments per partition.
        for name in ["1k-max-durable", "1k-half-max-durable", "1k-1p-max-durable", "1k-1p-half-max-durable"] {
            assert_eq!(get(name).retention_bytes, Some(2 << 30), "{name}");
        }
        for (name, rf, partitions) in
            [("rf1-acks-all", 1, 1), ("rf3-acks-all", 3, 1), ("rf1-acks-all-3p", 1, 3), ("rf3-acks-all-3p", 3, 3)]
        {
            let w = get(name);
            assert_eq!(
                (w.replication_factor, w.partitions_per_topic, w.message_size),
                (rf, partitions, 1024),
                "{name}"
            );
            assert_eq!((w.acks().unwrap(), w.flush_policy), (Acks::All, Flush::Always), "{name}");
            assert_eq!(w.measured_limit(), Limit::Duration(Duration::from_secs(15)), "{name}");
            // Steady state: every replica reuses deleted segments' files
            // from its third roll on, within the warm-up.
            assert_eq!((w.retention_bytes, w.segment_bytes), (Some(256 << 20), Some(256 << 20)), "{name}");
        }
    }

    #[test]
    fn defaults_and_value_forms() {
        let w = Workload::from_toml(MINIMAL).unwrap();
        assert_eq!((w.topics, w.producers, w.consumers), (1, 1, 0));
        assert_eq!(w.producer_rate, Rate::PerSec(5000.0));
        assert_eq!(w.flush_policy, Flush::IntervalMs(250));
        assert_eq!(w.acks().unwrap(), Acks::All);
        assert_eq!(w.keys().unwrap(), KeyPattern::None);
        assert_eq!((w.replication_factor, w.measured_limit()), (1, Limit::Duration(Duration::from_secs_f64(1.5))));
        let with = |extra: &str| Workload::from_toml(&format!("{MINIMAL}\n{extra}"));
        let replace = |from: &str, to: &str| Workload::from_toml(&MINIMAL.replace(from, to));
        assert_eq!(replace("5000", "\"max\"").unwrap().producer_rate, Rate::Max);
        assert_eq!(replace("5000", "-1").unwrap().producer_rate, Rate::Max);
        assert_eq!(replace("5000", "\"half-max\"").unwrap().producer_rate, Rate::HalfMax);
        assert_eq!(replace("5000", "2500.5").unwrap().producer_rate, Rate::PerSec(2500.5));
        assert_eq!(replace("= 250", "= \"always\"").unwrap().flush_policy, Flush::Always);
        assert_eq!(replace("= 250", "= 0").unwrap().flush_policy, Flush::Always);
        assert_eq!(replace("= 250", "= \"1000\"").unwrap().flush_policy, Flush::IntervalMs(1000));
        assert_eq!(with("acks = \"1\"").unwrap().acks().unwrap(), Acks::Leader);
        assert_eq!(with("key_pattern = \"sequential:8\"").unwrap().keys().unwrap(), KeyPattern::Sequential(8));
        let s = with("batch_size = 65536\nlinger_ms = 5\nproducers = 3")
            .unwrap()
            .producer_settings(Some(10.0), Limit::Duration(Duration::from_secs(2)))
            .unwrap();
        assert_eq!((s.batch_size, s.linger, s.producers, s.threads), (65536, Duration::from_millis(5), 3, 3));
        assert_eq!((s.limit, s.throughput), (Limit::Duration(Duration::from_secs(2)), Some(10.0)));
        assert_eq!(w.topic_settings().configs, vec![("flush.policy".to_string(), "250".to_string())]);
        let kept = with("retention_bytes = 4096").unwrap().topic_settings().configs;
        assert_eq!(kept[1], ("retention.bytes".to_string(), "4096".to_string()));
        let rolled = with("retention_bytes = 4096\nsegment_bytes = 2048").unwrap().topic_settings().configs;
        assert_eq!(rolled[2], ("segment.bytes".to_string(), "2048".to_string()));
    }

    #[test]
    fn bad_workloads_are_rejected_with_the_reason() {
        let err = |from: &str, to: &str| Workload::from_toml(&MINIMAL.replace(from, to)).unwrap_err();
        let with = |extra: &str| Workload::from_toml(&format!("{MINIMAL}\n{extra}")).unwrap_err();
        assert!(err("5000", "0").contains("producer_rate"));
        assert!(err("5000", "\"fast\"").contains("producer_rate"));
        assert!(err("= 250", "= \"sometimes\"").contains("flush_policy"));
        assert!(err("\"t\"", "\"a/b\"").contains("name"));
        assert!(err("duration = 1.5", "duration = 0").contains("duration"));
        assert!(with("consumers = 2").contains("consumer groups"));
        assert!(with("consumer_backlog = true").contains("consumers = 1"));
        assert!(with("acks = \"2\"").contains("acks"));
        assert!(with("key_pattern = \"sequential:0\"").contains("key_pattern"));
        assert!(with("partitons = 3").contains("unknown field"));
        assert!(with("replication_factor = 0").contains("replication_factor"));
        assert!(with("records = 0").contains("records"));
        assert!(with("segment_bytes = 0").contains("segment_bytes"));
        assert!(with("consumers = 1\nconsumer_backlog = true\nretention_bytes = 1").contains("backlog"));
        assert!(Workload::from_toml("name = \"x\"").unwrap_err().contains("missing field"));
        assert!(Workload::resolve("no-such-workload").unwrap_err().contains("standard: 1k-max-durable"));
    }

    #[test]
    fn round_trips_through_json_and_toml() {
        for (_, text) in STANDARD {
            let w = Workload::from_toml(text).unwrap();
            let json = serde_json::to_string(&w).unwrap();
            assert_eq!(serde_json::from_str::<Workload>(&json).unwrap(), w);
            let toml_text = toml::to_string(&w).unwrap();
            assert_eq!(Workload::from_toml(&toml_text).unwrap(), w);
        }
    }
}
