//! The controller wire codec on hostile bytes: over the limit is refused
//! without parsing, garbage is an error and never a panic.

use corelog_replication::controller::codec;
use corelog_replication::controller::eraftpb::{Entry, Message, MessageType, Snapshot};
use corelog_replication::limits::MAX_RAFT_MESSAGE_BYTES;
use proptest::prelude::*;
use protobuf::ProtobufEnum;

#[test]
fn a_message_over_the_limit_is_refused_before_parsing() {
    // Start-group tags all the way: protobuf 2.28 would recurse on them
    // (RUSTSEC-2024-0437); the length alone refuses the message first.
    let bytes = vec![0x0b; MAX_RAFT_MESSAGE_BYTES + 1];
    let err = codec::decode(&bytes).unwrap_err().to_string();
    assert!(err.contains("over the"), "{err}");
    // Under the limit, the group walk refuses the same bytes.
    let err = codec::decode(&bytes[..1 << 20]).unwrap_err().to_string();
    assert!(err.contains("group"), "{err}");

    let mut big = Message::default();
    big.set_msg_type(MessageType::MsgSnapshot);
    big.set_snapshot(Snapshot { data: vec![0; MAX_RAFT_MESSAGE_BYTES].into(), ..Default::default() });
    assert!(codec::encode(&big).is_err());
}

fn message() -> impl Strategy<Value = Message> {
    (
        0..19i32,
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        proptest::collection::vec((any::<u64>(), any::<u64>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..4),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
    )
        .prop_map(|(kind, to, term, commit, entries, snapshot)| {
            let mut m = Message::default();
            m.set_msg_type(MessageType::from_i32(kind).unwrap());
            m.to = to;
            m.from = 1;
            m.term = term;
            m.commit = commit;
            for (index, term, data) in entries {
                m.mut_entries().push(Entry { index, term, data: data.into(), ..Default::default() });
            }
            if let Some(data) = snapshot {
                let mut s = Snapshot { data: data.into(), ..Default::default() };
                s.mut_metadata().index = commit;
                s.mut_metadata().mut_conf_state().voters = vec![1, 2, 3];
                m.set_snapshot(s);
            }
            m
        })
}

proptest! {
    #[test]
    fn random_bytes_are_an_error_or_a_message_never_a_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..512)
    ) {
        let _ = codec::decode(&bytes);
    }

    #[test]
    fn messages_round_trip_and_mutations_do_not_panic(
        m in message(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = codec::encode(&m).unwrap();
        prop_assert_eq!(codec::decode(&bytes).unwrap(), m);
        let mut bad = bytes.clone();
        if !bad.is_empty() {
            for (at, value) in flips {
                let i = at.index(bad.len());
                bad[i] = value;
            }
            let _ = codec::decode(&bad);
            let _ = codec::decode(&bytes[..cut.index(bytes.len())]);
        }
    }
}
