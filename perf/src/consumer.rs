//! The load consumer shared by `consume` and `e2e`: one [`Consumer`] on its
//! own thread, assigned every partition of the topic, or, with a group, a
//! [`GroupConsumer`] reading the partitions the group gives it (and
//! committing its positions), recording each record's end-to-end latency
//! (its timestamp, or the [`TS_HEADER`] stamp when present, to the moment
//! `poll` returned it).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use corelog_client::{
    Admin, ClientConfig, ClientError, ClientResult, Cluster, Consumer, ConsumerConfig, ConsumerRecord, GroupConfig,
    GroupConsumer, OffsetReset, OffsetSpec, StartAt,
};
use corelog_runtime::CoreHandle;

use crate::config::StartFrom;
use crate::error::{PerfError, PerfResult};
use crate::producer::TS_HEADER;
use crate::stats::{Counters, LocalWindow, SharedWindow};
use crate::worker::{spawn_worker, Gate};

/// How long one `poll` waits.
const POLL: Duration = Duration::from_millis(100);
/// How long a group member waits for its first assignment.
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);

/// When the consumer stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// After this many records.
    Records(u64),
    /// After the records between the start positions and the log ends as
    /// of the start (or `timeout` without a record).
    CatchUp,
    /// After `timeout` without a record.
    UntilIdle,
    /// After as many records as the producers had acknowledged when they
    /// all finished (e2e), or `timeout` after that without a record.
    Acked,
}

/// What the consumer shares with the run.
pub struct ConsumerCtx {
    pub bootstrap: Vec<SocketAddr>,
    pub topic: String,
    /// Read as a member of this consumer group: the partitions it assigns,
    /// starting at its committed offsets (`from` where it has none).
    pub group: Option<String>,
    pub from: StartFrom,
    pub fetch_size: u32,
    pub target: Target,
    pub timeout: Duration,
    pub window: Arc<SharedWindow>,
    pub counters: Arc<Counters>,
    pub gate: Arc<Gate>,
}

/// How a consumer run went; times are offsets on the run's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerOutcome {
    /// When every partition was assigned and its position known.
    pub assigned_at: Duration,
    /// When the last counted record arrived (`assigned_at` if none did).
    pub last_record_at: Duration,
    pub records: u64,
    pub bytes: u64,
    /// Records expected (`Records`, `CatchUp`, `Acked`).
    pub expected: Option<u64>,
    /// Stopped for lack of records before reaching `expected`.
    pub timed_out: bool,
}

/// Starts the consumer on its own thread.
pub fn start(ctx: &Arc<ConsumerCtx>) -> PerfResult<CoreHandle<PerfResult<ConsumerOutcome>>> {
    let ctx = ctx.clone();
    spawn_worker("perf-consumer", &ctx.gate.clone(), move || async move {
        let result = run(&ctx).await;
        if let Err(e) = &result {
            ctx.gate.abort();
            ctx.counters.error(e.to_string());
        }
        result
    })
}

/// The record's send time in µs since the epoch: the stamp if it has one,
/// else its timestamp.
pub fn sent_at_us(record: &ConsumerRecord) -> i64 {
    for (key, value) in &record.headers {
        if key == TS_HEADER {
            if let Ok(bytes) = <[u8; 8]>::try_from(value.as_ref()) {
                return i64::from_be_bytes(bytes);
            }
        }
    }
    record.timestamp * 1000
}

