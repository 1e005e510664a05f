//! Joining, syncing, heartbeats and leaving: the rebalance protocol.

use super::*;

impl GroupCoordinator {
    pub(super) fn join(&mut self, now: u64, req: RequestId, host: String, r: JoinGroupRequest, out: &mut Vec<Command>) {
        if let Err((code, msg)) = self.join_inner(now, req, host, &r, out) {
            respond(out, req, Response::JoinGroup(JoinGroupResponse::error(code, truncate_message(msg), &r.member_id)));
        }
    }

    /// Handles a join; `Err` is answered by the caller.
    pub(super) fn join_inner(
        &mut self,
        now: u64,
        req: RequestId,
        host: String,
        r: &JoinGroupRequest,
        out: &mut Vec<Command>,
    ) -> Result<(), Failure> {
        self.route(&r.group_id)?;
        let (min, max) = (self.config.min_session_timeout_ms, self.config.max_session_timeout_ms);
        if !(min..=max).contains(&r.session_timeout_ms) {
            return Err((
                ErrorCode::InvalidRequest,
                format!("session timeout {} ms is outside [{min}, {max}] ms", r.session_timeout_ms),
            ));
        }
        if r.protocol_type.is_empty() || r.protocols.is_empty() {
            return Err((
                ErrorCode::InconsistentGroupProtocol,
                "a join must name a protocol type and at least one protocol".into(),
            ));
        }
        if r.protocol_type == CONSUMER_PROTOCOL_TYPE && !r.protocols.iter().any(|p| KNOWN_ASSIGNORS.contains(&&*p.name))
        {
            let offered: Vec<&str> = r.protocols.iter().map(|p| p.name.as_str()).collect();
            return Err((
                ErrorCode::InconsistentGroupProtocol,
                format!("no known assignor among {offered:?}; known: {KNOWN_ASSIGNORS:?}"),
            ));
        }
        let mut group = match self.groups.remove(&r.group_id) {
            Some(g) => g,
            None if r.member_id.is_empty() => self.new_group(r.group_id.clone(), now),
            None => return Err((ErrorCode::UnknownMemberId, format!("group {:?} has no members", r.group_id))),
        };
        let result = if r.member_id.is_empty() {
            self.join_new_member(now, req, host, r, &mut group, out)
        } else {
            self.join_known_member(now, req, host, r, &mut group, out)
        };
        self.put_back(group);
        result
    }

    pub(super) fn join_new_member(
        &mut self,
        now: u64,
        req: RequestId,
        host: String,
        r: &JoinGroupRequest,
        group: &mut Group,
        out: &mut Vec<Command>,
    ) -> Result<(), Failure> {
        check_protocols(group, r)?;
        if group.members.len() >= self.config.max_group_size {
            return Err((
                ErrorCode::InvalidRequest,
                format!("group {:?} is full ({} members)", group.id, self.config.max_group_size),
            ));
        }
        let member_id = self.new_member_id(&r.client_id);
        self.next_join_seq += 1;
        let mut member = Member {
            id: member_id.clone(),
            client_id: String::new(),
            host: String::new(),
            session_timeout_ms: 0,
            rebalance_timeout_ms: 0,
            protocols: Vec::new(),
            assignment: Vec::new(),
            last_heartbeat_ms: now,
            join_seq: self.next_join_seq,
            pending_join: Some(req),
            pending_sync: None,
        };
        update_member(&mut member, now, host, r);
        if group.members.is_empty() {
            group.protocol_type = Some(r.protocol_type.clone());
        }
        group.members.insert(member_id.clone(), member);
        if group.leader.is_none() {
            group.leader = Some(member_id);
        }
        match group.state {
            GroupState::PreparingRebalance => {
                // A new member extends the initial delay (up to the rebalance timeout).
                let delay = u64::from(self.config.initial_rebalance_delay_ms);
                let cap = group.rebalance_deadline_ms();
                if let Some(rb) = group.rebalance.as_mut() {
                    if let Some(until) = rb.initial_delay_until_ms {
                        let extended = now.saturating_add(delay).min(cap.unwrap_or(u64::MAX));
                        rb.initial_delay_until_ms = Some(until.max(extended));
                    }
                }
            }
            _ => self.prepare_rebalance(group, now, out),
        }
        self.maybe_complete_join(group, now, out);
        Ok(())
    }

