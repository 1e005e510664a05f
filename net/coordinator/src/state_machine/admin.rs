//! Listing, describing and deleting groups.

use super::*;

impl GroupCoordinator {
    pub(super) fn list_groups(&self, r: &ListGroupsRequest) -> ListGroupsResponse {
        let groups = self
            .groups
            .values()
            .filter(|g| self.partitions.get(&self.partition_of(&g.id)) == Some(&PartitionStatus::Loaded))
            .filter(|g| r.states_filter.is_empty() || r.states_filter.contains(&g.state))
            .map(|g| ListedGroup {
                group_id: g.id.clone(),
                state: g.state,
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
            })
            .collect();
        let loading: Vec<u32> =
            self.partitions.iter().filter(|(_, s)| **s == PartitionStatus::Loading).map(|(p, _)| *p).collect();
        if loading.is_empty() {
            ListGroupsResponse { error: ErrorCode::None, error_message: None, groups }
        } else {
            ListGroupsResponse {
                error: ErrorCode::CoordinatorNotAvailable,
                error_message: Some(format!(
                    "still loading {OFFSETS_TOPIC} partitions {loading:?}; the list is partial"
                )),
                groups,
            }
        }
    }

    pub(super) fn describe_groups(&self, r: &DescribeGroupsRequest) -> DescribeGroupsResponse {
        let groups = r
            .group_ids
            .iter()
            .map(|id| match self.route(id) {
                Err((code, _)) => DescribedGroup::error(id.clone(), code),
                Ok(_) => match self.groups.get(id) {
                    None => DescribedGroup::error(id.clone(), ErrorCode::UnknownGroup),
                    Some(g) => describe(g),
                },
            })
            .collect();
        DescribeGroupsResponse { error: ErrorCode::None, error_message: None, groups }
    }

    pub(super) fn delete_groups(&mut self, req: RequestId, r: DeleteGroupsRequest, out: &mut Vec<Command>) {
        let mut results = Vec::with_capacity(r.group_ids.len());
        let mut tombstones: BTreeMap<u32, (Vec<OffsetsRecord>, Vec<usize>)> = BTreeMap::new();
        for (i, id) in r.group_ids.iter().enumerate() {
            let error = match self.route(id) {
                Err((code, _)) => code,
                Ok(partition) => match self.groups.get(id) {
                    None => ErrorCode::UnknownGroup,
                    Some(g) if !g.members.is_empty() || g.state != GroupState::Empty => ErrorCode::GroupNotEmpty,
                    Some(_) => {
                        if let Some(g) = self.groups.remove(id) {
                            let entry = tombstones.entry(partition).or_default();
                            entry.0.extend(group_tombstones(&g));
                            entry.1.push(i);
                        }
                        ErrorCode::None
                    }
                },
            };
            results.push(GroupResult { group_id: id.clone(), error });
        }
        if tombstones.is_empty() {
            respond(out, req, Response::DeleteGroups(DeleteGroupsResponse { results, ..Default::default() }));
            return;
        }
        self.deletes.insert(req, PendingDelete { outstanding: tombstones.len(), results });
        for (partition, (records, indices)) in tombstones {
            self.persist(partition, records, PendingPersist::Delete { req, indices }, out);
        }
    }
}
