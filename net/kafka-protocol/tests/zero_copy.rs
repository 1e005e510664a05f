//! Stored batches go into a Fetch response frame without a copy: each piece
//! of a `records` value is its own chunk, and the size prefix counts them.

use bytes::Bytes;
use corelog_kafka_protocol::{
    decode_response, encode_response, fetch_response, ApiKey, FetchResponse, RecordsData, ResponseBody,
};

#[test]
fn fetch_response_chunks_share_the_stored_batches() {
    let stored = [Bytes::from(vec![7u8; 1000]), Bytes::from(vec![9u8; 300])];
    let partition = fetch_response::PartitionData {
        partition_index: 2,
        high_watermark: 10,
        records: Some(RecordsData::from_pieces(stored.to_vec())),
        ..Default::default()
    };
    let body = ResponseBody::Fetch(FetchResponse {
        responses: vec![fetch_response::FetchableTopicResponse {
            topic: "t".into(),
            partitions: vec![partition],
            ..Default::default()
        }],
        ..FetchResponse::default()
    });
    for version in [4, 11, 12] {
        let frame = encode_response(5, version, &body).unwrap();
        let chunks = frame.chunks();
        assert_eq!(frame.len(), chunks.iter().map(|c| c.len()).sum::<usize>());
        let size = i32::from_be_bytes(chunks[0][..4].try_into().unwrap());
        assert_eq!(size as usize, frame.len() - 4, "v{version}");
        for piece in &stored {
            assert!(
                chunks.iter().any(|c| c.as_ptr() == piece.as_ptr() && c.len() == piece.len()),
                "v{version}: piece copied"
            );
        }
        let bytes = Bytes::from(frame.to_vec()).slice(4..);
        let (header, decoded) = decode_response(bytes, ApiKey::Fetch, version).unwrap();
        assert_eq!(header.correlation_id, 5);
        assert_eq!(decoded, body);
    }
}
