//! Kafka InitProducerId (v0–4) for idempotent producers: a new producer id
//! from this core's allocator (`crate::producer_ids`) with epoch 0; a producer that
//! names its id and epoch (v3+, after a fatal error) keeps the id with the
//! next epoch. Transactional ids are not supported yet (INVALID_REQUEST).

use crate::shard::Shard;
use corelog_kafka_protocol::{error_code, InitProducerIdRequest, InitProducerIdResponse};

pub async fn handle(request: InitProducerIdRequest, shard: &Shard) -> InitProducerIdResponse {
    let failed =
        |code| InitProducerIdResponse { error_code: code, producer_id: -1, producer_epoch: -1, ..Default::default() };
    if request.transactional_id.is_some() {
        return failed(error_code::INVALID_REQUEST);
    }
    if request.producer_id >= 0 {
        // Bumping an epoch that would wrap gets a new id instead, as Kafka does.
        if let Some(epoch) = request.producer_epoch.checked_add(1).filter(|e| *e >= 0 && *e < i16::MAX) {
            return InitProducerIdResponse {
                error_code: error_code::NONE,
                producer_id: request.producer_id,
                producer_epoch: epoch,
                ..Default::default()
            };
        }
    }
    match shard.producer_ids().allocate().await {
        Ok(producer_id) => InitProducerIdResponse {
            error_code: error_code::NONE,
            producer_id,
            producer_epoch: 0,
            ..Default::default()
        },
        Err(e) => {
            tracing::error!(error = %e, "cannot hand out a producer id");
            failed(error_code::KAFKA_STORAGE_ERROR)
        }
    }
}
