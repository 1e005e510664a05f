//! Kafka's sticky assignor (the eager flavour): balanced like round-robin,
//! keeping partitions with their previous owners where balance allows.
//!
//! 1. **Keep.** Every member keeps the partitions it reports owning that
//!    still exist and that it still subscribes to. A partition claimed by
//!    two members (a stale member that missed a generation) goes to the
//!    claim from the newer generation, then to the smaller member id.
//! 2. **Place.** Each partition nobody kept (new, or its owner left) goes to
//!    the least-loaded member subscribed to its topic (ties: smaller id);
//!    partitions with fewer candidate members are placed first.
//! 3. **Balance.** While some member has at least two partitions more than
//!    another member that could take one of them, the most-loaded member
//!    gives its last such partition to the least-loaded one. Each move
//!    lowers the sum of squared loads, so this ends; when every member
//!    subscribes to the same topics it ends with loads differing by at most
//!    one, having moved only the excess of the overloaded members.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use super::{GroupAssignment, MemberSubscription, TopicPartition};

pub(super) fn assign(
    partitions: &BTreeMap<String, u32>,
    members: &BTreeMap<String, MemberSubscription>,
) -> GroupAssignment {
    let mut owned: BTreeMap<&str, BTreeSet<TopicPartition>> =
        members.keys().map(|m| (m.as_str(), BTreeSet::new())).collect();
    let exists = |tp: &TopicPartition| partitions.get(&tp.topic).is_some_and(|count| tp.partition < *count);

    // 1. Keep valid previous ownership; the newest claim wins a conflict.
    let mut claims: Vec<(Reverse<i32>, &str, &TopicPartition)> = members
        .iter()
        .flat_map(|(id, s)| {
            let generation = Reverse(s.generation.unwrap_or(-1));
            s.owned
                .iter()
                .filter(|tp| exists(tp) && s.subscribes(&tp.topic))
                .map(move |tp| (generation, id.as_str(), tp))
        })
        .collect();
    claims.sort();
    let mut taken: BTreeSet<&TopicPartition> = BTreeSet::new();
    for (_, member, tp) in claims {
        if taken.insert(tp) {
            owned.get_mut(member).expect("claims come from members").insert(tp.clone());
        }
    }

    // 2. Place the rest on the least-loaded candidate.
    let candidates = |topic: &str| -> Vec<&str> {
        members.iter().filter(|(_, s)| s.subscribes(topic)).map(|(id, _)| id.as_str()).collect()
    };
    let mut unplaced: Vec<(usize, TopicPartition)> = partitions
        .iter()
        .flat_map(|(topic, count)| (0..*count).map(move |p| TopicPartition::new(topic.clone(), p)))
        .filter(|tp| !taken.contains(tp))
        .map(|tp| (candidates(&tp.topic).len(), tp))
        .filter(|(n, _)| *n > 0)
        .collect();
    unplaced.sort();
    for (_, tp) in unplaced {
        let least =
            candidates(&tp.topic).into_iter().min_by_key(|m| (owned[m].len(), *m)).expect("at least one candidate");
        owned.get_mut(least).expect("a member").insert(tp);
    }

    // 3. Move from the most to the least loaded until no move helps.
    while let Some((from, to, tp)) = best_move(&owned, members) {
        owned.get_mut(from).expect("a member").remove(&tp);
        owned.get_mut(to).expect("a member").insert(tp);
    }

    owned.into_iter().map(|(m, tps)| (m.to_owned(), tps.into_iter().collect())).collect()
}

/// The move step 3 makes next, if any: from the most-loaded member (ties:
/// smaller id) that has a partition a member with at least two fewer could
/// take, its last such partition, to the least-loaded such member.
fn best_move<'a>(
    owned: &BTreeMap<&'a str, BTreeSet<TopicPartition>>,
    members: &BTreeMap<String, MemberSubscription>,
) -> Option<(&'a str, &'a str, TopicPartition)> {
    let mut by_load: Vec<(&'a str, usize)> = owned.iter().map(|(m, tps)| (*m, tps.len())).collect();
    by_load.sort_by_key(|(m, n)| (Reverse(*n), *m));
    let mut lightest_first = by_load.clone();
    lightest_first.sort_by_key(|(m, n)| (*n, *m));
    for &(from, load) in &by_load {
        for &(to, to_load) in &lightest_first {
            if to_load + 1 >= load {
                break; // the rest are at least as loaded
            }
            let taker = &members[to];
            if let Some(tp) = owned[from].iter().rev().find(|tp| taker.subscribes(&tp.topic)) {
                return Some((from, to, tp.clone()));
            }
        }
    }
    None
}
