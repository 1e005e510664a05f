//! A partition as a shard holds it: its log plus its identity.
//!
//! Lives on: the core the metadata assigns it to, and nowhere else.

use std::path::{Path, PathBuf};

use corelog_storage::log::PartitionLog;

/// `<data_dir>/topics/<topic>/<partition>`: independent of the owning core,
/// so a partition can move between cores without moving data.
pub fn partition_dir(data_dir: &Path, topic: &str, partition: u32) -> PathBuf {
    data_dir.join("topics").join(topic).join(partition.to_string())
}

pub struct Partition {
    pub topic: String,
    pub id: u32,
    pub log: PartitionLog,
}
