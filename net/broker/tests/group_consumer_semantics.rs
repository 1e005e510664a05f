//! The group consumer against a real broker: queue semantics within a group
//! (each record consumed once by the group, partitions shared evenly),
//! publish-subscribe across groups, a member killed without leaving (its
//! partitions move after its session timeout and resume from the committed
//! offsets), and a rebalance when a subscribed topic gains partitions.
//!
//! Consumers are driven from one task, each polled in turn with a short
//! timeout: `poll` keeps its timeout while a join is held, so one task can
//! drive a whole group.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use corelog_client::*;
use support::{group_test_config, member_config, produce_keyed as produce, run_client, TestBroker};

const LIMIT: Duration = Duration::from_secs(60);
/// Longest a test waits for the group to reach a state.
const WAIT: Duration = Duration::from_secs(20);

fn group_config(group: &str, client: &str) -> GroupConfig {
    GroupConfig { client_id: client.into(), ..member_config(group) }
}

/// A record as seen by a member: (member index, partition, offset, value).
type Seen = (usize, u32, u64, String);

/// Polls every consumer once (briefly); each one's records are logged and
/// then committed (commit after processing).
async fn poll_round(consumers: &mut [GroupConsumer], seen: &mut Vec<Seen>, commit: bool) {
    for (i, c) in consumers.iter_mut().enumerate() {
        let records = c.poll(Duration::from_millis(30)).await.expect("poll");
        for r in &records {
            seen.push((i, r.partition, r.offset, String::from_utf8_lossy(&r.value).into_owned()));
        }
        if commit && !records.is_empty() {
            c.commit_sync().await.expect("commit after processing");
        }
    }
}

/// Whether every consumer is in the same generation with `per_member`
/// partitions.
fn stable(consumers: &[GroupConsumer], per_member: usize) -> bool {
    let generations: BTreeSet<Option<i32>> = consumers.iter().map(GroupConsumer::generation).collect();
    generations.len() == 1
        && generations.first().is_some_and(Option::is_some)
        && consumers.iter().all(|c| c.assignment().len() == per_member)
}

