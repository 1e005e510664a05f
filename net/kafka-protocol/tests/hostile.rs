//! Untrusted input: hostile counts, truncation at every cut point, unknown
//! tags, bad UTF-8, unsupported versions, and arbitrary bytes. A counting
//! allocator checks that nothing allocates more than the input justifies.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use corelog_kafka_protocol::{
    decode_request, decode_response, encode_request, encode_response, ApiKey, DecodeError, MetadataRequest, Reader,
    RequestBody, RequestError, RequestHeader, ResponseBody, SUPPORTED_APIS,
};
use proptest::prelude::*;

/// Tracks the largest single allocation of the current thread.
struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LARGEST.try_with(|m| m.set(m.get().max(layout.size())));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = LARGEST.try_with(|m| m.set(m.get().max(new_size)));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns its result with the largest allocation it made.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|m| m.set(0));
    let out = f();
    (out, LARGEST.with(Cell::get))
}

fn frame(api: ApiKey, version: i16, body: &[u8]) -> Bytes {
    let mut v = Vec::new();
    v.extend_from_slice(&api.as_i16().to_be_bytes());
    v.extend_from_slice(&version.to_be_bytes());
    v.extend_from_slice(&42i32.to_be_bytes());
    v.extend_from_slice(&(-1i16).to_be_bytes());
    if api.request_is_flexible(version) {
        v.push(0);
    }
    v.extend_from_slice(body);
    Bytes::from(v)
}

#[test]
fn metadata_count_of_2_pow_31_minus_1_is_rejected_without_allocating() {
    let body = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff]);
    let (result, largest) = largest_allocation(|| MetadataRequest::decode(&mut Reader::new(body.clone()), 1));
    assert!(matches!(result, Err(DecodeError::TooLong { what: "array", .. })), "{result:?}");
    assert!(largest < 1024, "allocated {largest} bytes");

    let (result, largest) = largest_allocation(|| decode_request(frame(ApiKey::Metadata, 1, &body)));
    assert!(
        matches!(result, Err(RequestError::Malformed { header: Some(_), error: DecodeError::TooLong { .. } })),
        "{result:?}"
    );
    assert!(largest < 1024, "allocated {largest} bytes");

    // A count within the limit that the bytes left cannot hold.
    let (result, largest) =
        largest_allocation(|| decode_request(frame(ApiKey::Metadata, 4, &[0, 0x3f, 0xff, 0xff, 0, 0])));
    assert!(
        matches!(result, Err(RequestError::Malformed { error: DecodeError::ArrayPastEnd { .. }, .. })),
        "{result:?}"
    );
    assert!(largest < 1024, "allocated {largest} bytes");

    // Metadata v4 topics are at least 2 bytes (a name length): 4 topics
    // cannot fit in 6 bytes, though 4 single bytes would.
    let result = decode_request(frame(ApiKey::Metadata, 4, &[0, 0, 0, 4, 0, 0, 0, 0, 0, 0]));
    assert!(
        matches!(result, Err(RequestError::Malformed { error: DecodeError::ArrayPastEnd { count: 4, left: 6 }, .. })),
        "{result:?}"
    );

    // The same in a compact (flexible) array: uvarint 0xffffffff.
    let (result, largest) =
        largest_allocation(|| decode_request(frame(ApiKey::Metadata, 12, &[0xff, 0xff, 0xff, 0xff, 0x0f])));
    assert!(matches!(result, Err(RequestError::Malformed { error: DecodeError::TooLong { .. }, .. })), "{result:?}");
    assert!(largest < 1024, "allocated {largest} bytes");
}

#[test]
fn hostile_string_and_bytes_lengths_are_rejected_without_allocating() {
    // JoinGroup v0: group_id of length 0x7fff with 2 bytes present.
    let (result, largest) =
        largest_allocation(|| decode_request(frame(ApiKey::JoinGroup, 0, &[0x7f, 0xff, b'a', b'b'])));
    assert!(matches!(result, Err(RequestError::Malformed { error: DecodeError::Truncated { .. }, .. })), "{result:?}");
    assert!(largest < 1024, "allocated {largest} bytes");
    // Produce v3: records of length 2^31-1.
    let mut body = vec![0xff, 0xff, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 0];
    body.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
    let (result, largest) = largest_allocation(|| decode_request(frame(ApiKey::Produce, 3, &body)));
    assert!(matches!(result, Err(RequestError::Malformed { .. })), "{result:?}");
    assert!(largest < 1024, "allocated {largest} bytes");
}

/// A valid frame of every supported api at every supported version (every
/// field at its default), without the size prefix.
fn default_frames() -> Vec<(ApiKey, i16, Bytes)> {
    let mut out = Vec::new();
    for &(api, lo, hi) in SUPPORTED_APIS {
        for version in lo..=hi {
            let header = RequestHeader {
                api_key: api.as_i16(),
                api_version: version,
                correlation_id: 9,
                client_id: Some("c".into()),
            };
            let body = RequestBody::default_for(api);
            let encoded = encode_request(&header, &body).unwrap_or_else(|e| panic!("{api:?} v{version}: {e}"));
            let bytes = Bytes::from(encoded.to_vec()).slice(4..);
            assert_eq!(decode_request(bytes.clone()).map(|r| r.body), Ok(body), "{api:?} v{version}");
            out.push((api, version, bytes));
        }
    }
    out
}

