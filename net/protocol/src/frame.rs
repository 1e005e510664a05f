//! The frame: the unit of the native protocol on a TCP stream.
//!
//! ```text
//!  frame = header (32 bytes) | body (body_len) | pad to 16 | data section
//!
//!  byte  size  field            notes
//!  ----  ----  ---------------  -----------------------------------------------
//!     0     4  frame_len   u32  bytes of the WHOLE frame, this field included:
//!                               32 <= frame_len <= the reader's max frame size
//!     4     2  api_key     u16  see ApiKey; a response echoes its request's
//!     6     2  api_version u16  version of the body layout; echoed in responses
//!     8     4  correlation_id u32  chosen by the client, echoed by the response
//!    12     4  body_len    u32  bytes of the rkyv archive that follows the header
//!    16     2  flags       u16  bit 0 RESPONSE (set on responses),
//!                               bit 1 ERROR_BODY (response body is an ErrorResponse
//!                               instead of the api's own response), others zero
//!    18     2  magic       u16  0x4C43, the bytes "CL": rejects strangers early
//!    20    12  reserved         zero (room for header growth without a new magic)
//!    32     .  body             rkyv archive (little-endian, aligned, 32-bit
//!                               relative pointers) of the api's request/response
//!     .     .  padding          zero bytes up to the next multiple of 16
//!  32+pad16(body_len) .  data   the data section: record batches, unchanged
//! ```
//!
//! All integers are little-endian. The header is 32 bytes and the body is padded
//! to 16, so when a frame sits at a 16-aligned address the body is 16-aligned
//! (what rkyv needs for in-place access) and so is the data section. The body
//! refers to byte ranges of the data section as `(offset, len)` pairs relative
//! to the data section's start; the encoder starts every non-empty range on a
//! multiple of 16, so record batches (padded to 16 by the engine) stay
//! 16-aligned too (an empty range takes no padding and may start anywhere).
//! The frame ends with the last range: the data section is not padded.
//!
//! Why a data section: a fetch response's batches are the stored bytes; the
//! server writes `[header+body, batch, batch, …]` piece by piece and never
//! copies a payload, and a produce request's batches are zero-copy
//! [`Bytes`] slices of the received frame.
//!
//! **Misalignment.** A [`FrameDecoder`] cuts frames out of a `BytesMut`, whose
//! allocation and cut points are not 16-aligned in general. Decoding checks the
//! body's address: if it is not 16-aligned the body (metadata only — never the
//! data section) is first copied into an [`rkyv::util::AlignedVec`], then
//! validated there with `rkyv::access` (bytecheck). Data-section slices are
//! handed out as they are; consumers of batches handle their own alignment.
//!
//! [`FrameDecoder`]: crate::FrameDecoder

use bytes::Bytes;
use zerocopy::little_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::api::ApiKey;

/// Size of [`FrameHeader`] in bytes.
pub const FRAME_HEADER_LEN: usize = 32;
/// Alignment of the body and of the data section within a frame, and of every
/// data range the encoder lays out.
pub const FRAME_ALIGNMENT: usize = 16;
/// Value of the `magic` header field: the bytes `"CL"`.
pub const FRAME_MAGIC: u16 = u16::from_le_bytes(*b"CL");

/// Flag bit: this frame is a response.
pub const FLAG_RESPONSE: u16 = 0b01;
/// Flag bit: this response's body is an `ErrorResponse` (the request could not
/// be decoded or its api/version is unsupported), not the api's own response.
pub const FLAG_ERROR_BODY: u16 = 0b10;
/// Flag bits this protocol version defines; a frame with any other bit set is
/// a framing error.
pub const KNOWN_FLAGS: u16 = FLAG_RESPONSE | FLAG_ERROR_BODY;

/// Rounds `n` up to a multiple of [`FRAME_ALIGNMENT`].
pub const fn pad_to_alignment(n: usize) -> usize {
    n.div_ceil(FRAME_ALIGNMENT) * FRAME_ALIGNMENT
}

