//! Golden bytes of the native protocol: the frame header layout and the exact
//! frames a few representative requests and responses encode to, and the
//! messages fixed bytes decode to.
//!
//! **If a test here fails, the wire format changed**: brokers and clients
//! of different builds would no longer understand each other. Do not "fix" it
//! by pasting new constants. Either the change is an accident (a dependency
//! upgrade, e.g. rkyv's archived layout or zerocopy's view of the header, or a
//! refactor of a message type): undo it or pin the dependency. Or it is a
//! deliberate change to a message: give the api a new version (`ApiKey`'s
//! `max_version`) and keep decoding the old one (these constants stay, as the
//! old version's tests), and add constants for the new version next to them.
//! Dropping an old version (raising `min_version`) is deliberate too: its
//! constants stay, as the test that it is refused, never misread (Fetch v0,
//! see `dropped_versions_are_refused_not_misread`).
//! A change to the frame header itself needs a new frame magic.
//!
//! The constants were printed once from this build, then read field by field
//! against the layout comment at the top of `src/frame.rs`: the annotations
//! next to each header say what each field holds at its documented offset
//! (frame_len at 0, api_key at 4, api_version at 6, correlation_id at 8,
//! body_len at 12, flags at 16, magic "CL" at 18, reserved zeros 20..32), and
//! that the body starts at 32 and the data section at 32 + pad16(body_len).
//! Body annotations say which rkyv object each byte run is (offsets from the
//! start of the body; relative pointers are i32 from their own position).
//! Record batches are opaque to the codec, so the one used here is a byte
//! pattern, not a real batch (the batch format has its own golden test).

use bytes::Bytes;
use corelog_protocol::frame::{FLAG_ERROR_BODY, FLAG_RESPONSE, FRAME_MAGIC};
use corelog_protocol::*;

const WIRE_FORMAT_CHANGED: &str = "the wire format changed: this needs a new api version (or, for the \
     frame header, a new frame magic) with the old one still decoded, not a new constant; see the top of this file";

/// The opaque "batch": bytes 0, 1, …, 39.
fn batch() -> Bytes {
    Bytes::from((0u8..40).collect::<Vec<u8>>())
}

fn api_versions_request() -> Request {
    Request::ApiVersions(ApiVersionsRequest { client_id: "golden".into() })
}

const API_VERSIONS_REQUEST: &str = concat!(
    "30000000 ",                 //  0 frame_len = 48
    "0400 ",                     //  4 api_key = 4 (ApiVersions)
    "0000 ",                     //  6 api_version = 0
    "07000000 ",                 //  8 correlation_id = 7
    "08000000 ",                 // 12 body_len = 8
    "0000 ",                     // 16 flags = 0: a request
    "434c ",                     // 18 magic "CL"
    "000000000000000000000000 ", // 20 reserved
    // body at 32; offsets below are from its start: ApiVersionsRequest
    "676f6c64656effff ", //  0 client_id "golden", inline (0xff-padded)
    "0000000000000000 ", //  8 padding to frame offset 48; no data section
);

fn api_versions_response() -> Response {
    Response::ApiVersions(ApiVersionsResponse {
        error: ErrorCode::None,
        error_message: None,
        node_id: 3,
        api_versions: vec![
            ApiVersionRange { api_key: 0, min_version: 0, max_version: 0 },
            ApiVersionRange { api_key: 1, min_version: 0, max_version: 2 },
        ],
    })
}

const API_VERSIONS_RESPONSE: &str = concat!(
    "50000000 0400 0000 07000000 ", //  0 frame_len 80, api_key 4, api_version 0, correlation_id 7
    "28000000 0100 434c ",          // 12 body_len 40, flags RESPONSE, magic
    "000000000000000000000000 ",    // 20 reserved
    // body at 32
    "0000 0000 0000 ",            //  0 api_versions[0]: key 0, versions 0..=0
    "0100 0000 0200 ",            //  6 api_versions[1]: key 1, versions 0..=2
    "0000 0000 ",                 // 12 root: error None, pad
    "00000000 0000000000000000 ", // 16 error_message None (tag, pad, empty slot)
    "03000000 ",                  // 28 node_id 3
    "e0ffffff 02000000 ",         // 32 api_versions -> 0, len 2
    "0000000000000000",           // 40 padding to frame offset 80
);

