//! `corelog produce`: one record per line of stdin (like Kafka's
//! `kafka-console-producer`).
//!
//! Stdin is read on a plain thread (a blocking read would stall the client's
//! executor) and handed over in chunks of lines through a bounded channel;
//! the producer batches and sends them in the background while more lines
//! are read. At most `MAX_PENDING` records wait for their acknowledgement at
//! a time, so a fast stdin cannot grow memory without bound.

use std::io::BufRead;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, ValueEnum};
use corelog_client::{
    Acks, ClientConfig, ClientResult, Compression, Producer, ProducerConfig, ProducerRecord, RecordMetadata,
};
use futures::channel::mpsc;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, SinkExt, StreamExt};

use crate::bootstrap::{self, describe, parse_separator, topic_error, BootstrapArgs};

/// Records sent but not yet acknowledged, at most.
const MAX_PENDING: usize = 50_000;
/// Lines handed from the stdin thread to the producer at a time, at most.
const LINES_PER_CHUNK: usize = 512;
/// Failed records reported one by one (the rest are only counted).
const MAX_REPORTED_ERRORS: usize = 5;

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    printf 'hello\\nworld\\n' | corelog produce --topic orders\n  \
    printf 'customer-7:ordered\\n' | corelog produce --topic orders --key-separator :\n  \
    corelog produce --topic orders --acks 1 --compression lz4 < events.txt")]
pub struct ProduceArgs {
    /// Topic to write to (must exist).
    #[arg(long, short = 't')]
    topic: String,
    /// Split each line at the first occurrence of this separator: the text
    /// before it is the record's key, the rest its value. A line without the
    /// separator becomes a record without a key. `\t` means a tab.
    #[arg(long, value_name = "SEP", value_parser = parse_separator)]
    key_separator: Option<String>,
    /// Write every record to this partition (default: by key hash; records
    /// without a key stick to one partition per batch).
    #[arg(long, short = 'p')]
    partition: Option<u32>,
    /// Acknowledgements to wait for: 0 (none: fire and forget), 1 (the owning
    /// core has stored it), all (every in-sync replica has it).
    #[arg(long, value_name = "0|1|all", default_value = "all", value_parser = parse_acks)]
    acks: Acks,
    /// How long a batch may wait for more records before it is sent (ms).
    #[arg(long, value_name = "MS", default_value_t = 5)]
    linger_ms: u64,
    /// Target size of a batch in bytes (keep below the topic's max.message.bytes).
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024, value_parser = clap::value_parser!(u64).range(1..))]
    batch_size: u64,
    /// Compression of each batch.
    #[arg(long, value_enum, default_value_t = CompressionArg::None)]
    compression: CompressionArg,
    /// How often a batch is sent again after a retriable error (a leader
    /// change, a full disk); the pause doubles from 100 ms up to 1 s, so the
    /// default outlasts a failover.
    #[arg(long, value_name = "N", default_value_t = ProducerConfig::default().retries)]
    retries: u32,
    /// Write as an idempotent producer (the default with --acks all): a
    /// batch retried after a lost answer (a leader killed between appending
    /// and answering) is stored once, and a partition pipelines batches.
    #[arg(long, conflicts_with = "no_idempotence")]
    idempotent: bool,
    /// Write as a plain producer: one batch per partition in flight, and a
    /// retry after a lost answer may store a batch twice.
    #[arg(long)]
    no_idempotence: bool,
    /// Print a delivery report for every record to stdout, as it is
    /// acknowledged: `LINE<TAB>PARTITION<TAB>OFFSET` (the input line number,
    /// from 1; the offset is `-` with --acks 0, which gets no answer).
    /// Reports come in acknowledgement order, not input order.
    #[arg(long)]
    print_offsets: bool,
    #[command(flatten)]
    bootstrap: BootstrapArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum CompressionArg {
    None,
    Lz4,
    Zstd,
}

impl From<CompressionArg> for Compression {
    fn from(c: CompressionArg) -> Self {
        match c {
            CompressionArg::None => Compression::None,
            CompressionArg::Lz4 => Compression::Lz4,
            CompressionArg::Zstd => Compression::Zstd,
        }
    }
}

fn parse_acks(text: &str) -> Result<Acks, String> {
    match text {
        "0" => Ok(Acks::None),
        "1" => Ok(Acks::Leader),
        "all" | "-1" => Ok(Acks::All),
        _ => Err("expected 0, 1 or all".into()),
    }
}

/// What the stdin thread sends: a chunk of lines, or the read error that ended it.
type Chunk = Result<Vec<Vec<u8>>, std::io::Error>;

pub fn run(args: ProduceArgs) -> Result<(), String> {
    bootstrap::run(produce(args))
}

