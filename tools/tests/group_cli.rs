//! Consumer groups through the `corelog` binary against a real broker
//! process: `consume --group` (shared partitions, commits, resuming where
//! the group left off), `group list|describe|delete|reset-offsets` (lag while
//! a producer runs ahead, a member's columns, the empty-group rules) and the
//! errors bad input gets.

mod cli_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cli_support::*;

/// Groups form at once and accept short sessions.
const GROUP_SETTINGS: &str =
    "offsets_partitions = 2\ngroup_initial_rebalance_delay_ms = 0\ngroup_min_session_timeout_ms = 500\n";

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
    let broker = BrokerProcess::start(GROUP_SETTINGS);
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

/// Looking at groups on a broker that never served one creates nothing:
/// `__consumer_offsets` appears only with the first group that forms.
#[test]
fn read_only_group_commands_create_no_offsets_topic() {
    let broker = BrokerProcess::start(GROUP_SETTINGS);
    let bs = broker.bootstrap();
    let b = bs.as_str();
    corelog(&["group", "describe", "nosuchgroup", "-b", b], "").fails_with("does not exist");
    corelog(&["group", "delete", "nosuchgroup", "-b", b], "").fails_with("does not exist");
    assert_eq!(corelog(&["group", "list", "-b", b], "").ok().stdout, "");
    corelog(&["topic", "describe", "__consumer_offsets", "-b", b], "").fails_with("__consumer_offsets");
    // The first group that forms creates it.
    corelog(&["topic", "create", "t", "-b", b], "").ok();
    produce(b, "one", 0..3);
    corelog(&["consume", "--topic", "t", "--group", "g", "-b", b], "").ok();
    corelog(&["topic", "describe", "__consumer_offsets", "-b", b], "").ok();
    assert!(corelog(&["group", "list", "-b", b], "").ok().stdout.contains('g'));
}
