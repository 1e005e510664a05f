//! The cluster metadata's leadership rules: fencing, KIP-841's last ISR
//! member, unclean election, unfencing, preferred election, AlterPartition.

mod cluster_model_support;

use cluster_model_support::*;
use corelog_replication::metadata::cluster::{ClusterMetadata, Command, ElectionKind, UNCLEAN_LEADER_ELECTION_ENABLE};
use corelog_replication::metadata::{ClusterError, MetadataError};

/// Three brokers, topic "t" with one partition on replicas [0, 1, 2].
fn three() -> ClusterMetadata {
    let mut m = cluster(3, 1);
    create(&mut m, "t", 1, 3, &[]);
    assert_eq!(part(&m, "t", 0).replicas, vec![0, 1, 2]);
    m
}

fn alter(m: &ClusterMetadata, leader: u32, new_isr: &[u32]) -> Command {
    let a = part(m, "t", 0);
    Command::AlterPartition {
        topic: "t".into(),
        partition: 0,
        leader,
        leader_epoch: a.leader_epoch,
        partition_epoch: a.partition_epoch,
        new_isr: new_isr.to_vec(),
    }
}

#[test]
fn fencing_the_leader_elects_the_next_live_isr_member() {
    let mut m = three();
    let changes = fence(&mut m, 0);
    let a = part(&m, "t", 0);
    assert_eq!((a.leader, a.isr.clone(), a.leader_epoch, a.partition_epoch), (Some(1), vec![1, 2], 1, 1));
    assert_eq!(changed(&changes), vec![("t".to_string(), 0, a)]);
    assert_eq!(changes[0], corelog_replication::metadata::cluster::Change::BrokerChanged { node_id: 0 });
    assert!(m.broker(0).unwrap().fenced);
}

#[test]
fn fencing_skips_isr_members_that_are_fenced_and_replicas_out_of_sync() {
    let mut m = three();
    // 1 fell out of sync: the leader shrank the ISR to [0, 2].
    m.apply(alter(&m, 0, &[0, 2])).unwrap();
    fence(&mut m, 0);
    let a = part(&m, "t", 0);
    assert_eq!((a.leader, a.isr.clone()), (Some(2), vec![2]), "1 is alive but not in sync");
}

#[test]
fn fencing_a_follower_takes_it_out_of_the_isr_only() {
    let mut m = three();
    fence(&mut m, 2);
    let a = part(&m, "t", 0);
    assert_eq!((a.leader, a.isr.clone(), a.leader_epoch, a.partition_epoch), (Some(0), vec![0, 1], 0, 1));
    // A fenced broker that is not in the ISR changes nothing when fenced again by a restart.
    let version = m.version;
    m.apply(register_command(2, 5, 1)).unwrap();
    assert_eq!(part(&m, "t", 0), a);
    assert_eq!(m.version, version + 1, "the registration itself is a change");
}

#[test]
fn the_last_isr_member_stays_in_the_isr_and_the_partition_goes_offline() {
    let mut m = three();
    fence(&mut m, 1);
    fence(&mut m, 2);
    let before = part(&m, "t", 0);
    assert_eq!((before.leader, before.isr.clone()), (Some(0), vec![0]));
    fence(&mut m, 0);
    let a = part(&m, "t", 0);
    // KIP-841: 0 is the only replica known to have every acknowledged record.
    assert_eq!((a.leader, a.isr.clone()), (None, vec![0]));
    assert_eq!((a.leader_epoch, a.partition_epoch), (before.leader_epoch + 1, before.partition_epoch + 1));
    assert_eq!(m.offline().count(), 1);
    // Out-of-sync replicas coming back do not lead it.
    unfence(&mut m, 1);
    unfence(&mut m, 2);
    assert_eq!(part(&m, "t", 0), a);
    assert_eq!(
        m.election_for("t", 0, ElectionKind::Preferred),
        Err(ClusterError::PreferredLeaderNotAvailable { topic: "t".into(), partition: 0 })
    );
    // The last ISR member coming back does.
    let changes = unfence(&mut m, 0);
    let b = part(&m, "t", 0);
    assert_eq!(
        (b.leader, b.isr.clone(), b.leader_epoch, b.partition_epoch),
        (Some(0), vec![0], a.leader_epoch + 1, a.partition_epoch + 1)
    );
    assert_eq!(changed(&changes), vec![("t".to_string(), 0, b)]);
}

