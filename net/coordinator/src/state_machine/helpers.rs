//! Small functions the handlers share.

use super::*;

pub(super) fn respond(out: &mut Vec<Command>, req: RequestId, response: Response) {
    out.push(Command::Respond { req, response });
}

pub(super) fn split(failure: Option<Failure>) -> (ErrorCode, Option<String>) {
    match failure {
        None => (ErrorCode::None, None),
        Some((code, msg)) => (code, Some(truncate_message(msg))),
    }
}

pub(super) fn unknown_member(member_id: &str) -> Failure {
    (ErrorCode::UnknownMemberId, format!("{member_id:?} is not a member of the group; join again"))
}

/// The member exists and is in the group's generation.
pub(super) fn check_member(group: &Group, member_id: &str, generation: i32) -> Result<(), Failure> {
    if !group.has_member(member_id) {
        return Err(unknown_member(member_id));
    }
    if generation != group.generation {
        return Err((
            ErrorCode::IllegalGeneration,
            format!("generation {generation} is not the group's current generation {}", group.generation),
        ));
    }
    Ok(())
}

/// Kafka's rules for who may commit (`GroupCoordinator.doCommitOffsets`).
pub(super) fn commit_allowed(group: &Group, r: &OffsetCommitRequest) -> Result<(), Failure> {
    if r.generation_id < 0 && group.state == GroupState::Empty {
        return Ok(()); // a standalone consumer: the group only stores offsets
    }
    if group.state == GroupState::CompletingRebalance {
        return Err((ErrorCode::RebalanceInProgress, "the group is completing a rebalance; rejoin".into()));
    }
    check_member(group, &r.member_id, r.generation_id)
}

/// The joining member's protocols fit the group.
pub(super) fn check_protocols(group: &Group, r: &JoinGroupRequest) -> Result<(), Failure> {
    if group.supports_protocols(&r.protocol_type, r.protocols.iter().map(|p| p.name.as_str())) {
        return Ok(());
    }
    Err((
        ErrorCode::InconsistentGroupProtocol,
        format!(
            "group {:?} uses protocol type {:?} and protocols {:?}",
            group.id,
            group.protocol_type.as_deref().unwrap_or(""),
            group.candidate_protocols()
        ),
    ))
}

/// The protocols of a join, first occurrence of each name kept.
pub(super) fn dedup_protocols(protocols: &[JoinGroupProtocol]) -> Vec<JoinGroupProtocol> {
    let mut out: Vec<JoinGroupProtocol> = Vec::with_capacity(protocols.len());
    for p in protocols {
        if !out.iter().any(|q| q.name == p.name) {
            out.push(p.clone());
        }
    }
    out
}

/// Takes a join's settings into the member.
pub(super) fn update_member(m: &mut Member, now: u64, mut host: String, r: &JoinGroupRequest) {
    let mut end = host.len().min(MAX_HOST_LEN);
    while !host.is_char_boundary(end) {
        end -= 1;
    }
    host.truncate(end);
    m.client_id.clone_from(&r.client_id);
    m.host = host;
    m.session_timeout_ms = r.session_timeout_ms;
    m.rebalance_timeout_ms = if r.rebalance_timeout_ms == 0 { r.session_timeout_ms } else { r.rebalance_timeout_ms };
    m.protocols = dedup_protocols(&r.protocols);
    m.last_heartbeat_ms = now;
}

/// Answers a removed member's held join and sync.
pub(super) fn answer_held(m: &Member, code: ErrorCode, why: &str, out: &mut Vec<Command>) {
    if let Some(req) = m.pending_join {
        respond(out, req, Response::JoinGroup(JoinGroupResponse::error(code, why, &m.id)));
    }
    if let Some(req) = m.pending_sync {
        respond(out, req, Response::SyncGroup(SyncGroupResponse::error(code, why)));
    }
}

/// The JoinGroup answer for `member_id` in the group's current generation.
pub(super) fn join_response(group: &Group, member_id: &str) -> JoinGroupResponse {
    let protocol = group.protocol.clone().unwrap_or_default();
    let members = if group.is_leader(member_id) {
        group
            .members
            .values()
            .map(|m| JoinGroupMember {
                member_id: m.id.clone(),
                client_id: m.client_id.clone(),
                metadata: m.metadata(&protocol).to_vec(),
            })
            .collect()
    } else {
        Vec::new()
    };
    JoinGroupResponse {
        error: ErrorCode::None,
        error_message: None,
        generation_id: group.generation,
        protocol_name: protocol,
        leader_id: group.leader.clone().unwrap_or_default(),
        member_id: member_id.to_owned(),
        members,
    }
}

pub(super) fn describe(g: &Group) -> DescribedGroup {
    let protocol = g.protocol.clone().unwrap_or_default();
    DescribedGroup {
        group_id: g.id.clone(),
        error: ErrorCode::None,
        state: g.state,
        protocol_type: g.protocol_type.clone().unwrap_or_default(),
        generation_id: g.generation,
        members: g
            .members
            .values()
            .map(|m| DescribedGroupMember {
                member_id: m.id.clone(),
                client_id: m.client_id.clone(),
                host: m.host.clone(),
                metadata: m.metadata(&protocol).to_vec(),
                assignment: if g.state == GroupState::Stable { m.assignment.clone() } else { Vec::new() },
            })
            .collect(),
        protocol,
    }
}

pub(super) fn offset_record(group: &str, topic: &str, partition: u32, o: &OffsetAndMetadata) -> OffsetsRecord {
    OffsetsRecord {
        key: RecordKey::OffsetCommit { group: group.to_owned(), topic: topic.to_owned(), partition }.encode(),
        value: OffsetCommitValue {
            offset: o.offset,
            metadata: o.metadata.clone(),
            commit_timestamp_ms: o.commit_timestamp_ms,
        }
        .encode(),
    }
}

pub(super) fn group_metadata_record(group: &Group, now: u64) -> OffsetsRecord {
    OffsetsRecord {
        key: RecordKey::GroupMetadata { group: group.id.clone() }.encode(),
        value: group.metadata_value(now).encode(),
    }
}

/// Tombstones for every offset of the group, then for its metadata.
pub(super) fn group_tombstones(group: &Group) -> Vec<OffsetsRecord> {
    group
        .committed()
        .map(|(topic, partition, _)| {
            OffsetsRecord::tombstone(&RecordKey::OffsetCommit {
                group: group.id.clone(),
                topic: topic.to_owned(),
                partition,
            })
        })
        .chain(std::iter::once(OffsetsRecord::tombstone(&RecordKey::GroupMetadata { group: group.id.clone() })))
        .collect()
}

/// The group error for a failed append (Kafka's mapping): the partition
/// moved → `NotCoordinator`; anything else → `CoordinatorNotAvailable`.
/// Both make the client find the coordinator again and retry.
pub(super) fn group_error(storage: ErrorCode) -> ErrorCode {
    match storage {
        ErrorCode::NotCoordinator | ErrorCode::NotOwner => ErrorCode::NotCoordinator,
        _ => ErrorCode::CoordinatorNotAvailable,
    }
}
