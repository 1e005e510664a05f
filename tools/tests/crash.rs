//! kill -9 under load: every acknowledged (acks=all) record survives.
//!
//! A `corelog broker` child process takes keyed records from the client
//! producer (many in flight) for a random 0.3–1.5 s (from the first
//! acknowledgement) and is then SIGKILLed while the producer is still
//! sending. The broker is restarted on the same data dir and ports, the
//! whole topic is read back from offset 0, and every record whose delivery resolved `Ok` before the producer was dropped
//! must be at exactly its acknowledged (partition, offset) with the same
//! key and value; offsets run 0, 1, 2, … in every partition; the log read
//! after the previous restart is a prefix of the log now (a crash only ever
//! cuts the unacknowledged tail); nothing appears that was not sent, and an
//! acknowledged record appears nowhere else. Several rounds reuse the data
//! dir, so recovery also runs over logs that were recovered before.
//!
//! `CORELOG_CRASH_SEED` replays a run (the seed is printed);
//! `CORELOG_CRASH_ROUNDS` changes the number of rounds (default 4).

mod support;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use corelog_client::{Admin, ClientResult, Cluster, Producer, ProducerConfig, ProducerRecord, RecordMetadata};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use support::{client_config, data_dir, read_all, run_client, test_cores, BrokerProc, SplitMix};

const TOPIC: &str = "crash";
const PARTITIONS: u32 = 4;
const KEYS: u64 = 1_000;
/// Most records whose delivery is outstanding at once.
const MAX_OUTSTANDING: usize = 20_000;
/// How long outstanding deliveries may take to resolve after the kill.
const DRAIN: Duration = Duration::from_secs(2);

/// A record's identity: (round, seq within the round).
type Id = (u32, u64);

/// Record `seq` of `round`: deterministic, so the reader can rebuild what
/// was sent from the first 12 bytes of the value.
fn record(round: u32, seq: u64) -> (Bytes, Bytes) {
    let mut rng = SplitMix((u64::from(round) << 40) ^ seq ^ 0x00c4_a511);
    let key = format!("k{:04}", rng.next_u64() % KEYS);
    let mut value = round.to_be_bytes().to_vec();
    value.extend_from_slice(&seq.to_be_bytes());
    let len = (rng.next_u64() % 200) as usize;
    value.extend(rng.bytes(len));
    (Bytes::from(key), Bytes::from(value))
}

/// What one producer run saw.
#[derive(Debug, Default)]
struct ProduceReport {
    sent: u64,
    acked_before_kill: u64,
    acked_after_kill: u64,
    failed: u64,
    /// Still unresolved when the producer was dropped.
    unresolved: u64,
    /// Deliveries outstanding at the moment of the kill.
    outstanding_at_kill: usize,
    errors: BTreeMap<String, u64>,
}

