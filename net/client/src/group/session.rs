//! [`Session`]: what a group consumer and its background tasks (join,
//! heartbeat, async commits) share: the coordinator connection, the member
//! id and generation, and the "rejoin needed" flag that wakes `poll`.
//!
//! The coordinator gets a connection of its own, outside the [`Cluster`]
//! pool: the broker answers a connection's requests in order, and a
//! JoinGroup or SyncGroup is held for up to the rebalance timeout, so on a
//! shared connection it would hold up every fetch (and every other
//! consumer's requests) behind it.

use std::cell::{RefCell, RefMut};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corelog_runtime::sync::Notify;

use crate::assignors::TopicPartition;
use crate::error::{check_code, ClientError, ClientResult};
use crate::metadata::{resolve, Cluster};
use crate::Connection;
use corelog_protocol::{ErrorCode, FindCoordinatorRequest, Request, Response, NO_GENERATION};

/// Why the member must rejoin the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rejoin {
    /// For the logs.
    pub reason: &'static str,
    /// The generation is gone (the member was removed or the group moved
    /// on): its partitions are lost, and committing their offsets would fail.
    pub lost: bool,
}

/// Shared handle (cheap to clone).
#[derive(Clone)]
pub(crate) struct Session {
    inner: Rc<Inner>,
}

struct Inner {
    cluster: Cluster,
    group_id: String,
    wake: Notify,
    /// Held while finding the coordinator.
    finding: futures::lock::Mutex<()>,
    state: RefCell<State>,
}

/// Which coordinator connection a request went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CoordinatorId(u64);

struct State {
    coordinator: Option<(CoordinatorId, Connection)>,
    next_coordinator_id: u64,
    member_id: String,
    generation: i32,
    rejoin: Option<Rejoin>,
    /// The last offsets known committed, per partition.
    committed: BTreeMap<TopicPartition, u64>,
    /// When `poll` last returned (or started), and how many are running.
    last_poll: Instant,
    polls: usize,
    closed: bool,
}

impl Session {
    pub fn new(cluster: &Cluster, group_id: &str) -> Session {
        Session {
            inner: Rc::new(Inner {
                cluster: cluster.clone(),
                group_id: group_id.to_owned(),
                wake: Notify::default(),
                finding: futures::lock::Mutex::new(()),
                state: RefCell::new(State {
                    coordinator: None,
                    next_coordinator_id: 0,
                    member_id: String::new(),
                    generation: NO_GENERATION,
                    rejoin: None,
                    committed: BTreeMap::new(),
                    last_poll: Instant::now(),
                    polls: 0,
                    closed: false,
                }),
            }),
        }
    }