/// The fixed 32-byte frame header (layout in the module docs), readable in
/// place from any byte slice with `zerocopy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct FrameHeader {
    /// Whole frame length, header included.
    pub frame_len: U32,
    /// Raw api key (see [`ApiKey`]); kept raw so an unknown key can be answered.
    pub api_key: U16,
    /// Body layout version.
    pub api_version: U16,
    /// Client-chosen id echoed by the response.
    pub correlation_id: U32,
    /// Length of the rkyv body.
    pub body_len: U32,
    /// [`FLAG_RESPONSE`] | [`FLAG_ERROR_BODY`].
    pub flags: U16,
    /// Always [`FRAME_MAGIC`].
    pub magic: U16,
    /// Always zero.
    pub reserved: [u8; 12],
}

const _: () = assert!(core::mem::size_of::<FrameHeader>() == FRAME_HEADER_LEN);
const _: () = assert!(FRAME_HEADER_LEN.is_multiple_of(FRAME_ALIGNMENT));

/// Why a frame header is unacceptable. Any of these means the byte stream can
/// no longer be trusted to be in frame: the connection should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// `frame_len` exceeds the reader's maximum frame size.
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// The announced frame length.
        len: usize,
        /// The reader's limit.
        max: usize,
    },
    /// `frame_len` is smaller than the header itself.
    #[error("frame length {0} is smaller than the {FRAME_HEADER_LEN}-byte header")]
    TooShort(usize),
    /// The magic field is not [`FRAME_MAGIC`]: not a corelog peer.
    #[error("bad frame magic {0:#06x}")]
    BadMagic(u16),
    /// A flag bit outside [`KNOWN_FLAGS`] is set.
    #[error("unknown frame flags {0:#06x}")]
    UnknownFlags(u16),
    /// The reserved bytes are not zero.
    #[error("reserved frame header bytes are not zero")]
    ReservedNotZero,
    /// The body (plus its padding) does not fit in the frame.
    #[error("body of {body_len} bytes does not fit in a frame of {frame_len}")]
    BodyOutOfBounds {
        /// The announced body length.
        body_len: usize,
        /// The announced frame length.
        frame_len: usize,
    },
}

impl FrameHeader {
    /// Builds a header; `frame_len` and `body_len` are filled in by the encoder.
    pub fn new(api_key: u16, api_version: u16, correlation_id: u32, flags: u16) -> Self {
        FrameHeader {
            frame_len: U32::new(0),
            api_key: U16::new(api_key),
            api_version: U16::new(api_version),
            correlation_id: U32::new(correlation_id),
            body_len: U32::new(0),
            flags: U16::new(flags),
            magic: U16::new(FRAME_MAGIC),
            reserved: [0; 12],
        }
    }

    /// Reads a header from the front of `bytes`; `None` if fewer than
    /// [`FRAME_HEADER_LEN`] bytes. Checks nothing: see [`FrameHeader::validate`].
    pub fn parse(bytes: &[u8]) -> Option<FrameHeader> {
        FrameHeader::read_from_prefix(bytes).ok().map(|(h, _)| h)
    }

    /// Checks everything the header alone can tell: length bounds against
    /// `max_frame_len`, magic, flags, reserved bytes, body fits.
    pub fn validate(&self, max_frame_len: usize) -> Result<(), FrameError> {
        let frame_len = self.frame_len();
        if frame_len > max_frame_len {
            return Err(FrameError::TooLarge { len: frame_len, max: max_frame_len });
        }
        if frame_len < FRAME_HEADER_LEN {
            return Err(FrameError::TooShort(frame_len));
        }
        if self.magic.get() != FRAME_MAGIC {
            return Err(FrameError::BadMagic(self.magic.get()));
        }
        if self.flags.get() & !KNOWN_FLAGS != 0 {
            return Err(FrameError::UnknownFlags(self.flags.get()));
        }
        if self.reserved != [0; 12] {
            return Err(FrameError::ReservedNotZero);
        }
        let body_len = self.body_len();
        // Compare before padding so nothing can overflow, even on 32-bit:
        // past the first test, body_len + 15 < frame_len <= u32::MAX.
        let room = frame_len - FRAME_HEADER_LEN;
        if body_len > room || pad_to_alignment(body_len) > room {
            return Err(FrameError::BodyOutOfBounds { body_len, frame_len });
        }
        Ok(())
    }

