//! [`FrameSplitter`]: cuts Kafka frames out of a byte stream as it arrives.
//!
//! ```text
//! frame: size i32 (bytes that follow, big-endian) | header | body
//! ```

use bytes::{Buf, Bytes, BytesMut};

use crate::limits::{MAX_FRAME_BYTES_CEILING, MIN_REQUEST_FRAME_BYTES, MIN_RESPONSE_FRAME_BYTES};

/// The stream is out of frame; close the connection.
///
/// I/O-free; used on any core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A size prefix below the smallest possible frame (or negative).
    #[error("frame size {size} is below the minimum of {min}")]
    TooSmall { size: i64, min: usize },
    /// A size prefix above the configured maximum.
    #[error("frame size {size} exceeds the maximum of {max}")]
    TooLarge { size: i64, max: usize },
}

/// Streaming frame splitter over a [`BytesMut`].
///
/// [`feed`](Self::feed) bytes as they arrive, then call
/// [`next_frame`](Self::next_frame) until it returns `Ok(None)` (several
/// frames may be buffered; one may arrive in any number of pieces). The
/// buffer holds exactly the bytes fed: nothing is reserved for the size a
/// prefix announces, and the size is checked as soon as its 4 bytes arrive.
/// After an error the splitter stays failed (the stream is out of frame).
///
/// I/O-free; used on any core.
#[derive(Debug)]
pub struct FrameSplitter {
    buf: BytesMut,
    min: usize,
    max: usize,
    failed: Option<FrameError>,
}

impl FrameSplitter {
    /// A splitter for a broker reading requests, accepting frames up to
    /// `max_frame_bytes` (clamped to the minimum..=[`MAX_FRAME_BYTES_CEILING`]).
    pub fn for_requests(max_frame_bytes: usize) -> FrameSplitter {
        Self::with_bounds(MIN_REQUEST_FRAME_BYTES, max_frame_bytes)
    }

    /// A splitter for a client reading responses.
    pub fn for_responses(max_frame_bytes: usize) -> FrameSplitter {
        Self::with_bounds(MIN_RESPONSE_FRAME_BYTES, max_frame_bytes)
    }

    fn with_bounds(min: usize, max: usize) -> FrameSplitter {
        FrameSplitter { buf: BytesMut::new(), min, max: max.clamp(min, MAX_FRAME_BYTES_CEILING), failed: None }
    }

    /// Appends received bytes (dropped once the splitter has failed).
    pub fn feed(&mut self, data: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(data);
        }
    }

    /// Bytes buffered and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// How many more bytes the frame now arriving needs, once its size
    /// prefix is in and within bounds (a hint for sizing reads; a size out
    /// of bounds is `next_frame`'s to report).
    pub fn bytes_needed(&self) -> Option<usize> {
        let prefix = self.buf.get(..4)?;
        let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        let size = usize::try_from(size).ok().filter(|s| (self.min..=self.max).contains(s))?;
        Some((4 + size).saturating_sub(self.buf.len()))
    }

    /// The receive buffer, for reading into it directly instead of
    /// [`feed`](Self::feed)ing a copy: grow it, read into the new tail,
    /// truncate to what arrived. A frame read exactly to its end is then
    /// the only one in its allocation, so slices of it (stored batches)
    /// keep no other frame's bytes alive.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// The next complete frame (header + body, without the size prefix),
    /// `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let Some(prefix) = self.buf.get(..4) else {
            return Ok(None);
        };
        let size = i64::from(i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]));
        let error = if size < self.min as i64 {
            Some(FrameError::TooSmall { size, min: self.min })
        } else if size > self.max as i64 {
            Some(FrameError::TooLarge { size, max: self.max })
        } else {
            None
        };
        if let Some(e) = error {
            self.failed = Some(e);
            self.buf = BytesMut::new();
            return Err(e);
        }
        // `min <= size <= max <= 2^30`: the conversion and addition are exact.
        let size = size as usize;
        if self.buf.len() < 4 + size {
            return Ok(None);
        }
        self.buf.advance(4);
        Ok(Some(self.buf.split_to(size).freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_pipelined_frames_fed_byte_by_byte() {
        let mut stream = Vec::new();
        for body in [&b"0123456789"[..], &b"abcdefghijkl"[..]] {
            stream.extend_from_slice(&(body.len() as i32).to_be_bytes());
            stream.extend_from_slice(body);
        }
        let mut s = FrameSplitter::for_requests(1024);
        let mut frames = Vec::new();
        for b in &stream {
            s.feed(std::slice::from_ref(b));
            while let Some(f) = s.next_frame().unwrap() {
                frames.push(f);
            }
        }
        assert_eq!(frames, vec![Bytes::from_static(b"0123456789"), Bytes::from_static(b"abcdefghijkl")]);
        assert_eq!(s.buffered(), 0);
    }

    #[test]
    fn bytes_needed_counts_down_to_the_end_of_the_frame() {
        let mut s = FrameSplitter::for_requests(1024);
        assert_eq!(s.bytes_needed(), None, "no prefix yet");
        s.feed(&100i32.to_be_bytes());
        assert_eq!(s.bytes_needed(), Some(100));
        s.buffer_mut().extend_from_slice(&[7; 60]);
        assert_eq!(s.bytes_needed(), Some(40));
        s.buffer_mut().extend_from_slice(&[7; 40]);
        assert_eq!(s.bytes_needed(), Some(0));
        assert_eq!(s.next_frame().unwrap().map(|f| f.len()), Some(100));
        s.feed(&5000i32.to_be_bytes());
        assert_eq!(s.bytes_needed(), None, "over the maximum: next_frame reports it");
        assert!(s.next_frame().is_err());
    }

    #[test]
    fn rejects_bad_sizes_before_buffering_the_body() {
        let mut s = FrameSplitter::for_requests(100);
        s.feed(&0x7fff_ffffi32.to_be_bytes());
        assert_eq!(s.next_frame(), Err(FrameError::TooLarge { size: 0x7fff_ffff, max: 100 }));
        assert!(s.buf.capacity() < 1024);
        s.feed(&[0; 10]);
        assert_eq!(s.buffered(), 0);
        assert!(s.next_frame().is_err());

        let mut s = FrameSplitter::for_requests(100);
        s.feed(&(-1i32).to_be_bytes());
        assert_eq!(s.next_frame(), Err(FrameError::TooSmall { size: -1, min: MIN_REQUEST_FRAME_BYTES }));
        let mut s = FrameSplitter::for_requests(100);
        s.feed(&9i32.to_be_bytes());
        assert!(matches!(s.next_frame(), Err(FrameError::TooSmall { size: 9, .. })));
    }

    #[test]
    fn announced_size_reserves_nothing() {
        let mut s = FrameSplitter::for_requests(MAX_FRAME_BYTES_CEILING);
        s.feed(&(1i32 << 30).to_be_bytes());
        s.feed(&[1, 2, 3]);
        assert_eq!(s.next_frame(), Ok(None));
        assert!(s.buf.capacity() < 4096, "capacity {}", s.buf.capacity());
    }
}
