//! [`Reader`]: bounds-checked decoding of Kafka's primitive types.
//!
//! Primitive layouts (all integers big-endian):
//! ```text
//! int8/16/32/64, uint16/32   fixed width, two's complement / unsigned
//! float64                    IEEE 754 binary64
//! bool                       1 byte, 0 = false, anything else = true
//! uuid                       16 bytes
//! uvarint                    LEB128, 1..=5 bytes, value <= u32::MAX
//! string           classic:  i16 length (-1 = null) | UTF-8 bytes
//!                  compact:  uvarint length+1 (0 = null) | UTF-8 bytes
//! bytes, records   classic:  i32 length (-1 = null) | bytes
//!                  compact:  uvarint length+1 (0 = null) | bytes
//! array            classic:  i32 count (-1 = null) | elements
//!                  compact:  uvarint count+1 (0 = null) | elements
//! tagged fields    uvarint count | count * (uvarint tag | uvarint size | size bytes)
//! ```

use bytes::{Buf, Bytes};

use crate::limits::{MAX_ARRAY_LEN, MAX_BYTES_LEN, MAX_STRING_LEN, MAX_TAGGED_FIELDS};
use crate::{DecodeError, RecordsData, Uuid};

/// Reads Kafka primitives from the front of a [`Bytes`]; `bytes` and
/// `records` values come out as slices of it (no copy). Every length and
/// count is checked against the bytes left and the named limits before
/// anything is allocated.
///
/// I/O-free; used on any core.
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
}

