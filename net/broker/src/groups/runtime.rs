//! [`GroupRuntime`]: one core's coordinator and everything that drives it.
//!
//! The coordinator ([`GroupCoordinator`]) is I/O-free: it takes events and
//! returns commands. This runtime turns requests into events (tagged with a
//! [`RequestId`] whose oneshot sender waits in a map until the coordinator
//! answers, which for JoinGroup and SyncGroup may be much later), executes
//! the commands (answers go to those senders, persists to the partition's
//! [`writer`] queue) and tells the [`timer`](super::timer)
//! when the next deadline moved earlier. Which partitions it coordinates,
//! and loading them, is in [`ownership`](super::ownership).
//!
//! Lives on: one core. Every borrow of the state ends before an await, and
//! executing commands never runs another task inline (sends only), so
//! events are handled one at a time, in the order they happen.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use futures::channel::{mpsc, oneshot};

use crate::shard::state::endpoint_of;
use crate::shard::Shard;
use corelog_runtime::sync::Notify;

use super::{now_ms, writer, GroupSettings};
use corelog_coordinator::{coordinator_partition, Command, Event, GroupCoordinator, Persist, RequestId, OFFSETS_TOPIC};
use corelog_protocol::{Endpoint, ErrorCode, Request, Response};

/// Whether a local partition's groups are served yet.
pub(super) enum Load {
    /// Replaying; requests for its groups wait on `waiters` (for a while).
    Loading {
        epoch: u64,
        waiters: Vec<oneshot::Sender<()>>,
    },
    Loaded,
}

/// The runtime's mutable state (see [`GroupRuntime::state_mut`]).
#[derive(Default)]
pub(super) struct Inner {
    /// None until `__consumer_offsets` exists (its partition count is `P`).
    pub(super) coordinator: Option<GroupCoordinator>,
    /// The metadata version `refresh` last looked at.
    pub(super) seen_version: Option<u64>,
    /// This core's partitions of the topic.
    pub(super) owned: BTreeMap<u32, Load>,
    pub(super) next_load_epoch: u64,
    /// Requests the coordinator has not answered yet.
    pub(super) waiting: HashMap<RequestId, oneshot::Sender<Response>>,
    pub(super) next_request: u64,
    /// Append queue of each partition with persists so far.
    pub(super) writers: BTreeMap<u32, mpsc::UnboundedSender<Persist>>,
    /// When the timer wakes next (ms; None before it first sleeps).
    pub(super) armed: Option<u64>,
}

/// One core's group coordinator runtime. See the [module docs](self).
pub struct GroupRuntime {
    shard: Rc<Shard>,
    settings: GroupSettings,
    /// Differs between runs: new member ids never collide with old ones.
    incarnation: u64,
    inner: RefCell<Inner>,
    /// Wakes the timer (the next deadline moved earlier).
    wake: Notify,
}

impl GroupRuntime {
    /// A runtime for this core; [`GroupRuntime::start`] it once the shard is ready.
    pub fn new(shard: Rc<Shard>, settings: GroupSettings) -> Rc<Self> {
        let incarnation = now_ms();
        Rc::new(GroupRuntime { shard, settings, incarnation, inner: RefCell::default(), wake: Notify::default() })
    }

    /// Loads the partitions this core owns (if the topic exists) and starts
    /// the timer.
    pub fn start(self: &Rc<Self>) {
        self.refresh();
        corelog_runtime::spawn_detached(super::timer::run(self.clone()));
    }

    /// This core's shard.
    pub fn shard(&self) -> &Rc<Shard> {
        &self.shard
    }

    /// The broker's group settings.
    pub fn settings(&self) -> &GroupSettings {
        &self.settings
    }

