//! The in-memory copy of the Raft log that raft reads through its `Storage`
//! trait, owned by the `QuorumNode`'s `RawNode`. It holds what the node has
//! handed to the runtime to persist (the runtime persists it before carrying
//! out any later action, see node.rs), and unlike raft's `MemStorage` it
//! keeps the snapshot's application data, which a leader sends to a
//! follower that is too far behind.

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, Storage, StorageError};

use super::log_store::RecoveredLog;

/// Lives inside the `QuorumNode`, on the controller core.
pub(crate) struct MemoryLog {
    hard_state: HardState,
    conf_state: ConfState,
    /// The latest snapshot, data included (index 0: none yet).
    snapshot: Snapshot,
    /// Entries from `snapshot index + 1`, consecutive.
    entries: Vec<Entry>,
}

impl MemoryLog {
    pub fn new(recovered: RecoveredLog) -> MemoryLog {
        let snap_index = recovered.snapshot.get_metadata().index;
        debug_assert!(recovered.entries.first().is_none_or(|e| e.index == snap_index + 1));
        MemoryLog {
            hard_state: recovered.hard_state,
            conf_state: recovered.conf_state,
            snapshot: recovered.snapshot,
            entries: recovered.entries,
        }
    }

    pub fn snapshot_index(&self) -> u64 {
        self.snapshot.get_metadata().index
    }

    pub fn latest_snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    pub fn conf_state(&self) -> &ConfState {
        &self.conf_state
    }

    pub fn set_conf_state(&mut self, cs: ConfState) {
        self.conf_state = cs;
    }

    pub fn set_hard_state(&mut self, hs: HardState) {
        self.hard_state = hs;
    }

    pub fn set_commit(&mut self, commit: u64) {
        self.hard_state.commit = commit;
    }

    fn first(&self) -> u64 {
        self.snapshot_index() + 1
    }

    fn last(&self) -> u64 {
        self.entries.last().map_or(self.snapshot_index(), |e| e.index)
    }

    /// Appends what raft's Ready holds; a conflicting suffix is replaced.
    pub fn append(&mut self, entries: &[Entry]) {
        let Some(first) = entries.first() else {
            return;
        };
        // raft never rewrites what a snapshot covers (it is committed) and
        // never leaves a gap: both would be bugs in the Ready handling.
        assert!(first.index >= self.first(), "append at {} below {}", first.index, self.first());
        assert!(first.index <= self.last() + 1, "append at {} after {}", first.index, self.last());
        self.entries.truncate((first.index - self.first()) as usize);
        self.entries.extend_from_slice(entries);
    }

    /// Installs a snapshot from the leader: the whole log is replaced.
    pub fn install_snapshot(&mut self, snapshot: Snapshot) {
        let meta = snapshot.get_metadata();
        self.hard_state.commit = self.hard_state.commit.max(meta.index);
        self.hard_state.term = self.hard_state.term.max(meta.term);
        self.conf_state = meta.get_conf_state().clone();
        self.entries.clear();
        self.snapshot = snapshot;
    }

    /// Installs a snapshot of the local application at `index` (covered by
    /// the log) and drops the entries it covers. Returns the snapshot.
    pub fn compact_to(&mut self, index: u64, data: Vec<u8>) -> Snapshot {
        assert!(index > self.snapshot_index() && index <= self.last());
        let term = self.entries[(index - self.first()) as usize].term;
        let mut snapshot = Snapshot { data: data.into(), ..Default::default() };
        let meta = snapshot.mut_metadata();
        meta.index = index;
        meta.term = term;
        meta.set_conf_state(self.conf_state.clone());
        self.entries.drain(..(index + 1 - self.first()) as usize);
        self.snapshot = snapshot.clone();
        snapshot
    }
}

impl Storage for MemoryLog {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(self.hard_state.clone(), self.conf_state.clone()))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low < self.first() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        // The trait's contract: raft never asks past the last index.
        assert!(high <= self.last() + 1, "entries up to {high}, last is {}", self.last());
        let lo = (low - self.first()) as usize;
        let hi = (high - self.first()) as usize;
        let mut out = Vec::new();
        let mut size = 0u64;
        let max_size = max_size.into().unwrap_or(u64::MAX);
        for e in &self.entries[lo..hi] {
            size += u64::from(protobuf::Message::compute_size(e));
            // At least one entry, whatever its size (raft's rule).
            if !out.is_empty() && size > max_size {
                break;
            }
            out.push(e.clone());
        }
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx == self.snapshot_index() {
            return Ok(self.snapshot.get_metadata().term);
        }
        if idx < self.first() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if idx > self.last() {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        Ok(self.entries[(idx - self.first()) as usize].term)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last())
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        if self.snapshot_index() < request_index || self.snapshot_index() == 0 {
            return Err(raft::Error::Store(StorageError::SnapshotTemporarilyUnavailable));
        }
        Ok(self.snapshot.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64) -> Entry {
        Entry { index, term, data: vec![0; 10].into(), ..Default::default() }
    }

    #[test]
    fn storage_contract() {
        let mut log = MemoryLog::new(RecoveredLog::default());
        assert_eq!((log.first_index().unwrap(), log.last_index().unwrap()), (1, 0));
        assert_eq!(log.term(0).unwrap(), 0);
        log.append(&[entry(1, 1), entry(2, 1), entry(3, 1)]);
        log.append(&[entry(3, 2), entry(4, 2)]);
        assert_eq!(log.term(3).unwrap(), 2);
        assert!(matches!(log.term(5), Err(raft::Error::Store(StorageError::Unavailable))));
        let ctx = || GetEntriesContext::empty(false);
        assert_eq!(log.entries(1, 5, None, ctx()).unwrap().len(), 4);
        // Each entry is 6 bytes of fields + 12 of data: the limit keeps one.
        assert_eq!(log.entries(1, 5, 1, ctx()).unwrap().len(), 1);
        assert!(log.snapshot(0, 2).is_err());
        let snap = log.compact_to(3, b"state".to_vec());
        assert_eq!((snap.get_metadata().index, snap.get_metadata().term), (3, 2));
        assert_eq!(log.first_index().unwrap(), 4);
        assert_eq!(log.term(3).unwrap(), 2);
        assert!(matches!(log.term(2), Err(raft::Error::Store(StorageError::Compacted))));
        assert!(matches!(log.entries(3, 5, None, ctx()), Err(raft::Error::Store(StorageError::Compacted))));
        assert_eq!(&log.snapshot(0, 2).unwrap().data[..], b"state");
        let mut leader_snap = Snapshot::default();
        leader_snap.mut_metadata().index = 10;
        leader_snap.mut_metadata().term = 4;
        log.install_snapshot(leader_snap);
        assert_eq!((log.first_index().unwrap(), log.last_index().unwrap()), (11, 10));
        assert_eq!(log.initial_state().unwrap().hard_state.commit, 10);
    }
}
