//! [`Records`]: opaque record-batch bytes carried in a frame's data section,
//! and the `(offset, len)` references the body uses to point at them.

use std::ops::Deref;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use rkyv::{Archive, Deserialize, Serialize};

use super::error::{EncodeError, ProtocolError};
use super::frame::{pad_to_alignment, FRAME_ALIGNMENT};
use super::limits::MAX_FRAME_BYTES_CEILING;

/// One piece of [`Records`]: shared bytes (received frames, cached batches) or
/// a buffer owned by the current core (a batch read from disk into an I/O
/// buffer, which can't leave its core). Either way it is sent as it is.
#[derive(Clone)]
pub enum Chunk {
    /// Reference-counted bytes, usable on any thread.
    Shared(Bytes),
    /// A core-local buffer; keeps `Records` holding it on this core.
    Local(Rc<dyn AsRef<[u8]>>),
}

impl Deref for Chunk {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Chunk::Shared(b) => b,
            Chunk::Local(l) => (**l).as_ref(),
        }
    }
}

impl std::fmt::Debug for Chunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Chunk::Shared(b) => write!(f, "Shared({} bytes)", b.len()),
            Chunk::Local(l) => write!(f, "Local({} bytes)", (**l).as_ref().len()),
        }
    }
}

/// The record batches of one partition in a produce request or fetch response:
/// opaque bytes (one or more whole batches, as stored on disk), kept as a list
/// of [`Chunk`]s so nothing is copied on either side.
///
/// Encoding lays the chunks out back to back as one contiguous range of the
/// data section; decoding yields a single chunk that is a zero-copy slice of
/// the received frame. Equality compares content, not chunking.
#[derive(Debug, Clone, Default)]
pub struct Records {
    chunks: Vec<Chunk>,
}

impl Records {
    /// No records.
    pub fn new() -> Self {
        Records::default()
    }

    /// Records from one contiguous buffer (e.g. one batch).
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        let mut records = Records::new();
        records.push(bytes);
        records
    }

    /// Records from several buffers (e.g. consecutive batches from a cache),
    /// which are sent back to back without being copied.
    pub fn from_chunks(chunks: impl IntoIterator<Item = Bytes>) -> Self {
        let mut records = Records::new();
        for chunk in chunks {
            records.push(chunk);
        }
        records
    }

    /// Appends a chunk (empty chunks are dropped).
    pub fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.chunks.push(Chunk::Shared(chunk));
        }
    }

    /// Appends a core-local buffer, sent without being copied.
    pub fn push_local(&mut self, chunk: Rc<dyn AsRef<[u8]>>) {
        if !(*chunk).as_ref().is_empty() {
            self.chunks.push(Chunk::Local(chunk));
        }
    }

    /// Total bytes.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.len()).sum()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The chunks, in order.
    pub fn chunks(&self) -> &[Chunk] {
        &self.chunks
    }

    /// The bytes as one buffer: zero-copy for zero or one shared chunk
    /// (always the case after decoding), a copy otherwise.
    pub fn to_bytes(&self) -> Bytes {
        match self.chunks.as_slice() {
            [] => Bytes::new(),
            [Chunk::Shared(one)] => one.clone(),
            many => {
                let mut out = BytesMut::with_capacity(self.len());
                for chunk in many {
                    out.extend_from_slice(chunk);
                }
                out.freeze()
            }
        }
    }
}

impl PartialEq for Records {
    fn eq(&self, other: &Records) -> bool {
        self.len() == other.len()
            && self.chunks.iter().flat_map(|c| c.iter()).eq(other.chunks.iter().flat_map(|c| c.iter()))
    }
}

impl Eq for Records {}

impl From<Bytes> for Records {
    fn from(bytes: Bytes) -> Self {
        Records::from_bytes(bytes)
    }
}

/// A byte range of the frame's data section, relative to its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub(crate) struct DataRef {
    pub offset: u32,
    pub len: u32,
}

/// Zeros used to pad data ranges to [`FRAME_ALIGNMENT`].
static ZEROS: [u8; FRAME_ALIGNMENT] = [0; FRAME_ALIGNMENT];

