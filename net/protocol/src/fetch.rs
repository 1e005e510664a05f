//! Fetch: read record batches from partitions.
//!
//! Each partition's batches travel as one contiguous range of the response's
//! data section, unchanged from disk. On the server they are a list of
//! [`Bytes`](bytes::Bytes) chunks (cache entries, DMA read buffers) sent one
//! after another as they are; on the client they arrive as one zero-copy slice.

use rkyv::{Archive, Deserialize, Serialize};

use super::check::{self, Budget, Check};
use super::error::{EncodeError, ProtocolError};
use super::error_code::ErrorCode;
use super::metadata::{check_owner_hint, Endpoint};
use super::records::{DataRef, DataSectionReader, DataSectionWriter, Records};

/// One partition to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct FetchPartition {
    /// Partition id.
    pub partition: u32,
    /// Offset to read from.
    pub fetch_offset: u64,
    /// Most bytes to return for this partition (at least one whole batch is
    /// returned even if larger, so a consumer can always make progress).
    pub partition_max_bytes: u32,
    /// The leader epoch the sender believes current (KIP-320): a leader at
    /// another epoch answers `FencedLeaderEpoch` / `UnknownLeaderEpoch`
    /// instead of serving a stale view. `None`: not checked.
    pub current_leader_epoch: Option<u32>,
    /// Replica fetches: the epoch of the last batch the follower holds
    /// (below `fetch_offset`), so the leader can tell it where its log
    /// diverged (KIP-595's inline divergence check). `None` for an empty log.
    pub last_fetched_epoch: Option<u32>,
    /// Replica fetches (version 2): the follower's log is durable below
    /// this offset, at most `fetch_offset`. The leader counts only it toward
    /// the high watermark, so the follower can fetch on while its last
    /// records are still being synced. Below `fetch_offset`, the leader
    /// answers at once rather than wait for new records, so the follower can
    /// report its sync. `None`: durable up to `fetch_offset`.
    pub durable_end: Option<u64>,
}

impl FetchPartition {
    /// A consumer's read of `partition` from `fetch_offset`, with no epoch
    /// checks.
    pub fn new(partition: u32, fetch_offset: u64, partition_max_bytes: u32) -> Self {
        FetchPartition {
            partition,
            fetch_offset,
            partition_max_bytes,
            current_leader_epoch: None,
            last_fetched_epoch: None,
            durable_end: None,
        }
    }
}

/// Where a follower's log diverged from the leader's: the largest epoch the
/// leader has at or below the follower's last fetched epoch, and the
/// leader's end offset for it. The follower truncates to the smaller of that
/// and its own end offset for that epoch (KIP-279), then fetches again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct EpochEndOffset {
    /// Leader epoch.
    pub epoch: u32,
    /// Offset just past that epoch's last record on the leader.
    pub end_offset: u64,
}

/// The partitions of one topic to read.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct FetchTopic {
    /// Topic name.
    pub name: String,
    /// Partitions to read.
    pub partitions: Vec<FetchPartition>,
}

/// Fetch request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct FetchRequest {
    /// `None` for consumers; the follower's node id when a replica fetches.
    pub replica_id: Option<u32>,
    /// Longest time to wait for `min_bytes` to accumulate.
    pub max_wait_ms: u32,
    /// Answer as soon as this many bytes are available (0: immediately).
    pub min_bytes: u32,
    /// Most bytes to return over all partitions (soft, like `partition_max_bytes`).
    pub max_bytes: u32,
    /// Topics and partitions to read.
    pub topics: Vec<FetchTopic>,
}

/// The result for one partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchPartitionResponse {
    /// Partition id.
    pub partition: u32,
    /// Per-partition error.
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
    /// Offset up to which records are committed (readable by consumers).
    pub high_watermark: u64,
    /// First offset still in the log.
    pub log_start_offset: u64,
    /// Offset the next appended record gets.
    pub log_end_offset: u64,
    /// With [`ErrorCode::NotOwner`]: the endpoint that owns the partition now.
    pub current_owner: Option<Endpoint>,
    /// The answering leader's epoch, when it leads the partition.
    pub leader_epoch: Option<u32>,
    /// Replica fetches: set (and `records` empty) when the follower's log
    /// diverged before `fetch_offset`.
    pub diverging_epoch: Option<EpochEndOffset>,
    /// Whole record batches, back to back, exactly as stored.
    pub records: Records,
}

