//! The append-only file of Raft entries (`entries`), with the position of
//! every record kept in memory so raft's suffix overwrites truncate in place.
//! Record and header layout: `record.rs`.
//!
//! Recovery on open tells a torn tail from damage:
//! - a record that runs past the end of the file, a damaged record that is
//!   the last one, or damage followed only by zero bytes (a file extended but
//!   whose data never reached the disk) is the tail of an append that did not
//!   complete: it was never fdatasync'd, so raft was never told it was
//!   persisted. It is cut off, with a warning.
//! - damage with intact-looking bytes after it, or intact records whose
//!   indexes do not follow each other, is an error naming the file and the
//!   byte position.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use raft::eraftpb::Entry;

use super::file_util::{self, read_if_exists, sync_dir};
use super::record::{
    self, encode_record, entries_header, RecordRead, ENTRIES_FORMAT_VERSION, ENTRIES_HEADER_BYTES, ENTRIES_MAGIC,
};
use super::ControllerError;
use crate::limits::MAX_ENTRY_BYTES;

pub(crate) const ENTRIES_FILE: &str = "entries";

/// The open entries file of one controller node. Lives with its `LogStore`
/// on the thread that does the controller's blocking I/O.
pub(crate) struct EntriesFile {
    path: PathBuf,
    file: File,
    /// Index of the record at `positions[0]` (meaningless while empty).
    first_index: u64,
    /// Byte position of each record, in index order.
    positions: Vec<u64>,
    /// Byte position where the next record goes.
    end: u64,
}

