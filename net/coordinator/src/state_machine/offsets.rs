//! Offset commits and fetches.

use super::*;

impl GroupCoordinator {
    pub(super) fn commit(&mut self, now: u64, req: RequestId, r: OffsetCommitRequest, out: &mut Vec<Command>) {
        let checked = self.route(&r.group_id).and_then(|partition| {
            let mut group = match self.groups.remove(&r.group_id) {
                Some(g) => g,
                None if r.generation_id < 0 => self.new_group(r.group_id.clone(), now),
                None => {
                    return Err((
                        ErrorCode::IllegalGeneration,
                        format!(
                            "group {:?} does not exist; a commit outside group membership uses generation -1",
                            r.group_id
                        ),
                    ))
                }
            };
            match commit_allowed(&group, &r) {
                Ok(()) => {
                    // A member's commit counts as a sign of life.
                    if let Some(m) = group.members.get_mut(&r.member_id) {
                        m.last_heartbeat_ms = now;
                    }
                    Ok((partition, group))
                }
                Err(e) => {
                    self.put_back(group);
                    Err(e)
                }
            }
        });
        let (partition, mut group) = match checked {
            Ok(x) => x,
            Err((code, msg)) => {
                let response = OffsetCommitResponse::uniform(&r, code, Some(truncate_message(msg)));
                respond(out, req, Response::OffsetCommit(response));
                return;
            }
        };
        let offsets: Vec<NewOffset> = r
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| NewOffset {
                    topic: t.name.clone(),
                    partition: p.partition,
                    value: OffsetAndMetadata {
                        offset: p.offset,
                        metadata: p.metadata.clone(),
                        commit_timestamp_ms: now,
                    },
                })
            })
            .collect();
        if offsets.is_empty() {
            respond(out, req, Response::OffsetCommit(OffsetCommitResponse::uniform(&r, ErrorCode::None, None)));
        } else {
            let records = offsets.iter().map(|o| offset_record(&group.id, &o.topic, o.partition, &o.value)).collect();
            group.pending_commits += 1;
            let then = PendingPersist::Commit {
                req,
                group: group.id.clone(),
                incarnation: group.incarnation,
                request: r,
                offsets,
            };
            self.persist(partition, records, then, out);
        }
        self.put_back(group);
    }

    pub(super) fn fetch_offsets(&self, r: &OffsetFetchRequest) -> OffsetFetchResponse {
        if let Err((code, msg)) = self.route(&r.group_id) {
            let Response::OffsetFetch(response) = Request::OffsetFetch(r.clone()).error_response(code, msg) else {
                return OffsetFetchResponse { error: code, ..Default::default() };
            };
            return response;
        }
        let group = self.groups.get(&r.group_id);
        let partition_response = |topic: &str, partition: u32| {
            let committed = group.and_then(|g| g.offset(topic, partition));
            OffsetFetchPartitionResponse {
                partition,
                offset: committed.map(|o| o.offset),
                metadata: committed.map(|o| o.metadata.clone()).unwrap_or_default(),
                error: ErrorCode::None,
            }
        };
        let topics = match &r.topics {
            Some(topics) => topics
                .iter()
                .map(|t| OffsetFetchTopicResponse {
                    name: t.name.clone(),
                    partitions: t.partitions.iter().map(|&p| partition_response(&t.name, p)).collect(),
                })
                .collect(),
            None => group
                .map(|g| {
                    g.offsets
                        .iter()
                        .map(|(topic, partitions)| OffsetFetchTopicResponse {
                            name: topic.clone(),
                            partitions: partitions.keys().map(|&p| partition_response(topic, p)).collect(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        };
        OffsetFetchResponse { error: ErrorCode::None, error_message: None, topics }
    }
}
