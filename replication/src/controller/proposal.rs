//! Who proposed an entry: the context bytes a `QuorumNode` attaches to each
//! proposal, so that the proposer (and only it, and only in the same process
//! lifetime) can hand the committed entry back to its waiting caller.
//!
//! # Layout (`Entry.context`, replicated and stored with the entry)
//!
//! ```text
//! byte  size  field
//!    0     8  proposer     u64 LE  node id of the proposing controller
//!    8     8  incarnation  u64 LE  QuorumConfig::incarnation of that process
//!   16     8  token        u64 LE  the caller's token from Event::Propose
//! ```
//!
//! The incarnation keeps a token of a previous process (an entry proposed
//! before a crash and committed after the restart) from matching a caller of
//! the new process that reuses the same token number.

/// Bytes of a proposal context.
pub(crate) const PROPOSAL_CONTEXT_BYTES: usize = 24;

// The context is part of an entry's overhead.
const _: () = assert!(PROPOSAL_CONTEXT_BYTES + 64 <= crate::limits::ENTRY_OVERHEAD_BYTES);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProposalContext {
    pub proposer: u64,
    pub incarnation: u64,
    pub token: u64,
}

impl ProposalContext {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PROPOSAL_CONTEXT_BYTES);
        out.extend_from_slice(&self.proposer.to_le_bytes());
        out.extend_from_slice(&self.incarnation.to_le_bytes());
        out.extend_from_slice(&self.token.to_le_bytes());
        out
    }

    /// `None` for any other length (raft's own empty entries have no
    /// context; an entry is never refused for its context).
    pub fn decode(bytes: &[u8]) -> Option<ProposalContext> {
        if bytes.len() != PROPOSAL_CONTEXT_BYTES {
            return None;
        }
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            u64::from_le_bytes(b)
        };
        Some(ProposalContext { proposer: word(0), incarnation: word(1), token: word(2) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_bytes() {
        let ctx = ProposalContext { proposer: 2, incarnation: 0x0102_0304_0506_0708, token: 300 };
        let bytes = ctx.encode();
        assert_eq!(
            bytes,
            [
                2, 0, 0, 0, 0, 0, 0, 0, //
                8, 7, 6, 5, 4, 3, 2, 1, //
                0x2c, 0x01, 0, 0, 0, 0, 0, 0,
            ]
        );
        assert_eq!(ProposalContext::decode(&bytes), Some(ctx));
        assert_eq!(ProposalContext::decode(&bytes[..23]), None);
        assert_eq!(ProposalContext::decode(&[]), None);
    }
}
