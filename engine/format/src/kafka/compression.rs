//! The five codecs of Kafka batches, with bounded decoders.
//!
//! Kafka compresses a batch's records as one stream with a framed codec, and
//! (unlike the native header) the Kafka header does not say how large the
//! decompressed records are. So every decoder here grows its output with
//! what the stream actually produces and stops past a limit: the smaller of
//! MAX_UNCOMPRESSED_BODY_BYTES and what a stream of that many bytes can
//! possibly expand to with the codec. A zip bomb is an error, never an
//! allocation of what it claims.
//!
//! Formats, as Kafka's Java client and librdkafka write them:
//! - gzip: RFC 1952 members (several may follow each other, as Java reads them).
//! - snappy: snappy-java's "xerial" framing: `\x82SNAPPY\0`, a version and
//!   a compatible-version i32 (BE), then blocks of [length u32 BE][raw snappy
//!   block]. Like snappy-java, a stream without that magic is read as one
//!   raw snappy block.
//! - lz4: the standard LZ4 frame format (Kafka's since magic 1).
//! - zstd: one or more zstd frames, content size optional.
//!
//! Fixed-size decoder state is bounded by constants, not by the stream: a
//! zstd window by KAFKA_ZSTD_WINDOW_LOG_MAX (8 MiB), an LZ4 frame's block
//! buffers by the format's largest block size (4 MiB), inflate's by 32 KiB.
//!
//! I/O-free; used on any core.

use std::io::{Read, Write};

use crate::error::BatchError;
use crate::kafka::header::ATTR_COMPRESSION_MASK;
use crate::limits::{
    DEFAULT_ZSTD_LEVEL, KAFKA_SNAPPY_BLOCK_BYTES, KAFKA_ZSTD_WINDOW_LOG_MAX, MAX_UNCOMPRESSED_BODY_BYTES,
};

/// Codec of a Kafka batch's records (attributes bits 0..2).
///
/// I/O-free; used on any core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    pub const ALL: [Compression; 5] =
        [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd];

    /// Codec named by the codec bits of `attributes`; other bits are ignored here.
    pub fn from_attributes(attributes: u16) -> Result<Self, BatchError> {
        match attributes & ATTR_COMPRESSION_MASK {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Ok(Compression::Snappy),
            3 => Ok(Compression::Lz4),
            4 => Ok(Compression::Zstd),
            codec => Err(BatchError::UnknownCodec { codec }),
        }
    }

    /// The attribute bits that name this codec.
    pub const fn attribute_bits(self) -> u16 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// Most bytes `input_len` compressed bytes can decode to with this codec.
    fn max_expansion(self, input_len: usize) -> usize {
        let factor = match self {
            Compression::None => 1,
            Compression::Gzip => DEFLATE_MAX_EXPANSION,
            Compression::Snappy => SNAPPY_MAX_EXPANSION,
            Compression::Lz4 => LZ4_MAX_EXPANSION,
            Compression::Zstd => ZSTD_MAX_EXPANSION,
        };
        input_len.saturating_mul(factor)
    }

    fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// Deflate's largest possible ratio (zlib's technical notes): 1032:1.
const DEFLATE_MAX_EXPANSION: usize = 1032;
/// A snappy copy element of 3 bytes yields at most 64 bytes; nothing yields more per byte.
const SNAPPY_MAX_EXPANSION: usize = 22;
/// In LZ4 one input byte yields at most 255 output bytes (a length-extension byte).
const LZ4_MAX_EXPANSION: usize = 255;
/// A zstd block yields at most 128 KiB and costs at least 4 bytes (a 3-byte
/// block header and one RLE byte).
const ZSTD_MAX_EXPANSION: usize = 128 * 1024 / 4;

/// snappy-java's stream magic.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\0";
/// Magic, then version and compatible version (both 1, as snappy-java writes).
const XERIAL_HEADER_LEN: usize = 16;
const XERIAL_VERSION: i32 = 1;

/// Decompresses `input` (the records part of a batch), refusing to produce
/// more than MAX_UNCOMPRESSED_BODY_BYTES or than `input` can expand to.
pub(crate) fn decompress(codec: Compression, input: &[u8]) -> Result<Vec<u8>, BatchError> {
    decompress_bounded(codec, input, MAX_UNCOMPRESSED_BODY_BYTES)
}

/// [`decompress`] with the output limit as a parameter (tests use small ones).
pub(crate) fn decompress_bounded(codec: Compression, input: &[u8], max_output: usize) -> Result<Vec<u8>, BatchError> {
    let limit = max_output.min(MAX_UNCOMPRESSED_BODY_BYTES).min(codec.max_expansion(input.len()));
    let err = |e: std::io::Error| BatchError::Decompress(format!("{}: {e}", codec.name()));
    let out = match codec {
        Compression::None => Ok(input.to_vec()),
        Compression::Gzip => read_bounded(flate2::read::MultiGzDecoder::new(input), limit).map_err(err),
        Compression::Snappy => snappy_decompress(input, limit),
        Compression::Lz4 => read_bounded(lz4_flex::frame::FrameDecoder::new(input), limit).map_err(err),
        Compression::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(input).map_err(err)?;
            decoder.window_log_max(KAFKA_ZSTD_WINDOW_LOG_MAX).map_err(err)?;
            read_bounded(decoder, limit).map_err(err)
        }
    }?;
    if out.len() > limit {
        return Err(BatchError::Decompress(format!(
            "{} stream of {} bytes expands past the limit of {limit} bytes",
            codec.name(),
            input.len()
        )));
    }
    Ok(out)
}