/// The partitions of one topic in a fetch response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchTopicResponse {
    /// Topic name.
    pub name: String,
    /// One entry per requested partition.
    pub partitions: Vec<FetchPartitionResponse>,
}

/// Fetch response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for a request-level error.
    pub error_message: Option<String>,
    /// One entry per requested topic.
    pub topics: Vec<FetchTopicResponse>,
}

impl Check for ArchivedFetchPartition {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        Ok(())
    }
}

impl Check for ArchivedFetchTopic {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_name(&self.name)?;
        check::partitions(&self.partitions, budget)
    }
}

impl Check for ArchivedFetchRequest {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topics(&self.topics, budget)
    }
}

// ---- wire form: the response with data-section references for its records ----

#[derive(Archive, Serialize, Deserialize)]
pub(crate) struct FetchPartitionResponseWire {
    partition: u32,
    error: ErrorCode,
    error_message: Option<String>,
    high_watermark: u64,
    log_start_offset: u64,
    log_end_offset: u64,
    current_owner: Option<Endpoint>,
    leader_epoch: Option<u32>,
    diverging_epoch: Option<EpochEndOffset>,
    records: DataRef,
}

#[derive(Archive, Serialize, Deserialize)]
pub(crate) struct FetchTopicResponseWire {
    name: String,
    partitions: Vec<FetchPartitionResponseWire>,
}

#[derive(Archive, Serialize, Deserialize)]
pub(crate) struct FetchResponseWire {
    error: ErrorCode,
    error_message: Option<String>,
    topics: Vec<FetchTopicResponseWire>,
}

impl FetchResponse {
    /// The wire form, appending every partition's records to `data`.
    pub(crate) fn to_wire(&self, data: &mut DataSectionWriter) -> Result<FetchResponseWire, EncodeError> {
        let mut topics = Vec::with_capacity(self.topics.len());
        for t in &self.topics {
            let mut partitions = Vec::with_capacity(t.partitions.len());
            for p in &t.partitions {
                partitions.push(FetchPartitionResponseWire {
                    partition: p.partition,
                    error: p.error,
                    error_message: p.error_message.clone(),
                    high_watermark: p.high_watermark,
                    log_start_offset: p.log_start_offset,
                    log_end_offset: p.log_end_offset,
                    current_owner: p.current_owner.clone(),
                    leader_epoch: p.leader_epoch,
                    diverging_epoch: p.diverging_epoch,
                    records: data.push(&p.records)?,
                });
            }
            topics.push(FetchTopicResponseWire { name: t.name.clone(), partitions });
        }
        Ok(FetchResponseWire { error: self.error, error_message: self.error_message.clone(), topics })
    }
}

impl FetchResponseWire {
    /// The response, with every reference resolved to a zero-copy slice of `data`.
    pub(crate) fn resolve(self, data: &mut DataSectionReader<'_>) -> Result<FetchResponse, ProtocolError> {
        let mut topics = Vec::with_capacity(self.topics.len());
        for t in self.topics {
            let mut partitions = Vec::with_capacity(t.partitions.len());
            for p in t.partitions {
                partitions.push(FetchPartitionResponse {
                    partition: p.partition,
                    error: p.error,
                    error_message: p.error_message,
                    high_watermark: p.high_watermark,
                    log_start_offset: p.log_start_offset,
                    log_end_offset: p.log_end_offset,
                    current_owner: p.current_owner,
                    leader_epoch: p.leader_epoch,
                    diverging_epoch: p.diverging_epoch,
                    records: data.take(p.records.offset, p.records.len)?,
                });
            }
            topics.push(FetchTopicResponse { name: t.name, partitions });
        }
        Ok(FetchResponse { error: self.error, error_message: self.error_message, topics })
    }
}

impl Check for ArchivedFetchPartitionResponseWire {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check_owner_hint(&self.current_owner, budget)
    }
}

impl Check for ArchivedFetchTopicResponseWire {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_name(&self.name)?;
        check::partitions(&self.partitions, budget)
    }
}

impl Check for ArchivedFetchResponseWire {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check::topics(&self.topics, budget)
    }
}
