//! The group consumer's api against a real broker: auto-commit, sync and
//! async commits, `committed`, `seek`, rebalance callbacks (committing in
//! `on_partitions_revoked`), `close`, where a partition starts without a
//! committed offset; and the errors bad input gets (an assignor the group
//! does not share or nobody knows, a stale generation's commit, a heartbeat
//! from an unknown member, a session timeout out of bounds, deleting or
//! resetting a group with members) without disturbing the group.

mod support;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corelog_client::*;
use corelog_protocol::ErrorCode;
use futures::future::LocalBoxFuture;
use support::{
    group_test_config, member_config as group_config, produce_keyed as produce, run_client, TestBroker, WireClient,
};

const LIMIT: Duration = Duration::from_secs(60);
const WAIT: Duration = Duration::from_secs(20);

/// Polls until `n` records came (failing after [`WAIT`]).
async fn consume(consumer: &mut GroupConsumer, n: usize) -> Vec<ConsumerRecord> {
    let started = Instant::now();
    let mut out = Vec::new();
    while out.len() < n {
        out.extend(consumer.poll(Duration::from_millis(50)).await.expect("poll"));
        assert!(started.elapsed() < WAIT, "{} of {n} records", out.len());
    }
    out
}

/// Polls until the consumer is in a generation.
async fn until_active(consumer: &mut GroupConsumer) -> Vec<ConsumerRecord> {
    let started = Instant::now();
    let mut out = Vec::new();
    while consumer.generation().is_none() {
        out.extend(consumer.poll(Duration::from_millis(50)).await.expect("poll"));
        assert!(started.elapsed() < WAIT, "never joined");
    }
    out
}

/// Logs callbacks; optionally commits on revocation.
struct Recorder {
    events: Rc<RefCell<Vec<String>>>,
    commit_on_revoke: bool,
}

impl Recorder {
    fn log(&self, what: &str, partitions: &[TopicPartition]) {
        let list: Vec<String> = partitions.iter().map(ToString::to_string).collect();
        self.events.borrow_mut().push(format!("{what} {}", list.join(",")));
    }
}

impl RebalanceListener for Recorder {
    fn on_partitions_revoked<'a>(
        &'a mut self,
        consumer: &'a mut GroupConsumer,
        partitions: &'a [TopicPartition],
    ) -> LocalBoxFuture<'a, ()> {
        Box::pin(async move {
            self.log("revoked", partitions);
            assert!(consumer.poll(Duration::ZERO).await.is_err(), "poll from a callback must fail");
            if self.commit_on_revoke {
                consumer.commit_sync().await.expect("commit before giving the partitions up");
            }
        })
    }

    fn on_partitions_assigned<'a>(
        &'a mut self,
        _consumer: &'a mut GroupConsumer,
        partitions: &'a [TopicPartition],
    ) -> LocalBoxFuture<'a, ()> {
        self.log("assigned", partitions);
        Box::pin(async {})
    }
}

