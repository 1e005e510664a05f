//! The producer-state snapshot file: the table as of an offset, so recovery
//! replays only the log written after it (Kafka's `<offset>.snapshot`).
//!
//! ```text
//!  byte  size  field              notes
//!  ----  ----  -----------------  ---------------------------------------------
//!     0     4  magic              "CLPS"
//!     4     2  version      u16   1
//!     6     2  reserved           zero
//!     8     8  offset       u64   the table covers the log below this offset
//!    16     4  producers    u32   how many entries follow (<= the table's bound)
//!    20     4  crc          u32   crc32 (IEEE, crc32fast) of bytes [24, end)
//!    24     .  entries, oldest write first (eviction order survives a restart):
//!                +0   8  producer_id     i64
//!                +8   2  epoch           i16
//!               +10   1  batches         u8   1..=MAX_BATCHES_PER_PRODUCER
//!               +11   5  reserved             zero
//!               +16  24  per batch, oldest first:
//!                          first_sequence i32, last_sequence i32,
//!                          first_offset u64, last_offset u64
//! ```
//!
//! All integers little-endian. A damaged or foreign file is an error naming
//! what is wrong; the caller then rebuilds the table from the whole log.
//!
//! I/O-free; the log's core reads and writes the file.

use super::state::{BatchSequence, ProducerStates};
use crate::limits::{MAX_BATCHES_PER_PRODUCER, MAX_PRODUCERS_PER_PARTITION};

/// First bytes of every snapshot file.
pub const SNAPSHOT_MAGIC: [u8; 4] = *b"CLPS";
const VERSION: u16 = 1;
const HEADER_LEN: usize = 24;
const ENTRY_HEADER_LEN: usize = 16;
const BATCH_LEN: usize = 24;

/// Why a snapshot could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("producer snapshot is damaged: {0}")]
    Damaged(String),
}

fn damaged(what: impl Into<String>) -> SnapshotError {
    SnapshotError::Damaged(what.into())
}