#[test]
fn unclean_election_is_a_per_topic_opt_in() {
    let mut m = cluster(3, 1);
    create(&mut m, "t", 1, 3, &[(UNCLEAN_LEADER_ELECTION_ENABLE, "true")]);
    m.apply(alter(&m, 0, &[0])).unwrap();
    fence(&mut m, 0);
    let a = part(&m, "t", 0);
    assert_eq!((a.leader, a.isr.clone()), (Some(1), vec![1]), "an out-of-sync live replica leads");
    assert_eq!(a.leader_epoch, 1);
    // With every replica fenced it is offline; the first to come back leads.
    fence(&mut m, 1);
    fence(&mut m, 2);
    assert_eq!(part(&m, "t", 0).leader, None);
    unfence(&mut m, 2);
    let b = part(&m, "t", 0);
    assert_eq!((b.leader, b.isr.clone()), (Some(2), vec![2]));
}

#[test]
fn an_explicit_unclean_election_gives_an_offline_partition_a_live_replica() {
    let mut m = three();
    m.apply(alter(&m, 0, &[0])).unwrap();
    fence(&mut m, 0);
    assert_eq!(part(&m, "t", 0).leader, None);
    assert_eq!(m.election_for("t", 0, ElectionKind::Unclean), Ok(1));
    let changes = m
        .apply(Command::ElectLeaders { partitions: Some(vec![("t".into(), 0)]), kind: ElectionKind::Unclean })
        .unwrap();
    let a = part(&m, "t", 0);
    assert_eq!((a.leader, a.isr.clone()), (Some(1), vec![1]));
    assert_eq!(changed(&changes).len(), 1);
    assert_eq!(
        m.election_for("t", 0, ElectionKind::Unclean),
        Err(ClusterError::ElectionNotNeeded { topic: "t".into(), partition: 0 })
    );
    refused(
        &mut m,
        Command::ElectLeaders { partitions: Some(vec![("t".into(), 1)]), kind: ElectionKind::Unclean },
        |e| matches!(e, ClusterError::UnknownPartition { partition: 1, .. }),
    );
    refused(
        &mut m,
        Command::ElectLeaders { partitions: Some(vec![("x".into(), 0)]), kind: ElectionKind::Preferred },
        |e| matches!(e, ClusterError::Metadata(MetadataError::UnknownTopic(_))),
    );
}

#[test]
fn preferred_election_returns_leadership_to_the_first_replica_once_in_sync() {
    let mut m = cluster(3, 1);
    create(&mut m, "t", 3, 3, &[]);
    fence(&mut m, 0);
    unfence(&mut m, 0);
    // Back, but not in sync yet: no election.
    let version = m.version;
    let none = m.apply(Command::ElectLeaders { partitions: None, kind: ElectionKind::Preferred }).unwrap();
    assert_eq!((none, m.version), (vec![], version));
    assert_eq!(
        m.election_for("t", 1, ElectionKind::Preferred),
        Err(ClusterError::ElectionNotNeeded { topic: "t".into(), partition: 1 })
    );
    // Its leader lets it back into the ISR.
    let leader = part(&m, "t", 0).leader.unwrap();
    assert_eq!(leader, 1);
    m.apply(alter(&m, 1, &[1, 2, 0])).unwrap();
    let before = part(&m, "t", 0);
    assert_eq!(before.isr, vec![0, 1, 2], "kept in replica order");
    assert_eq!(m.election_for("t", 0, ElectionKind::Preferred), Ok(0));
    let changes = m.apply(Command::ElectLeaders { partitions: None, kind: ElectionKind::Preferred }).unwrap();
    let a = part(&m, "t", 0);
    assert_eq!((a.leader, a.isr.clone()), (Some(0), vec![0, 1, 2]));
    assert_eq!((a.leader_epoch, a.partition_epoch), (before.leader_epoch + 1, before.partition_epoch + 1));
    // Only partition 0 was eligible (0 is not in the ISR of 2).
    assert_eq!(changed(&changes).iter().map(|(_, p, _)| *p).collect::<Vec<_>>(), vec![0]);
    assert_eq!(part(&m, "t", 2).replicas[0], 2);
}