/// Reads `reader` to its end, keeping at most `limit + 1` bytes (one more than
/// allowed, so the caller can tell "exactly the limit" from "past it").
/// Capacity doubles but never past that, so the allocation follows the bytes
/// produced and stays within the limit.
fn read_bounded(mut reader: impl Read, limit: usize) -> std::io::Result<Vec<u8>> {
    let cap = limit.saturating_add(1);
    // `out` is zeroed up to its length once per growth; `filled` is how much
    // of it the reader has written.
    let mut out = Vec::new();
    let mut filled = 0;
    loop {
        if filled == out.len() {
            if out.len() >= cap {
                return Ok(out);
            }
            // Not `clamp`: a short stream's cap is below the first step.
            let target = out.len().saturating_mul(2).max(4096).min(cap);
            out.reserve_exact(target - out.len());
            out.resize(target, 0);
        }
        match reader.read(&mut out[filled..]) {
            Ok(0) => {
                out.truncate(filled);
                return Ok(out);
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn snappy_decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, BatchError> {
    let Some(blocks) = input.strip_prefix(XERIAL_MAGIC) else {
        let mut out = Vec::new();
        snappy_block(input, limit, &mut out)?;
        return Ok(out);
    };
    // Version and compatible version: snappy-java has only ever written 1.
    let mut rest =
        blocks.get(XERIAL_HEADER_LEN - XERIAL_MAGIC.len()..).ok_or_else(|| snappy_err("cut-off xerial header"))?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(|| snappy_err("cut-off xerial block length"))?;
        let len = u32::from_be_bytes(*len) as usize;
        let block = tail.get(..len).ok_or_else(|| snappy_err("xerial block longer than the stream"))?;
        snappy_block(block, limit, &mut out)?;
        rest = &tail[len..];
    }
    Ok(out)
}

/// Appends one raw snappy block to `out`, refusing it if its declared length
/// would take `out` past `limit` or past what the block can expand to.
fn snappy_block(block: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), BatchError> {
    let claimed = snap::raw::decompress_len(block).map_err(|e| snappy_err(&e.to_string()))?;
    if claimed > block.len().saturating_mul(SNAPPY_MAX_EXPANSION) || out.len().saturating_add(claimed) > limit {
        return Err(BatchError::Decompress(format!(
            "snappy block of {} bytes claims {claimed} bytes, past the limit",
            block.len()
        )));
    }
    let start = out.len();
    out.resize(start + claimed, 0);
    let written =
        snap::raw::Decoder::new().decompress(block, &mut out[start..]).map_err(|e| snappy_err(&e.to_string()))?;
    if written != claimed {
        return Err(snappy_err("block decoded to fewer bytes than it declares"));
    }
    Ok(())
}

fn snappy_err(what: &str) -> BatchError {
    BatchError::Decompress(format!("snappy: {what}"))
}

/// Appends `input` compressed with `codec` to `out`, framed as Kafka's Java
/// producer frames it.
pub(crate) fn compress_into(codec: Compression, input: &[u8], out: &mut Vec<u8>) -> Result<(), BatchError> {
    let err = |e: std::io::Error| BatchError::Encode(format!("{}: {e}", codec.name()));
    match codec {
        Compression::None => out.extend_from_slice(input),
        Compression::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::default());
            encoder.write_all(input).map_err(err)?;
            encoder.finish().map_err(err)?;
        }
        Compression::Snappy => {
            out.extend_from_slice(XERIAL_MAGIC);
            out.extend_from_slice(&XERIAL_VERSION.to_be_bytes());
            out.extend_from_slice(&XERIAL_VERSION.to_be_bytes());
            let mut encoder = snap::raw::Encoder::new();
            for chunk in input.chunks(KAFKA_SNAPPY_BLOCK_BYTES) {
                let block = encoder.compress_vec(chunk).map_err(|e| BatchError::Encode(format!("snappy: {e}")))?;
                // A block of at most KAFKA_SNAPPY_BLOCK_BYTES compresses to far less than u32::MAX.
                out.extend_from_slice(&(block.len() as u32).to_be_bytes());
                out.extend_from_slice(&block);
            }
        }
        Compression::Lz4 => {
            // Kafka's KafkaLZ4BlockOutputStream: 64 KiB independent blocks.
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let mut encoder = lz4_flex::frame::FrameEncoder::with_frame_info(info, out);
            encoder.write_all(input).map_err(err)?;
            encoder.finish().map_err(|e| BatchError::Encode(format!("lz4: {e}")))?;
        }
        Compression::Zstd => {
            let frame = zstd::bulk::compress(input, DEFAULT_ZSTD_LEVEL).map_err(err)?;
            out.extend_from_slice(&frame);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        (0..100_000u32).map(|i| (i % 251) as u8 ^ (i / 1000) as u8).collect()
    }

    #[test]
    fn attribute_bits_round_trip() {
        for c in Compression::ALL {
            assert_eq!(Compression::from_attributes(c.attribute_bits() | 0x08), Ok(c));
        }
        for codec in 5..8 {
            assert_eq!(Compression::from_attributes(codec), Err(BatchError::UnknownCodec { codec }));
        }
    }

    #[test]
    fn every_codec_round_trips() {
        let input = sample();
        for c in Compression::ALL {
            let mut out = vec![0xAA];
            compress_into(c, &input, &mut out).unwrap();
            assert_eq!(out[0], 0xAA, "appends");
            assert_eq!(decompress(c, &out[1..]).unwrap(), input, "{c:?}");
            // One byte under the size: refused, whatever the codec.
            assert!(decompress_bounded(c, &out[1..], input.len() - 1).is_err(), "{c:?}");
            assert_eq!(decompress_bounded(c, &out[1..], input.len()).unwrap().len(), input.len());
        }
    }

    #[test]
    fn snappy_reads_raw_blocks_and_xerial_streams() {
        let input = sample();
        let raw = snap::raw::Encoder::new().compress_vec(&input).unwrap();
        assert_eq!(decompress(Compression::Snappy, &raw).unwrap(), input);
        let mut framed = Vec::new();
        compress_into(Compression::Snappy, &input, &mut framed).unwrap();
        assert_eq!(&framed[..16], b"\x82SNAPPY\0\0\0\0\x01\0\0\0\x01");
        // 100_000 bytes in 32 KiB blocks: 4 blocks.
        let mut rest = &framed[16..];
        let mut blocks = 0;
        while !rest.is_empty() {
            let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            rest = &rest[4 + len..];
            blocks += 1;
        }
        assert_eq!(blocks, 4);
        for cut in [8, 15, 17, 19, 21, framed.len() - 1] {
            assert!(decompress(Compression::Snappy, &framed[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn bombs_stop_at_the_limit() {
        let zeros = vec![0u8; 4 << 20];
        for c in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let mut out = Vec::new();
            compress_into(c, &zeros, &mut out).unwrap();
            let err = decompress_bounded(c, &out, 1 << 20).unwrap_err();
            assert!(matches!(err, BatchError::Decompress(_)), "{c:?}: {err:?}");
        }
        // A raw snappy block claiming far more than its bytes can hold.
        let lie = [0xff, 0xff, 0xff, 0x7f, 0x00];
        assert!(matches!(decompress(Compression::Snappy, &lie), Err(BatchError::Decompress(_))));
    }

    #[test]
    fn zstd_windows_past_the_limit_are_refused() {
        // A streamed frame (no content size) declaring a 128 MiB window.
        let mut frame = Vec::new();
        let mut e = zstd::stream::write::Encoder::new(&mut frame, 3).unwrap();
        e.set_parameter(zstd::zstd_safe::CParameter::WindowLog(27)).unwrap();
        std::io::Write::write_all(&mut e, &sample()).unwrap();
        e.finish().unwrap();
        let err = decompress(Compression::Zstd, &frame).unwrap_err();
        assert!(matches!(&err, BatchError::Decompress(m) if m.contains("too much memory")), "{err:?}");
        // The same data in a default-level frame decodes.
        let mut ok = Vec::new();
        compress_into(Compression::Zstd, &sample(), &mut ok).unwrap();
        assert_eq!(decompress(Compression::Zstd, &ok).unwrap(), sample());
    }

    /// Found by the fuzzer: a stream so short that its output cap was below
    /// the first growth step made the bounded reader panic.
    #[test]
    fn streams_shorter_than_a_growth_step_do_not_panic() {
        for c in Compression::ALL {
            for n in 0..8 {
                for byte in [0x00, 0x01, 0x1f, 0x28, 0xff] {
                    let _ = decompress(c, &vec![byte; n]);
                }
            }
        }
        // A one-byte raw snappy block is an empty stream.
        assert_eq!(decompress(Compression::Snappy, &[0]).unwrap(), Vec::<u8>::new());
        let mut tiny = Vec::new();
        compress_into(Compression::Gzip, b"x", &mut tiny).unwrap();
        assert_eq!(decompress_bounded(Compression::Gzip, &tiny, 1).unwrap(), b"x");
    }

    #[test]
    fn garbage_is_an_error() {
        for c in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let err = decompress(c, b"\x00not compressed at all, just text").unwrap_err();
            assert!(matches!(err, BatchError::Decompress(_)), "{c:?}: {err:?}");
        }
        assert!(decompress(Compression::Snappy, b"").is_err(), "a raw block needs its length varint");
    }
}
