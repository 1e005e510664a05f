//! Fuzzes the consumer-group decoders that see bytes from outside: the
//! consumer protocol (`Subscription` / `Assignment` bytes that members send
//! through the coordinator) and the `__consumer_offsets` records the
//! coordinator replays on start (keys, values, and `GroupCoordinator::replay`).
//! Whatever decodes must re-encode to bytes that decode to the same value.
//!
//! Input: byte 0 picks the decoder; for replay, the rest is a sequence of
//! (key length: u8, key, value length: u8, value). Seeds: `net/fuzz/seeds/decode_group_data/` (written by
//! `cargo test -p corelog-coordinator --test fuzz_seeds -- --ignored`).

#![no_main]

use corelog_coordinator::records::{GroupMetadataValue, OffsetCommitValue, RecordKey};
use corelog_coordinator::{CoordinatorConfig, Event, GroupCoordinator};
use corelog_protocol::consumer_protocol::{Assignment, Subscription};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&which, data)) = input.split_first() else {
        return;
    };
    match which % 6 {
        0 => {
            if let Ok(s) = Subscription::decode(data) {
                assert_eq!(Subscription::decode(&s.encode()).expect("re-decode"), s);
            }
        }
        1 => {
            if let Ok(a) = Assignment::decode(data) {
                assert_eq!(Assignment::decode(&a.encode()).expect("re-decode"), a);
            }
        }
        2 => {
            if let Ok(k) = RecordKey::decode(data) {
                assert_eq!(RecordKey::decode(&k.encode()).expect("re-decode"), k);
            }
        }
        3 => {
            if let Ok(v) = OffsetCommitValue::decode(data) {
                assert_eq!(OffsetCommitValue::decode(&v.encode()).expect("re-decode"), v);
            }
        }
        4 => {
            if let Ok(v) = GroupMetadataValue::decode(data) {
                assert_eq!(GroupMetadataValue::decode(&v.encode()).expect("re-decode"), v);
            }
        }
        _ => {
            // A replay of records cut out of the input, then a tick: never panics.
            let mut c = GroupCoordinator::new(CoordinatorConfig { offsets_topic_partitions: 1, ..Default::default() });
            c.handle(0, Event::Loading { partition: 0 });
            let mut rest = data;
            while let Some((&split, tail)) = rest.split_first() {
                let (key, tail) = tail.split_at(usize::from(split).min(tail.len()));
                let Some((&vlen, tail)) = tail.split_first() else { break };
                let (value, tail) = tail.split_at(usize::from(vlen).min(tail.len()));
                let _ = c.replay(key, value);
                rest = tail;
            }
            c.handle(0, Event::Loaded { partition: 0 });
            c.handle(u64::MAX, Event::Tick);
        }
    }
});
