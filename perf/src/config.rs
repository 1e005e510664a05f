//! The library's run settings: what [`crate::produce::run`],
//! [`crate::consume::run`] and [`crate::e2e::run`] take. The command line
//! ([`crate::cli`]) builds these; a harness can build them directly,
//! starting from the `Default`s.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use corelog_client::{Acks, Compression, ProducerConfig};
use serde_json::{json, Value};

use crate::error::{PerfError, PerfResult};

/// When a producer stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// After this many records in total (over all producers).
    Records(u64),
    /// After this long (the last scheduled send is before the deadline).
    Duration(Duration),
}

/// How record keys are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPattern {
    /// No key: the producer's sticky partitioner spreads batches.
    None,
    /// A random 64-bit key per record (16 hex digits): hashed over every partition.
    Random,
    /// `n` distinct keys used in turn (`key-0`, `key-1`, …, `key-(n-1)`, `key-0`, …).
    Sequential(u64),
}

/// What record values are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// This many random letters A–Z (one value per producer, reused, like
    /// kafka-producer-perf-test).
    Random(usize),
    /// One of these (non-empty) values picked at random for every record
    /// (`--payload-file`).
    Lines(Vec<Bytes>),
}

impl Payload {
    /// Mean value size in bytes.
    pub fn mean_size(&self) -> f64 {
        match self {
            Payload::Random(n) => *n as f64,
            Payload::Lines(lines) if lines.is_empty() => 0.0,
            Payload::Lines(lines) => lines.iter().map(|l| l.len()).sum::<usize>() as f64 / lines.len() as f64,
        }
    }
}

/// How progress is shown while running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Display {
    /// A progress bar when stderr is a terminal (window lines printed above
    /// it), else plain lines.
    #[default]
    Auto,
    /// Plain lines on stdout only.
    Plain,
    /// Nothing printed (a harness reads the returned report).
    Quiet,
}

/// Where a consumer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartFrom {
    /// The log start of every partition.
    #[default]
    Earliest,
    /// The log end: records produced after the consumer started.
    Latest,
}

/// Settings every mode shares.
#[derive(Debug, Clone)]
pub struct Common {
    /// Broker endpoints to bootstrap from.
    pub bootstrap: Vec<SocketAddr>,
    /// The topic.
    pub topic: String,
    /// How often a window line is printed and an interval histogram logged.
    pub reporting_interval: Duration,
    /// Where `summary.json`, `*.hgrm` and `*.hlog` go (created if missing).
    pub output: Option<PathBuf>,
    /// How progress is shown.
    pub display: Display,
}

impl Default for Common {
    fn default() -> Self {
        Common {
            bootstrap: vec![SocketAddr::from(([127, 0, 0, 1], 9192))],
            topic: "perf".into(),
            reporting_interval: Duration::from_secs(5),
            output: None,
            display: Display::Auto,
        }
    }
}

/// How the topic is created when it does not exist.
#[derive(Debug, Clone, Default)]
pub struct TopicSettings {
    /// Partitions; `None`: one per broker core.
    pub partitions: Option<u32>,
    /// Topic config overrides (`flush.policy`, …).
    pub configs: Vec<(String, String)>,
}

/// The load producers generate, and their client settings.
#[derive(Debug, Clone)]
pub struct ProducerSettings {
    /// When to stop.
    pub limit: Limit,
    /// Record values.
    pub payload: Payload,
    /// Target records/s over all producers; `None`: as fast as possible.
    pub throughput: Option<f64>,
    /// Acknowledgement level.
    pub acks: Acks,
    /// Batch size in bytes.
    pub batch_size: usize,
    /// How long a batch waits for more records.
    pub linger: Duration,
    /// Batch compression.
    pub compression: Compression,
    /// Produce requests in flight per broker endpoint, per producer.
    pub max_in_flight: usize,
    /// Write as an idempotent producer; its partitions pipeline up to
    /// `max_in_flight` batches (the client's default: on).
    pub idempotence: bool,
    /// Number of producers (each with its own connections).
    pub producers: usize,
    /// OS threads (each its own glommio executor) the producers are spread
    /// over (at most one per producer).
    pub threads: usize,
    /// Record keys.
    pub key_pattern: KeyPattern,
    /// Most bytes of record values awaiting acknowledgement, over all
    /// producers (Kafka's `buffer.memory`): a producer that reaches its share
    /// waits for acknowledgements before sending more.
    pub buffer_memory: usize,
}

impl Default for ProducerSettings {
    fn default() -> Self {
        ProducerSettings {
            limit: Limit::Records(1_000_000),
            payload: Payload::Random(1024),
            throughput: None,
            acks: Acks::All,
            batch_size: 1 << 20,
            linger: Duration::from_millis(2),
            compression: Compression::None,
            max_in_flight: 10,
            idempotence: ProducerConfig::default().enable_idempotence,
            producers: 1,
            threads: 1,
            key_pattern: KeyPattern::None,
            buffer_memory: 64 << 20,
        }
    }
}

/// `corelog-perf produce`.
#[derive(Debug, Clone, Default)]
pub struct ProduceConfig {
    pub common: Common,
    pub topic: TopicSettings,
    pub producer: ProducerSettings,
}

/// `corelog-perf consume`.
#[derive(Debug, Clone)]
pub struct ConsumeConfig {
    pub common: Common,
    /// Records to read; `None`: everything up to the log ends as of the start
    /// (with `--from latest`: until `timeout` passes with no record).
    pub messages: Option<u64>,
    /// Consumer group to read as a member of (its partitions, from its
    /// committed offsets); `None`: every partition, from `from`.
    pub group: Option<String>,
    /// Where to start.
    pub from: StartFrom,
    /// Most bytes per partition per fetch (Kafka's `max.partition.fetch.bytes`).
    pub fetch_size: u32,
    /// Give up after this long without a record.
    pub timeout: Duration,
    /// Print a row of the consumer columns every reporting interval.
    pub detailed_stats: bool,
}

