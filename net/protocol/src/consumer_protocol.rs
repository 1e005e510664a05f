//! The consumer protocol: what consumers put in the opaque bytes of the group
//! apis (like Kafka's `ConsumerProtocol`). The coordinator never looks inside;
//! the group leader decodes every member's [`Subscription`] (JoinGroup
//! `metadata`), computes an [`Assignment`] per member with the chosen
//! assignor, and sends them encoded in SyncGroup.
//!
//! # Byte layout
//!
//! Kafka's own `ConsumerProtocolSubscription` / `ConsumerProtocolAssignment`
//! (big-endian, as in Kafka's schemas), so Kafka consumers (librdkafka,
//! kafka-python, kafkajs, Java) and corelog consumers understand each other's
//! subscriptions and assignments and can share a group:
//!
//! ```text
//! Subscription (written as v0, or v1 when it names owned partitions):
//!   version            i16       0..=3 read; fields of later versions ignored
//!   topics             i32 count, then per topic: i16 length + UTF-8 name
//!   user_data          i32 length (-1: null, read as empty) + bytes
//!   owned_partitions   v1+: i32 count, per topic: name (as above),
//!                      i32 count + i32 partition ids
//!   generation_id      v2+: i32 (ignored)
//!   rack_id            v3+: i16 length (-1: null) + bytes (ignored)
//! Assignment (written as v0; every version has this layout):
//!   version            i16
//!   assigned           i32 count, per topic: name, i32 count + i32 partition ids
//!   user_data          i32 length (-1: null) + bytes
//! ```
//!
//! Decoding checks every count and length against the bytes left and the
//! limits in [`super::limits`] (topic name length, member metadata size, the
//! response budget of topics and partitions) before allocating, and never
//! panics: the bytes come from other clients through the broker.
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

use super::check::{self, Budget};
use super::limits::MAX_TOPIC_NAME_LEN;

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

/// The newest version of Kafka's consumer protocol this build reads (later
/// ones are read as this one, their extra fields ignored, as Kafka does).
pub const CONSUMER_PROTOCOL_VERSION: u16 = 3;

/// Bytes of the version field.
const HEADER_LEN: usize = 2;

/// Some partitions of one topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// Assignor-specific data (opaque to everyone but the assignor).
    pub user_data: Vec<u8>,
    /// The partitions the member owns now (for the sticky assignor).
    pub owned_partitions: Vec<TopicPartitions>,
}

/// A consumer's assignment: what the leader sends for it in SyncGroup.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
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
    /// A negative version.
    #[error("unsupported consumer protocol version {version}")]
    UnsupportedVersion {
        /// The version found.
        version: i16,
    },
    /// Truncated, not UTF-8, or a count or length over a protocol limit.
    #[error("invalid consumer protocol data: {0}")]
    Invalid(String),
}

impl Subscription {
    /// Encodes the subscription: v0, or v1 when it names owned partitions.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        let v1 = !self.owned_partitions.is_empty();
        w.i16(i16::from(v1));
        w.len(self.topics.len());
        self.topics.iter().for_each(|t| w.string(t));
        w.bytes(&self.user_data);
        if v1 {
            w.topic_partitions(&self.owned_partitions);
        }
        w.0
    }

    /// Decodes and validates a subscription any Kafka consumer wrote.
    pub fn decode(bytes: &[u8]) -> Result<Self, ConsumerProtocolError> {
        let mut r = Reader::new(bytes)?;
        let mut budget = Budget::response();
        let count = r.count(2, "subscribed topics")?;
        budget.topics(count).map_err(invalid)?;
        let topics = (0..count).map(|_| r.topic()).collect::<Result<Vec<_>, _>>()?;
        let user_data = r.bytes("subscription user data length")?;
        let owned_partitions = if r.version >= 1 { r.topic_partitions(&mut budget)? } else { Vec::new() };
        // Later fields (generation id, rack) are not used.
        Ok(Subscription { topics, user_data, owned_partitions })
    }
}