#[test]
fn every_truncation_of_every_request_is_an_error() {
    for (api, version, bytes) in default_frames() {
        for cut in 0..bytes.len() {
            let result = decode_request(bytes.slice(..cut));
            assert!(result.is_err(), "{api:?} v{version} cut at {cut} decoded: {result:?}");
        }
    }
}

#[test]
fn every_truncation_of_every_response_is_an_error() {
    for &(api, lo, hi) in SUPPORTED_APIS {
        for version in lo..=hi {
            let body = ResponseBody::default_for(api);
            let bytes = Bytes::from(encode_response(3, version, &body).unwrap().to_vec()).slice(4..);
            assert_eq!(decode_response(bytes.clone(), api, version).map(|(_, b)| b), Ok(body), "{api:?} v{version}");
            for cut in 0..bytes.len() {
                assert!(decode_response(bytes.slice(..cut), api, version).is_err(), "{api:?} v{version} cut {cut}");
            }
        }
    }
}

#[test]
fn unknown_tags_are_skipped_in_header_and_body() {
    // ApiVersions v3, header v2 with unknown tag 7 (2 bytes), body with
    // unknown tag 30 (0 bytes) and tag 1000 (1 byte).
    let mut v = vec![0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 1, 7, 2, 0xaa, 0xbb];
    v.extend_from_slice(&[3, b'c', b'l', 2, b'1', 2, 30, 0, 0xe8, 0x07, 1, 0xcc]);
    let request = decode_request(Bytes::from(v)).unwrap();
    let RequestBody::ApiVersions(body) = request.body else { panic!("not ApiVersions") };
    assert_eq!((body.client_software_name.as_str(), body.client_software_version.as_str()), ("cl", "1"));
    assert_eq!(request.header.client_id, None);
}

#[test]
fn tagged_field_past_the_end_or_with_a_wrong_size_is_an_error() {
    // Unknown tag announcing 9 bytes with 1 present.
    let v = Bytes::from(vec![0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0, 1, b'c', 1, b'1', 1, 5, 9, 0]);
    assert!(matches!(decode_request(v), Err(RequestError::Malformed { error: DecodeError::Truncated { .. }, .. })));
    // ApiVersions v3 response: known tag 1 (an int64) announced with 9 bytes.
    let mut r = vec![0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 9];
    r.extend_from_slice(&[0; 9]);
    assert!(matches!(
        decode_response(Bytes::from(r), ApiKey::ApiVersions, 3),
        Err(DecodeError::TaggedFieldSize { tag: 1, left: 1 })
    ));
}

#[test]
fn bad_utf8_is_rejected() {
    let v = Bytes::from(vec![0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0, 3, 0xc3, 0x28, 1, 0]);
    assert!(matches!(decode_request(v), Err(RequestError::Malformed { error: DecodeError::InvalidUtf8, .. })));
    // In the client id of the header, too.
    let v = Bytes::from(vec![0, 18, 0, 0, 0, 0, 0, 1, 0, 1, 0xff]);
    assert!(matches!(
        decode_request(v),
        Err(RequestError::Malformed { header: None, error: DecodeError::InvalidUtf8 })
    ));
}

#[test]
fn versions_out_of_range_are_unsupported_and_unknown_apis_are_unknown() {
    for (api, version) in [
        (ApiKey::Produce, 10),
        (ApiKey::Fetch, 3),
        (ApiKey::ApiVersions, 4),
        (ApiKey::Metadata, -1),
        (ApiKey::OffsetFetch, 8),
    ] {
        let result = decode_request(frame(api, version, &[]));
        assert_eq!(result, Err(RequestError::UnsupportedVersion { api_key: api, version, correlation_id: 42 }));
    }
    let mut v = frame(ApiKey::Metadata, 0, &[]).to_vec();
    v[..2].copy_from_slice(&1000i16.to_be_bytes());
    assert_eq!(decode_request(Bytes::from(v)), Err(RequestError::UnknownApi { api_key: 1000, correlation_id: 42 }));
    assert!(matches!(
        decode_request(Bytes::from_static(&[0, 3, 0])),
        Err(RequestError::Malformed { header: None, .. })
    ));
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut v = frame(ApiKey::Metadata, 1, &[0xff, 0xff, 0xff, 0xff]).to_vec();
    assert!(decode_request(Bytes::from(v.clone())).is_ok());
    v.push(0);
    assert!(matches!(
        decode_request(Bytes::from(v)),
        Err(RequestError::Malformed { error: DecodeError::TrailingBytes(1), .. })
    ));
}

proptest! {
    /// Arbitrary bytes after a valid header prefix of any supported api and
    /// version: an error or a value that re-encodes to the same bytes'
    /// meaning, never a panic, never an allocation past a few times the input.
    #[test]
    fn arbitrary_bodies_never_panic(api_index in 0..SUPPORTED_APIS.len(), version_offset in 0i16..16, body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let (api, lo, hi) = SUPPORTED_APIS[api_index];
        let version = lo + version_offset % (hi - lo + 1);
        let (result, largest) = largest_allocation(|| decode_request(frame(api, version, &body)));
        prop_assert!(largest < 64 * 1024, "allocated {}", largest);
        if let Ok(request) = result {
            let again = Bytes::from(encode_request(&request.header, &request.body).unwrap().to_vec()).slice(4..);
            prop_assert_eq!(decode_request(again).unwrap(), request);
        }
        let _ = decode_response(Bytes::from(body), api, version);
    }
}
