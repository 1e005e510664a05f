//! The load producers shared by `produce` and `e2e`: each is a task with
//! its own [`Cluster`] (connections) and [`Producer`], following its share of
//! the send schedule (see [`crate::schedule`]) and recording each record's
//! latency when its delivery callback runs.
//!
//! The client's `send` never blocks, so the in-flight volume is bounded
//! here: a producer whose unacknowledged values reach its share of
//! `buffer_memory` waits for acknowledgements first (Kafka's producer blocks
//! in `send` at `buffer.memory`).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use corelog_client::{ClientConfig, ClientResult, Cluster, Producer, ProducerConfig, ProducerRecord, RecordMetadata};
use corelog_runtime::sync::Notify;
use corelog_runtime::CoreHandle;
use futures::future::select;

use crate::clock::Clock;
use crate::config::{Limit, ProducerSettings};
use crate::error::{PerfError, PerfResult};
use crate::payload::{KeyGen, PayloadGen};
use crate::schedule::{latency_us, records_for, Schedule};
use crate::stats::{Counters, LocalWindow, SharedWindow};
use crate::worker::{spawn_worker, Gate};

/// The header `e2e` stamps on every record: its due time, µs since the
/// epoch, 8 bytes big-endian.
pub const TS_HEADER: &str = "perf.ts";

/// Bytes a record counts against `buffer_memory` besides its value (so that
/// empty values are bounded too).
const RECORD_OVERHEAD: u64 = 64;

/// Records sent in one go before the producer yields to the client's tasks.
const SEND_BURST: u64 = 512;

/// The shortest sleep of a rate-limited producer. Sleeping until each
/// record's own due time (µs apart at 100k+ records/s) parks and wakes the
/// executor per record, which costs more CPU than sending it and made the
/// producer fall behind its schedule; waking at most once a tick sends the
/// records due meanwhile together, each at most one tick late (the lateness
/// is charged to its latency, which runs from the due time).
const PACING_TICK: Duration = Duration::from_micros(200);

/// What every producer of a run shares.
pub struct ProducerCtx {
    pub bootstrap: Vec<SocketAddr>,
    pub topic: String,
    pub settings: ProducerSettings,
    /// Stamp records with [`TS_HEADER`].
    pub stamp: bool,
    pub window: Arc<SharedWindow>,
    pub counters: Arc<Counters>,
    pub gate: Arc<Gate>,
}

/// Starts `settings.threads` threads running `settings.producers` producers
/// (producer k on thread k mod threads); each thread returns once its
/// producers are done.
pub fn start(ctx: &Arc<ProducerCtx>) -> PerfResult<Vec<CoreHandle<PerfResult<()>>>> {
    let threads = ctx.settings.threads.clamp(1, ctx.settings.producers.max(1));
    let mut handles = Vec::with_capacity(threads);
    ctx.counters.producer_threads.fetch_add(threads, std::sync::atomic::Ordering::AcqRel);
    for t in 0..threads {
        let thread_ctx = ctx.clone();
        let mine: Vec<usize> = (0..ctx.settings.producers).filter(|k| k % threads == t).collect();
        let spawned = spawn_worker(&format!("perf-producer-{t}"), &ctx.gate, move || async move {
            let ctx = thread_ctx;
            let _exit = ThreadExit(ctx.counters.clone());
            let tasks: Vec<_> = mine.into_iter().map(|k| corelog_runtime::spawn(run_one(ctx.clone(), k))).collect();
            let mut result = Ok(());
            for task in tasks {
                if let Err(e) = task.join().await {
                    ctx.gate.abort();
                    ctx.counters.error(e.to_string());
                    result = result.and(Err(e));
                }
            }
            result
        });
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(e) => {
                // This thread and the ones not started will never exit.
                for _ in t..threads {
                    ctx.counters.producer_thread_exited();
                }
                ctx.gate.abort();
                return Err(e);
            }
        }
    }
    Ok(handles)
}

/// Counts a producer thread out however it ends.
struct ThreadExit(Arc<Counters>);

impl Drop for ThreadExit {
    fn drop(&mut self) {
        self.0.producer_thread_exited();
    }
}

/// Per-producer bookkeeping shared by the send loop and the delivery
/// callbacks (all on the producer's core).
struct Tally {
    /// Records sent and not yet settled.
    pending: u64,
    /// Their value bytes plus [`RECORD_OVERHEAD`] each, against the budget.
    outstanding: u64,
    acked: u64,
    acked_bytes: u64,
    failed: u64,
    clock: Clock,
    window: LocalWindow,
    counters: Arc<Counters>,
}

impl Tally {
    fn complete(&mut self, due: Duration, len: u64, result: ClientResult<RecordMetadata>) {
        self.pending -= 1;
        self.outstanding -= len + RECORD_OVERHEAD;
        match result {
            Ok(_) => {
                self.window.record(latency_us(due, self.clock.elapsed()), len);
                self.acked += 1;
                self.acked_bytes += len;
            }
            Err(e) => {
                self.failed += 1;
                self.counters.error(format!("delivery failed: {e}"));
            }
        }
    }

    /// Moves the counts into the run's counters.
    fn publish(&mut self) {
        let counters = &self.counters;
        Counters::add(&counters.acked, std::mem::take(&mut self.acked));
        Counters::add(&counters.acked_bytes, std::mem::take(&mut self.acked_bytes));
        Counters::add(&counters.failed, std::mem::take(&mut self.failed));
    }
}