/// The table as a snapshot covering the log below `offset`.
pub fn encode_snapshot(states: &ProducerStates, offset: u64) -> Vec<u8> {
    let mut body = Vec::new();
    let mut count = 0u32;
    for (producer_id, entry) in states.entries_in_write_order() {
        count += 1;
        body.extend_from_slice(&producer_id.to_le_bytes());
        body.extend_from_slice(&entry.epoch.to_le_bytes());
        body.push(entry.batches.len() as u8);
        body.extend_from_slice(&[0; 5]);
        for b in &entry.batches {
            body.extend_from_slice(&b.first_sequence.to_le_bytes());
            body.extend_from_slice(&b.last_sequence.to_le_bytes());
            body.extend_from_slice(&b.first_offset.to_le_bytes());
            body.extend_from_slice(&b.last_offset.to_le_bytes());
        }
    }
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&SNAPSHOT_MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&[0; 2]);
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// Reads a snapshot: the offset it covers up to and the table.
pub fn decode_snapshot(bytes: &[u8]) -> Result<(u64, ProducerStates), SnapshotError> {
    let header =
        bytes.get(..HEADER_LEN).ok_or_else(|| damaged(format!("{} bytes, shorter than its header", bytes.len())))?;
    if header[0..4] != SNAPSHOT_MAGIC {
        return Err(damaged("not a producer snapshot (bad magic)"));
    }
    let version = u16::from_le_bytes([header[4], header[5]]);
    if version != VERSION || header[6..8] != [0, 0] {
        return Err(damaged(format!("unknown version {version}")));
    }
    let offset = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
    let count = u32::from_le_bytes(header[16..20].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(header[20..24].try_into().expect("4 bytes"));
    let body = &bytes[HEADER_LEN..];
    // Bounded before anything is allocated: by the table's own bound and by
    // the bytes present (every entry holds at least one batch).
    if count > MAX_PRODUCERS_PER_PARTITION || count > body.len() / (ENTRY_HEADER_LEN + BATCH_LEN) {
        return Err(damaged(format!("{count} producers do not fit {} bytes", body.len())));
    }
    if crc32fast::hash(body) != crc {
        return Err(damaged("crc mismatch"));
    }
    let mut entries = Vec::with_capacity(count);
    let mut at = 0usize;
    for i in 0..count {
        let head = body.get(at..at + ENTRY_HEADER_LEN).ok_or_else(|| damaged(format!("entry {i} is cut short")))?;
        let producer_id = i64::from_le_bytes(head[0..8].try_into().expect("8 bytes"));
        let epoch = i16::from_le_bytes([head[8], head[9]]);
        let n = usize::from(head[10]);
        if producer_id < 0 || !(1..=MAX_BATCHES_PER_PRODUCER).contains(&n) || head[11..16] != [0; 5] {
            return Err(damaged(format!("entry {i}: producer {producer_id}, {n} batches")));
        }
        at += ENTRY_HEADER_LEN;
        let mut batches = Vec::with_capacity(n);
        for _ in 0..n {
            let b = body.get(at..at + BATCH_LEN).ok_or_else(|| damaged(format!("entry {i} is cut short")))?;
            let batch = BatchSequence {
                first_sequence: i32::from_le_bytes(b[0..4].try_into().expect("4 bytes")),
                last_sequence: i32::from_le_bytes(b[4..8].try_into().expect("4 bytes")),
                first_offset: u64::from_le_bytes(b[8..16].try_into().expect("8 bytes")),
                last_offset: u64::from_le_bytes(b[16..24].try_into().expect("8 bytes")),
            };
            let ordered = batches.last().is_none_or(|p: &BatchSequence| p.last_offset < batch.first_offset);
            if batch.first_offset > batch.last_offset || batch.last_offset >= offset || !ordered {
                return Err(damaged(format!(
                    "entry {i}: batch at {}..={} out of order",
                    batch.first_offset, batch.last_offset
                )));
            }
            batches.push(batch);
            at += BATCH_LEN;
        }
        entries.push((producer_id, epoch, batches));
    }
    if at != body.len() {
        return Err(damaged(format!("{} bytes after the last entry", body.len() - at)));
    }
    let mut seen = std::collections::HashSet::with_capacity(entries.len());
    if !entries.iter().all(|(id, _, _)| seen.insert(*id)) {
        return Err(damaged("a producer appears twice"));
    }
    Ok((offset, ProducerStates::from_entries(entries)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::producers::ProducerBatch;

    fn table() -> ProducerStates {
        let mut s = ProducerStates::default();
        s.record(&ProducerBatch { producer_id: 7, producer_epoch: 2, base_sequence: 0, record_count: 3 }, 10, 12);
        s.record(&ProducerBatch { producer_id: 9, producer_epoch: 0, base_sequence: 0, record_count: 1 }, 13, 13);
        s.record(&ProducerBatch { producer_id: 7, producer_epoch: 2, base_sequence: 3, record_count: 2 }, 14, 15);
        s
    }

    /// Written by hand from the layout above; the encoder must match it.
    const GOLDEN: &str = concat!(
        "434c5053 0100 0000 ", //  0 magic "CLPS", version 1, reserved
        "1000000000000000 ",   //  8 offset 16
        "02000000 ",           // 16 2 producers
        "CRC_____ ",           // 20 crc32 of [24, end): filled in below
        // entry: producer 9 (written before 7's last batch)
        "0900000000000000 0000 01 0000000000 ",
        "00000000 00000000 0d00000000000000 0d00000000000000 ",
        // entry: producer 7, epoch 2, 2 batches
        "0700000000000000 0200 02 0000000000 ",
        "00000000 02000000 0a00000000000000 0c00000000000000 ",
        "03000000 04000000 0e00000000000000 0f00000000000000",
    );

    fn golden() -> Vec<u8> {
        let hex: String = GOLDEN.split_whitespace().collect();
        let mut bytes: Vec<u8> = hex
            .replace("CRC_____", "00000000")
            .as_bytes()
            .chunks(2)
            .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap())
            .collect();
        let crc = crc32fast::hash(&bytes[HEADER_LEN..]);
        bytes[20..24].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    #[test]
    fn the_snapshot_matches_its_golden_bytes_and_reads_back() {
        assert_eq!(encode_snapshot(&table(), 16), golden());
        let (offset, states) = decode_snapshot(&golden()).unwrap();
        assert_eq!(offset, 16);
        assert_eq!(states.producer(7), table().producer(7));
        assert_eq!(states.producer(9), table().producer(9));
        // Eviction order survives: re-encoding gives the same bytes.
        assert_eq!(encode_snapshot(&states, 16), golden());
    }

    #[test]
    fn damage_is_an_error_never_a_panic() {
        let good = golden();
        for cut in 0..good.len() {
            assert!(decode_snapshot(&good[..cut]).is_err(), "cut at {cut}");
        }
        for at in 0..good.len() {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad[at] ^= 1 << bit;
                // Offset flips may still decode (outside the crc) but only to a
                // table the batches fit; everything else is refused.
                if let Ok((offset, _)) = decode_snapshot(&bad) {
                    assert!((8..16).contains(&at), "flip at byte {at} bit {bit} accepted");
                    assert!(offset > 15);
                }
            }
        }
        let mut huge = good.clone();
        huge[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode_snapshot(&huge), Err(SnapshotError::Damaged(_))));
    }
}
