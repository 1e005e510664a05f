//! [`EncodedFrame`]: a whole frame ready to send, and the one place that
//! writes the size prefix.

use crate::{EncodeError, Piece, Writer};

/// A frame (`size i32 | header | body`) as chunks for a vectored write: the
/// first starts with the size prefix; `records` pieces are chunks of their
/// own, shared with wherever they came from.
///
/// I/O-free; lives on the core that built it (see [`Piece`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    chunks: Vec<Piece>,
    len: usize,
}

impl EncodedFrame {
    /// Encodes a frame: a size placeholder, then whatever `fill` writes, then
    /// the placeholder is set to the size of what followed it.
    pub(crate) fn build(fill: impl FnOnce(&mut Writer)) -> Result<EncodedFrame, EncodeError> {
        let mut w = Writer::new();
        w.put_i32(0);
        fill(&mut w);
        let size = w.len() - 4;
        let limit = crate::limits::MAX_FRAME_BYTES_CEILING;
        if size > limit {
            return Err(EncodeError::TooLong { what: "frame", len: size, limit });
        }
        // `size <= 2^30` fits an i32.
        w.patch_i32(0, size as i32);
        let len = w.len();
        Ok(EncodedFrame { chunks: w.finish()?, len })
    }

    /// Total bytes, size prefix included.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn chunks(&self) -> &[Piece] {
        &self.chunks
    }

    pub fn into_chunks(self) -> Vec<Piece> {
        self.chunks
    }

    /// The frame in one buffer (a copy; for tests and small frames).
    pub fn to_vec(&self) -> Vec<u8> {
        Piece::concat(&self.chunks)
    }
}
