//! The producer's record types: [`ProducerRecord`] in, [`RecordMetadata`]
//! out through a [`DeliveryFuture`] or a [`DeliveryCallback`].

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::channel::oneshot;

use super::error::{ClientError, ClientResult};

/// A record to send.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProducerRecord {
    /// Topic name.
    pub topic: String,
    /// Partition; `None` to choose by key hash, or sticky for keyless records.
    pub partition: Option<u32>,
    /// Key (hashed to pick the partition unless one is given).
    pub key: Option<Bytes>,
    /// Value.
    pub value: Bytes,
    /// Create time in ms since the epoch; `None` for now.
    pub timestamp: Option<i64>,
    /// Application headers.
    pub headers: Vec<(String, Bytes)>,
}

impl ProducerRecord {
    /// A keyless record of `topic`.
    pub fn new(topic: impl Into<String>, value: impl Into<Bytes>) -> Self {
        ProducerRecord { topic: topic.into(), value: value.into(), ..Default::default() }
    }

    /// Sets the key.
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the partition.
    pub fn partition(mut self, partition: u32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the create time.
    pub fn timestamp(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = Some(timestamp_ms);
        self
    }

    /// Adds a header.
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.headers.push((key.into(), value.into()));
        self
    }
}

/// Where an acknowledged record was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// Topic name.
    pub topic: Rc<str>,
    /// Partition.
    pub partition: u32,
    /// The record's offset; `None` with [`Acks::None`](corelog_protocol::Acks::None) (no response to tell it).
    pub offset: Option<u64>,
    /// The record's timestamp: the broker's append time for log-append-time
    /// topics, else its create time.
    pub timestamp: i64,
}

/// Resolves when a sent record is acknowledged or has failed for good.
/// The record is sent whether or not this is polled.
#[must_use = "the future tells whether the record was delivered"]
pub struct DeliveryFuture {
    pub(crate) inner: Delivery,
}

pub(crate) enum Delivery {
    Waiting(oneshot::Receiver<ClientResult<RecordMetadata>>),
    Failed(Option<ClientError>),
}

impl Future for DeliveryFuture {
    type Output = ClientResult<RecordMetadata>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.inner {
            Delivery::Waiting(rx) => Pin::new(rx).poll(cx).map(|r| r.unwrap_or(Err(ClientError::Closed))),
            Delivery::Failed(err) => Poll::Ready(Err(err.take().unwrap_or(ClientError::Closed))),
        }
    }
}

/// Called exactly once with a record's outcome (see `Producer::send_with`).
pub type DeliveryCallback = Box<dyn FnOnce(ClientResult<RecordMetadata>)>;

/// Where a record's outcome goes: the future `send` returned or the callback
/// `send_with` was given. One that is dropped unreported (the producer was
/// dropped first) reports [`ClientError::Closed`].
pub(crate) struct ReportTo(Option<Target>);

enum Target {
    Future(oneshot::Sender<ClientResult<RecordMetadata>>),
    Callback(DeliveryCallback),
}

impl ReportTo {
    pub(crate) fn future(tx: oneshot::Sender<ClientResult<RecordMetadata>>) -> Self {
        ReportTo(Some(Target::Future(tx)))
    }

    pub(crate) fn callback(callback: DeliveryCallback) -> Self {
        ReportTo(Some(Target::Callback(callback)))
    }

    /// Hands a future its outcome now; a callback is returned instead, to be
    /// called once the producer's state is no longer borrowed (it may send).
    pub(crate) fn report(
        mut self,
        outcome: ClientResult<RecordMetadata>,
    ) -> Option<(DeliveryCallback, ClientResult<RecordMetadata>)> {
        match self.0.take() {
            Some(Target::Future(tx)) => {
                let _ = tx.send(outcome);
                None
            }
            Some(Target::Callback(callback)) => Some((callback, outcome)),
            None => None,
        }
    }
}

impl Drop for ReportTo {
    fn drop(&mut self) {
        if let Some(Target::Callback(callback)) = self.0.take() {
            callback(Err(ClientError::Closed));
        }
    }
}