fn produce_request() -> Request {
    Request::Produce(ProduceRequest {
        acks: Acks::All,
        timeout_ms: 30_000,
        topics: vec![ProduceTopic {
            name: "orders".into(),
            partitions: vec![ProducePartition { partition: 2, records: batch().into() }],
        }],
    })
}

const PRODUCE_REQUEST: &str = concat!(
    "78000000 0000 0000 08000000 ", //  0 frame_len 120, api_key 0 (Produce), api_version 0, correlation_id 8
    "2c000000 0000 434c ",          // 12 body_len 44, flags 0 (request), magic
    "000000000000000000000000 ",    // 20 reserved
    // body at 32 (the wire form: records as data-section references)
    "02000000 00000000 28000000 ", //  0 partitions[0]: partition 2, records at data offset 0, len 40
    "6f726465 7273ffff ",          // 12 topics[0]: name "orders" inline
    "ecffffff 01000000 ",          // 20            partitions -> 0, len 1
    "02 000000 ",                  // 28 root: acks 2 (All), pad
    "30750000 ",                   // 32 timeout_ms 30000
    "e8ffffff 01000000 ",          // 36 topics -> 12, len 1
    "00000000 ",                   // 44 padding to frame offset 80 = 32 + pad16(44)
    // data section at 80: the batch, unchanged
    "000102030405060708090a0b0c0d0e0f",
    "101112131415161718191a1b1c1d1e1f",
    "2021222324252627",
);

fn replica_fetch_request() -> Request {
    Request::Fetch(FetchRequest {
        replica_id: Some(2),
        max_wait_ms: 0,
        min_bytes: 1,
        max_bytes: 8 << 20,
        topics: vec![FetchTopic {
            name: "orders".into(),
            partitions: vec![FetchPartition {
                partition: 2,
                fetch_offset: 17,
                partition_max_bytes: 8 << 20,
                current_leader_epoch: Some(6),
                last_fetched_epoch: Some(5),
                durable_end: Some(12),
            }],
        }],
    })
}

const REPLICA_FETCH_REQUEST: &str = concat!(
    "90000000 0100 0200 0b000000 ", //  0 frame_len 144, api_key 1 (Fetch), api_version 2, correlation_id 11
    "64000000 0000 434c ",          // 12 body_len 100, flags 0 (request), magic
    "000000000000000000000000 ",    // 20 reserved
    // body at 32; partitions are 56 bytes each
    "02000000 00000000 ",          //   0 partitions[0]: partition 2, pad to 8
    "1100000000000000 ",           //   8   fetch_offset 17
    "00008000 ",                   //  16   partition_max_bytes 8 MiB
    "01000000 06000000 ",          //  20   current_leader_epoch Some(6)
    "01000000 05000000 ",          //  28   last_fetched_epoch Some(5)
    "00000000 ",                   //  36   pad to 8
    "01000000 00000000 ",          //  40   durable_end Some, pad to 8:
    "0c00000000000000 ",           //  48     12
    "6f7264657273ffff ",           //  56 topics[0]: name "orders" inline
    "c0ffffff 01000000 ",          //  64   partitions -> 0, len 1
    "01000000 02000000 ",          //  72 root: replica_id Some(2)
    "00000000 01000000 00008000 ", //  80   max_wait_ms 0, min_bytes 1, max_bytes 8 MiB
    "dcffffff 01000000 ",          //  92   topics -> 56, len 1
    "000000000000000000000000",    // 100 padding to frame offset 144 = 32 + pad16(100)
);

fn fetch_response() -> Response {
    Response::Fetch(FetchResponse {
        error: ErrorCode::None,
        error_message: None,
        topics: vec![FetchTopicResponse {
            name: "orders".into(),
            partitions: vec![
                FetchPartitionResponse {
                    partition: 2,
                    high_watermark: 10,
                    log_start_offset: 0,
                    log_end_offset: 10,
                    records: batch().into(),
                    ..Default::default()
                },
                FetchPartitionResponse {
                    partition: 5,
                    error: ErrorCode::NotOwner,
                    error_message: Some("moved".into()),
                    current_owner: Some(Endpoint { node_id: 1, core_id: 3, host: "h".into(), port: 9103 }),
                    ..Default::default()
                },
            ],
        }],
    })
}

