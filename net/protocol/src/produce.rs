//! Produce: append record batches to partitions.
//!
//! The batches travel in the frame's data section, unchanged; the body holds
//! a `(offset, len)` reference per partition. Decoding yields each partition's
//! batches as a zero-copy [`Bytes`](bytes::Bytes) slice of the received frame.
//! The codec treats batches as opaque: the broker validates them (length,
//! CRC, rkyv structure) and answers [`ErrorCode::CorruptBatch`] per partition.

use rkyv::{Archive, Deserialize, Serialize};

use super::check::{self, Budget, Check};
use super::error::{EncodeError, ProtocolError};
use super::error_code::ErrorCode;
use super::metadata::{check_owner_hint, Endpoint};
use super::records::{DataRef, DataSectionReader, DataSectionWriter, Records};

/// How many acknowledgements the producer waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Archive, Serialize, Deserialize)]
pub enum Acks {
    /// `acks=0`: no response at all; fire and forget.
    None,
    /// `acks=1`: the owning core has appended (and flushed per the topic's policy).
    Leader,
    /// `acks=all` (-1): every in-sync replica has it. The default.
    #[default]
    All,
}

impl Acks {
    /// Kafka's numbering: 0, 1, -1.
    pub fn as_i16(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }

    /// From Kafka's numbering (0, 1, -1).
    pub fn from_i16(acks: i16) -> Option<Acks> {
        match acks {
            0 => Some(Acks::None),
            1 => Some(Acks::Leader),
            -1 => Some(Acks::All),
            _ => None,
        }
    }
}

/// The batches for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducePartition {
    /// Partition id.
    pub partition: u32,
    /// One or more whole record batches, back to back.
    pub records: Records,
}

/// The partitions of one topic to produce to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceTopic {
    /// Topic name.
    pub name: String,
    /// Partitions and their batches.
    pub partitions: Vec<ProducePartition>,
}

/// Produce request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProduceRequest {
    /// Acknowledgement level. With [`Acks::None`] the broker sends no response.
    pub acks: Acks,
    /// How long the broker may wait for the acks before answering
    /// [`ErrorCode::RequestTimedOut`].
    pub timeout_ms: u32,
    /// Topics and partitions to append to.
    pub topics: Vec<ProduceTopic>,
}

/// The outcome for one partition.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct ProducePartitionResponse {
    /// Partition id.
    pub partition: u32,
    /// Per-partition error.
    pub error: ErrorCode,
    /// Detail for the error (e.g. which batch failed its CRC).
    pub error_message: Option<String>,
    /// Offset assigned to the first record of the first batch (on success).
    pub base_offset: u64,
    /// The append time when the topic uses log-append timestamps, else `None`.
    pub log_append_time: Option<i64>,
    /// The partition's log start offset after the append.
    pub log_start_offset: u64,
    /// With [`ErrorCode::NotOwner`]: the endpoint that owns the partition now.
    pub current_owner: Option<Endpoint>,
}

/// The partitions of one topic in a produce response.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct ProduceTopicResponse {
    /// Topic name.
    pub name: String,
    /// One entry per requested partition.
    pub partitions: Vec<ProducePartitionResponse>,
}

/// Produce response (not sent for [`Acks::None`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct ProduceResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for a request-level error.
    pub error_message: Option<String>,
    /// One entry per requested topic.
    pub topics: Vec<ProduceTopicResponse>,
}

// ---- wire form: the request with data-section references for its records ----

#[derive(Archive, Serialize, Deserialize)]
pub(crate) struct ProducePartitionWire {
    partition: u32,
    records: DataRef,
}

#[derive(Archive, Serialize, Deserialize)]
pub(crate) struct ProduceTopicWire {
    name: String,
    partitions: Vec<ProducePartitionWire>,
}

#[derive(Archive, Serialize, Deserialize)]
pub(crate) struct ProduceRequestWire {
    acks: Acks,
    timeout_ms: u32,
    topics: Vec<ProduceTopicWire>,
}

impl ProduceRequest {
    /// The wire form, appending every partition's records to `data`.
    pub(crate) fn to_wire(&self, data: &mut DataSectionWriter) -> Result<ProduceRequestWire, EncodeError> {
        let mut topics = Vec::with_capacity(self.topics.len());
        for t in &self.topics {
            let mut partitions = Vec::with_capacity(t.partitions.len());
            for p in &t.partitions {
                partitions.push(ProducePartitionWire { partition: p.partition, records: data.push(&p.records)? });
            }
            topics.push(ProduceTopicWire { name: t.name.clone(), partitions });
        }
        Ok(ProduceRequestWire { acks: self.acks, timeout_ms: self.timeout_ms, topics })
    }
}

impl ProduceRequestWire {
    /// The request, with every reference resolved to a zero-copy slice of `data`.
    pub(crate) fn resolve(self, data: &mut DataSectionReader<'_>) -> Result<ProduceRequest, ProtocolError> {
        let mut topics = Vec::with_capacity(self.topics.len());
        for t in self.topics {
            let mut partitions = Vec::with_capacity(t.partitions.len());
            for p in t.partitions {
                partitions.push(ProducePartition {
                    partition: p.partition,
                    records: data.take(p.records.offset, p.records.len)?,
                });
            }
            topics.push(ProduceTopic { name: t.name, partitions });
        }
        Ok(ProduceRequest { acks: self.acks, timeout_ms: self.timeout_ms, topics })
    }
}

impl Check for ArchivedProducePartitionWire {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        Ok(()) // the reference is checked when resolved against the data section
    }
}

impl Check for ArchivedProduceTopicWire {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_name(&self.name)?;
        check::partitions(&self.partitions, budget)
    }
}

impl Check for ArchivedProduceRequestWire {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topics(&self.topics, budget)
    }
}

impl Check for ArchivedProducePartitionResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check_owner_hint(&self.current_owner, budget)
    }
}

impl Check for ArchivedProduceTopicResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_name(&self.name)?;
        check::partitions(&self.partitions, budget)
    }
}

impl Check for ArchivedProduceResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check::topics(&self.topics, budget)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_numbering() {
        for acks in [Acks::None, Acks::Leader, Acks::All] {
            assert_eq!(Acks::from_i16(acks.as_i16()), Some(acks));
        }
        assert_eq!(Acks::from_i16(2), None);
        assert_eq!(Acks::All.as_i16(), -1);
    }
}
