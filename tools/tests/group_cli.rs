//! Consumer groups through the `corelog` binary against a real broker
//! process: `consume --group` (shared partitions, commits, resuming where
//! the group left off), `group list|describe|delete|reset-offsets` (lag while
//! a producer runs ahead, a member's columns, the empty-group rules) and the
//! errors bad input gets.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_corelog");
/// Longest any one command may take before the test fails.
const COMMAND_LIMIT: Duration = Duration::from_secs(60);

/// A `corelog broker --cores 1` process with small group timeouts; killed on drop.
struct BrokerProcess {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl BrokerProcess {
    fn start() -> BrokerProcess {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
        let config = dir.path().join("corelog.toml");
        // Little io_uring memory (RLIMIT_MEMLOCK is small for most users);
        // groups form at once and accept short sessions.
        let toml = "[broker]\nio_memory_bytes = 1048576\noffsets_partitions = 2\n\
                    group_initial_rebalance_delay_ms = 0\ngroup_min_session_timeout_ms = 500\n";
        std::fs::write(&config, toml).expect("config");
        let mut last_log = String::new();
        for _ in 0..10 {
            let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
            let log_path = dir.path().join("broker.log");
            let log = std::fs::File::create(&log_path).expect("log file");
            let mut child = Command::new(BIN)
                .args(["broker", "--config"])
                .arg(&config)
                .arg("--data-dir")
                .arg(dir.path().join("data"))
                .args(["--port", &port.to_string(), "--cores", "1"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn the broker");
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline && child.try_wait().expect("try_wait").is_none() {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return BrokerProcess { child, port, _dir: dir };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
        }
        panic!("the broker did not start; its log:\n{last_log}");
    }

    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a finished command did.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Run {
        assert!(self.status.success(), "command failed ({}): stderr:\n{}", self.status, self.stderr);
        self
    }

    /// A clean failure: exit code 1 and a last line `error: ...` with `needle`.
    fn fails_with(self, needle: &str) -> Run {
        assert_eq!(self.status.code(), Some(1), "expected exit code 1; stderr:\n{}", self.stderr);
        let last = self.stderr.lines().last().unwrap_or_default();
        assert!(last.starts_with("error: "), "the last line does not start with 'error: ':\n{}", self.stderr);
        assert!(last.contains(needle), "the error lacks {needle:?}:\n{}", self.stderr);
        assert!(!self.stderr.contains("panicked"), "panic:\n{}", self.stderr);
        self
    }
}

/// Runs `corelog ARGS` with `stdin` as its input, with a time limit.
fn corelog(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn corelog");
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    let stdout = read_all(child.stdout.take().expect("stdout"));
    let stderr = read_all(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + COMMAND_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("corelog {args:?} did not finish within {COMMAND_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    writer.join().expect("stdin writer");
    Run { status, stdout: stdout.join().expect("stdout"), stderr: stderr.join().expect("stderr") }
}

fn read_all(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// `count` lines `key-{i}:{tag}-{i}` produced with keys.
fn produce(b: &str, tag: &str, range: std::ops::Range<usize>) {
    let input: String = range.map(|i| format!("key-{i}:{tag}-{i}\n")).collect();
    let run = corelog(&["produce", "--topic", "t", "--key-separator", ":", "-b", b], &input).ok();
    assert!(run.stderr.contains("0 failed"), "{}", run.stderr);
}

/// A partition's row of `group describe`.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    partition: u32,
    current: Option<u64>,
    end: u64,
    lag: Option<u64>,
    consumer: String,
    client: String,
}

/// `group describe`: the header line and the rows of topic `t`.
fn describe(b: &str, group: &str) -> (String, Vec<Row>) {
    let out = corelog(&["group", "describe", group, "-b", b], "").ok().stdout;
    let number = |s: &str| (s != "-").then(|| s.parse::<u64>().expect("a number"));
    let rows = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() == 9 && f[0] == group && f[1] == "t")
        .map(|f| Row {
            partition: f[2].parse().unwrap(),
            current: number(f[3]),
            end: number(f[4]).expect("a log end offset"),
            lag: number(f[5]),
            consumer: f[6].to_owned(),
            client: f[8].to_owned(),
        })
        .collect::<Vec<_>>();
    for r in &rows {
        assert_eq!(r.lag, r.current.map(|c| r.end - c), "lag = log end - committed:\n{out}");
    }
    (out.lines().next().unwrap_or_default().to_owned(), rows)
}

fn sum(rows: &[Row], f: impl Fn(&Row) -> Option<u64>) -> u64 {
    rows.iter().filter_map(f).sum()
}

/// The log end offsets of topic `t` per `topic describe`.
fn log_ends(b: &str) -> Vec<u64> {
    let out = corelog(&["topic", "describe", "t", "-b", b], "").ok().stdout;
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() >= 5 && f[0].parse::<u32>().is_ok() && f[f.len() - 1] == "ok")
        .map(|f| f[f.len() - 2].parse().expect("log end"))
        .collect()
}

/// Polls `cond` on fresh describes until it holds.
fn describe_until(b: &str, group: &str, what: &str, cond: impl Fn(&str, &[Row]) -> bool) -> Vec<Row> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (head, rows) = describe(b, group);
        if cond(&head, &rows) {
            return rows;
        }
        assert!(Instant::now() < deadline, "{what}: {head} {rows:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn consumer_groups_through_the_cli() {
    let broker = BrokerProcess::start();
    let bs = broker.bootstrap();
    let b = bs.as_str();
    corelog(&["topic", "create", "t", "--partitions", "2", "-b", b], "").ok();
    produce(b, "one", 0..100);

    // A member reads everything, commits, leaves; the next run has nothing.
    let first = corelog(&["consume", "--topic", "t", "--group", "g", "-b", b], "").ok();
    let mut values: Vec<&str> = first.stdout.lines().collect();
    values.sort_unstable();
    values.dedup();
    assert_eq!(values.len(), 100, "{}", first.stderr);
    let again = corelog(&["consume", "--topic", "t", "--group", "g", "-b", b], "").ok();
    assert_eq!(again.stdout, "", "committed records are not read again");
    // Another group reads everything too.
    let other = corelog(&["consume", "--topic", "t", "--group", "other", "--max-messages", "100", "-b", b], "").ok();
    assert_eq!(other.stdout.lines().count(), 100);

    let listed = corelog(&["group", "list", "-b", b], "").ok().stdout;
    assert_eq!(listed.lines().collect::<Vec<_>>(), ["g", "other"]);
    let listed = corelog(&["group", "list", "--state", "-b", b], "").ok().stdout;
    assert!(listed.lines().any(|l| l.split_whitespace().eq(["g", "Empty", "consumer"])), "{listed}");

    // Lag 0, then the producer runs ahead.
    let (head, rows) = describe(b, "g");
    assert!(head.contains("State: Empty"), "{head}");
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.lag == Some(0) && r.consumer == "-"), "{rows:?}");
    produce(b, "two", 100..130);
    let (_, rows) = describe(b, "g");
    assert_eq!(sum(&rows, |r| r.current), 100);
    assert_eq!(sum(&rows, |r| r.lag), 30);
    assert_eq!(rows.iter().map(|r| r.end).collect::<Vec<_>>(), log_ends(b));

    // --max-messages: only what was printed is committed.
    let some = corelog(&["consume", "--topic", "t", "--group", "g", "--max-messages", "10", "-b", b], "").ok();
    assert_eq!(some.stdout.lines().count(), 10);
    let (_, rows) = describe(b, "g");
    assert_eq!((sum(&rows, |r| r.current), sum(&rows, |r| r.lag)), (110, 20));

    // An active member: describe shows it; reset and delete are refused.
    let mut member = Command::new(BIN)
        .args(["consume", "--topic", "t", "--group", "g", "--follow", "--session-timeout-ms", "3000", "-b", b])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn a member");
    let (tx, rx) = mpsc::channel();
    let stdout = member.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr = read_all(member.stderr.take().expect("stderr"));
    let mut followed = Vec::new();
    while followed.len() < 20 {
        followed.push(rx.recv_timeout(Duration::from_secs(30)).expect("the member prints the uncommitted 20"));
    }
    produce(b, "three", 130..135);
    for _ in 0..5 {
        followed.push(rx.recv_timeout(Duration::from_secs(30)).expect("the member follows"));
    }
    let rows = describe_until(b, "g", "the member commits", |head, rows| {
        head.contains("State: Stable") && sum(rows, |r| r.lag) == 0 && sum(rows, |r| r.current) == 135
    });
    assert!(rows.iter().all(|r| r.consumer.starts_with("corelog-cli-") && r.client == "corelog-cli"), "{rows:?}");
    corelog(&["group", "reset-offsets", "g", "--topic", "t", "--to-earliest", "--execute", "-b", b], "")
        .fails_with("1 active member");
    corelog(&["group", "delete", "g", "-b", b], "").fails_with("has members");
    let _ = Command::new("kill").arg("-TERM").arg(member.id().to_string()).status();
    let deadline = Instant::now() + COMMAND_LIMIT;
    let status = loop {
        if let Some(status) = member.try_wait().expect("try_wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the member did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = stderr.join().unwrap();
    assert!(status.success(), "the member exits cleanly on SIGTERM ({status}): {stderr}");
    assert_eq!(followed.len(), 25);
    let (head, rows) = describe(b, "g");
    assert!(head.contains("State: Empty") && head.contains("Members: 0"), "the member left: {head}");
    assert_eq!(sum(&rows, |r| r.lag), 0);

    // reset-offsets: a dry run changes nothing; --execute does.
    let plan = corelog(&["group", "reset-offsets", "g", "--topic", "t", "--to-earliest", "-b", b], "").ok().stdout;
    assert!(plan.contains("NEW-OFFSET") && plan.contains("dry run"), "{plan}");
    assert_eq!(sum(&describe(b, "g").1, |r| r.lag), 0);
    let done =
        corelog(&["group", "reset-offsets", "g", "--topic", "t", "--to-earliest", "--execute", "-b", b], "").ok();
    assert!(done.stdout.contains("reset the offsets of 2 partitions"), "{}", done.stdout);
    let (_, rows) = describe(b, "g");
    assert!(rows.iter().all(|r| r.current == Some(0) && r.lag == Some(r.end)), "{rows:?}");
    corelog(&["group", "reset-offsets", "g", "--topic", "t:1", "--to-offset", "3", "--execute", "-b", b], "").ok();
    let (_, rows) = describe(b, "g");
    assert_eq!(rows.iter().map(|r| r.current).collect::<Vec<_>>(), [Some(0), Some(3)]);
    corelog(&["group", "reset-offsets", "g", "--all-topics", "--to-latest", "--execute", "-b", b], "").ok();
    assert_eq!(sum(&describe(b, "g").1, |r| r.lag), 0);
    let future = chrono_free_now_ms() + 60_000;
    let at = future.to_string();
    corelog(&["group", "reset-offsets", "g", "--topic", "t", "--to-datetime", &at, "--execute", "-b", b], "").ok();
    assert_eq!(sum(&describe(b, "g").1, |r| r.lag), 0, "a time past every record means the end");

    // delete
    assert!(corelog(&["group", "delete", "g", "-b", b], "").ok().stdout.contains("deleted group \"g\""));
    assert_eq!(corelog(&["group", "list", "-b", b], "").ok().stdout, "other\n");
    corelog(&["group", "describe", "g", "-b", b], "").fails_with("does not exist");
    corelog(&["group", "delete", "g", "-b", b], "").fails_with("does not exist");

    // Bad input.
    corelog(&["consume", "--topic", "t", "--group", "g", "--assignor", "bogus", "-b", b], "")
        .fails_with("unknown assignor");
    corelog(&["consume", "--topic", "t", "--group", "g", "--from", "offset:3", "-b", b], "")
        .fails_with("cannot be used with --group");
    corelog(&["consume", "--topic", "t", "--group", "g", "--partition", "0", "-b", b], "").fails_with("cannot be used");
    corelog(&["consume", "--topic", "nope", "--group", "g", "-b", b], "").fails_with("unknown topic");
    corelog(&["group", "reset-offsets", "g", "--topic", "t", "-b", b], "").fails_with("required");
    corelog(&["group", "reset-offsets", "g", "--topic", "t:9", "--to-latest", "-b", b], "")
        .fails_with("no partition 9");
}

fn chrono_free_now_ms() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_millis()
}
