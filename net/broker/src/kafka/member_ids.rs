//! JoinGroup from v4: a member joining without an id first gets
//! MEMBER_ID_REQUIRED with an id to rejoin with (KIP-394), so a client that
//! gives up during a join leaves no member behind.
//!
//! The coordinator names new members itself, so the id handed out here is a
//! ticket: a join presenting a pending ticket joins as a new member, and the
//! join response carries the coordinator's id for it, which every Kafka
//! client adopts from a successful JoinGroup response. Tickets are per core
//! (a group's joins all reach its coordinator core) and bounded: past
//! `MAX_PENDING_MEMBER_IDS` the oldest is forgotten, and a join with a
//! forgotten ticket gets UNKNOWN_MEMBER_ID, after which the client starts
//! over without an id.
//!
//! Lives on: one per core, in its `ServerContext`.

use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};

use crate::limits::MAX_PENDING_MEMBER_IDS;

/// The first JoinGroup version that requires a member id.
pub const MEMBER_ID_REQUIRED_FROM: i16 = 4;

/// This core's pending tickets, oldest first.
///
/// Lives on: one core (in its `ServerContext`); `!Send`.
#[derive(Default)]
pub struct PendingMemberIds {
    state: RefCell<(VecDeque<String>, HashSet<String>)>,
}

impl PendingMemberIds {
    /// A new ticket for a client with `client_id`.
    pub fn issue(&self, client_id: &str) -> String {
        let id = format!("{client_id}-{:032x}", rand::random::<u128>());
        let mut st = self.state.borrow_mut();
        let (order, set) = &mut *st;
        if order.len() >= MAX_PENDING_MEMBER_IDS {
            if let Some(oldest) = order.pop_front() {
                set.remove(&oldest);
            }
        }
        order.push_back(id.clone());
        set.insert(id.clone());
        id
    }

    /// Whether `id` is a pending ticket; it is used up.
    pub fn redeem(&self, id: &str) -> bool {
        let mut st = self.state.borrow_mut();
        let (order, set) = &mut *st;
        if !set.remove(id) {
            return false;
        }
        order.retain(|t| t != id);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_are_used_once_and_bounded() {
        let pending = PendingMemberIds::default();
        let a = pending.issue("c");
        let b = pending.issue("c");
        assert!(a.starts_with("c-") && a != b);
        assert!(pending.redeem(&a));
        assert!(!pending.redeem(&a), "used up");
        assert!(!pending.redeem("c-unknown"));
        for _ in 0..MAX_PENDING_MEMBER_IDS {
            pending.issue("x");
        }
        assert!(!pending.redeem(&b), "the oldest was forgotten");
        assert_eq!(pending.state.borrow().0.len(), MAX_PENDING_MEMBER_IDS);
    }
}
