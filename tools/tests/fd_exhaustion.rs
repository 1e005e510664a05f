//! The broker out of file descriptors: a real `corelog broker` process whose
//! descriptor limit is tiny, flooded with connections.

mod cli_support;

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::time::Duration;

use cli_support::*;

/// Descriptors the broker process may hold (soft and hard): enough to start
/// one core, far fewer than the connections the test opens.
const FD_LIMIT: u64 = 96;
const CONNECTIONS: usize = 200;

#[test]
fn failed_accepts_back_off_and_are_logged_once_per_interval() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let log_path = dir.path().join("broker.log");
    let port = free_port();
    let mut command = broker_command(dir.path(), port, "");
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child
    // between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: FD_LIMIT, rlim_max: FD_LIMIT };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().expect("spawn the broker");
    assert!(wait_until_accepting(&mut child, port), "{}", std::fs::read_to_string(&log_path).unwrap_or_default());

    // Connections past the limit stay in the listen backlog: every accept
    // fails with EMFILE until some close.
    let flood: Vec<TcpStream> = (0..CONNECTIONS).filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok()).collect();
    assert!(flood.len() > FD_LIMIT as usize, "only {} connections were made", flood.len());
    std::thread::sleep(Duration::from_secs(3));
    let log = std::fs::read_to_string(&log_path).unwrap();
    let failures = log.lines().filter(|l| l.contains("accept failed")).count();
    assert!(failures >= 1, "no accept failure was logged:\n{log}");
    // Unthrottled, a failure every 10 ms is ~300 lines in 3 s.
    assert!(failures <= 2, "{failures} accept-failure lines in 3 s:\n{log}");

    drop(flood);
    // Once descriptors are free again the broker accepts and answers.
    corelog(&["topic", "create", "after", "-b", &format!("127.0.0.1:{port}")], "").ok();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("accepting again"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    let _ = child.kill();
    let _ = child.wait();
}
