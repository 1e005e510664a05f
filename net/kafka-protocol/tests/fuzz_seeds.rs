//! Writes the seed corpus of the `kafka_request` fuzz target
//! (`net/fuzz/seeds/kafka_request/`): a request of every supported api at
//! every supported version (fields at their defaults), and all of them
//! pipelined in one stream. Run with `--ignored` after changing the api
//! table or the generator.

use corelog_kafka_protocol::{encode_request, RequestBody, RequestHeader, SUPPORTED_APIS};

#[test]
#[ignore]
fn write_fuzz_seed_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/kafka_request");
    std::fs::create_dir_all(&dir).unwrap();
    let mut all = vec![3u8];
    for &(api, lo, hi) in SUPPORTED_APIS {
        for version in lo..=hi {
            let header = RequestHeader {
                api_key: api.as_i16(),
                api_version: version,
                correlation_id: 1,
                client_id: Some("seed".into()),
            };
            let frame = encode_request(&header, &RequestBody::default_for(api)).unwrap().to_vec();
            // Byte 0 is the fuzz target's piece-size selector: feed whole frames.
            let mut input = vec![255u8];
            input.extend_from_slice(&frame);
            std::fs::write(dir.join(format!("{}-v{version}", api.name())), input).unwrap();
            all.extend_from_slice(&frame);
        }
    }
    std::fs::write(dir.join("pipelined-all"), all).unwrap();
}
