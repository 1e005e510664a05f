//! Looking up partition offsets (earliest, latest, by timestamp) at the
//! partitions' owning cores, with `NotOwner` / stale-metadata retries.
//! Used by [`Admin::list_offsets`](super::Admin::list_offsets) and by the
//! consumer to resolve where it starts.

use futures::future::join_all;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use super::error::{check_code, ClientError, ClientResult};
use super::metadata::Cluster;
use corelog_protocol::{ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic, OffsetSpec, Request, Response};

/// The answer to one offset lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    /// The offset; `None` when a timestamp lookup found no record at or after it.
    pub offset: Option<u64>,
    /// For timestamp lookups, the timestamp of the record found.
    pub timestamp: Option<i64>,
}

/// Looks up `queries` (partition, spec) of `topic`, each at its owning
/// endpoint (one request per endpoint, concurrently). Retriable failures are
/// retried up to `retries` times, refreshing metadata or following the
/// broker's owner hint as needed.
pub(crate) async fn list_offsets(
    cluster: &Cluster,
    topic: &str,
    queries: &[(u32, OffsetSpec)],
    retries: u32,
    backoff: Duration,
) -> ClientResult<HashMap<u32, ListedOffset>> {
    let mut remaining: Vec<(u32, OffsetSpec)> = queries.to_vec();
    let mut out = HashMap::new();
    let mut attempt = 0;
    loop {
        let info = cluster.topic_metadata(topic).await?;
        let mut by_addr: BTreeMap<SocketAddr, Vec<(u32, OffsetSpec)>> = BTreeMap::new();
        let mut failed: Vec<((u32, OffsetSpec), ClientError)> = Vec::new();
        for &(partition, spec) in &remaining {
            if partition >= info.partition_count() {
                return Err(ClientError::UnknownPartition { topic: topic.to_owned(), partition });
            }
            match cluster.owner_addr(topic, partition) {
                Ok(addr) => by_addr.entry(addr).or_default().push((partition, spec)),
                Err(e) => failed.push(((partition, spec), e)),
            }
        }
        let lookups = by_addr.into_iter().map(|(addr, parts)| async move {
            let result = ask(cluster, addr, topic, &parts).await;
            (parts, result)
        });
        let mut follow_hint = false;
        for (parts, result) in join_all(lookups).await {
            match result {
                Ok(answers) => {
                    for (query, answer) in parts.into_iter().zip(answers) {
                        match answer {
                            Ok(listed) => {
                                out.insert(query.0, listed);
                            }
                            Err(e) => {
                                if let ClientError::NotOwner { current_owner: Some(owner), .. } = &e {
                                    cluster.update_owner(topic, query.0, owner);
                                    follow_hint = true;
                                }
                                failed.push((query, e));
                            }
                        }
                    }
                }
                Err(e) => failed.extend(parts.into_iter().map(|q| (q, e.clone()))),
            }
        }
        if failed.is_empty() {
            return Ok(out);
        }
        if let Some((_, e)) = failed.iter().find(|(_, e)| !e.is_retriable()) {
            return Err(e.clone());
        }
        attempt += 1;
        if attempt > retries {
            return Err(failed.swap_remove(0).1);
        }
        let hinted = |e: &ClientError| matches!(e, ClientError::NotOwner { current_owner: Some(_), .. });
        if failed.iter().any(|(_, e)| e.needs_metadata_refresh() && !hinted(e)) {
            let _ = cluster.refresh_topics(&[topic]).await;
        }
        if !follow_hint {
            corelog_runtime::sleep(backoff).await;
        }
        remaining = failed.into_iter().map(|(q, _)| q).collect();
    }
}

/// One ListOffsets request to `addr`; the answers in the order of `parts`.
async fn ask(
    cluster: &Cluster,
    addr: SocketAddr,
    topic: &str,
    parts: &[(u32, OffsetSpec)],
) -> ClientResult<Vec<ClientResult<ListedOffset>>> {
    let request = Request::ListOffsets(ListOffsetsRequest {
        topics: vec![ListOffsetsTopic {
            name: topic.to_owned(),
            partitions: parts.iter().map(|&(partition, spec)| ListOffsetsPartition { partition, spec }).collect(),
        }],
    });
    let Response::ListOffsets(resp) = cluster.connection(addr).await?.request(&request).await? else {
        return Err(ClientError::Protocol("list offsets answered with another api".into()));
    };
    check_code(resp.error, resp.error_message)?;
    let answers: HashMap<u32, _> = resp
        .topics
        .into_iter()
        .filter(|t| t.name == topic)
        .flat_map(|t| t.partitions)
        .map(|p| (p.partition, p))
        .collect();
    Ok(parts
        .iter()
        .map(|&(partition, _)| match answers.get(&partition) {
            None => Err(ClientError::Protocol(format!("no list offsets answer for partition {partition}"))),
            Some(p) if p.error.is_ok() => Ok(ListedOffset { offset: p.offset, timestamp: p.timestamp }),
            Some(p) => Err(ClientError::for_partition(p.error, None, topic, partition, p.current_owner.clone())),
        })
        .collect())
}
