//! Sends the ISR changes this core's leaders propose to the controller
//! quorum (Kafka's AlterPartition, as a `Command::AlterPartition` through
//! ControllerWrite), one at a time per partition, in order.
//!
//! An accepted change comes back the way every change does: as the next
//! metadata image, whose assignment the leader adopts (`PartitionChanged`).
//! A refusal is fed back to the leader state at once.
//!
//! Lives on: every core of a cluster member; one task per core.

use std::rc::Rc;
use std::time::{Duration, Instant};

use corelog_protocol::ErrorCode;
use corelog_replication::metadata::cluster::Command;
use corelog_replication::replica::{AlterPartitionAnswer, AlterPartitionError, LeaderCommand, LeaderEvent};

use super::{leader_event, Role};
use crate::cluster::{ClusterSettings, ControllerClient};
use crate::limits::{CONTROLLER_WRITE_TIMEOUT, FLUSH_TICK_MS};
use crate::shard::{Partition, Shard};

pub async fn run(shard: Rc<Shard>, settings: ClusterSettings) {
    let client = ControllerClient::new(settings.node_id, settings.controllers.clone());
    loop {
        for part in shard.partitions() {
            let proposals = match &mut *part.role.borrow_mut() {
                Role::Leader(leader) => std::mem::take(&mut leader.proposals),
                _ => Vec::new(),
            };
            for proposal in proposals {
                send(&client, &part, shard.node_id(), proposal).await;
            }
        }
        if !shard.wait_or_stop(Duration::from_millis(FLUSH_TICK_MS)).await {
            return;
        }
    }
}

async fn send(client: &ControllerClient, part: &Partition, node: u32, proposal: LeaderCommand) {
    let LeaderCommand::ProposeIsr { new_isr, leader_epoch, partition_epoch } = proposal else { return };
    let command = Command::AlterPartition {
        topic: part.topic.clone(),
        partition: part.id,
        leader: node,
        leader_epoch,
        partition_epoch,
        new_isr: new_isr.clone(),
    };
    tracing::info!(topic = %part.topic, partition = part.id, ?new_isr, leader_epoch, partition_epoch, "proposing an ISR change");
    if let Err((code, message)) = client.write(&command, Instant::now() + CONTROLLER_WRITE_TIMEOUT).await {
        tracing::info!(topic = %part.topic, partition = part.id, %code, %message, "ISR change refused");
        let error = match code {
            ErrorCode::FencedLeaderEpoch => AlterPartitionError::FencedLeaderEpoch,
            ErrorCode::InvalidUpdateVersion => AlterPartitionError::InvalidUpdateVersion,
            ErrorCode::NotOwner => AlterPartitionError::NewLeaderElected,
            ErrorCode::UnknownTopic | ErrorCode::UnknownPartition => AlterPartitionError::UnknownPartition,
            ErrorCode::IneligibleReplica => AlterPartitionError::IneligibleReplica,
            ErrorCode::InvalidRequest => AlterPartitionError::OperationNotAttempted,
            _ => AlterPartitionError::Retriable,
        };
        let answer = AlterPartitionAnswer::Rejected { leader_epoch, partition_epoch, error };
        leader_event(part, LeaderEvent::AlterPartitionAnswer(answer));
    }
}