impl EntriesFile {
    /// Opens (creating if absent) and recovers the file; returns the intact
    /// entries in index order.
    pub fn open(dir: &Path) -> Result<(EntriesFile, Vec<Entry>), ControllerError> {
        let path = dir.join(ENTRIES_FILE);
        let bytes = read_if_exists(&path)?;
        let header = entries_header();
        let bytes = match bytes {
            // Absent, or torn while it was being created: a fresh file.
            Some(b) if b.len() >= ENTRIES_HEADER_BYTES => b,
            Some(b) if !header.starts_with(&b) => {
                return Err(ControllerError::corrupt(&path, 0, "not an entries file (magic)"));
            }
            _ => {
                fs::write(&path, header).map_err(ControllerError::io(&path))?;
                File::open(&path).and_then(|f| f.sync_all()).map_err(ControllerError::io(&path))?;
                sync_dir(dir)?;
                header.to_vec()
            }
        };
        if bytes[..4] != ENTRIES_MAGIC {
            return Err(ControllerError::corrupt(&path, 0, "not an entries file (magic)"));
        }
        let version = file_util::u32_at(&bytes, 4);
        if version != ENTRIES_FORMAT_VERSION {
            return Err(ControllerError::corrupt(
                &path,
                4,
                format!("format version {version}, this build reads {ENTRIES_FORMAT_VERSION}"),
            ));
        }
        let mut entries: Vec<Entry> = Vec::new();
        let mut positions = Vec::new();
        let mut pos = ENTRIES_HEADER_BYTES;
        while pos < bytes.len() {
            match record::read_record(&bytes[pos..]) {
                RecordRead::Entry { entry, bytes: len } => {
                    if let Some(prev) = entries.last() {
                        if entry.index != prev.index + 1 {
                            return Err(ControllerError::corrupt(
                                &path,
                                pos as u64,
                                format!("entry {} follows entry {}", entry.index, prev.index),
                            ));
                        }
                    }
                    positions.push(pos as u64);
                    entries.push(entry);
                    pos += len;
                }
                RecordRead::Truncated => break,
                RecordRead::Damaged(reason) => {
                    if !is_torn_tail(&bytes[pos..]) {
                        return Err(ControllerError::corrupt(&path, pos as u64, reason));
                    }
                    break;
                }
            }
        }
        let file = OpenOptions::new().read(true).write(true).open(&path).map_err(ControllerError::io(&path))?;
        if pos < bytes.len() {
            tracing::warn!(
                file = %path.display(),
                position = pos,
                cut_bytes = bytes.len() - pos,
                "controller log: cutting off a torn tail (an append that did not complete)"
            );
            file.set_len(pos as u64).map_err(ControllerError::io(&path))?;
            file.sync_data().map_err(ControllerError::io(&path))?;
        }
        let first_index = entries.first().map_or(0, |e| e.index);
        Ok((EntriesFile { path, file, first_index, positions, end: pos as u64 }, entries))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of the file (header included).
    pub fn len(&self) -> u64 {
        self.end
    }

    pub fn last_index(&self) -> Option<u64> {
        (!self.positions.is_empty()).then(|| self.first_index + self.positions.len() as u64 - 1)
    }

    /// Appends `entries` (consecutive indexes), first truncating the file at
    /// `entries[0].index` if that index is already stored (raft overwriting
    /// a conflicting suffix). Durable (fdatasync'd) on return.
    pub fn append(&mut self, entries: &[Entry]) -> Result<(), ControllerError> {
        let Some(first) = entries.first() else {
            return Ok(());
        };
        debug_assert!(entries.windows(2).all(|w| w[1].index == w[0].index + 1));
        match self.last_index() {
            Some(last) if first.index <= last => {
                if first.index < self.first_index {
                    return Err(ControllerError::Raft(raft::Error::Store(raft::StorageError::Compacted)));
                }
                let at = self.positions[(first.index - self.first_index) as usize];
                self.positions.truncate((first.index - self.first_index) as usize);
                // Synced before the new records are written, so a crash never
                // leaves old and new record bytes interleaved.
                self.file.set_len(at).map_err(ControllerError::io(&self.path))?;
                self.file.sync_data().map_err(ControllerError::io(&self.path))?;
                self.end = at;
            }
            Some(last) if first.index != last + 1 => {
                return Err(ControllerError::Raft(raft::Error::Store(raft::StorageError::Unavailable)));
            }
            Some(_) | None => {}
        }
        if self.positions.is_empty() {
            self.first_index = first.index;
        }
        let mut buf = Vec::new();
        for entry in entries {
            self.positions.push(self.end + buf.len() as u64);
            encode_record(entry, &mut buf);
        }
        self.file.write_all_at(&buf, self.end).map_err(ControllerError::io(&self.path))?;
        self.file.sync_data().map_err(ControllerError::io(&self.path))?;
        self.end += buf.len() as u64;
        Ok(())
    }

    /// Drops every entry (a snapshot from the leader replaces the log).
    pub fn clear(&mut self) -> Result<(), ControllerError> {
        self.file.set_len(ENTRIES_HEADER_BYTES as u64).map_err(ControllerError::io(&self.path))?;
        self.file.sync_data().map_err(ControllerError::io(&self.path))?;
        self.positions.clear();
        self.end = ENTRIES_HEADER_BYTES as u64;
        Ok(())
    }

    /// Drops the entries up to and including `through` by rewriting the file
    /// atomically without them (rare: once per snapshot).
    pub fn compact(&mut self, through: u64) -> Result<(), ControllerError> {
        let Some(last) = self.last_index() else {
            return Ok(());
        };
        if through < self.first_index {
            return Ok(());
        }
        let keep_from =
            if through >= last { self.end } else { self.positions[(through + 1 - self.first_index) as usize] };
        let mut bytes = vec![0u8; (self.end - keep_from) as usize];
        self.file.read_exact_at(&mut bytes, keep_from).map_err(ControllerError::io(&self.path))?;
        let mut out = entries_header().to_vec();
        out.extend_from_slice(&bytes);
        file_util::replace_atomically(&self.path, &out)?;
        self.file =
            OpenOptions::new().read(true).write(true).open(&self.path).map_err(ControllerError::io(&self.path))?;
        let shift = keep_from - ENTRIES_HEADER_BYTES as u64;
        let dropped = (through.min(last) + 1 - self.first_index) as usize;
        self.positions.drain(..dropped);
        for p in &mut self.positions {
            *p -= shift;
        }
        self.first_index = through.min(last) + 1;
        self.end -= shift;
        Ok(())
    }
}

/// Whether the damaged bytes at the start of `rest` are an append that did
/// not complete: a record with a plausible length that ends exactly at the
/// end of the file (its payload only partly written), or only zero bytes
/// from the point of damage on (the file grew, its data never arrived). A
/// length out of bounds is damage: an interrupted write leaves zeros or the
/// bytes it meant to write, never another length.
fn is_torn_tail(rest: &[u8]) -> bool {
    let len = rest.get(..4).map_or(0, |b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize);
    let plausible = (1..=MAX_ENTRY_BYTES).contains(&len);
    let last_record = plausible && record::RECORD_HEADER_BYTES + len >= rest.len();
    last_record || rest.iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64, data: &[u8]) -> Entry {
        Entry { index, term, data: data.to_vec().into(), ..Default::default() }
    }

    fn indexes(entries: &[Entry]) -> Vec<(u64, u64)> {
        entries.iter().map(|e| (e.index, e.term)).collect()
    }

