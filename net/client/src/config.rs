//! [`ClientConfig`]: connection and metadata settings shared by everything
//! that talks to brokers through one [`Cluster`](super::Cluster).

use std::time::Duration;

use corelog_protocol::limits::DEFAULT_MAX_FRAME_BYTES;

/// Settings of the connections a [`Cluster`](super::Cluster) opens and of its
/// metadata cache.
///
/// ```
/// use std::time::Duration;
/// use corelog_client::ClientConfig;
///
/// let config = ClientConfig { request_timeout: Duration::from_secs(5), ..ClientConfig::default() };
/// assert_eq!(config.max_in_flight, 64);
/// ```
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Sent in the ApiVersions handshake, for the broker's logs. Default `"corelog-client"`.
    pub client_id: String,
    /// How long to wait for a TCP connection. Default 10 s.
    pub connect_timeout: Duration,
    /// How long to wait for a response (from the moment the request is
    /// queued, so time spent waiting for an in-flight slot counts). Long
    /// polls add their own wait on top. Default 30 s.
    pub request_timeout: Duration,
    /// Most requests in flight on one connection (pipelining depth); more
    /// wait for a slot. Default 64.
    pub max_in_flight: usize,
    /// Largest response frame accepted (a larger one closes the connection).
    /// Must exceed the largest fetch response asked for. Default 64 MiB.
    pub max_frame_bytes: usize,
    /// Pause before retrying after a retriable error. Default 100 ms.
    pub retry_backoff: Duration,
    /// How long to keep retrying when no endpoint accepts a connection
    /// (refused or reset: a broker starting or restarting), pausing from
    /// `retry_backoff` doubling up to 1 s, before failing with
    /// [`ClientError::NoBrokers`](crate::ClientError::NoBrokers). Default 30 s.
    pub reconnect_timeout: Duration,
    /// Metadata older than this is refreshed before use. Default 5 min.
    pub metadata_max_age: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            client_id: "corelog-client".into(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_in_flight: 64,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES.max(64 << 20),
            retry_backoff: Duration::from_millis(100),
            reconnect_timeout: Duration::from_secs(30),
            metadata_max_age: Duration::from_secs(300),
        }
    }
}
