//! Bringing a failed partition log back without a restart.
//!
//! A write, preallocation or fdatasync error (a full disk, EIO) puts a
//! `PartitionLog` into the failed state: what reached the disk is no longer
//! known, so it refuses appends. Its files are the truth, and opening them
//! again recovers exactly as after a crash (the tail is scanned, a torn batch
//! cut off). So each core's maintenance tick looks for failed logs, and for
//! each one a reopen task waits until no request still holds the old log
//! (so nothing writes through it any more), then opens the partition again
//! and puts the new log in its place. If that fails too (the disk is still
//! full), it retries with a backoff until it works. A log that fails again
//! soon after a reopen (the disk filled up again) waits out the backoff it
//! had reached before the next reopen, so a full disk costs a few log lines
//! per [`REOPEN_RETRY_MAX`], not a fail-reopen cycle per write.
//!
//! Nothing acknowledged is at risk: the failed log acknowledged nothing that
//! was not durable under its flush policy, and recovery keeps every batch on
//! disk that checks out. What it drops was never acknowledged nor visible
//! (beyond the high watermark), as after a crash.
//!
//! Lives on: the partition's core.

use std::rc::Rc;
use std::time::{Duration, Instant};

use corelog_storage::log::PartitionLog;

use super::partition::{partition_dir, Partition};
use super::state::Shard;
use crate::limits::{REOPEN_QUIESCE_POLL, REOPEN_RETRY_MAX, REOPEN_RETRY_MIN};

/// How the reopening of one partition's failed log goes.
#[derive(Debug)]
pub(super) struct Reopening {
    /// A reopen task is running.
    running: bool,
    /// When the log was last reopened.
    reopened_at: Option<Instant>,
    /// The next pause between attempts.
    pause: Duration,
}

impl Shard {
    /// Starts reopening `partition` if its log failed and no reopen of it is
    /// under way. Called from the maintenance tick.
    pub(super) fn reopen_if_failed(self: &Rc<Self>, partition: &Rc<Partition>) {
        let Some(reason) = partition.log.failure() else { return };
        let key = (partition.topic.clone(), partition.id);
        let delay = {
            let mut all = self.reopening.borrow_mut();
            let state =
                all.entry(key).or_insert(Reopening { running: false, reopened_at: None, pause: REOPEN_RETRY_MIN });
            if state.running {
                return;
            }
            state.running = true;
            // Failed again soon after a reopen: keep backing off.
            let recent = state.reopened_at.is_some_and(|at| at.elapsed() < 2 * REOPEN_RETRY_MAX);
            if !recent {
                state.pause = REOPEN_RETRY_MIN;
            }
            recent.then_some(state.pause)
        };
        tracing::warn!(topic = %partition.topic, partition = partition.id, %reason, ?delay,
            "partition log failed; reopening it once no request holds it");
        corelog_runtime::spawn_detached(reopen(self.clone(), partition.clone(), delay));
    }

    fn reopen_pause(&self, key: &(String, u32)) -> Duration {
        self.reopening.borrow().get(key).map_or(REOPEN_RETRY_MIN, |s| s.pause)
    }

    fn reopen_ended(&self, key: &(String, u32), reopened: bool, pause: Duration) {
        if let Some(state) = self.reopening.borrow_mut().get_mut(key) {
            state.running = false;
            state.pause = pause;
            if reopened {
                state.reopened_at = Some(Instant::now());
            }
        }
    }
}

/// Sleeps `pause` unless the shard stops first; false if it stopped.
async fn pause_unless_stopped(shard: &Shard, pause: Duration) -> bool {
    shard.wait_or_stop(pause).await
}

async fn reopen(shard: Rc<Shard>, old: Rc<Partition>, delay: Option<Duration>) {
    let key = (old.topic.clone(), old.id);
    let dir = partition_dir(shard.data_dir(), &old.topic, old.id);
    let mut pause = shard.reopen_pause(&key);
    let mut attempts = 0u32;
    let mut reopened = false;
    if let Some(delay) = delay {
        if !pause_unless_stopped(&shard, delay).await {
            shard.reopen_ended(&key, false, pause);
            return;
        }
        pause = (pause * 2).min(REOPEN_RETRY_MAX);
    }
    loop {
        // Gone or replaced meanwhile (deleted, moved): nothing to bring back.
        if !shard.holds(&old) {
            break;
        }
        // The shard's map and this task hold it; anyone else is a request
        // (or a maintenance pass) that may still touch the old log's files.
        if Rc::strong_count(&old) > 2 {
            corelog_runtime::sleep(REOPEN_QUIESCE_POLL).await;
            continue;
        }
        attempts += 1;
        match PartitionLog::open_with_cache(shard.fd_cache(), &dir, old.log.config()).await {
            Ok(log) => {
                let report = log.stats().recovery;
                let assignment = std::cell::RefCell::new(old.assignment.borrow().clone());
                // The role is taken again from the assignment (the old one
                // goes with the old log: its waiting produces fail).
                let role = std::cell::RefCell::new(crate::replica::Role::Offline);
                let min_insync_replicas = std::cell::Cell::new(old.min_insync_replicas.get());
                let fresh = Rc::new(Partition {
                    topic: old.topic.clone(),
                    id: old.id,
                    log,
                    assignment,
                    role,
                    min_insync_replicas,
                });
                reopened = shard.replace_partition(&old, fresh.clone());
                if reopened {
                    let role = old.role.replace(crate::replica::Role::Offline);
                    crate::replica::resign(role);
                    if let Err(e) = shard.take_role(&fresh).await {
                        tracing::warn!(topic = %old.topic, partition = old.id, error = %e, "cannot take the partition's role");
                    }
                }
                if reopened {
                    tracing::info!(topic = %old.topic, partition = old.id, attempts, truncated_bytes = report.truncated_bytes,
                        "partition log reopened after a failure; appends are accepted again");
                }
                break;
            }
            Err(e) => {
                tracing::warn!(topic = %old.topic, partition = old.id, error = %e, retry_in = ?pause,
                    "reopening the failed partition log failed; will retry");
                if !pause_unless_stopped(&shard, pause).await {
                    break;
                }
                pause = (pause * 2).min(REOPEN_RETRY_MAX);
            }
        }
    }
    shard.reopen_ended(&key, reopened, pause);
}
