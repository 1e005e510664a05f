//! The consumer protocol: what consumers put in the opaque bytes of the group
//! apis (like Kafka's `ConsumerProtocol`). The coordinator never looks inside;
//! the group leader decodes every member's [`Subscription`] (JoinGroup
//! `metadata`), computes an [`Assignment`] per member with the chosen
//! assignor, and sends them encoded in SyncGroup.
//!
//! # Byte layout
//!
//! ```text
//! 0        2        4
//! ┌────────┬────────┬──────────────────────────────────────────────┐
//! │version │ flags  │ rkyv archive of Subscription / Assignment    │
//! │u16 LE  │u16 LE=0│ (root at the end, as rkyv lays it out)       │
//! └────────┴────────┴──────────────────────────────────────────────┘
//! ```
//!
//! `version` is [`CONSUMER_PROTOCOL_VERSION`]; a change to the archived
//! structs is a new version (rkyv archives are not self-describing). Decoding
//! validates the archive (`rkyv::access`, bytecheck — never unchecked; the
//! bytes come from other clients through the broker), checks every count and
//! length against [`super::limits`], and copies the archive to an aligned
//! buffer first when needed.
//!
//! ```
//! use corelog_protocol::consumer_protocol::{Assignment, Subscription, TopicPartitions};
//!
//! let sub = Subscription { topics: vec!["orders".into()], ..Default::default() };
//! assert_eq!(Subscription::decode(&sub.encode()).unwrap(), sub);
//!
//! let assignment = Assignment {
//!     partitions: vec![TopicPartitions { topic: "orders".into(), partitions: vec![0, 3] }],
//!     user_data: vec![],
//! };
//! assert_eq!(Assignment::decode(&assignment.encode()).unwrap(), assignment);
//! ```

use rkyv::api::high::HighValidator;
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::{Error as RkyvError, Strategy};
use rkyv::util::AlignedVec;
use rkyv::{Archive, Deserialize, Portable, Serialize};

use super::check::{self, Budget, Check};
use super::error::ProtocolError;

/// The `protocol_type` consumers join groups with.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// Kafka's range assignor: per topic, contiguous partition ranges.
pub const RANGE_ASSIGNOR: &str = "range";

/// Kafka's round-robin assignor: every subscribed partition dealt in turn.
pub const ROUND_ROBIN_ASSIGNOR: &str = "roundrobin";

/// Kafka's sticky assignor: balanced, moving as few partitions as possible
/// (members report their `owned_partitions`).
pub const STICKY_ASSIGNOR: &str = "sticky";

/// kafkajs's round-robin assignor (its default and only built-in one), by
/// the name it joins with; same subscription and assignment encoding.
pub const KAFKAJS_ROUND_ROBIN_ASSIGNOR: &str = "RoundRobinAssigner";

/// The assignors the coordinator accepts in a consumer group's JoinGroup; a
/// join naming none of them gets `InconsistentGroupProtocol`.
pub const KNOWN_ASSIGNORS: [&str; 4] =
    [RANGE_ASSIGNOR, ROUND_ROBIN_ASSIGNOR, STICKY_ASSIGNOR, KAFKAJS_ROUND_ROBIN_ASSIGNOR];

/// The version this build writes and reads.
pub const CONSUMER_PROTOCOL_VERSION: u16 = 0;

/// Bytes before the archive: version and flags.
const HEADER_LEN: usize = 4;

/// Alignment the archive is validated at.
const ALIGNMENT: usize = 16;

/// Some partitions of one topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Archive, Serialize, Deserialize)]
pub struct TopicPartitions {
    /// Topic name.
    pub topic: String,
    /// Partition ids.
    pub partitions: Vec<u32>,
}

impl TopicPartitions {
    /// `partitions` of `topic`.
    pub fn new(topic: impl Into<String>, partitions: impl IntoIterator<Item = u32>) -> Self {
        TopicPartitions { topic: topic.into(), partitions: partitions.into_iter().collect() }
    }
}

