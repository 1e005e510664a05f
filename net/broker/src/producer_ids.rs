//! Handing out producer ids for idempotent producers (InitProducerId, on the
//! native and the Kafka listener alike).
//!
//! An id is `node_id << PRODUCER_ID_NODE_SHIFT | core << PRODUCER_ID_CORE_SHIFT
//! | counter`, so every core of every broker hands out its own ids without
//! asking anyone (Kafka asks the controller for blocks, KIP-730; a node's id
//! already is such a block). Ids are never handed out twice, restarts
//! included: before a counter value is used, the end of the block it lies in
//! is saved in the core's file (written aside, fsync'd, renamed over, the
//! directory fsync'd), and a restart continues from that end. A crash wastes
//! at most the rest of one block.
//!
//! The file, `producer-ids/core-<core>` in the data directory:
//!
//! ```text
//!  byte  size  field              notes
//!  ----  ----  -----------------  -------------------------------------------
//!     0     4  magic              "CLPI"
//!     4     2  version      u16   1
//!     6     2  reserved           zero
//!     8     8  reserved_end u64   counter values below it may have been used
//!    16     4  crc          u32   crc32 (IEEE, crc32fast) of bytes [0, 16)
//!    20     4  reserved           zero
//! ```
//!
//! Little-endian. Lives on: one per core, in its [`Shard`](crate::shard::Shard).

use std::cell::Cell;
use std::io::Write;
use std::path::{Path, PathBuf};

use corelog_runtime::sync::Semaphore;

use crate::limits::{
    PRODUCER_ID_BLOCK, PRODUCER_ID_CORE_SHIFT, PRODUCER_ID_MAX_CORE, PRODUCER_ID_MAX_NODE, PRODUCER_ID_NODE_SHIFT,
};

const MAGIC: [u8; 4] = *b"CLPI";
const VERSION: u16 = 1;
const FILE_LEN: usize = 24;
const DIR: &str = "producer-ids";

/// Why no id could be handed out.
#[derive(Debug, thiserror::Error)]
pub enum ProducerIdError {
    #[error("cannot save the producer-id reservation {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the producer-id file {path} is damaged: {reason}")]
    Damaged { path: PathBuf, reason: String },
    #[error("core {core} of node {node_id} has no producer ids to hand out (node ids up to {max_node}, cores up to {max_core})")]
    Exhausted { node_id: u32, core: u32, max_node: u32, max_core: u32 },
}

/// One core's producer-id allocator.
pub struct ProducerIds {
    prefix: i64,
    node_id: u32,
    core: u32,
    path: PathBuf,
    /// `(next counter, reserved end)` once the file was read.
    counters: Cell<Option<(u64, u64)>>,
    /// One reservation at a time.
    saving: Semaphore,
}

impl ProducerIds {
    /// The allocator of `core` on `node_id`. Nothing is read until the first id.
    pub fn new(data_dir: &Path, node_id: u32, core: u32) -> Self {
        let prefix = (i64::from(node_id) << PRODUCER_ID_NODE_SHIFT) | (i64::from(core) << PRODUCER_ID_CORE_SHIFT);
        let path = data_dir.join(DIR).join(format!("core-{core}"));
        Self { prefix, node_id, core, path, counters: Cell::new(None), saving: Semaphore::new(1) }
    }

