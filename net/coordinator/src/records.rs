//! The records of the internal topic `__consumer_offsets`: what the
//! coordinator persists (through [`Command::Persist`](super::Command::Persist))
//! and replays on start ([`GroupCoordinator::replay`](super::GroupCoordinator::replay)).
//!
//! Each record's **key** says what it is about; its **value** is the latest
//! state of that thing, and an **empty value is a tombstone** (the thing was
//! deleted). Replaying a partition from the start and keeping the last value
//! per key gives the coordinator's state, so the topic could be compacted by
//! key (as Kafka does) without losing anything.
//!
//! # Byte layout
//!
//! Little-endian throughout. `str16` is a `u16` length then that many UTF-8
//! bytes; `bytes32` is a `u32` length then that many bytes.
//!
//! ```text
//! KEYS — start with a u16 key type
//!
//!   offset commit key (type 1)
//!   ┌────────┬──────────────┬──────────────┬─────────────┐
//!   │ type=1 │ group: str16 │ topic: str16 │ partition   │
//!   │ u16    │              │              │ u32         │
//!   └────────┴──────────────┴──────────────┴─────────────┘
//!
//!   group metadata key (type 2)
//!   ┌────────┬──────────────┐
//!   │ type=2 │ group: str16 │
//!   │ u16    │              │
//!   └────────┴──────────────┘
//!
//! VALUES — empty = tombstone; otherwise start with a u16 value version
//!
//!   offset commit value (version 0)
//!   ┌───────┬────────┬──────────────────────┬──────────────────┐
//!   │ ver=0 │ offset │ commit_timestamp_ms  │ metadata: bytes32│
//!   │ u16   │ u64    │ u64                  │ (UTF-8)          │
//!   └───────┴────────┴──────────────────────┴──────────────────┘
//!
//!   group metadata value (version 0)
//!   ┌───────┬───────────────┬────────────┬───────────┬─────────┬──────────────┬─────────┬─────────┐
//!   │ ver=0 │ protocol_type │ generation │ protocol  │ leader  │ timestamp_ms │ members │ member  │
//!   │ u16   │ str16         │ i32        │ str16     │ str16   │ u64          │ u32 (n) │ × n     │
//!   └───────┴───────────────┴────────────┴───────────┴─────────┴──────────────┴─────────┴─────────┘
//!   member:
//!   ┌───────────┬───────────┬───────┬──────────────┬───────────────┬──────────────┬────────────┐
//!   │ member_id │ client_id │ host  │ session_ms   │ rebalance_ms  │ subscription │ assignment │
//!   │ str16     │ str16     │ str16 │ u32          │ u32           │ bytes32      │ bytes32    │
//!   └───────────┴───────────┴───────┴──────────────┴───────────────┴──────────────┴────────────┘
//! ```
//!
//! `protocol` and `leader` are empty for a group without members;
//! `subscription` is the member's metadata for the chosen protocol.
//! `timestamp_ms` is when the record was written (the coordinator's `now`).
//! A group's offsets are tombstoned before its metadata when it is deleted or
//! expired, all in one [`Persist`](super::Persist).
//!
//! Decoding is bounds-checked and strict (no trailing bytes); a key type or
//! value version this build does not know is a [`RecordError`], which the
//! loader logs and skips.

use std::fmt;

/// Key type of an offset commit record.
pub const OFFSET_COMMIT_KEY: u16 = 1;
/// Key type of a group metadata record.
pub const GROUP_METADATA_KEY: u16 = 2;
/// The value version this build writes (and the only one it reads).
pub const VALUE_VERSION: u16 = 0;

/// One record to append to (or replayed from) `__consumer_offsets`.
#[derive(Clone, PartialEq, Eq)]
pub struct OffsetsRecord {
    /// The record key (see the layout above).
    pub key: Vec<u8>,
    /// The record value; empty for a tombstone.
    pub value: Vec<u8>,
}

impl OffsetsRecord {
    /// Whether this record deletes its key.
    pub fn is_tombstone(&self) -> bool {
        self.value.is_empty()
    }

