//! `corelog consume`: print a topic's records, one per line (like Kafka's
//! `kafka-console-consumer`).
//!
//! Without `--follow` the end is the high watermark of every assigned
//! partition as of the start: records produced later are not printed, and the
//! command exits once every partition has been read up to its end. With
//! `--follow` it keeps polling. Either way `--max-messages` stops it early.
//! A closed stdout (`| head`) ends it quietly with exit code 0.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{ErrorKind, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use corelog_client::{
    Admin, Assignor, ClientConfig, Consumer, ConsumerConfig, ConsumerRecord, GroupConfig, GroupConsumer, OffsetReset,
    OffsetSpec, RebalanceListener, StartAt, TopicPartition,
};
use futures::future::LocalBoxFuture;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;

use crate::bootstrap::{self, describe, parse_separator, topic_error, BootstrapArgs};

/// How long one poll waits for records.
const POLL_WAIT: Duration = Duration::from_millis(500);

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    corelog consume --topic orders                          # everything there is now, then exit\n  \
    corelog consume --topic orders --from latest --follow    # new records as they come\n  \
    corelog consume --topic orders --partition 0 --from offset:100 --max-messages 10\n  \
    corelog consume --topic orders --print-key --key-separator ' => '\n  \
    corelog consume --topic orders --group billing --follow   # share the partitions with billing's other members")]
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
    #[arg(long = "partition", short = 'p', value_name = "P", conflicts_with = "group")]
    partitions: Vec<u32>,
    /// Consume as a member of this consumer group: the group's members share
    /// the partitions, each starts at the group's committed offset (--from
    /// earliest|latest applies only where the group has none), and what is
    /// printed is committed (every second, on a rebalance and at exit).
    #[arg(long, short = 'g', value_name = "GROUP")]
    group: Option<String>,
    /// With --group: the member leaves the group if the broker does not hear
    /// from it for this long (a killed process's partitions move after it).
    #[arg(long, value_name = "MS", default_value_t = 10_000, requires = "group")]
    session_timeout_ms: u32,
    /// With --group: a partition assignor to offer (range, roundrobin,
    /// sticky), most preferred first; repeatable. Default: range,
    /// roundrobin, sticky.
    #[arg(long = "assignor", value_name = "NAME", requires = "group", value_parser = |s: &str| s.parse::<Assignor>())]
    assignors: Vec<Assignor>,
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
    if let Some(group) = &args.group {
        return consume_group(&args, group).await;
    }
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

/// How often `consume --group` commits what it printed.
const GROUP_COMMIT_INTERVAL: Duration = Duration::from_secs(1);

