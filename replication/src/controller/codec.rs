//! A Raft message to and from bytes, for the controller peers' wire.
//!
//! # Wire layout
//!
//! The bytes are the protobuf (proto3) encoding of `eraftpb.Message`
//! (raft-proto 0.7's eraftpb.proto, written by protobuf 2.28), nothing
//! around it: the transport frames them (its length prefix is checked against
//! [`MAX_RAFT_MESSAGE_BYTES`] before the body is read). Fields are written in
//! the .proto's declaration order, fields at their default value omitted.
//! The golden test's append from node 1 to node 2:
//!
//! ```text
//! 08 03                 field 1 msg_type   varint  3 = MsgAppend
//! 10 02                 field 2 to         varint  2
//! 18 01                 field 3 from       varint  1
//! 20 03                 field 4 term       varint  3
//! 28 02                 field 5 log_term   varint  2
//! 30 05                 field 6 index      varint  5
//! 3a 08                 field 7 entries    8 bytes: one Entry
//!   10 03                 field 2 term     varint  3
//!   18 06                 field 3 index    varint  6
//!   22 02 61 62           field 4 data     2 bytes "ab"
//! 40 04                 field 8 commit     varint  4
//! ```
//!
//! # Decoding untrusted bytes
//!
//! Only controller peers speak this codec, but a peer's bytes are still
//! checked before protobuf sees them: the length against
//! [`MAX_RAFT_MESSAGE_BYTES`], then the structural walk of `wire_check`
//! (which refuses the group fields behind RUSTSEC-2024-0437). What raft then
//! does with a well-formed message from a misbehaving peer is raft's: raft-rs
//! trusts its peers' protocol and panics on some impossible messages (a
//! commit index past what it sent, for one); see docs/controller.md.

use protobuf::Message as _;
use raft::eraftpb::Message;

use super::wire_check::{self, Schema};
use super::ControllerError;
use crate::limits::MAX_RAFT_MESSAGE_BYTES;

/// Encodes `message` for a peer. A message over [`MAX_RAFT_MESSAGE_BYTES`]
/// is an error here rather than a refusal at the peer (the limits module
/// asserts raft's own bounds keep every message under it).
pub fn encode(message: &Message) -> Result<Vec<u8>, ControllerError> {
    let size = message.compute_size() as usize;
    if size > MAX_RAFT_MESSAGE_BYTES {
        return Err(ControllerError::Decode(format!(
            "message of {size} bytes is over the {MAX_RAFT_MESSAGE_BYTES}-byte limit"
        )));
    }
    message.write_to_bytes().map_err(|e| ControllerError::Decode(format!("encoding: {e}")))
}

/// Decodes a peer's message. Over [`MAX_RAFT_MESSAGE_BYTES`]: refused before
/// any parsing. Malformed: an error, never a panic.
pub fn decode(bytes: &[u8]) -> Result<Message, ControllerError> {
    if bytes.len() > MAX_RAFT_MESSAGE_BYTES {
        return Err(ControllerError::Decode(format!(
            "message of {} bytes is over the {MAX_RAFT_MESSAGE_BYTES}-byte limit",
            bytes.len()
        )));
    }
    wire_check::check(bytes, Schema::Message).map_err(ControllerError::Decode)?;
    Message::parse_from_bytes(bytes).map_err(|e| ControllerError::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use raft::eraftpb::{Entry, MessageType};

    use super::*;

    fn golden_message() -> Message {
        let mut m = Message::default();
        m.set_msg_type(MessageType::MsgAppend);
        m.to = 2;
        m.from = 1;
        m.term = 3;
        m.log_term = 2;
        m.index = 5;
        m.commit = 4;
        m.mut_entries().push(Entry { term: 3, index: 6, data: b"ab".to_vec().into(), ..Default::default() });
        m
    }

    const GOLDEN: &[u8] = &[
        0x08, 0x03, 0x10, 0x02, 0x18, 0x01, 0x20, 0x03, 0x28, 0x02, 0x30, 0x05, //
        0x3a, 0x08, 0x10, 0x03, 0x18, 0x06, 0x22, 0x02, 0x61, 0x62, //
        0x40, 0x04,
    ];

    #[test]
    fn golden_bytes_of_an_append() {
        let bytes = encode(&golden_message()).unwrap();
        assert_eq!(bytes, GOLDEN);
        assert_eq!(decode(GOLDEN).unwrap(), golden_message());
    }

    #[test]
    fn refuses_over_the_limit_before_parsing() {
        // Valid-looking protobuf would parse; the length alone refuses it.
        let bytes = vec![0u8; MAX_RAFT_MESSAGE_BYTES + 1];
        let err = decode(&bytes).unwrap_err().to_string();
        assert!(err.contains("over the"), "{err}");
    }
}