/// Fetch version 0 (before leader epochs and divergence): no longer
/// spoken, kept to check that it is refused rather than misread.
const FETCH_RESPONSE_V0: &str = concat!(
    "18010000 0100 0000 09000000 ", //  0 frame_len 280, api_key 1 (Fetch), api_version 0, correlation_id 9
    "c8000000 0100 434c ",          // 12 body_len 200, flags RESPONSE, magic
    "000000000000000000000000 ",    // 20 reserved
    // body at 32; partitions are 80 bytes each
    "02000000 0000 0000 ",                 //   0 partitions[0]: partition 2, error None, pad
    "00000000 0000000000000000 00000000 ", //   8   error_message None, pad to 8
    "0a00000000000000 ",                   //  24   high_watermark 10
    "0000000000000000 ",                   //  32   log_start_offset 0
    "0a00000000000000 ",                   //  40   log_end_offset 10
    "00000000 00000000 0000 0000 0000000000000000 0000 0000 ", // 48 current_owner None
    "00000000 28000000 ",                  //  72   records at data offset 0, len 40
    "05000000 0300 0000 ",                 //  80 partitions[1]: partition 5, error 3 (NotOwner), pad
    "01000000 6d6f766564ffffff 00000000 ", //  88   error_message Some("moved") inline, pad to 8
    "0000000000000000 ",                   // 104   high_watermark 0
    "0000000000000000 ",                   // 112   log_start_offset 0
    "0000000000000000 ",                   // 120   log_end_offset 0
    "01000000 ",                           // 128   current_owner Some:
    "01000000 0300 0000 ",                 // 132     node_id 1, core_id 3, pad
    "68ffffffffffffff ",                   // 140     host "h" inline
    "8f23 0000 ",                          // 148     port 9103, pad
    "28000000 00000000 ",                  // 152   records at data offset 40, len 0 (empty)
    "6f7264657273ffff ",                   // 160 topics[0]: name "orders" inline
    "58ffffff 02000000 ",                  // 168   partitions -> 0, len 2
    "0000 0000 ",                          // 176 root: error None, pad
    "00000000 0000000000000000 ",          // 180   error_message None
    "e0ffffff 01000000 ",                  // 192   topics -> 160, len 1
    "0000000000000000 ",                   // 200 padding to frame offset 240 = 32 + pad16(200)
    // data section at 240: partition 2's batch, unchanged
    "000102030405060708090a0b0c0d0e0f",
    "101112131415161718191a1b1c1d1e1f",
    "2021222324252627",
);

