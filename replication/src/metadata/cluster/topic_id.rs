//! A topic's 16-byte id (Kafka's topic UUID), as the proposer drew it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Written as 32 lowercase hex digits in the metadata file and in log
/// entries. All zeros is Kafka's "no id" and never a topic's id. A plain
/// value: lives wherever the metadata does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicId(pub [u8; 16]);

impl TopicId {
    /// Kafka's Uuid.ZERO_UUID: "no topic id".
    pub const ZERO: TopicId = TopicId([0; 16]);

    /// The id a topic migrated from a version-1 metadata file gets (those
    /// files have none): FNV-1a, 128-bit, of `"corelog-topic-id-v1:"` followed
    /// by the name's bytes, big-endian; an all-zero hash would become 1. Every
    /// node migrating the same file derives the same ids. Not a random UUID,
    /// so it is only for migration: new topics get ids drawn by the proposer.
    pub fn derived_from_name(name: &str) -> TopicId {
        const OFFSET_BASIS: u128 = 0x6c62272e07bb014262b821756295c58d;
        const PRIME: u128 = 0x0000000001000000000000000000013b;
        let hash = b"corelog-topic-id-v1:"
            .iter()
            .chain(name.as_bytes())
            .fold(OFFSET_BASIS, |h, b| (h ^ u128::from(*b)).wrapping_mul(PRIME));
        TopicId(hash.max(1).to_be_bytes())
    }

    pub fn parse(hex: &str) -> Option<TopicId> {
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return None;
        }
        u128::from_str_radix(hex, 16).ok().map(|v| TopicId(v.to_be_bytes()))
    }
}

impl fmt::Display for TopicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", u128::from_be_bytes(self.0))
    }
}

impl Serialize for TopicId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TopicId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let hex = String::deserialize(deserializer)?;
        TopicId::parse(&hex)
            .ok_or_else(|| serde::de::Error::custom(format!("topic id {hex:?} is not 32 lowercase hex digits")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let id = TopicId([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0xfe, 0xff]);
        assert_eq!(id.to_string(), "000102030405060708090a0b0c0dfeff");
        assert_eq!(TopicId::parse(&id.to_string()), Some(id));
        for bad in [
            "",
            "000102030405060708090a0b0c0dfeff00",
            "000102030405060708090A0B0C0DFEFF",
            "+00102030405060708090a0b0c0dfeff",
        ] {
            assert_eq!(TopicId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn derived_ids_are_fixed_and_distinct() {
        // Pinned: migrated files on every node must agree, across builds.
        // (Cross-checked against an independent FNV-1a-128 implementation.)
        assert_eq!(TopicId::derived_from_name("orders").to_string(), "5efc45e3fff1867a03f077497b8e4689");
        assert_ne!(TopicId::derived_from_name("orders"), TopicId::derived_from_name("orders2"));
        assert_ne!(TopicId::derived_from_name(""), TopicId::ZERO);
    }
}
