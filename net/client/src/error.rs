//! [`ClientError`]: everything a client call can fail with, and whether
//! retrying can help.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use corelog_format::BatchError;

use corelog_protocol::{EncodeError, Endpoint, ErrorCode, FrameError, ProtocolError};

/// Result alias of the client library.
pub type ClientResult<T> = Result<T, ClientError>;

/// Why a client operation failed.
///
/// `Clone` because one failure often completes many waiters at once (every
/// request in flight on a dropped connection, every record of a failed batch).
/// [`ClientError::is_retriable`] says whether the same operation may succeed
/// if tried again (after a metadata refresh where that applies); the producer
/// and consumer retry those internally.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// Connecting, reading or writing failed.
    #[error("i/o error with {addr}: {source}")]
    Io {
        /// The peer.
        addr: SocketAddr,
        /// The underlying error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The connection closed (by the peer or after an error) while the
    /// request was queued or in flight; it may or may not have been processed.
    #[error("connection to {0} closed")]
    Disconnected(SocketAddr),
    /// The byte stream from the broker was not in frame; the connection was closed.
    #[error("framing error from {addr}: {source}")]
    Framing {
        /// The peer.
        addr: SocketAddr,
        /// What was wrong.
        #[source]
        source: FrameError,
    },
    /// A response frame could not be decoded, or did not answer the request.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A request could not be encoded (too large).
    #[error("cannot encode request: {0}")]
    Encode(#[from] EncodeError),
    /// Records could not be put into or read from a batch.
    #[error("record batch: {0}")]
    Batch(#[from] BatchError),
    /// The broker answered with an error code.
    #[error("broker error: {code}{}", fmt_message(.message))]
    Broker {
        /// The code.
        code: ErrorCode,
        /// The broker's detail, if any.
        message: Option<String>,
    },
    /// The topic does not exist (or is not known yet where asked).
    #[error("unknown topic {0:?}")]
    UnknownTopic(String),
    /// The topic has no such partition.
    #[error("unknown partition {partition} of topic {topic:?}")]
    UnknownPartition {
        /// Topic name.
        topic: String,
        /// Partition id.
        partition: u32,
    },
    /// The partition is owned by another core (or node) than the one asked,
    /// or currently has no owner.
    #[error("partition {partition} of topic {topic:?} is not owned by the endpoint asked")]
    NotOwner {
        /// Topic name.
        topic: String,
        /// Partition id.
        partition: u32,
        /// The owner the broker pointed at, if it said.
        current_owner: Option<Endpoint>,
    },
    /// A stored batch of the partition is damaged on the broker's disk and
    /// was not served (the broker's `CorruptMessage`). Not retriable: seek
    /// past it to go on; the broker's message says from which offset the
    /// log is readable again.
    #[error("corrupt data in topic {topic:?} partition {partition} at offset {offset}: {}", message.as_deref().unwrap_or("a stored batch is damaged"))]
    CorruptMessage {
        /// Topic name.
        topic: String,
        /// Partition id.
        partition: u32,
        /// The offset that was being read.
        offset: u64,
        /// The broker's detail: the damaged batch's offset, why, and the
        /// offset the log is readable again from.
        message: Option<String>,
    },
    /// The request got no answer in time.
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    /// No broker could be reached (every bootstrap and known endpoint failed).
    #[error("no broker reachable: {0}")]
    NoBrokers(String),
    /// The client was configured or called wrongly.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The producer, consumer or connection was closed before the operation completed.
    #[error("client closed")]
    Closed,
}

fn fmt_message(message: &Option<String>) -> String {
    message.as_ref().map(|m| format!(": {m}")).unwrap_or_default()
}

impl ClientError {
    /// Whether trying the same operation again may succeed: connection
    /// failures and timeouts, stale metadata (unknown topic/partition, not
    /// owner) and broker codes that [`ErrorCode::is_retriable`] says are
    /// transient.
    pub fn is_retriable(&self) -> bool {
        match self {
            ClientError::Io { .. }
            | ClientError::Disconnected(_)
            | ClientError::Framing { .. }
            | ClientError::Timeout(_)
            | ClientError::NoBrokers(_)
            | ClientError::UnknownTopic(_)
            | ClientError::UnknownPartition { .. }
            | ClientError::NotOwner { .. } => true,
            ClientError::Broker { code, .. } => code.is_retriable(),
            ClientError::Protocol(_)
            | ClientError::CorruptMessage { .. }
            | ClientError::Encode(_)
            | ClientError::Batch(_)
            | ClientError::InvalidArgument(_)
            | ClientError::Closed => false,
        }
    }

    /// Whether the cached metadata should be refreshed before a retry: the
    /// partition moved or is unknown, or its endpoint is unreachable (it may
    /// have moved).
    pub fn needs_metadata_refresh(&self) -> bool {
        match self {
            ClientError::UnknownTopic(_)
            | ClientError::UnknownPartition { .. }
            | ClientError::NotOwner { .. }
            | ClientError::Io { .. }
            | ClientError::Disconnected(_) => true,
            ClientError::Broker { code, .. } => {
                matches!(
                    code,
                    ErrorCode::UnknownTopic
                        | ErrorCode::UnknownPartition
                        | ErrorCode::NotOwner
                        | ErrorCode::LeaderNotAvailable
                        | ErrorCode::FencedLeaderEpoch
                        | ErrorCode::UnknownLeaderEpoch
                )
            }
            _ => false,
        }
    }

    /// The broker error code this error stands for, if it came from one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Broker { code, .. } => Some(*code),
            ClientError::UnknownTopic(_) => Some(ErrorCode::UnknownTopic),
            ClientError::UnknownPartition { .. } => Some(ErrorCode::UnknownPartition),
            ClientError::NotOwner { .. } => Some(ErrorCode::NotOwner),
            ClientError::CorruptMessage { .. } => Some(ErrorCode::CorruptMessage),
            _ => None,
        }
    }

    /// An [`ClientError::Io`] for `addr`.
    pub(crate) fn io(addr: SocketAddr, source: std::io::Error) -> Self {
        ClientError::Io { addr, source: Arc::new(source) }
    }

    /// The error for a request- or topic-level `code` (which must not be
    /// [`ErrorCode::None`]).
    pub(crate) fn broker(code: ErrorCode, message: Option<String>) -> Self {
        ClientError::Broker { code, message }
    }

    /// The error for a per-partition `code` (not [`ErrorCode::None`]), with the
    /// metadata-related codes mapped to their own variants.
    pub(crate) fn for_partition(
        code: ErrorCode,
        message: Option<String>,
        topic: &str,
        partition: u32,
        current_owner: Option<Endpoint>,
    ) -> Self {
        match code {
            ErrorCode::UnknownTopic => ClientError::UnknownTopic(topic.to_owned()),
            ErrorCode::UnknownPartition => ClientError::UnknownPartition { topic: topic.to_owned(), partition },
            ErrorCode::NotOwner => ClientError::NotOwner { topic: topic.to_owned(), partition, current_owner },
            _ => ClientError::Broker { code, message },
        }
    }

    /// The error for a per-topic `code` (not [`ErrorCode::None`]).
    pub(crate) fn for_topic(code: ErrorCode, message: Option<String>, topic: &str) -> Self {
        match code {
            ErrorCode::UnknownTopic => ClientError::UnknownTopic(topic.to_owned()),
            _ => ClientError::Broker { code, message },
        }
    }
}