/// Fetch version 1 (before followers reported their durable end): the
/// response layout is the same as version 2's, but the api version is no
/// longer spoken, so this frame checks that it is refused.
const FETCH_RESPONSE_V1: &str = concat!(
    "58010000 0100 0100 09000000 ", //  0 frame_len 344, api_key 1 (Fetch), api_version 1, correlation_id 9
    "08010000 0100 434c ",          // 12 body_len 264, flags RESPONSE, magic
    "000000000000000000000000 ",    // 20 reserved
    // body at 32; partitions are 112 bytes each
    "02000000 0000 0000 ",                 //   0 partitions[0]: partition 2, error None, pad
    "00000000 0000000000000000 00000000 ", //   8   error_message None, pad to 8
    "0a00000000000000 ",                   //  24   high_watermark 10
    "0000000000000000 ",                   //  32   log_start_offset 0
    "0a00000000000000 ",                   //  40   log_end_offset 10
    "00000000 00000000 0000 0000 0000000000000000 0000 0000 ", // 48 current_owner None
    "00000000 00000000 ",                  //  72   leader_epoch None
    "00000000 00000000 00000000 00000000 0000000000000000 ", // 80 diverging_epoch None
    "00000000 28000000 ",                  // 104   records at data offset 0, len 40
    "05000000 0300 0000 ",                 // 112 partitions[1]: partition 5, error 3 (NotOwner), pad
    "01000000 6d6f766564ffffff 00000000 ", // 120   error_message Some("moved") inline, pad to 8
    "0000000000000000 ",                   // 136   high_watermark 0
    "0000000000000000 ",                   // 144   log_start_offset 0
    "0000000000000000 ",                   // 152   log_end_offset 0
    "01000000 ",                           // 160   current_owner Some:
    "01000000 0300 0000 ",                 // 164     node_id 1, core_id 3, pad
    "68ffffffffffffff ",                   // 172     host "h" inline
    "8f23 0000 ",                          // 180     port 9103, pad
    "00000000 00000000 ",                  // 184   leader_epoch None
    "00000000 00000000 00000000 00000000 0000000000000000 ", // 192 diverging_epoch None
    "28000000 00000000 ",                  // 216   records at data offset 40, len 0 (empty)
    "6f7264657273ffff ",                   // 224 topics[0]: name "orders" inline
    "18ffffff 02000000 ",                  // 232   partitions -> 0, len 2
    "0000 0000 ",                          // 240 root: error None, pad
    "00000000 0000000000000000 ",          // 244   error_message None
    "e0ffffff 01000000 ",                  // 256   topics -> 224, len 1
    "0000000000000000 ",                   // 264 padding to frame offset 304 = 32 + pad16(264)
    // data section at 304: partition 2's batch, unchanged
    "000102030405060708090a0b0c0d0e0f",
    "101112131415161718191a1b1c1d1e1f",
    "2021222324252627",
);

/// Fetch version 2: the response body is unchanged from version 1 (only
/// the request's partitions gained `durable_end`).
const FETCH_RESPONSE: &str = concat!(
    "58010000 0100 0200 09000000 ", //  0 frame_len 344, api_key 1 (Fetch), api_version 2, correlation_id 9
    "08010000 0100 434c ",          // 12 body_len 264, flags RESPONSE, magic
    "000000000000000000000000 ",    // 20 reserved
    // body at 32; partitions are 112 bytes each
    "02000000 0000 0000 ",                 //   0 partitions[0]: partition 2, error None, pad
    "00000000 0000000000000000 00000000 ", //   8   error_message None, pad to 8
    "0a00000000000000 ",                   //  24   high_watermark 10
    "0000000000000000 ",                   //  32   log_start_offset 0
    "0a00000000000000 ",                   //  40   log_end_offset 10
    "00000000 00000000 0000 0000 0000000000000000 0000 0000 ", // 48 current_owner None
    "00000000 00000000 ",                  //  72   leader_epoch None
    "00000000 00000000 00000000 00000000 0000000000000000 ", // 80 diverging_epoch None
    "00000000 28000000 ",                  // 104   records at data offset 0, len 40
    "05000000 0300 0000 ",                 // 112 partitions[1]: partition 5, error 3 (NotOwner), pad
    "01000000 6d6f766564ffffff 00000000 ", // 120   error_message Some("moved") inline, pad to 8
    "0000000000000000 ",                   // 136   high_watermark 0
    "0000000000000000 ",                   // 144   log_start_offset 0
    "0000000000000000 ",                   // 152   log_end_offset 0
    "01000000 ",                           // 160   current_owner Some:
    "01000000 0300 0000 ",                 // 164     node_id 1, core_id 3, pad
    "68ffffffffffffff ",                   // 172     host "h" inline
    "8f23 0000 ",                          // 180     port 9103, pad
    "00000000 00000000 ",                  // 184   leader_epoch None
    "00000000 00000000 00000000 00000000 0000000000000000 ", // 192 diverging_epoch None
    "28000000 00000000 ",                  // 216   records at data offset 40, len 0 (empty)
    "6f7264657273ffff ",                   // 224 topics[0]: name "orders" inline
    "18ffffff 02000000 ",                  // 232   partitions -> 0, len 2
    "0000 0000 ",                          // 240 root: error None, pad
    "00000000 0000000000000000 ",          // 244   error_message None
    "e0ffffff 01000000 ",                  // 256   topics -> 224, len 1
    "0000000000000000 ",                   // 264 padding to frame offset 304 = 32 + pad16(264)
    // data section at 304: partition 2's batch, unchanged
    "000102030405060708090a0b0c0d0e0f",
    "101112131415161718191a1b1c1d1e1f",
    "2021222324252627",
);

