//! [`RecordsData`]: the value of a `records` field, kept as slices of the
//! frame it came in (decoding) or of stored batches (encoding), never copied.

use bytes::Bytes;

/// The bytes of a `records` field (Kafka record batches, opaque to this
/// crate) as a list of pieces. Decoding yields one piece sliced out of the
/// request frame; the broker builds a value from stored batches, and the
/// [`Writer`](crate::Writer) sends each piece as its own chunk. Equality is
/// by content, however it is cut into pieces.
///
/// I/O-free; used on any core.
#[derive(Debug, Clone, Default)]
pub struct RecordsData {
    pieces: Vec<Bytes>,
    len: usize,
}

impl RecordsData {
    /// A value made of `pieces`, in order.
    pub fn from_pieces(pieces: Vec<Bytes>) -> RecordsData {
        let len = pieces.iter().map(Bytes::len).sum();
        RecordsData { pieces, len }
    }

    /// Appends a piece.
    pub fn push(&mut self, piece: Bytes) {
        self.len += piece.len();
        self.pieces.push(piece);
    }

    /// The pieces, in order.
    pub fn pieces(&self) -> &[Bytes] {
        &self.pieces
    }

    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The content as one buffer: free for a decoded value (one piece),
    /// a copy otherwise.
    pub fn to_bytes(&self) -> Bytes {
        match self.pieces.as_slice() {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => Bytes::from(many.concat()),
        }
    }
}

impl From<Bytes> for RecordsData {
    fn from(piece: Bytes) -> RecordsData {
        RecordsData { len: piece.len(), pieces: vec![piece] }
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
}