impl Assignment {
    /// Encodes the assignment (v0).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.i16(0);
        w.topic_partitions(&self.partitions);
        w.bytes(&self.user_data);
        w.0
    }

    /// Decodes and validates an assignment any Kafka consumer wrote. Empty
    /// bytes (what a member the leader left out receives) decode as an
    /// empty assignment.
    pub fn decode(bytes: &[u8]) -> Result<Self, ConsumerProtocolError> {
        if bytes.is_empty() {
            return Ok(Assignment::default());
        }
        let mut r = Reader::new(bytes)?;
        let partitions = r.topic_partitions(&mut Budget::response())?;
        let user_data = r.bytes("assignment user data length")?;
        Ok(Assignment { partitions, user_data })
    }
}

fn invalid(e: super::error::ProtocolError) -> ConsumerProtocolError {
    ConsumerProtocolError::Invalid(e.to_string())
}

/// Big-endian writer of the layout above. Lengths are those of values this
/// build made (bounded by the limits), so they fit their fields.
#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn i16(&mut self, v: i16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    fn len(&mut self, n: usize) {
        self.0.extend_from_slice(&i32::try_from(n).unwrap_or(i32::MAX).to_be_bytes());
    }

    fn string(&mut self, s: &str) {
        self.i16(i16::try_from(s.len()).unwrap_or(i16::MAX));
        self.0.extend_from_slice(s.as_bytes());
    }

    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.0.extend_from_slice(b);
    }

    fn topic_partitions(&mut self, topics: &[TopicPartitions]) {
        self.len(topics.len());
        for t in topics {
            self.string(&t.topic);
            self.len(t.partitions.len());
            for p in &t.partitions {
                self.0.extend_from_slice(&p.to_be_bytes());
            }
        }
    }
}

