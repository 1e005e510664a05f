//! Kafka's round-robin assignor.

use std::collections::BTreeMap;

use super::{empty, GroupAssignment, MemberSubscription, TopicPartition};

/// Every partition (topic-then-partition order) to the next member in
/// id order, circularly, skipping members not subscribed to its topic.
pub(super) fn assign(
    partitions: &BTreeMap<String, u32>,
    members: &BTreeMap<String, MemberSubscription>,
) -> GroupAssignment {
    let mut out = empty(members);
    let ids: Vec<(&String, &MemberSubscription)> = members.iter().collect();
    if ids.is_empty() {
        return out;
    }
    let mut next = 0;
    for (topic, &count) in partitions {
        if !ids.iter().any(|(_, s)| s.subscribes(topic)) {
            continue;
        }
        for partition in 0..count {
            // Some member subscribes, so this finds one within a full turn.
            let Some(k) = (0..ids.len()).find(|k| ids[(next + k) % ids.len()].1.subscribes(topic)) else { break };
            let at = (next + k) % ids.len();
            out.get_mut(ids[at].0)
                .expect("every member has an entry")
                .push(TopicPartition::new(topic.clone(), partition));
            next = (at + 1) % ids.len();
        }
    }
    out
}