    /// A tombstone for `key`.
    pub fn tombstone(key: &RecordKey) -> Self {
        OffsetsRecord { key: key.encode(), value: Vec::new() }
    }
}

impl fmt::Debug for OffsetsRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("OffsetsRecord");
        match RecordKey::decode(&self.key) {
            Ok(key) => d.field("key", &key),
            Err(_) => d.field("key", &self.key),
        };
        if self.value.is_empty() {
            d.field("value", &"<tombstone>");
        } else {
            d.field("value_len", &self.value.len());
        }
        d.finish()
    }
}

/// What a record is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKey {
    /// A group's committed offset for one partition.
    OffsetCommit {
        /// Group id.
        group: String,
        /// Topic name.
        topic: String,
        /// Partition id.
        partition: u32,
    },
    /// A group's metadata (generation, protocol, members and assignments).
    GroupMetadata {
        /// Group id.
        group: String,
    },
}

impl RecordKey {
    /// The group the record belongs to.
    pub fn group(&self) -> &str {
        match self {
            RecordKey::OffsetCommit { group, .. } | RecordKey::GroupMetadata { group } => group,
        }
    }

    /// The key's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        match self {
            RecordKey::OffsetCommit { group, topic, partition } => {
                w.u16(OFFSET_COMMIT_KEY);
                w.str16(group);
                w.str16(topic);
                w.u32(*partition);
            }
            RecordKey::GroupMetadata { group } => {
                w.u16(GROUP_METADATA_KEY);
                w.str16(group);
            }
        }
        w.0
    }

    /// Parses a key.
    pub fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(bytes);
        let key = match r.u16("key type")? {
            OFFSET_COMMIT_KEY => RecordKey::OffsetCommit {
                group: r.str16("group id")?,
                topic: r.str16("topic")?,
                partition: r.u32("partition")?,
            },
            GROUP_METADATA_KEY => RecordKey::GroupMetadata { group: r.str16("group id")? },
            other => return Err(RecordError::UnknownKeyType(other)),
        };
        r.finish()?;
        Ok(key)
    }
}

/// The value of an offset commit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitValue {
    /// The committed offset (the next offset to consume).
    pub offset: u64,
    /// The metadata string committed with it.
    pub metadata: String,
    /// When it was committed (ms since the Unix epoch).
    pub commit_timestamp_ms: u64,
}

impl OffsetCommitValue {
    /// The value's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u16(VALUE_VERSION);
        w.u64(self.offset);
        w.u64(self.commit_timestamp_ms);
        w.bytes32(self.metadata.as_bytes());
        w.0
    }

    /// Parses a (non-empty) value.
    pub fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(bytes);
        r.version()?;
        let offset = r.u64("offset")?;
        let commit_timestamp_ms = r.u64("commit timestamp")?;
        let metadata = r.string32("offset metadata")?;
        r.finish()?;
        Ok(OffsetCommitValue { offset, metadata, commit_timestamp_ms })
    }
}

/// One member in a group metadata record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberMetadataValue {
    /// Member id.
    pub member_id: String,
    /// Client id.
    pub client_id: String,
    /// The member's address.
    pub host: String,
    /// Session timeout.
    pub session_timeout_ms: u32,
    /// Rebalance timeout.
    pub rebalance_timeout_ms: u32,
    /// The member's metadata for the group's protocol.
    pub subscription: Vec<u8>,
    /// The member's assignment.
    pub assignment: Vec<u8>,
}

/// The value of a group metadata record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupMetadataValue {
    /// Protocol type (`""` for a group that only stores offsets).
    pub protocol_type: String,
    /// Generation.
    pub generation: i32,
    /// The generation's protocol (`""` without members).
    pub protocol: String,
    /// The generation's leader (`""` without members).
    pub leader: String,
    /// When the record was written (ms since the Unix epoch).
    pub timestamp_ms: u64,
    /// Members and their assignments.
    pub members: Vec<MemberMetadataValue>,
}

