//! Limit checks on validated archives, run *before* anything is deserialized
//! (so allocation is bounded by the limits, not just by the frame size).
//!
//! rkyv's bytecheck has already proved the archive structurally sound when
//! these run; they add the protocol's own bounds from [`super::limits`].

use rkyv::option::ArchivedOption;
use rkyv::string::ArchivedString;
use rkyv::vec::ArchivedVec;

use super::error::ProtocolError;
use super::limits::*;

/// Implemented by archived bodies and their parts.
pub(crate) trait Check {
    /// Checks every count and length against the limits, charging topic and
    /// partition counts to `budget`.
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError>;
}

/// Running totals of the topics and partitions a body may still carry.
#[derive(Debug)]
pub(crate) struct Budget {
    topics_left: usize,
    partitions_left: usize,
    max_topics: usize,
    max_partitions: usize,
}

impl Budget {
    /// The budget of one request.
    pub fn request() -> Self {
        Self::new(MAX_TOPICS_PER_REQUEST, MAX_PARTITIONS_PER_REQUEST)
    }

    /// The budget of one response.
    pub fn response() -> Self {
        Self::new(MAX_TOPICS_PER_RESPONSE, MAX_PARTITIONS_PER_RESPONSE)
    }

    fn new(max_topics: usize, max_partitions: usize) -> Self {
        Budget { topics_left: max_topics, partitions_left: max_partitions, max_topics, max_partitions }
    }

    /// Charges `n` topic entries.
    pub fn topics(&mut self, n: usize) -> Result<(), ProtocolError> {
        self.topics_left = self.topics_left.checked_sub(n).ok_or(ProtocolError::LimitExceeded {
            what: "number of topics",
            len: (self.max_topics - self.topics_left).saturating_add(n),
            max: self.max_topics,
        })?;
        Ok(())
    }

    /// Charges `n` partition entries.
    pub fn partitions(&mut self, n: usize) -> Result<(), ProtocolError> {
        self.partitions_left = self.partitions_left.checked_sub(n).ok_or(ProtocolError::LimitExceeded {
            what: "number of partitions",
            len: (self.max_partitions - self.partitions_left).saturating_add(n),
            max: self.max_partitions,
        })?;
        Ok(())
    }
}

/// `len <= max`, or a [`ProtocolError::LimitExceeded`] naming `what`.
pub(crate) fn limit(what: &'static str, len: usize, max: usize) -> Result<(), ProtocolError> {
    if len <= max {
        Ok(())
    } else {
        Err(ProtocolError::LimitExceeded { what, len, max })
    }
}

/// A topic name within [`MAX_TOPIC_NAME_LEN`] (characters are the handler's
/// business, see [`validate_topic_name`]).
pub(crate) fn topic_name(name: &ArchivedString) -> Result<(), ProtocolError> {
    limit("topic name length", name.len(), MAX_TOPIC_NAME_LEN)
}

/// A list of topic names: counted against the budget, each name bounded.
pub(crate) fn topic_names(names: &ArchivedVec<ArchivedString>, budget: &mut Budget) -> Result<(), ProtocolError> {
    budget.topics(names.len())?;
    names.iter().try_for_each(topic_name)
}

/// An optional error message within [`MAX_ERROR_MESSAGE_LEN`].
pub(crate) fn error_message(message: &ArchivedOption<ArchivedString>) -> Result<(), ProtocolError> {
    match message.as_ref() {
        Some(m) => limit("error message length", m.len(), MAX_ERROR_MESSAGE_LEN),
        None => Ok(()),
    }
}

/// A host name within [`MAX_HOST_LEN`].
pub(crate) fn host(host: &ArchivedString) -> Result<(), ProtocolError> {
    limit("host name length", host.len(), MAX_HOST_LEN)
}

/// A consumer-group id within [`MAX_GROUP_ID_LEN`] (emptiness is the
/// coordinator's business: it answers `InvalidRequest` with a message).
pub(crate) fn group_id(id: &ArchivedString) -> Result<(), ProtocolError> {
    limit("group id length", id.len(), MAX_GROUP_ID_LEN)
}

/// A list of group ids, bounded in count and length.
pub(crate) fn group_ids(ids: &ArchivedVec<ArchivedString>, max: usize) -> Result<(), ProtocolError> {
    limit("number of groups", ids.len(), max)?;
    ids.iter().try_for_each(group_id)
}

/// A group member id within [`MAX_MEMBER_ID_LEN`].
pub(crate) fn member_id(id: &ArchivedString) -> Result<(), ProtocolError> {
    limit("member id length", id.len(), MAX_MEMBER_ID_LEN)
}

/// A client id within [`MAX_CLIENT_ID_LEN`].
pub(crate) fn client_id(id: &ArchivedString) -> Result<(), ProtocolError> {
    limit("client id length", id.len(), MAX_CLIENT_ID_LEN)
}

/// A group protocol type or protocol name within [`MAX_GROUP_PROTOCOL_NAME_LEN`].
pub(crate) fn protocol_name(name: &ArchivedString) -> Result<(), ProtocolError> {
    limit("group protocol name length", name.len(), MAX_GROUP_PROTOCOL_NAME_LEN)
}

/// Opaque member metadata or assignment bytes within [`MAX_MEMBER_METADATA_BYTES`].
pub(crate) fn member_bytes(what: &'static str, len: usize) -> Result<(), ProtocolError> {
    limit(what, len, MAX_MEMBER_METADATA_BYTES)
}

/// Checks every element of a list of topic-level entries, charging the list's
/// length to the topic budget.
pub(crate) fn topics<T: Check>(items: &ArchivedVec<T>, budget: &mut Budget) -> Result<(), ProtocolError> {
    budget.topics(items.len())?;
    items.iter().try_for_each(|item| item.check(budget))
}

/// Checks every element of a list of partition-level entries, charging the
/// list's length to the partition budget.
pub(crate) fn partitions<T: Check>(items: &ArchivedVec<T>, budget: &mut Budget) -> Result<(), ProtocolError> {
    budget.partitions(items.len())?;
    items.iter().try_for_each(|item| item.check(budget))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_counts_across_calls() {
        let mut b = Budget::request();
        b.partitions(MAX_PARTITIONS_PER_REQUEST - 1).unwrap();
        b.partitions(1).unwrap();
        assert_eq!(
            b.partitions(1),
            Err(ProtocolError::LimitExceeded {
                what: "number of partitions",
                len: MAX_PARTITIONS_PER_REQUEST + 1,
                max: MAX_PARTITIONS_PER_REQUEST
            })
        );
        assert!(b.topics(MAX_TOPICS_PER_REQUEST + 1).is_err());
    }
}
