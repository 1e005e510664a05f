//! Kafka Produce: refused per partition until the log can store Kafka
//! batches as they come (issue 11 item 3, `ValidBatches::from_kafka_network`,
//! being built beside this listener). Converting v2 batches to native ones
//! in the meantime would re-encode what Kafka clients sent, which the design
//! rules out (stored bytes are sent back unchanged), so there is no such path.
//!
//! Produce is still advertised in ApiVersions: librdkafka enables record
//! batch v2 (its MsgVer2 feature, which Fetch v4+ needs) only when the broker
//! advertises Produce v3 or later, so without it kcat and confluent-kafka
//! could not even consume. A produce therefore gets INVALID_REQUEST with a
//! message for every partition (not retriable: the client fails the
//! messages at once instead of retrying), and acks=0 gets nothing.

use corelog_kafka_protocol::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use corelog_kafka_protocol::{error_code, ProduceRequest, ProduceResponse};

/// Why every produce partition is refused.
pub const NOT_SERVED: &str = "producing through the Kafka listener is not supported yet; use the native protocol";

/// The answer to `request`; None for acks=0 (Kafka sends no response).
pub fn handle(request: ProduceRequest) -> Option<ProduceResponse> {
    if request.acks == 0 {
        return None;
    }
    let responses = request
        .topic_data
        .into_iter()
        .map(|t| TopicProduceResponse {
            name: t.name,
            partition_responses: t
                .partition_data
                .into_iter()
                .map(|p| PartitionProduceResponse {
                    index: p.index,
                    error_code: error_code::INVALID_REQUEST,
                    base_offset: -1,
                    log_append_time_ms: -1,
                    log_start_offset: -1,
                    error_message: Some(NOT_SERVED.into()),
                    ..Default::default()
                })
                .collect(),
        })
        .collect();
    Some(ProduceResponse { responses, ..Default::default() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use corelog_kafka_protocol::produce_request::{PartitionProduceData, TopicProduceData};

    #[test]
    fn every_partition_is_refused_and_acks_0_gets_nothing() {
        let topic = |name: &str| TopicProduceData {
            name: name.into(),
            partition_data: vec![
                PartitionProduceData { index: 0, records: None },
                PartitionProduceData { index: 3, records: None },
            ],
        };
        let request = ProduceRequest { acks: -1, topic_data: vec![topic("a"), topic("b")], ..Default::default() };
        let response = handle(request.clone()).unwrap();
        assert_eq!(response.responses.len(), 2);
        for t in &response.responses {
            let indexes: Vec<i32> = t.partition_responses.iter().map(|p| p.index).collect();
            assert_eq!(indexes, [0, 3]);
            assert!(t
                .partition_responses
                .iter()
                .all(|p| p.error_code == error_code::INVALID_REQUEST && p.base_offset == -1));
        }
        assert!(handle(ProduceRequest { acks: 0, ..request }).is_none());
    }
}
