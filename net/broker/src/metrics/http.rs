//! The admin HTTP endpoint: `GET /metrics` on a plain std thread, so scrapes
//! never run on (or wait for) a core.
//!
//! The body is the Prometheus text format 0.0.4 (`text/plain;
//! version=0.0.4`), or OpenMetrics 1.0 when the scraper asks for it in
//! `Accept` (Prometheus does by default). Anything else gets a 404 (405 for
//! another method on `/metrics`). One connection at a time, each answered
//! and closed: this is a scrape endpoint, not a web server.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::BrokerMetrics;
use crate::limits::IO_TIMEOUT;
use crate::limits::MAX_REQUEST_BYTES;

const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The running admin endpoint; dropping it stops the thread.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Listens on `addr` (port 0: any free port) and serves scrapes of
    /// `metrics` until dropped.
    pub fn start(addr: SocketAddr, metrics: Arc<BrokerMetrics>) -> io::Result<MetricsServer> {
        let listener = TcpListener::bind(addr)
            .map_err(|e| io::Error::new(e.kind(), format!("metrics endpoint cannot listen on {addr}: {e}")))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("corelog-metrics".into())
                .spawn(move || serve(listener, &metrics, &stop))?
        };
        tracing::info!(%addr, "metrics endpoint listening");
        Ok(MetricsServer { addr, stop, thread: Some(thread) })
    }

    /// The address scrapes go to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocked accept with a connection of our own.
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let woken = TcpStream::connect_timeout(&SocketAddr::new(ip, self.addr.port()), IO_TIMEOUT).is_ok();
        if let Some(thread) = self.thread.take() {
            if woken {
                let _ = thread.join();
            }
            // Otherwise leave it blocked in accept rather than hang here.
        }
    }
}

fn serve(listener: TcpListener, metrics: &BrokerMetrics, stop: &AtomicBool) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match stream {
            Ok(stream) => {
                if let Err(e) = answer(stream, metrics) {
                    tracing::debug!(error = %e, "metrics request failed");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics accept failed");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Reads one request head and writes the response.
fn answer(mut stream: TcpStream, metrics: &BrokerMetrics) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST_BYTES {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.lines();
    let mut request_line = lines.next().unwrap_or_default().split_whitespace();
    let (method, target) = (request_line.next().unwrap_or_default(), request_line.next().unwrap_or_default());
    let path = target.split('?').next().unwrap_or_default();
    let openmetrics = lines.any(|l| {
        l.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("accept") && value.contains("application/openmetrics-text")
        })
    });

    let (status, content_type, body, allow) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            let encoded = if openmetrics { metrics.encode_openmetrics() } else { metrics.encode_prometheus() };
            match encoded {
                Ok(body) => {
                    let ct = if openmetrics { OPENMETRICS_CONTENT_TYPE } else { PROMETHEUS_CONTENT_TYPE };
                    ("200 OK", ct, body, false)
                }
                Err(_) => ("500 Internal Server Error", "text/plain", "cannot encode the metrics\n".into(), false),
            }
        }
        (_, "/metrics") => ("405 Method Not Allowed", "text/plain", "use GET\n".into(), true),
        _ => ("404 Not Found", "text/plain", "not found; metrics are at /metrics\n".into(), false),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if allow {
        response.push_str("Allow: GET, HEAD\r\n");
    }
    response.push_str("\r\n");
    stream.write_all(response.as_bytes())?;
    if method != "HEAD" {
        stream.write_all(body.as_bytes())?;
    }
    stream.flush()
}

/// Rewrites prometheus-client's OpenMetrics text as the Prometheus text
/// format 0.0.4: counters are described under their sample name (with
/// `_total`), and the `# UNIT` and `# EOF` lines go (0.0.4 has neither).
pub fn openmetrics_to_prometheus(text: &str) -> String {
    let counters: HashSet<&str> =
        text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter")).collect();
    let mut out = String::with_capacity(text.len() + 16 * counters.len());
    for line in text.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let described = ["# HELP ", "# TYPE "].into_iter().find_map(|prefix| {
            let (name, rest) = line.strip_prefix(prefix)?.split_once(' ')?;
            counters.contains(name).then_some((prefix, name, rest))
        });
        match described {
            Some((prefix, name, rest)) => {
                let _ = writeln!(out, "{prefix}{name}_total {rest}");
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_described_under_their_sample_name() {
        let om = "# HELP x_bytes Bytes.\n# TYPE x_bytes counter\nx_bytes_total{core=\"0\"} 3\n\
                  # HELP y Open.\n# TYPE y gauge\n# UNIT y seconds\ny 1\n# EOF\n";
        let text = openmetrics_to_prometheus(om);
        assert_eq!(
            text,
            "# HELP x_bytes_total Bytes.\n# TYPE x_bytes_total counter\nx_bytes_total{core=\"0\"} 3\n\
             # HELP y Open.\n# TYPE y gauge\ny 1\n"
        );
    }
}