#[test]
fn alter_partition_is_refused_unless_sent_by_the_current_leader_at_current_epochs() {
    let mut m = three();
    fence(&mut m, 2);
    unfence(&mut m, 2);
    let a = part(&m, "t", 0);
    assert_eq!((a.leader, a.leader_epoch, a.partition_epoch), (Some(0), 0, 1));
    let request = |leader: u32, leader_epoch: u32, partition_epoch: u32, isr: &[u32]| Command::AlterPartition {
        topic: "t".into(),
        partition: 0,
        leader,
        leader_epoch,
        partition_epoch,
        new_isr: isr.to_vec(),
    };
    refused(&mut m, request(1, 0, 1, &[0, 1]), |e| {
        matches!(e, ClusterError::NotLeader { leader: Some(0), requested: 1, .. })
    });
    refused(&mut m, request(0, 1, 1, &[0, 1]), |e| {
        matches!(e, ClusterError::FencedLeaderEpoch { current: 0, requested: 1, .. })
    });
    refused(&mut m, request(0, 0, 0, &[0, 1]), |e| {
        matches!(e, ClusterError::InvalidUpdateVersion { current: 1, requested: 0, .. })
    });
    refused(&mut m, request(0, 0, 2, &[0, 1]), |e| {
        matches!(e, ClusterError::InvalidUpdateVersion { current: 1, requested: 2, .. })
    });
    let isr_error = |why: &'static str| move |e: &ClusterError| matches!(e, ClusterError::InvalidIsr { reason, .. } if reason.contains(why));
    refused(&mut m, request(0, 0, 1, &[0, 7]), isr_error("not a replica"));
    refused(&mut m, request(0, 0, 1, &[0, 1, 1]), isr_error("twice"));
    refused(&mut m, request(0, 0, 1, &[1, 2]), isr_error("does not hold the leader"));
    refused(&mut m, request(0, 0, 1, &[]), isr_error("does not hold the leader"));
    fence(&mut m, 2);
    let a = part(&m, "t", 0);
    refused(&mut m, request(0, a.leader_epoch, a.partition_epoch, &[0, 1, 2]), |e| {
        matches!(e, ClusterError::IneligibleReplica { node_id: 2, .. })
    });
    refused(
        &mut m,
        Command::AlterPartition {
            topic: "t".into(),
            partition: 3,
            leader: 0,
            leader_epoch: 0,
            partition_epoch: 0,
            new_isr: vec![0],
        },
        |e| matches!(e, ClusterError::UnknownPartition { partition: 3, .. }),
    );
    // A partition without a leader accepts no AlterPartition.
    m.apply(alter(&m, 0, &[0])).unwrap();
    fence(&mut m, 0);
    let offline = alter(&m, 0, &[0]);
    refused(&mut m, offline, |e| matches!(e, ClusterError::NotLeader { leader: None, .. }));
}

#[test]
fn alter_partition_shrinks_and_expands_the_isr_bumping_only_the_partition_epoch() {
    let mut m = three();
    let version = m.version;
    let changes = m.apply(alter(&m, 0, &[2, 0])).unwrap();
    let a = part(&m, "t", 0);
    assert_eq!((a.isr.clone(), a.leader, a.leader_epoch, a.partition_epoch), (vec![0, 2], Some(0), 0, 1));
    assert_eq!(changed(&changes), vec![("t".to_string(), 0, a.clone())]);
    assert_eq!(m.version, version + 1);
    // The same ISR again changes nothing.
    assert_eq!(m.apply(alter(&m, 0, &[0, 2])).unwrap(), vec![]);
    assert_eq!(m.version, version + 1);
    // The old partition epoch is now stale.
    refused(
        &mut m,
        Command::AlterPartition {
            topic: "t".into(),
            partition: 0,
            leader: 0,
            leader_epoch: 0,
            partition_epoch: 0,
            new_isr: vec![0, 1, 2],
        },
        |e| matches!(e, ClusterError::InvalidUpdateVersion { .. }),
    );
    m.apply(alter(&m, 0, &[0, 1, 2])).unwrap();
    let b = part(&m, "t", 0);
    assert_eq!((b.isr, b.leader_epoch, b.partition_epoch), (vec![0, 1, 2], 0, 2));
    // Shrinking below min.insync.replicas is allowed: acks=all produces fail instead.
    m.apply(alter(&m, 0, &[0])).unwrap();
    assert_eq!(m.under_min_isr().count(), 1);
}