impl GroupMetadataValue {
    /// The value's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u16(VALUE_VERSION);
        w.str16(&self.protocol_type);
        w.u32(self.generation as u32);
        w.str16(&self.protocol);
        w.str16(&self.leader);
        w.u64(self.timestamp_ms);
        w.u32(u32::try_from(self.members.len()).unwrap_or(u32::MAX));
        for m in &self.members {
            w.str16(&m.member_id);
            w.str16(&m.client_id);
            w.str16(&m.host);
            w.u32(m.session_timeout_ms);
            w.u32(m.rebalance_timeout_ms);
            w.bytes32(&m.subscription);
            w.bytes32(&m.assignment);
        }
        w.0
    }

    /// Parses a (non-empty) value.
    pub fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(bytes);
        r.version()?;
        let protocol_type = r.str16("protocol type")?;
        let generation = r.u32("generation")? as i32;
        let protocol = r.str16("protocol")?;
        let leader = r.str16("leader")?;
        let timestamp_ms = r.u64("timestamp")?;
        let count = r.u32("member count")?;
        // Each member takes at least 22 bytes: bound the allocation by the input.
        let mut members = Vec::with_capacity((count as usize).min(r.remaining() / 22));
        for _ in 0..count {
            members.push(MemberMetadataValue {
                member_id: r.str16("member id")?,
                client_id: r.str16("client id")?,
                host: r.str16("host")?,
                session_timeout_ms: r.u32("session timeout")?,
                rebalance_timeout_ms: r.u32("rebalance timeout")?,
                subscription: r.bytes32("subscription")?.to_vec(),
                assignment: r.bytes32("assignment")?.to_vec(),
            });
        }
        r.finish()?;
        Ok(GroupMetadataValue { protocol_type, generation, protocol, leader, timestamp_ms, members })
    }
}

/// Why a `__consumer_offsets` record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The bytes end inside a field.
    #[error("record truncated in {0}")]
    Truncated(&'static str),
    /// A key type this build does not know.
    #[error("unknown record key type {0}")]
    UnknownKeyType(u16),
    /// A value version this build does not know.
    #[error("unknown record value version {0}")]
    UnknownVersion(u16),
    /// A string field is not UTF-8.
    #[error("{0} is not valid UTF-8")]
    InvalidUtf8(&'static str),
    /// Bytes left over after the last field.
    #[error("{0} trailing bytes after the record")]
    TrailingBytes(usize),
}

/// Appends little-endian fields.
#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    /// A string of at most `u16::MAX` bytes (longer ones, which the wire
    /// limits rule out, are cut on a character boundary).
    fn str16(&mut self, s: &str) {
        let mut end = s.len().min(usize::from(u16::MAX));
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.u16(end as u16);
        self.0.extend_from_slice(&s.as_bytes()[..end]);
    }

    fn bytes32(&mut self, b: &[u8]) {
        let len = b.len().min(u32::MAX as usize);
        self.u32(len as u32);
        self.0.extend_from_slice(&b[..len]);
    }
}