/// A consumer's subscription: the JoinGroup `metadata` of each protocol it offers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct Subscription {
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// Assignor-specific data (opaque to everyone but the assignor).
    pub user_data: Vec<u8>,
    /// The partitions the member owns now (for the sticky assignor).
    pub owned_partitions: Vec<TopicPartitions>,
}

/// A consumer's assignment: what the leader sends for it in SyncGroup.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct Assignment {
    /// The partitions the member is to consume.
    pub partitions: Vec<TopicPartitions>,
    /// Assignor-specific data.
    pub user_data: Vec<u8>,
}

/// Why consumer-protocol bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsumerProtocolError {
    /// Fewer bytes than the header.
    #[error("consumer protocol data of {0} bytes is shorter than its header")]
    TooShort(usize),
    /// A version (or flags) this build does not know.
    #[error("unsupported consumer protocol version {version} (flags {flags:#x})")]
    UnsupportedVersion {
        /// The version found.
        version: u16,
        /// The flags found.
        flags: u16,
    },
    /// Not a valid archive, or a count or length over a protocol limit.
    #[error("invalid consumer protocol data: {0}")]
    Invalid(String),
}

impl Subscription {
    /// Encodes the subscription (header + archive).
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes and validates bytes from [`Subscription::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, ConsumerProtocolError> {
        decode::<Self>(bytes)
    }
}

impl Assignment {
    /// Encodes the assignment (header + archive).
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes and validates bytes from [`Assignment::encode`]. Empty bytes
    /// (what a member the leader left out receives) decode as an empty
    /// assignment.
    pub fn decode(bytes: &[u8]) -> Result<Self, ConsumerProtocolError> {
        if bytes.is_empty() {
            return Ok(Assignment::default());
        }
        decode::<Self>(bytes)
    }
}

fn encode<T>(value: &T) -> Vec<u8>
where
    T: for<'a> Serialize<rkyv::api::high::HighSerializer<AlignedVec, rkyv::ser::allocator::ArenaHandle<'a>, RkyvError>>,
{
    // Serializing plain owned data into memory has no failure mode but
    // allocation failure (which aborts anyway).
    let archive = rkyv::to_bytes::<RkyvError>(value).unwrap_or_default();
    let mut out = Vec::with_capacity(HEADER_LEN + archive.len());
    out.extend_from_slice(&CONSUMER_PROTOCOL_VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&archive);
    out
}

fn decode<T>(bytes: &[u8]) -> Result<T, ConsumerProtocolError>
where
    T: Archive,
    T::Archived: Portable
        + for<'a> CheckBytes<HighValidator<'a, RkyvError>>
        + Check
        + rkyv::Deserialize<T, Strategy<rkyv::de::Pool, RkyvError>>,
{
    let Some((header, archive)) = bytes.split_first_chunk::<HEADER_LEN>() else {
        return Err(ConsumerProtocolError::TooShort(bytes.len()));
    };
    let version = u16::from_le_bytes([header[0], header[1]]);
    let flags = u16::from_le_bytes([header[2], header[3]]);
    if version != CONSUMER_PROTOCOL_VERSION || flags != 0 {
        return Err(ConsumerProtocolError::UnsupportedVersion { version, flags });
    }
    let invalid = |e: RkyvError| ConsumerProtocolError::Invalid(e.to_string());
    let run = |archived: &T::Archived| {
        // Assignments of big consumers can be large: allow a response's budget.
        archived.check(&mut Budget::response()).map_err(|e| ConsumerProtocolError::Invalid(e.to_string()))?;
        rkyv::deserialize::<T, RkyvError>(archived).map_err(invalid)
    };
    if (archive.as_ptr() as usize).is_multiple_of(ALIGNMENT) {
        run(rkyv::access::<T::Archived, RkyvError>(archive).map_err(invalid)?)
    } else {
        let mut aligned = AlignedVec::<ALIGNMENT>::with_capacity(archive.len());
        aligned.extend_from_slice(archive);
        run(rkyv::access::<T::Archived, RkyvError>(&aligned).map_err(invalid)?)
    }
}

impl Check for ArchivedTopicPartitions {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_name(&self.topic)?;
        budget.partitions(self.partitions.len())
    }
}

impl Check for ArchivedSubscription {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_names(&self.topics, budget)?;
        check::member_bytes("subscription user data length", self.user_data.len())?;
        check::topics(&self.owned_partitions, budget)
    }
}

impl Check for ArchivedAssignment {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topics(&self.partitions, budget)?;
        check::member_bytes("assignment user data length", self.user_data.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    // The parent's rkyv `Strategy` would shadow proptest's.
    use proptest::strategy::Strategy;

    fn topic_partitions() -> impl Strategy<Value = TopicPartitions> {
        ("[a-z0-9._-]{1,20}", proptest::collection::vec(any::<u32>(), 0..10))
            .prop_map(|(topic, partitions)| TopicPartitions { topic, partitions })
    }

    fn subscription() -> impl Strategy<Value = Subscription> {
        (
            proptest::collection::vec("[a-z0-9._-]{1,20}", 0..6),
            proptest::collection::vec(any::<u8>(), 0..40),
            proptest::collection::vec(topic_partitions(), 0..4),
        )
            .prop_map(|(topics, user_data, owned_partitions)| Subscription {
                topics,
                user_data,
                owned_partitions,
            })
    }

    fn assignment() -> impl Strategy<Value = Assignment> {
        (proptest::collection::vec(topic_partitions(), 0..6), proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(partitions, user_data)| Assignment { partitions, user_data })
    }

    proptest! {
        #[test]
        fn subscriptions_round_trip(sub in subscription()) {
            prop_assert_eq!(Subscription::decode(&sub.encode()).unwrap(), sub);
        }

        #[test]
        fn assignments_round_trip(a in assignment()) {
            let bytes = a.encode();
            prop_assert_eq!(Assignment::decode(&bytes).unwrap(), a.clone());
            // Misaligned copies decode too.
            let mut shifted = vec![0u8];
            shifted.extend_from_slice(&bytes);
            prop_assert_eq!(Assignment::decode(&shifted[1..]).unwrap(), a);
        }

        #[test]
        fn random_and_mutated_bytes_never_panic(
            sub in subscription(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
            cut in proptest::option::of(any::<prop::sample::Index>()),
            random in proptest::collection::vec(any::<u8>(), 0..128),
        ) {
            let mut bytes = sub.encode();
            for (at, byte) in flips {
                let i = at.index(bytes.len());
                bytes[i] ^= byte;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            let _ = Subscription::decode(&bytes);
            let _ = Assignment::decode(&bytes);
            let _ = Subscription::decode(&random);
            let _ = Assignment::decode(&random);
        }
    }

    #[test]
    fn header_is_checked() {
        let bytes = Subscription::default().encode();
        assert_eq!(&bytes[..4], &[0, 0, 0, 0]);
        assert_eq!(Subscription::decode(&bytes[..3]), Err(ConsumerProtocolError::TooShort(3)));
        let mut newer = bytes.clone();
        newer[0] = 1;
        assert_eq!(
            Subscription::decode(&newer),
            Err(ConsumerProtocolError::UnsupportedVersion { version: 1, flags: 0 })
        );
        assert!(matches!(Subscription::decode(&[0, 0, 0, 0, 1, 2, 3]), Err(ConsumerProtocolError::Invalid(_))));
        assert_eq!(Assignment::decode(&[]), Ok(Assignment::default()));
    }

    #[test]
    fn limits_are_enforced() {
        let sub = Subscription {
            topics: vec!["x".repeat(super::super::limits::MAX_TOPIC_NAME_LEN + 1)],
            ..Default::default()
        };
        assert!(
            matches!(Subscription::decode(&sub.encode()), Err(ConsumerProtocolError::Invalid(m)) if m.contains("topic name"))
        );
    }

    #[test]
    fn known_assignors() {
        assert!(KNOWN_ASSIGNORS.contains(&"range"));
        assert!(KNOWN_ASSIGNORS.contains(&"roundrobin"));
        assert!(KNOWN_ASSIGNORS.contains(&"sticky"));
        assert!(KNOWN_ASSIGNORS.contains(&"RoundRobinAssigner"), "kafkajs's default");
        assert_eq!(CONSUMER_PROTOCOL_TYPE, "consumer");
    }
}
