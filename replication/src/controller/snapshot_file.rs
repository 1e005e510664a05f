//! The latest snapshot: its metadata and the application's bytes, one file
//! replaced atomically.
//!
//! # Layout of `snapshot`
//!
//! ```text
//! byte    size  field
//!    0       4  magic        "CLSN" (43 4c 53 4e)
//!    4       4  version      u32 LE, SNAPSHOT_FORMAT_VERSION (1)
//!    8       4  crc          u32 LE: CRC-32 (IEEE, crc32fast) of bytes [12, end)
//!   12       8  index        u64 LE  last entry the snapshot covers
//!   20       8  term         u64 LE  that entry's term
//!   28       4  conf_len     u32 LE  bytes of conf_state
//!   32  conf_len conf_state  eraftpb.ConfState, protobuf: the voters at index
//!    .       .  data         the application's snapshot, to the end of the file
//! ```
//!
//! Replaced only by rename, never torn: a bad crc is damage, and an error.

use std::path::Path;

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Snapshot};

use super::file_util::{self, u32_at, u64_at};
use super::wire_check::{self, Schema};
use super::ControllerError;
use crate::limits::{MAX_SNAPSHOT_BYTES, MESSAGE_OVERHEAD_BYTES};

pub(crate) const SNAPSHOT_FILE: &str = "snapshot";
const SNAPSHOT_MAGIC: [u8; 4] = *b"CLSN";
const SNAPSHOT_FORMAT_VERSION: u32 = 1;
const SNAPSHOT_HEADER_BYTES: usize = 32;

pub(crate) fn encode_snapshot(snapshot: &Snapshot) -> Vec<u8> {
    let meta = snapshot.get_metadata();
    let conf = meta.get_conf_state().write_to_bytes().expect("encoding into memory cannot fail");
    let mut out = Vec::with_capacity(SNAPSHOT_HEADER_BYTES + conf.len() + snapshot.data.len());
    out.extend_from_slice(&SNAPSHOT_MAGIC);
    out.extend_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&meta.index.to_le_bytes());
    out.extend_from_slice(&meta.term.to_le_bytes());
    out.extend_from_slice(&(conf.len() as u32).to_le_bytes());
    out.extend_from_slice(&conf);
    out.extend_from_slice(&snapshot.data);
    let crc = crc32fast::hash(&out[12..]);
    out[8..12].copy_from_slice(&crc.to_le_bytes());
    out
}

pub(crate) fn decode_snapshot(path: &Path, bytes: &[u8]) -> Result<Snapshot, ControllerError> {
    let corrupt = |pos: u64, reason: String| ControllerError::corrupt(path, pos, reason);
    if bytes.len() < SNAPSHOT_HEADER_BYTES {
        return Err(corrupt(0, format!("{} bytes, shorter than the header", bytes.len())));
    }
    if bytes.len() > SNAPSHOT_HEADER_BYTES + MAX_SNAPSHOT_BYTES + MESSAGE_OVERHEAD_BYTES {
        return Err(corrupt(0, format!("{} bytes, over the snapshot limit", bytes.len())));
    }
    if bytes[..4] != SNAPSHOT_MAGIC {
        return Err(corrupt(0, "not a snapshot file (magic)".into()));
    }
    let version = u32_at(bytes, 4);
    if version != SNAPSHOT_FORMAT_VERSION {
        return Err(corrupt(4, format!("format version {version}, this build reads {SNAPSHOT_FORMAT_VERSION}")));
    }
    let crc = u32_at(bytes, 8);
    let actual = crc32fast::hash(&bytes[12..]);
    if crc != actual {
        return Err(corrupt(8, format!("crc {actual:#010x}, file says {crc:#010x}")));
    }
    let conf_len = u32_at(bytes, 28) as usize;
    let Some(conf) = bytes.get(SNAPSHOT_HEADER_BYTES..SNAPSHOT_HEADER_BYTES + conf_len) else {
        return Err(corrupt(28, format!("conf_state of {conf_len} bytes runs past the end")));
    };
    wire_check::check(conf, Schema::Flat).map_err(|e| corrupt(32, format!("conf state: {e}")))?;
    let conf_state = ConfState::parse_from_bytes(conf).map_err(|e| corrupt(32, format!("conf state: {e}")))?;
    let mut snapshot = Snapshot::default();
    let meta = snapshot.mut_metadata();
    meta.index = u64_at(bytes, 12);
    meta.term = u64_at(bytes, 20);
    meta.set_conf_state(conf_state);
    snapshot.data = bytes[SNAPSHOT_HEADER_BYTES + conf_len..].to_vec().into();
    Ok(snapshot)
}

pub(crate) fn write_snapshot(dir: &Path, snapshot: &Snapshot) -> Result<(), ControllerError> {
    file_util::replace_atomically(&dir.join(SNAPSHOT_FILE), &encode_snapshot(snapshot))
}

/// The stored snapshot, or `None` before the first one.
pub(crate) fn read_snapshot(dir: &Path) -> Result<Option<Snapshot>, ControllerError> {
    let path = dir.join(SNAPSHOT_FILE);
    match file_util::read_if_exists(&path)? {
        Some(bytes) => decode_snapshot(&path, &bytes).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::default();
        s.mut_metadata().index = 9;
        s.mut_metadata().term = 3;
        s.mut_metadata().set_conf_state(ConfState::from((vec![1, 2], vec![])));
        s.data = b"app".to_vec().into();
        s
    }

    #[test]
    fn golden_bytes() {
        let bytes = encode_snapshot(&snapshot());
        let mut expected = b"CLSN".to_vec();
        expected.extend_from_slice(&[1, 0, 0, 0]);
        expected.extend_from_slice(&[0; 4]); // crc, filled below
        expected.extend_from_slice(&[9, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(&[4, 0, 0, 0]);
        // ConfState: voters 1 and 2 (field 1, unpacked varints).
        expected.extend_from_slice(&[0x08, 1, 0x08, 2]);
        expected.extend_from_slice(b"app");
        let crc = crc32fast::hash(&expected[12..]);
        expected[8..12].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(bytes, expected);
        assert_eq!(decode_snapshot(Path::new("snapshot"), &bytes).unwrap(), snapshot());
    }

    #[test]
    fn damage_is_an_error_naming_the_file() {
        let bytes = encode_snapshot(&snapshot());
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x04;
            let err = decode_snapshot(Path::new("/d/snapshot"), &bad).unwrap_err().to_string();
            assert!(err.starts_with("/d/snapshot: damaged at byte"), "{err}");
        }
    }
}