    pub(super) fn join_known_member(
        &mut self,
        now: u64,
        req: RequestId,
        host: String,
        r: &JoinGroupRequest,
        group: &mut Group,
        out: &mut Vec<Command>,
    ) -> Result<(), Failure> {
        let Some(member) = group.members.get(&r.member_id) else {
            return Err((ErrorCode::UnknownMemberId, format!("{:?} is not a member of {:?}", r.member_id, group.id)));
        };
        check_protocols(group, r)?;
        let same_protocols = member.protocols == dedup_protocols(&r.protocols);
        let rebalance = match group.state {
            GroupState::Empty | GroupState::Dead => {
                return Err((ErrorCode::UnknownMemberId, format!("{:?} is not a member", r.member_id)))
            }
            GroupState::PreparingRebalance => false,
            GroupState::CompletingRebalance => !same_protocols,
            GroupState::Stable => !same_protocols || group.is_leader(&r.member_id),
        };
        if group.state != GroupState::PreparingRebalance && !rebalance {
            // Nothing changes: the member gets the current generation again.
            if let Some(m) = group.members.get_mut(&r.member_id) {
                m.last_heartbeat_ms = now;
            }
            respond(out, req, Response::JoinGroup(join_response(group, &r.member_id)));
            return Ok(());
        }
        if let Some(m) = group.members.get_mut(&r.member_id) {
            update_member(m, now, host, r);
            if let Some(old) = m.pending_join.replace(req) {
                let superseded = "superseded by a newer JoinGroup of the same member";
                let e = JoinGroupResponse::error(ErrorCode::RebalanceInProgress, superseded, &r.member_id);
                respond(out, old, Response::JoinGroup(e));
            }
        }
        if rebalance {
            self.prepare_rebalance(group, now, out);
        }
        self.maybe_complete_join(group, now, out);
        Ok(())
    }

    /// Starts a rebalance: the group waits for its members to rejoin.
    pub(super) fn prepare_rebalance(&mut self, group: &mut Group, now: u64, out: &mut Vec<Command>) {
        if group.state == GroupState::CompletingRebalance {
            for m in group.members.values_mut() {
                if let Some(req) = m.pending_sync.take() {
                    let e =
                        SyncGroupResponse::error(ErrorCode::RebalanceInProgress, "the group is rebalancing; rejoin");
                    respond(out, req, Response::SyncGroup(e));
                }
            }
        }
        group.sync_persist = None;
        for m in group.members.values_mut() {
            m.assignment.clear();
        }
        let delay = u64::from(self.config.initial_rebalance_delay_ms);
        let initial_delay_until_ms = (group.state == GroupState::Empty && delay > 0)
            .then(|| now.saturating_add(delay.min(group.max_rebalance_timeout_ms())));
        group.rebalance = Some(Rebalance { started_ms: now, initial_delay_until_ms });
        group.transition(GroupState::PreparingRebalance, now);
    }

    /// Completes the join phase if every member has rejoined (and the
    /// initial delay is over), or the rebalance timeout has passed.
    pub(super) fn maybe_complete_join(&mut self, group: &mut Group, now: u64, out: &mut Vec<Command>) {
        if group.state != GroupState::PreparingRebalance {
            return;
        }
        let Some(rb) = group.rebalance else { return };
        let timed_out = group.rebalance_deadline_ms().is_some_and(|d| now >= d);
        let delay_over = rb.initial_delay_until_ms.is_none_or(|t| now >= t);
        if group.members.is_empty() || timed_out || (group.all_members_joined() && delay_over) {
            self.complete_join(group, now, out);
        }
    }

    /// Forms the next generation from the members that rejoined.
    pub(super) fn complete_join(&mut self, group: &mut Group, now: u64, out: &mut Vec<Command>) {
        let laggards: Vec<String> =
            group.members.values().filter(|m| !m.is_awaiting_join()).map(|m| m.id.clone()).collect();
        for id in laggards {
            if let Some(m) = group.members.remove(&id) {
                answer_held(&m, ErrorCode::UnknownMemberId, "removed: did not rejoin in time", out);
            }
        }
        if !group.leader.as_ref().is_some_and(|l| group.members.contains_key(l)) {
            group.leader = group.elect_leader();
        }
        group.rebalance = None;
        group.generation = group.next_generation();
        if group.members.is_empty() {
            group.protocol = None;
            group.leader = None;
            group.transition(GroupState::Empty, now);
            let record = group_metadata_record(group, now);
            let partition = self.partition_of(&group.id);
            self.persist(partition, vec![record], PendingPersist::Background, out);
            return;
        }
        group.protocol = group.select_protocol();
        group.transition(GroupState::CompletingRebalance, now);
        let ids: Vec<String> = group.members.keys().cloned().collect();
        for id in ids {
            let response = join_response(group, &id);
            if let Some(m) = group.members.get_mut(&id) {
                m.last_heartbeat_ms = now;
                if let Some(req) = m.pending_join.take() {
                    respond(out, req, Response::JoinGroup(response));
                }
            }
        }
    }

    // ---- sync ----------------------------------------------------------

    pub(super) fn sync(&mut self, now: u64, req: RequestId, r: SyncGroupRequest, out: &mut Vec<Command>) {
        let result = self.route(&r.group_id).and_then(|partition| match self.groups.remove(&r.group_id) {
            None => Err((ErrorCode::UnknownMemberId, format!("group {:?} has no members", r.group_id))),
            Some(mut group) => {
                let result = self.sync_in_group(now, req, partition, &r, &mut group, out);
                self.put_back(group);
                result
            }
        });
        if let Err((code, msg)) = result {
            respond(out, req, Response::SyncGroup(SyncGroupResponse::error(code, truncate_message(msg))));
        }
    }

