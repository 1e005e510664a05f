//! corelog-tools: the `corelog` binary. Filled by the broker issue.
