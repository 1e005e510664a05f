//! `corelog consume`: print a topic's records, one per line (like Kafka's
//! `kafka-console-consumer`).
//!
//! Without `--follow` the end is the high watermark of every assigned
//! partition as of the start: records produced later are not printed, and the
//! command exits once every partition has been read up to its end. With
//! `--follow` it keeps polling. Either way `--max-messages` stops it early.
//! A closed stdout (`| head`) ends it quietly with exit code 0.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Write};
use std::time::Duration;

use clap::Args;
use corelog_net::client::{Admin, ClientConfig, Consumer, ConsumerConfig, ConsumerRecord, OffsetSpec, StartAt};

use crate::bootstrap::{self, describe, parse_separator, topic_error, BootstrapArgs};

/// How long one poll waits for records.
const POLL_WAIT: Duration = Duration::from_millis(500);

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    corelog consume --topic orders                          # everything there is now, then exit\n  \
    corelog consume --topic orders --from latest --follow    # new records as they come\n  \
    corelog consume --topic orders --partition 0 --from offset:100 --max-messages 10\n  \
    corelog consume --topic orders --print-key --key-separator ' => '")]
pub struct ConsumeArgs {
    /// Topic to read.
    #[arg(long, short = 't')]
    topic: String,
    /// Where to start in each partition: earliest (the log start), latest
    /// (the end: only new records), offset:N (offset N; before the log start
    /// means the start, past the end means the end), timestamp:MS (the first
    /// record at or after MS ms since the epoch; the end if there is none).
    #[arg(long, value_name = "WHERE", default_value = "earliest", value_parser = parse_from)]
    from: StartAt,
    /// Read only this partition (repeatable; default: every partition).
    #[arg(long = "partition", short = 'p', value_name = "P")]
    partitions: Vec<u32>,
    /// Exit after printing this many records.
    #[arg(long, value_name = "N")]
    max_messages: Option<u64>,
    /// Keep waiting for new records instead of exiting at the end of the
    /// partitions (stop with Ctrl-C or --max-messages).
    #[arg(long, short = 'f')]
    follow: bool,
    /// Print each record's key before its value (empty for records without one).
    #[arg(long)]
    print_key: bool,
    /// Print each record's offset (before the key and value).
    #[arg(long)]
    print_offset: bool,
    /// Print each record's partition (first).
    #[arg(long)]
    print_partition: bool,
    /// Print each record's timestamp, ms since the epoch (after the offset).
    #[arg(long)]
    print_timestamp: bool,
    /// Separator between the printed fields (partition, offset, timestamp,
    /// key, value). `\t` means a tab.
    #[arg(long, value_name = "SEP", default_value = "\\t", value_parser = parse_separator)]
    key_separator: String,
    #[command(flatten)]
    bootstrap: BootstrapArgs,
}

