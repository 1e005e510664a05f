//! Topic configuration: Kafka-named keys, validated, convertible to the
//! log's own [`LogConfig`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::MetadataError;
use crate::limits::MIN_SEGMENT_BYTES;
use corelog_format::limits::{DEFAULT_MAX_BATCH_BYTES, MAX_BATCH_BYTES_CEILING};
use corelog_storage::limits::{DEFAULT_SEGMENT_BYTES, DEFAULT_SEGMENT_MAX_AGE_MS, MAX_SEGMENT_BYTES};
use corelog_storage::log::{FlushPolicy, LogConfig};

pub const RETENTION_MS: &str = "retention.ms";
pub const RETENTION_BYTES: &str = "retention.bytes";
pub const SEGMENT_BYTES: &str = "segment.bytes";
pub const SEGMENT_MS: &str = "segment.ms";
/// "always" or an interval in milliseconds, e.g. "1000".
pub const FLUSH_POLICY: &str = "flush.policy";
pub const MAX_MESSAGE_BYTES: &str = "max.message.bytes";

/// Every key a topic config accepts, in display order.
pub const KEYS: [&str; 6] = [RETENTION_MS, RETENTION_BYTES, SEGMENT_BYTES, SEGMENT_MS, FLUSH_POLICY, MAX_MESSAGE_BYTES];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicConfig {
    /// None: keep forever. Kafka's -1.
    pub retention_ms: Option<u64>,
    pub retention_bytes: Option<u64>,
    pub segment_bytes: u64,
    pub segment_ms: u64,
    /// None: fdatasync before every ack ("always"); Some(ms): at most every ms.
    pub flush_interval_ms: Option<u64>,
    pub max_message_bytes: usize,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            retention_ms: None,
            retention_bytes: None,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            segment_ms: DEFAULT_SEGMENT_MAX_AGE_MS,
            flush_interval_ms: None,
            max_message_bytes: DEFAULT_MAX_BATCH_BYTES,
        }
    }
}

fn invalid(key: &str, value: &str, why: &str) -> MetadataError {
    MetadataError::InvalidConfig(format!("{key}={value}: {why}"))
}

fn parse_u64(key: &str, value: &str) -> Result<u64, MetadataError> {
    value.trim().parse::<u64>().map_err(|_| invalid(key, value, "expected a non-negative integer"))
}

/// -1 (Kafka's "unlimited") or a non-negative integer.
fn parse_limit(key: &str, value: &str) -> Result<Option<u64>, MetadataError> {
    if value.trim() == "-1" {
        Ok(None)
    } else {
        parse_u64(key, value).map(Some)
    }
}

impl TopicConfig {
    /// Sets one key; unknown keys and bad values are errors, not ignored.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), MetadataError> {
        match key {
            RETENTION_MS => self.retention_ms = parse_limit(key, value)?,
            RETENTION_BYTES => self.retention_bytes = parse_limit(key, value)?,
            SEGMENT_BYTES => {
                let v = parse_u64(key, value)?;
                if !(MIN_SEGMENT_BYTES..=MAX_SEGMENT_BYTES).contains(&v) {
                    return Err(invalid(key, value, &format!("must be in [{MIN_SEGMENT_BYTES}, {MAX_SEGMENT_BYTES}]")));
                }
                self.segment_bytes = v;
            }
            SEGMENT_MS => {
                let v = parse_u64(key, value)?;
                if v == 0 {
                    return Err(invalid(key, value, "must be positive"));
                }
                self.segment_ms = v;
            }
            FLUSH_POLICY => {
                self.flush_interval_ms = match value.trim() {
                    "always" => None,
                    other => match parse_u64(key, other)? {
                        0 => None,
                        ms => Some(ms),
                    },
                }
            }
            MAX_MESSAGE_BYTES => {
                let v = parse_u64(key, value)? as usize;
                if !(corelog_format::HEADER_LEN..=MAX_BATCH_BYTES_CEILING).contains(&v) {
                    return Err(invalid(
                        key,
                        value,
                        &format!("must be in [{}, {MAX_BATCH_BYTES_CEILING}]", corelog_format::HEADER_LEN),
                    ));
                }
                self.max_message_bytes = v;
            }
            _ => {
                return Err(MetadataError::InvalidConfig(format!(
                    "unknown config key {key:?}; known: {}",
                    KEYS.join(", ")
                )))
            }
        }
        Ok(())
    }

    /// Applies every entry, all or nothing.
    pub fn with(&self, entries: &BTreeMap<String, String>) -> Result<TopicConfig, MetadataError> {
        let mut next = self.clone();
        for (k, v) in entries {
            next.set(k, v)?;
        }
        Ok(next)
    }

    /// Every key with its current value, as shown by describe.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let limit = |v: Option<u64>| v.map_or("-1".to_string(), |v| v.to_string());
        BTreeMap::from([
            (RETENTION_MS.to_string(), limit(self.retention_ms)),
            (RETENTION_BYTES.to_string(), limit(self.retention_bytes)),
            (SEGMENT_BYTES.to_string(), self.segment_bytes.to_string()),
            (SEGMENT_MS.to_string(), self.segment_ms.to_string()),
            (FLUSH_POLICY.to_string(), self.flush_interval_ms.map_or("always".to_string(), |ms| ms.to_string())),
            (MAX_MESSAGE_BYTES.to_string(), self.max_message_bytes.to_string()),
        ])
    }

    pub fn log_config(&self, tail_cache_bytes: usize) -> LogConfig {
        LogConfig {
            segment_bytes: self.segment_bytes,
            segment_max_age_ms: self.segment_ms,
            retention_ms: self.retention_ms,
            retention_bytes: self.retention_bytes,
            flush: match self.flush_interval_ms {
                None => FlushPolicy::Always,
                Some(ms) => FlushPolicy::Interval(Duration::from_millis(ms)),
            },
            max_batch_bytes: self.max_message_bytes,
            tail_cache_bytes,
            ..LogConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_the_map() {
        let mut c = TopicConfig::default();
        c.set(RETENTION_MS, "60000").unwrap();
        c.set(FLUSH_POLICY, "250").unwrap();
        c.set(RETENTION_BYTES, "-1").unwrap();
        let again = TopicConfig::default().with(&c.to_map()).unwrap();
        assert_eq!(again, c);
        assert_eq!(c.log_config(1).flush, FlushPolicy::Interval(Duration::from_millis(250)));
    }

    #[test]
    fn bad_values_and_unknown_keys_are_errors() {
        let mut c = TopicConfig::default();
        assert!(c.set("retention.ms", "soon").is_err());
        assert!(c.set("segment.bytes", "10").is_err());
        assert!(c.set("no.such.key", "1").is_err());
        assert!(c.set(MAX_MESSAGE_BYTES, "1000000000000").is_err());
        assert_eq!(c, TopicConfig::default());
    }
}
