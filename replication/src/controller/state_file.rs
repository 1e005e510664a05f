//! The hard state (term, vote, commit) and the voters, in one small file
//! replaced atomically on every change.
//!
//! # Layout of `raft_state`
//!
//! ```text
//! byte  size  field
//!    0     4  magic       "CLRS" (43 4c 52 53)
//!    4     4  version     u32 LE, STATE_FORMAT_VERSION (1)
//!    8     4  crc         u32 LE: CRC-32 (IEEE, crc32fast) of bytes [12, end)
//!   12     8  term        u64 LE  HardState.term
//!   20     8  vote        u64 LE  HardState.vote (0: none)
//!   28     8  commit      u64 LE  HardState.commit
//!   36     .  conf_state  eraftpb.ConfState, protobuf, to the end of the file
//! ```
//!
//! The file is only ever replaced by rename, so it is never torn: a bad crc
//! is damage, and an error.

use std::path::Path;

use protobuf::Message as _;
use raft::eraftpb::{ConfState, HardState};

use super::file_util::{self, u32_at, u64_at};
use super::wire_check::{self, Schema};
use super::ControllerError;

pub(crate) const STATE_FILE: &str = "raft_state";
const STATE_MAGIC: [u8; 4] = *b"CLRS";
const STATE_FORMAT_VERSION: u32 = 1;
const STATE_HEADER_BYTES: usize = 36;

pub(crate) fn encode_state(hard_state: &HardState, conf_state: &ConfState) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&STATE_MAGIC);
    out.extend_from_slice(&STATE_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&hard_state.term.to_le_bytes());
    out.extend_from_slice(&hard_state.vote.to_le_bytes());
    out.extend_from_slice(&hard_state.commit.to_le_bytes());
    out.extend_from_slice(&conf_state.write_to_bytes().expect("encoding into memory cannot fail"));
    let crc = crc32fast::hash(&out[12..]);
    out[8..12].copy_from_slice(&crc.to_le_bytes());
    out
}

pub(crate) fn decode_state(path: &Path, bytes: &[u8]) -> Result<(HardState, ConfState), ControllerError> {
    let corrupt = |pos: u64, reason: String| ControllerError::corrupt(path, pos, reason);
    if bytes.len() < STATE_HEADER_BYTES {
        return Err(corrupt(0, format!("{} bytes, shorter than the header", bytes.len())));
    }
    if bytes[..4] != STATE_MAGIC {
        return Err(corrupt(0, "not a raft state file (magic)".into()));
    }
    let version = u32_at(bytes, 4);
    if version != STATE_FORMAT_VERSION {
        return Err(corrupt(4, format!("format version {version}, this build reads {STATE_FORMAT_VERSION}")));
    }
    let crc = u32_at(bytes, 8);
    let actual = crc32fast::hash(&bytes[12..]);
    if crc != actual {
        return Err(corrupt(8, format!("crc {actual:#010x}, file says {crc:#010x}")));
    }
    let hard_state =
        HardState { term: u64_at(bytes, 12), vote: u64_at(bytes, 20), commit: u64_at(bytes, 28), ..Default::default() };
    let cs_bytes = &bytes[STATE_HEADER_BYTES..];
    wire_check::check(cs_bytes, Schema::Flat).map_err(|e| corrupt(36, format!("conf state: {e}")))?;
    let conf_state = ConfState::parse_from_bytes(cs_bytes).map_err(|e| corrupt(36, format!("conf state: {e}")))?;
    Ok((hard_state, conf_state))
}

pub(crate) fn write_state(dir: &Path, hard_state: &HardState, conf_state: &ConfState) -> Result<(), ControllerError> {
    file_util::replace_atomically(&dir.join(STATE_FILE), &encode_state(hard_state, conf_state))
}

/// The stored state, or `None` in a directory that has none yet.
pub(crate) fn read_state(dir: &Path) -> Result<Option<(HardState, ConfState)>, ControllerError> {
    let path = dir.join(STATE_FILE);
    match file_util::read_if_exists(&path)? {
        Some(bytes) => decode_state(&path, &bytes).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_bytes() {
        let hs = HardState { term: 5, vote: 2, commit: 0x0102, ..Default::default() };
        let cs = ConfState::from((vec![1, 2, 3], vec![]));
        let bytes = encode_state(&hs, &cs);
        let mut expected = b"CLRS".to_vec();
        expected.extend_from_slice(&[1, 0, 0, 0]);
        expected.extend_from_slice(&[0; 4]); // crc, filled below
        expected.extend_from_slice(&[5, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(&[2, 1, 0, 0, 0, 0, 0, 0]);
        // ConfState: voters (field 1), one varint field per voter (raft-proto
        // writes repeated uint64 unpacked).
        expected.extend_from_slice(&[0x08, 1, 0x08, 2, 0x08, 3]);
        let crc = crc32fast::hash(&expected[12..]);
        expected[8..12].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(bytes, expected);
        assert_eq!(decode_state(Path::new("raft_state"), &bytes).unwrap(), (hs, cs));
    }

    #[test]
    fn every_flipped_byte_is_an_error_naming_the_file() {
        let cs = ConfState::from((vec![1], vec![]));
        let bytes = encode_state(&HardState::default(), &cs);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            let err = decode_state(Path::new("/d/raft_state"), &bad).unwrap_err().to_string();
            assert!(err.starts_with("/d/raft_state: damaged at byte"), "{err}");
        }
        assert!(decode_state(Path::new("x"), &bytes[..20]).is_err());
    }
}
