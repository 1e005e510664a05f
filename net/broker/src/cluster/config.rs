//! A cluster node's settings: who the controllers are (`--controllers
//! 1@host:port,2@host:port`) and the session and polling times.
//!
//! A node is a controller iff its node id is in the controllers list
//! (combined mode, like KRaft's `process.roles=broker,controller`); every
//! node, controller or not, runs a broker agent.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use corelog_protocol::limits::MAX_CONTROLLERS;
use corelog_replication::limits::{
    DEFAULT_BROKER_HEARTBEAT_INTERVAL_MS, DEFAULT_BROKER_SESSION_TIMEOUT_MS, MAX_NODE_ID, SNAPSHOT_INTERVAL_ENTRIES,
};

use crate::limits::{DEFAULT_BIND_RETRY, DEFAULT_METADATA_POLL_WAIT, DEFAULT_PREFERRED_ELECTION_INTERVAL};

/// One controller of the quorum and its controller port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerPeer {
    pub node_id: u32,
    pub host: String,
    pub port: u16,
}

impl ControllerPeer {
    /// The controller port's address (the host resolved; the first address).
    pub fn addr(&self) -> std::io::Result<SocketAddr> {
        (self.host.as_str(), self.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{}: no address", self.host)))
    }

    /// The id this controller has inside raft: `node_id + 1`, because raft
    /// reserves 0 for "nobody" and Kafka node ids start at 0.
    pub fn raft_id(&self) -> u64 {
        raft_id(self.node_id)
    }
}

/// A node id's raft id (`node_id + 1`: raft's id 0 means "none").
pub fn raft_id(node_id: u32) -> u64 {
    u64::from(node_id) + 1
}

/// The node id of a raft id (the inverse of [`raft_id`]); None for 0 or ids
/// out of the node-id range.
pub fn node_id(raft_id: u64) -> Option<u32> {
    raft_id.checked_sub(1).and_then(|n| u32::try_from(n).ok())
}

/// Parses `"1@host:port,2@host:port"`: at least one, at most
/// [`MAX_CONTROLLERS`], distinct node ids, ports 1..=65535. Hosts may be
/// names or IPv4 addresses (an IPv6 address goes in brackets: `1@[::1]:9093`).
pub fn parse_controllers(text: &str) -> Result<Vec<ControllerPeer>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the controllers list is empty: give at least one id@host:port".into());
    }
    let mut peers: Vec<ControllerPeer> = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        let (id, addr) = item.split_once('@').ok_or_else(|| format!("controller {item:?}: expected id@host:port"))?;
        let node_id: u32 = id.parse().map_err(|_| format!("controller {item:?}: node id {id:?} is not a number"))?;
        if node_id > MAX_NODE_ID {
            return Err(format!("controller {item:?}: node id must be at most {MAX_NODE_ID}"));
        }
        let (host, port) =
            addr.rsplit_once(':').ok_or_else(|| format!("controller {item:?}: expected host:port after the @"))?;
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        if host.is_empty() {
            return Err(format!("controller {item:?}: the host is empty"));
        }
        let port: u16 = match port.parse() {
            Ok(p) if p != 0 => p,
            _ => return Err(format!("controller {item:?}: port {port:?} is not in 1..=65535")),
        };
        if peers.iter().any(|p| p.node_id == node_id) {
            return Err(format!("controller node id {node_id} appears twice"));
        }
        peers.push(ControllerPeer { node_id, host: host.to_string(), port });
        if peers.len() > MAX_CONTROLLERS {
            return Err(format!("more than {MAX_CONTROLLERS} controllers"));
        }
    }
    Ok(peers)
}

/// A node's cluster settings. Plain data, copied to core 0.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// This node's id.
    pub node_id: u32,
    /// Every voter of the controller quorum.
    pub controllers: Vec<ControllerPeer>,
    /// The active controller fences a broker silent for this long. Default
    /// 9 s (Kafka's broker.session.timeout.ms).
    pub session_timeout: Duration,
    /// How often the broker agent heartbeats. Default 2 s.
    pub heartbeat_interval: Duration,
    /// How long one MetadataUpdate long poll waits (capped by
    /// `MAX_METADATA_POLL_WAIT`). Default 5 s.
    pub metadata_poll_wait: Duration,
    /// How often the active controller looks for preferred replicas to
    /// restore as leaders. Default 10 s.
    pub preferred_election_interval: Duration,
    /// How long the controller port keeps retrying its bind while the
    /// address is in use. Default 10 s.
    pub bind_retry: Duration,
    /// Applied Raft entries between the controller's snapshots (then the
    /// log prefix is compacted, and a peer that far behind gets the
    /// snapshot). Default `SNAPSHOT_INTERVAL_ENTRIES`.
    pub snapshot_interval: u64,
}

impl ClusterSettings {
    pub fn new(node_id: u32, controllers: Vec<ControllerPeer>) -> ClusterSettings {
        ClusterSettings {
            node_id,
            controllers,
            session_timeout: Duration::from_millis(DEFAULT_BROKER_SESSION_TIMEOUT_MS),
            heartbeat_interval: Duration::from_millis(DEFAULT_BROKER_HEARTBEAT_INTERVAL_MS),
            metadata_poll_wait: DEFAULT_METADATA_POLL_WAIT,
            preferred_election_interval: DEFAULT_PREFERRED_ELECTION_INTERVAL,
            bind_retry: DEFAULT_BIND_RETRY,
            snapshot_interval: SNAPSHOT_INTERVAL_ENTRIES,
        }
    }

    /// Whether this node is one of the controllers.
    pub fn is_controller(&self) -> bool {
        self.own_entry().is_some()
    }

    /// This node's entry in the controllers list.
    pub fn own_entry(&self) -> Option<&ControllerPeer> {
        self.controllers.iter().find(|c| c.node_id == self.node_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_list_and_names_what_is_wrong() {
        let peers = parse_controllers("1@a:9093, 2@127.0.0.1:9094,0@[::1]:1").unwrap();
        assert_eq!(
            peers,
            vec![
                ControllerPeer { node_id: 1, host: "a".into(), port: 9093 },
                ControllerPeer { node_id: 2, host: "127.0.0.1".into(), port: 9094 },
                ControllerPeer { node_id: 0, host: "::1".into(), port: 1 },
            ]
        );
        for (bad, says) in [
            ("", "empty"),
            ("1@a:1,1@b:2", "twice"),
            ("1@a:0", "not in 1..=65535"),
            ("1@a:70000", "not in 1..=65535"),
            ("1@a", "host:port"),
            ("a:1", "id@host:port"),
            ("x@a:1", "not a number"),
            ("1@:1", "host is empty"),
        ] {
            let err = parse_controllers(bad).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
        let ten: Vec<String> = (0..=MAX_CONTROLLERS).map(|i| format!("{i}@h:{}", i + 1)).collect();
        assert!(parse_controllers(&ten.join(",")).unwrap_err().contains("more than"));
    }

    #[test]
    fn raft_ids_are_node_ids_plus_one() {
        assert_eq!(raft_id(0), 1);
        assert_eq!(node_id(1), Some(0));
        assert_eq!(node_id(0), None);
        assert_eq!(node_id(raft_id(MAX_NODE_ID)), Some(MAX_NODE_ID));
    }

    #[test]
    fn a_node_is_a_controller_iff_listed() {
        let peers = parse_controllers("1@a:1,2@a:2").unwrap();
        assert!(ClusterSettings::new(2, peers.clone()).is_controller());
        assert!(!ClusterSettings::new(3, peers).is_controller());
    }
}
