//! Kafka's range assignor.

use std::collections::BTreeMap;

use super::{empty, GroupAssignment, MemberSubscription, TopicPartition};

/// Per topic: the subscribed members in id order get contiguous ranges;
/// the first `count % members` get one partition more.
pub(super) fn assign(
    partitions: &BTreeMap<String, u32>,
    members: &BTreeMap<String, MemberSubscription>,
) -> GroupAssignment {
    let mut out = empty(members);
    for (topic, &count) in partitions {
        let subscribed: Vec<&String> = members.iter().filter(|(_, s)| s.subscribes(topic)).map(|(id, _)| id).collect();
        if subscribed.is_empty() || count == 0 {
            continue;
        }
        let n = subscribed.len() as u32;
        let (each, extra) = (count / n, count % n);
        for (i, member) in subscribed.into_iter().enumerate() {
            let i = i as u32;
            let start = each * i + i.min(extra);
            let len = each + u32::from(i < extra);
            let assigned = out.get_mut(member).expect("every member has an entry");
            assigned.extend((start..start + len).map(|p| TopicPartition::new(topic.clone(), p)));
        }
    }
    out
}