    /// Differs between runs (new member ids never repeat old ones).
    pub(super) fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// The state, borrowed (never across an await).
    pub(super) fn state(&self) -> std::cell::Ref<'_, Inner> {
        self.inner.borrow()
    }

    /// The state, borrowed mutably (never across an await).
    pub(super) fn state_mut(&self) -> std::cell::RefMut<'_, Inner> {
        self.inner.borrow_mut()
    }

    /// The partition count groups are hashed over: the coordinator's once it
    /// exists, else the topic's, else the configured one.
    pub fn offsets_partitions(&self) -> u32 {
        if let Some(c) = &self.inner.borrow().coordinator {
            return c.config().offsets_topic_partitions;
        }
        let metadata = self.shard.metadata();
        metadata.topics.get(OFFSETS_TOPIC).map_or(self.settings.offsets_partitions, |t| t.partitions.len() as u32)
    }

    /// The group's partition of `__consumer_offsets` and the endpoint of
    /// the core leading it: the group's coordinator, which moves with the
    /// partition's leadership (None while the topic does not exist or the
    /// partition has no leader).
    pub fn owner(&self, group_id: &str) -> Option<(u32, Endpoint)> {
        let partition = coordinator_partition(group_id, self.offsets_partitions());
        let metadata = self.shard.metadata();
        let assignment = metadata.topics.get(OFFSETS_TOPIC)?.partitions.get(partition as usize)?;
        Some((partition, endpoint_of(&metadata, assignment.leader?, assignment.core)?))
    }

    /// Hands a coordinator api request to the coordinator and waits for its
    /// answer (JoinGroup and SyncGroup are held until the rebalance moves on).
    pub async fn call(self: &Rc<Self>, request: Request, client_host: &str) -> Response {
        let stopped = "the group coordinator is not running here; find it again";
        let fallback = request.error_response(ErrorCode::CoordinatorNotAvailable, stopped);
        let (tx, rx) = oneshot::channel();
        let req = {
            let mut inner = self.inner.borrow_mut();
            if inner.coordinator.is_none() {
                return fallback;
            }
            let req = RequestId(inner.next_request);
            inner.next_request += 1;
            inner.waiting.insert(req, tx);
            req
        };
        match Event::from_request(req, request, client_host) {
            Ok(event) => self.dispatch(event),
            Err(other) => {
                self.inner.borrow_mut().waiting.remove(&req);
                return other.error_response(ErrorCode::InvalidRequest, "not a group coordinator request");
            }
        }
        rx.await.unwrap_or(fallback)
    }

    /// Hands one event to the coordinator and executes its commands.
    pub fn dispatch(self: &Rc<Self>, event: Event) {
        let rearm = may_move_deadline_earlier(&event);
        let commands = {
            let mut inner = self.inner.borrow_mut();
            let Some(coordinator) = inner.coordinator.as_mut() else { return };
            coordinator.handle(now_ms(), event)
        };
        self.execute(commands);
        if rearm {
            self.rearm();
        }
    }

    /// Runs the coordinator's commands, in order.
    fn execute(self: &Rc<Self>, commands: Vec<Command>) {
        for command in commands {
            match command {
                Command::Respond { req, response } => {
                    let waiter = self.inner.borrow_mut().waiting.remove(&req);
                    match waiter {
                        // The client may be gone; then the answer is dropped.
                        Some(tx) => drop(tx.send(response)),
                        None => tracing::debug!(?req, "an answer for a request nobody waits for"),
                    }
                }
                Command::Persist(persist) => self.enqueue(persist),
            }
        }
    }

    /// Queues a persist behind the others of its partition.
    fn enqueue(self: &Rc<Self>, persist: Persist) {
        let partition = persist.partition;
        let refused = {
            let mut inner = self.inner.borrow_mut();
            let queue = inner.writers.entry(partition).or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded();
                corelog_runtime::spawn_detached(writer::run(self.clone(), partition, rx));
                tx
            });
            queue.unbounded_send(persist).err().map(|e| e.into_inner().id)
        };
        if let Some(id) = refused {
            // The queue ended (the shard is stopping); every persist is still answered.
            self.inner.borrow_mut().writers.remove(&partition);
            self.dispatch(Event::Persisted { id, result: Err(ErrorCode::CoordinatorNotAvailable) });
        }
    }

    /// Wakes the timer if the coordinator's next deadline is now earlier
    /// than the one it sleeps towards.
    fn rearm(&self) {
        let earlier = {
            let next = self.next_deadline();
            match (next, self.inner.borrow().armed) {
                (Some(n), Some(armed)) => n < armed,
                (Some(_), None) => true,
                (None, _) => false,
            }
        };
        if earlier {
            self.wake.notify();
        }
    }

    /// The coordinator's next deadline (ms), if any.
    pub fn next_deadline(&self) -> Option<u64> {
        self.inner.borrow().coordinator.as_ref().and_then(GroupCoordinator::next_deadline)
    }

    /// For the timer: when it wakes next, the next deadline or `latest`,
    /// whichever comes first, recorded so [`GroupRuntime::rearm`] knows.
    pub(super) fn arm(&self, latest: u64) -> u64 {
        let wake_at = self.next_deadline().map_or(latest, |d| d.min(latest));
        self.inner.borrow_mut().armed = Some(wake_at);
        wake_at
    }

    /// For the timer: resolves when [`GroupRuntime::rearm`] wakes it.
    pub(super) fn woken(&self) -> impl std::future::Future<Output = ()> + '_ {
        self.wake.notified()
    }
}

/// Whether handling `event` can bring the coordinator's next deadline
/// forward (so the timer must look again). Heartbeats and commits only push
/// deadlines later, reads change nothing, and the timer looks again after
/// its own ticks anyway; skipping them keeps the O(groups) deadline scan off
/// the busiest requests. (The timer also looks at least every
/// [`IDLE_WAKE`](super::timer::IDLE_WAKE).)
fn may_move_deadline_earlier(event: &Event) -> bool {
    !matches!(
        event,
        Event::Tick
            | Event::Heartbeat { .. }
            | Event::CommitOffsets { .. }
            | Event::FetchOffsets { .. }
            | Event::ListGroups { .. }
            | Event::DescribeGroups { .. }
    )
}