impl From<ProtocolError> for ClientError {
    fn from(e: ProtocolError) -> Self {
        ClientError::Protocol(e.to_string())
    }
}

/// `Ok(())` for [`ErrorCode::None`], else the request-level error.
pub(crate) fn check_code(code: ErrorCode, message: Option<String>) -> ClientResult<()> {
    if code.is_ok() {
        Ok(())
    } else {
        Err(ClientError::broker(code, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retriable_classification() {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert!(ClientError::Disconnected(addr).is_retriable());
        assert!(ClientError::Timeout(Duration::from_secs(1)).is_retriable());
        assert!(ClientError::io(addr, std::io::ErrorKind::ConnectionRefused.into()).is_retriable());
        assert!(ClientError::for_partition(ErrorCode::NotOwner, None, "t", 0, None).is_retriable());
        assert!(ClientError::broker(ErrorCode::RequestTimedOut, None).is_retriable());
        assert!(!ClientError::broker(ErrorCode::CorruptBatch, None).is_retriable());
        assert!(!ClientError::broker(ErrorCode::TopicAlreadyExists, None).is_retriable());
        assert!(!ClientError::Closed.is_retriable());
        assert!(!ClientError::Protocol("x".into()).is_retriable());
    }

    #[test]
    fn partition_codes_map_to_variants() {
        let e = ClientError::for_partition(ErrorCode::UnknownPartition, None, "t", 3, None);
        assert!(matches!(e, ClientError::UnknownPartition { partition: 3, .. }));
        assert!(e.needs_metadata_refresh());
        assert_eq!(e.code(), Some(ErrorCode::UnknownPartition));
        let e = ClientError::for_partition(ErrorCode::OffsetOutOfRange, Some("past end".into()), "t", 0, None);
        assert_eq!(e.code(), Some(ErrorCode::OffsetOutOfRange));
        assert!(!e.needs_metadata_refresh());
        assert!(e.to_string().contains("past end"));
    }

    #[test]
    fn corrupt_message_names_the_partition_and_is_final() {
        let message = Some("stored batch at offset 150 is damaged".to_owned());
        let e = ClientError::CorruptMessage { topic: "t".into(), partition: 2, offset: 150, message };
        assert!(!e.is_retriable());
        assert!(!e.needs_metadata_refresh());
        assert_eq!(e.code(), Some(ErrorCode::CorruptMessage));
        let text = e.to_string();
        assert!(text.contains("corrupt") && text.contains("\"t\" partition 2 at offset 150"), "{text}");
        assert!(text.contains("stored batch at offset 150 is damaged"), "{text}");
    }
}
