//! Kafka group requests as native ones and native answers as Kafka
//! responses: the conversions behind `groups`. I/O-free; used on any core.
//!
//! Most requests map one to one. A LeaveGroup v3 (a batch of members)
//! becomes one native LeaveGroup per member. Kafka fields the coordinator
//! has no notion of are dropped: `group_instance_id` (static membership:
//! such members join as dynamic ones), `retention_time_ms`, leader epochs.
//! JoinGroup from v4 without a member id is answered before any conversion
//! (MEMBER_ID_REQUIRED, see `member_ids`).

use bytes::Bytes;

use super::errors::kafka_code;
use super::groups::Answer;
use corelog_kafka_protocol::delete_groups_response::DeletableGroupResult;
use corelog_kafka_protocol::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use corelog_kafka_protocol::join_group_response::JoinGroupResponseMember;
use corelog_kafka_protocol::leave_group_response::MemberResponse;
use corelog_kafka_protocol::list_groups_response::ListedGroup;
use corelog_kafka_protocol::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use corelog_kafka_protocol::offset_fetch_response::{OffsetFetchResponsePartition, OffsetFetchResponseTopic};
use corelog_kafka_protocol::{self as kafka, error_code, RequestBody, ResponseBody};
use corelog_protocol::{self as native, ErrorCode, GroupState, Request, Response};

/// Kafka's "not requested" value for authorized operations.
const NO_OPERATIONS: i32 = i32::MIN;

fn non_negative(value: i32, what: &str) -> Result<u32, String> {
    u32::try_from(value).map_err(|_| format!("{what} {value} is negative"))
}

/// The native requests a Kafka group request stands for.
pub fn to_native(body: &RequestBody, version: i16, client_id: &str) -> Result<Vec<Request>, String> {
    Ok(match body {
        RequestBody::JoinGroup(r) => vec![Request::JoinGroup(native::JoinGroupRequest {
            group_id: r.group_id.clone(),
            session_timeout_ms: non_negative(r.session_timeout_ms, "session timeout")?,
            // v0 has no rebalance timeout: Kafka uses the session timeout.
            rebalance_timeout_ms: if version == 0 {
                non_negative(r.session_timeout_ms, "session timeout")?
            } else {
                non_negative(r.rebalance_timeout_ms, "rebalance timeout")?
            },
            member_id: r.member_id.clone(),
            client_id: client_id.to_owned(),
            protocol_type: r.protocol_type.clone(),
            protocols: r
                .protocols
                .iter()
                .map(|p| native::JoinGroupProtocol { name: p.name.clone(), metadata: p.metadata.to_vec() })
                .collect(),
        })],
        RequestBody::SyncGroup(r) => vec![Request::SyncGroup(native::SyncGroupRequest {
            group_id: r.group_id.clone(),
            generation_id: r.generation_id,
            member_id: r.member_id.clone(),
            assignments: r
                .assignments
                .iter()
                .map(|a| native::SyncGroupAssignment {
                    member_id: a.member_id.clone(),
                    assignment: a.assignment.to_vec(),
                })
                .collect(),
        })],
        RequestBody::Heartbeat(r) => vec![Request::Heartbeat(native::HeartbeatRequest {
            group_id: r.group_id.clone(),
            generation_id: r.generation_id,
            member_id: r.member_id.clone(),
        })],
        RequestBody::LeaveGroup(r) if version < 3 => {
            vec![Request::LeaveGroup(native::LeaveGroupRequest {
                group_id: r.group_id.clone(),
                member_id: r.member_id.clone(),
            })]
        }
        RequestBody::LeaveGroup(r) => r
            .members
            .iter()
            .map(|m| {
                Request::LeaveGroup(native::LeaveGroupRequest {
                    group_id: r.group_id.clone(),
                    member_id: m.member_id.clone(),
                })
            })
            .collect(),
        RequestBody::OffsetCommit(r) => {
            let mut topics = Vec::with_capacity(r.topics.len());
            for t in &r.topics {
                let mut partitions = Vec::with_capacity(t.partitions.len());
                for p in &t.partitions {
                    partitions.push(native::OffsetCommitPartition {
                        partition: non_negative(p.partition_index, "partition")?,
                        offset: u64::try_from(p.committed_offset)
                            .map_err(|_| format!("committed offset {} is negative", p.committed_offset))?,
                        metadata: p.committed_metadata.clone().unwrap_or_default(),
                    });
                }
                topics.push(native::OffsetCommitTopic { name: t.name.clone(), partitions });
            }
            vec![Request::OffsetCommit(native::OffsetCommitRequest {
                group_id: r.group_id.clone(),
                generation_id: r.generation_id_or_member_epoch,
                member_id: r.member_id.clone(),
                topics,
            })]
        }
        RequestBody::OffsetFetch(r) => {
            let topics = match &r.topics {
                None => None,
                Some(topics) => Some(
                    topics
                        .iter()
                        .map(|t| {
                            let partitions = t
                                .partition_indexes
                                .iter()
                                .map(|&p| non_negative(p, "partition"))
                                .collect::<Result<Vec<_>, _>>()?;
                            Ok(native::OffsetFetchTopic { name: t.name.clone(), partitions })
                        })
                        .collect::<Result<Vec<_>, String>>()?,
                ),
            };
            vec![Request::OffsetFetch(native::OffsetFetchRequest { group_id: r.group_id.clone(), topics })]
        }
        RequestBody::ListGroups(r) => {
            let states_filter = r
                .states_filter
                .iter()
                .map(|s| GroupState::parse(s).ok_or_else(|| format!("unknown group state {s:?}")))
                .collect::<Result<Vec<_>, _>>()?;
            vec![Request::ListGroups(native::ListGroupsRequest { states_filter })]
        }
        RequestBody::DescribeGroups(r) => {
            vec![Request::DescribeGroups(native::DescribeGroupsRequest { group_ids: r.groups.clone() })]
        }
        RequestBody::DeleteGroups(r) => {
            vec![Request::DeleteGroups(native::DeleteGroupsRequest { group_ids: r.groups_names.clone() })]
        }
        other => return Err(format!("{} is not a group api", other.api_key().name())),
    })
}

