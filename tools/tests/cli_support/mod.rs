//! Running the `corelog` binary in tests: a broker process on a free port
//! and one-shot commands with their output and exit status.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_corelog");
/// Longest any one command may take before the test fails.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(60);

pub use corelog_testkit::free_port;

/// A `corelog broker --cores 1` process; killed on drop.
pub struct BrokerProcess {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

/// A `corelog broker --cores 1` command on `port` with its config, data and
/// log (stderr) under `dir`, not yet spawned (callers may add limits).
/// Its corelog.toml `[broker]` section holds `extra_settings` (lines of
/// `key = value`) besides a small io_memory.
pub fn broker_command(dir: &std::path::Path, port: u16, extra_settings: &str) -> Command {
    // Little io_uring memory: RLIMIT_MEMLOCK is small for most users.
    let config = dir.join("corelog.toml");
    std::fs::write(&config, format!("[broker]\nio_memory_bytes = 1048576\n{extra_settings}")).expect("config");
    let log = std::fs::File::create(dir.join("broker.log")).expect("log file");
    let mut command = Command::new(BIN);
    command
        .args(["broker", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--port", &port.to_string(), "--cores", "1", "--kafka-port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    command
}

impl BrokerProcess {
    /// Starts a broker (see [`broker_command`]) on a free port.
    pub fn start(extra_settings: &str) -> BrokerProcess {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
        let log_path = dir.path().join("broker.log");
        let mut last_log = String::new();
        for _ in 0..10 {
            let port = free_port();
            let mut child = broker_command(dir.path(), port, extra_settings).spawn().expect("spawn the broker");
            if wait_until_accepting(&mut child, port) {
                return BrokerProcess { child, port, _dir: dir };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
        }
        panic!("the broker did not start; its log:\n{last_log}");
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the broker has written to its log (stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("broker.log")).unwrap_or_default()
    }

    /// How the broker ended, if it has.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// The broker's resident memory now, in bytes (VmRSS).
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("proc status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS");
        kib * 1024
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the broker accepts connections on `port`; false if it exited
/// (e.g. the port was taken meanwhile) or did not come up in time.
pub fn wait_until_accepting(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if child.try_wait().expect("try_wait").is_some() {
            return false;
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// What a finished command did.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Run {
        assert!(self.status.success(), "command failed ({}): stderr:\n{}", self.status, self.stderr);
        self
    }

    /// Asserts a clean failure: exit code 1 and a last line `error: ...`
    /// containing `needle` (produce reports failed records before it).
    pub fn fails_with(self, needle: &str) -> Run {
        assert_eq!(self.status.code(), Some(1), "expected exit code 1; stderr:\n{}", self.stderr);
        let last = self.stderr.lines().last().unwrap_or_default();
        assert!(last.starts_with("error: "), "the last line does not start with 'error: ':\n{}", self.stderr);
        assert!(last.contains(needle), "the error lacks {needle:?}:\n{}", self.stderr);
        assert!(!self.stderr.contains("panicked"), "panic:\n{}", self.stderr);
        self
    }
}

/// A `corelog ARGS` process with piped stdin, stdout and stderr.
pub fn spawn_corelog(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn corelog")
}

/// Runs `corelog ARGS` with `stdin` as its input, with a time limit.
pub fn corelog(args: &[&str], stdin: &str) -> Run {
    let mut child = spawn_corelog(args);
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes()); // drops (closes) stdin after
    });
    let stdout = read_all(child.stdout.take().expect("stdout"));
    let stderr = read_all(child.stderr.take().expect("stderr"));
    let status = wait_with_limit(&mut child, args);
    writer.join().expect("stdin writer");
    let (stdout, stderr) = (stdout.join().expect("stdout reader"), stderr.join().expect("stderr reader"));
    Run { status, stdout, stderr }
}

/// Reads a pipe to its end on a thread.
pub fn read_all(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

pub fn wait_with_limit(child: &mut Child, args: &[&str]) -> ExitStatus {
    let deadline = Instant::now() + COMMAND_LIMIT;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("corelog {args:?} did not finish within {COMMAND_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
