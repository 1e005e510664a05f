//! Persist completions and timers (session and rebalance timeouts, expiry).

use super::*;

impl GroupCoordinator {
    pub(super) fn persisted(&mut self, now: u64, id: PersistId, result: Result<(), ErrorCode>, out: &mut Vec<Command>) {
        let Some(pending) = self.persists.remove(&id) else {
            return; // unknown or already reported: nothing waits on it
        };
        let failure = result.err().map(group_error);
        match pending {
            PendingPersist::Commit { req, group, incarnation, request, offsets } => {
                if let Some(mut g) = self.groups.remove(&group) {
                    if g.incarnation == incarnation {
                        g.pending_commits = g.pending_commits.saturating_sub(1);
                        if failure.is_none() {
                            for o in offsets {
                                g.set_offset(&o.topic, o.partition, o.value);
                            }
                        }
                    }
                    // A standalone group whose only commit failed is not kept.
                    self.put_back(g);
                }
                let (error, message) = match failure {
                    None => (ErrorCode::None, None),
                    Some(code) => (code, Some("the commit could not be stored; retry".to_owned())),
                };
                respond(out, req, Response::OffsetCommit(OffsetCommitResponse::uniform(&request, error, message)));
            }
            PendingPersist::Sync { group, incarnation, assignments } => {
                let Some(mut g) = self.groups.remove(&group) else { return };
                if g.incarnation == incarnation
                    && g.state == GroupState::CompletingRebalance
                    && g.sync_persist == Some(id)
                {
                    g.sync_persist = None;
                    match failure {
                        None => {
                            for (member, assignment) in assignments {
                                if let Some(m) = g.members.get_mut(&member) {
                                    m.assignment = assignment;
                                }
                            }
                            g.transition(GroupState::Stable, now);
                            for m in g.members.values_mut() {
                                if let Some(req) = m.pending_sync.take() {
                                    let response =
                                        SyncGroupResponse { assignment: m.assignment.clone(), ..Default::default() };
                                    respond(out, req, Response::SyncGroup(response));
                                }
                            }
                        }
                        Some(code) => {
                            for m in g.members.values_mut() {
                                if let Some(req) = m.pending_sync.take() {
                                    let e =
                                        SyncGroupResponse::error(code, "the assignment could not be stored; rejoin");
                                    respond(out, req, Response::SyncGroup(e));
                                }
                            }
                            self.prepare_rebalance(&mut g, now, out);
                            self.maybe_complete_join(&mut g, now, out);
                        }
                    }
                }
                self.put_back(g);
            }
            PendingPersist::Delete { req, indices } => {
                let Some(pd) = self.deletes.get_mut(&req) else { return };
                if let Some(code) = failure {
                    for i in indices {
                        if let Some(r) = pd.results.get_mut(i) {
                            r.error = code;
                        }
                    }
                }
                pd.outstanding = pd.outstanding.saturating_sub(1);
                if pd.outstanding == 0 {
                    if let Some(pd) = self.deletes.remove(&req) {
                        let response = DeleteGroupsResponse { results: pd.results, ..Default::default() };
                        respond(out, req, Response::DeleteGroups(response));
                    }
                }
            }
            PendingPersist::Background => {}
        }
    }

    pub(super) fn tick(&mut self, now: u64, out: &mut Vec<Command>) {
        let ids: Vec<String> = self
            .groups
            .keys()
            .filter(|id| self.partitions.get(&self.partition_of(id)) == Some(&PartitionStatus::Loaded))
            .cloned()
            .collect();
        for id in ids {
            let Some(mut group) = self.groups.remove(&id) else { continue };
            let expired: Vec<String> = group
                .members
                .values()
                .filter(|m| m.session_deadline_ms().is_some_and(|d| now >= d))
                .map(|m| m.id.clone())
                .collect();
            for member in expired {
                self.remove_member(&mut group, &member, "session timed out", now, out);
            }
            self.maybe_complete_join(&mut group, now, out);
            if group.expiry_ms(self.config.offsets_retention_ms).is_some_and(|t| now >= t) {
                let partition = self.partition_of(&group.id);
                self.persist(partition, group_tombstones(&group), PendingPersist::Background, out);
                continue; // forgotten
            }
            self.put_back(group);
        }
    }

    /// Checks the internal invariants (tests).
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        for g in self.groups.values() {
            let held_joins = g.members.values().filter(|m| m.is_awaiting_join()).count();
            let held_syncs = g.members.values().filter(|m| m.is_awaiting_sync()).count();
            if g.members.is_empty() != g.leader.is_none() {
                return Err(format!("{}: leader {:?} with {} members", g.id, g.leader, g.members.len()));
            }
            if let Some(l) = &g.leader {
                if !g.members.contains_key(l) {
                    return Err(format!("{}: leader {l} is not a member", g.id));
                }
            }
            if held_joins > 0 && g.state != GroupState::PreparingRebalance {
                return Err(format!("{}: held joins in {}", g.id, g.state));
            }
            if held_syncs > 0 && g.state != GroupState::CompletingRebalance {
                return Err(format!("{}: held syncs in {}", g.id, g.state));
            }
            if (g.state == GroupState::PreparingRebalance) != g.rebalance.is_some() {
                return Err(format!("{}: rebalance {:?} in {}", g.id, g.rebalance, g.state));
            }
            if g.sync_persist.is_some() && g.state != GroupState::CompletingRebalance {
                return Err(format!("{}: sync persist in {}", g.id, g.state));
            }
            match g.state {
                GroupState::Empty if !g.members.is_empty() => return Err(format!("{}: Empty with members", g.id)),
                GroupState::PreparingRebalance if g.members.is_empty() => {
                    return Err(format!("{}: rebalancing without members", g.id))
                }
                GroupState::CompletingRebalance | GroupState::Stable
                    if g.members.is_empty() || g.protocol.is_none() =>
                {
                    return Err(format!("{}: {} without members or protocol", g.id, g.state))
                }
                GroupState::Dead => return Err(format!("{}: Dead group kept", g.id)),
                _ => {}
            }
            if let Some(p) = &g.protocol {
                if g.members.values().any(|m| !m.supports(p)) && g.state != GroupState::PreparingRebalance {
                    return Err(format!("{}: a member does not support {p}", g.id));
                }
            }
        }
        Ok(())
    }
}