impl Default for ConsumeConfig {
    fn default() -> Self {
        ConsumeConfig {
            common: Common::default(),
            messages: None,
            group: None,
            from: StartFrom::Earliest,
            fetch_size: 1 << 20,
            timeout: Duration::from_secs(10),
            detailed_stats: false,
        }
    }
}

/// `corelog-perf e2e`.
#[derive(Debug, Clone)]
pub struct E2eConfig {
    pub common: Common,
    pub topic: TopicSettings,
    /// The producers; `throughput` must be set.
    pub producer: ProducerSettings,
    /// Most bytes per partition per fetch.
    pub fetch_size: u32,
    /// How long the consumer waits for the last records after the producers finish.
    pub timeout: Duration,
}

impl Default for E2eConfig {
    fn default() -> Self {
        E2eConfig {
            common: Common::default(),
            topic: TopicSettings::default(),
            producer: ProducerSettings { throughput: Some(10_000.0), ..ProducerSettings::default() },
            fetch_size: 1 << 20,
            timeout: Duration::from_secs(10),
        }
    }
}

impl ProducerSettings {
    /// Checks the settings make sense.
    pub fn validate(&self) -> PerfResult<()> {
        if self.producers == 0 {
            return Err(PerfError::new("--producers must be at least 1"));
        }
        if self.threads == 0 {
            return Err(PerfError::new("--threads must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(PerfError::new("--batch-size must be at least 1"));
        }
        if self.max_in_flight == 0 {
            return Err(PerfError::new("--max-in-flight must be at least 1"));
        }
        if self.throughput.is_some_and(|t| !(t.is_finite() && t > 0.0)) {
            return Err(PerfError::new("--throughput must be a positive number of records/s, or -1 for no limit"));
        }
        if matches!(&self.payload, Payload::Lines(lines) if lines.is_empty()) {
            return Err(PerfError::new("the payload file holds no payloads"));
        }
        if let KeyPattern::Sequential(0) = self.key_pattern {
            return Err(PerfError::new("--key-pattern sequential:<n> needs n >= 1"));
        }
        Ok(())
    }
}

/// Kafka's spelling of an acks level.
pub fn acks_name(acks: Acks) -> &'static str {
    match acks {
        Acks::None => "0",
        Acks::Leader => "1",
        Acks::All => "all",
    }
}

/// The codec's name as the CLI and Kafka clients spell it.
pub fn compression_name(c: Compression) -> &'static str {
    match c {
        Compression::None => "none",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
    }
}

impl Common {
    fn to_json(&self) -> Value {
        json!({
            "bootstrap": self.bootstrap.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "topic": self.topic,
            "reporting_interval_ms": self.reporting_interval.as_millis() as u64,
        })
    }
}

impl TopicSettings {
    fn to_json(&self) -> Value {
        json!({
            "partitions": self.partitions,
            "configs": self.configs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        })
    }
}

impl ProducerSettings {
    fn to_json(&self) -> Value {
        let (num_records, duration_s) = match self.limit {
            Limit::Records(n) => (Some(n), None),
            Limit::Duration(d) => (None, Some(d.as_secs_f64())),
        };
        let payload = match &self.payload {
            Payload::Random(n) => json!({ "record_size": n }),
            Payload::Lines(lines) => json!({ "payload_lines": lines.len(), "mean_size": self.payload.mean_size() }),
        };
        let key_pattern = match self.key_pattern {
            KeyPattern::None => "none".to_owned(),
            KeyPattern::Random => "random".to_owned(),
            KeyPattern::Sequential(n) => format!("sequential:{n}"),
        };
        json!({
            "num_records": num_records,
            "duration_s": duration_s,
            "payload": payload,
            "throughput": self.throughput.unwrap_or(-1.0),
            "acks": acks_name(self.acks),
            "batch_size": self.batch_size,
            "linger_ms": self.linger.as_secs_f64() * 1000.0,
            "compression": compression_name(self.compression),
            "max_in_flight": self.max_in_flight,
            "idempotence": self.idempotence,
            "producers": self.producers,
            "threads": self.threads,
            "key_pattern": key_pattern,
            "buffer_memory": self.buffer_memory,
        })
    }
}

impl ProduceConfig {
    /// The settings as recorded in `summary.json`.
    pub fn to_json(&self) -> Value {
        json!({ "common": self.common.to_json(), "topic": self.topic.to_json(), "producer": self.producer.to_json() })
    }
}

impl ConsumeConfig {
    /// The settings as recorded in `summary.json`.
    pub fn to_json(&self) -> Value {
        json!({
            "common": self.common.to_json(),
            "messages": self.messages,
            "group": self.group,
            "from": match self.from { StartFrom::Earliest => "earliest", StartFrom::Latest => "latest" },
            "fetch_size": self.fetch_size,
            "timeout_ms": self.timeout.as_millis() as u64,
        })
    }
}

impl E2eConfig {
    /// The settings as recorded in `summary.json`.
    pub fn to_json(&self) -> Value {
        json!({
            "common": self.common.to_json(),
            "topic": self.topic.to_json(),
            "producer": self.producer.to_json(),
            "fetch_size": self.fetch_size,
            "timeout_ms": self.timeout.as_millis() as u64,
        })
    }
}
