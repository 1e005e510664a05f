//! A replica's in-memory log: records (offset = index, epoch, payload id),
//! a durable prefix (fsync completes later; a crash loses everything past
//! it) and the epoch history the storage layer would keep beside it.

use corelog_replication::replica::{BatchMeta, EpochHistory};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub epoch: u32,
    pub payload: u64,
}

#[derive(Debug, Default)]
pub struct Log {
    pub records: Vec<Record>,
    pub durable: u64,
    pub epochs: EpochHistory,
    /// Bumped by every truncation: an fsync issued before it does not cover
    /// what was written after it.
    generation: u64,
    /// How many leading records are known to equal the committed history
    /// (the invariant checker's incremental cursor).
    pub agree: u64,
}

impl Log {
    pub fn end(&self) -> u64 {
        self.records.len() as u64
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A leader's append of produced records at its epoch.
    pub fn append_produced(&mut self, epoch: u32, payloads: &[u64]) {
        if self.epochs.latest_epoch() != Some(epoch) {
            self.epochs.assign(epoch, self.end());
        }
        self.records.extend(payloads.iter().map(|&payload| Record { epoch, payload }));
    }

    /// A follower's append of fetched batches, keeping the leader's epochs.
    pub fn append_fetched(&mut self, batches: &[BatchMeta], records: &[Record]) {
        for b in batches {
            assert_eq!(b.base_offset, self.end(), "append not at the log end");
            self.epochs.assign(b.leader_epoch, b.base_offset);
            for offset in b.base_offset..=b.last_offset {
                let r = records[(offset - batches[0].base_offset) as usize];
                assert_eq!(r.epoch, b.leader_epoch, "batch epoch differs from its record's");
                self.records.push(r);
            }
        }
    }

    pub fn truncate(&mut self, to: u64) {
        assert!(to <= self.end(), "truncate past the end");
        self.records.truncate(to as usize);
        self.durable = self.durable.min(to);
        self.epochs.truncate_from_end(to);
        self.agree = self.agree.min(to);
        self.generation += 1;
    }

    /// An fsync issued at `generation` covering up to `end` completed.
    /// Returns whether the durable end moved.
    pub fn fsync_done(&mut self, generation: u64, end: u64) -> bool {
        if generation != self.generation {
            return false;
        }
        let new = end.min(self.end());
        if new <= self.durable {
            return false;
        }
        self.durable = new;
        true
    }

    /// Power loss: only the durable prefix survives.
    pub fn crash(&mut self) {
        let durable = self.durable;
        self.truncate(durable);
    }
}
