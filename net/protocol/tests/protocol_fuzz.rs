//! Property tests: no input makes the frame decoder or the body decoders panic,
//! and whatever decodes re-encodes to something that decodes the same.

mod common;

use common::sample_frames;
use corelog_protocol::frame::{FLAG_ERROR_BODY, FLAG_RESPONSE};
use corelog_protocol::*;
use proptest::prelude::*;
use zerocopy::IntoBytes;

/// Feeds `bytes` to a decoder in pieces of the given sizes and decodes every
/// frame that comes out both ways. Returns how many frames came out.
fn drive(bytes: &[u8], pieces: &[usize], max_frame_len: usize) -> usize {
    let mut d = FrameDecoder::with_max_frame_len(max_frame_len);
    let mut rest = bytes;
    let mut frames = 0;
    let mut sizes = pieces.iter().copied().cycle();
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        d.feed(&rest[..n]);
        rest = &rest[n..];
        loop {
            match d.next_frame() {
                Ok(Some(frame)) => {
                    frames += 1;
                    check_frame(&frame);
                }
                Ok(None) => break,
                Err(_) => {
                    assert!(d.next_frame().is_err(), "a failed decoder stays failed");
                    return frames;
                }
            }
        }
    }
    frames
}

/// Decodes a frame as request and response; anything that decodes must
/// re-encode and decode to the same value.
fn check_frame(frame: &Frame) {
    if let Ok(request) = decode_request(frame) {
        let again = encode_request(frame.header.correlation_id(), &request).unwrap();
        let again = Frame::from_bytes(again.to_contiguous().freeze(), usize::MAX >> 1).unwrap();
        assert_eq!(decode_request(&again).unwrap(), request);
    }
    if let Ok(response) = decode_response(frame) {
        let again = encode_response(frame.header.correlation_id(), &response).unwrap();
        let again = Frame::from_bytes(again.to_contiguous().freeze(), usize::MAX >> 1).unwrap();
        assert_eq!(decode_response(&again).unwrap(), response);
    }
}

/// A frame with a valid header around an arbitrary body and data section.
fn framed(api_key: u16, flags: u16, body: &[u8], data: &[u8]) -> Vec<u8> {
    let mut header = FrameHeader::new(api_key, 0, 1, flags);
    let data_offset = FRAME_HEADER_LEN + body.len().div_ceil(16) * 16;
    header.body_len = (body.len() as u32).into();
    header.frame_len = ((data_offset + data.len()) as u32).into();
    let mut v = header.as_bytes().to_vec();
    v.extend_from_slice(body);
    v.resize(data_offset, 0);
    v.extend_from_slice(data);
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        pieces in proptest::collection::vec(1usize..64, 1..8),
    ) {
        drive(&bytes, &pieces, 4096);
    }

    #[test]
    fn random_bodies_behind_valid_headers_never_panic(
        api_key in 0u16..(ApiKey::ALL.len() as u16 + 2),
        flags in prop_oneof![Just(0u16), Just(FLAG_RESPONSE), Just(FLAG_RESPONSE | FLAG_ERROR_BODY)],
        body in proptest::collection::vec(any::<u8>(), 0..512),
        data in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let bytes = framed(api_key, flags, &body, &data);
        prop_assert_eq!(drive(&bytes, &[bytes.len()], 1 << 20), 1);
    }

    #[test]
    fn mutated_valid_frames_never_panic(
        which in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        keep_header in any::<bool>(),
        cut in proptest::option::of(any::<prop::sample::Index>()),
        pieces in proptest::collection::vec(1usize..256, 1..4),
    ) {
        let frames = sample_frames();
        let mut bytes = frames[which.index(frames.len())].clone();
        // A body-less frame (DescribeCluster's empty request) has nothing
        // past the header to mutate: mutate the header then.
        let skip = if keep_header && bytes.len() > FRAME_HEADER_LEN { FRAME_HEADER_LEN } else { 0 };
        for (at, byte) in flips {
            let i = skip + at.index(bytes.len() - skip);
            bytes[i] ^= byte | 1;
        }
        if let Some(cut) = cut {
            let len = skip + cut.index(bytes.len() - skip);
            bytes.truncate(len);
            if keep_header && bytes.len() >= 4 {
                let n = bytes.len() as u32;
                bytes[..4].copy_from_slice(&n.to_le_bytes());
            }
        }
        drive(&bytes, &pieces, 1 << 20);
    }

    #[test]
    fn valid_frames_in_any_pieces_decode(
        pieces in proptest::collection::vec(1usize..300, 1..6),
    ) {
        let stream: Vec<u8> = sample_frames().concat();
        prop_assert_eq!(drive(&stream, &pieces, 1 << 20), sample_frames().len());
    }
}

/// Writes the sample frames as the fuzz target's seed corpus
/// (`net/fuzz/seeds/decode_frames/`; the group-data seeds are written by
/// corelog-coordinator's `fuzz_seeds` test). Run with `--ignored` after changing the
/// samples or the wire format.
#[test]
#[ignore]
fn write_fuzz_seed_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/decode_frames");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, frame) in sample_frames().iter().enumerate() {
        // Byte 0 is the fuzz target's piece-size selector: feed whole frames.
        let mut input = vec![255u8];
        input.extend_from_slice(frame);
        std::fs::write(dir.join(format!("sample-{i:02}")), input).unwrap();
    }
    let all: Vec<u8> = std::iter::once(3u8).chain(sample_frames().concat()).collect();
    std::fs::write(dir.join("pipelined-all"), all).unwrap();
}