#[test]
fn commits_seeks_callbacks_and_close() {
    let broker = TestBroker::start_tuned(1, group_test_config);
    let bootstrap = broker.endpoints();
    run_client(LIMIT, async move {
        let cluster = Cluster::connect(&bootstrap, ClientConfig::default()).await.unwrap();
        let admin = Admin::new(&cluster);
        admin.create_topic("t", 2, &[]).await.unwrap();
        produce(&cluster, "t", "a", 50).await;

        let events = Rc::new(RefCell::new(Vec::new()));
        let config = GroupConfig { auto_commit: Some(Duration::from_millis(100)), ..group_config("g") };
        let mut c = GroupConsumer::new(&cluster, config).unwrap();
        c.set_rebalance_listener(Recorder { events: events.clone(), commit_on_revoke: false });
        c.subscribe(&["t"]).unwrap();
        let records = consume(&mut c, 50).await;
        assert_eq!(records.len(), 50);
        assert_eq!(*events.borrow(), ["assigned t/0,t/1"]);
        assert!(c.is_leader());
        assert!(c.member_id().starts_with("corelog-consumer-"), "{}", c.member_id());

        // Auto-commit: the positions get committed while polling.
        let positions = c.positions();
        assert_eq!(positions.values().sum::<u64>(), 50);
        let started = Instant::now();
        while admin.group_offsets("g").await.unwrap() != positions {
            assert!(c.poll(Duration::from_millis(50)).await.unwrap().is_empty());
            assert!(started.elapsed() < WAIT, "auto-commit never happened");
        }
        assert_eq!(c.committed("t", 0).await.unwrap(), positions.get(&TopicPartition::new("t", 0)).copied());
        assert_eq!(c.committed("t", 7).await.unwrap(), None);

        // Seek back: the partition is read again from there.
        let p0 = positions[&TopicPartition::new("t", 0)];
        assert!(p0 >= 2);
        c.seek("t", 0, p0 - 2).await.unwrap();
        let again = consume(&mut c, 2).await;
        assert_eq!(again.iter().map(|r| (r.partition, r.offset)).collect::<Vec<_>>(), [(0, p0 - 2), (0, p0 - 1)]);
        assert!(c.seek("other", 0, 0).await.is_err());

        // Async commits: a future, and a callback.
        c.seek("t", 1, 0).await.unwrap();
        let future = c.commit_async();
        let committed = future.await.unwrap();
        assert_eq!(committed[&TopicPartition::new("t", 1)], 0);
        assert_eq!(c.committed("t", 1).await.unwrap(), Some(0));
        let done = Rc::new(Cell::new(false));
        let flag = done.clone();
        c.seek("t", 1, positions[&TopicPartition::new("t", 1)]).await.unwrap();
        c.commit_async_with(move |result| {
            assert!(result.is_ok(), "{result:?}");
            flag.set(true);
        });
        let started = Instant::now();
        while !done.get() {
            c.poll(Duration::from_millis(20)).await.unwrap();
            assert!(started.elapsed() < WAIT);
        }
        c.commit_sync().await.unwrap();

        // Close: revoked callback, leave.
        c.close().await.unwrap();
        assert_eq!(events.borrow().last().map(String::as_str), Some("revoked t/0,t/1"));
        let described = admin.describe_group("g").await.unwrap();
        assert_eq!((described.state, described.members.len()), (GroupState::Empty, 0));
        assert_eq!(admin.group_offsets("g").await.unwrap(), positions);

        // A new member starts at the committed offsets, whatever
        // auto_offset_reset says; a new group with "latest" starts at the end.
        let config = GroupConfig { auto_offset_reset: OffsetReset::Latest, ..group_config("g") };
        let mut again = GroupConsumer::new(&cluster, config).unwrap();
        again.subscribe(&["t"]).unwrap();
        let mut fresh = GroupConsumer::new(
            &cluster,
            GroupConfig { auto_offset_reset: OffsetReset::Latest, ..group_config("fresh") },
        )
        .unwrap();
        fresh.subscribe(&["t"]).unwrap();
        assert!(until_active(&mut again).await.is_empty());
        assert!(until_active(&mut fresh).await.is_empty());
        produce(&cluster, "t", "b", 10).await;
        let got = consume(&mut again, 10).await;
        assert!(got.iter().all(|r| r.value.starts_with(b"b-")), "only the new records");
        let got = consume(&mut fresh, 10).await;
        assert!(got.iter().all(|r| r.value.starts_with(b"b-")), "only the new records");
        again.close().await.unwrap();
        fresh.close().await.unwrap();
    });
}

#[test]
fn committing_in_the_revoke_callback_hands_over_exactly() {
    let broker = TestBroker::start_tuned(1, group_test_config);
    let bootstrap = broker.endpoints();
    run_client(LIMIT, async move {
        let cluster = Cluster::connect(&bootstrap, ClientConfig::default()).await.unwrap();
        Admin::new(&cluster).create_topic("t", 4, &[]).await.unwrap();
        produce(&cluster, "t", "a", 100).await;

        // No auto-commit and no commits in the poll loop: only the callback commits.
        let events = Rc::new(RefCell::new(Vec::new()));
        let mut first = GroupConsumer::new(&cluster, group_config("handover")).unwrap();
        first.set_rebalance_listener(Recorder { events: events.clone(), commit_on_revoke: true });
        first.subscribe(&["t"]).unwrap();
        let mut seen: BTreeMap<(u32, u64), usize> = BTreeMap::new();
        for r in consume(&mut first, 100).await {
            *seen.entry((r.partition, r.offset)).or_default() += 1;
        }

        let mut second = GroupConsumer::new(&cluster, group_config("handover")).unwrap();
        second.subscribe(&["t"]).unwrap();
        let started = Instant::now();
        loop {
            for c in [&mut first, &mut second] {
                for r in c.poll(Duration::from_millis(30)).await.unwrap() {
                    *seen.entry((r.partition, r.offset)).or_default() += 1;
                }
            }
            if first.assignment().len() == 2
                && second.assignment().len() == 2
                && first.generation() == second.generation()
            {
                break;
            }
            assert!(started.elapsed() < WAIT, "no rebalance");
        }
        assert_eq!(events.borrow()[..2], ["assigned t/0,t/1,t/2,t/3".to_owned(), "revoked t/0,t/1,t/2,t/3".to_owned()]);
        produce(&cluster, "t", "b", 40).await;
        let started = Instant::now();
        while seen.len() < 140 {
            for c in [&mut first, &mut second] {
                for r in c.poll(Duration::from_millis(30)).await.unwrap() {
                    *seen.entry((r.partition, r.offset)).or_default() += 1;
                }
            }
            assert!(started.elapsed() < WAIT, "{} of 140", seen.len());
        }
        assert!(seen.values().all(|n| *n == 1), "a record was read twice across the handover");
        first.close().await.unwrap();
        second.close().await.unwrap();
    });
}

