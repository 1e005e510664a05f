//! The simulation's controller: the production `ClusterMetadata` state
//! machine (the one the controller quorum applies through Raft), holding
//! three brokers and the one simulated topic. The simulation turns crashes,
//! lost sessions, restarts, leaders' AlterPartition requests and preferred
//! elections into its `Command`s, so the replicas run against the real
//! fencing, election and ISR rules. Here is only the translation between the
//! two vocabularies, the way the broker does it.

use std::collections::BTreeMap;

use corelog_replication::metadata::cluster::{
    Change, ClusterError, ClusterMetadata, Command, PartitionAssignment, TopicId, MIN_INSYNC_REPLICAS,
};
use corelog_replication::metadata::MetadataError;
use corelog_replication::replica::{AlterPartitionAnswer, AlterPartitionError, PartitionChange, ReplicaId};

/// The simulated partition is partition 0 of this topic.
pub const TOPIC: &str = "sim";
pub const PARTITION: u32 = 0;

/// The partition change a replica's metadata listener hands its leader for
/// an assignment at the same leader epoch.
pub fn partition_change(a: &PartitionAssignment) -> PartitionChange {
    PartitionChange {
        leader_epoch: a.leader_epoch,
        partition_epoch: a.partition_epoch,
        replicas: a.replicas.clone(),
        isr: a.isr.clone(),
    }
}

/// What a leader's AlterPartition refusal tells it: the broker's mapping
/// (`ClusterError` -> wire code in `cluster/error_codes.rs`, wire code ->
/// `AlterPartitionError` in `replica/isr_sender.rs`) composed.
pub fn alter_partition_error(error: &ClusterError) -> AlterPartitionError {
    match error {
        ClusterError::FencedLeaderEpoch { .. } => AlterPartitionError::FencedLeaderEpoch,
        ClusterError::InvalidUpdateVersion { .. } => AlterPartitionError::InvalidUpdateVersion,
        ClusterError::NotLeader { .. } => AlterPartitionError::NewLeaderElected,
        ClusterError::IneligibleReplica { .. } => AlterPartitionError::IneligibleReplica,
        ClusterError::UnknownPartition { .. } | ClusterError::Metadata(MetadataError::UnknownTopic(_)) => {
            AlterPartitionError::UnknownPartition
        }
        // INVALID_REQUEST: refused as malformed, so certainly not applied.
        ClusterError::InvalidIsr { .. }
        | ClusterError::InvalidRegistration(_)
        | ClusterError::InvalidTopicId { .. } => AlterPartitionError::OperationNotAttempted,
        _ => AlterPartitionError::Retriable,
    }
}

/// The active controller's metadata (on its core 0 in production; here the
/// simulation's one thread).
pub struct Controller {
    pub metadata: ClusterMetadata,
}

impl Controller {
    /// The cluster at the start: every broker registered (incarnation 0,
    /// one core) and unfenced, then the topic created with one partition on
    /// all of them.
    pub fn new(brokers: &[ReplicaId], min_insync_replicas: u32) -> Self {
        let mut c = Self { metadata: ClusterMetadata::default() };
        for &id in brokers {
            c.apply(register(id, 0)).expect("registering a new broker");
        }
        for &id in brokers {
            let broker_epoch = c.broker_epoch(id);
            c.apply(Command::UnfenceBroker { node_id: id, broker_epoch }).expect("unfencing a registered broker");
        }
        let config: BTreeMap<String, String> =
            [(MIN_INSYNC_REPLICAS.to_string(), min_insync_replicas.to_string())].into();
        c.apply(Command::CreateTopic {
            name: TOPIC.to_string(),
            topic_id: TopicId::derived_from_name(TOPIC),
            partitions: 1,
            replication_factor: brokers.len() as u32,
            config,
        })
        .expect("creating the topic");
        c
    }

    pub fn apply(&mut self, command: Command) -> Result<Vec<PartitionAssignment>, ClusterError> {
        let changes = self.metadata.apply(command)?;
        Ok(changes
            .into_iter()
            .filter_map(|change| match change {
                Change::PartitionChanged { topic, partition, assignment } => {
                    assert!(topic == TOPIC && partition == PARTITION, "the only partition is {TOPIC}/{PARTITION}");
                    Some(assignment)
                }
                _ => None,
            })
            .collect())
    }

    pub fn partition(&self) -> &PartitionAssignment {
        self.metadata.partition(TOPIC, PARTITION).expect("the topic exists")
    }

    pub fn broker_epoch(&self, id: ReplicaId) -> u64 {
        self.metadata.broker(id).expect("registered").broker_epoch
    }

    pub fn fenced(&self, id: ReplicaId) -> bool {
        self.metadata.broker(id).expect("registered").fenced
    }

    pub fn min_insync_replicas(&self) -> u32 {
        self.metadata.topic(TOPIC).expect("the topic exists").replication.min_insync_replicas
    }

    /// A leader's AlterPartition, as the controller answers it: accepted
    /// with the partition's committed state, or refused with the error the
    /// broker hands its leader. Also returns the partition changes to
    /// deliver.
    pub fn alter_partition(
        &mut self,
        from: ReplicaId,
        leader_epoch: u32,
        partition_epoch: u32,
        new_isr: &[ReplicaId],
    ) -> (AlterPartitionAnswer, Vec<PartitionAssignment>) {
        let command = Command::AlterPartition {
            topic: TOPIC.to_string(),
            partition: PARTITION,
            leader: from,
            leader_epoch,
            partition_epoch,
            new_isr: new_isr.to_vec(),
        };
        match self.apply(command) {
            Ok(changes) => {
                let a = self.partition();
                let answer = AlterPartitionAnswer::Accepted {
                    leader_epoch: a.leader_epoch,
                    partition_epoch: a.partition_epoch,
                    isr: a.isr.clone(),
                };
                (answer, changes)
            }
            Err(e) => {
                let error = alter_partition_error(&e);
                (AlterPartitionAnswer::Rejected { leader_epoch, partition_epoch, error }, vec![])
            }
        }
    }
}

/// A broker's registration: one core, its own port.
pub fn register(id: ReplicaId, incarnation: u64) -> Command {
    Command::RegisterBroker {
        node_id: id,
        incarnation,
        host: format!("broker{id}"),
        base_port: 9000 + id as u16,
        cores: 1,
        kafka: None,
    }
}
