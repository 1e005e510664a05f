//! The command line: Kafka's perf-test flag names where Kafka has one.
//! Parses into the library's [`crate::config`] types; [`run`] dispatches.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use corelog_client::{Acks, Compression};

use crate::config::{
    Common, ConsumeConfig, Display, E2eConfig, KeyPattern, Limit, Payload, ProduceConfig, ProducerSettings, StartFrom,
    TopicSettings,
};
use crate::error::{PerfError, PerfResult};
use crate::payload::load_payload_file;
use crate::summary::RunReport;

#[derive(Parser, Debug)]
#[command(
    name = "corelog-perf",
    version,
    about = "Load tests for corelog: produce, consume and end-to-end latency (HdrHistogram, CO-corrected)",
    after_help = "See docs/perf.md for every flag with example output."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Produce records as fast as possible or at a fixed rate (like kafka-producer-perf-test).
    Produce(ProduceArgs),
    /// Consume records and report throughput (like kafka-consumer-perf-test) and end-to-end latency.
    Consume(ConsumeArgs),
    /// Produce at a fixed rate while consuming; report end-to-end latency.
    E2e(E2eArgs),
}

/// Flags of every mode.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Broker endpoints, comma-separated host:port.
    #[arg(long, short = 'b', visible_alias = "bootstrap-server", value_name = "HOST:PORT,...", default_value = "127.0.0.1:9192", value_delimiter = ',', value_parser = parse_bootstrap)]
    pub bootstrap: Vec<SocketAddr>,
    /// The topic.
    #[arg(long)]
    pub topic: String,
    /// How often to print a window line and log an interval histogram, in ms.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub reporting_interval: u64,
    /// Write summary.json, *.hgrm and *.hlog into this directory.
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// auto: a progress bar when stderr is a terminal; lines: plain lines only; quiet: only errors.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    pub progress: ProgressArg,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressArg {
    Auto,
    Lines,
    Quiet,
}

/// How a missing topic is created.
#[derive(Args, Debug, Clone)]
pub struct TopicArgs {
    /// Partitions of the topic if it has to be created (default: one per broker core).
    #[arg(long)]
    pub partitions: Option<u32>,
    /// Config of the topic if it has to be created, KEY=VALUE (repeatable), e.g. flush.policy=always.
    #[arg(long = "topic-config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub topic_configs: Vec<(String, String)>,
}

/// The producers' flags.
#[derive(Args, Debug, Clone)]
#[command(group(ArgGroup::new("limit").required(true).args(["num_records", "duration"])))]
pub struct ProducerArgs {
    /// Records to send in all.
    #[arg(long)]
    pub num_records: Option<u64>,
    /// Send for this long instead: 30, 30s, 500ms, 2m.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Value size in bytes (random letters).
    #[arg(long, conflicts_with = "payload_file", default_value_t = 1024)]
    pub record_size: usize,
    /// Take values from this file instead, one per line (see --payload-delimiter), picked at random.
    #[arg(long, value_name = "FILE")]
    pub payload_file: Option<PathBuf>,
    /// What separates the payloads in --payload-file.
    #[arg(long, default_value = "\n", requires = "payload_file")]
    pub payload_delimiter: String,
    /// Target records/s over all producers; -1 for no limit.
    #[arg(long, allow_negative_numbers = true, default_value_t = -1.0)]
    pub throughput: f64,
    /// Acknowledgement level: 0, 1, all (or -1).
    #[arg(long, allow_hyphen_values = true, default_value = "all", value_parser = parse_acks)]
    pub acks: Acks,
    /// Producer batch size in bytes.
    #[arg(long, default_value_t = ProducerSettings::default().batch_size)]
    pub batch_size: usize,
    /// How long a batch waits for more records, ms.
    #[arg(long, default_value_t = 2.0)]
    pub linger_ms: f64,
    /// Batch compression: none, lz4, zstd.
    #[arg(long, default_value = "none", value_parser = parse_compression)]
    pub compression_type: Compression,
    /// Produce requests in flight per broker core, per producer.
    #[arg(long, default_value_t = ProducerSettings::default().max_in_flight)]
    pub max_in_flight: usize,
    /// Idempotent producer (true or false): with it, a partition has up to
    /// --max-in-flight batches in flight, in order; without, one.
    #[arg(long, default_value_t = ProducerSettings::default().idempotence, action = clap::ArgAction::Set)]
    pub enable_idempotence: bool,
    /// Number of producers, each with its own connections.
    #[arg(long, default_value_t = 1)]
    pub producers: usize,
    /// OS threads (glommio executors) to spread the producers over (default: one per producer).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Record keys: none, random, or sequential:<n distinct keys>.
    #[arg(long, default_value = "none", value_parser = parse_key_pattern)]
    pub key_pattern: KeyPattern,
    /// Most bytes of unacknowledged values over all producers (Kafka's buffer.memory).
    #[arg(long, default_value_t = ProducerSettings::default().buffer_memory)]
    pub buffer_memory: usize,
}

