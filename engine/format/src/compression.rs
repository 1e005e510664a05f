//! Whole-body compression codecs and their bounded decoders.
//!
//! The body is compressed as one unit, never per record: records in a batch
//! share keys and schemas, so one frame compresses far better than many small
//! ones, and the broker never needs to decompress to store or serve a batch.
//!
//! Decoding trusts nothing: the header's `uncompressed_length` sizes the output
//! buffer, so it is checked against hard limits and against what the frame
//! itself can produce before anything is allocated.

use std::cell::RefCell;

use bytes::BytesMut;
use rkyv::util::AlignedVec;

use crate::error::BatchError;
use crate::header::ATTR_COMPRESSION_MASK;
use crate::limits::{DEFAULT_ZSTD_LEVEL, MAX_UNCOMPRESSED_BODY_BYTES};

/// Compression codec of a batch body (attributes bits 0..2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    Lz4,
    Zstd,
}

impl Compression {
    /// Codec named by the compression bits of `attributes`; other bits are
    /// ignored here (the framing check rejects unknown ones).
    pub fn from_attributes(attributes: u16) -> Result<Self, BatchError> {
        match attributes & ATTR_COMPRESSION_MASK {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Lz4),
            2 => Ok(Compression::Zstd),
            codec => Err(BatchError::UnknownCodec { codec }),
        }
    }

    /// The attribute bits that name this codec.
    pub const fn attribute_bits(self) -> u16 {
        match self {
            Compression::None => 0,
            Compression::Lz4 => 1,
            Compression::Zstd => 2,
        }
    }
}

/// In the LZ4 block format one input byte yields at most 255 output bytes (a
/// length-extension byte); anything claiming more is a lie we can refuse
/// before allocating the claimed size.
const LZ4_MAX_EXPANSION: usize = 255;

/// A zstd block decodes to at most 128 KiB and costs at least a 3-byte block
/// header, which bounds what a frame of a given size can expand to.
const ZSTD_MAX_BLOCK_OUTPUT: usize = 128 * 1024;
const ZSTD_MIN_BLOCK_BYTES: usize = 3;

/// Appends `input` compressed with `codec` to `out`.
pub(crate) fn compress_into(codec: Compression, input: &[u8], out: &mut BytesMut) -> Result<(), BatchError> {
    let start = out.len();
    match codec {
        Compression::None => out.extend_from_slice(input),
        Compression::Lz4 => {
            // Compress straight into the batch buffer: no temporary copy.
            out.resize(start + lz4_flex::block::get_maximum_output_size(input.len()), 0);
            let written = lz4_flex::block::compress_into(input, &mut out[start..])
                .map_err(|e| BatchError::Encode(format!("lz4: {e}")))?;
            out.truncate(start + written);
        }
        Compression::Zstd => {
            out.resize(start + zstd::zstd_safe::compress_bound(input.len()), 0);
            let dst = &mut out[start..];
            let written = with_zstd_compressor(|c| c.compress_to_buffer(input, dst))
                .map_err(|e| BatchError::Encode(format!("zstd: {e}")))?;
            out.truncate(start + written);
        }
    }
    Ok(())
}

/// Decompresses a body into a 16-aligned buffer of exactly `expected_len`
/// bytes, ready for rkyv access.
pub(crate) fn decompress(codec: Compression, input: &[u8], expected_len: usize) -> Result<AlignedVec, BatchError> {
    if expected_len > MAX_UNCOMPRESSED_BODY_BYTES {
        return Err(BatchError::UncompressedTooLarge { size: expected_len, max: MAX_UNCOMPRESSED_BODY_BYTES });
    }
    match codec {
        Compression::None => {
            let mut out = AlignedVec::with_capacity(input.len());
            out.extend_from_slice(input);
            check_len(expected_len, out.len())?;
            Ok(out)
        }
        Compression::Lz4 => {
            if expected_len > input.len().saturating_mul(LZ4_MAX_EXPANSION) {
                return Err(BatchError::Decompress(format!(
                    "lz4 body of {} bytes cannot expand to {expected_len}",
                    input.len()
                )));
            }
            let mut out = zeroed(expected_len);
            let written = lz4_flex::block::decompress_into(input, out.as_mut_slice())
                .map_err(|e| BatchError::Decompress(format!("lz4: {e}")))?;
            check_len(expected_len, written)?;
            Ok(out)
        }
        Compression::Zstd => {
            check_zstd_frame(input, expected_len)?;
            let mut out = zeroed(expected_len);
            let written = with_zstd_decompressor(|d| d.decompress_to_buffer(input, out.as_mut_slice()))
                .map_err(|e| BatchError::Decompress(format!("zstd: {e}")))?;
            check_len(expected_len, written)?;
            Ok(out)
        }
    }
}