#[test]
fn a_group_shares_partitions_and_each_group_reads_everything() {
    let broker = TestBroker::start_tuned(2, group_test_config);
    let bootstrap = broker.endpoints();
    run_client(LIMIT, async move {
        let cluster = Cluster::connect(&bootstrap, ClientConfig::default()).await.unwrap();
        Admin::new(&cluster).create_topic("events", 6, &[]).await.unwrap();
        const N: usize = 600;
        produce(&cluster, "events", "first", N / 2).await;

        let mut group: Vec<GroupConsumer> = (0..3)
            .map(|i| {
                let mut c = GroupConsumer::new(&cluster, group_config("workers", &format!("worker-{i}"))).unwrap();
                c.subscribe(&["events"]).unwrap();
                c
            })
            .collect();
        let mut other = vec![GroupConsumer::new(&cluster, group_config("audit", "auditor")).unwrap()];
        other[0].subscribe(&["events"]).unwrap();

        let (mut seen, mut audited) = (Vec::new(), Vec::new());
        let started = Instant::now();
        let mut produced_rest = false;
        loop {
            poll_round(&mut group, &mut seen, true).await;
            poll_round(&mut other, &mut audited, true).await;
            if !produced_rest && stable(&group, 2) {
                // More records once the group has settled, so they are read
                // under the final assignment.
                produce(&cluster, "events", "second", N / 2).await;
                produced_rest = true;
            }
            if produced_rest && seen.len() >= N && audited.len() >= N && stable(&group, 2) {
                break;
            }
            assert!(
                started.elapsed() < WAIT,
                "group read {} and audit {} of {N}; assignments {:?}",
                seen.len(),
                audited.len(),
                group.iter().map(|c| (c.generation(), c.assignment().to_vec())).collect::<Vec<_>>()
            );
        }

        // Queue semantics: every record exactly once within the group.
        let mut values: Vec<&str> = seen.iter().map(|s| s.3.as_str()).collect();
        values.sort_unstable();
        let unique: BTreeSet<&str> = values.iter().copied().collect();
        assert_eq!(values.len(), unique.len(), "a record was consumed twice within the group");
        assert_eq!(unique.len(), N);
        // Each member has 2 of the 6 partitions, disjoint.
        let mut all: Vec<TopicPartition> = group.iter().flat_map(|c| c.assignment().to_vec()).collect();
        all.sort();
        assert_eq!(all, (0..6).map(|p| TopicPartition::new("events", p)).collect::<Vec<_>>());
        // The second half was read by the final owners only.
        for (member, partition, _, value) in &seen {
            if value.starts_with("second-") {
                assert!(group[*member].assignment().contains(&TopicPartition::new("events", *partition)));
            }
        }
        // Pub-sub: the other group read everything too.
        let audit: BTreeSet<&str> = audited.iter().map(|s| s.3.as_str()).collect();
        assert_eq!((audit.len(), audited.len()), (N, N));
        // What was committed is where each partition's log ends.
        let admin = Admin::new(&cluster);
        let committed = admin.group_offsets("workers").await.unwrap();
        for p in 0..6 {
            let end = admin.list_offsets("events", p, OffsetSpec::Latest).await.unwrap().offset.unwrap();
            assert_eq!(committed.get(&TopicPartition::new("events", p)), Some(&end), "partition {p}");
        }
        // Listed whichever core coordinates them.
        let listed: Vec<(String, GroupState)> =
            admin.list_groups().await.unwrap().into_iter().map(|g| (g.group_id, g.state)).collect();
        assert_eq!(listed, [("audit".to_owned(), GroupState::Stable), ("workers".to_owned(), GroupState::Stable)]);
        let described = admin.describe_group("workers").await.unwrap();
        assert_eq!(described.state, GroupState::Stable);
        assert_eq!(described.members.len(), 3);
        assert!(described.members.iter().all(|m| m.assignment.len() == 2 && m.topics == ["events"]));

        for c in group.into_iter().chain(other) {
            c.close().await.unwrap();
        }
        let described = admin.describe_group("workers").await.unwrap();
        assert_eq!((described.state, described.members.len()), (GroupState::Empty, 0), "close leaves the group");
    });
}

