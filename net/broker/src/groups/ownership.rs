//! Which partitions of `__consumer_offsets` this core coordinates, and
//! loading them: the runtime follows the shard's metadata snapshot (like any
//! partition, an offsets partition is owned by one core); a partition it
//! gains is `Loading` until the [`loader`] has replayed it into the
//! coordinator, then `Loaded`; one it loses is `Unloaded` (the coordinator
//! answers its held requests `NotCoordinator`).
//!
//! The coordinator itself is created the first time the topic is seen, with
//! the topic's partition count as `P`: normally the configured
//! `offsets_partitions`, but an existing topic keeps its own count.

use std::rc::Rc;
use std::time::Instant;

use crate::shard::Locate;
use futures::channel::oneshot;

use super::loader::{self, Next};
use super::runtime::{GroupRuntime, Load};
use crate::limits::LOAD_RETRY_MAX;
use crate::limits::LOAD_RETRY_MIN;
use corelog_coordinator::{Event, GroupCoordinator, OFFSETS_TOPIC};

impl GroupRuntime {
    /// Follows the metadata: creates the coordinator once the topic exists,
    /// starts loading the partitions this core came to own and unloads those
    /// it lost. Cheap when the metadata has not changed.
    pub fn refresh(self: &Rc<Self>) {
        let metadata = self.shard().metadata();
        let (gained, lost) = {
            let mut guard = self.state_mut();
            let inner = &mut *guard;
            if inner.seen_version == Some(metadata.version) {
                return;
            }
            inner.seen_version = Some(metadata.version);
            let topic = metadata.topics.get(OFFSETS_TOPIC);
            if let Some(topic) = topic {
                let count = topic.partitions.len() as u32;
                match &inner.coordinator {
                    None => {
                        if count != self.settings().offsets_partitions {
                            tracing::warn!(
                                configured = self.settings().offsets_partitions,
                                actual = count,
                                "{OFFSETS_TOPIC} exists with a different partition count; using its own"
                            );
                        }
                        let config = self.settings().coordinator_config(count, self.incarnation());
                        inner.coordinator = Some(GroupCoordinator::new(config));
                    }
                    Some(c) if c.config().offsets_topic_partitions != count => {
                        tracing::error!(
                            used = c.config().offsets_topic_partitions,
                            actual = count,
                            "{OFFSETS_TOPIC} changed its partition count; groups stay hashed over the old count \
                             until the broker restarts"
                        );
                    }
                    Some(_) => {}
                }
            }
            let p = inner.coordinator.as_ref().map_or(0, |c| c.config().offsets_topic_partitions);
            let mine: Vec<u32> = match topic {
                None => Vec::new(),
                Some(t) => (0..p)
                    .filter(|&i| t.partitions.get(i as usize).is_some_and(|a| a.core == self.shard().core))
                    .filter(|&i| matches!(self.shard().locate(OFFSETS_TOPIC, i), Locate::Local(_)))
                    .collect(),
            };
            let lost: Vec<u32> = inner.owned.keys().filter(|p| !mine.contains(p)).copied().collect();
            let mut gained = Vec::new();
            for &partition in &mine {
                if !inner.owned.contains_key(&partition) {
                    inner.next_load_epoch += 1;
                    let epoch = inner.next_load_epoch;
                    inner.owned.insert(partition, Load::Loading { epoch, waiters: Vec::new() });
                    gained.push((partition, epoch));
                }
            }
            for partition in &lost {
                // Dropped waiters wake their requests; the coordinator answers them.
                inner.owned.remove(partition);
                // Queued persists fail once the partition is gone (NotCoordinator).
                inner.writers.remove(partition);
            }
            (gained, lost)
        };
        for partition in lost {
            tracing::info!(core = self.shard().core, partition, "no longer coordinating {OFFSETS_TOPIC}/{partition}");
            self.dispatch(Event::Unloaded { partition });
        }
        for (partition, epoch) in gained {
            self.dispatch(Event::Loading { partition });
            corelog_runtime::spawn_detached(self.clone().load(partition, epoch));
        }
    }