#[test]
fn acknowledged_records_survive_kill_9_under_load() {
    let test_started = Instant::now();
    let (mut rng, seed) = SplitMix::from_env_or_clock("CORELOG_CRASH_SEED");
    let rounds: u32 = std::env::var("CORELOG_CRASH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(4);
    let cores = test_cores();
    eprintln!("seed {seed} (CORELOG_CRASH_SEED={seed} replays the delays), {rounds} rounds, cores={cores}");
    let dir = data_dir();
    let mut broker = BrokerProc::start("crash", dir.path(), cores, false);
    let bootstrap = broker.endpoints();
    run_client(Duration::from_secs(30), async {
        let admin = Admin::connect(&bootstrap, client_config()).await.expect("connect");
        admin.create_topic(TOPIC, PARTITIONS, &[]).await.expect("create topic");
        admin.cluster().close();
    });

    // Every acknowledged record of every round, by (partition, offset).
    let mut acked: BTreeMap<(u32, u64), Id> = BTreeMap::new();
    // Records sent per round.
    let mut sent: Vec<u64> = Vec::new();
    // The log as read after the previous restart.
    let mut previous: BTreeMap<u32, Vec<Id>> = BTreeMap::new();
    let mut unacked_dupes_total = 0;
    for round in 0..rounds {
        let run_for = Duration::from_millis(rng.range(300, 1_500));
        let report = run_client(
            Duration::from_secs(60),
            produce_until_kill(&bootstrap, &mut broker, round, run_for, &mut acked),
        );
        eprintln!("round {round}: produced for {run_for:?}, then kill -9: {report:?}");
        assert!(report.outstanding_at_kill > 0, "round {round}: no delivery was outstanding at the kill");
        sent.push(report.sent);

        let mark = broker.log_mark();
        let restart = broker.restart();
        // Lines are echoed by a reader thread: give it a moment.
        std::thread::sleep(Duration::from_millis(50));
        let warnings = broker.lines_since(mark, "WARN");
        eprintln!("round {round}: restarted in {restart:?}; {} warnings at start: {warnings:#?}", warnings.len());

        let log =
            run_client(Duration::from_secs(60), async { read_all(&bootstrap, TOPIC, Duration::from_secs(50)).await });
        let log = check_log(round, &log, &acked, &sent, &previous, &mut unacked_dupes_total);
        previous = log;
    }
    broker.kill();
    eprintln!(
        "{} records acknowledged over {rounds} rounds, all found; {unacked_dupes_total} duplicated unacknowledged \
         records; test took {:?}",
        acked.len(),
        test_started.elapsed()
    );
}

/// Sends records for `run_for` with up to [`MAX_OUTSTANDING`] unresolved,
/// SIGKILLs the broker without pausing the sends, waits up to [`DRAIN`] for
/// the outstanding deliveries, and records every acknowledged one in `acked`.
async fn produce_until_kill(
    bootstrap: &[SocketAddr],
    broker: &mut BrokerProc,
    round: u32,
    run_for: Duration,
    acked: &mut BTreeMap<(u32, u64), Id>,
) -> ProduceReport {
    let cluster = Cluster::connect(bootstrap, client_config()).await.expect("connect");
    let producer = Producer::new(&cluster, ProducerConfig::default());
    let mut report = ProduceReport::default();
    let mut pending = FuturesUnordered::new();
    let mut killed = false;
    let mut settle =
        |seq: u64, result: ClientResult<RecordMetadata>, killed: bool, report: &mut ProduceReport| match result {
            Ok(meta) => {
                let offset = meta.offset.expect("acks=all reports the offset");
                if let Some(other) = acked.insert((meta.partition, offset), (round, seq)) {
                    panic!(
                        "round {round}: record {seq} acknowledged at {}/{offset}, where {other:?} was acknowledged \
                         before",
                        meta.partition
                    );
                }
                if killed {
                    report.acked_after_kill += 1;
                } else {
                    report.acked_before_kill += 1;
                }
            }
            Err(e) => {
                report.failed += 1;
                let kind = e.to_string();
                *report.errors.entry(kind).or_default() += 1;
            }
        };
    // The clock starts at the first acknowledgement (connections and
    // metadata are warm then, even on a loaded machine).
    let started = Instant::now();
    let mut kill_at: Option<Instant> = None;
    loop {
        while pending.len() < MAX_OUTSTANDING {
            let seq = report.sent;
            let (key, value) = record(round, seq);
            let delivery = producer.send(ProducerRecord::new(TOPIC, value).key(key));
            pending.push(async move { (seq, delivery.await) });
            report.sent += 1;
        }
        let now = Instant::now();
        if kill_at.is_none() && report.acked_before_kill > 0 {
            eprintln!("round {round}: first acknowledgement after {:?}", now - started);
            kill_at = Some(now + run_for);
        }
        assert!(
            kill_at.is_some() || now - started < Duration::from_secs(20),
            "round {round}: no record acknowledged within 20 s: {report:?}"
        );
        let wait = match kill_at {
            Some(at) if now >= at => break,
            Some(at) => (at - now).min(Duration::from_millis(5)),
            None => Duration::from_millis(5),
        };
        if let Some(Some((seq, result))) = corelog_runtime::timeout(wait, pending.next()).await {
            settle(seq, result, killed, &mut report);
        }
        while let Some(Some((seq, result))) = pending.next().now_or_never() {
            settle(seq, result, killed, &mut report);
        }
    }
    // The producer has batches in flight and records queued: kill now.
    report.outstanding_at_kill = pending.len();
    broker.kill();
    killed = true;
    let drain_until = Instant::now() + DRAIN;
    while !pending.is_empty() {
        let left = drain_until.saturating_duration_since(Instant::now());
        match corelog_runtime::timeout(left, pending.next()).await {
            Some(Some((seq, result))) => settle(seq, result, killed, &mut report),
            _ => break,
        }
    }
    report.unresolved = pending.len() as u64;
    // Stop sending: the producer's tasks die with the executor when this returns.
    drop(pending);
    drop(producer);
    cluster.close();
    report
}

/// Checks the log read back after round `round`'s restart; returns its
/// record identities per partition.
fn check_log(
    round: u32,
    log: &BTreeMap<u32, Vec<corelog_client::ConsumerRecord>>,
    acked: &BTreeMap<(u32, u64), Id>,
    sent: &[u64],
    previous: &BTreeMap<u32, Vec<Id>>,
    unacked_dupes_total: &mut usize,
) -> BTreeMap<u32, Vec<Id>> {
    let mut ids: BTreeMap<u32, Vec<Id>> = BTreeMap::new();
    let mut places: HashMap<Id, Vec<(u32, u64)>> = HashMap::new();
    for (partition, records) in log {
        let list = ids.entry(*partition).or_default();
        for (i, r) in records.iter().enumerate() {
            let at = (*partition, r.offset);
            assert_eq!(r.offset, i as u64, "round {round}: partition {partition}: offsets must run 0, 1, 2, …");
            assert!(r.value.len() >= 12, "round {round}: {at:?} holds a {}-byte value never sent", r.value.len());
            let id: Id = (
                u32::from_be_bytes(r.value[..4].try_into().unwrap()),
                u64::from_be_bytes(r.value[4..12].try_into().unwrap()),
            );
            assert!(
                (id.0 as usize) < sent.len() && id.1 < sent[id.0 as usize],
                "round {round}: {at:?} holds record {id:?}, never sent"
            );
            let (key, value) = record(id.0, id.1);
            assert!(r.value == value && r.key.as_ref() == Some(&key), "round {round}: {at:?}: record {id:?} differs");
            list.push(id);
            places.entry(id).or_default().push(at);
        }
    }

    // Every acknowledged record is where its acknowledgement said.
    for (at, id) in acked {
        let found = ids.get(&at.0).and_then(|l| l.get(at.1 as usize));
        assert_eq!(found, Some(id), "round {round}: acknowledged record {id:?} is not at {at:?}");
        assert_eq!(
            places[id].len(),
            1,
            "round {round}: acknowledged record {id:?} (at {at:?}) also at {:?}",
            places[id]
        );
    }

    // A crash cuts only the tail written since the last restart.
    for (partition, before) in previous {
        let now = &ids[partition];
        assert!(
            now.len() >= before.len() && now[..before.len()] == before[..],
            "round {round}: partition {partition}: the log read after the previous restart ({} records) is not a \
             prefix of the log now ({} records)",
            before.len(),
            now.len()
        );
    }

    // What became of this round's unacknowledged records (they may or may
    // not be there), and duplicates (only an unacknowledged, retried record
    // may appear twice).
    let acked_ids: std::collections::HashSet<Id> = acked.values().copied().collect();
    let this_round = places.keys().filter(|id| id.0 == round).count() as u64;
    let acked_this_round = acked_ids.iter().filter(|id| id.0 == round).count() as u64;
    let unacked_present = this_round - acked_this_round;
    let dupes: Vec<_> = places.iter().filter(|(_, at)| at.len() > 1).collect();
    for (id, at) in &dupes {
        eprintln!("round {round}: unacknowledged record {id:?} appears {} times: {at:?}", at.len());
    }
    *unacked_dupes_total += dupes.iter().filter(|(id, _)| id.0 == round).count();
    let ends: Vec<usize> = ids.values().map(Vec::len).collect();
    eprintln!(
        "round {round}: log ends {ends:?}; of {} sent this round: {acked_this_round} acknowledged (all found), \
         {unacked_present} unacknowledged but present, {} absent; {} duplicated records in the whole log",
        sent[round as usize],
        sent[round as usize] - this_round,
        dupes.len()
    );
    ids
}
