//! A walk over protobuf wire bytes before `protobuf` 2.x parses them.
//!
//! protobuf 2.28 has RUSTSEC-2024-0437: skipping an unknown *group* field
//! recurses once per nested group with no limit, so a few hundred kilobytes of
//! start-group tags overflow the stack. raft's schema (eraftpb.proto) is
//! proto3 and has no groups, and none of its messages contains itself, so this
//! walk refuses any group tag (wire types 3 and 4) at every level of the known
//! schema, and any malformed tag, varint or length. Bytes that pass hold no
//! recursion deeper than the schema's four levels (Message > Snapshot >
//! SnapshotMetadata > ConfState); the walk itself recurses only along the
//! schema, never along the input.

/// The eraftpb messages that contain other messages, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Schema {
    /// eraftpb.Message: `repeated Entry entries = 7`, `Snapshot snapshot = 9`.
    Message,
    /// eraftpb.Snapshot: `SnapshotMetadata metadata = 2`.
    Snapshot,
    /// eraftpb.SnapshotMetadata: `ConfState conf_state = 1`.
    SnapshotMetadata,
    /// A message without message fields: Entry, ConfState, HardState.
    Flat,
}

impl Schema {
    fn field(self, number: u64) -> Option<Schema> {
        match (self, number) {
            (Schema::Message, 7) => Some(Schema::Flat),
            (Schema::Message, 9) => Some(Schema::Snapshot),
            (Schema::Snapshot, 2) => Some(Schema::SnapshotMetadata),
            (Schema::SnapshotMetadata, 1) => Some(Schema::Flat),
            _ => None,
        }
    }
}

const WIRE_VARINT: u64 = 0;
const WIRE_FIXED64: u64 = 1;
const WIRE_LENGTH_DELIMITED: u64 = 2;
const WIRE_START_GROUP: u64 = 3;
const WIRE_END_GROUP: u64 = 4;
const WIRE_FIXED32: u64 = 5;

/// Longest varint: 10 bytes of 7 bits hold a u64.
const MAX_VARINT_BYTES: usize = 10;

/// Checks that `bytes` is a well-formed encoding of a message of `schema`
/// without groups. Returns the reason and the byte position of the first
/// problem.
pub(crate) fn check(bytes: &[u8], schema: Schema) -> Result<(), String> {
    walk(bytes, schema, 0)
}

fn walk(bytes: &[u8], schema: Schema, base: usize) -> Result<(), String> {
    let mut pos = 0;
    while pos < bytes.len() {
        let at = base + pos;
        let tag = varint(bytes, &mut pos).ok_or_else(|| format!("bad tag varint at byte {at}"))?;
        let number = tag >> 3;
        if number == 0 {
            return Err(format!("field number 0 at byte {at}"));
        }
        match tag & 7 {
            WIRE_VARINT => {
                varint(bytes, &mut pos).ok_or_else(|| format!("bad varint at byte {}", base + pos))?;
            }
            WIRE_FIXED64 => skip(bytes, &mut pos, 8, base)?,
            WIRE_FIXED32 => skip(bytes, &mut pos, 4, base)?,
            WIRE_LENGTH_DELIMITED => {
                let len = varint(bytes, &mut pos).ok_or_else(|| format!("bad length varint at byte {}", base + pos))?;
                let start = pos;
                let len = usize::try_from(len).map_err(|_| format!("length {len} at byte {at}"))?;
                skip(bytes, &mut pos, len, base)?;
                if let Some(inner) = schema.field(number) {
                    walk(&bytes[start..pos], inner, base + start)?;
                }
            }
            WIRE_START_GROUP | WIRE_END_GROUP => {
                return Err(format!("group field {number} at byte {at} (raft's schema has none)"));
            }
            other => return Err(format!("wire type {other} at byte {at}")),
        }
    }
    Ok(())
}

fn skip(bytes: &[u8], pos: &mut usize, len: usize, base: usize) -> Result<(), String> {
    match pos.checked_add(len) {
        Some(end) if end <= bytes.len() => {
            *pos = end;
            Ok(())
        }
        _ => Err(format!(
            "field of {len} bytes at byte {} runs past the end ({} bytes)",
            base + *pos,
            base + bytes.len()
        )),
    }
}

fn varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..MAX_VARINT_BYTES {
        let byte = *bytes.get(*pos + i)?;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *pos += i + 1;
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use protobuf::Message as _;
    use raft::eraftpb::{ConfState, Entry, Message, Snapshot};

    use super::*;

    fn full_message() -> Message {
        let mut m = Message::default();
        m.set_from(1);
        m.set_to(2);
        m.set_term(9);
        m.mut_entries().push(Entry { index: 4, data: vec![1, 2, 3].into(), ..Default::default() });
        let mut snap = Snapshot { data: vec![5; 10].into(), ..Default::default() };
        snap.mut_metadata().index = 3;
        snap.mut_metadata().set_conf_state(ConfState::from((vec![1, 2, 3], vec![])));
        m.set_snapshot(snap);
        m
    }

    #[test]
    fn accepts_what_protobuf_writes() {
        let bytes = full_message().write_to_bytes().unwrap();
        check(&bytes, Schema::Message).unwrap();
    }

    #[test]
    fn refuses_nested_groups_without_recursing_on_them() {
        // A million start-group tags: protobuf 2.28 would recurse a million
        // times skipping them.
        let bytes = vec![0x0b; 1_000_000];
        let err = check(&bytes, Schema::Message).unwrap_err();
        assert!(err.contains("group field 1 at byte 0"), "{err}");
    }

    #[test]
    fn refuses_a_group_hidden_in_a_nested_message() {
        // Message.snapshot (9) > Snapshot.metadata (2) > a start group.
        let bytes = [0x4a, 0x03, 0x12, 0x01, 0x0b];
        let err = check(&bytes, Schema::Message).unwrap_err();
        assert!(err.contains("group field 1 at byte 4"), "{err}");
    }

    #[test]
    fn refuses_truncated_fields_and_varints() {
        assert!(check(&[0x4a, 0x05, 0x00], Schema::Message).unwrap_err().contains("runs past the end"));
        assert!(check(&[0x08, 0xff], Schema::Message).unwrap_err().contains("bad varint"));
        let mut overlong = vec![0x08];
        overlong.extend([0x80; 11]);
        assert!(check(&overlong, Schema::Message).unwrap_err().contains("bad varint"));
        assert!(check(&[0x00], Schema::Message).unwrap_err().contains("field number 0"));
        assert!(check(&[0x0e], Schema::Message).unwrap_err().contains("wire type 6"));
    }
}