/// Bounded big-endian reader of the layout above.
struct Reader<'a> {
    rest: &'a [u8],
    version: i16,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Result<Reader<'a>, ConsumerProtocolError> {
        let Some((version, rest)) = bytes.split_first_chunk::<HEADER_LEN>() else {
            return Err(ConsumerProtocolError::TooShort(bytes.len()));
        };
        let version = i16::from_be_bytes(*version);
        if version < 0 {
            return Err(ConsumerProtocolError::UnsupportedVersion { version });
        }
        Ok(Reader { rest, version })
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ConsumerProtocolError> {
        if n > self.rest.len() {
            return Err(ConsumerProtocolError::Invalid(format!("{what}: {n} bytes, {} left", self.rest.len())));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn i16(&mut self, what: &str) -> Result<i16, ConsumerProtocolError> {
        let b = self.take(2, what)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self, what: &str) -> Result<i32, ConsumerProtocolError> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An array count, bounded by the bytes left at `min_size` per element.
    fn count(&mut self, min_size: usize, what: &str) -> Result<usize, ConsumerProtocolError> {
        let n = self.i32(what)?;
        let n = usize::try_from(n).map_err(|_| ConsumerProtocolError::Invalid(format!("{what}: count {n}")))?;
        if n.saturating_mul(min_size) > self.rest.len() {
            return Err(ConsumerProtocolError::Invalid(format!("{what}: {n} entries in {} bytes", self.rest.len())));
        }
        Ok(n)
    }

    fn topic(&mut self) -> Result<String, ConsumerProtocolError> {
        let len = self.i16("topic name length")?;
        let len = usize::try_from(len).map_err(|_| ConsumerProtocolError::Invalid("null topic name".into()))?;
        check::limit("topic name length", len, MAX_TOPIC_NAME_LEN).map_err(invalid)?;
        let raw = self.take(len, "topic name")?;
        String::from_utf8(raw.to_vec()).map_err(|_| ConsumerProtocolError::Invalid("topic name is not UTF-8".into()))
    }

    /// Nullable bytes (null reads as empty), within the member bytes limit.
    fn bytes(&mut self, what: &'static str) -> Result<Vec<u8>, ConsumerProtocolError> {
        let len = self.i32(what)?;
        let Ok(len) = usize::try_from(len) else { return Ok(Vec::new()) };
        check::member_bytes(what, len).map_err(invalid)?;
        Ok(self.take(len, what)?.to_vec())
    }

    fn topic_partitions(&mut self, budget: &mut Budget) -> Result<Vec<TopicPartitions>, ConsumerProtocolError> {
        // A topic entry is at least a name length and a partition count.
        let topics = self.count(6, "topics")?;
        budget.topics(topics).map_err(invalid)?;
        let mut out = Vec::with_capacity(topics);
        for _ in 0..topics {
            let topic = self.topic()?;
            let n = self.count(4, "partitions")?;
            budget.partitions(n).map_err(invalid)?;
            let partitions = (0..n)
                .map(|_| {
                    let p = self.i32("partition")?;
                    u32::try_from(p).map_err(|_| ConsumerProtocolError::Invalid(format!("partition {p}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.push(TopicPartitions { topic, partitions });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::strategy::Strategy;

    fn topic_partitions() -> impl Strategy<Value = TopicPartitions> {
        ("[a-z0-9._-]{1,20}", proptest::collection::vec(0..=i32::MAX as u32, 0..10))
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
            prop_assert_eq!(Assignment::decode(&a.encode()).unwrap(), a);
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

    /// Kafka's layout byte for byte (what kafka-python and librdkafka send).
    #[test]
    fn golden_bytes() {
        let sub = Subscription { topics: vec!["ab".into()], user_data: vec![7], owned_partitions: vec![] };
        assert_eq!(sub.encode(), [0, 0, 0, 0, 0, 1, 0, 2, b'a', b'b', 0, 0, 0, 1, 7]);
        let owned = Subscription { owned_partitions: vec![TopicPartitions::new("ab", [5])], ..sub.clone() };
        assert_eq!(
            owned.encode(),
            [0, 1, 0, 0, 0, 1, 0, 2, b'a', b'b', 0, 0, 0, 1, 7, 0, 0, 0, 1, 0, 2, b'a', b'b', 0, 0, 0, 1, 0, 0, 0, 5]
        );
        let a = Assignment { partitions: vec![TopicPartitions::new("ab", [0, 3])], user_data: vec![] };
        assert_eq!(a.encode(), [0, 0, 0, 0, 0, 1, 0, 2, b'a', b'b', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0]);
    }

    #[test]
    fn other_clients_versions_and_nulls_decode() {
        // kafka-python's v0 subscription with null user data.
        let v0 = [0, 0, 0, 0, 0, 1, 0, 1, b't', 0xff, 0xff, 0xff, 0xff];
        assert_eq!(Subscription::decode(&v0).unwrap(), Subscription { topics: vec!["t".into()], ..Default::default() });
        // v3 (librdkafka 2.x): owned partitions, generation id and rack id after.
        let mut v3 = vec![0, 3, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 2];
        v3.extend_from_slice(&[0, 0, 0, 9, 0, 2, b'r', b'1']);
        let decoded = Subscription::decode(&v3).unwrap();
        assert_eq!(decoded.owned_partitions, vec![TopicPartitions::new("t", [2])]);
        assert_eq!(Subscription::decode(&[0]), Err(ConsumerProtocolError::TooShort(1)));
        assert_eq!(
            Subscription::decode(&[0x80, 0]),
            Err(ConsumerProtocolError::UnsupportedVersion { version: -32768 })
        );
        // A hostile count: refused before anything is allocated for it.
        assert!(matches!(
            Subscription::decode(&[0, 0, 0x7f, 0xff, 0xff, 0xff]),
            Err(ConsumerProtocolError::Invalid(_))
        ));
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
