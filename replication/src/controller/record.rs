//! One record of the entries file: a Raft entry framed with its length and a
//! checksum.
//!
//! # Layout
//!
//! ```text
//! entries file = header (8 bytes) | record | record | ...
//!
//! header
//!   byte  size  field
//!      0     4  magic    "CLRE" (43 4c 52 45)
//!      4     4  version  u32 LE, ENTRIES_FORMAT_VERSION (1)
//!
//! record
//!   byte  size  field
//!      0     4  len      u32 LE: bytes of `entry`, 1..=MAX_ENTRY_BYTES
//!      4     4  crc      u32 LE: CRC-32 (IEEE, crc32fast) of bytes [0, 4)
//!                        followed by `entry`: the length is covered too
//!      8   len  entry    eraftpb.Entry, protobuf (an entry with an index is
//!                        never empty)
//! ```
//!
//! Records hold consecutive indexes, in order. Why CRC-32 (crc32fast) and not
//! CRC-32C: the workspace already checksums batches and indexes with
//! crc32fast (SIMD, no new dependency), both catch the torn writes and bit
//! flips this guards against equally well, and nothing outside reads these
//! files, so Kafka's CRC-32C buys nothing here.

use protobuf::Message as _;
use raft::eraftpb::Entry;

use super::wire_check::{self, Schema};
use crate::limits::MAX_ENTRY_BYTES;

pub(crate) const ENTRIES_MAGIC: [u8; 4] = *b"CLRE";
pub(crate) const ENTRIES_FORMAT_VERSION: u32 = 1;
pub(crate) const ENTRIES_HEADER_BYTES: usize = 8;
pub(crate) const RECORD_HEADER_BYTES: usize = 8;

pub(crate) fn entries_header() -> [u8; ENTRIES_HEADER_BYTES] {
    let mut h = [0u8; ENTRIES_HEADER_BYTES];
    h[..4].copy_from_slice(&ENTRIES_MAGIC);
    h[4..].copy_from_slice(&ENTRIES_FORMAT_VERSION.to_le_bytes());
    h
}

/// Appends the record of `entry` to `out`.
pub(crate) fn encode_record(entry: &Entry, out: &mut Vec<u8>) {
    let payload = entry.write_to_bytes().expect("encoding an Entry into memory cannot fail");
    // Entries come from raft, bounded by MAX_COMMAND_BYTES at proposal time
    // and by the codec at receipt: a longer one is a bug here.
    assert!(payload.len() <= MAX_ENTRY_BYTES, "entry of {} bytes", payload.len());
    let len = (payload.len() as u32).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&checksum(&len, &payload).to_le_bytes());
    out.extend_from_slice(&payload);
}

fn checksum(len: &[u8; 4], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(len);
    h.update(payload);
    h.finalize()
}

/// What the bytes at a record position hold.
#[derive(Debug)]
pub(crate) enum RecordRead {
    /// A whole, intact record of `bytes` bytes.
    Entry { entry: Entry, bytes: usize },
    /// The record (or its header) runs past the end of the file: the tail
    /// of an append that did not complete.
    Truncated,
    /// The bytes are there but are not a record.
    Damaged(String),
}

/// Reads the record starting at `buf[0]`.
pub(crate) fn read_record(buf: &[u8]) -> RecordRead {
    if buf.len() < RECORD_HEADER_BYTES {
        return RecordRead::Truncated;
    }
    let len_bytes: [u8; 4] = buf[..4].try_into().expect("4 bytes");
    let len = u32::from_le_bytes(len_bytes) as usize;
    let crc = u32::from_le_bytes(buf[4..8].try_into().expect("4 bytes"));
    if len == 0 || len > MAX_ENTRY_BYTES {
        return RecordRead::Damaged(format!("record length {len} outside 1..={MAX_ENTRY_BYTES}"));
    }
    let Some(payload) = buf.get(RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + len) else {
        return RecordRead::Truncated;
    };
    let actual = checksum(&len_bytes, payload);
    if actual != crc {
        return RecordRead::Damaged(format!("crc {actual:#010x}, record says {crc:#010x}"));
    }
    if let Err(e) = wire_check::check(payload, Schema::Flat) {
        return RecordRead::Damaged(format!("entry: {e}"));
    }
    match Entry::parse_from_bytes(payload) {
        Ok(entry) => RecordRead::Entry { entry, bytes: RECORD_HEADER_BYTES + len },
        Err(e) => RecordRead::Damaged(format!("entry: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry { term: 2, index: 7, data: b"hi".to_vec().into(), ..Default::default() }
    }

    // Entry: term (10 02), index (18 07), data (22 02 68 69).
    const GOLDEN_PAYLOAD: [u8; 8] = [0x10, 0x02, 0x18, 0x07, 0x22, 0x02, 0x68, 0x69];

    #[test]
    fn golden_bytes() {
        assert_eq!(entries_header(), [0x43, 0x4c, 0x52, 0x45, 1, 0, 0, 0]);
        let mut out = Vec::new();
        encode_record(&entry(), &mut out);
        let crc = crc32fast::hash(&[&[8u8, 0, 0, 0][..], &GOLDEN_PAYLOAD].concat());
        let mut expected = vec![8, 0, 0, 0];
        expected.extend_from_slice(&crc.to_le_bytes());
        expected.extend_from_slice(&GOLDEN_PAYLOAD);
        assert_eq!(out, expected);
        match read_record(&out) {
            RecordRead::Entry { entry: e, bytes } => {
                assert_eq!(e, entry());
                assert_eq!(bytes, 16);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn short_bytes_are_truncated_and_flipped_bits_damaged() {
        let mut out = Vec::new();
        encode_record(&entry(), &mut out);
        for cut in 0..out.len() {
            assert!(matches!(read_record(&out[..cut]), RecordRead::Truncated), "cut {cut}");
        }
        for byte in 0..out.len() {
            let mut bad = out.clone();
            bad[byte] ^= 0x10;
            // A flipped length bit can also make the record look longer
            // than the buffer: that reads as truncated, which recovery
            // tells apart by whether bytes follow.
            assert!(!matches!(read_record(&bad), RecordRead::Entry { .. }), "byte {byte}");
        }
    }
}
