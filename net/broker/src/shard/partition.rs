//! A partition as a shard holds it: its log plus its identity.
//!
//! Lives on: the core the metadata assigns it to, and nowhere else.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};

use corelog_replication::metadata::cluster::PartitionAssignment;
use corelog_storage::log::PartitionLog;

use crate::replica::Role;

/// `<data_dir>/topics/<topic>/<partition>`: independent of the owning core,
/// so a partition can move between cores without moving data.
pub fn partition_dir(data_dir: &Path, topic: &str, partition: u32) -> PathBuf {
    data_dir.join("topics").join(topic).join(partition.to_string())
}

pub struct Partition {
    pub topic: String,
    pub id: u32,
    pub log: PartitionLog,
    /// Its replicas, ISR, leader and epochs as the metadata last said.
    pub assignment: RefCell<PartitionAssignment>,
    /// Its part in the replication, from `assignment`.
    pub role: RefCell<Role>,
    /// The topic's `min.insync.replicas`, as of the last assignment.
    pub min_insync_replicas: Cell<u32>,
}

impl Partition {
    /// Whether `node` (this broker) leads the partition: only the leader
    /// takes produce requests and serves consumers.
    pub fn is_led_by(&self, node: u32) -> bool {
        self.assignment.borrow().leader == Some(node)
    }

    pub fn leader_epoch(&self) -> u32 {
        self.assignment.borrow().leader_epoch
    }
}