/// The Kafka response to `body` from the native answers `to_native`'s
/// requests got (in order), or the error that stopped them.
pub fn to_kafka(body: &RequestBody, version: i16, answers: Vec<Answer>) -> ResponseBody {
    let first_error = answers.iter().find_map(|a| a.as_ref().err().map(|(c, m)| (*c, m.clone())));
    let mut responses = answers.into_iter().filter_map(Result::ok);
    let first = responses.next();
    // A native answer of another api than asked for is a broker bug: answer
    // it as an unknown server error rather than mislabel it.
    let failure =
        first_error.map(|(c, m)| (kafka_code(c), Some(m))).unwrap_or((error_code::UNKNOWN_SERVER_ERROR, None));
    match body {
        RequestBody::JoinGroup(r) => ResponseBody::JoinGroup(match first {
            Some(Response::JoinGroup(j)) => kafka::JoinGroupResponse {
                error_code: kafka_code(j.error),
                generation_id: j.generation_id,
                protocol_type: Some(r.protocol_type.clone()),
                protocol_name: Some(j.protocol_name),
                leader: j.leader_id,
                member_id: j.member_id,
                members: j
                    .members
                    .into_iter()
                    .map(|m| JoinGroupResponseMember {
                        member_id: m.member_id,
                        group_instance_id: None,
                        metadata: Bytes::from(m.metadata),
                    })
                    .collect(),
                ..Default::default()
            },
            _ => kafka::JoinGroupResponse {
                error_code: failure.0,
                generation_id: -1,
                protocol_name: Some(String::new()),
                member_id: r.member_id.clone(),
                ..Default::default()
            },
        }),
        RequestBody::SyncGroup(r) => ResponseBody::SyncGroup(match first {
            Some(Response::SyncGroup(s)) => kafka::SyncGroupResponse {
                error_code: kafka_code(s.error),
                protocol_type: r.protocol_type.clone(),
                protocol_name: r.protocol_name.clone(),
                assignment: Bytes::from(s.assignment),
                ..Default::default()
            },
            _ => kafka::SyncGroupResponse { error_code: failure.0, ..Default::default() },
        }),
        RequestBody::Heartbeat(_) => ResponseBody::Heartbeat(kafka::HeartbeatResponse {
            error_code: match first {
                Some(Response::Heartbeat(h)) => kafka_code(h.error),
                _ => failure.0,
            },
            ..Default::default()
        }),
        RequestBody::LeaveGroup(r) if version < 3 => ResponseBody::LeaveGroup(kafka::LeaveGroupResponse {
            error_code: match first {
                Some(Response::LeaveGroup(l)) => kafka_code(l.error),
                _ => failure.0,
            },
            ..Default::default()
        }),
        RequestBody::LeaveGroup(r) => {
            let codes: Vec<i16> = first
                .into_iter()
                .chain(responses)
                .map(|a| match a {
                    Response::LeaveGroup(l) => kafka_code(l.error),
                    _ => error_code::UNKNOWN_SERVER_ERROR,
                })
                .collect();
            let members = r
                .members
                .iter()
                .enumerate()
                .map(|(i, m)| MemberResponse {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    error_code: codes.get(i).copied().unwrap_or(failure.0),
                })
                .collect();
            let error_code = if codes.len() == r.members.len() { error_code::NONE } else { failure.0 };
            ResponseBody::LeaveGroup(kafka::LeaveGroupResponse { error_code, members, ..Default::default() })
        }
        RequestBody::OffsetCommit(r) => ResponseBody::OffsetCommit(kafka::OffsetCommitResponse {
            topics: match first {
                Some(Response::OffsetCommit(c)) => c
                    .topics
                    .into_iter()
                    .map(|t| OffsetCommitResponseTopic {
                        name: t.name,
                        partitions: t
                            .partitions
                            .into_iter()
                            .map(|p| OffsetCommitResponsePartition {
                                partition_index: p.partition as i32,
                                error_code: kafka_code(if p.error == ErrorCode::None { c.error } else { p.error }),
                            })
                            .collect(),
                    })
                    .collect(),
                _ => r
                    .topics
                    .iter()
                    .map(|t| OffsetCommitResponseTopic {
                        name: t.name.clone(),
                        partitions: t
                            .partitions
                            .iter()
                            .map(|p| OffsetCommitResponsePartition {
                                partition_index: p.partition_index,
                                error_code: failure.0,
                            })
                            .collect(),
                    })
                    .collect(),
            },
            ..Default::default()
        }),
        RequestBody::OffsetFetch(_) => ResponseBody::OffsetFetch(match first {
            Some(Response::OffsetFetch(f)) => kafka::OffsetFetchResponse {
                error_code: kafka_code(f.error),
                topics: f
                    .topics
                    .into_iter()
                    .map(|t| OffsetFetchResponseTopic {
                        name: t.name,
                        partitions: t
                            .partitions
                            .into_iter()
                            .map(|p| OffsetFetchResponsePartition {
                                partition_index: p.partition as i32,
                                committed_offset: p.offset.map_or(-1, |o| i64::try_from(o).unwrap_or(i64::MAX)),
                                committed_leader_epoch: -1,
                                metadata: Some(p.metadata),
                                error_code: kafka_code(p.error),
                            })
                            .collect(),
                    })
                    .collect(),
                ..Default::default()
            },
            _ => kafka::OffsetFetchResponse { error_code: failure.0, ..Default::default() },
        }),
        RequestBody::ListGroups(_) => ResponseBody::ListGroups(match first {
            Some(Response::ListGroups(l)) => kafka::ListGroupsResponse {
                error_code: kafka_code(l.error),
                groups: l
                    .groups
                    .into_iter()
                    .map(|g| ListedGroup {
                        group_id: g.group_id,
                        protocol_type: g.protocol_type,
                        group_state: g.state.name().to_owned(),
                        group_type: "classic".into(),
                    })
                    .collect(),
                ..Default::default()
            },
            _ => kafka::ListGroupsResponse { error_code: failure.0, ..Default::default() },
        }),
        RequestBody::DescribeGroups(r) => ResponseBody::DescribeGroups(kafka::DescribeGroupsResponse {
            groups: match first {
                Some(Response::DescribeGroups(d)) => d
                    .groups
                    .into_iter()
                    .map(|g| DescribedGroup {
                        error_code: kafka_code(if g.error == ErrorCode::None { d.error } else { g.error }),
                        group_id: g.group_id,
                        group_state: g.state.name().to_owned(),
                        protocol_type: g.protocol_type,
                        protocol_data: g.protocol,
                        members: g
                            .members
                            .into_iter()
                            .map(|m| DescribedGroupMember {
                                member_id: m.member_id,
                                group_instance_id: None,
                                client_id: m.client_id,
                                client_host: m.host,
                                member_metadata: Bytes::from(m.metadata),
                                member_assignment: Bytes::from(m.assignment),
                            })
                            .collect(),
                        authorized_operations: NO_OPERATIONS,
                    })
                    .collect(),
                _ => r
                    .groups
                    .iter()
                    .map(|g| DescribedGroup {
                        error_code: failure.0,
                        group_id: g.clone(),
                        group_state: GroupState::Dead.name().to_owned(),
                        authorized_operations: NO_OPERATIONS,
                        ..Default::default()
                    })
                    .collect(),
            },
            ..Default::default()
        }),
        RequestBody::DeleteGroups(r) => ResponseBody::DeleteGroups(kafka::DeleteGroupsResponse {
            results: match first {
                Some(Response::DeleteGroups(d)) => d
                    .results
                    .into_iter()
                    .map(|g| DeletableGroupResult {
                        group_id: g.group_id,
                        error_code: kafka_code(if g.error == ErrorCode::None { d.error } else { g.error }),
                    })
                    .collect(),
                _ => r
                    .groups_names
                    .iter()
                    .map(|g| DeletableGroupResult { group_id: g.clone(), error_code: failure.0 })
                    .collect(),
            },
            ..Default::default()
        }),
        other => {
            tracing::error!(api = other.api_key().name(), "not a group api");
            ResponseBody::Heartbeat(kafka::HeartbeatResponse { error_code: failure.0, ..Default::default() })
        }
    }
}