#[test]
fn bad_input_gets_matching_errors_and_leaves_the_group_alone() {
    let broker = TestBroker::start_tuned(1, group_test_config);
    let bootstrap = broker.endpoints();
    run_client(LIMIT, async move {
        let cluster = Cluster::connect(&bootstrap, ClientConfig::default()).await.unwrap();
        let admin = Admin::new(&cluster);
        admin.create_topic("t", 2, &[]).await.unwrap();
        produce(&cluster, "t", "a", 20).await;

        let mut member =
            GroupConsumer::new(&cluster, GroupConfig { assignors: vec![Assignor::Range], ..group_config("g") })
                .unwrap();
        member.subscribe(&["t"]).unwrap();
        consume(&mut member, 20).await;
        member.commit_sync().await.unwrap();
        let generation = member.generation().expect("in a generation");
        let member_id = member.member_id();
        let committed = admin.group_offsets("g").await.unwrap();

        // A member offering only an assignor the group does not use.
        let config = GroupConfig { assignors: vec![Assignor::Sticky], ..group_config("g") };
        let mut odd = GroupConsumer::new(&cluster, config).unwrap();
        odd.subscribe(&["t"]).unwrap();
        let err = odd.poll(Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InconsistentGroupProtocol), "{err}");
        drop(odd);

        // Raw requests the client would not send.
        let coordinator = admin.group_coordinator("g").await.unwrap();
        let mut wire = WireClient::connect(coordinator);
        let joined = support::join_request("g", "", 10_000, &["bogus"]);
        let corelog_protocol::Response::JoinGroup(joined) = wire.call(&joined) else { panic!("a join answer") };
        assert_eq!(joined.error, ErrorCode::InconsistentGroupProtocol, "{joined:?}");
        assert!(joined.error_message.unwrap_or_default().contains("bogus"));

        let stale = support::commit(&mut wire, "g", generation - 1, &member_id, &[("t", 0, 0)]);
        assert_eq!(stale.error, ErrorCode::IllegalGeneration, "{stale:?}");
        let ahead = support::commit(&mut wire, "g", generation + 1, &member_id, &[("t", 0, 0)]);
        assert_eq!(ahead.error, ErrorCode::IllegalGeneration, "{ahead:?}");
        let stranger = support::commit(&mut wire, "g", generation, "nobody", &[("t", 0, 0)]);
        assert_eq!(stranger.error, ErrorCode::UnknownMemberId, "{stranger:?}");
        let standalone = support::commit(&mut wire, "g", -1, "", &[("t", 0, 0)]);
        assert_ne!(standalone.error, ErrorCode::None, "a standalone commit into a group with members");
        let beat = support::heartbeat(&mut wire, "g", generation, "nobody");
        assert_eq!(beat.error, ErrorCode::UnknownMemberId, "{beat:?}");
        let beat = support::heartbeat(&mut wire, "g", generation + 3, &member_id);
        assert_eq!(beat.error, ErrorCode::IllegalGeneration, "{beat:?}");

        // Admin operations that need an empty group.
        let err = admin.delete_group("g").await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::GroupNotEmpty), "{err}");
        let err =
            admin.reset_group_offsets("g", &BTreeMap::from([(TopicPartition::new("t", 0), 0)])).await.unwrap_err();
        assert!(err.code().is_some(), "{err}");
        let err = admin.describe_group("no-such-group").await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::UnknownGroup), "{err}");
        let err = admin.delete_group("no-such-group").await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::UnknownGroup), "{err}");

        // A session timeout below the broker's minimum.
        let config = GroupConfig {
            session_timeout: Duration::from_millis(50),
            heartbeat_interval: Some(Duration::from_millis(10)),
            ..group_config("other")
        };
        let mut hasty = GroupConsumer::new(&cluster, config).unwrap();
        hasty.subscribe(&["t"]).unwrap();
        let err = hasty.poll(Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");

        // Nothing was disturbed: same generation, same offsets, still consuming.
        assert_eq!(admin.group_offsets("g").await.unwrap(), committed);
        produce(&cluster, "t", "b", 10).await;
        consume(&mut member, 10).await;
        assert_eq!(member.generation(), Some(generation));
        member.commit_sync().await.unwrap();
        let described = admin.describe_group("g").await.unwrap();
        assert_eq!(described.members.iter().map(|m| m.member_id.clone()).collect::<Vec<_>>(), [member_id]);
        assert_eq!(described.protocol, "range");
        member.close().await.unwrap();

        // Empty now: reset and delete work.
        let zero = BTreeMap::from([(TopicPartition::new("t", 0), 0), (TopicPartition::new("t", 1), 0)]);
        admin.reset_group_offsets("g", &zero).await.unwrap();
        assert_eq!(admin.group_offsets("g").await.unwrap(), zero);
        let listed = admin.list_groups().await.unwrap();
        assert!(listed.iter().any(|g| g.group_id == "g" && g.state == GroupState::Empty), "{listed:?}");
        admin.delete_group("g").await.unwrap();
        assert!(admin.list_groups().await.unwrap().iter().all(|g| g.group_id != "g"));
        assert!(admin.group_offsets("g").await.unwrap().is_empty());
    });
}