#[test]
fn a_killed_member_s_partitions_resume_from_its_last_commit() {
    let broker = TestBroker::start_tuned(1, group_test_config);
    let bootstrap = broker.endpoints();
    run_client(LIMIT, async move {
        let cluster = Cluster::connect(&bootstrap, ClientConfig::default()).await.unwrap();
        Admin::new(&cluster).create_topic("jobs", 4, &[]).await.unwrap();
        produce(&cluster, "jobs", "one", 200).await;

        let mut members: Vec<GroupConsumer> = (0..2)
            .map(|i| {
                let mut c = GroupConsumer::new(&cluster, group_config("crew", &format!("crew-{i}"))).unwrap();
                c.subscribe(&["jobs"]).unwrap();
                c
            })
            .collect();
        // Phase one: both members read and commit everything there is.
        let mut seen = Vec::new();
        let started = Instant::now();
        while !(seen.len() >= 200 && stable(&members, 2)) {
            poll_round(&mut members, &mut seen, true).await;
            assert!(started.elapsed() < WAIT, "phase one: {} records", seen.len());
        }
        let victim_partitions: Vec<TopicPartition> = members[0].assignment().to_vec();
        let committed_before: BTreeMap<TopicPartition, u64> = members[0].positions();

        // Phase two: more records; the victim reads its share without
        // committing (the uncommitted tail), the survivor commits.
        produce(&cluster, "jobs", "two", 200).await;
        let mut tail = Vec::new();
        let mut survivor_seen = Vec::new();
        let started = Instant::now();
        while tail.len() + survivor_seen.len() < 200 {
            for r in members[0].poll(Duration::from_millis(30)).await.unwrap() {
                tail.push((r.partition, r.offset));
            }
            poll_round(&mut members[1..], &mut survivor_seen, true).await;
            assert!(started.elapsed() < WAIT, "phase two: {} + {}", tail.len(), survivor_seen.len());
        }
        assert!(!tail.is_empty());

        // Kill the victim: no close, no LeaveGroup; its heartbeats stop.
        let victim = members.remove(0);
        let victim_member = victim.member_id();
        drop(victim);
        let killed = Instant::now();

        // The survivor gets all 4 partitions once the victim's session has
        // timed out, and resumes the victim's partitions at their commits.
        let mut after = Vec::new();
        while !(stable(&members, 4) && after.len() >= tail.len()) {
            poll_round(&mut members, &mut after, true).await;
            assert!(killed.elapsed() < WAIT, "failover: {} of {} re-read", after.len(), tail.len());
        }
        assert!(killed.elapsed() >= Duration::from_millis(1_000), "moved before the session timeout");
        let described = Admin::new(&cluster).describe_group("crew").await.unwrap();
        assert!(described.members.iter().all(|m| m.member_id != victim_member));
        let reread: BTreeSet<(u32, u64)> = after
            .iter()
            .filter(|s| victim_partitions.contains(&TopicPartition::new("jobs", s.1)))
            .map(|s| (s.1, s.2))
            .collect();
        let tail: BTreeSet<(u32, u64)> = tail.into_iter().collect();
        assert_eq!(reread, tail, "exactly the uncommitted tail is read again");
        for (partition, offset) in &reread {
            let committed = committed_before[&TopicPartition::new("jobs", *partition)];
            assert!(*offset >= committed, "committed record {partition}@{offset} consumed again");
        }
        members.pop().unwrap().close().await.unwrap();
    });
}

#[test]
fn the_group_rebalances_when_a_subscribed_topic_gains_partitions() {
    let broker = TestBroker::start_tuned(1, group_test_config);
    let bootstrap = broker.endpoints();
    run_client(LIMIT, async move {
        let cluster = Cluster::connect(&bootstrap, ClientConfig::default()).await.unwrap();
        let admin = Admin::new(&cluster);
        admin.create_topic("growing", 2, &[]).await.unwrap();
        let mut members: Vec<GroupConsumer> = (0..2)
            .map(|i| {
                let config = GroupConfig { assignors: vec![Assignor::Sticky], ..group_config("g", &format!("m{i}")) };
                let mut c = GroupConsumer::new(&cluster, config).unwrap();
                // "later" does not exist yet.
                c.subscribe(&["growing", "later"]).unwrap();
                c
            })
            .collect();
        let mut seen = Vec::new();
        let started = Instant::now();
        while !stable(&members, 1) {
            poll_round(&mut members, &mut seen, true).await;
            assert!(started.elapsed() < WAIT);
        }
        let before: Vec<Vec<TopicPartition>> = members.iter().map(|c| c.assignment().to_vec()).collect();

        admin.create_partitions("growing", 4).await.unwrap();
        admin.create_topic("later", 2, &[]).await.unwrap();
        produce(&cluster, "growing", "g", 40).await;
        produce(&cluster, "later", "l", 20).await;
        let started = Instant::now();
        while !(stable(&members, 3) && seen.len() >= 60) {
            poll_round(&mut members, &mut seen, true).await;
            assert!(
                started.elapsed() < WAIT,
                "{} records; {:?}",
                seen.len(),
                members.iter().map(|c| c.assignment().to_vec()).collect::<Vec<_>>()
            );
        }
        // Sticky: the old partitions stayed where they were.
        for (c, old) in members.iter().zip(&before) {
            assert!(old.iter().all(|tp| c.assignment().contains(tp)), "{old:?} -> {:?}", c.assignment());
        }
        let values: BTreeSet<&str> = seen.iter().map(|s| s.3.as_str()).collect();
        assert_eq!(values.len(), 60);
        for c in members {
            c.close().await.unwrap();
        }
    });
}
