//! The coordinator's clock: one task per core that sends `Tick` when the
//! coordinator's next deadline (a session expiry, a rebalance timeout or
//! initial delay, an offsets expiry) comes, and sleeps until then otherwise.
//! The runtime wakes it early when an event moved the deadline earlier. It
//! also wakes at least every [`IDLE_WAKE`] to follow the metadata (partitions
//! of `__consumer_offsets` created by a request to another core start
//! loading here without waiting for a request).

use std::rc::Rc;
use std::time::Duration;

use futures::future::{select, Either};

use super::now_ms;
use super::runtime::GroupRuntime;
use crate::limits::IDLE_WAKE;
use crate::limits::TICK_GRANULARITY;
use corelog_coordinator::Event;

/// Ticks `runtime` at its deadlines until the shard stops.
pub async fn run(runtime: Rc<GroupRuntime>) {
    let shard = runtime.shard().clone();
    loop {
        runtime.refresh();
        if runtime.next_deadline().is_some_and(|deadline| deadline <= now_ms()) {
            runtime.dispatch(Event::Tick);
        }
        let wake_at = runtime.arm(now_ms().saturating_add(IDLE_WAKE.as_millis() as u64));
        let wait = Duration::from_millis(wake_at.saturating_sub(now_ms())).max(TICK_GRANULARITY);
        let stopped = {
            let sleep = std::pin::pin!(corelog_runtime::sleep(wait));
            let woken = std::pin::pin!(runtime.woken());
            let stopped = std::pin::pin!(shard.stopped());
            matches!(select(stopped, select(sleep, woken)).await, Either::Left(_))
        };
        if stopped {
            return;
        }
    }
}
