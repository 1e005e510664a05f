//! [`RecordsData`]: the value of a `records` field, kept as slices of the
//! frame it came in (decoding) or of stored batches (encoding), never copied.

use std::fmt;
use std::ops::{Deref, Range};
use std::rc::Rc;

use bytes::Bytes;

/// One piece of a `records` value or of an encoded frame.
///
/// Lives on: the core that built it. A `Local` piece shares a buffer that
/// cannot leave its core (a DMA read buffer of a segment file), which is
/// why this type is not `Send`; decoded values are all `Shared`.
#[derive(Clone)]
pub enum Piece {
    /// A shared buffer (a request frame, the tail cache, our own encoding).
    Shared(Bytes),
    /// `range` of a core-local buffer.
    Local { buf: Rc<dyn AsRef<[u8]>>, range: Range<usize> },
}

impl Piece {
    /// `range` of `buf`, or `None` if `range` is not inside it.
    pub fn local(buf: Rc<dyn AsRef<[u8]>>, range: Range<usize>) -> Option<Piece> {
        let len = (*buf).as_ref().len();
        (range.start <= range.end && range.end <= len).then_some(Piece::Local { buf, range })
    }
}

impl Piece {
    /// `pieces` joined into one buffer (a copy; for tests and small frames).
    pub fn concat(pieces: &[Piece]) -> Vec<u8> {
        let mut out = Vec::with_capacity(pieces.iter().map(|p| p.len()).sum());
        for piece in pieces {
            out.extend_from_slice(piece);
        }
        out
    }
}

impl Deref for Piece {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Piece::Shared(b) => b,
            // In range: checked by `Piece::local`, the only constructor.
            Piece::Local { buf, range } => &(**buf).as_ref()[range.clone()],
        }
    }
}

impl AsRef<[u8]> for Piece {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<Bytes> for Piece {
    fn from(b: Bytes) -> Piece {
        Piece::Shared(b)
    }
}

impl PartialEq for Piece {
    fn eq(&self, other: &Piece) -> bool {
        **self == **other
    }
}

impl Eq for Piece {}

impl fmt::Debug for Piece {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Piece::Shared(b) => write!(f, "Shared({} bytes)", b.len()),
            Piece::Local { range, .. } => write!(f, "Local({}..{})", range.start, range.end),
        }
    }
}

/// The bytes of a `records` field (Kafka record batches, opaque to this
/// crate) as a list of pieces. Decoding yields one piece sliced out of the
/// request frame; the broker builds a value from stored batches, and the
/// [`Writer`](crate::Writer) sends each piece as its own chunk. Equality is
/// by content, however it is cut into pieces.
///
/// I/O-free; lives on the core that built it (see [`Piece`]).
#[derive(Debug, Clone, Default)]
pub struct RecordsData {
    pieces: Vec<Piece>,
    len: usize,
}

impl RecordsData {
    /// A value made of `pieces`, in order.
    pub fn from_pieces(pieces: Vec<Bytes>) -> RecordsData {
        let len = pieces.iter().map(Bytes::len).sum();
        RecordsData { pieces: pieces.into_iter().map(Piece::Shared).collect(), len }
    }

    /// Appends a shared piece.
    pub fn push(&mut self, piece: Bytes) {
        self.push_piece(Piece::Shared(piece));
    }

    /// Appends a piece of either kind (empty ones are dropped).
    pub fn push_piece(&mut self, piece: Piece) {
        if !piece.is_empty() {
            self.len += piece.len();
            self.pieces.push(piece);
        }
    }

    /// The pieces, in order.
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The content as one buffer: free for a decoded value (one shared
    /// piece), a copy otherwise.
    pub fn to_bytes(&self) -> Bytes {
        match self.pieces.as_slice() {
            [] => Bytes::new(),
            [Piece::Shared(one)] => one.clone(),
            many => Bytes::from(many.iter().flat_map(|p| p.iter().copied()).collect::<Vec<u8>>()),
        }
    }
}

impl From<Bytes> for RecordsData {
    fn from(piece: Bytes) -> RecordsData {
        RecordsData { len: piece.len(), pieces: vec![Piece::Shared(piece)] }
    }
}

impl PartialEq for RecordsData {
    fn eq(&self, other: &RecordsData) -> bool {
        self.len == other.len
            && self.pieces.iter().flat_map(|p| p.iter()).eq(other.pieces.iter().flat_map(|p| p.iter()))
    }
}

impl Eq for RecordsData {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_ignores_piece_boundaries() {
        let a = RecordsData::from(Bytes::from_static(b"abcdef"));
        let b = RecordsData::from_pieces(vec![Bytes::from_static(b"ab"), Bytes::new(), Bytes::from_static(b"cdef")]);
        assert_eq!(a, b);
        assert_eq!(b.to_bytes(), Bytes::from_static(b"abcdef"));
        assert_ne!(a, RecordsData::from(Bytes::from_static(b"abcdeg")));
        assert_ne!(a, RecordsData::from(Bytes::from_static(b"abcde")));
    }

    #[test]
    fn local_pieces_are_ranges_of_their_buffer() {
        let buf: Rc<dyn AsRef<[u8]>> = Rc::new(b"xxabcdefyy".to_vec());
        let mut r = RecordsData::default();
        r.push_piece(Piece::local(buf.clone(), 2..5).unwrap());
        r.push_piece(Piece::local(buf.clone(), 5..5).unwrap());
        r.push(Bytes::from_static(b"def"));
        assert_eq!(r.pieces().len(), 2, "the empty piece is dropped");
        assert_eq!(r, RecordsData::from(Bytes::from_static(b"abcdef")));
        assert_eq!(r.to_bytes(), Bytes::from_static(b"abcdef"));
        assert_eq!(r.pieces()[0].as_ptr(), (*buf).as_ref()[2..].as_ptr(), "not copied");
        assert!(Piece::local(buf.clone(), 8..11).is_none());
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = 5..2;
        assert!(Piece::local(buf, backwards).is_none());
    }
}
