//! The heartbeat task: keeps the member's session alive while it is in a
//! generation, and tells `poll` when the group needs it to rejoin.

use std::time::Duration;

use super::session::{is_coordinator_error, Rejoin, Session};
use corelog_protocol::{ErrorCode, HeartbeatRequest, LeaveGroupRequest, Request, Response};

/// Heartbeats every `interval` for the member's current generation until
/// the coordinator says the group is rebalancing (or has moved on without
/// the member); then requests a rejoin and ends. Transport failures and
/// coordinator moves are retried after the client's retry backoff.
///
/// A member whose `poll` has not been called for `max_poll_interval` is
/// stuck (or its records take too long to process): it leaves the group, so
/// its partitions move, rather than holding them while heartbeating (Kafka's
/// `max.poll.interval.ms`). Its next `poll` finds them lost and rejoins.
pub(crate) async fn run(session: Session, interval: Duration, max_poll_interval: Duration) {
    let (generation, member_id) = session.membership();
    let request = Request::Heartbeat(HeartbeatRequest {
        group_id: session.group_id().to_owned(),
        generation_id: generation,
        member_id: member_id.clone(),
    });
    let group = session.group_id().to_owned();
    let mut wait = interval;
    loop {
        corelog_runtime::sleep(wait).await;
        wait = interval;
        if session.since_poll() > max_poll_interval {
            tracing::warn!(
                %group, idle = ?session.since_poll(),
                "poll was not called within the rebalance timeout: leaving the group"
            );
            let leave =
                Request::LeaveGroup(LeaveGroupRequest { group_id: group.clone(), member_id: member_id.clone() });
            if let Err(e) = session.send(&leave, session.request_timeout()).await {
                tracing::debug!(%group, error = %e, "leave group failed");
            }
            session.generation_failed(generation, "poll was not called within the rebalance timeout", true);
            return;
        }
        let code = match session.send(&request, session.request_timeout()).await {
            Ok((addr, Response::Heartbeat(resp))) => {
                if is_coordinator_error(resp.error) {
                    session.forget_coordinator(addr);
                }
                resp.error
            }
            Ok((_, other)) => {
                tracing::warn!(%group, api = other.api_key_raw(), "heartbeat answered with another api");
                ErrorCode::UnknownServerError
            }
            Err(e) => {
                tracing::debug!(%group, error = %e, "heartbeat failed; retrying");
                wait = session.retry_backoff().min(interval);
                continue;
            }
        };
        match code {
            ErrorCode::None => {}
            ErrorCode::RebalanceInProgress => {
                let why = "the group is rebalancing";
                session.request_rejoin(generation, Rejoin { reason: why, lost: false });
                return;
            }
            ErrorCode::IllegalGeneration => {
                session.generation_failed(generation, "the group moved to a new generation without this member", false);
                return;
            }
            ErrorCode::UnknownMemberId => {
                session.generation_failed(generation, "the coordinator removed this member (session timeout?)", true);
                return;
            }
            code => {
                tracing::debug!(%group, error = %code, "heartbeat refused; retrying");
                wait = session.retry_backoff().min(interval);
            }
        }
    }
}
