//! InitProducerId: any core hands out one of its own producer ids.

use crate::shard::Shard;
use corelog_protocol::{ErrorCode, InitProducerIdResponse, ProducerIdAndEpoch};

pub async fn init_producer_id(shard: &Shard) -> InitProducerIdResponse {
    match shard.producer_ids().allocate().await {
        Ok(producer_id) => InitProducerIdResponse {
            error: ErrorCode::None,
            error_message: None,
            assigned: Some(ProducerIdAndEpoch { producer_id, epoch: 0 }),
        },
        Err(e) => {
            tracing::warn!(core = shard.core, error = %e, "cannot hand out a producer id");
            InitProducerIdResponse {
                error: ErrorCode::StorageError,
                error_message: Some(e.to_string()),
                assigned: None,
            }
        }
    }
}