async fn produce(args: ProduceArgs) -> Result<(), String> {
    let config = ProducerConfig {
        acks: args.acks,
        linger: Duration::from_millis(args.linger_ms),
        batch_size: usize::try_from(args.batch_size).unwrap_or(usize::MAX),
        compression: args.compression.into(),
        retries: args.retries,
        // `--idempotent` asks for the default (clap refuses it with --no-idempotence).
        enable_idempotence: !args.no_idempotence,
        ..ProducerConfig::default()
    };
    let client = ClientConfig { request_timeout: config.request_timeout, ..bootstrap::client_config() };
    let cluster = args.bootstrap.connect(client).await?;
    let topic = &args.topic;
    let info = cluster.topic_metadata(topic).await.map_err(|e| topic_error(&format!("topic {topic:?}"), &e))?;
    if let Some(p) = args.partition.filter(|p| *p >= info.partition_count()) {
        return Err(format!("topic {topic:?} has no partition {p} (it has {})", info.partition_count()));
    }
    let producer = Producer::new(&cluster, config);

    let (tx, mut lines) = mpsc::channel::<Chunk>(4);
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || read_stdin(tx))
        .map_err(|e| format!("starting the stdin reader: {e}"))?;

    let separator = args.key_separator.as_deref().map(str::as_bytes);
    let mut pending = FuturesUnordered::new();
    let mut tally = Tally { print_offsets: args.print_offsets, ..Tally::default() };
    let mut line_no: u64 = 0;
    let mut read_error = None;
    while let Some(chunk) = lines.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        };
        for line in chunk {
            line_no += 1;
            let record = to_record(topic, args.partition, separator, line);
            let number = line_no;
            pending.push(producer.send(record).map(move |r| (number, r)));
            tally.sent += 1;
            while pending.len() >= MAX_PENDING {
                if let Some(done) = pending.next().await {
                    tally.record(done);
                }
            }
        }
        // Settle what is done already, without waiting.
        while let Some(Some(done)) = pending.next().now_or_never() {
            tally.record(done);
        }
    }
    let flushed = producer.flush().await;
    while let Some(done) = pending.next().await {
        tally.record(done);
    }
    drop(producer);
    cluster.close();

    let delivered = if args.acks == Acks::None { "written (acks=0: not confirmed)" } else { "acknowledged" };
    eprintln!(
        "sent {} record{} to topic {topic:?}: {} {delivered}, {} failed",
        tally.sent,
        if tally.sent == 1 { "" } else { "s" },
        tally.sent - tally.failed,
        tally.failed
    );
    if let Err(e) = flushed {
        return Err(format!("flushing: {}", describe(&e)));
    }
    if let Some(e) = read_error {
        return Err(format!("reading stdin: {e}"));
    }
    if tally.failed > 0 {
        let first = tally.first_error.unwrap_or_default();
        return Err(format!("{} of {} records failed (first: {first})", tally.failed, tally.sent));
    }
    Ok(())
}

/// Counts outcomes and reports the first few failures.
#[derive(Default)]
struct Tally {
    sent: u64,
    failed: u64,
    first_error: Option<String>,
    /// Print `LINE\tPARTITION\tOFFSET` for each delivered record.
    print_offsets: bool,
}

impl Tally {
    fn record(&mut self, (line, outcome): (u64, ClientResult<RecordMetadata>)) {
        if let (Ok(meta), true) = (&outcome, self.print_offsets) {
            let offset = meta.offset.map_or_else(|| "-".to_owned(), |o| o.to_string());
            println!("{line}\t{}\t{offset}", meta.partition);
        }
        if let Err(e) = outcome {
            self.failed += 1;
            let msg = format!("line {line}: {}", describe(&e));
            if self.failed as usize <= MAX_REPORTED_ERRORS {
                eprintln!("failed: {msg}");
            }
            self.first_error.get_or_insert(msg);
        }
    }
}

/// One line (without its line ending) as a record.
fn to_record(topic: &str, partition: Option<u32>, separator: Option<&[u8]>, line: Vec<u8>) -> ProducerRecord {
    let line = Bytes::from(line);
    let mut record = match separator.and_then(|sep| find(&line, sep).map(|at| (at, sep.len()))) {
        Some((at, len)) => ProducerRecord::new(topic, line.slice(at + len..)).key(line.slice(..at)),
        None => ProducerRecord::new(topic, line),
    };
    record.partition = partition;
    record
}

/// The first position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads stdin line by line (bytes, any encoding), strips `\n` or `\r\n`,
/// and sends chunks of lines until EOF, a read error, or the receiver is gone.
fn read_stdin(mut tx: mpsc::Sender<Chunk>) {
    let mut input = std::io::BufReader::with_capacity(64 * 1024, std::io::stdin().lock());
    loop {
        let mut chunk = Vec::new();
        let mut failed = None;
        let mut eof = false;
        while chunk.len() < LINES_PER_CHUNK {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                    }
                    chunk.push(line);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
            if input.buffer().is_empty() {
                break; // hand over what we have rather than wait for more input
            }
        }
        if !chunk.is_empty() && futures::executor::block_on(tx.send(Ok(chunk))).is_err() {
            return;
        }
        if let Some(e) = failed {
            let _ = futures::executor::block_on(tx.send(Err(e)));
            return;
        }
        if eof {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_at_the_first_separator() {
        let r = to_record("t", None, Some(b":"), b"k:v:w".to_vec());
        assert_eq!((r.key.as_deref(), &r.value[..]), (Some(&b"k"[..]), &b"v:w"[..]));
        let r = to_record("t", Some(2), Some(b"::"), b"plain".to_vec());
        assert_eq!((r.key, &r.value[..], r.partition), (None, &b"plain"[..], Some(2)));
        let r = to_record("t", None, Some(b"\t"), b"\tv".to_vec());
        assert_eq!((r.key.as_deref(), &r.value[..]), (Some(&b""[..]), &b"v"[..]));
        let r = to_record("t", None, None, b"k:v".to_vec());
        assert_eq!((r.key, &r.value[..]), (None, &b"k:v"[..]));
    }

    #[test]
    fn acks_values() {
        assert_eq!(parse_acks("0").unwrap(), Acks::None);
        assert_eq!(parse_acks("1").unwrap(), Acks::Leader);
        assert_eq!(parse_acks("all").unwrap(), Acks::All);
        assert_eq!(parse_acks("-1").unwrap(), Acks::All);
        assert!(parse_acks("2").is_err());
    }
}
