//! Fetch: committed batches from this core's partitions, with long-poll.
//!
//! The response carries the stored bytes unchanged: cache buffers and disk
//! read buffers go into the response's data section as they are. A cached
//! batch is two chunks, its stored header and the rest of it as it was
//! produced, which the data section lays out back to back.

use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::shard::{Partition, Shard};
use corelog_storage::BatchSlice;
use futures::future::select_all;

use super::local_partition;
use crate::context::ServerContext;
use crate::errors::log_error_code;
use crate::limits::MAX_FETCH_WAIT;
use crate::replica;
use corelog_protocol::{
    EpochEndOffset, ErrorCode, FetchPartition, FetchPartitionResponse, FetchRequest, FetchResponse, FetchTopicResponse,
    Records,
};
use corelog_replication::replica::FetchReply;

pub async fn handle(request: FetchRequest, shard: &Shard, context: &ServerContext) -> FetchResponse {
    let started = Instant::now();
    let response = fetch(&request, shard, context).await;
    context.metrics.fetched(&response, started.elapsed());
    response
}

/// Reads until there is `min_bytes` of data, an error, or the wait is over.
async fn fetch(request: &FetchRequest, shard: &Shard, context: &ServerContext) -> FetchResponse {
    let wait = Duration::from_millis(u64::from(request.max_wait_ms)).min(MAX_FETCH_WAIT);
    let deadline = Instant::now() + wait;
    loop {
        // Subscribe before reading so a commit between the read and the wait
        // still wakes us.
        let mut wakeups = Vec::new();
        let (response, bytes, settled) = read_once(request, shard, context, &mut wakeups).await;
        let now = Instant::now();
        if bytes >= request.min_bytes as usize || settled || now >= deadline || wakeups.is_empty() {
            return response;
        }
        let woken = corelog_runtime::timeout(deadline - now, select_all(wakeups)).await;
        if woken.is_none() {
            // Timed out: answer with what there is now.
            return read_once(request, shard, context, &mut Vec::new()).await.0;
        }
    }
}

/// One pass over the requested partitions. Returns the response, the record
/// bytes in it, and whether an error makes waiting pointless.
async fn read_once(
    request: &FetchRequest,
    shard: &Shard,
    context: &ServerContext,
    wakeups: &mut Vec<futures::channel::oneshot::Receiver<()>>,
) -> (FetchResponse, usize, bool) {
    let mut budget = request.max_bytes as usize;
    let mut total = 0usize;
    let mut settled = false;
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in &request.topics {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            let mut out = FetchPartitionResponse { partition: p.partition, ..Default::default() };
            match local_partition(shard, &topic.name, p.partition) {
                Err((code, owner, message)) => {
                    out.error = code;
                    out.error_message = Some(message);
                    out.current_owner = owner;
                    settled = true;
                }
                Ok(partition) => {
                    let log = &partition.log;
                    wakeups.push(log.committed_changed());
                    if request.replica_id.is_some() {
                        wakeups.push(log.appended_changed());
                    }
                    out.leader_epoch = Some(partition.leader_epoch());
                    let max = (p.partition_max_bytes as usize).min(budget);
                    // Consumers read up to the high watermark (what every
                    // in-sync replica has); a follower reads the leader's
                    // log up to its end (staged batches too, so the writes
                    // of leader and followers overlap) from where the
                    // replication protocol says.
                    let read = match request.replica_id {
                        None => {
                            let high_watermark = log.consumer_high_watermark();
                            Some((p.fetch_offset, Some(high_watermark), high_watermark))
                        }
                        Some(replica) => follower_read(&partition, replica, p, &topic.name, &mut out),
                    };
                    let Some((from, limit, high_watermark)) = read else {
                        settled = true;
                        partitions.push(out);
                        continue;
                    };
                    // A zero budget still returns one batch to the first
                    // partition with data, so a large batch can't stall a consumer.
                    let result = if budget == 0 && total > 0 {
                        Ok(None)
                    } else {
                        match limit {
                            Some(limit) => log.read_bounded(from, max.max(1), limit).await.map(Some),
                            None => log.read_staged(from, max.max(1)).await.map(Some),
                        }
                    };
                    out.log_start_offset = log.log_start_offset();
                    out.log_end_offset = log.log_end_offset();
                    out.high_watermark = high_watermark;
                    match result {
                        Ok(Some(fetched)) => {
                            let mut records = Records::new();
                            for slice in fetched.slices {
                                match slice {
                                    BatchSlice::Memory(cached) => {
                                        for piece in cached.into_pieces() {
                                            records.push(piece);
                                        }
                                    }
                                    BatchSlice::Disk(buf) => records.push_local(Rc::new(buf)),
                                }
                            }
                            total += records.len();
                            budget = budget.saturating_sub(records.len());
                            out.records = records;
                        }
                        Ok(None) => {}
                        Err(e) => {
                            context.damaged.report(&context.metrics, &topic.name, p.partition, &e);
                            out.error = log_error_code(&e);
                            out.error_message = Some(e.to_string());
                            settled = true;
                        }
                    }
                }
            }
            partitions.push(out);
        }
        topics.push(FetchTopicResponse { name: topic.name.clone(), partitions });
    }
    (FetchResponse { error: ErrorCode::None, error_message: None, topics }, total, settled)
}

/// A follower's fetch of `p`: where to read from, up to where (the leader's
/// durable end) and the high watermark to send; or None with `out` filled
/// in with the divergence or refusal to answer instead.
fn follower_read(
    partition: &Partition,
    replica: u32,
    p: &FetchPartition,
    topic: &str,
    out: &mut FetchPartitionResponse,
) -> Option<(u64, Option<u64>, u64)> {
    let log = &partition.log;
    match replica::serve_follower_fetch(partition, replica, p) {
        Ok(FetchReply::Read { from, high_watermark, .. }) => return Some((from, None, high_watermark)),
        Ok(FetchReply::Diverging { epoch, end_offset, high_watermark }) => {
            out.diverging_epoch = Some(EpochEndOffset { epoch, end_offset });
            out.high_watermark = high_watermark;
            out.log_start_offset = log.log_start_offset();
            out.log_end_offset = log.log_end_offset();
        }
        Ok(FetchReply::OffsetOutOfRange { log_start_offset, log_end_offset }) => {
            out.error = ErrorCode::OffsetOutOfRange;
            out.error_message =
                Some(format!("fetch offset {} is outside [{log_start_offset}, {log_end_offset}]", p.fetch_offset));
            out.log_start_offset = log_start_offset;
            out.log_end_offset = log_end_offset;
        }
        Ok(FetchReply::Error(e)) => {
            out.error = replica::fetch_error_code(e);
            out.error_message = Some(format!("{topic}/{}: {}", p.partition, out.error.message()));
        }
        Err(code) => {
            out.error = code;
            out.error_message = Some(format!("{topic}/{} is not replicated from here", p.partition));
        }
    }
    None
}