    /// Replays `partition` (retrying with backoff if reading fails), then
    /// serves its groups.
    async fn load(self: Rc<Self>, partition: u32, epoch: u64) {
        let mut backoff = LOAD_RETRY_MIN;
        loop {
            if !self.is_loading(partition, epoch) {
                return;
            }
            let Locate::Local(part) = self.shard().locate(OFFSETS_TOPIC, partition) else { return };
            let started = Instant::now();
            let result =
                loader::replay(&part.log, |offset, key, value| self.replay(partition, epoch, offset, key, value)).await;
            match result {
                Ok(replayed) => {
                    if self.finish_load(partition, epoch) {
                        tracing::info!(
                            core = self.shard().core,
                            partition,
                            records = replayed.records,
                            end_offset = replayed.end_offset,
                            elapsed_ms = started.elapsed().as_millis() as u64,
                            "coordinating {OFFSETS_TOPIC}/{partition}"
                        );
                    }
                    return;
                }
                Err(e) => {
                    tracing::error!(core = self.shard().core, partition, error = %e, retry_in = ?backoff,
                        "replaying {OFFSETS_TOPIC}/{partition} failed");
                    if !self.is_loading(partition, epoch) {
                        return;
                    }
                    // Start over: the coordinator forgets what was replayed.
                    self.dispatch(Event::Loading { partition });
                    if corelog_runtime::timeout(backoff, self.shard().stopped()).await.is_some() {
                        return;
                    }
                    backoff = (backoff * 2).min(LOAD_RETRY_MAX);
                }
            }
        }
    }

    fn is_loading(&self, partition: u32, epoch: u64) -> bool {
        matches!(self.state().owned.get(&partition), Some(Load::Loading { epoch: e, .. }) if *e == epoch)
    }

    /// Applies one replayed record; stops the replay if the load is superseded.
    fn replay(&self, partition: u32, epoch: u64, offset: u64, key: &[u8], value: &[u8]) -> Next {
        let mut inner = self.state_mut();
        let current = matches!(inner.owned.get(&partition), Some(Load::Loading { epoch: e, .. }) if *e == epoch);
        let Some(coordinator) = inner.coordinator.as_mut().filter(|_| current) else { return Next::Stop };
        if let Err(e) = coordinator.replay(key, value) {
            tracing::warn!(partition, offset, error = %e, "skipping an undecodable {OFFSETS_TOPIC} record");
        }
        Next::Continue
    }

    /// Marks the partition loaded and wakes the requests waiting for it;
    /// false if the load was superseded.
    fn finish_load(self: &Rc<Self>, partition: u32, epoch: u64) -> bool {
        let waiters = {
            let mut inner = self.state_mut();
            let waiters = match inner.owned.get_mut(&partition) {
                Some(Load::Loading { epoch: e, waiters }) if *e == epoch => std::mem::take(waiters),
                _ => return false,
            };
            inner.owned.insert(partition, Load::Loaded);
            waiters
        };
        self.dispatch(Event::Loaded { partition });
        for waiter in waiters {
            let _ = waiter.send(());
        }
        true
    }

    /// A receiver that resolves when `partition` is loaded (or no longer
    /// owned); None if it is not loading.
    pub fn loaded(&self, partition: u32) -> Option<oneshot::Receiver<()>> {
        let mut inner = self.state_mut();
        match inner.owned.get_mut(&partition) {
            Some(Load::Loading { waiters, .. }) => {
                let (tx, rx) = oneshot::channel();
                waiters.push(tx);
                Some(rx)
            }
            _ => None,
        }
    }

    /// This core's partitions still loading.
    pub fn loading_partitions(&self) -> Vec<u32> {
        let inner = self.state();
        inner.owned.iter().filter(|(_, l)| matches!(l, Load::Loading { .. })).map(|(p, _)| *p).collect()
    }
}
