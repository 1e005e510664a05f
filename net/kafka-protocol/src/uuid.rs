//! [`Uuid`]: Kafka's 16-byte `uuid` field type.

/// A Kafka uuid (topic ids), 16 bytes in network order.
///
/// I/O-free; used on any core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The all-zero uuid: Kafka's "no topic id".
    pub const ZERO: Uuid = Uuid([0; 16]);
}