    /// A producer id never handed out before by any core of any node.
    pub async fn allocate(&self) -> Result<i64, ProducerIdError> {
        let exhausted = ProducerIdError::Exhausted {
            node_id: self.node_id,
            core: self.core,
            max_node: PRODUCER_ID_MAX_NODE,
            max_core: PRODUCER_ID_MAX_CORE,
        };
        if self.node_id > PRODUCER_ID_MAX_NODE || self.core > PRODUCER_ID_MAX_CORE {
            return Err(exhausted);
        }
        let _one = self.saving.acquire().await;
        let (next, end) = match self.counters.get() {
            Some(c) => c,
            None => {
                let path = self.path.clone();
                let end = corelog_runtime::blocking(move || read(&path)).await?;
                (end, end)
            }
        };
        let end = if next < end {
            end
        } else {
            let new_end = next + PRODUCER_ID_BLOCK;
            if new_end > 1 << PRODUCER_ID_CORE_SHIFT {
                return Err(exhausted);
            }
            let path = self.path.clone();
            corelog_runtime::blocking(move || save(&path, new_end)).await?;
            new_end
        };
        self.counters.set(Some((next + 1, end)));
        Ok(self.prefix | next as i64)
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ProducerIdError + '_ {
    move |source| ProducerIdError::Io { path: path.to_path_buf(), source }
}

fn encode(reserved_end: u64) -> [u8; FILE_LEN] {
    let mut b = [0u8; FILE_LEN];
    b[0..4].copy_from_slice(&MAGIC);
    b[4..6].copy_from_slice(&VERSION.to_le_bytes());
    b[8..16].copy_from_slice(&reserved_end.to_le_bytes());
    let crc = crc32fast::hash(&b[0..16]);
    b[16..20].copy_from_slice(&crc.to_le_bytes());
    b
}

fn decode(bytes: &[u8]) -> Result<u64, String> {
    if bytes.len() != FILE_LEN {
        return Err(format!("{} bytes, not {FILE_LEN}", bytes.len()));
    }
    let crc = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes"));
    if crc32fast::hash(&bytes[0..16]) != crc {
        return Err("crc mismatch".into());
    }
    if bytes[0..4] != MAGIC || bytes[4..6] != VERSION.to_le_bytes() || bytes[6..8] != [0, 0] || bytes[20..] != [0; 4] {
        return Err("not a producer-id file of this version".into());
    }
    Ok(u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")))
}

/// The saved reservation end; 0 for a core that never handed out an id.
fn read(path: &Path) -> Result<u64, ProducerIdError> {
    match std::fs::read(path) {
        Ok(bytes) => decode(&bytes).map_err(|reason| ProducerIdError::Damaged { path: path.to_path_buf(), reason }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io(path)(e)),
    }
}

/// Saves `reserved_end` so that after a crash the file holds it or the old value.
fn save(path: &Path, reserved_end: u64) -> Result<(), ProducerIdError> {
    let dir = path.parent().expect("the file lives in a directory");
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(&encode(reserved_end)).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io(path))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by hand from the layout above.
    const GOLDEN: [u8; FILE_LEN] = [
        b'C', b'L', b'P', b'I', 1, 0, 0, 0, // magic, version 1, reserved
        0xd0, 0x07, 0, 0, 0, 0, 0, 0, // reserved_end 2000
        0xe7, 0x8f, 0x0f, 0x21, // crc32 of bytes [0, 16)
        0, 0, 0, 0, // reserved
    ];

    #[test]
    fn the_file_matches_its_golden_bytes() {
        assert_eq!(crc32fast::hash(&GOLDEN[0..16]).to_le_bytes(), GOLDEN[16..20]);
        assert_eq!(encode(2000), GOLDEN);
        assert_eq!(decode(&GOLDEN), Ok(2000));
        for at in 0..FILE_LEN {
            let mut bad = GOLDEN;
            bad[at] ^= 0x10;
            assert!(decode(&bad).is_err(), "a flip at byte {at} went unnoticed");
        }
        assert!(decode(&GOLDEN[..20]).is_err());
    }

    #[test]
    fn ids_are_unique_across_cores_nodes_and_restarts() {
        // Each node has its own data directory.
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let dir = |node: u32| dirs[node as usize - 1].path();
        let ids = corelog_runtime::run_local(async {
            let mut seen = std::collections::HashSet::new();
            for (node, core) in [(1, 0), (1, 1), (2, 0)] {
                let a = ProducerIds::new(dir(node), node, core);
                for _ in 0..3 {
                    assert!(seen.insert(a.allocate().await.unwrap()));
                }
            }
            // Node 1 core 0 again (a restart): it goes on past its reservation.
            let again = ProducerIds::new(dir(1), 1, 0);
            let next = again.allocate().await.unwrap();
            assert!(seen.insert(next));
            assert_eq!(next, (1 << PRODUCER_ID_NODE_SHIFT) | PRODUCER_ID_BLOCK as i64);
            seen
        });
        assert!(ids.iter().all(|id| *id >= 0));
        assert_eq!(ids.len(), 10);
    }

    #[test]
    fn a_damaged_file_is_an_error_not_a_reuse() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(DIR)).unwrap();
        std::fs::write(dir.path().join(DIR).join("core-0"), b"garbage").unwrap();
        let err =
            corelog_runtime::run_local(async { ProducerIds::new(dir.path(), 1, 0).allocate().await.unwrap_err() });
        assert!(matches!(err, ProducerIdError::Damaged { .. }), "{err}");
    }
}
