//! corelog-replication: cluster metadata and replication. Filled by the replication issue.