#[derive(Args, Debug, Clone)]
pub struct ProduceArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub topic: TopicArgs,
    #[command(flatten)]
    pub producer: ProducerArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Records to consume (default: everything in the topic when the run starts;
    /// with --from latest, until --timeout passes without records).
    #[arg(long)]
    pub messages: Option<u64>,
    /// Read as a member of this consumer group: the partitions the group assigns,
    /// from its committed offsets (--from where it has none), committed on the way
    /// and at the end.
    #[arg(long)]
    pub group: Option<String>,
    /// Where to start in every partition.
    #[arg(long, value_enum, default_value_t = FromArg::Earliest)]
    pub from: FromArg,
    /// Most bytes per partition per fetch (Kafka's max.partition.fetch.bytes).
    #[arg(long, default_value_t = 1 << 20)]
    pub fetch_size: u32,
    /// Stop after this many ms without a record.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout: u64,
    /// Print a row of the columns every reporting interval.
    #[arg(long)]
    pub show_detailed_stats: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FromArg {
    Earliest,
    Latest,
}

#[derive(Args, Debug, Clone)]
pub struct E2eArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub topic: TopicArgs,
    #[command(flatten)]
    pub producer: ProducerArgs,
    /// Most bytes per partition per fetch.
    #[arg(long, default_value_t = 1 << 20)]
    pub fetch_size: u32,
    /// After the producers finish, wait at most this many ms without a record for the rest.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout: u64,
}

impl CommonArgs {
    pub fn into_common(self) -> Common {
        Common {
            bootstrap: self.bootstrap,
            topic: self.topic,
            reporting_interval: Duration::from_millis(self.reporting_interval),
            output: self.output,
            display: match self.progress {
                ProgressArg::Auto => Display::Auto,
                ProgressArg::Lines => Display::Plain,
                ProgressArg::Quiet => Display::Quiet,
            },
        }
    }
}

impl TopicArgs {
    pub fn into_settings(self) -> TopicSettings {
        TopicSettings { partitions: self.partitions, configs: self.topic_configs }
    }
}

impl ProducerArgs {
    /// The settings (reads `--payload-file`).
    pub fn into_settings(self) -> PerfResult<ProducerSettings> {
        let limit = match (self.num_records, self.duration) {
            (Some(n), None) => Limit::Records(n),
            (None, Some(d)) => Limit::Duration(d),
            _ => return Err(PerfError::new("give one of --num-records and --duration")),
        };
        let payload = match &self.payload_file {
            Some(path) => Payload::Lines(load_payload_file(path, &self.payload_delimiter)?),
            None => Payload::Random(self.record_size),
        };
        let throughput = match self.throughput {
            -1.0 => None,
            t if t.is_finite() && t > 0.0 => Some(t),
            t => return Err(PerfError::new(format!("--throughput {t}: give records/s > 0, or -1 for no limit"))),
        };
        if !(self.linger_ms.is_finite() && self.linger_ms >= 0.0) {
            return Err(PerfError::new("--linger-ms must be >= 0"));
        }
        let settings = ProducerSettings {
            limit,
            payload,
            throughput,
            acks: self.acks,
            batch_size: self.batch_size,
            linger: Duration::from_secs_f64(self.linger_ms / 1000.0),
            compression: self.compression_type,
            max_in_flight: self.max_in_flight,
            idempotence: self.enable_idempotence,
            producers: self.producers,
            threads: self.threads.unwrap_or(self.producers),
            key_pattern: self.key_pattern,
            buffer_memory: self.buffer_memory,
        };
        settings.validate()?;
        Ok(settings)
    }
}

