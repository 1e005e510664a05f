//! Kafka's group apis through the broker's own coordinator, so Kafka and
//! corelog consumers can share a group: FindCoordinator names the
//! coordinator core's Kafka broker; JoinGroup … DeleteGroups are converted
//! to the native requests (see `group_convert`), served by
//! `crate::groups::handlers`, and their answers converted back.
//!
//! Each converted request is checked by the native codec (see `native`)
//! before it is served, so a Kafka client meets exactly the limits a native
//! one does.

use super::brokers::kafka_broker;
use super::errors::kafka_code;
use super::group_convert::{to_kafka, to_native};
use super::member_ids::MEMBER_ID_REQUIRED_FROM;
use super::native::checked;
use crate::context::ServerContext;
use crate::groups::handlers;
use corelog_kafka_protocol::{
    error_code, FindCoordinatorRequest, FindCoordinatorResponse, JoinGroupResponse, RequestBody, ResponseBody,
};
use corelog_protocol::{ErrorCode, Response};

/// Kafka's FindCoordinator key type of a consumer group (1 is a
/// transactional id, not served yet).
const KEY_TYPE_GROUP: i8 = 0;

pub async fn find_coordinator(
    request: FindCoordinatorRequest,
    _version: i16,
    context: &ServerContext,
) -> FindCoordinatorResponse {
    let failed = |code: i16, message: String| FindCoordinatorResponse {
        error_code: code,
        error_message: Some(message),
        node_id: -1,
        port: -1,
        ..Default::default()
    };
    if request.key_type != KEY_TYPE_GROUP {
        return failed(error_code::INVALID_REQUEST, "only consumer-group coordinators are served".into());
    }
    let native =
        handlers::find_coordinator(corelog_protocol::FindCoordinatorRequest { group_id: request.key }, context).await;
    let Some(owner) = native.coordinator.filter(|_| native.error == ErrorCode::None) else {
        let message = native.error_message.unwrap_or_default();
        return failed(
            kafka_code(if native.error == ErrorCode::None { ErrorCode::CoordinatorNotAvailable } else { native.error }),
            message,
        );
    };
    let snapshot = context.groups.shard().metadata();
    match kafka_broker(&snapshot, context, owner.node_id, u32::from(owner.core_id)) {
        Some(b) => FindCoordinatorResponse {
            error_code: error_code::NONE,
            node_id: b.id,
            host: b.host,
            port: b.port,
            ..Default::default()
        },
        None => failed(error_code::COORDINATOR_NOT_AVAILABLE, format!("node {} is not registered", owner.node_id)),
    }
}

/// A coordinator api request (JoinGroup … DeleteGroups) at `version`.
pub async fn handle(
    mut body: RequestBody,
    version: i16,
    client_id: &str,
    client_host: &str,
    context: &ServerContext,
) -> ResponseBody {
    if let RequestBody::JoinGroup(join) = &mut body {
        if version >= MEMBER_ID_REQUIRED_FROM {
            if join.member_id.is_empty() {
                return ResponseBody::JoinGroup(JoinGroupResponse {
                    error_code: error_code::MEMBER_ID_REQUIRED,
                    generation_id: -1,
                    protocol_name: Some(String::new()),
                    member_id: context.member_ids.issue(client_id),
                    ..Default::default()
                });
            }
            if context.member_ids.redeem(&join.member_id) {
                // A ticket: joins as a new member, named by the coordinator.
                join.member_id.clear();
            }
        }
    }
    let requests = match to_native(&body, version, client_id) {
        Ok(requests) => requests,
        Err(message) => return to_kafka(&body, version, vec![Err((ErrorCode::InvalidRequest, message))]),
    };
    let mut answers = Vec::with_capacity(requests.len());
    for request in requests {
        answers.push(match checked(request) {
            Ok(request) => Ok(handlers::handle(request, client_host, context).await),
            Err(message) => Err((ErrorCode::InvalidRequest, message)),
        });
    }
    to_kafka(&body, version, answers)
}

/// A native answer or the error that stopped the request before it.
pub type Answer = Result<Response, (ErrorCode, String)>;
