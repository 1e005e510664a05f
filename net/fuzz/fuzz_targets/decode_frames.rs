//! Fuzzes the whole receive path of the native protocol: `FrameDecoder`
//! (fed in pieces, so partial-frame states are explored), then
//! `decode_request` and `decode_response` on every frame that comes out.
//! Anything that decodes must re-encode and decode to the same value.
//!
//! Input: byte 0 picks the piece size the stream is fed in; the rest is the
//! stream. Seeds: `net/fuzz/seeds/decode_frames/` (valid frames of every api,
//! written by `cargo test -p corelog-protocol --test protocol_fuzz -- --ignored`).

#![no_main]

use corelog_protocol::{decode_request, decode_response, encode_request, encode_response, Frame, FrameDecoder};
use libfuzzer_sys::fuzz_target;

/// Small, so inputs of a few KiB still reach the frame-size check.
const MAX_FRAME: usize = 64 * 1024;

fn check(frame: &Frame) {
    let id = frame.header.correlation_id();
    if let Ok(request) = decode_request(frame) {
        let bytes = encode_request(id, &request).expect("re-encode").to_contiguous();
        let again = Frame::from_bytes(bytes.freeze(), usize::MAX >> 1).expect("re-frame");
        assert_eq!(decode_request(&again).expect("re-decode"), request);
    }
    if let Ok(response) = decode_response(frame) {
        let bytes = encode_response(id, &response).expect("re-encode").to_contiguous();
        let again = Frame::from_bytes(bytes.freeze(), usize::MAX >> 1).expect("re-frame");
        assert_eq!(decode_response(&again).expect("re-decode"), response);
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&piece, stream)) = input.split_first() else {
        return;
    };
    let piece = usize::from(piece).max(1) * 7;
    let mut decoder = FrameDecoder::with_max_frame_len(MAX_FRAME);
    for chunk in stream.chunks(piece) {
        decoder.feed(chunk);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => check(&frame),
                Ok(None) => break,
                Err(_) => {
                    assert!(decoder.next_frame().is_err());
                    return;
                }
            }
        }
    }
});
