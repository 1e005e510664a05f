use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;

fn tp(topic: &str, partition: u32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

fn counts(topics: &[(&str, u32)]) -> BTreeMap<String, u32> {
    topics.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
}

fn subs(list: &[(&str, &[&str])]) -> BTreeMap<String, MemberSubscription> {
    list.iter().map(|(id, topics)| ((*id).to_owned(), MemberSubscription::new(topics.iter().copied()))).collect()
}

fn names(assignment: &GroupAssignment, member: &str) -> Vec<String> {
    assignment[member].iter().map(ToString::to_string).collect()
}

/// Every partition of a subscribed topic is assigned exactly once, to a
/// member subscribed to its topic; every member has an entry.
fn check_valid(
    partitions: &BTreeMap<String, u32>,
    members: &BTreeMap<String, MemberSubscription>,
    assignment: &GroupAssignment,
) {
    assert_eq!(assignment.keys().collect::<Vec<_>>(), members.keys().collect::<Vec<_>>());
    let mut seen = BTreeSet::new();
    for (member, tps) in assignment {
        for tp in tps {
            assert!(members[member].subscribes(&tp.topic), "{member} got {tp} without subscribing");
            assert!(tp.partition < partitions[&tp.topic], "{tp} does not exist");
            assert!(seen.insert(tp.clone()), "{tp} assigned twice");
        }
    }
    for (topic, count) in partitions {
        if members.values().any(|m| m.subscribes(topic)) {
            for p in 0..*count {
                assert!(seen.contains(&tp(topic, p)), "{topic}/{p} not assigned");
            }
        }
    }
}

fn loads(assignment: &GroupAssignment) -> (usize, usize) {
    let min = assignment.values().map(Vec::len).min().unwrap_or(0);
    let max = assignment.values().map(Vec::len).max().unwrap_or(0);
    (min, max)
}

#[test]
fn names_round_trip() {
    for a in Assignor::ALL {
        assert_eq!(Assignor::from_name(a.name()), Some(a));
        assert_eq!(a.to_string().parse::<Assignor>(), Ok(a));
        assert!(corelog_protocol::consumer_protocol::KNOWN_ASSIGNORS.contains(&a.name()));
    }
    let err = "cooperative-sticky".parse::<Assignor>().unwrap_err();
    assert!(err.contains("unknown assignor") && err.contains("range"), "{err}");
}

#[test]
fn range_gives_contiguous_ranges_per_topic() {
    let partitions = counts(&[("t0", 3), ("t1", 3)]);
    let members = subs(&[("c0", &["t0", "t1"]), ("c1", &["t0", "t1"])]);
    let a = Assignor::Range.assign(&partitions, &members);
    check_valid(&partitions, &members, &a);
    assert_eq!(names(&a, "c0"), ["t0/0", "t0/1", "t1/0", "t1/1"]);
    assert_eq!(names(&a, "c1"), ["t0/2", "t1/2"]);

    let partitions = counts(&[("t", 7)]);
    let members = subs(&[("a", &["t"]), ("b", &["t"]), ("c", &["t"])]);
    let a = Assignor::Range.assign(&partitions, &members);
    assert_eq!(names(&a, "a"), ["t/0", "t/1", "t/2"]);
    assert_eq!(names(&a, "b"), ["t/3", "t/4"]);
    assert_eq!(names(&a, "c"), ["t/5", "t/6"]);
}

#[test]
fn round_robin_deals_in_turn() {
    // Kafka's documented example.
    let partitions = counts(&[("t0", 3), ("t1", 3)]);
    let members = subs(&[("c0", &["t0", "t1"]), ("c1", &["t0", "t1"])]);
    let a = Assignor::RoundRobin.assign(&partitions, &members);
    check_valid(&partitions, &members, &a);
    assert_eq!(names(&a, "c0"), ["t0/0", "t0/2", "t1/1"]);
    assert_eq!(names(&a, "c1"), ["t0/1", "t1/0", "t1/2"]);

    // Unsubscribed members are skipped.
    let partitions = counts(&[("t0", 1), ("t1", 2), ("t2", 3)]);
    let members = subs(&[("c0", &["t0"]), ("c1", &["t0", "t1"]), ("c2", &["t0", "t1", "t2"])]);
    let a = Assignor::RoundRobin.assign(&partitions, &members);
    check_valid(&partitions, &members, &a);
    assert_eq!(names(&a, "c0"), ["t0/0"]);
    assert_eq!(names(&a, "c1"), ["t1/0"]);
    assert_eq!(names(&a, "c2"), ["t1/1", "t2/0", "t2/1", "t2/2"]);
}

#[test]
fn every_assignor_handles_degenerate_groups() {
    for assignor in Assignor::ALL {
        // No members.
        assert!(assignor.assign(&counts(&[("t", 3)]), &BTreeMap::new()).is_empty());
        // More members than partitions; a topic nobody knows; an empty topic.
        let partitions = counts(&[("t", 2), ("empty", 0)]);
        let members = subs(&[("a", &["t", "missing", "empty"]), ("b", &["t"]), ("c", &["t"])]);
        let a = assignor.assign(&partitions, &members);
        check_valid(&partitions, &members, &a);
        assert_eq!(loads(&a), (0, 1), "{assignor}");
        // A member subscribed to nothing gets nothing.
        let members = members_with_idle();
        let a = assignor.assign(&counts(&[("t", 4)]), &members);
        assert!(a["idle"].is_empty(), "{assignor}");
        assert_eq!(a["busy"].len(), 4, "{assignor}");
    }
}

fn members_with_idle() -> BTreeMap<String, MemberSubscription> {
    subs(&[("busy", &["t"]), ("idle", &[])])
}

#[test]
fn six_partitions_three_members_two_each() {
    let partitions = counts(&[("t", 6)]);
    let members = subs(&[("m-1", &["t"]), ("m-2", &["t"]), ("m-3", &["t"])]);
    for assignor in Assignor::ALL {
        let a = assignor.assign(&partitions, &members);
        check_valid(&partitions, &members, &a);
        assert!(a.values().all(|tps| tps.len() == 2), "{assignor}: {a:?}");
    }
}

#[test]
fn sticky_keeps_owners_when_a_member_leaves() {
    let partitions = counts(&[("t", 6)]);
    let before = subs(&[("a", &["t"]), ("b", &["t"]), ("c", &["t"])]);
    let first = Assignor::Sticky.assign(&partitions, &before);
    // c leaves; a and b report what they own.
    let after: BTreeMap<String, MemberSubscription> = ["a", "b"]
        .iter()
        .map(|m| ((*m).to_owned(), MemberSubscription::new(["t"]).owning(first[*m].clone(), 1)))
        .collect();
    let second = Assignor::Sticky.assign(&partitions, &after);
    check_valid(&partitions, &after, &second);
    for m in ["a", "b"] {
        assert!(first[m].iter().all(|tp| second[m].contains(tp)), "{m} lost a partition: {first:?} -> {second:?}");
        assert_eq!(second[m].len(), 3);
    }
}

#[test]
fn sticky_moves_only_what_a_new_member_needs() {
    let partitions = counts(&[("t", 7), ("u", 5)]);
    let before = subs(&[("a", &["t", "u"]), ("b", &["t", "u"])]);
    let first = Assignor::Sticky.assign(&partitions, &before);
    assert_eq!(loads(&first), (6, 6));
    let mut after: BTreeMap<String, MemberSubscription> = ["a", "b"]
        .iter()
        .map(|m| ((*m).to_owned(), MemberSubscription::new(["t", "u"]).owning(first[*m].clone(), 4)))
        .collect();
    after.insert("c".into(), MemberSubscription::new(["t", "u"]));
    let second = Assignor::Sticky.assign(&partitions, &after);
    check_valid(&partitions, &after, &second);
    assert_eq!(loads(&second), (4, 4));
    let moved: usize = ["a", "b"].iter().map(|m| first[*m].iter().filter(|tp| !second[*m].contains(tp)).count()).sum();
    assert_eq!(moved, 4, "only the new member's share moves: {first:?} -> {second:?}");

    // Range, by contrast, reshuffles.
    let range = Assignor::Range.assign(&partitions, &after);
    let kept = first["a"].iter().filter(|tp| range["a"].contains(tp)).count();
    assert!(kept < 4);
}

#[test]
fn sticky_resolves_conflicting_claims_by_generation() {
    let partitions = counts(&[("t", 4)]);
    let mut members = BTreeMap::new();
    // "stale" missed a generation and still claims t/0 and t/1.
    members.insert("stale".to_owned(), MemberSubscription::new(["t"]).owning([tp("t", 0), tp("t", 1)], 3));
    members.insert("fresh".to_owned(), MemberSubscription::new(["t"]).owning([tp("t", 1), tp("t", 2)], 4));
    let a = Assignor::Sticky.assign(&partitions, &members);
    check_valid(&partitions, &members, &a);
    assert!(a["fresh"].contains(&tp("t", 1)) && a["fresh"].contains(&tp("t", 2)));
    assert!(a["stale"].contains(&tp("t", 0)));
    assert_eq!(loads(&a), (2, 2));
}

#[test]
fn sticky_drops_claims_that_are_no_longer_valid() {
    let partitions = counts(&[("t", 2)]);
    let mut members = BTreeMap::new();
    // t/5 no longer exists; "gone" is not subscribed to any more.
    members.insert("a".to_owned(), MemberSubscription::new(["t"]).owning([tp("t", 5), tp("gone", 0)], 1));
    members.insert("b".to_owned(), MemberSubscription::new(["t"]));
    let a = Assignor::Sticky.assign(&partitions, &members);
    check_valid(&partitions, &members, &a);
    assert_eq!(loads(&a), (1, 1));
}

#[test]
fn subscriptions_and_assignments_convert() {
    let list = vec![tp("b", 2), tp("a", 1), tp("b", 0), tp("a", 1)];
    let grouped = to_topic_partitions(&list);
    assert_eq!(grouped, vec![TopicPartitions::new("a", [1]), TopicPartitions::new("b", [0, 2])]);
    assert_eq!(from_topic_partitions(&grouped), vec![tp("a", 1), tp("b", 0), tp("b", 2)]);
    let sub =
        Subscription { topics: vec!["a".into()], user_data: Assignor::Sticky.user_data(7), owned_partitions: grouped };
    let member = MemberSubscription::from_subscription(&sub);
    assert_eq!(member.generation, Some(7));
    assert_eq!(member.owned.len(), 3);
    assert!(Assignor::Range.user_data(7).is_empty());
    assert!(Assignor::Sticky.user_data(-1).is_empty());
}

fn group() -> impl Strategy<Value = (BTreeMap<String, u32>, BTreeMap<String, MemberSubscription>)> {
    let topics = proptest::collection::btree_map("[a-d]", 0u32..12, 1..4);
    (topics, 1usize..7).prop_flat_map(|(topics, n)| {
        let names: Vec<String> = topics.keys().cloned().collect();
        let member = proptest::sample::subsequence(names.clone(), 0..=names.len());
        (Just(topics), proptest::collection::vec(member, n)).prop_map(|(topics, subs)| {
            let members = subs
                .into_iter()
                .enumerate()
                .map(|(i, topics)| (format!("member-{i}"), MemberSubscription::new(topics)))
                .collect();
            (topics, members)
        })
    })
}

proptest! {
    #[test]
    fn assignments_are_valid_and_deterministic((partitions, members) in group()) {
        for assignor in Assignor::ALL {
            let a = assignor.assign(&partitions, &members);
            check_valid(&partitions, &members, &a);
            prop_assert_eq!(&a, &assignor.assign(&partitions, &members));
        }
    }

    #[test]
    fn homogeneous_groups_are_balanced(count in 0u32..40, n in 1usize..8, topics in 1usize..4) {
        let partitions: BTreeMap<String, u32> =
            (0..topics).map(|t| (format!("t{t}"), count + t as u32)).collect();
        let names: Vec<String> = partitions.keys().cloned().collect();
        let members: BTreeMap<String, MemberSubscription> =
            (0..n).map(|i| (format!("m{i}"), MemberSubscription::new(names.clone()))).collect();
        for assignor in [Assignor::RoundRobin, Assignor::Sticky] {
            let (min, max) = loads(&assignor.assign(&partitions, &members));
            prop_assert!(max - min <= 1, "{} unbalanced: {}..{}", assignor, min, max);
        }
        // Range balances each topic.
        let a = Assignor::Range.assign(&partitions, &members);
        for topic in &names {
            let per: Vec<usize> = a.values().map(|tps| tps.iter().filter(|tp| &tp.topic == topic).count()).collect();
            prop_assert!(per.iter().max().unwrap() - per.iter().min().unwrap() <= 1);
        }
    }

    #[test]
    fn sticky_moves_little_on_membership_change(count in 1u32..40, n in 1usize..7, joined in 0usize..3, left in 0usize..3) {
        let partitions = BTreeMap::from([("t".to_owned(), count)]);
        let members: BTreeMap<String, MemberSubscription> =
            (0..n).map(|i| (format!("m{i}"), MemberSubscription::new(["t"]))).collect();
        let first = Assignor::Sticky.assign(&partitions, &members);
        let left = left.min(n - 1);
        let mut next: BTreeMap<String, MemberSubscription> = first
            .iter()
            .skip(left)
            .map(|(m, tps)| (m.clone(), MemberSubscription::new(["t"]).owning(tps.clone(), 1)))
            .collect();
        for j in 0..joined {
            next.insert(format!("new{j}"), MemberSubscription::new(["t"]));
        }
        let second = Assignor::Sticky.assign(&partitions, &next);
        check_valid(&partitions, &next, &second);
        let (min, max) = loads(&second);
        prop_assert!(max - min <= 1);
        // A survivor keeps min(what it had, its new share): at least `min` of its partitions.
        for (m, tps) in first.iter().skip(left) {
            let kept = tps.iter().filter(|tp| second[m].contains(tp)).count();
            prop_assert!(kept >= tps.len().min(min), "{} kept {} of {:?} (min load {})", m, kept, tps, min);
        }
    }
}
