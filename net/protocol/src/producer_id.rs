//! InitProducerId: a producer id and epoch for an idempotent producer
//! (Kafka's InitProducerId without transactions). Any core answers; ids are
//! unique across the cluster and never handed out twice, restarts included,
//! and always come with epoch 0: as in Kafka, a producer without a
//! transactional id that must start its sequences over asks for a new id.

use rkyv::{Archive, Deserialize, Serialize};

use super::check::{self, Budget, Check};
use super::error::ProtocolError;
use super::error_code::ErrorCode;

/// InitProducerId request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct InitProducerIdRequest {}

/// A producer id with one of its epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct ProducerIdAndEpoch {
    /// Kafka's producer id (non-negative).
    pub producer_id: i64,
    /// Kafka's producer epoch (non-negative).
    pub epoch: i16,
}

/// InitProducerId response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct InitProducerIdResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
    /// The id and epoch to write with; `None` with an error.
    pub assigned: Option<ProducerIdAndEpoch>,
}

impl Check for ArchivedInitProducerIdRequest {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        Ok(())
    }
}

impl Check for ArchivedInitProducerIdResponse {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)
    }
}