    /// Whole frame length in bytes.
    pub fn frame_len(&self) -> usize {
        self.frame_len.get() as usize
    }
    /// Raw api key.
    pub fn api_key_raw(&self) -> u16 {
        self.api_key.get()
    }
    /// The api key, if this build knows it.
    pub fn api_key(&self) -> Option<ApiKey> {
        ApiKey::from_u16(self.api_key.get())
    }
    /// Body layout version.
    pub fn api_version(&self) -> u16 {
        self.api_version.get()
    }
    /// Correlation id.
    pub fn correlation_id(&self) -> u32 {
        self.correlation_id.get()
    }
    /// Length of the rkyv body.
    pub fn body_len(&self) -> usize {
        self.body_len.get() as usize
    }
    /// Raw flags.
    pub fn flags(&self) -> u16 {
        self.flags.get()
    }
    /// Whether [`FLAG_RESPONSE`] is set.
    pub fn is_response(&self) -> bool {
        self.flags.get() & FLAG_RESPONSE != 0
    }
    /// Whether [`FLAG_ERROR_BODY`] is set.
    pub fn is_error_body(&self) -> bool {
        self.flags.get() & FLAG_ERROR_BODY != 0
    }
    /// Offset of the data section from the start of the frame.
    pub fn data_offset(&self) -> usize {
        FRAME_HEADER_LEN + pad_to_alignment(self.body_len())
    }
}

/// One complete, header-validated frame, as cut from the byte stream by a
/// [`FrameDecoder`](crate::FrameDecoder). `body` and `data` are
/// zero-copy slices of the received bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The parsed header.
    pub header: FrameHeader,
    /// The rkyv body (without its padding).
    pub body: Bytes,
    /// The data section (record batches), possibly empty.
    pub data: Bytes,
}

impl Frame {
    /// Cuts a frame out of `bytes`, which must hold exactly one whole frame.
    /// Validates the header against `max_frame_len` and that `frame_len`
    /// equals `bytes.len()`.
    pub fn from_bytes(bytes: Bytes, max_frame_len: usize) -> Result<Frame, FrameError> {
        let header = FrameHeader::parse(&bytes).ok_or(FrameError::TooShort(bytes.len()))?;
        header.validate(max_frame_len)?;
        if header.frame_len() != bytes.len() {
            // A frame whose length field disagrees with what we hold.
            return Err(FrameError::BodyOutOfBounds { body_len: header.body_len(), frame_len: bytes.len() });
        }
        let body_end = FRAME_HEADER_LEN + header.body_len();
        Ok(Frame { body: bytes.slice(FRAME_HEADER_LEN..body_end), data: bytes.slice(header.data_offset()..), header })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(frame_len: u32, body_len: u32) -> FrameHeader {
        let mut h = FrameHeader::new(3, 0, 7, 0);
        h.frame_len = U32::new(frame_len);
        h.body_len = U32::new(body_len);
        h
    }

    #[test]
    fn layout_is_as_documented() {
        let h = header(0x1122_3344, 5);
        let b = h.as_bytes();
        assert_eq!(&b[0..4], &0x1122_3344u32.to_le_bytes());
        assert_eq!(&b[4..6], &3u16.to_le_bytes());
        assert_eq!(&b[8..12], &7u32.to_le_bytes());
        assert_eq!(&b[12..16], &5u32.to_le_bytes());
        assert_eq!(&b[18..20], b"CL");
        assert_eq!(&b[20..32], &[0u8; 12]);
    }

    #[test]
    fn validate_rejects_bad_headers() {
        assert_eq!(header(64, 20).validate(1024), Ok(()));
        assert_eq!(header(64, 32).validate(1024), Ok(()));
        assert!(matches!(header(64, 33).validate(1024), Err(FrameError::BodyOutOfBounds { .. })));
        assert!(matches!(header(2048, 0).validate(1024), Err(FrameError::TooLarge { .. })));
        assert_eq!(header(31, 0).validate(1024), Err(FrameError::TooShort(31)));
        assert!(matches!(header(64, u32::MAX).validate(1024), Err(FrameError::BodyOutOfBounds { .. })));
        let mut h = header(64, 0);
        h.magic = U16::new(0x1234);
        assert_eq!(h.validate(1024), Err(FrameError::BadMagic(0x1234)));
        let mut h = header(64, 0);
        h.flags = U16::new(0x8000);
        assert_eq!(h.validate(1024), Err(FrameError::UnknownFlags(0x8000)));
        let mut h = header(64, 0);
        h.reserved[11] = 1;
        assert_eq!(h.validate(1024), Err(FrameError::ReservedNotZero));
    }
}
