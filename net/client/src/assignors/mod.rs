//! Partition assignors: how a consumer group's leader splits the partitions
//! of the subscribed topics among the members (Kafka's `range`,
//! `roundrobin` and `sticky`).
//!
//! Assignors are pure functions of the members' subscriptions and the
//! partition counts: the same input gives the same assignment on any
//! client, whatever order members joined in (members are taken in member-id
//! order, partitions in topic-then-partition order). Every member gets an
//! entry, possibly empty; every partition of a topic some member subscribes
//! to goes to exactly one member subscribed to that topic. Topics with no
//! partitions (or unknown to the leader) are skipped.
//!
//! ```
//! use std::collections::BTreeMap;
//! use corelog_client::assignors::{Assignor, MemberSubscription};
//!
//! let partitions = BTreeMap::from([("orders".to_owned(), 3)]);
//! let members = BTreeMap::from([
//!     ("a".to_owned(), MemberSubscription::new(["orders"])),
//!     ("b".to_owned(), MemberSubscription::new(["orders"])),
//! ]);
//! let assignment = Assignor::Range.assign(&partitions, &members);
//! let numbers = |m: &str| assignment[m].iter().map(|tp| tp.partition).collect::<Vec<_>>();
//! assert_eq!((numbers("a"), numbers("b")), (vec![0, 1], vec![2]));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use corelog_protocol::consumer_protocol::{
    Subscription, TopicPartitions, RANGE_ASSIGNOR, ROUND_ROBIN_ASSIGNOR, STICKY_ASSIGNOR,
};

mod range;
mod roundrobin;
mod sticky;

/// One partition of one topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition id.
    pub partition: u32,
}

impl TopicPartition {
    /// `partition` of `topic`.
    pub fn new(topic: impl Into<String>, partition: u32) -> Self {
        TopicPartition { topic: topic.into(), partition }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

/// What an assignor knows about one member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberSubscription {
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// Partitions the member owned in its last generation (the sticky
    /// assignor keeps them where it can).
    pub owned: Vec<TopicPartition>,
    /// The generation `owned` is from, if the member said (the sticky
    /// assignor prefers the newer claim when two members claim a partition).
    pub generation: Option<i32>,
}

impl MemberSubscription {
    /// A member subscribed to `topics`, owning nothing.
    pub fn new<T: Into<String>>(topics: impl IntoIterator<Item = T>) -> Self {
        MemberSubscription { topics: topics.into_iter().map(Into::into).collect(), ..Default::default() }
    }

    /// The same member, owning `owned` since `generation`.
    pub fn owning(mut self, owned: impl IntoIterator<Item = TopicPartition>, generation: i32) -> Self {
        self.owned = owned.into_iter().collect();
        self.generation = Some(generation);
        self
    }

    /// Whether the member subscribes to `topic`.
    pub fn subscribes(&self, topic: &str) -> bool {
        self.topics.iter().any(|t| t == topic)
    }

    /// What a member's wire [`Subscription`] says (the generation is the
    /// sticky assignor's `user_data`: an `i32`, little-endian).
    pub fn from_subscription(sub: &Subscription) -> Self {
        MemberSubscription {
            topics: sub.topics.clone(),
            owned: from_topic_partitions(&sub.owned_partitions),
            generation: sub.user_data.get(..4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        }
    }
}

/// Member id → the partitions it is assigned, in topic-then-partition order.
pub type GroupAssignment = BTreeMap<String, Vec<TopicPartition>>;

/// A partition assignment strategy the group's leader runs (the JoinGroup
/// protocol name is [`Assignor::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Assignor {
    /// Kafka's `range`: per topic, members (in id order) get contiguous
    /// ranges of partitions; the first `partitions % members` get one more.
    /// Members subscribed to the same topics get the same partition numbers
    /// of each, which suits joining co-partitioned topics.
    Range,
    /// Kafka's `roundrobin`: every partition of every subscribed topic (in
    /// topic-then-partition order) dealt to the members in turn, skipping
    /// members not subscribed to its topic.
    RoundRobin,
    /// Kafka's `sticky`: as balanced as round-robin (partition counts differ
    /// by at most one when every member subscribes to the same topics), and
    /// moving as few partitions from their previous owners as that allows.
    Sticky,
}

impl Assignor {
    /// Every assignor.
    pub const ALL: [Assignor; 3] = [Assignor::Range, Assignor::RoundRobin, Assignor::Sticky];

    /// The protocol name in JoinGroup: `"range"`, `"roundrobin"` or `"sticky"`.
    pub const fn name(self) -> &'static str {
        match self {
            Assignor::Range => RANGE_ASSIGNOR,
            Assignor::RoundRobin => ROUND_ROBIN_ASSIGNOR,
            Assignor::Sticky => STICKY_ASSIGNOR,
        }
    }

    /// The assignor with protocol name `name`.
    pub fn from_name(name: &str) -> Option<Assignor> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Assigns the partitions of the topics in `partitions` (topic →
    /// partition count) to `members` (member id → subscription).
    pub fn assign(
        self,
        partitions: &BTreeMap<String, u32>,
        members: &BTreeMap<String, MemberSubscription>,
    ) -> GroupAssignment {
        let mut out = match self {
            Assignor::Range => range::assign(partitions, members),
            Assignor::RoundRobin => roundrobin::assign(partitions, members),
            Assignor::Sticky => sticky::assign(partitions, members),
        };
        for assigned in out.values_mut() {
            assigned.sort();
        }
        out
    }

    /// The `user_data` this assignor wants in a member's subscription: the
    /// sticky assignor's is the generation the owned partitions are from.
    pub fn user_data(self, generation: i32) -> Vec<u8> {
        match self {
            Assignor::Sticky if generation >= 0 => generation.to_le_bytes().to_vec(),
            _ => Vec::new(),
        }
    }
}

impl fmt::Display for Assignor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Assignor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let known: Vec<&str> = Self::ALL.iter().map(|a| a.name()).collect();
        Assignor::from_name(s).ok_or_else(|| format!("unknown assignor {s:?} (known: {})", known.join(", ")))
    }
}

/// Partitions grouped by topic, as the consumer protocol carries them.
pub fn to_topic_partitions(partitions: &[TopicPartition]) -> Vec<TopicPartitions> {
    let mut by_topic: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for tp in partitions {
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
    }
    by_topic
        .into_iter()
        .map(|(topic, mut ps)| {
            ps.sort_unstable();
            ps.dedup();
            TopicPartitions::new(topic, ps)
        })
        .collect()
}

/// The partitions in a consumer-protocol list, sorted and deduplicated.
pub fn from_topic_partitions(list: &[TopicPartitions]) -> Vec<TopicPartition> {
    let mut out: Vec<TopicPartition> =
        list.iter().flat_map(|t| t.partitions.iter().map(|p| TopicPartition::new(t.topic.clone(), *p))).collect();
    out.sort();
    out.dedup();
    out
}

/// An empty entry for every member.
fn empty(members: &BTreeMap<String, MemberSubscription>) -> GroupAssignment {
    members.keys().map(|m| (m.clone(), Vec::new())).collect()
}

#[cfg(test)]
mod tests;
