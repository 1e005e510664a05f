//! The producer id allocator behind InitProducerId: ids never repeat, across
//! cores, nodes and restarts.
//!
//! An id is `node_id << PRODUCER_ID_COUNTER_BITS | counter`, so nodes never
//! collide. The counter is reserved on disk a block at a time
//! (`PRODUCER_ID_BLOCK`) before any id of the block is handed out, so a
//! restart (even after kill -9) resumes past every id it may have given.
//!
//! ```text
//! <data_dir>/producer_ids (16 bytes, written to a temporary file, fsynced,
//! renamed over the old one, directory fsynced):
//!   [0, 4)   magic "CLPI"
//!   [4, 8)   format version, u32 big-endian (1)
//!   [8, 16)  reserved_until, u64 big-endian: counters below it may have been
//!            handed out; the next start begins here
//! ```
//!
//! One allocator per broker, shared by every core (behind a mutex, used only
//! on the executors' blocking threads: it does file I/O).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::limits::{PRODUCER_ID_BLOCK, PRODUCER_ID_COUNTER_BITS};

const MAGIC: [u8; 4] = *b"CLPI";
const VERSION: u32 = 1;
const FILE_LEN: usize = 16;
const FILE_NAME: &str = "producer_ids";

/// The file's bytes for `reserved_until`.
fn encode(reserved_until: u64) -> [u8; FILE_LEN] {
    let mut out = [0u8; FILE_LEN];
    out[..4].copy_from_slice(&MAGIC);
    out[4..8].copy_from_slice(&VERSION.to_be_bytes());
    out[8..].copy_from_slice(&reserved_until.to_be_bytes());
    out
}

/// `reserved_until` from the file's bytes; anything else is an error (ids
/// are never handed out from a file that cannot be trusted).
fn decode(bytes: &[u8]) -> Result<u64, String> {
    if bytes.len() != FILE_LEN {
        return Err(format!("{} bytes, expected {FILE_LEN}", bytes.len()));
    }
    if bytes[..4] != MAGIC {
        return Err("bad magic".into());
    }
    let version = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if version != VERSION {
        return Err(format!("unknown format version {version}"));
    }
    let mut counter = [0u8; 8];
    counter.copy_from_slice(&bytes[8..]);
    Ok(u64::from_be_bytes(counter))
}

#[derive(Debug)]
struct State {
    /// Loaded on first use: None until then.
    next: Option<u64>,
    reserved_until: u64,
}

/// Hands out producer ids; see the module docs.
///
/// Lives on: every core shares one (Arc); `allocate` does blocking I/O, so
/// cores call it on their blocking thread.
#[derive(Debug, Clone)]
pub struct ProducerIds {
    node_id: u32,
    path: PathBuf,
    state: Arc<Mutex<State>>,
}

impl ProducerIds {
    pub fn new(node_id: u32, data_dir: &Path) -> ProducerIds {
        ProducerIds {
            node_id,
            path: data_dir.join(FILE_NAME),
            state: Arc::new(Mutex::new(State { next: None, reserved_until: 0 })),
        }
    }

    /// A producer id never handed out before by this node (blocking I/O).
    pub fn allocate(&self) -> Result<i64, String> {
        let mut st = self.state.lock().map_err(|_| "producer id allocator poisoned".to_owned())?;
        let next = match st.next {
            Some(next) => next,
            None => {
                let start = match std::fs::read(&self.path) {
                    Ok(bytes) => decode(&bytes).map_err(|e| format!("{}: {e}", self.path.display()))?,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
                    Err(e) => return Err(format!("reading {}: {e}", self.path.display())),
                };
                st.reserved_until = start;
                start
            }
        };
        if next >= 1 << PRODUCER_ID_COUNTER_BITS {
            return Err("this node has handed out every producer id it has".into());
        }
        if next >= st.reserved_until {
            let until = next + PRODUCER_ID_BLOCK;
            self.write(until).map_err(|e| format!("writing {}: {e}", self.path.display()))?;
            st.reserved_until = until;
        }
        st.next = Some(next + 1);
        Ok(((u64::from(self.node_id) << PRODUCER_ID_COUNTER_BITS) | next) as i64)
    }

    fn write(&self, reserved_until: u64) -> io::Result<()> {
        use std::io::Write;
        let tmp = self.path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&encode(reserved_until))?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_file_bytes() {
        assert_eq!(encode(0x0102_0304_0506_0708), *b"CLPI\0\0\0\x01\x01\x02\x03\x04\x05\x06\x07\x08");
        assert_eq!(decode(b"CLPI\0\0\0\x01\0\0\0\0\0\0\x03\xe8"), Ok(1000));
        assert!(decode(b"CLPI\0\0\0\x02\0\0\0\0\0\0\x03\xe8").unwrap_err().contains("version"));
        assert!(decode(b"XLPI\0\0\0\x01\0\0\0\0\0\0\x03\xe8").unwrap_err().contains("magic"));
        assert!(decode(b"CLPI\0\0\0\x01\0\0").unwrap_err().contains("10 bytes"));
    }

    #[test]
    fn ids_never_repeat_across_restarts_and_carry_the_node_id() {
        let dir = tempfile::tempdir().unwrap();
        let first = ProducerIds::new(3, dir.path());
        let a: Vec<i64> = (0..5).map(|_| first.allocate().unwrap()).collect();
        assert_eq!(a, (0..5).map(|c| (3i64 << 40) | c).collect::<Vec<_>>());
        assert_eq!(decode(&std::fs::read(dir.path().join("producer_ids")).unwrap()), Ok(PRODUCER_ID_BLOCK));
        // A restart (the old allocator gone, as after kill -9) starts past the block.
        drop(first);
        let again = ProducerIds::new(3, dir.path());
        assert_eq!(again.allocate().unwrap(), (3i64 << 40) | PRODUCER_ID_BLOCK as i64);
        // A damaged file hands out nothing.
        std::fs::write(dir.path().join("producer_ids"), b"garbage").unwrap();
        assert!(ProducerIds::new(3, dir.path()).allocate().is_err());
    }

    #[test]
    fn a_block_boundary_reserves_the_next_block() {
        let dir = tempfile::tempdir().unwrap();
        let ids = ProducerIds::new(0, dir.path());
        for _ in 0..=PRODUCER_ID_BLOCK {
            ids.allocate().unwrap();
        }
        assert_eq!(decode(&std::fs::read(dir.path().join("producer_ids")).unwrap()), Ok(2 * PRODUCER_ID_BLOCK));
    }
}
