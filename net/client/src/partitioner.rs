//! Choosing a record's partition: explicit, by key hash, or sticky.
//!
//! Keys are hashed exactly like Kafka's default partitioner (murmur2 with
//! seed `0x9747b28c`, then `toPositive(hash) % partitions`), so a key lands
//! on the same partition number as it would with a Kafka client and the same
//! partition count.
//!
//! Keyless records stick to one partition per topic until that partition's
//! batch is closed (full or sent), then move to another partition chosen at
//! random: batches fill up instead of every partition getting a trickle, and
//! load still spreads over time (Kafka's sticky partitioner, KIP-480).

use rand::Rng;
use rustc_hash::FxHashMap;

pub use corelog_protocol::hash::{murmur2, to_positive};

/// The partition Kafka's default partitioner gives `key` among `partitions` (> 0).
///
/// ```
/// use corelog_client::partitioner::partition_for_key;
/// assert_eq!(partition_for_key(b"foobar", 50), 16);
/// ```
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    to_positive(murmur2(key)) % partitions.max(1)
}

/// Picks partitions for records: the explicit one if given, else by key,
/// else the topic's current sticky partition.
#[derive(Debug, Default)]
pub struct Partitioner {
    /// Looked up for every keyless record (FxHash: the application's own
    /// topic names).
    sticky: FxHashMap<String, u32>,
}

impl Partitioner {
    /// A partitioner with no sticky choices yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The partition of a record of `topic` (with `partitions` > 0 partitions).
    /// An explicit partition is returned as is (the caller checks its range).
    pub fn partition(&mut self, topic: &str, explicit: Option<u32>, key: Option<&[u8]>, partitions: u32) -> u32 {
        if let Some(p) = explicit {
            return p;
        }
        if let Some(key) = key {
            return partition_for_key(key, partitions);
        }
        let partitions = partitions.max(1);
        match self.sticky.get(topic) {
            Some(&p) if p < partitions => p,
            _ => {
                let p = rand::thread_rng().gen_range(0..partitions);
                self.sticky.insert(topic.to_owned(), p);
                p
            }
        }
    }

    /// Tells the partitioner that the batch of `partition` of `topic` was
    /// closed (full or taken for sending): keyless records of the topic move
    /// to another partition, if it was the sticky one.
    pub fn batch_closed(&mut self, topic: &str, partition: u32, partitions: u32) {
        let Some(current) = self.sticky.get_mut(topic) else { return };
        if *current != partition || partitions <= 1 {
            return;
        }
        // Uniform over the other partitions.
        let next = rand::thread_rng().gen_range(0..partitions - 1);
        *current = if next >= partition { next + 1 } else { next };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_partition_uses_to_positive_modulo() {
        // toPositive(-790332482) = 1357151166; % 50 = 16.
        assert_eq!(to_positive(-790_332_482), 1_357_151_166);
        assert_eq!(partition_for_key(b"foobar", 50), 16);
        assert_eq!(to_positive(i32::MIN), 0);
        let mut p = Partitioner::new();
        for key in [&b"a"[..], b"user-17", b""] {
            let first = p.partition("t", None, Some(key), 6);
            assert!(first < 6);
            assert_eq!(p.partition("t", None, Some(key), 6), first);
        }
    }

    #[test]
    fn explicit_partition_wins() {
        let mut p = Partitioner::new();
        assert_eq!(p.partition("t", Some(4), Some(b"foobar"), 6), 4);
    }

    #[test]
    fn sticky_until_batch_closed() {
        let mut p = Partitioner::new();
        let first = p.partition("t", None, None, 6);
        for _ in 0..100 {
            assert_eq!(p.partition("t", None, None, 6), first);
        }
        // Closing another partition's batch changes nothing.
        p.batch_closed("t", (first + 1) % 6, 6);
        assert_eq!(p.partition("t", None, None, 6), first);
        p.batch_closed("t", first, 6);
        let second = p.partition("t", None, None, 6);
        assert_ne!(second, first);
        assert!(second < 6);
        // Spreads over every partition eventually.
        let mut seen = [false; 6];
        for _ in 0..1000 {
            let cur = p.partition("t", None, None, 6);
            seen[cur as usize] = true;
            p.batch_closed("t", cur, 6);
        }
        assert!(seen.iter().all(|s| *s));
        // A single partition stays put; a shrunk count is re-picked in range.
        let mut q = Partitioner::new();
        assert_eq!(q.partition("one", None, None, 1), 0);
        q.batch_closed("one", 0, 1);
        assert_eq!(q.partition("one", None, None, 1), 0);
        let _ = q.partition("t", None, None, 100);
        assert!(q.partition("t", None, None, 2) < 2);
    }
}