/// The builder writes exactly one frame with its content size; insisting on
/// that lets us reject a frame that claims another size (or trailing garbage)
/// before allocating, instead of after decompressing.
fn check_zstd_frame(input: &[u8], expected_len: usize) -> Result<(), BatchError> {
    let frame_len = zstd::zstd_safe::find_frame_compressed_size(input)
        .map_err(|code| BatchError::Decompress(format!("zstd: {}", zstd_error(code))))?;
    if frame_len != input.len() {
        return Err(BatchError::Decompress(format!(
            "zstd body holds {} bytes after its frame",
            input.len().saturating_sub(frame_len)
        )));
    }
    let max_output = (input.len() / ZSTD_MIN_BLOCK_BYTES).saturating_mul(ZSTD_MAX_BLOCK_OUTPUT);
    if expected_len > max_output {
        return Err(BatchError::Decompress(format!(
            "zstd body of {} bytes cannot expand to {expected_len}",
            input.len()
        )));
    }
    match zstd::zstd_safe::get_frame_content_size(input) {
        Ok(Some(size)) if size == expected_len as u64 => Ok(()),
        Ok(Some(size)) => Err(BatchError::DecompressedSizeMismatch {
            expected: expected_len,
            actual: usize::try_from(size).unwrap_or(usize::MAX),
        }),
        Ok(None) => Err(BatchError::Decompress("zstd frame does not declare its content size".into())),
        Err(_) => Err(BatchError::Decompress("zstd: bad frame header".into())),
    }
}

fn zstd_error(code: usize) -> &'static str {
    zstd::zstd_safe::get_error_name(code)
}

fn check_len(expected: usize, actual: usize) -> Result<(), BatchError> {
    if expected == actual {
        Ok(())
    } else {
        Err(BatchError::DecompressedSizeMismatch { expected, actual })
    }
}

fn zeroed(len: usize) -> AlignedVec {
    let mut out = AlignedVec::with_capacity(len);
    out.resize(len, 0);
    out
}

// zstd contexts are large (hundreds of KiB of tables) and costly to set up, so
// each thread keeps one of each. Shards are threads, so this is per core and
// never contended.
thread_local! {
    static ZSTD_COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { RefCell::new(None) };
    static ZSTD_DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

fn with_zstd_compressor<R>(
    f: impl FnOnce(&mut zstd::bulk::Compressor<'static>) -> std::io::Result<R>,
) -> std::io::Result<R> {
    let new = || zstd::bulk::Compressor::new(DEFAULT_ZSTD_LEVEL);
    ZSTD_COMPRESSOR.with(|cell| with_cached(cell, new, f))
}

fn with_zstd_decompressor<R>(
    f: impl FnOnce(&mut zstd::bulk::Decompressor<'static>) -> std::io::Result<R>,
) -> std::io::Result<R> {
    ZSTD_DECOMPRESSOR.with(|cell| with_cached(cell, zstd::bulk::Decompressor::new, f))
}

/// Runs `f` with the thread's cached context, creating it on first use. A
/// context that saw an error is dropped rather than trusted again.
fn with_cached<C, R>(
    cell: &RefCell<Option<C>>,
    new: impl FnOnce() -> std::io::Result<C>,
    f: impl FnOnce(&mut C) -> std::io::Result<R>,
) -> std::io::Result<R> {
    let Ok(mut slot) = cell.try_borrow_mut() else {
        // Only reachable by re-entry; a private context is correct, just slower.
        return f(&mut new()?);
    };
    let mut ctx = match slot.take() {
        Some(ctx) => ctx,
        None => new()?,
    };
    let result = f(&mut ctx);
    if result.is_ok() {
        *slot = Some(ctx);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_bits_round_trip() {
        for c in [Compression::None, Compression::Lz4, Compression::Zstd] {
            assert_eq!(Compression::from_attributes(c.attribute_bits()), Ok(c));
        }
        assert_eq!(Compression::from_attributes(3), Err(BatchError::UnknownCodec { codec: 3 }));
        assert_eq!(Compression::default(), Compression::None);
    }

    #[test]
    fn codecs_round_trip_and_bound_claims() {
        let input: Vec<u8> = (0..10_000u32).map(|i| (i % 7) as u8).collect();
        for c in [Compression::None, Compression::Lz4, Compression::Zstd] {
            let mut out = BytesMut::new();
            compress_into(c, &input, &mut out).unwrap();
            let back = decompress(c, &out, input.len()).unwrap();
            assert_eq!(back.as_slice(), &input[..]);
            assert_eq!(back.as_ptr() as usize % 16, 0);
            assert!(decompress(c, &out, input.len() + 1).is_err());
        }
    }

    #[test]
    fn claims_beyond_max_expansion_are_refused_before_allocating() {
        let err = decompress(Compression::Lz4, &[0u8; 4], 4 * 255 + 1).unwrap_err();
        assert!(matches!(err, BatchError::Decompress(_)));
        let err = decompress(Compression::Zstd, &[], MAX_UNCOMPRESSED_BODY_BYTES + 1).unwrap_err();
        assert!(matches!(err, BatchError::UncompressedTooLarge { .. }));
        // A real frame claiming far more than its blocks can hold.
        let mut frame = BytesMut::new();
        compress_into(Compression::Zstd, &[1, 2, 3], &mut frame).unwrap();
        let err = decompress(Compression::Zstd, &frame, 64 * 1024 * 1024).unwrap_err();
        assert!(matches!(err, BatchError::Decompress(_)), "{err:?}");
    }
}
