//! [`Writer`]: encoding of Kafka's primitive types (layouts in `reader.rs`)
//! into a list of chunks, so stored record batches go out without a copy.

use bytes::{BufMut, Bytes, BytesMut};

use crate::limits::{MAX_BYTES_LEN, MAX_STRING_LEN};
use crate::{EncodeError, Piece, RecordsData};

/// Where a piece of the output comes from.
#[derive(Debug, Clone)]
enum Segment {
    /// Our own buffer up to this offset (from the previous segment's end).
    Own(usize),
    /// A borrowed piece (a `records` value), sent as it is.
    Borrowed(Piece),
}

/// Encodes Kafka primitives. Small fields go into one growing buffer;
/// every piece of a `records` value becomes its own chunk after its length
/// prefix. [`finish`](Self::finish) returns the chunks in order (ready for a
/// vectored write). The first error (a null for a non-nullable field, a
/// too-long string, an unsupported version) is kept and returned by
/// `finish`, so encoding functions need no `Result` at every field.
///
/// I/O-free; used on any core.
#[derive(Debug, Default)]
pub struct Writer {
    own: BytesMut,
    segments: Vec<Segment>,
    borrowed_len: usize,
    error: Option<EncodeError>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    /// A writer for a value whose encoded size must be known before it is
    /// written (tagged fields); append it with [`put_tagged`](Self::put_tagged).
    pub fn sub_writer(&self) -> Writer {
        Writer::new()
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.own.len() + self.borrowed_len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records the first error; later writes still happen but `finish` fails.
    pub fn fail(&mut self, error: EncodeError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    /// Overwrites 4 bytes at `offset` of the writer's own buffer (the frame
    /// size prefix, known only at the end). Ignored if out of range.
    pub(crate) fn patch_i32(&mut self, offset: usize, value: i32) {
        if let Some(slot) = offset.checked_add(4).and_then(|end| self.own.get_mut(offset..end)) {
            slot.copy_from_slice(&value.to_be_bytes());
        }
    }

    /// The chunks, in order, or the first error.
    pub fn finish(self) -> Result<Vec<Piece>, EncodeError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let own = self.own.freeze();
        let mut chunks = Vec::with_capacity(self.segments.len() + 1);
        let mut start = 0;
        for seg in self.segments {
            match seg {
                Segment::Own(end) => {
                    if end > start {
                        chunks.push(Piece::Shared(own.slice(start..end)));
                    }
                    start = end;
                }
                Segment::Borrowed(b) => {
                    if !b.is_empty() {
                        chunks.push(b);
                    }
                }
            }
        }
        if own.len() > start {
            chunks.push(Piece::Shared(own.slice(start..)));
        }
        Ok(chunks)
    }

    pub fn put_i8(&mut self, v: i8) {
        self.own.put_i8(v);
    }

    pub fn put_i16(&mut self, v: i16) {
        self.own.put_i16(v);
    }

    pub fn put_i32(&mut self, v: i32) {
        self.own.put_i32(v);
    }

    pub fn put_i64(&mut self, v: i64) {
        self.own.put_i64(v);
    }

    pub fn put_u16(&mut self, v: u16) {
        self.own.put_u16(v);
    }

    pub fn put_u32(&mut self, v: u32) {
        self.own.put_u32(v);
    }

    pub fn put_f64(&mut self, v: f64) {
        self.own.put_f64(v);
    }

    pub fn put_bool(&mut self, v: bool) {
        self.own.put_u8(u8::from(v));
    }

    pub fn put_uuid(&mut self, v: crate::Uuid) {
        self.own.put_slice(&v.0);
    }

    pub fn put_uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.own.put_u8((v as u8) | 0x80);
            v >>= 7;
        }
        self.own.put_u8(v as u8);
    }

    /// A length (`None` = null): classic as i16 (`short`) or i32, compact
    /// as uvarint N+1. Fails past `limit`.
    fn put_length(&mut self, len: Option<usize>, flexible: bool, short: bool, limit: usize, what: &'static str) {
        let Some(len) = len else {
            match (flexible, short) {
                (true, _) => self.put_uvarint(0),
                (false, true) => self.put_i16(-1),
                (false, false) => self.put_i32(-1),
            }
            return;
        };
        let limit = if short { limit.min(i16::MAX as usize) } else { limit.min(i32::MAX as usize) };
        if len > limit {
            self.fail(EncodeError::TooLong { what, len, limit });
            return;
        }
        // `len <= i32::MAX`, so every conversion below is lossless.
        match (flexible, short) {
            (true, _) => self.put_uvarint(len as u32 + 1),
            (false, true) => self.put_i16(len as i16),
            (false, false) => self.put_i32(len as i32),
        }
    }

    fn put_null(&mut self, flexible: bool, nullable: bool, short: bool) {
        if !nullable {
            self.fail(EncodeError::NullNotAllowed);
        }
        self.put_length(None, flexible, short, 0, "null");
    }

    pub fn put_string(&mut self, s: &str, flexible: bool) {
        self.put_length(Some(s.len()), flexible, true, MAX_STRING_LEN, "string");
        self.own.put_slice(s.as_bytes());
    }

    pub fn put_nullable_string(&mut self, s: Option<&str>, flexible: bool, nullable: bool) {
        match s {
            Some(s) => self.put_string(s, flexible),
            None => self.put_null(flexible, nullable, true),
        }
    }

    pub fn put_bytes(&mut self, b: &Bytes, flexible: bool) {
        self.put_length(Some(b.len()), flexible, false, MAX_BYTES_LEN, "bytes");
        self.own.put_slice(b);
    }

    pub fn put_nullable_bytes(&mut self, b: Option<&Bytes>, flexible: bool, nullable: bool) {
        match b {
            Some(b) => self.put_bytes(b, flexible),
            None => self.put_null(flexible, nullable, false),
        }
    }

    /// The length prefix, then every piece as its own chunk (no copy).
    pub fn put_records(&mut self, r: &RecordsData, flexible: bool) {
        self.put_length(Some(r.len()), flexible, false, MAX_BYTES_LEN, "records");
        self.segments.push(Segment::Own(self.own.len()));
        for piece in r.pieces() {
            self.borrowed_len += piece.len();
            self.segments.push(Segment::Borrowed(piece.clone()));
        }
    }

    pub fn put_nullable_records(&mut self, r: Option<&RecordsData>, flexible: bool, nullable: bool) {
        match r {
            Some(r) => self.put_records(r, flexible),
            None => self.put_null(flexible, nullable, false),
        }
    }

    /// An array count (classic i32, compact uvarint N+1).
    pub fn put_array_len(&mut self, len: usize, flexible: bool) {
        self.put_length(Some(len), flexible, false, i32::MAX as usize, "array");
    }

    pub fn put_null_array(&mut self, flexible: bool, nullable: bool) {
        self.put_null(flexible, nullable, false);
    }

    /// The count of a tagged-field section (a plain uvarint, not N+1).
    pub fn put_tag_count(&mut self, count: usize) {
        match u32::try_from(count) {
            Ok(c) => self.put_uvarint(c),
            Err(_) => self.fail(EncodeError::TooLong { what: "tagged fields", len: count, limit: u32::MAX as usize }),
        }
    }

    /// One tagged field: tag, size of `value`, then `value` itself.
    pub fn put_tagged(&mut self, tag: u32, value: Writer) {
        self.put_uvarint(tag);
        match u32::try_from(value.len()) {
            Ok(size) => self.put_uvarint(size),
            Err(_) => {
                self.fail(EncodeError::TooLong { what: "tagged field", len: value.len(), limit: u32::MAX as usize })
            }
        }
        self.append(value);
    }

    /// Appends everything `other` wrote (and its error, if any).
    pub fn append(&mut self, other: Writer) {
        if let Some(e) = other.error {
            self.fail(e);
        }
        let base = self.own.len();
        self.own.extend_from_slice(&other.own);
        for seg in other.segments {
            self.segments.push(match seg {
                Segment::Own(end) => Segment::Own(base + end),
                Segment::Borrowed(b) => Segment::Borrowed(b),
            });
        }
        self.borrowed_len += other.borrowed_len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_pieces_are_their_own_chunks() {
        let stored = Bytes::from_static(b"BATCH-ONE");
        let mut w = Writer::new();
        w.put_i16(7);
        w.put_records(&RecordsData::from_pieces(vec![stored.clone(), Bytes::from_static(b"TWO")]), false);
        w.put_i8(1);
        assert_eq!(w.len(), 2 + 4 + 12 + 1);
        let chunks = w.finish().unwrap();
        assert_eq!(chunks.len(), 4);
        assert_eq!(&chunks[0][..], &[0, 7, 0, 0, 0, 12]);
        assert_eq!(chunks[1].as_ptr(), stored.as_ptr());
        assert_eq!(&chunks[2][..], b"TWO");
        assert_eq!(&chunks[3][..], &[1]);
    }

    #[test]
    fn uvarint_and_compact_lengths() {
        let mut w = Writer::new();
        w.put_uvarint(300);
        w.put_string("ab", true);
        w.put_nullable_string(None, true, true);
        w.put_nullable_string(None, false, true);
        assert_eq!(Piece::concat(&w.finish().unwrap()), vec![0xac, 0x02, 3, b'a', b'b', 0, 0xff, 0xff]);
    }

    #[test]
    fn errors_are_kept() {
        let mut w = Writer::new();
        w.put_nullable_string(None, false, false);
        assert_eq!(w.finish(), Err(EncodeError::NullNotAllowed));
        let mut w = Writer::new();
        w.put_string(&"x".repeat(MAX_STRING_LEN + 1), true);
        assert!(matches!(w.finish(), Err(EncodeError::TooLong { .. })));
    }

    #[test]
    fn tagged_values_carry_their_size() {
        let mut sub = Writer::new();
        sub.put_records(&RecordsData::from(Bytes::from_static(b"xyz")), true);
        let mut w = Writer::new();
        w.put_tag_count(1);
        w.put_tagged(5, sub);
        assert_eq!(Piece::concat(&w.finish().unwrap()), vec![1, 5, 4, 4, b'x', b'y', b'z']);
    }
}