fn error_response() -> Response {
    Response::Error(ErrorResponse {
        api_key: 99,
        api_version: 4,
        error: ErrorCode::UnsupportedApi,
        message: Some("unsupported api 99".into()),
    })
}

const ERROR_RESPONSE: &str = concat!(
    "50000000 6300 0400 0a000000 ", //  0 frame_len 80, api_key 99 (unknown, echoed), api_version 4, correlation_id 10
    "24000000 0300 434c ",          // 12 body_len 36, flags RESPONSE | ERROR_BODY, magic
    "000000000000000000000000 ",    // 20 reserved
    // body at 32: ErrorBody
    "756e737570706f7274656420617069203939 ", //  0 "unsupported api 99" (out of line: longer than 8)
    "0000 ",                                 // 18 alignment
    "0700 0000 ",                            // 20 root: error 7 (UnsupportedApi), pad
    "01000000 ",                             // 24   message Some:
    "92000000 e4ffffff ",                    // 28     out-of-line string: len 18 (0x12 | 0x80 marker), -> 0
    "000000000000000000000000",              // 36 padding to frame offset 80 = 32 + pad16(36)
);

#[test]
fn frame_header_fields_sit_at_the_documented_offsets() {
    use core::mem::offset_of;
    let fields = [
        ("frame_len", offset_of!(FrameHeader, frame_len), 0),
        ("api_key", offset_of!(FrameHeader, api_key), 4),
        ("api_version", offset_of!(FrameHeader, api_version), 6),
        ("correlation_id", offset_of!(FrameHeader, correlation_id), 8),
        ("body_len", offset_of!(FrameHeader, body_len), 12),
        ("flags", offset_of!(FrameHeader, flags), 16),
        ("magic", offset_of!(FrameHeader, magic), 18),
        ("reserved", offset_of!(FrameHeader, reserved), 20),
    ];
    for (name, actual, documented) in fields {
        assert_eq!(actual, documented, "{name}: {WIRE_FORMAT_CHANGED}");
    }
    assert_eq!(core::mem::size_of::<FrameHeader>(), 32, "{WIRE_FORMAT_CHANGED}");
    assert_eq!(FRAME_HEADER_LEN, 32, "{WIRE_FORMAT_CHANGED}");
    assert_eq!(FRAME_MAGIC.to_le_bytes(), *b"CL", "{WIRE_FORMAT_CHANGED}");
    assert_eq!((FLAG_RESPONSE, FLAG_ERROR_BODY), (1, 2), "{WIRE_FORMAT_CHANGED}");
}

#[test]
fn requests_encode_to_their_golden_frames() {
    for (what, correlation_id, request, golden) in [
        ("ApiVersions request", 7, api_versions_request(), API_VERSIONS_REQUEST),
        ("Produce request", 8, produce_request(), PRODUCE_REQUEST),
        ("Replica fetch request", 11, replica_fetch_request(), REPLICA_FETCH_REQUEST),
    ] {
        let encoded = encode_request(correlation_id, &request).unwrap().to_contiguous();
        assert_golden(&encoded, &unhex(golden), what);
    }
}

#[test]
fn responses_encode_to_their_golden_frames() {
    for (what, correlation_id, response, golden) in [
        ("ApiVersions response", 7, api_versions_response(), API_VERSIONS_RESPONSE),
        ("Fetch response", 9, fetch_response(), FETCH_RESPONSE),
        ("Error response", 10, error_response(), ERROR_RESPONSE),
    ] {
        let encoded = encode_response(correlation_id, &response).unwrap().to_contiguous();
        assert_golden(&encoded, &unhex(golden), what);
    }
}

