//! Loopback ports for brokers that tests start.
//!
//! Two races made CI runs fail when ports came from bind-to-port-0:
//! - Such a port is in the kernel's ephemeral range (32768 and up), so an
//!   outgoing connection's local end can take it between the check and the
//!   broker's bind, or while a killed broker is down (EADDRINUSE), and a
//!   connect to a closed port in that range can even connect to itself
//!   (TCP simultaneous open), so "nobody listens any more" saw a listener.
//! - The tests of one binary run as threads: a port one test just freed
//!   (shutdown, kill) was handed to another test's broker.
//!
//! So ports come from below the ephemeral range, each handed out at most
//! once per process, starting at an offset derived from the process id so
//! that test binaries run side by side rarely meet. Every port is checked
//! with a plain listener, which clashes with a broker's SO_REUSEPORT
//! listener, where another SO_REUSEPORT bind would not.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};

/// First port handed out.
pub const FIRST_PORT: u16 = 20_000;
/// One past the last port handed out: the start of Linux's default
/// ephemeral range (net.ipv4.ip_local_port_range).
pub const EPHEMERAL_START: u16 = 32_768;
/// Most consecutive ports one call may ask for.
pub const MAX_RUN: u16 = 64;
const _: () = assert!(FIRST_PORT + MAX_RUN < EPHEMERAL_START);

fn handed_out() -> &'static Mutex<(u16, HashSet<u16>)> {
    static STATE: OnceLock<Mutex<(u16, HashSet<u16>)>> = OnceLock::new();
    STATE.get_or_init(|| {
        let span = u32::from(EPHEMERAL_START - FIRST_PORT);
        let start = FIRST_PORT + (std::process::id().wrapping_mul(97) % span) as u16;
        Mutex::new((start, HashSet::new()))
    })
}

/// A port free a moment ago and not handed out before by this process.
pub fn free_port() -> u16 {
    free_ports(1)
}

/// A port `p` such that `p..p + n` were all free a moment ago and none was
/// handed out before by this process.
///
/// # Panics
/// If `n` is 0 or above [`MAX_RUN`], or no run of `n` free ports is left
/// below the ephemeral range.
pub fn free_ports(n: u16) -> u16 {
    assert!((1..=MAX_RUN).contains(&n), "asked for {n} ports (1..={MAX_RUN})");
    let mut state = handed_out().lock().unwrap_or_else(|e| e.into_inner());
    let (next, taken) = &mut *state;
    let span = EPHEMERAL_START - FIRST_PORT;
    for _ in 0..span {
        let base = if *next + n > EPHEMERAL_START { FIRST_PORT } else { *next };
        *next = base + n;
        let run = base..base + n;
        if run.clone().all(|p| !taken.contains(&p) && TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            taken.extend(run);
            return base;
        }
    }
    panic!("no {n} free consecutive loopback ports left in {FIRST_PORT}..{EPHEMERAL_START}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_below_the_ephemeral_range_and_never_handed_out_twice() {
        let mut seen = HashSet::new();
        for n in [1u16, 3, 1, 8, 2] {
            let base = free_ports(n);
            assert!(base >= FIRST_PORT && base + n <= EPHEMERAL_START);
            for p in base..base + n {
                assert!(seen.insert(p), "port {p} handed out twice");
            }
        }
    }

    #[test]
    fn a_port_someone_listens_on_is_skipped() {
        let first = free_port();
        // Hold the next candidate so the picker must pass over it.
        let held = TcpListener::bind(("127.0.0.1", first + 1));
        let second = free_port();
        if held.is_ok() {
            assert_ne!(second, first + 1);
        }
        assert_ne!(first, second);
    }
}