/// `consume --group`: a member of `group`. Printed records are committed
/// (auto-commit every second, on revocation and on close); records fetched
/// but not printed (past `--max-messages`, or past a partition's end without
/// `--follow`) are sought back over, so they are not committed. Without
/// `--follow` each partition is read up to its end as of when this member got
/// it, and the command exits once every assigned partition is there (at once
/// if the group gave it none). SIGINT / SIGTERM stop it cleanly: commit,
/// leave the group (a second one exits at once).
async fn consume_group(args: &ConsumeArgs, group: &str) -> Result<(), String> {
    let from = match args.from {
        StartAt::Earliest => OffsetReset::Earliest,
        StartAt::Latest => OffsetReset::Latest,
        _ => {
            return Err("--from offset:N and timestamp:MS cannot be used with --group (the group's committed \
                        offsets say where to start; see corelog group reset-offsets)"
                .into())
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // A second signal while stopping exits at once.
        flag::register_conditional_shutdown(signal, 1, stop.clone())
            .and_then(|_| flag::register(signal, stop.clone()))
            .map_err(|e| format!("installing signal handlers: {e}"))?;
    }
    let consumer_config = ConsumerConfig { max_wait: POLL_WAIT, ..ConsumerConfig::default() };
    let client = ClientConfig {
        request_timeout: consumer_config.request_timeout,
        max_frame_bytes: ClientConfig::default().max_frame_bytes.max(consumer_config.fetch_max_bytes as usize * 2),
        ..bootstrap::client_config()
    };
    let cluster = args.bootstrap.connect(client).await?;
    let topic = args.topic.as_str();
    cluster.topic_metadata(topic).await.map_err(|e| topic_error(&format!("topic {topic:?}"), &e))?;
    let defaults = GroupConfig::new(group);
    let config = GroupConfig {
        client_id: "corelog-cli".into(),
        session_timeout: Duration::from_millis(u64::from(args.session_timeout_ms)),
        assignors: if args.assignors.is_empty() { defaults.assignors.clone() } else { args.assignors.clone() },
        auto_commit: Some(GROUP_COMMIT_INTERVAL),
        auto_offset_reset: from,
        consumer: consumer_config,
        ..defaults
    };
    let mut consumer = GroupConsumer::new(&cluster, config).map_err(|e| describe(&e))?;
    consumer.subscribe(&[topic]).map_err(|e| describe(&e))?;
    // Without --follow: each partition's end as of when this member got it.
    let ends: Rc<RefCell<BTreeMap<u32, u64>>> = Rc::default();
    if !args.follow {
        consumer.set_rebalance_listener(EndsAtAssignment { admin: Admin::new(&cluster), ends: ends.clone() });
    }
    let result = pump_group(args, &mut consumer, &ends, &stop).await;
    let closed =
        consumer.close().await.map_err(|e| format!("committing the offsets of group {group:?}: {}", describe(&e)));
    cluster.close();
    match result {
        Ok(()) | Err(Stop::StdoutClosed) => closed,
        Err(Stop::Failed(e)) => Err(e),
    }
}

/// Records each assigned partition's end (ListOffsets latest) before its
/// records are fetched.
struct EndsAtAssignment {
    admin: Admin,
    ends: Rc<RefCell<BTreeMap<u32, u64>>>,
}

impl RebalanceListener for EndsAtAssignment {
    fn on_partitions_assigned<'a>(
        &'a mut self,
        _consumer: &'a mut GroupConsumer,
        partitions: &'a [TopicPartition],
    ) -> LocalBoxFuture<'a, ()> {
        Box::pin(async move {
            let mut ends = BTreeMap::new();
            for tp in partitions {
                // Unknown (an error): read it until told otherwise.
                let end = self.admin.list_offsets(&tp.topic, tp.partition, OffsetSpec::Latest).await;
                ends.insert(tp.partition, end.ok().and_then(|o| o.offset).unwrap_or(u64::MAX));
            }
            *self.ends.borrow_mut() = ends;
        })
    }
}

/// Polls and prints as a group member until done.
async fn pump_group(
    args: &ConsumeArgs,
    consumer: &mut GroupConsumer,
    ends: &RefCell<BTreeMap<u32, u64>>,
    stop: &AtomicBool,
) -> Result<(), Stop> {
    let topic = args.topic.as_str();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let mut printed: u64 = 0;
    let limit = args.max_messages.unwrap_or(u64::MAX);
    let started = Instant::now();
    let mut warned = false;
    while printed < limit && !stop.load(Ordering::Relaxed) {
        let records = consumer.poll(POLL_WAIT).await.map_err(|e| {
            Stop::Failed(format!("reading {topic:?} in group {:?}: {}", consumer.group_id(), describe(&e)))
        })?;
        // Per partition, the first record fetched but not printed.
        let mut unprinted: BTreeMap<u32, u64> = BTreeMap::new();
        for record in &records {
            let past_end = !args.follow && ends.borrow().get(&record.partition).is_none_or(|end| record.offset >= *end);
            if past_end || printed >= limit {
                unprinted.entry(record.partition).or_insert(record.offset);
                continue;
            }
            print_record(&mut out, args, record).map_err(stop_for)?;
            printed += 1;
        }
        out.flush().map_err(stop_for)?;
        for (partition, offset) in unprinted {
            consumer
                .seek(topic, partition, offset)
                .await
                .map_err(|e| Stop::Failed(format!("rewinding partition {partition}: {}", describe(&e))))?;
        }
        if consumer.generation().is_none() {
            if !warned && started.elapsed() > Duration::from_secs(15) {
                eprintln!("still joining group {:?} ...", consumer.group_id());
                warned = true;
            }
        } else if !args.follow {
            // Done once every assigned partition is at its end.
            let ends = ends.borrow();
            let done = consumer.assignment().iter().all(|tp| {
                let end = ends.get(&tp.partition).copied().unwrap_or(u64::MAX);
                consumer.position(&tp.topic, tp.partition).is_some_and(|pos| pos >= end)
            });
            if done {
                break;
            }
        }
        if records.is_empty() && stdout_closed() {
            return Err(Stop::StdoutClosed);
        }
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