    #[test]
    fn append_overwrite_compact_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (mut f, got) = EntriesFile::open(dir.path()).unwrap();
        assert!(got.is_empty());
        f.append(&[entry(1, 1, b"a"), entry(2, 1, b"b"), entry(3, 1, b"c")]).unwrap();
        f.append(&[entry(4, 1, b"d")]).unwrap();
        // raft overwrites a conflicting suffix from index 3.
        f.append(&[entry(3, 2, b"x"), entry(4, 2, b"y"), entry(5, 2, b"z")]).unwrap();
        let (_, got) = EntriesFile::open(dir.path()).unwrap();
        assert_eq!(indexes(&got), [(1, 1), (2, 1), (3, 2), (4, 2), (5, 2)]);
        let before = f.len();
        f.compact(3).unwrap();
        assert!(f.len() < before);
        f.append(&[entry(6, 2, b"w")]).unwrap();
        f.append(&[entry(5, 3, b"v")]).unwrap();
        let (mut f, got) = EntriesFile::open(dir.path()).unwrap();
        assert_eq!(indexes(&got), [(4, 2), (5, 3)]);
        f.compact(9).unwrap();
        assert_eq!(f.len(), ENTRIES_HEADER_BYTES as u64);
        f.append(&[entry(10, 3, b"after a snapshot")]).unwrap();
        let (_, got) = EntriesFile::open(dir.path()).unwrap();
        assert_eq!(indexes(&got), [(10, 3)]);
    }

    #[test]
    fn a_torn_tail_is_cut_at_every_length() {
        let dir = tempfile::tempdir().unwrap();
        let (mut f, _) = EntriesFile::open(dir.path()).unwrap();
        f.append(&[entry(1, 1, b"one"), entry(2, 1, b"two")]).unwrap();
        let whole = f.len();
        f.append(&[entry(3, 1, b"three")]).unwrap();
        let full = f.len();
        drop(f);
        let path = dir.path().join(ENTRIES_FILE);
        for cut in whole..full {
            let file = OpenOptions::new().write(true).open(&path).unwrap();
            file.set_len(cut).unwrap();
            let (mut f, got) = EntriesFile::open(dir.path()).unwrap();
            assert_eq!(indexes(&got), [(1, 1), (2, 1)], "cut at {cut}");
            assert_eq!(fs::metadata(&path).unwrap().len(), whole);
            f.append(&[entry(3, 1, b"three")]).unwrap();
        }
    }

    #[test]
    fn damage_in_the_middle_is_an_error_with_the_position() {
        let dir = tempfile::tempdir().unwrap();
        let (mut f, _) = EntriesFile::open(dir.path()).unwrap();
        f.append(&[entry(1, 1, b"one"), entry(2, 1, b"two"), entry(3, 1, b"three")]).unwrap();
        let second = f.positions[1];
        drop(f);
        let path = dir.path().join(ENTRIES_FILE);
        let mut bytes = fs::read(&path).unwrap();
        bytes[second as usize + 10] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        let err = EntriesFile::open(dir.path()).err().unwrap().to_string();
        assert!(err.starts_with(&format!("{}: damaged at byte {second}: crc", path.display())), "{err}");
    }

    #[test]
    fn a_wild_length_in_the_middle_is_an_error_not_a_cut() {
        let dir = tempfile::tempdir().unwrap();
        let (mut f, _) = EntriesFile::open(dir.path()).unwrap();
        f.append(&[entry(1, 1, b"one"), entry(2, 1, b"two"), entry(3, 1, b"three")]).unwrap();
        let second = f.positions[1] as usize;
        drop(f);
        let path = dir.path().join(ENTRIES_FILE);
        let mut bytes = fs::read(&path).unwrap();
        bytes[second + 3] = 0x7f;
        fs::write(&path, &bytes).unwrap();
        let err = EntriesFile::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains(&format!("damaged at byte {second}: record length")), "{err}");
        assert_eq!(fs::metadata(&path).unwrap().len(), bytes.len() as u64, "nothing cut");
    }

    #[test]
    fn damage_followed_by_zeros_is_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let (mut f, _) = EntriesFile::open(dir.path()).unwrap();
        f.append(&[entry(1, 1, b"one")]).unwrap();
        let end = f.len();
        drop(f);
        let path = dir.path().join(ENTRIES_FILE);
        let mut bytes = fs::read(&path).unwrap();
        bytes.extend_from_slice(&[0; 4096]);
        fs::write(&path, &bytes).unwrap();
        let (_, got) = EntriesFile::open(dir.path()).unwrap();
        assert_eq!(indexes(&got), [(1, 1)]);
        assert_eq!(fs::metadata(&path).unwrap().len(), end);
    }

    #[test]
    fn a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(ENTRIES_FILE), b"not a log at all").unwrap();
        let err = EntriesFile::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("damaged at byte 0: not an entries file"), "{err}");
    }
}
