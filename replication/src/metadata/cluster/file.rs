//! The cluster metadata as bytes: format version 2 of `metadata.json`, also
//! the controller's snapshot data; and the migration of a version-1 file.
//!
//! # File format
//!
//! One JSON object, pretty-printed by serde_json (two-space indent, one array
//! element per line, no trailing newline). Format version 2, with arrays and
//! small objects shown on one line:
//!
//! ```text
//! {
//!   "format_version": 2,          u32: layout of this file (CLUSTER_FORMAT_VERSION)
//!   "version": 7,                 u64: ClusterMetadata::version
//!   "brokers": {                  object: every registration by node id (a decimal string), in id order
//!     "1": {
//!       "node_id": 1,             u32, the key again
//!       "incarnation": 42,        u64, drawn by the broker process at start
//!       "host": "b1",             string, 1..=255 bytes
//!       "base_port": 9092,        u16: core c listens on base_port + c
//!       "cores": 2,               u32, >= 1
//!       "fenced": false,          bool
//!       "broker_epoch": 3,        u64: the metadata version it registered at
//!       "kafka": {"host": "k1", "base_port": 9092}   its Kafka listener (advertised host,
//!                                 core c on base_port + c); absent = none (and in older files)
//!     }
//!   },
//!   "topics": {                   object: every topic by name, in name order
//!     "orders": {
//!       "name": "orders",         the key again
//!       "topic_id": "0123456789abcdef0123456789abcdef",   32 lowercase hex digits, never all zero
//!       "config": { ... },        TopicConfig, exactly as in version 1 (see store.rs)
//!       "replication": {
//!         "replication_factor": 2,        u32
//!         "min_insync_replicas": 1,       u32 in 1..=replication_factor
//!         "unclean_leader_election": false
//!       },
//!       "partitions": [           index = partition id
//!         {
//!           "core": 0,            u32: core index on every replica
//!           "replicas": [1, 2],   distinct node ids, the first is the preferred leader
//!           "isr": [1, 2],        non-empty subset of replicas, in replica order
//!           "leader": 1,          node id in the ISR, or null: offline
//!           "leader_epoch": 0,    u32
//!           "partition_epoch": 0  u32
//!         }
//!       ]
//!     }
//!   }
//! }
//! ```
//!
//! Compatibility: `format_version` absent or 1 is the single-node layout
//! (store.rs), migrated on load by [`migrate_v1`]; newer than
//! [`CLUSTER_FORMAT_VERSION`] is refused naming both versions; a state that
//! breaks [`ClusterMetadata::check_invariants`] is refused as damaged. As in
//! version 1, any change to this layout needs a new version.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ClusterMetadata, ClusterTopic, PartitionAssignment, ReplicationConfig, TopicId};
use crate::metadata::store::METADATA_FILE;
use crate::metadata::{Metadata, MetadataError};

/// The layout this build writes, and the newest it reads.
pub const CLUSTER_FORMAT_VERSION: u32 = 2;

/// The single-node layout of store.rs, which has no cluster fields.
const SINGLE_NODE_FORMAT_VERSION: u64 = 1;

#[derive(Serialize)]
struct VersionedFile<'a> {
    format_version: u32,
    #[serde(flatten)]
    metadata: &'a ClusterMetadata,
}

#[derive(Deserialize)]
struct FormatVersion {
    #[serde(default = "single_node")]
    format_version: u64,
}

fn single_node() -> u64 {
    SINGLE_NODE_FORMAT_VERSION
}

/// The bytes of `metadata` in format version 2.
pub fn encode(metadata: &ClusterMetadata) -> Vec<u8> {
    let file = VersionedFile { format_version: CLUSTER_FORMAT_VERSION, metadata };
    serde_json::to_vec_pretty(&file).expect("maps with string and integer keys always serialize")
}

/// Reads format version 2, or version 1 migrated. `source` names where the
/// bytes came from (a path, a snapshot) in the errors.
pub fn decode(bytes: &[u8], source: &str) -> Result<ClusterMetadata, MetadataError> {
    let damaged = |e: &dyn std::fmt::Display| MetadataError::Storage(format!("{source} is damaged: {e}"));
    let FormatVersion { format_version } = serde_json::from_slice(bytes).map_err(|e| damaged(&e))?;
    let metadata = match format_version {
        0 => return Err(damaged(&"metadata format version 0 does not exist (versions start at 1)")),
        SINGLE_NODE_FORMAT_VERSION => migrate_v1(&serde_json::from_slice::<Metadata>(bytes).map_err(|e| damaged(&e))?),
        v if v == u64::from(CLUSTER_FORMAT_VERSION) => {
            serde_json::from_slice::<ClusterMetadata>(bytes).map_err(|e| damaged(&e))?
        }
        newer => {
            return Err(MetadataError::Storage(format!(
                "{source} has metadata format version {newer}, but this build of corelog reads versions up to \
                 {CLUSTER_FORMAT_VERSION}: it was written by a newer corelog; run that one (or a newer one)"
            )))
        }
    };
    metadata.check_invariants().map_err(|e| damaged(&e))?;
    Ok(metadata)
}

/// A single node's version-1 metadata as a cluster of that one node: node 0
/// holds every partition (replicas, ISR and leader `[0]`, epochs 0,
/// replication factor 1, min.insync.replicas 1) on the core it had, and each
/// topic gets [`TopicId::derived_from_name`]. No broker is registered: node 0
/// registers on start like any broker (which fences and then, when it
/// unfences, re-elects it, moving the epochs to 2). The version is kept.
pub fn migrate_v1(v1: &Metadata) -> ClusterMetadata {
    let topics = v1
        .topics
        .values()
        .map(|t| {
            let partitions = t.partitions.iter().map(|core| PartitionAssignment::new(*core, vec![0])).collect();
            let topic = ClusterTopic {
                name: t.name.clone(),
                topic_id: TopicId::derived_from_name(&t.name),
                config: t.config.clone(),
                replication: ReplicationConfig::defaults(1),
                partitions,
            };
            (t.name.clone(), topic)
        })
        .collect();
    ClusterMetadata { version: v1.version, brokers: Default::default(), topics }
}

/// `metadata.json` in a data directory, replaced atomically like store.rs
/// does (temp file, fsync, rename, fsync the directory). Synchronous: call
/// it before the cores start or from the blocking pool.
pub struct ClusterStore {
    path: PathBuf,
}

impl ClusterStore {
    pub fn new(data_dir: &Path) -> ClusterStore {
        ClusterStore { path: data_dir.join(METADATA_FILE) }
    }

    /// The saved metadata (a version-1 file migrated), or empty metadata if
    /// none was ever saved.
    pub fn load(&self) -> Result<ClusterMetadata, MetadataError> {
        match fs::read(&self.path) {
            Ok(bytes) => decode(&bytes, &self.path.display().to_string()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(ClusterMetadata::default()),
            Err(e) => Err(MetadataError::Storage(format!("reading {}: {e}", self.path.display()))),
        }
    }

    pub fn save(&self, metadata: &ClusterMetadata) -> Result<(), MetadataError> {
        self.save_inner(&encode(metadata))
            .map_err(|e| MetadataError::Storage(format!("saving {}: {e}", self.path.display())))
    }

    fn save_inner(&self, bytes: &[u8]) -> io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let tmp = self.path.with_extension("json.tmp");
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, &self.path)?;
        File::open(dir)?.sync_all()
    }
}
