//! [`FrameDecoder`]: cuts frames out of a byte stream as it arrives.

use bytes::BytesMut;

use super::frame::{Frame, FrameError, FrameHeader, FRAME_HEADER_LEN};
use super::limits::{DEFAULT_MAX_FRAME_BYTES, MAX_FRAME_BYTES_CEILING};

/// Streaming frame splitter over a [`BytesMut`], I/O-free.
///
/// Feed it bytes as they arrive ([`feed`](Self::feed), or read straight into
/// [`buffer_mut`](Self::buffer_mut)), then call [`next_frame`](Self::next_frame)
/// until it returns `Ok(None)`: many frames may sit in the buffer at once
/// (pipelining), and a frame may arrive in any number of pieces.
///
/// The decoder never allocates for an announced length: the buffer holds
/// exactly what was fed (or read into it). The frame length is checked
/// against the maximum as soon as its first four bytes arrive, and the whole header as soon as its 32 bytes arrive, so an
/// oversized or foreign stream is rejected before its payload is buffered.
/// After an error the decoder is *failed*: every later call returns the same
/// error, because the stream is no longer in frame — close the connection.
///
/// ```
/// use corelog_protocol::{encode_request, decode_request, FrameDecoder,
///     MetadataRequest, Request};
///
/// let frame = encode_request(1, &Request::Metadata(MetadataRequest { topics: None }))
///     .unwrap()
///     .to_contiguous();
/// let mut decoder = FrameDecoder::new();
/// decoder.feed(&frame[..10]);
/// assert!(decoder.next_frame().unwrap().is_none());
/// decoder.feed(&frame[10..]);
/// let frame = decoder.next_frame().unwrap().unwrap();
/// assert_eq!(frame.header.correlation_id(), 1);
/// assert!(matches!(decode_request(&frame), Ok(Request::Metadata(_))));
/// ```
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    max_frame_len: usize,
    failed: Option<FrameError>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder accepting frames up to [`DEFAULT_MAX_FRAME_BYTES`].
    pub fn new() -> Self {
        Self::with_max_frame_len(DEFAULT_MAX_FRAME_BYTES)
    }

    /// A decoder accepting frames up to `max_frame_len` bytes (clamped to
    /// `FRAME_HEADER_LEN..=MAX_FRAME_BYTES_CEILING`).
    pub fn with_max_frame_len(max_frame_len: usize) -> Self {
        FrameDecoder {
            buf: BytesMut::new(),
            max_frame_len: max_frame_len.clamp(FRAME_HEADER_LEN, MAX_FRAME_BYTES_CEILING),
            failed: None,
        }
    }

    /// The largest frame this decoder accepts.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The receive buffer, for reading from a socket straight into it (append
    /// only: bytes already in it are the unconsumed stream).
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// How many more bytes are needed before the next frame is complete, if
    /// known (the length prefix has arrived); a hint for read sizing.
    pub fn bytes_needed(&self) -> Option<usize> {
        let len = self.buf.get(..4)?;
        let frame_len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        Some(frame_len.saturating_sub(self.buf.len()))
    }

    /// Returns the next complete frame, `Ok(None)` if more bytes are needed,
    /// or an error if the stream is malformed (close the connection).
    ///
    /// The returned frame's `body` and `data` share the receive buffer's
    /// allocation: no payload is copied.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        match self.try_next() {
            Err(err) => {
                self.failed = Some(err.clone());
                Err(err)
            }
            ok => ok,
        }
    }

    fn try_next(&mut self) -> Result<Option<Frame>, FrameError> {
        let Some(prefix) = self.buf.get(..4) else {
            return Ok(None);
        };
        let frame_len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        if frame_len > self.max_frame_len {
            return Err(FrameError::TooLarge { len: frame_len, max: self.max_frame_len });
        }
        if frame_len < FRAME_HEADER_LEN {
            return Err(FrameError::TooShort(frame_len));
        }
        let Some(header) = FrameHeader::parse(&self.buf) else {
            return Ok(None);
        };
        header.validate(self.max_frame_len)?;
        if self.buf.len() < frame_len {
            // No room is reserved for the rest: the length is the peer's
            // claim, and memory must follow bytes that arrived (the caller
            // grows its reads with them).
            return Ok(None);
        }
        let bytes = self.buf.split_to(frame_len).freeze();
        Frame::from_bytes(bytes, self.max_frame_len).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FRAME_MAGIC;
    use zerocopy::IntoBytes;

    fn raw_frame(body: &[u8], data: &[u8]) -> Vec<u8> {
        let mut h = FrameHeader::new(1, 0, 9, 0);
        let data_off = FRAME_HEADER_LEN + crate::frame::pad_to_alignment(body.len());
        h.body_len = (body.len() as u32).into();
        h.frame_len = ((data_off + data.len()) as u32).into();
        let mut v = h.as_bytes().to_vec();
        v.extend_from_slice(body);
        v.resize(data_off, 0);
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn splits_frames_and_slices_sections() {
        let mut d = FrameDecoder::new();
        let f = raw_frame(b"hello", b"DATA");
        d.feed(&f);
        d.feed(&f[..20]);
        let frame = d.next_frame().unwrap().unwrap();
        assert_eq!(&frame.body[..], b"hello");
        assert_eq!(&frame.data[..], b"DATA");
        assert_eq!(frame.header.correlation_id(), 9);
        assert_eq!(d.next_frame(), Ok(None));
        assert_eq!(d.buffered_len(), 20);
        assert_eq!(d.bytes_needed(), Some(f.len() - 20));
        d.feed(&f[20..]);
        assert!(d.next_frame().unwrap().is_some());
        assert_eq!(d.next_frame(), Ok(None));
        assert_eq!(d.buffered_len(), 0);
    }

    #[test]
    fn an_announced_length_allocates_nothing() {
        let mut d = FrameDecoder::new();
        let mut h = FrameHeader::new(1, 0, 9, 0);
        h.frame_len = (DEFAULT_MAX_FRAME_BYTES as u32).into();
        d.feed(h.as_bytes());
        assert_eq!(d.next_frame(), Ok(None));
        assert_eq!(d.bytes_needed(), Some(DEFAULT_MAX_FRAME_BYTES - FRAME_HEADER_LEN));
        assert!(d.buffer_mut().capacity() < 4096, "capacity {}", d.buffer_mut().capacity());
    }

    #[test]
    fn oversize_rejected_from_length_prefix_alone() {
        let mut d = FrameDecoder::with_max_frame_len(1024);
        d.feed(&2048u32.to_le_bytes());
        assert_eq!(d.next_frame(), Err(FrameError::TooLarge { len: 2048, max: 1024 }));
        // Failed for good, even if valid bytes follow.
        d.feed(&raw_frame(b"x", b""));
        assert!(d.next_frame().is_err());
    }

    #[test]
    fn bad_magic_rejected() {
        let mut f = raw_frame(b"x", b"");
        f[18..20].copy_from_slice(&(FRAME_MAGIC ^ 1).to_le_bytes());
        let mut d = FrameDecoder::new();
        d.feed(&f);
        assert_eq!(d.next_frame(), Err(FrameError::BadMagic(FRAME_MAGIC ^ 1)));
    }

    #[test]
    fn too_short_rejected() {
        let mut d = FrameDecoder::new();
        d.feed(&8u32.to_le_bytes());
        assert_eq!(d.next_frame(), Err(FrameError::TooShort(8)));
    }
}