#[test]
fn dropped_versions_are_refused_not_misread() {
    for (golden, dropped) in [(FETCH_RESPONSE_V0, 0), (FETCH_RESPONSE_V1, 1)] {
        let frame = one_frame(&unhex(golden));
        assert_eq!(frame.header.api_version(), dropped);
        match decode_response(&frame) {
            Err(ProtocolError::UnsupportedVersion { api: ApiKey::Fetch, version }) if version == dropped => {}
            other => panic!("fetch v{dropped} must be refused, got {other:?}"),
        }
    }
}

#[test]
fn golden_request_frames_decode_to_their_requests() {
    for (what, correlation_id, request, golden) in [
        ("ApiVersions request", 7, api_versions_request(), API_VERSIONS_REQUEST),
        ("Produce request", 8, produce_request(), PRODUCE_REQUEST),
        ("Replica fetch request", 11, replica_fetch_request(), REPLICA_FETCH_REQUEST),
    ] {
        let frame = one_frame(&unhex(golden));
        assert_eq!(frame.header.correlation_id(), correlation_id, "{what}");
        assert!(!frame.header.is_response(), "{what}");
        assert_eq!(decode_request(&frame).unwrap_or_else(|e| panic!("{what}: {e}")), request, "{what}");
    }
}

#[test]
fn golden_response_frames_decode_to_their_responses() {
    for (what, correlation_id, response, golden) in [
        ("ApiVersions response", 7, api_versions_response(), API_VERSIONS_RESPONSE),
        ("Fetch response", 9, fetch_response(), FETCH_RESPONSE),
        ("Error response", 10, error_response(), ERROR_RESPONSE),
    ] {
        let frame = one_frame(&unhex(golden));
        assert_eq!(frame.header.correlation_id(), correlation_id, "{what}");
        assert!(frame.header.is_response(), "{what}");
        assert_eq!(decode_response(&frame).unwrap_or_else(|e| panic!("{what}: {e}")), response, "{what}");
    }
}

#[test]
fn golden_frames_decode_from_an_unaligned_buffer_too() {
    // A received frame sits wherever the socket buffer put it; decoding
    // copies a misaligned body before checking it, and must get the same.
    for (golden, response) in [(FETCH_RESPONSE, fetch_response()), (API_VERSIONS_RESPONSE, api_versions_response())] {
        let bytes = Bytes::from([&[0u8][..], &unhex(golden)].concat()).slice(1..);
        let frame = Frame::from_bytes(bytes, DEFAULT_MAX_FRAME).unwrap();
        assert!(!(frame.body.as_ptr() as usize).is_multiple_of(16), "the body must be misaligned here");
        assert_eq!(decode_response(&frame).unwrap(), response);
    }
}

#[test]
fn golden_frame_header_fields_are_checked() {
    // The header bytes are only pinned if the decoder looks at them: each
    // field's golden value is what makes the frame acceptable.
    let golden = unhex(API_VERSIONS_REQUEST);
    let cases: [(usize, u8, FrameError); 3] = [
        (17, 0x80, FrameError::UnknownFlags(0x8000)),
        (18, b'X', FrameError::BadMagic(u16::from_le_bytes([b'X', b'L']))),
        (31, 1, FrameError::ReservedNotZero),
    ];
    for (at, value, expected) in cases {
        let mut bytes = golden.clone();
        bytes[at] = value;
        assert_eq!(Frame::from_bytes(Bytes::from(bytes), DEFAULT_MAX_FRAME), Err(expected), "byte {at}");
    }
    let mut bytes = golden.clone();
    bytes[4] = 5; // api_key 5 (CreateTopics): the body no longer fits the api
    assert!(decode_request(&Frame::from_bytes(Bytes::from(bytes), DEFAULT_MAX_FRAME).unwrap()).is_err());
}