/// Parses `--from`.
fn parse_from(text: &str) -> Result<StartAt, String> {
    let bad = || format!("expected earliest, latest, offset:N or timestamp:MS, got {text:?}");
    match text {
        "earliest" => Ok(StartAt::Earliest),
        "latest" => Ok(StartAt::Latest),
        _ => match text.split_once(':') {
            Some(("offset", n)) => n.parse::<u64>().map(StartAt::Offset).map_err(|_| bad()),
            Some(("timestamp", ms)) => match ms.parse::<i64>() {
                Ok(ms) if ms >= 0 => Ok(StartAt::Timestamp(ms)),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        },
    }
}

pub fn run(args: ConsumeArgs) -> Result<(), String> {
    bootstrap::run(consume(args))
}

/// Why consuming stopped early.
enum Stop {
    /// Stdout was closed: not an error.
    StdoutClosed,
    Failed(String),
}

async fn consume(args: ConsumeArgs) -> Result<(), String> {
    let config = ConsumerConfig { max_wait: POLL_WAIT, ..ConsumerConfig::default() };
    let client = ClientConfig {
        request_timeout: config.request_timeout,
        max_frame_bytes: ClientConfig::default().max_frame_bytes.max(config.fetch_max_bytes as usize * 2),
        ..bootstrap::client_config()
    };
    let cluster = args.bootstrap.connect(client).await?;
    let topic = args.topic.as_str();
    let context = format!("topic {topic:?}");
    let fail = |e| topic_error(&context, &e);
    let info = cluster.topic_metadata(topic).await.map_err(fail)?;
    let partitions: Vec<u32> = if args.partitions.is_empty() {
        (0..info.partition_count()).collect()
    } else {
        let mut asked = args.partitions.clone();
        asked.sort_unstable();
        asked.dedup();
        if let Some(p) = asked.iter().find(|p| **p >= info.partition_count()) {
            return Err(format!("topic {topic:?} has no partition {p} (it has {})", info.partition_count()));
        }
        asked
    };

    // The end of each partition as of now: where reading stops without
    // --follow, and the upper bound of an explicit start offset.
    let admin = Admin::new(&cluster);
    let mut ends: BTreeMap<u32, u64> = BTreeMap::new();
    if !args.follow || matches!(args.from, StartAt::Offset(_)) {
        for &p in &partitions {
            let end = admin.list_offsets(topic, p, OffsetSpec::Latest).await.map_err(fail)?;
            ends.insert(p, end.offset.unwrap_or(0));
        }
    }

    let mut consumer = Consumer::new(&cluster, config);
    match args.from {
        // An offset outside the log starts at its nearer end (not wherever
        // the broker's out-of-range answer would reset it to).
        StartAt::Offset(offset) => {
            for &p in &partitions {
                let start = admin.list_offsets(topic, p, OffsetSpec::Earliest).await.map_err(fail)?;
                let (start, end) = (start.offset.unwrap_or(0), ends[&p]);
                let at = offset.clamp(start, end.max(start));
                consumer.assign(topic, &[p], StartAt::Offset(at)).await.map_err(fail)?;
            }
        }
        from => consumer.assign(topic, &partitions, from).await.map_err(fail)?,
    }
    if args.follow {
        ends.clear();
    }

    let result = pump(&args, &mut consumer, &mut ends).await;
    cluster.close();
    match result {
        Ok(()) | Err(Stop::StdoutClosed) => Ok(()),
        Err(Stop::Failed(e)) => Err(e),
    }
}

/// Polls and prints until done.
async fn pump(args: &ConsumeArgs, consumer: &mut Consumer, ends: &mut BTreeMap<u32, u64>) -> Result<(), Stop> {
    let topic = args.topic.as_str();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let mut printed: u64 = 0;
    let limit = args.max_messages.unwrap_or(u64::MAX);
    loop {
        if !args.follow {
            // Partitions whose position reached the end are done.
            ends.retain(|p, end| consumer.position(topic, *p).is_none_or(|pos| pos < *end));
            if ends.is_empty() {
                break;
            }
        }
        if printed >= limit {
            break;
        }
        let records =
            consumer.poll(POLL_WAIT).await.map_err(|e| Stop::Failed(format!("reading {topic:?}: {}", describe(&e))))?;
        if records.is_empty() {
            if stdout_closed() {
                return Err(Stop::StdoutClosed);
            }
            continue;
        }
        for record in &records {
            if !args.follow && ends.get(&record.partition).is_none_or(|end| record.offset >= *end) {
                continue; // past the end as of the start
            }
            if printed >= limit {
                break;
            }
            print_record(&mut out, args, record).map_err(stop_for)?;
            printed += 1;
        }
        out.flush().map_err(stop_for)?;
    }
    out.flush().map_err(stop_for)
}

fn stop_for(e: std::io::Error) -> Stop {
    if e.kind() == ErrorKind::BrokenPipe {
        Stop::StdoutClosed
    } else {
        Stop::Failed(format!("writing to stdout: {e}"))
    }
}

fn print_record(out: &mut impl Write, args: &ConsumeArgs, record: &ConsumerRecord) -> std::io::Result<()> {
    let sep = args.key_separator.as_bytes();
    if args.print_partition {
        write!(out, "{}", record.partition)?;
        out.write_all(sep)?;
    }
    if args.print_offset {
        write!(out, "{}", record.offset)?;
        out.write_all(sep)?;
    }
    if args.print_timestamp {
        write!(out, "{}", record.timestamp)?;
        out.write_all(sep)?;
    }
    if args.print_key {
        out.write_all(record.key.as_deref().unwrap_or_default())?;
        out.write_all(sep)?;
    }
    out.write_all(&record.value)?;
    out.write_all(b"\n")
}

/// Whether stdout is a pipe whose reader has gone (so `--follow` on an idle
/// topic notices `| head` exiting without waiting for the next record).
fn stdout_closed() -> bool {
    let mut fd = libc::pollfd { fd: libc::STDOUT_FILENO, events: 0, revents: 0 };
    // SAFETY: one valid pollfd, zero timeout.
    let ready = unsafe { libc::poll(&mut fd, 1, 0) };
    ready == 1 && fd.revents & libc::POLLERR != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_values() {
        assert_eq!(parse_from("earliest").unwrap(), StartAt::Earliest);
        assert_eq!(parse_from("latest").unwrap(), StartAt::Latest);
        assert_eq!(parse_from("offset:42").unwrap(), StartAt::Offset(42));
        assert_eq!(parse_from("timestamp:1700000000000").unwrap(), StartAt::Timestamp(1_700_000_000_000));
        for bad in ["", "beginning", "offset:", "offset:-1", "offset:x", "timestamp:-5", "time:1", "42"] {
            assert!(parse_from(bad).is_err(), "{bad:?} accepted");
        }
    }
}
