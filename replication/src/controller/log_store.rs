//! The durable Raft storage of one controller node, in a directory of its
//! own (the broker uses `<data_dir>/controller/`).
//!
//! ```text
//! <dir>/entries      the log: header + framed entries (layout in record.rs)
//! <dir>/raft_state   HardState + ConfState, replaced atomically (state_file.rs)
//! <dir>/snapshot     the latest snapshot, replaced atomically (snapshot_file.rs)
//! <dir>/*.tmp        a replacement in progress; removed on open
//! ```
//!
//! Synchronous std::fs: the runtime calls it from the controller core's
//! blocking pool, one call at a time (behind a mutex, each awaited). Every call returns only once what it wrote is durable
//! (fdatasync, or fsync + rename + directory fsync).
//!
//! Why the node reads a `MemoryLog` and not this store: raft reads its
//! storage from inside `step`/`ready`, which must not block the controller
//! core; keeping the files behind the runtime's blocking pool and the
//! node's reads in memory keeps `QuorumNode` I/O-free. The two hold the same
//! log: the node hands every change to the runtime as an `Action`, the
//! runtime writes it here, and on restart this store's `RecoveredLog` seeds
//! the node's memory.

use std::fs;
use std::path::{Path, PathBuf};

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};

use super::entries_file::EntriesFile;
use super::snapshot_file::{self, SNAPSHOT_FILE};
use super::state_file::{self, STATE_FILE};
use super::ControllerError;

/// What the node asks the store to make durable for one Ready, in this
/// order: the snapshot (which replaces the whole log), the entries (which
/// may overwrite a suffix), then the hard state and voters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PersistWrite {
    /// A snapshot from the leader: every stored entry is dropped.
    pub snapshot: Option<Snapshot>,
    /// Entries with consecutive indexes; from `entries[0].index` on, what
    /// was stored is replaced.
    pub entries: Vec<Entry>,
    pub hard_state: Option<HardState>,
    /// Set once, when a fresh node bootstraps its voters.
    pub conf_state: Option<ConfState>,
}

impl PersistWrite {
    pub fn is_empty(&self) -> bool {
        self.snapshot.is_none() && self.entries.is_empty() && self.hard_state.is_none() && self.conf_state.is_none()
    }
}

/// What a directory held when it was opened. A fresh directory: default
/// hard state, empty conf state (no voters), empty snapshot (index 0), no
/// entries.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecoveredLog {
    pub hard_state: HardState,
    pub conf_state: ConfState,
    pub snapshot: Snapshot,
    /// The entries after the snapshot, consecutive from `snapshot index + 1`.
    pub entries: Vec<Entry>,
}

/// One controller node's Raft log on disk. Lives on the controller core's
/// blocking pool, behind a mutex (owned by the runtime, never by the node).
pub struct LogStore {
    dir: PathBuf,
    entries: EntriesFile,
    hard_state: HardState,
    conf_state: ConfState,
}