/// Reads little-endian fields, bounds-checked.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    fn remaining(&self) -> usize {
        self.rest.len()
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], RecordError> {
        if self.rest.len() < n {
            return Err(RecordError::Truncated(what));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], RecordError> {
        let bytes = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, RecordError> {
        self.array(what).map(u16::from_le_bytes)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, RecordError> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, RecordError> {
        self.array(what).map(u64::from_le_bytes)
    }

    fn version(&mut self) -> Result<(), RecordError> {
        match self.u16("value version")? {
            VALUE_VERSION => Ok(()),
            other => Err(RecordError::UnknownVersion(other)),
        }
    }

    fn str16(&mut self, what: &'static str) -> Result<String, RecordError> {
        let len = self.u16(what)?;
        let bytes = self.take(usize::from(len), what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| RecordError::InvalidUtf8(what))
    }

    fn bytes32(&mut self, what: &'static str) -> Result<&'a [u8], RecordError> {
        let len = self.u32(what)?;
        self.take(len as usize, what)
    }

    fn string32(&mut self, what: &'static str) -> Result<String, RecordError> {
        let bytes = self.bytes32(what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| RecordError::InvalidUtf8(what))
    }

    fn finish(self) -> Result<(), RecordError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(RecordError::TrailingBytes(self.rest.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn offset_commit_key_layout() {
        let key = RecordKey::OffsetCommit { group: "g".into(), topic: "ab".into(), partition: 7 };
        let bytes = key.encode();
        assert_eq!(bytes, [1, 0, 1, 0, b'g', 2, 0, b'a', b'b', 7, 0, 0, 0]);
        assert_eq!(RecordKey::decode(&bytes).unwrap(), key);
        assert_eq!(key.group(), "g");
    }

    #[test]
    fn group_metadata_key_layout() {
        let key = RecordKey::GroupMetadata { group: "grp".into() };
        assert_eq!(key.encode(), [2, 0, 3, 0, b'g', b'r', b'p']);
        assert_eq!(RecordKey::decode(&key.encode()).unwrap(), key);
    }

    #[test]
    fn offset_commit_value_layout() {
        let value = OffsetCommitValue { offset: 0x0102, metadata: "m".into(), commit_timestamp_ms: 5 };
        let bytes = value.encode();
        assert_eq!(bytes, [0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, b'm']);
        assert_eq!(OffsetCommitValue::decode(&bytes).unwrap(), value);
    }

    #[test]
    fn bad_records_are_errors() {
        assert_eq!(RecordKey::decode(&[]), Err(RecordError::Truncated("key type")));
        assert_eq!(RecordKey::decode(&[9, 0]), Err(RecordError::UnknownKeyType(9)));
        assert_eq!(RecordKey::decode(&[2, 0, 5, 0, b'a']), Err(RecordError::Truncated("group id")));
        assert_eq!(RecordKey::decode(&[2, 0, 1, 0, 0xff]), Err(RecordError::InvalidUtf8("group id")));
        assert_eq!(RecordKey::decode(&[2, 0, 1, 0, b'a', 0]), Err(RecordError::TrailingBytes(1)));
        assert_eq!(OffsetCommitValue::decode(&[1, 0]), Err(RecordError::UnknownVersion(1)));
        // A member count far beyond the bytes does not allocate for it.
        let mut huge = GroupMetadataValue::default().encode();
        let n = huge.len();
        huge[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(GroupMetadataValue::decode(&huge), Err(RecordError::Truncated("member id")));
    }

    fn member() -> impl Strategy<Value = MemberMetadataValue> {
        (
            ".{0,12}",
            ".{0,12}",
            ".{0,12}",
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(any::<u8>(), 0..16),
            proptest::collection::vec(any::<u8>(), 0..16),
        )
            .prop_map(|(member_id, client_id, host, s, r, subscription, assignment)| MemberMetadataValue {
                member_id,
                client_id,
                host,
                session_timeout_ms: s,
                rebalance_timeout_ms: r,
                subscription,
                assignment,
            })
    }

    proptest! {
        #[test]
        fn keys_and_values_round_trip(
            group in ".{0,20}",
            topic in ".{0,20}",
            partition in any::<u32>(),
            offset in any::<u64>(),
            ts in any::<u64>(),
            metadata in ".{0,30}",
            generation in any::<i32>(),
            members in proptest::collection::vec(member(), 0..4),
        ) {
            let k1 = RecordKey::OffsetCommit { group: group.clone(), topic, partition };
            let k2 = RecordKey::GroupMetadata { group };
            prop_assert_eq!(RecordKey::decode(&k1.encode()).unwrap(), k1);
            prop_assert_eq!(RecordKey::decode(&k2.encode()).unwrap(), k2);
            let v = OffsetCommitValue { offset, metadata: metadata.clone(), commit_timestamp_ms: ts };
            prop_assert_eq!(OffsetCommitValue::decode(&v.encode()).unwrap(), v);
            let g = GroupMetadataValue {
                protocol_type: "consumer".into(),
                generation,
                protocol: metadata.clone(),
                leader: metadata,
                timestamp_ms: ts,
                members,
            };
            prop_assert_eq!(GroupMetadataValue::decode(&g.encode()).unwrap(), g);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = RecordKey::decode(&bytes);
            let _ = OffsetCommitValue::decode(&bytes);
            let _ = GroupMetadataValue::decode(&bytes);
        }
    }
}