/// Lays out a data section while a body is being built: each [`Records`]
/// becomes one range starting on a multiple of [`FRAME_ALIGNMENT`].
#[derive(Debug, Default)]
pub(crate) struct DataSectionWriter {
    slices: Vec<Chunk>,
    len: usize,
}

impl DataSectionWriter {
    /// Appends `records` (no copy) and returns the reference to them.
    pub fn push(&mut self, records: &Records) -> Result<DataRef, EncodeError> {
        let aligned = pad_to_alignment(self.len);
        if aligned > self.len && !records.is_empty() {
            self.slices.push(Chunk::Shared(Bytes::from_static(&ZEROS[..aligned - self.len])));
            self.len = aligned;
        }
        let offset = self.len;
        for chunk in records.chunks() {
            self.slices.push(chunk.clone());
        }
        self.len += records.len();
        if self.len > MAX_FRAME_BYTES_CEILING {
            return Err(EncodeError::TooLarge(self.len));
        }
        // Both fit in u32: bounded by the ceiling (1 GiB) just checked.
        Ok(DataRef { offset: offset as u32, len: records.len() as u32 })
    }

    /// Total bytes so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The slices, in order.
    pub fn into_slices(self) -> Vec<Chunk> {
        self.slices
    }
}

/// Resolves references against a received data section, enforcing that they
/// are in bounds, ascending and disjoint.
#[derive(Debug)]
pub(crate) struct DataSectionReader<'a> {
    data: &'a Bytes,
    next_free: u64,
}

impl<'a> DataSectionReader<'a> {
    pub fn new(data: &'a Bytes) -> Self {
        DataSectionReader { data, next_free: 0 }
    }

    /// The records `(offset, len)` points at, as a zero-copy slice.
    pub fn take(&mut self, offset: u32, len: u32) -> Result<Records, ProtocolError> {
        let start = u64::from(offset);
        let end = start + u64::from(len);
        if start < self.next_free || end > self.data.len() as u64 {
            return Err(ProtocolError::BadDataRef { offset, len, data_len: self.data.len() });
        }
        self.next_free = end;
        // In bounds of a usize-sized buffer, so the casts are lossless.
        Ok(Records::from_bytes(self.data.slice(start as usize..end as usize)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_ignores_chunking() {
        let a = Records::from_chunks([Bytes::from_static(b"ab"), Bytes::from_static(b"cd")]);
        let b = Records::from_bytes(Bytes::from_static(b"abcd"));
        assert_eq!(a, b);
        assert_ne!(a, Records::from_bytes(Bytes::from_static(b"abce")));
        assert_eq!(a.to_bytes(), Bytes::from_static(b"abcd"));
        assert!(Records::from_bytes(Bytes::new()).is_empty());
    }

    #[test]
    fn writer_aligns_ranges() {
        let mut w = DataSectionWriter::default();
        let r1 = w.push(&Records::from_bytes(vec![1u8; 5])).unwrap();
        let r2 = w.push(&Records::new()).unwrap();
        let r3 = w.push(&Records::from_bytes(vec![2u8; 3])).unwrap();
        assert_eq!(r1, DataRef { offset: 0, len: 5 });
        assert_eq!(r2, DataRef { offset: 5, len: 0 });
        assert_eq!(r3, DataRef { offset: 16, len: 3 });
        assert_eq!(w.len(), 19);
        let total: usize = w.into_slices().iter().map(|c| c.len()).sum();
        assert_eq!(total, 19);
    }

    #[test]
    fn reader_rejects_overlap_and_out_of_bounds() {
        let data = Bytes::from(vec![0u8; 32]);
        let mut r = DataSectionReader::new(&data);
        assert_eq!(r.take(0, 8).unwrap().len(), 8);
        assert!(r.take(4, 8).is_err());
        let mut r = DataSectionReader::new(&data);
        assert!(r.take(30, 3).is_err());
        assert!(r.take(u32::MAX, u32::MAX).is_err());
        assert_eq!(r.take(32, 0).unwrap().len(), 0);
    }
}