async fn run(ctx: &ConsumerCtx) -> PerfResult<ConsumerOutcome> {
    let partition_max = ctx.fetch_size.max(1024);
    let fetch_max = partition_max.max(8 << 20);
    let client = ClientConfig {
        client_id: "corelog-perf-consumer".into(),
        max_frame_bytes: ClientConfig::default().max_frame_bytes.max(fetch_max as usize * 2),
        ..ClientConfig::default()
    };
    let cluster =
        Cluster::connect(&ctx.bootstrap, client).await.map_err(|e| PerfError::from(e).context("connecting"))?;
    let config =
        ConsumerConfig { fetch_max_bytes: fetch_max, partition_max_bytes: partition_max, ..Default::default() };
    let (mut source, mut carried) = match &ctx.group {
        None => {
            let mut consumer = Consumer::new(&cluster, config);
            let start = match ctx.from {
                StartFrom::Earliest => StartAt::Earliest,
                StartFrom::Latest => StartAt::Latest,
            };
            consumer.assign_all(&ctx.topic, start).await.map_err(|e| match e {
                ClientError::UnknownTopic(t) => PerfError::new(format!("topic {t:?} does not exist")),
                e => PerfError::from(e).context("assigning the topic's partitions"),
            })?;
            (Source::Plain(Box::new(consumer)), Vec::new())
        }
        Some(group) => join(&cluster, ctx, group, config).await?,
    };
    let expected = match ctx.target {
        Target::Records(n) => Some(n),
        Target::CatchUp => Some(backlog(&cluster, &source, &carried, ctx).await?),
        Target::UntilIdle | Target::Acked => None,
    };
    ctx.gate.check_in();
    let Some(clock) = ctx.gate.wait_start().await else {
        return Err(PerfError::new("run aborted before the consumer started"));
    };
    let assigned_at = clock.elapsed();
    let mut out =
        ConsumerOutcome { assigned_at, last_record_at: assigned_at, records: 0, bytes: 0, expected, timed_out: false };
    let mut window = LocalWindow::new(ctx.window.clone());
    let mut idle_since = assigned_at;
    loop {
        let expected = match ctx.target {
            Target::Acked if ctx.counters.producers_done.load(std::sync::atomic::Ordering::Acquire) => {
                Some(Counters::get(&ctx.counters.acked))
            }
            _ => expected,
        };
        out.expected = expected;
        if expected.is_some_and(|n| out.records >= n) || ctx.gate.aborted() {
            break;
        }
        let records = match std::mem::take(&mut carried) {
            early if !early.is_empty() => early,
            _ => source.poll(POLL).await.map_err(|e| PerfError::from(e).context("fetching"))?,
        };
        let now = clock.elapsed();
        if records.is_empty() {
            let waiting_for_producers = ctx.target == Target::Acked && expected.is_none();
            if waiting_for_producers {
                idle_since = now;
            } else if now.saturating_sub(idle_since) >= ctx.timeout {
                out.timed_out = expected.is_some();
                break;
            }
            continue;
        }
        let now_us = clock.wall_us(now);
        let (mut n, mut bytes) = (0u64, 0u64);
        for record in &records {
            if expected.is_some_and(|e| out.records + n >= e) {
                break;
            }
            let latency = (now_us - sent_at_us(record)).max(0) as u64;
            window.record(latency, record.value.len() as u64);
            n += 1;
            bytes += record.value.len() as u64;
        }
        out.records += n;
        out.bytes += bytes;
        out.last_record_at = now;
        idle_since = now;
        Counters::add(&ctx.counters.received, n);
        Counters::add(&ctx.counters.received_bytes, bytes);
        window.maybe_flush();
    }
    window.flush();
    if let Source::Group(group) = source {
        // Commits the positions (auto-commit's last round) and leaves, so
        // the group's other members take over at once.
        group.close().await.map_err(|e| PerfError::from(e).context("leaving the group"))?;
    }
    Ok(out)
}

/// What the load consumer reads through.
enum Source {
    /// Every partition of the topic, assigned.
    Plain(Box<Consumer>),
    /// The partitions `group` gives this member.
    Group(Box<GroupConsumer>),
}

impl Source {
    async fn poll(&mut self, timeout: Duration) -> ClientResult<Vec<ConsumerRecord>> {
        match self {
            Source::Plain(c) => c.poll(timeout).await,
            Source::Group(g) => g.poll(timeout).await,
        }
    }

    fn assignment(&self) -> Vec<(String, u32)> {
        match self {
            Source::Plain(c) => c.assignment(),
            Source::Group(g) => g.assignment().iter().map(|tp| (tp.topic.clone(), tp.partition)).collect(),
        }
    }
}