impl Reader {
    pub fn new(buf: Bytes) -> Reader {
        Reader { buf }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Fails unless every byte was read.
    pub fn expect_end(&self) -> Result<(), DecodeError> {
        match self.buf.len() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }

    /// Fails unless the value of tagged field `tag` filled its announced size.
    pub fn expect_tagged_end(&self, tag: u32) -> Result<(), DecodeError> {
        match self.buf.len() {
            0 => Ok(()),
            left => Err(DecodeError::TaggedFieldSize { tag, left }),
        }
    }

    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated { needed: n, left: self.buf.len() });
        }
        Ok(())
    }

    /// The next `n` bytes, as a slice of the input.
    pub fn take(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        self.need(n)?;
        Ok(self.buf.split_to(n))
    }

    pub fn i8(&mut self) -> Result<i8, DecodeError> {
        self.need(1)?;
        Ok(self.buf.get_i8())
    }

    pub fn i16(&mut self) -> Result<i16, DecodeError> {
        self.need(2)?;
        Ok(self.buf.get_i16())
    }

    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        self.need(4)?;
        Ok(self.buf.get_i32())
    }

    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        self.need(8)?;
        Ok(self.buf.get_i64())
    }

    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        self.need(2)?;
        Ok(self.buf.get_u16())
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.need(4)?;
        Ok(self.buf.get_u32())
    }

    pub fn f64(&mut self) -> Result<f64, DecodeError> {
        self.need(8)?;
        Ok(self.buf.get_f64())
    }

    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.i8()? != 0)
    }

    pub fn uuid(&mut self) -> Result<Uuid, DecodeError> {
        self.need(16)?;
        let mut id = [0u8; 16];
        self.buf.copy_to_slice(&mut id);
        Ok(Uuid(id))
    }

    pub fn uvarint(&mut self) -> Result<u32, DecodeError> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let b = self.i8()? as u8;
            if i == 4 && b > 0x0f {
                return Err(DecodeError::BadVarint);
            }
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::BadVarint)
    }

    /// A length: classic as i16 (`short`) or i32, compact as uvarint N+1.
    /// `None` is null.
    fn length(&mut self, flexible: bool, short: bool) -> Result<Option<usize>, DecodeError> {
        let n: i64 = if flexible {
            i64::from(self.uvarint()?) - 1
        } else if short {
            i64::from(self.i16()?)
        } else {
            i64::from(self.i32()?)
        };
        match n {
            -1 => Ok(None),
            n if n < 0 => Err(DecodeError::NegativeLength(n)),
            // Lengths are below 2^32 here, so the cast is lossless on 64-bit
            // and saturating elsewhere (then the limit check rejects it).
            n => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
        }
    }

    fn bounded(&mut self, len: usize, limit: usize, what: &'static str) -> Result<Bytes, DecodeError> {
        if len > limit {
            return Err(DecodeError::TooLong { what, len, limit });
        }
        self.take(len)
    }

    pub fn nullable_string(&mut self, flexible: bool, nullable: bool) -> Result<Option<String>, DecodeError> {
        match self.length(flexible, true)? {
            None if nullable => Ok(None),
            None => Err(DecodeError::UnexpectedNull),
            Some(len) => {
                let raw = self.bounded(len, MAX_STRING_LEN, "string")?;
                let s = std::str::from_utf8(&raw).map_err(|_| DecodeError::InvalidUtf8)?;
                Ok(Some(s.to_owned()))
            }
        }
    }

    pub fn string(&mut self, flexible: bool) -> Result<String, DecodeError> {
        self.nullable_string(flexible, false)?.ok_or(DecodeError::UnexpectedNull)
    }

    pub fn nullable_bytes(&mut self, flexible: bool, nullable: bool) -> Result<Option<Bytes>, DecodeError> {
        match self.length(flexible, false)? {
            None if nullable => Ok(None),
            None => Err(DecodeError::UnexpectedNull),
            Some(len) => Ok(Some(self.bounded(len, MAX_BYTES_LEN, "bytes")?)),
        }
    }

    pub fn bytes(&mut self, flexible: bool) -> Result<Bytes, DecodeError> {
        self.nullable_bytes(flexible, false)?.ok_or(DecodeError::UnexpectedNull)
    }

    pub fn nullable_records(&mut self, flexible: bool, nullable: bool) -> Result<Option<RecordsData>, DecodeError> {
        Ok(self.nullable_bytes(flexible, nullable)?.map(RecordsData::from))
    }

    pub fn records(&mut self, flexible: bool) -> Result<RecordsData, DecodeError> {
        Ok(RecordsData::from(self.bytes(flexible)?))
    }

    /// An array count, each element taking at least `min_elem` bytes.
    pub fn nullable_array_len(
        &mut self,
        flexible: bool,
        nullable: bool,
        min_elem: usize,
    ) -> Result<Option<usize>, DecodeError> {
        match self.length(flexible, false)? {
            None if nullable => Ok(None),
            None => Err(DecodeError::UnexpectedNull),
            Some(count) => {
                if count > MAX_ARRAY_LEN {
                    return Err(DecodeError::TooLong { what: "array", len: count, limit: MAX_ARRAY_LEN });
                }
                let left = self.buf.len();
                if count.saturating_mul(min_elem.max(1)) > left {
                    return Err(DecodeError::ArrayPastEnd { count, left });
                }
                Ok(Some(count))
            }
        }
    }

    pub fn array_len(&mut self, flexible: bool, min_elem: usize) -> Result<usize, DecodeError> {
        self.nullable_array_len(flexible, false, min_elem)?.ok_or(DecodeError::UnexpectedNull)
    }

    /// The count of a tagged-field section.
    pub fn tagged_count(&mut self) -> Result<usize, DecodeError> {
        let count = usize::try_from(self.uvarint()?).unwrap_or(usize::MAX);
        if count > MAX_TAGGED_FIELDS {
            return Err(DecodeError::TooLong { what: "tagged fields", len: count, limit: MAX_TAGGED_FIELDS });
        }
        // Each tagged field is at least a tag byte and a size byte.
        let left = self.buf.len();
        if count.saturating_mul(2) > left {
            return Err(DecodeError::ArrayPastEnd { count, left });
        }
        Ok(count)
    }

    /// One tagged field: its tag and a reader over exactly its value.
    pub fn tagged_field(&mut self) -> Result<(u32, Reader), DecodeError> {
        let tag = self.uvarint()?;
        let size = usize::try_from(self.uvarint()?).unwrap_or(usize::MAX);
        Ok((tag, Reader::new(self.take(size)?)))
    }

    /// Reads a tagged-field section, skipping every field (headers have no
    /// known tags).
    pub fn skip_tagged_fields(&mut self) -> Result<(), DecodeError> {
        for _ in 0..self.tagged_count()? {
            self.tagged_field()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(b: &'static [u8]) -> Reader {
        Reader::new(Bytes::from_static(b))
    }

    #[test]
    fn uvarint_bounds() {
        assert_eq!(reader(&[0x96, 0x01]).uvarint(), Ok(150));
        assert_eq!(reader(&[0xff, 0xff, 0xff, 0xff, 0x0f]).uvarint(), Ok(u32::MAX));
        assert_eq!(reader(&[0xff, 0xff, 0xff, 0xff, 0x1f]).uvarint(), Err(DecodeError::BadVarint));
        assert!(matches!(reader(&[0x80]).uvarint(), Err(DecodeError::Truncated { .. })));
    }

    #[test]
    fn strings_are_checked() {
        assert_eq!(reader(&[0, 2, b'h', b'i']).string(false), Ok("hi".into()));
        assert_eq!(reader(&[3, b'h', b'i']).string(true), Ok("hi".into()));
        assert_eq!(reader(&[0xff, 0xff]).nullable_string(false, true), Ok(None));
        assert_eq!(reader(&[0xff, 0xff]).string(false), Err(DecodeError::UnexpectedNull));
        assert_eq!(reader(&[0xff, 0xfe]).string(false), Err(DecodeError::NegativeLength(-2)));
        assert_eq!(reader(&[0, 2, 0xc3, 0x28]).string(false), Err(DecodeError::InvalidUtf8));
        assert!(matches!(reader(&[0, 9, b'h']).string(false), Err(DecodeError::Truncated { .. })));
        assert!(matches!(reader(&[0xff, 0xff, 0x03]).string(true), Err(DecodeError::TooLong { .. })));
    }

    #[test]
    fn array_count_is_bounded_by_bytes_left() {
        assert_eq!(
            reader(&[0x7f, 0xff, 0xff, 0xff]).array_len(false, 1),
            Err(DecodeError::TooLong { what: "array", len: i32::MAX as usize, limit: MAX_ARRAY_LEN })
        );
        assert_eq!(
            reader(&[0, 0, 0, 3, 1, 2]).array_len(false, 1),
            Err(DecodeError::ArrayPastEnd { count: 3, left: 2 })
        );
        assert_eq!(
            reader(&[0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7]).array_len(false, 4),
            Err(DecodeError::ArrayPastEnd { count: 2, left: 7 })
        );
        assert_eq!(reader(&[3, 1, 2]).array_len(true, 1), Ok(2));
        assert_eq!(reader(&[0]).nullable_array_len(true, true, 1), Ok(None));
    }

    #[test]
    fn bytes_are_slices_of_the_input() {
        let input = Bytes::from_static(&[0, 0, 0, 3, 7, 8, 9]);
        let mut r = Reader::new(input.clone());
        let b = r.bytes(false).unwrap();
        assert_eq!(b.as_ptr(), input[4..].as_ptr());
        assert!(r.is_empty());
    }
}