/// Logs lost partitions.
struct LostRecorder(Rc<RefCell<Vec<TopicPartition>>>);

impl RebalanceListener for LostRecorder {
    fn on_partitions_lost<'a>(
        &'a mut self,
        _consumer: &'a mut GroupConsumer,
        partitions: &'a [TopicPartition],
    ) -> LocalBoxFuture<'a, ()> {
        self.0.borrow_mut().extend(partitions.iter().cloned());
        Box::pin(async {})
    }
}

#[test]
fn a_member_that_stops_polling_leaves_and_later_rejoins() {
    let broker = TestBroker::start_tuned(1, group_test_config);
    let bootstrap = broker.endpoints();
    run_client(LIMIT, async move {
        let cluster = Cluster::connect(&bootstrap, ClientConfig::default()).await.unwrap();
        let admin = Admin::new(&cluster);
        admin.create_topic("t", 2, &[]).await.unwrap();
        let config = GroupConfig { rebalance_timeout: Duration::from_millis(1_000), ..group_config("g") };
        let lost = Rc::new(RefCell::new(Vec::new()));
        let mut stuck = GroupConsumer::new(&cluster, config.clone()).unwrap();
        stuck.set_rebalance_listener(LostRecorder(lost.clone()));
        stuck.subscribe(&["t"]).unwrap();
        until_active(&mut stuck).await;
        let first_id = stuck.member_id();
        let mut busy = GroupConsumer::new(&cluster, config).unwrap();
        busy.subscribe(&["t"]).unwrap();
        let started = Instant::now();
        while !(stuck.assignment().len() == 1
            && busy.assignment().len() == 1
            && stuck.generation() == busy.generation())
        {
            stuck.poll(Duration::from_millis(30)).await.unwrap();
            busy.poll(Duration::from_millis(30)).await.unwrap();
            assert!(started.elapsed() < WAIT);
        }
        let stuck_partitions = stuck.assignment().to_vec();

        // Only `busy` polls: `stuck` leaves after the rebalance timeout.
        let started = Instant::now();
        while busy.assignment().len() < 2 {
            busy.poll(Duration::from_millis(30)).await.unwrap();
            assert!(started.elapsed() < WAIT, "the stuck member kept its partition");
        }
        let described = admin.describe_group("g").await.unwrap();
        assert_eq!(described.members.len(), 1, "{described:?}");
        assert!(described.members[0].member_id != first_id);

        // Back to polling: the partition was lost; it joins as a new member.
        let started = Instant::now();
        while !(stuck.assignment().len() == 1
            && busy.assignment().len() == 1
            && stuck.generation() == busy.generation())
        {
            stuck.poll(Duration::from_millis(30)).await.unwrap();
            busy.poll(Duration::from_millis(30)).await.unwrap();
            assert!(started.elapsed() < WAIT);
        }
        assert_eq!(*lost.borrow(), stuck_partitions);
        assert_ne!(stuck.member_id(), first_id);
        stuck.close().await.unwrap();
        busy.close().await.unwrap();
    });
}
