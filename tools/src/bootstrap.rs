//! What every client command shares: the `--bootstrap` flag, connecting to
//! the cluster with a clear error when no broker answers, running the client
//! on a local executor, and turning client errors into one-line messages.

use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use clap::Args;
use corelog_client::{ClientConfig, ClientError, Cluster};

/// Where the default `--bootstrap` points: a local broker's core 0.
pub const DEFAULT_BOOTSTRAP: &str = "127.0.0.1:9192";

/// The `--bootstrap` flag.
#[derive(Args, Debug, Clone)]
pub struct BootstrapArgs {
    /// Broker endpoints to fetch the cluster metadata from, comma-separated
    /// host:port (any core of any broker will do; the client then talks to
    /// each partition's owning core directly).
    #[arg(long, short = 'b', value_name = "HOST:PORT,...", default_value = DEFAULT_BOOTSTRAP)]
    pub bootstrap: String,
    /// How long to keep retrying while no broker accepts the connection
    /// (refused or reset: one that is starting or restarting), in ms.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_RECONNECT_TIMEOUT_MS)]
    pub reconnect_timeout_ms: u64,
}

/// The default of `--reconnect-timeout-ms`: long enough for a broker to
/// restart after a kill -9, short enough for a person who mistyped a port.
pub const DEFAULT_RECONNECT_TIMEOUT_MS: u64 = 10_000;

impl BootstrapArgs {
    /// The endpoints, resolved.
    pub fn addrs(&self) -> Result<Vec<SocketAddr>, String> {
        parse_bootstrap(&self.bootstrap)
    }

    /// Connects to the cluster and loads the metadata of every topic.
    pub async fn connect(&self, config: ClientConfig) -> Result<Cluster, String> {
        let addrs = self.addrs()?;
        let config = ClientConfig { reconnect_timeout: Duration::from_millis(self.reconnect_timeout_ms), ..config };
        match Cluster::connect(&addrs, config).await {
            Ok(cluster) => Ok(cluster),
            Err(e @ (ClientError::NoBrokers(_) | ClientError::Io { .. } | ClientError::Timeout(_))) => {
                Err(format!("cannot connect to {}: {}", self.bootstrap, connect_cause(&e)))
            }
            Err(e @ ClientError::Framing { .. }) => {
                Err(format!("{} does not speak the corelog protocol (is it a corelog broker?): {e}", self.bootstrap))
            }
            Err(e) => Err(format!("fetching metadata from {}: {}", self.bootstrap, describe(&e))),
        }
    }
}

/// Settings of the CLI's connections: quicker to give up on connecting than
/// the library default, since a person is waiting.
pub fn client_config() -> ClientConfig {
    ClientConfig { client_id: "corelog-cli".into(), connect_timeout: Duration::from_secs(5), ..ClientConfig::default() }
}