#[test]
fn error_codes_keep_their_wire_numbers() {
    // Error codes travel as raw u16s: a renumbered code is read as another by
    // a peer of another build. New codes are appended, never inserted.
    let pinned = [
        (ErrorCode::None, 0),
        (ErrorCode::UnknownTopic, 1),
        (ErrorCode::UnknownPartition, 2),
        (ErrorCode::NotOwner, 3),
        (ErrorCode::CorruptBatch, 4),
        (ErrorCode::BatchTooLarge, 5),
        (ErrorCode::InvalidRequest, 6),
        (ErrorCode::UnsupportedApi, 7),
        (ErrorCode::UnsupportedVersion, 8),
        (ErrorCode::TopicAlreadyExists, 9),
        (ErrorCode::InvalidTopicName, 10),
        (ErrorCode::InvalidConfig, 11),
        (ErrorCode::InvalidPartitions, 12),
        (ErrorCode::OffsetOutOfRange, 13),
        (ErrorCode::RequestTimedOut, 14),
        (ErrorCode::StorageError, 15),
        (ErrorCode::NotEnoughReplicas, 16),
        (ErrorCode::UnknownServerError, 17),
        (ErrorCode::UnknownMemberId, 18),
        (ErrorCode::IllegalGeneration, 19),
        (ErrorCode::RebalanceInProgress, 20),
        (ErrorCode::CoordinatorNotAvailable, 21),
        (ErrorCode::NotCoordinator, 22),
        (ErrorCode::InconsistentGroupProtocol, 23),
        (ErrorCode::UnknownGroup, 24),
        (ErrorCode::GroupNotEmpty, 25),
        (ErrorCode::CorruptMessage, 26),
        (ErrorCode::FencedLeaderEpoch, 27),
        (ErrorCode::UnknownLeaderEpoch, 28),
        (ErrorCode::NotEnoughReplicasAfterAppend, 29),
        (ErrorCode::NotController, 30),
        (ErrorCode::StaleBrokerEpoch, 31),
        (ErrorCode::InvalidReplicationFactor, 32),
        (ErrorCode::LeaderNotAvailable, 33),
        (ErrorCode::InvalidUpdateVersion, 34),
        (ErrorCode::IneligibleReplica, 35),
        (ErrorCode::UnknownBroker, 36),
        (ErrorCode::ElectionNotNeeded, 37),
        (ErrorCode::OutOfOrderSequence, 38),
        (ErrorCode::InvalidProducerEpoch, 39),
        (ErrorCode::UnknownProducerId, 40),
    ];
    assert_eq!(pinned.len(), ErrorCode::ALL.len(), "a code without a pinned number");
    for (code, wire) in pinned {
        assert_eq!(code.code(), wire, "{code:?}: {WIRE_FORMAT_CHANGED}");
        assert_eq!(ErrorCode::from_wire(wire), code, "{code:?}: {WIRE_FORMAT_CHANGED}");
    }
}

const DEFAULT_MAX_FRAME: usize = limits::DEFAULT_MAX_FRAME_BYTES;

fn one_frame(bytes: &[u8]) -> Frame {
    let mut decoder = FrameDecoder::new();
    decoder.feed(bytes);
    let frame = decoder.next_frame().unwrap().expect("one whole frame");
    assert_eq!(decoder.buffered_len(), 0, "exactly one frame");
    frame
}

// ---- hex helpers ----

/// Bytes from hex text; whitespace is ignored. Panics on anything else.
fn unhex(text: &str) -> Vec<u8> {
    let digits: Vec<u32> =
        text.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_digit(16).expect("hex digit")).collect();
    assert!(digits.len().is_multiple_of(2), "odd number of hex digits");
    digits.chunks(2).map(|pair| (pair[0] * 16 + pair[1]) as u8).collect()
}

/// `bytes` as hex, 16 per line, each line prefixed with its offset.
fn hex_dump(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(i, row)| format!("{:4}  {}\n", i * 16, row.iter().map(|b| format!("{b:02x}")).collect::<String>()))
        .collect()
}

fn assert_golden(actual: &[u8], expected: &[u8], what: &str) {
    let first_difference = (0..actual.len().max(expected.len())).find(|&i| actual.get(i) != expected.get(i));
    if let Some(at) = first_difference {
        panic!(
            "{what}: first difference at byte {at} ({} bytes, expected {}).\n{WIRE_FORMAT_CHANGED}\n\
             actual:\n{}expected:\n{}",
            actual.len(),
            expected.len(),
            hex_dump(actual),
            hex_dump(expected),
        );
    }
}