/// Producer `index`: connect, check in, send its share, wait for every delivery.
async fn run_one(ctx: Arc<ProducerCtx>, index: usize) -> PerfResult<()> {
    let s = &ctx.settings;
    let client = ClientConfig { client_id: format!("corelog-perf-{index}"), ..ClientConfig::default() };
    let cluster =
        Cluster::connect(&ctx.bootstrap, client).await.map_err(|e| PerfError::from(e).context("connecting"))?;
    cluster.topic_metadata(&ctx.topic).await.map_err(|e| PerfError::from(e).context("topic metadata"))?;
    let producer = Producer::new(
        &cluster,
        ProducerConfig {
            acks: s.acks,
            linger: s.linger,
            batch_size: s.batch_size,
            max_in_flight: s.max_in_flight,
            compression: s.compression,
            enable_idempotence: s.idempotence,
            ..ProducerConfig::default()
        },
    );
    let seed = 0x5eed_0000 + index as u64;
    let mut values = PayloadGen::new(&s.payload, seed);
    let mut keys = KeyGen::new(s.key_pattern, seed, index as u64 * 7919);
    let schedule = s.throughput.map(|rate| Schedule::new(rate, s.producers, index));
    let (quota, deadline) = match s.limit {
        Limit::Records(n) => (records_for(n, s.producers, index), None),
        Limit::Duration(d) => (u64::MAX, Some(d)),
    };
    let budget = (s.buffer_memory / s.producers.max(1)).max(1) as u64;
    let counters = &ctx.counters;

    ctx.gate.check_in();
    let Some(clock) = ctx.gate.wait_start().await else { return Ok(()) };

    let tally = Rc::new(RefCell::new(Tally {
        pending: 0,
        outstanding: 0,
        acked: 0,
        acked_bytes: 0,
        failed: 0,
        clock,
        window: LocalWindow::new(ctx.window.clone()),
        counters: counters.clone(),
    }));
    let settled = Rc::new(Notify::default());
    let (mut sent, mut done_sending) = (0u64, false);
    // When the paced producer next wakes for its timer (from the clock's start).
    let mut wake_at = Duration::ZERO;
    loop {
        if ctx.gate.aborted() {
            done_sending = true;
        }
        // Send every record that is due (all of them, unthrottled), within
        // the buffer budget and a burst.
        let mut burst = 0;
        while !done_sending && tally.borrow().outstanding < budget && burst < SEND_BURST {
            if sent >= quota {
                done_sending = true;
                break;
            }
            let due = match schedule {
                Some(schedule) => schedule.due(sent),
                None => clock.elapsed(),
            };
            if deadline.is_some_and(|d| due >= d) {
                done_sending = true;
                break;
            }
            if schedule.is_some() && due > clock.elapsed() {
                break;
            }
            let record = make_record(&ctx, &clock, due, values.next_value(), keys.next_key());
            let len = record.value.len() as u64;
            {
                let mut t = tally.borrow_mut();
                t.pending += 1;
                t.outstanding += len + RECORD_OVERHEAD;
            }
            let (tally, settled) = (tally.clone(), settled.clone());
            producer.send_with(record, move |result| {
                tally.borrow_mut().complete(due, len, result);
                settled.notify();
            });
            sent += 1;
            burst += 1;
        }
        Counters::add(&counters.sent, burst);
        let (pending, outstanding) = {
            let t = tally.borrow();
            (t.pending, t.outstanding)
        };
        if done_sending && pending == 0 {
            break;
        }
        // Wait for what comes first: an acknowledgement, or the next due time.
        let can_send = !done_sending && outstanding < budget;
        if can_send && (schedule.is_none() || burst == SEND_BURST) {
            yield_now().await;
        } else if let (true, Some(schedule)) = (can_send, schedule) {
            let now = clock.elapsed();
            if wake_at <= now {
                wake_at = schedule.due(sent).max(now + PACING_TICK);
            }
            let wait = wake_at - now;
            if pending == 0 {
                corelog_runtime::sleep(wait).await;
            } else {
                select(std::pin::pin!(settled.notified()), std::pin::pin!(corelog_runtime::sleep(wait))).await;
            }
        } else {
            settled.notified().await;
        }
        let mut t = tally.borrow_mut();
        t.publish();
        t.window.maybe_flush();
    }
    {
        let mut t = tally.borrow_mut();
        t.publish();
        t.window.flush();
    }
    producer.flush().await.map_err(|e| PerfError::from(e).context("flushing the producer"))?;
    counters.producer_finished(clock.elapsed());
    Ok(())
}

/// The record sent at `due`: its timestamp is the due time (so consumers
/// measure end-to-end latency from the schedule, too).
fn make_record(ctx: &ProducerCtx, clock: &Clock, due: Duration, value: Bytes, key: Option<Bytes>) -> ProducerRecord {
    let mut record = ProducerRecord::new(ctx.topic.as_str(), value).timestamp(clock.wall_ms(due));
    record.key = key;
    if ctx.stamp {
        record.headers.push((TS_HEADER.to_owned(), Bytes::copy_from_slice(&clock.wall_us(due).to_be_bytes())));
    }
    record
}

/// Lets the executor run the other tasks (the client's sender and
/// connections) once.
async fn yield_now() {
    let mut yielded = false;
    futures::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}