/// Joins `group`, subscribed to the topic, and polls until the group has
/// assigned this member its partitions (Kafka's consumer perf test counts
/// this as the rebalance time). Returns the records those polls brought.
async fn join(
    cluster: &Cluster,
    ctx: &ConsumerCtx,
    group: &str,
    consumer: ConsumerConfig,
) -> PerfResult<(Source, Vec<ConsumerRecord>)> {
    let reset = match ctx.from {
        StartFrom::Earliest => OffsetReset::Earliest,
        StartFrom::Latest => OffsetReset::Latest,
    };
    let config = GroupConfig {
        client_id: "corelog-perf-consumer".into(),
        auto_offset_reset: reset,
        consumer,
        ..GroupConfig::new(group)
    };
    let joining = format!("joining group {group:?}");
    let context = |e: ClientError| PerfError::from(e).context(&joining);
    let mut member = GroupConsumer::new(cluster, config).map_err(context)?;
    member.subscribe(&[&ctx.topic]).map_err(context)?;
    let started = std::time::Instant::now();
    let mut carried = Vec::new();
    while member.assignment().is_empty() {
        if started.elapsed() >= JOIN_TIMEOUT || ctx.gate.aborted() {
            return Err(PerfError::new(format!(
                "group {group:?} assigned this consumer no partition of {:?} within {} s",
                ctx.topic,
                JOIN_TIMEOUT.as_secs()
            )));
        }
        carried.extend(member.poll(POLL).await.map_err(context)?);
    }
    Ok((Source::Group(Box::new(member)), carried))
}

/// Records between where the consumer started and the log ends, now. A
/// group member started each partition it was given at the first record its
/// joining polls brought from it (`carried`), or, for one they brought
/// nothing from, at the group's committed offset (else per `from`): that
/// is also where the group resumes it, as no commit can have moved it.
async fn backlog(
    cluster: &Cluster,
    consumer: &Source,
    carried: &[ConsumerRecord],
    ctx: &ConsumerCtx,
) -> PerfResult<u64> {
    let admin = Admin::new(cluster);
    let offset = |t: String, partition: u32, spec: OffsetSpec| {
        let admin = &admin;
        async move {
            let found = admin.list_offsets(&t, partition, spec).await;
            let found = found.map_err(|e| PerfError::from(e).context("looking up the log's offsets"))?;
            Ok::<_, PerfError>(found.offset.unwrap_or(0))
        }
    };
    let mut total = 0;
    for (t, partition) in consumer.assignment() {
        let end = offset(t.clone(), partition, OffsetSpec::Latest).await?;
        let first_carried = carried.iter().filter(|r| r.partition == partition).map(|r| r.offset).min();
        let start = match (consumer, first_carried) {
            (Source::Plain(c), _) => c.position(&ctx.topic, partition).unwrap_or(end),
            (Source::Group(_), Some(first)) => first,
            (Source::Group(group), None) => match group.committed(&t, partition).await {
                Ok(Some(committed)) => committed,
                Ok(None) if ctx.from == StartFrom::Earliest => offset(t, partition, OffsetSpec::Earliest).await?,
                Ok(None) => end,
                Err(e) => return Err(PerfError::from(e).context("looking up the group's committed offsets")),
            },
        };
        total += end.saturating_sub(start);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::rc::Rc;

    fn record(timestamp: i64, headers: Vec<(String, Bytes)>) -> ConsumerRecord {
        ConsumerRecord {
            topic: Rc::from("t"),
            partition: 0,
            offset: 0,
            timestamp,
            key: None,
            value: Bytes::new(),
            headers,
        }
    }

    #[test]
    fn send_time_prefers_the_stamp() {
        assert_eq!(sent_at_us(&record(1_700_000_000_123, vec![])), 1_700_000_000_123_000);
        let stamp = 1_700_000_000_123_456i64.to_be_bytes();
        let stamped = record(1_700_000_000_123, vec![(TS_HEADER.into(), Bytes::copy_from_slice(&stamp))]);
        assert_eq!(sent_at_us(&stamped), 1_700_000_000_123_456);
        let bad = record(5, vec![(TS_HEADER.into(), Bytes::from_static(b"short"))]);
        assert_eq!(sent_at_us(&bad), 5000);
    }
}