/// Parses `host:port[,host:port...]`; host names are resolved here.
pub fn parse_bootstrap(text: &str) -> Result<Vec<SocketAddr>, String> {
    let mut addrs = Vec::new();
    for entry in text.split(',').map(str::trim) {
        if entry.is_empty() {
            return Err(format!("bad --bootstrap {text:?}: empty entry (expected host:port,...)"));
        }
        let resolved = entry.to_socket_addrs().map_err(|e| {
            if entry.rsplit_once(':').is_none_or(|(_, port)| port.parse::<u16>().is_err()) {
                format!("bad --bootstrap entry {entry:?}: expected host:port")
            } else {
                format!("bad --bootstrap entry {entry:?}: {e}")
            }
        })?;
        let resolved: Vec<SocketAddr> = resolved.collect();
        if resolved.is_empty() {
            return Err(format!("bad --bootstrap entry {entry:?}: resolves to no address"));
        }
        for addr in resolved {
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
    }
    Ok(addrs)
}

/// The cause of a failed connection, without the library's wrapping
/// ("no broker reachable: i/o error with ADDR: ...").
fn connect_cause(e: &ClientError) -> String {
    match e {
        ClientError::Io { source, .. } => source.to_string(),
        ClientError::NoBrokers(msg) => {
            // The library keeps only the text of the last endpoint's error.
            let msg = msg.as_str();
            match msg.strip_prefix("i/o error with ").and_then(|rest| rest.split_once(": ")) {
                Some((_addr, cause)) => cause.to_owned(),
                None => msg.to_owned(),
            }
        }
        other => other.to_string(),
    }
}

/// A client error as one line of text for people.
pub fn describe(e: &ClientError) -> String {
    match e {
        // The broker's message is the specific one ("topic \"x\" already
        // exists"); the code's text is the fallback.
        ClientError::Broker { code, message } => match message {
            Some(m) if !m.trim().is_empty() => m.clone(),
            _ => code.message().to_owned(),
        },
        ClientError::NoBrokers(_) => format!("lost the connection to the brokers: {}", connect_cause(e)),
        other => other.to_string(),
    }
}

/// A client error about `topic` with what was being done (`context`), unless
/// the error names the topic itself ("unknown topic \"x\"").
pub fn topic_error(context: &str, e: &ClientError) -> String {
    match e {
        ClientError::UnknownTopic(_) | ClientError::UnknownPartition { .. } => describe(e),
        _ => format!("{context}: {}", describe(e)),
    }
}

/// Runs a client future on a local (unpinned) executor on this thread.
pub fn run<F, T>(future: F) -> T
where
    F: Future<Output = T>,
{
    corelog_runtime::run_local(future)
}

/// Parses a `key=value` flag value.
pub fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_owned(), value.to_owned())),
        _ => Err(format!("expected key=value, got {text:?}")),
    }
}

/// Interprets the escapes `\t`, `\n`, `\r` and `\\` in a separator given on
/// the command line, so `--key-separator '\t'` means a tab.
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// A key separator flag value: escapes interpreted, not empty.
pub fn parse_separator(text: &str) -> Result<String, String> {
    let sep = unescape(text);
    if sep.is_empty() {
        return Err("the separator must not be empty".into());
    }
    Ok(sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_lists() {
        assert_eq!(parse_bootstrap(DEFAULT_BOOTSTRAP).unwrap(), vec!["127.0.0.1:9192".parse::<SocketAddr>().unwrap()]);
        let two = parse_bootstrap("127.0.0.1:9192, 127.0.0.1:9193,127.0.0.1:9192").unwrap();
        assert_eq!(two.len(), 2);
        assert!(parse_bootstrap("localhost:9192").unwrap().iter().all(|a| a.ip().is_loopback()));
        assert!(parse_bootstrap("127.0.0.1").unwrap_err().contains("expected host:port"));
        assert!(parse_bootstrap("127.0.0.1:99999").is_err());
        assert!(parse_bootstrap("127.0.0.1:9192,").unwrap_err().contains("empty entry"));
    }

    #[test]
    fn connect_causes_are_unwrapped() {
        let e = ClientError::NoBrokers("i/o error with 127.0.0.1:9192: Connection refused (os error 111)".into());
        assert_eq!(connect_cause(&e), "Connection refused (os error 111)");
        assert_eq!(connect_cause(&ClientError::NoBrokers("no endpoints".into())), "no endpoints");
    }

    #[test]
    fn key_values_and_separators() {
        assert_eq!(parse_key_value("retention.ms=100").unwrap(), ("retention.ms".into(), "100".into()));
        assert_eq!(parse_key_value("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_key_value("retention.ms").is_err());
        assert!(parse_key_value("=1").is_err());
        assert_eq!(parse_separator("\\t").unwrap(), "\t");
        assert_eq!(parse_separator("::").unwrap(), "::");
        assert_eq!(parse_separator("\\\\").unwrap(), "\\");
        assert!(parse_separator("").is_err());
    }
}