    fn state(&self) -> RefMut<'_, State> {
        self.inner.state.borrow_mut()
    }

    pub fn cluster(&self) -> &Cluster {
        &self.inner.cluster
    }

    pub fn group_id(&self) -> &str {
        &self.inner.group_id
    }

    pub fn request_timeout(&self) -> Duration {
        self.inner.cluster.config().request_timeout
    }

    pub fn retry_backoff(&self) -> Duration {
        self.inner.cluster.config().retry_backoff
    }

    /// Notified when a rejoin is requested.
    pub fn wake(&self) -> &Notify {
        &self.inner.wake
    }

    /// (generation, member id) as of now.
    pub fn membership(&self) -> (i32, String) {
        let state = self.state();
        (state.generation, state.member_id.clone())
    }

    pub fn member_id(&self) -> String {
        self.state().member_id.clone()
    }

    pub fn generation(&self) -> i32 {
        self.state().generation
    }

    /// Records the member id and generation a JoinGroup answered with.
    pub fn set_membership(&self, member_id: &str, generation: i32) {
        let mut state = self.state();
        state.member_id = member_id.to_owned();
        state.generation = generation;
    }

    /// Forgets the member id (the coordinator does not know it): the next
    /// join is a new member's.
    pub fn reset_member(&self) {
        let mut state = self.state();
        state.member_id.clear();
        state.generation = NO_GENERATION;
    }

    /// Asks `poll` to rejoin (and wakes it), if the member is still in
    /// `generation` (so a late answer about an old generation changes nothing).
    pub fn request_rejoin(&self, generation: i32, rejoin: Rejoin) {
        {
            let mut state = self.state();
            if state.generation != generation && generation != NO_GENERATION {
                return;
            }
            let lost = rejoin.lost || state.rejoin.is_some_and(|r| r.lost);
            state.rejoin = Some(Rejoin { reason: rejoin.reason, lost });
        }
        self.inner.wake.notify();
    }

    /// The coordinator refused `generation`: as stale, or (`unknown_member`)
    /// not knowing the member at all. If the member is still in that
    /// generation it is forgotten (and the member id too, for an unknown
    /// member), and `poll` rejoins, its partitions lost.
    pub fn generation_failed(&self, generation: i32, reason: &'static str, unknown_member: bool) {
        {
            let mut state = self.state();
            if state.generation != generation {
                return;
            }
            state.generation = NO_GENERATION;
            if unknown_member {
                state.member_id.clear();
            }
            state.rejoin = Some(Rejoin { reason, lost: true });
        }
        self.inner.wake.notify();
    }

    pub fn take_rejoin(&self) -> Option<Rejoin> {
        self.state().rejoin.take()
    }

    /// Marks `poll` running until the guard is dropped.
    pub fn polling(&self) -> PollGuard {
        let mut state = self.state();
        state.polls += 1;
        state.last_poll = Instant::now();
        PollGuard { session: self.clone() }
    }

    /// How long since `poll` last ran (zero while it runs).
    pub fn since_poll(&self) -> Duration {
        let state = self.state();
        if state.polls > 0 {
            Duration::ZERO
        } else {
            state.last_poll.elapsed()
        }
    }

    pub fn committed(&self, tp: &TopicPartition) -> Option<u64> {
        self.state().committed.get(tp).copied()
    }

    pub fn record_committed(&self, offsets: &BTreeMap<TopicPartition, u64>) {
        let mut state = self.state();
        for (tp, offset) in offsets {
            state.committed.insert(tp.clone(), *offset);
        }
    }

    pub fn forget_committed(&self) {
        self.state().committed.clear();
    }

    /// The connection to the group's coordinator, found (FindCoordinator on
    /// any core) and opened if not known. Concurrent callers share one search.
    pub async fn coordinator(&self) -> ClientResult<(CoordinatorId, Connection)> {
        let _finding = self.inner.finding.lock().await;
        {
            let state = self.state();
            if state.closed {
                return Err(ClientError::Closed);
            }
            if let Some((id, conn)) = state.coordinator.as_ref().filter(|(_, c)| !c.is_closed()) {
                return Ok((*id, conn.clone()));
            }
        }
        let addr = find_coordinator(&self.inner.cluster, &self.inner.group_id).await?;
        let conn = Connection::connect(addr, self.inner.cluster.config()).await?;
        let mut state = self.state();
        if state.closed {
            conn.close();
            return Err(ClientError::Closed);
        }
        state.next_coordinator_id += 1;
        let id = CoordinatorId(state.next_coordinator_id);
        if let Some((_, old)) = state.coordinator.replace((id, conn.clone())) {
            old.close();
        }
        tracing::debug!(group = %self.inner.group_id, %addr, "found the group coordinator");
        Ok((id, conn))
    }

    /// Forgets the coordinator connection `id` (the coordinator moved or the
    /// connection failed), closing it; the next request finds it again. A
    /// newer connection is left alone.
    pub fn forget_coordinator(&self, id: CoordinatorId) {
        let mut state = self.state();
        if state.coordinator.as_ref().is_some_and(|(current, _)| *current == id) {
            if let Some((_, conn)) = state.coordinator.take() {
                conn.close();
            }
        }
    }

    /// Sends `request` to the coordinator within `timeout`. A transport
    /// failure forgets the coordinator; a response is returned as it is (the
    /// caller handles its error codes, calling [`Session::forget_coordinator`]
    /// on [`is_coordinator_error`] codes).
    pub async fn send(&self, request: &Request, timeout: Duration) -> ClientResult<(CoordinatorId, Response)> {
        let (id, conn) = self.coordinator().await?;
        match conn.request_with_timeout(request, timeout).await {
            Ok(response) => Ok((id, response)),
            Err(e) => {
                if is_transport_error(&e) {
                    self.forget_coordinator(id);
                }
                Err(e)
            }
        }
    }

    /// Closes the coordinator connection; later requests fail with `Closed`.
    pub fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        if let Some((_, conn)) = state.coordinator.take() {
            conn.close();
        }
    }
}

/// See [`Session::polling`].
pub(crate) struct PollGuard {
    session: Session,
}

impl Drop for PollGuard {
    fn drop(&mut self) {
        let mut state = self.session.state();
        state.polls = state.polls.saturating_sub(1);
        state.last_poll = Instant::now();
    }
}

/// Codes after which the coordinator must be found again.
pub(crate) fn is_coordinator_error(code: ErrorCode) -> bool {
    matches!(code, ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable)
}

/// Failures of the connection rather than answers: try again (elsewhere).
pub(crate) fn is_transport_error(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Io { .. }
            | ClientError::Disconnected(_)
            | ClientError::Framing { .. }
            | ClientError::Timeout(_)
            | ClientError::NoBrokers(_)
            | ClientError::Closed
    )
}

/// Asks any core which endpoint coordinates `group_id`.
pub(crate) async fn find_coordinator(cluster: &Cluster, group_id: &str) -> ClientResult<SocketAddr> {
    let request = Request::FindCoordinator(FindCoordinatorRequest { group_id: group_id.to_owned() });
    let Response::FindCoordinator(resp) = cluster.request_any(&request).await? else {
        return Err(ClientError::Protocol("find coordinator answered with another api".into()));
    };
    check_code(resp.error, resp.error_message)?;
    let endpoint = resp
        .coordinator
        .ok_or_else(|| ClientError::Protocol("find coordinator answered without an endpoint".into()))?;
    resolve(&endpoint.host, endpoint.port)
        .ok_or_else(|| ClientError::Protocol(format!("cannot resolve the coordinator's host {:?}", endpoint.host)))
}
