//! Rebalance callbacks and the future of an asynchronous commit.

use super::*;

/// Callbacks on assignment changes, called from within
/// [`GroupConsumer::poll`] (and [`GroupConsumer::close`]) with the consumer
/// itself, so they can commit, seek or look at positions. Calling `poll`
/// from a callback fails.
///
/// ```
/// use corelog_client::{GroupConsumer, RebalanceListener, TopicPartition};
/// use futures::future::LocalBoxFuture;
///
/// /// Commits what was processed before giving partitions up.
/// struct CommitOnRevoke;
///
/// impl RebalanceListener for CommitOnRevoke {
///     fn on_partitions_revoked<'a>(
///         &'a mut self,
///         consumer: &'a mut GroupConsumer,
///         _partitions: &'a [TopicPartition],
///     ) -> LocalBoxFuture<'a, ()> {
///         Box::pin(async move {
///             if let Err(e) = consumer.commit_sync().await {
///                 eprintln!("commit before the rebalance failed: {e}");
///             }
///         })
///     }
/// }
/// ```
pub trait RebalanceListener {
    /// Before `partitions` are given up in a rebalance (or on close), while
    /// the member can still commit their offsets. With auto-commit on, the
    /// positions have just been committed.
    fn on_partitions_revoked<'a>(
        &'a mut self,
        consumer: &'a mut GroupConsumer,
        partitions: &'a [TopicPartition],
    ) -> LocalBoxFuture<'a, ()> {
        let _ = (consumer, partitions);
        Box::pin(async {})
    }

    /// After the member got `partitions` (every partition of its new
    /// assignment) and before records of them are fetched.
    fn on_partitions_assigned<'a>(
        &'a mut self,
        consumer: &'a mut GroupConsumer,
        partitions: &'a [TopicPartition],
    ) -> LocalBoxFuture<'a, ()> {
        let _ = (consumer, partitions);
        Box::pin(async {})
    }

    /// When `partitions` already belong to others (the member's session
    /// timed out or it missed a rebalance): committing their offsets would
    /// fail. Nothing by default.
    fn on_partitions_lost<'a>(
        &'a mut self,
        consumer: &'a mut GroupConsumer,
        partitions: &'a [TopicPartition],
    ) -> LocalBoxFuture<'a, ()> {
        let _ = (consumer, partitions);
        Box::pin(async {})
    }
}

/// The outcome of [`GroupConsumer::commit_async`]: the offsets committed.
/// The commit goes ahead whether or not this is awaited.
pub struct CommitFuture {
    pub(super) rx: oneshot::Receiver<ClientResult<BTreeMap<TopicPartition, u64>>>,
}

impl Future for CommitFuture {
    type Output = ClientResult<BTreeMap<TopicPartition, u64>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx).poll(cx).map(|r| r.unwrap_or(Err(ClientError::Closed)))
    }
}
