//! `corelog.toml`: the broker's settings, every one optional with the
//! default the example file documents; command-line flags override them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use corelog_broker::cluster::parse_controllers;
use corelog_broker::limits::DEFAULT_KAFKA_PORT;
use corelog_broker::BrokerConfig;
use serde::Deserialize;

/// The file as written; missing keys take their defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub broker: BrokerSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerSection {
    pub node_id: Option<u32>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub kafka_port: Option<u16>,
    pub advertise: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub cores: Option<usize>,
    pub cpuset: Option<String>,
    pub metrics_port: Option<u16>,
    pub max_frame_bytes: Option<usize>,
    pub tail_cache_bytes: Option<usize>,
    pub retention_check_ms: Option<u64>,
    pub io_memory_bytes: Option<usize>,
    pub offsets_partitions: Option<u32>,
    pub offsets_retention_ms: Option<u64>,
    pub group_min_session_timeout_ms: Option<u32>,
    pub group_max_session_timeout_ms: Option<u32>,
    pub group_initial_rebalance_delay_ms: Option<u32>,
    pub max_connections_per_core: Option<usize>,
    pub request_memory_bytes_per_core: Option<usize>,
    pub connection_idle_timeout_ms: Option<u64>,
    pub request_receive_timeout_ms: Option<u64>,
    pub bind_retry_ms: Option<u64>,
    pub controllers: Option<String>,
    pub broker_session_timeout_ms: Option<u64>,
    pub broker_heartbeat_interval_ms: Option<u64>,
    pub replica_lag_time_max_ms: Option<u64>,
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<ConfigFile, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The broker config: defaults, then this file.
    pub fn broker_config(&self) -> Result<BrokerConfig, String> {
        let b = &self.broker;
        let d = BrokerConfig::default();
        let controllers = match &b.controllers {
            Some(list) if !list.trim().is_empty() => {
                parse_controllers(list).map_err(|e| format!("controllers = {list:?}: {e}"))?
            }
            _ => d.controllers,
        };
        let ms = |v: Option<u64>, default: Duration| v.map(Duration::from_millis).unwrap_or(default);
        Ok(BrokerConfig {
            controllers,
            broker_session_timeout: ms(b.broker_session_timeout_ms, d.broker_session_timeout),
            broker_heartbeat_interval: ms(b.broker_heartbeat_interval_ms, d.broker_heartbeat_interval),
            replica_lag_time_max: ms(b.replica_lag_time_max_ms, d.replica_lag_time_max),
            node_id: b.node_id.unwrap_or(d.node_id),
            host: b.host.clone().unwrap_or(d.host),
            base_port: b.port.unwrap_or(d.base_port),
            // The command serves Kafka clients unless told not to (0); the
            // library's default is off (see `BrokerConfig::kafka_port`).
            kafka_port: b.kafka_port.unwrap_or(DEFAULT_KAFKA_PORT),
            advertise: b.advertise.clone().filter(|a| !a.is_empty()).or(d.advertise),
            data_dir: b.data_dir.clone().unwrap_or(d.data_dir),
            cores: b.cores.unwrap_or(d.cores),
            cpu_placement: match &b.cpuset {
                Some(v) => v.parse().map_err(|e| format!("[broker] cpuset: {e}"))?,
                None => d.cpu_placement,
            },
            max_frame_bytes: b.max_frame_bytes.unwrap_or(d.max_frame_bytes),
            tail_cache_bytes: b.tail_cache_bytes.unwrap_or(d.tail_cache_bytes),
            retention_check: b.retention_check_ms.map(Duration::from_millis).unwrap_or(d.retention_check),
            io_memory: b.io_memory_bytes.unwrap_or(d.io_memory),
            metrics_port: b.metrics_port.or(d.metrics_port),
            offsets_partitions: b.offsets_partitions.unwrap_or(d.offsets_partitions),
            offsets_retention_ms: b.offsets_retention_ms.unwrap_or(d.offsets_retention_ms),
            group_min_session_timeout_ms: b.group_min_session_timeout_ms.unwrap_or(d.group_min_session_timeout_ms),
            group_max_session_timeout_ms: b.group_max_session_timeout_ms.unwrap_or(d.group_max_session_timeout_ms),
            group_initial_rebalance_delay_ms: b
                .group_initial_rebalance_delay_ms
                .unwrap_or(d.group_initial_rebalance_delay_ms),
            max_connections_per_core: b.max_connections_per_core.unwrap_or(d.max_connections_per_core),
            request_memory_bytes_per_core: b.request_memory_bytes_per_core.unwrap_or(d.request_memory_bytes_per_core),
            connection_idle_timeout: b
                .connection_idle_timeout_ms
                .map(Duration::from_millis)
                .unwrap_or(d.connection_idle_timeout),
            request_receive_timeout: b
                .request_receive_timeout_ms
                .map(Duration::from_millis)
                .unwrap_or(d.request_receive_timeout),
            bind_retry: b.bind_retry_ms.map(Duration::from_millis).unwrap_or(d.bind_retry),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_parses_and_matches_the_defaults() {
        let example = include_str!("../../corelog.toml");
        let file: ConfigFile = toml::from_str(example).expect("corelog.toml parses");
        let from_file = file.broker_config().unwrap();
        let d = BrokerConfig::default();
        assert_eq!(from_file.base_port, d.base_port);
        assert_eq!(from_file.data_dir, d.data_dir);
        assert_eq!(from_file.max_frame_bytes, d.max_frame_bytes);
        assert_eq!(from_file.tail_cache_bytes, d.tail_cache_bytes);
        assert_eq!(from_file.retention_check, d.retention_check);
        assert_eq!(from_file.io_memory, d.io_memory);
        assert_eq!(from_file.offsets_partitions, d.offsets_partitions);
        assert_eq!(from_file.offsets_retention_ms, d.offsets_retention_ms);
        assert_eq!(from_file.group_min_session_timeout_ms, d.group_min_session_timeout_ms);
        assert_eq!(from_file.group_max_session_timeout_ms, d.group_max_session_timeout_ms);
        assert_eq!(from_file.group_initial_rebalance_delay_ms, d.group_initial_rebalance_delay_ms);
        assert_eq!(from_file.max_connections_per_core, d.max_connections_per_core);
        assert_eq!(from_file.request_memory_bytes_per_core, d.request_memory_bytes_per_core);
        assert_eq!(from_file.connection_idle_timeout, d.connection_idle_timeout);
        assert_eq!(from_file.request_receive_timeout, d.request_receive_timeout);
        assert_eq!(from_file.bind_retry, d.bind_retry);
        assert_eq!(from_file.kafka_port, DEFAULT_KAFKA_PORT);
        assert_eq!(from_file.advertise, None);
    }

    #[test]
    fn the_kafka_listener_is_on_unless_port_0() {
        let none = ConfigFile::default().broker_config().unwrap();
        assert_eq!((none.kafka_port, none.advertise), (DEFAULT_KAFKA_PORT, None));
        let file: ConfigFile = toml::from_str("[broker]\nkafka_port = 0\nadvertise = \"kafka.example\"\n").unwrap();
        let config = file.broker_config().unwrap();
        assert_eq!((config.kafka_port, config.advertise.as_deref()), (0, Some("kafka.example")));
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(toml::from_str::<ConfigFile>("[broker]\nprot = 1\n").is_err());
    }
}
