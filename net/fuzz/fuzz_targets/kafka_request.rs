//! Fuzzes the Kafka listener's receive path: `FrameSplitter` (fed in pieces,
//! so partial-frame states are explored), then `decode_request` on every
//! frame, and `decode_response` of the same bytes as the api/version their
//! first four bytes name. Anything that decodes must re-encode to a frame
//! that decodes to the same value; an unsupported ApiVersions version must
//! get its v0 reply.
//!
//! Input: byte 0 picks the piece size the stream is fed in; the rest is the
//! stream. Seeds: `net/fuzz/seeds/kafka_request/` (a default request of every
//! api at every supported version, written by
//! `cargo test -p corelog-kafka-protocol --test fuzz_seeds -- --ignored`).

#![no_main]

use bytes::Bytes;
use corelog_kafka_protocol::{
    decode_request, decode_response, encode_request, encode_response, unsupported_version_response, ApiKey, FrameSplitter, RequestError,
};
use libfuzzer_sys::fuzz_target;

/// Small, so inputs of a few KiB still reach the frame-size check.
const MAX_FRAME: usize = 64 * 1024;

fn check(frame: Bytes) {
    match decode_request(frame.clone()) {
        Ok(request) => {
            let bytes = encode_request(&request.header, &request.body).expect("re-encode").to_vec();
            let again = decode_request(Bytes::from(bytes).slice(4..)).expect("re-decode");
            assert_eq!(again, request);
        }
        Err(RequestError::UnsupportedVersion { api_key: ApiKey::ApiVersions, correlation_id, .. }) => {
            unsupported_version_response(correlation_id).expect("v0 reply");
        }
        Err(_) => {}
    }
    if frame.len() >= 4 {
        let api = ApiKey::from_i16(i16::from_be_bytes([frame[0], frame[1]]));
        let version = i16::from_be_bytes([frame[2], frame[3]]);
        if let Some(api) = api {
            let (lo, hi) = api.supported_versions();
            if (lo..=hi).contains(&version) {
                if let Ok((header, body)) = decode_response(frame.slice(4..), api, version) {
                    let bytes = encode_response(header.correlation_id, version, &body).expect("re-encode").to_vec();
                    let again = decode_response(Bytes::from(bytes).slice(4..), api, version).expect("re-decode");
                    assert_eq!(again, (header, body));
                }
            }
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&piece, stream)) = input.split_first() else {
        return;
    };
    let piece = usize::from(piece).max(1) * 7;
    let mut splitter = FrameSplitter::for_requests(MAX_FRAME);
    for chunk in stream.chunks(piece) {
        splitter.feed(chunk);
        loop {
            match splitter.next_frame() {
                Ok(Some(frame)) => check(frame),
                Ok(None) => break,
                Err(_) => {
                    assert!(splitter.next_frame().is_err());
                    return;
                }
            }
        }
    }
});