impl LogStore {
    /// Opens `dir` (created if absent) and reads everything back. A torn
    /// tail of the entries file is cut off with a warning; any other damage
    /// is an error naming the file and byte position.
    pub fn open(dir: &Path) -> Result<(LogStore, RecoveredLog), ControllerError> {
        fs::create_dir_all(dir).map_err(ControllerError::io(dir))?;
        for name in [STATE_FILE, SNAPSHOT_FILE, super::entries_file::ENTRIES_FILE] {
            let tmp = super::file_util::tmp_path(&dir.join(name));
            match fs::remove_file(&tmp) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ControllerError::Io { path: tmp, source: e }),
            }
        }
        let state = state_file::read_state(dir)?;
        let snapshot = snapshot_file::read_snapshot(dir)?.unwrap_or_default();
        let (mut entries_file, mut entries) = EntriesFile::open(dir)?;
        let snap_index = snapshot.get_metadata().index;
        let snap_term = snapshot.get_metadata().term;

        if let (Some(first), Some(last)) = (entries.first().map(|e| e.index), entries.last().map(|e| e.index)) {
            if first > snap_index + 1 {
                return Err(ControllerError::corrupt(
                    entries_file.path(),
                    super::record::ENTRIES_HEADER_BYTES as u64,
                    format!("first entry {first}, but the snapshot ends at {snap_index}"),
                ));
            }
            if first <= snap_index {
                // A crash between writing the snapshot and rewriting the
                // entries file. Entries after the snapshot are this log's
                // only if the log holds the snapshot's last entry (same index
                // and term: by log matching, the same history).
                let matches = last >= snap_index && entries[(snap_index - first) as usize].term == snap_term;
                if matches {
                    entries_file.compact(snap_index)?;
                    entries.drain(..=(snap_index - first) as usize);
                } else {
                    tracing::warn!(
                        dir = %dir.display(),
                        snapshot_index = snap_index,
                        "controller log: entries that the leader's snapshot replaced are dropped"
                    );
                    entries_file.clear()?;
                    entries.clear();
                }
            }
        }

        let (mut hard_state, conf_state) = match state {
            Some(s) => s,
            None if entries.is_empty() && snap_index == 0 => Default::default(),
            None => {
                return Err(ControllerError::corrupt(dir.join(STATE_FILE), 0, "missing, but the directory holds a log"))
            }
        };
        let last_index = entries.last().map_or(snap_index, |e| e.index);
        if hard_state.commit > last_index {
            // Only possible when entries that were fdatasync'd are gone (a
            // cut tail): raft would refuse the state; the leader resends.
            tracing::warn!(
                dir = %dir.display(),
                commit = hard_state.commit,
                last_index,
                "controller log: commit index past the last stored entry; lowered"
            );
            hard_state.commit = last_index;
        }
        // The snapshot's entries are committed, whatever the state file says.
        hard_state.commit = hard_state.commit.max(snap_index);
        let store = LogStore {
            dir: dir.to_path_buf(),
            entries: entries_file,
            hard_state: hard_state.clone(),
            conf_state: conf_state.clone(),
        };
        let recovered = RecoveredLog { hard_state, conf_state, snapshot, entries };
        Ok((store, recovered))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes of the entries file (it shrinks when a snapshot compacts it).
    pub fn entries_file_len(&self) -> u64 {
        self.entries.len()
    }

    /// Makes `write` durable; returns once it is (see [`PersistWrite`] for
    /// the order). After an error the node must be dropped and reopened from
    /// this directory: what the disk holds is then unknown.
    pub fn persist(&mut self, write: &PersistWrite) -> Result<(), ControllerError> {
        if let Some(snapshot) = &write.snapshot {
            // Snapshot first: a crash before the entries are cleared leaves
            // entries that recovery drops (they do not match the snapshot)
            // or keeps (they do), never a log without its snapshot.
            snapshot_file::write_snapshot(&self.dir, snapshot)?;
            self.entries.clear()?;
        }
        self.entries.append(&write.entries)?;
        let mut state_changed = false;
        if let Some(hs) = &write.hard_state {
            state_changed |= *hs != self.hard_state;
            self.hard_state = hs.clone();
        }
        if let Some(cs) = &write.conf_state {
            state_changed |= *cs != self.conf_state;
            self.conf_state = cs.clone();
        }
        if state_changed {
            state_file::write_state(&self.dir, &self.hard_state, &self.conf_state)?;
        }
        Ok(())
    }

    /// Stores a snapshot the application took of its own state and drops
    /// the entries it covers.
    pub fn compact(&mut self, snapshot: &Snapshot) -> Result<(), ControllerError> {
        snapshot_file::write_snapshot(&self.dir, snapshot)?;
        self.entries.compact(snapshot.get_metadata().index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(from: u64, to: u64, term: u64) -> Vec<Entry> {
        (from..=to)
            .map(|index| Entry { index, term, data: vec![index as u8; 5].into(), ..Default::default() })
            .collect()
    }

    fn snapshot(index: u64, term: u64) -> Snapshot {
        let mut s = Snapshot { data: b"app".to_vec().into(), ..Default::default() };
        s.mut_metadata().index = index;
        s.mut_metadata().term = term;
        s.mut_metadata().set_conf_state(ConfState::from((vec![1, 2, 3], vec![])));
        s
    }

    /// A store with entries 1..=10 of term 1, commit 8.
    fn store_with_log(dir: &Path) -> LogStore {
        let (mut store, recovered) = LogStore::open(dir).unwrap();
        assert_eq!(recovered, RecoveredLog::default());
        store
            .persist(&PersistWrite {
                entries: entries(1, 10, 1),
                hard_state: Some(HardState { term: 1, commit: 8, ..Default::default() }),
                conf_state: Some(ConfState::from((vec![1, 2, 3], vec![]))),
                ..Default::default()
            })
            .unwrap();
        store
    }

    #[test]
    fn persist_then_reopen_reads_everything_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store_with_log(dir.path());
        store.compact(&snapshot(4, 1)).unwrap();
        let (_, got) = LogStore::open(dir.path()).unwrap();
        assert_eq!(got.entries, entries(5, 10, 1));
        assert_eq!(got.snapshot, snapshot(4, 1));
        assert_eq!((got.hard_state.term, got.hard_state.commit), (1, 8));
        assert_eq!(got.conf_state.voters, [1, 2, 3]);
    }

    #[test]
    fn a_crash_between_a_local_snapshot_and_compaction_keeps_the_rest_of_the_log() {
        let dir = tempfile::tempdir().unwrap();
        drop(store_with_log(dir.path()));
        // The snapshot file was written; the entries file was not rewritten.
        snapshot_file::write_snapshot(dir.path(), &snapshot(5, 1)).unwrap();
        let (store, got) = LogStore::open(dir.path()).unwrap();
        assert_eq!(got.entries, entries(6, 10, 1));
        let (_, again) = LogStore::open(dir.path()).unwrap();
        assert_eq!(again.entries, entries(6, 10, 1));
        assert!(store.entries_file_len() > 8);
    }

    #[test]
    fn a_crash_between_a_leaders_snapshot_and_clearing_drops_the_replaced_log() {
        let dir = tempfile::tempdir().unwrap();
        drop(store_with_log(dir.path()));
        // The leader's snapshot at 7 is of term 2: this log's entry 7 (term
        // 1) is another history.
        snapshot_file::write_snapshot(dir.path(), &snapshot(7, 2)).unwrap();
        let (_, got) = LogStore::open(dir.path()).unwrap();
        assert!(got.entries.is_empty());
        // Commit 8 is past what is left (the snapshot's 7).
        assert_eq!(got.hard_state.commit, 7);

        // A snapshot past the whole log.
        let dir = tempfile::tempdir().unwrap();
        drop(store_with_log(dir.path()));
        snapshot_file::write_snapshot(dir.path(), &snapshot(20, 3)).unwrap();
        let (_, got) = LogStore::open(dir.path()).unwrap();
        assert!(got.entries.is_empty());
        assert_eq!(got.hard_state.commit, 20, "the snapshot is committed");
    }

    #[test]
    fn a_commit_past_the_log_is_lowered_and_a_missing_state_file_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store_with_log(dir.path());
        let hs = HardState { term: 1, commit: 10, ..Default::default() };
        store.persist(&PersistWrite { hard_state: Some(hs), ..Default::default() }).unwrap();
        drop(store);
        // Entries 9 and 10 vanish (a disk that lied about a sync): the file
        // ends inside record 9. The ten records are all the same size.
        let path = dir.path().join(super::super::entries_file::ENTRIES_FILE);
        let data = fs::read(&path).unwrap();
        let record = (data.len() - 8) / 10;
        fs::write(&path, &data[..8 + 8 * record + 3]).unwrap();
        let (_, got) = LogStore::open(dir.path()).unwrap();
        assert_eq!(got.entries.last().unwrap().index, 8);
        assert_eq!(got.hard_state.commit, 8);

        fs::remove_file(dir.path().join(STATE_FILE)).unwrap();
        let err = LogStore::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("raft_state: damaged at byte 0: missing"), "{err}");
    }
}
