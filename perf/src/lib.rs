//! corelog-perf: load tools. Filled by the perf-tools issue.
