//! What a follower's fetch carries, what the leader's state machine answers
//! and what the follower's state machine receives back. These are the
//! protocol's fields, not a wire layout: the broker maps them onto Kafka's
//! Fetch (v12+: `current_leader_epoch`, `last_fetched_epoch`,
//! `diverging_epoch`) or its own frames (which also carry the follower's
//! durable end, a field Kafka does not have). Built and read on the partition's
//! core on either side.

use super::ReplicaId;

/// A follower's fetch of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchRequest {
    /// The fetching replica.
    pub replica: ReplicaId,
    /// The follower's log end: it holds every offset below, and reads on
    /// from here.
    pub fetch_offset: u64,
    /// The follower's log is durable below this offset (at most
    /// `fetch_offset`). Only this counts toward the high watermark, so a
    /// follower can fetch its next records while its last ones are still
    /// being synced (the pipeline), and an acknowledged record is still on
    /// the disk of every in-sync replica.
    pub durable_end: u64,
    /// The epoch of the follower's last record (its epoch history's latest);
    /// `None` for an empty log.
    pub last_fetched_epoch: Option<u32>,
    /// The leader epoch the follower believes in (Kafka's
    /// `current_leader_epoch`), to fence stale leaders and followers.
    pub leader_epoch: u32,
}

impl FetchRequest {
    /// Records below the fetch offset are still being synced: the leader
    /// should answer at once, even with nothing, instead of waiting for new
    /// records, so that the follower reports its sync without delay.
    pub fn syncing(&self) -> bool {
        self.durable_end < self.fetch_offset
    }
}

/// Why a leader refused a fetch (Kafka's error codes of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchError {
    /// This replica does not lead the partition, or the fetcher is not one
    /// of its replicas (NOT_LEADER_OR_FOLLOWER).
    NotLeader,
    /// The fetcher's leader epoch is older than the leader's.
    FencedLeaderEpoch,
    /// The fetcher's leader epoch is newer than the leader's: this leader
    /// has not seen the metadata yet (or is stale).
    UnknownLeaderEpoch,
}

impl FetchError {
    /// The refusal for a fetch reaching a replica that does not lead the
    /// partition (the runtime answers it without a [`LeaderState`]), by
    /// Kafka's order: the epochs first, then leadership.
    /// `local_leader_epoch` is the epoch this replica knows, if any.
    ///
    /// [`LeaderState`]: super::LeaderState
    pub fn for_non_leader(local_leader_epoch: Option<u32>, request_leader_epoch: u32) -> Self {
        match local_leader_epoch {
            Some(local) if request_leader_epoch < local => FetchError::FencedLeaderEpoch,
            Some(local) if request_leader_epoch > local => FetchError::UnknownLeaderEpoch,
            None => FetchError::UnknownLeaderEpoch,
            Some(_) => FetchError::NotLeader,
        }
    }
}

/// The leader state machine's answer to a [`FetchRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchReply {
    /// Read records from `from` (up to the fetch size limits) and send them
    /// with this high watermark and log start.
    Read {
        from: u64,
        high_watermark: u64,
        log_start_offset: u64,
    },
    /// The follower's log diverges from the leader's: its last fetched
    /// epoch ends at `end_offset` on the leader (labelled with the leader's
    /// epoch `epoch`). No records are sent.
    Diverging {
        epoch: u32,
        end_offset: u64,
        high_watermark: u64,
    },
    /// The fetch offset is outside the leader's `[log_start, log_end]`.
    OffsetOutOfRange {
        log_start_offset: u64,
        log_end_offset: u64,
    },
    Error(FetchError),
}

/// One record batch of a fetch response, as far as replication needs to see
/// it: its offsets and the leader epoch it was written in. The runtime keeps
/// the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMeta {
    pub base_offset: u64,
    /// Offset of the batch's last record (inclusive).
    pub last_offset: u64,
    pub leader_epoch: u32,
}

impl BatchMeta {
    /// One past the batch's last offset.
    pub fn end_offset(&self) -> u64 {
        self.last_offset + 1
    }
}

/// What the follower state machine receives for its fetch: a
/// [`FetchReply`] with the records read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchResponse {
    Records { high_watermark: u64, log_start_offset: u64, batches: Vec<BatchMeta> },
    Diverging { epoch: u32, end_offset: u64, high_watermark: u64 },
    OffsetOutOfRange { log_start_offset: u64, log_end_offset: u64 },
    Error(FetchError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_leader_refuses_by_epoch_first() {
        assert_eq!(FetchError::for_non_leader(Some(5), 4), FetchError::FencedLeaderEpoch);
        assert_eq!(FetchError::for_non_leader(Some(5), 6), FetchError::UnknownLeaderEpoch);
        assert_eq!(FetchError::for_non_leader(None, 6), FetchError::UnknownLeaderEpoch);
        assert_eq!(FetchError::for_non_leader(Some(5), 5), FetchError::NotLeader);
    }
}
