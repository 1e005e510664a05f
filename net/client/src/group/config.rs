//! [`GroupConfig`]: a group consumer's settings and their checks.

use super::*;

/// Settings of a [`GroupConsumer`].
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// The group to join (required).
    pub group_id: String,
    /// The client id the group's description shows (the prefix of the member
    /// id the coordinator gives out). Default `"corelog-consumer"`.
    pub client_id: String,
    /// The member is removed from the group when the coordinator has not
    /// heard from it for this long. Must lie within the broker's bounds
    /// (default 6 s to 30 min). Default 10 s.
    pub session_timeout: Duration,
    /// How long the coordinator waits for every member to rejoin during a
    /// rebalance (members that do not are removed); also the longest a
    /// member may go between polls: one that does not poll for this long
    /// leaves the group, so its partitions move (Kafka's
    /// `max.poll.interval.ms`). Default 60 s.
    pub rebalance_timeout: Duration,
    /// How often to heartbeat; `None`: a third of the session timeout (the
    /// default). Must be below the session timeout.
    pub heartbeat_interval: Option<Duration>,
    /// The assignors this member offers, most preferred first. Default:
    /// range, round-robin, sticky.
    pub assignors: Vec<Assignor>,
    /// Commit positions automatically every interval (in `poll`), before
    /// partitions are revoked, and on close; `None`: only
    /// [`GroupConsumer::commit_sync`] / [`GroupConsumer::commit_async`]
    /// commit. Default every 5 s.
    pub auto_commit: Option<Duration>,
    /// Where a partition starts when the group has no committed offset for
    /// it: [`OffsetReset::Earliest`], [`OffsetReset::Latest`] (the default),
    /// or [`OffsetReset::None`] (`poll` fails). A committed offset always
    /// wins; a committed offset outside the log is reset per
    /// [`ConsumerConfig::auto_reset`].
    pub auto_offset_reset: OffsetReset,
    /// How often the leader checks the group's topics for new partitions.
    /// Default 30 s.
    pub metadata_refresh: Duration,
    /// The fetching consumer's settings.
    pub consumer: ConsumerConfig,
}

impl GroupConfig {
    /// The defaults, for `group_id`.
    pub fn new(group_id: impl Into<String>) -> GroupConfig {
        GroupConfig {
            group_id: group_id.into(),
            client_id: "corelog-consumer".into(),
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(60),
            heartbeat_interval: None,
            assignors: vec![Assignor::Range, Assignor::RoundRobin, Assignor::Sticky],
            auto_commit: Some(Duration::from_secs(5)),
            auto_offset_reset: OffsetReset::Latest,
            metadata_refresh: Duration::from_secs(30),
            consumer: ConsumerConfig::default(),
        }
    }

    /// The heartbeat interval in effect.
    pub fn effective_heartbeat_interval(&self) -> Duration {
        self.heartbeat_interval.unwrap_or(self.session_timeout / 3)
    }

    pub(super) fn validate(&self) -> ClientResult<()> {
        let bad = |m: String| Err(ClientError::InvalidArgument(m));
        if self.group_id.is_empty() {
            return bad("the group id must not be empty".into());
        }
        if self.assignors.is_empty() {
            return bad("at least one assignor is needed".into());
        }
        if self.session_timeout.is_zero() || self.rebalance_timeout.is_zero() {
            return bad("the session and rebalance timeouts must be positive".into());
        }
        let heartbeat = self.effective_heartbeat_interval();
        if heartbeat.is_zero() || heartbeat >= self.session_timeout {
            return bad(format!(
                "the heartbeat interval ({heartbeat:?}) must be positive and below the session timeout ({:?})",
                self.session_timeout
            ));
        }
        if self.auto_commit.is_some_and(|i| i.is_zero()) {
            return bad("the auto-commit interval must be positive".into());
        }
        Ok(())
    }
}