impl ProduceArgs {
    pub fn into_config(self) -> PerfResult<ProduceConfig> {
        Ok(ProduceConfig {
            common: self.common.into_common(),
            topic: self.topic.into_settings(),
            producer: self.producer.into_settings()?,
        })
    }
}

impl ConsumeArgs {
    pub fn into_config(self) -> ConsumeConfig {
        ConsumeConfig {
            common: self.common.into_common(),
            messages: self.messages,
            group: self.group,
            from: match self.from {
                FromArg::Earliest => StartFrom::Earliest,
                FromArg::Latest => StartFrom::Latest,
            },
            fetch_size: self.fetch_size,
            timeout: Duration::from_millis(self.timeout),
            detailed_stats: self.show_detailed_stats,
        }
    }
}

impl E2eArgs {
    pub fn into_config(self) -> PerfResult<E2eConfig> {
        let producer = self.producer.into_settings()?;
        if producer.throughput.is_none() {
            return Err(PerfError::new("e2e runs at a fixed rate: give --throughput <records/s>"));
        }
        Ok(E2eConfig {
            common: self.common.into_common(),
            topic: self.topic.into_settings(),
            producer,
            fetch_size: self.fetch_size,
            timeout: Duration::from_millis(self.timeout),
        })
    }
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> PerfResult<RunReport> {
    match cli.command {
        Command::Produce(args) => crate::produce::run(&args.into_config()?),
        Command::Consume(args) => crate::consume::run(&args.into_config()),
        Command::E2e(args) => crate::e2e::run(&args.into_config()?),
    }
}

/// `host:port[,host:port…]`, resolved.
pub fn parse_bootstrap(text: &str) -> Result<SocketAddr, String> {
    // clap splits on ',' (value_delimiter) before calling this per entry.
    let entry = text.trim();
    entry
        .to_socket_addrs()
        .map_err(|e| format!("{entry:?}: {e} (expected host:port)"))?
        .next()
        .ok_or_else(|| format!("{entry:?} resolves to no address"))
}

/// `0`, `1`, `all` or `-1`.
pub fn parse_acks(text: &str) -> Result<Acks, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "0" => Ok(Acks::None),
        "1" => Ok(Acks::Leader),
        "all" | "-1" => Ok(Acks::All),
        other => Err(format!("{other:?}: expected 0, 1 or all")),
    }
}

/// `none`, `random` or `sequential:<n>`.
pub fn parse_key_pattern(text: &str) -> Result<KeyPattern, String> {
    match text.trim() {
        "none" => Ok(KeyPattern::None),
        "random" => Ok(KeyPattern::Random),
        other => match other.strip_prefix("sequential:").map(str::parse::<u64>) {
            Some(Ok(n)) if n > 0 => Ok(KeyPattern::Sequential(n)),
            _ => Err(format!("{other:?}: expected none, random or sequential:<n distinct keys, n >= 1>")),
        },
    }
}

/// `none`, `lz4` or `zstd`.
pub fn parse_compression(text: &str) -> Result<Compression, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "none" => Ok(Compression::None),
        "lz4" => Ok(Compression::Lz4),
        "zstd" => Ok(Compression::Zstd),
        other => Err(format!("{other:?}: expected none, lz4 or zstd")),
    }
}

/// `30` (seconds), `30s`, `500ms`, `2m`, `1h`, `1.5s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("{text:?}: expected a duration like 30s, 500ms, 2m"))?;
    let secs = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{text:?}: out of range"))
}

/// `KEY=VALUE`.
pub fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(format!("{text:?}: expected KEY=VALUE")),
    }
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