    pub(super) fn sync_in_group(
        &mut self,
        now: u64,
        req: RequestId,
        partition: u32,
        r: &SyncGroupRequest,
        group: &mut Group,
        out: &mut Vec<Command>,
    ) -> Result<(), Failure> {
        check_member(group, &r.member_id, r.generation_id)?;
        match group.state {
            GroupState::Empty | GroupState::Dead => {
                Err((ErrorCode::UnknownMemberId, format!("{:?} is not a member", r.member_id)))
            }
            GroupState::PreparingRebalance => {
                Err((ErrorCode::RebalanceInProgress, "the group is rebalancing; rejoin".into()))
            }
            GroupState::Stable => {
                let m = group.members.get_mut(&r.member_id).ok_or_else(|| unknown_member(&r.member_id))?;
                m.last_heartbeat_ms = now;
                let response = SyncGroupResponse { assignment: m.assignment.clone(), ..Default::default() };
                respond(out, req, Response::SyncGroup(response));
                Ok(())
            }
            GroupState::CompletingRebalance => {
                let m = group.members.get_mut(&r.member_id).ok_or_else(|| unknown_member(&r.member_id))?;
                m.last_heartbeat_ms = now;
                if let Some(old) = m.pending_sync.replace(req) {
                    let superseded = "superseded by a newer SyncGroup of the same member";
                    respond(
                        out,
                        old,
                        Response::SyncGroup(SyncGroupResponse::error(ErrorCode::RebalanceInProgress, superseded)),
                    );
                }
                if group.is_leader(&r.member_id) && group.sync_persist.is_none() {
                    // Every member gets an entry; ids the leader made up are ignored.
                    let mut assignments: BTreeMap<String, Vec<u8>> =
                        group.members.keys().map(|id| (id.clone(), Vec::new())).collect();
                    for a in &r.assignments {
                        if let Some(slot) = assignments.get_mut(&a.member_id) {
                            slot.clone_from(&a.assignment);
                        }
                    }
                    let mut value = group.metadata_value(now);
                    for m in &mut value.members {
                        m.assignment = assignments.get(&m.member_id).cloned().unwrap_or_default();
                    }
                    let record = OffsetsRecord {
                        key: RecordKey::GroupMetadata { group: group.id.clone() }.encode(),
                        value: value.encode(),
                    };
                    let then =
                        PendingPersist::Sync { group: group.id.clone(), incarnation: group.incarnation, assignments };
                    group.sync_persist = Some(self.persist(partition, vec![record], then, out));
                }
                Ok(())
            }
        }
    }

    // ---- heartbeat and leave --------------------------------------------

    pub(super) fn heartbeat(&mut self, now: u64, r: &HeartbeatRequest) -> Result<(), Failure> {
        self.route(&r.group_id)?;
        let group = self.groups.get_mut(&r.group_id).ok_or_else(|| unknown_member(&r.member_id))?;
        check_member(group, &r.member_id, r.generation_id)?;
        let state = group.state;
        let m = group.members.get_mut(&r.member_id).ok_or_else(|| unknown_member(&r.member_id))?;
        match state {
            GroupState::Empty | GroupState::Dead => Err(unknown_member(&r.member_id)),
            GroupState::PreparingRebalance => {
                m.last_heartbeat_ms = now;
                Err((ErrorCode::RebalanceInProgress, "the group is rebalancing; rejoin".into()))
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                m.last_heartbeat_ms = now;
                Ok(())
            }
        }
    }

    pub(super) fn leave(&mut self, now: u64, req: RequestId, r: LeaveGroupRequest, out: &mut Vec<Command>) {
        let result = self.route(&r.group_id).and_then(|_| {
            let mut group = self.groups.remove(&r.group_id).ok_or_else(|| unknown_member(&r.member_id))?;
            let result = if group.has_member(&r.member_id) {
                self.remove_member(&mut group, &r.member_id, "left the group", now, out);
                Ok(())
            } else {
                Err(unknown_member(&r.member_id))
            };
            self.put_back(group);
            result
        });
        let (error, error_message) = split(result.err());
        respond(out, req, Response::LeaveGroup(LeaveGroupResponse { error, error_message }));
    }

    /// Removes a member (answering its held requests) and rebalances.
    pub(super) fn remove_member(
        &mut self,
        group: &mut Group,
        member_id: &str,
        why: &str,
        now: u64,
        out: &mut Vec<Command>,
    ) {
        if let Some(m) = group.members.remove(member_id) {
            answer_held(&m, ErrorCode::UnknownMemberId, why, out);
        }
        if group.is_leader(member_id) {
            group.leader = group.elect_leader();
        }
        if matches!(group.state, GroupState::Stable | GroupState::CompletingRebalance) {
            self.prepare_rebalance(group, now, out);
        }
        self.maybe_complete_join(group, now, out);
    }
}
