//! The `corelog` binary end to end: a real `corelog broker` process on a free
//! loopback port with its data under target/ (O_DIRECT needs a real file
//! system), driven by the topic, produce and consume commands.

mod cli_support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;

use cli_support::*;

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn topics_produce_and_consume_through_the_cli() {
    let broker = BrokerProcess::start("");
    let bs = broker.bootstrap();
    let b = bs.as_str();

    // topic create / list / describe
    let run =
        corelog(&["topic", "create", "orders", "--partitions", "2", "--config", "retention.ms=86400000", "-b", b], "")
            .ok();
    assert!(run.stdout.contains("created topic \"orders\""), "{}", run.stdout);
    corelog(&["topic", "create", "events", "--bootstrap", b], "").ok();
    corelog(&["topic", "create", "orders", "-b", b], "").fails_with("already exists");
    corelog(&["topic", "create", "x", "--config", "no.such.key=1", "-b", b], "").fails_with("no.such.key");
    assert_eq!(lines(&corelog(&["topic", "list", "-b", b], "").ok().stdout), ["events", "orders"]);

    let described = corelog(&["topic", "describe", "orders", "-b", b], "").ok().stdout;
    assert!(described.contains("Partitions: 2"), "{described}");
    let partition_rows: Vec<&str> = described.lines().filter(|l| l.contains(&format!("{b} (node 0 core 0)"))).collect();
    assert_eq!(partition_rows.len(), 2, "{described}");
    // A one-node cluster: node 0 is every partition's only replica and in sync.
    assert!(partition_rows.iter().all(|l| l.split_whitespace().skip(6).take(3).eq(["0", "0", "0"])), "{described}");
    assert!(described.lines().any(|l| l.split_whitespace().eq(["retention.ms", "86400000", "topic"])), "{described}");
    assert!(described.lines().any(|l| l.split_whitespace().eq(["flush.policy", "always", "default"])), "{described}");

    // topic alter
    let args = ["topic", "alter", "orders", "--partitions", "3", "--config", "flush.policy=1000"];
    corelog(&[&args[..], &["--delete-config", "retention.ms", "-b", b]].concat(), "").ok();
    let described = corelog(&["topic", "describe", "orders", "-b", b], "").ok().stdout;
    assert!(described.contains("Partitions: 3"), "{described}");
    assert!(described.lines().any(|l| l.split_whitespace().eq(["flush.policy", "1000", "topic"])), "{described}");
    assert!(described.lines().any(|l| l.split_whitespace().eq(["retention.ms", "-1", "default"])), "{described}");
    corelog(&["topic", "alter", "orders", "--partitions", "1", "-b", b], "").fails_with("cannot be removed");
    corelog(&["topic", "alter", "orders", "-b", b], "").fails_with("nothing to alter");

    // produce keyed lines, consume them back exactly
    let input = "k1:first\nk2:second:with:colons\nno key here\nk4:\n";
    let run = corelog(&["produce", "--topic", "events", "--key-separator", ":", "-b", b], input).ok();
    assert!(run.stderr.contains("sent 4 records"), "{}", run.stderr);
    assert!(run.stderr.contains("0 failed"), "{}", run.stderr);
    let all = corelog(&["consume", "--topic", "events", "--from", "earliest", "--print-key", "-b", b], "").ok();
    assert_eq!(all.stdout, "k1\tfirst\nk2\tsecond:with:colons\n\tno key here\nk4\t\n");
    let values = corelog(&["consume", "--topic", "events", "-b", b], "").ok();
    assert_eq!(values.stdout, "first\nsecond:with:colons\nno key here\n\n");

    // --from offset:N, --max-messages, --print-offset with a separator
    let tail = corelog(&["consume", "--topic", "events", "--from", "offset:2", "--print-offset", "-b", b], "").ok();
    assert_eq!(tail.stdout, "2\tno key here\n3\t\n");
    let two = corelog(&["consume", "--topic", "events", "--max-messages", "2", "-b", b], "").ok();
    assert_eq!(two.stdout, "first\nsecond:with:colons\n");
    let sep = ["consume", "--topic", "events", "--print-key", "--key-separator", " => ", "--max-messages", "1"];
    assert_eq!(corelog(&[&sep[..], &["-b", b]].concat(), "").ok().stdout, "k1 => first\n");
    let latest = corelog(&["consume", "--topic", "events", "--from", "latest", "-b", b], "").ok();
    assert_eq!(latest.stdout, "");

    let past_end = corelog(&["consume", "--topic", "events", "--from", "offset:1000", "-b", b], "").ok();
    assert_eq!(past_end.stdout, "");

    // --follow gets records produced after it started
    let mut follower = Command::new(BIN)
        .args(["consume", "--topic", "events", "--follow", "--from", "offset:4", "--max-messages", "2", "-b", b])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the follower");
    corelog(&["produce", "--topic", "events", "-b", b], "late\nlater\n").ok();
    let (tx, rx) = mpsc::channel();
    let mut follower_out = follower.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = follower_out.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    let followed = rx.recv_timeout(COMMAND_LIMIT);
    let _ = follower.kill();
    assert_eq!(followed.expect("the follower stops after --max-messages"), "late\nlater\n");
    assert!(follower.wait().expect("wait").success());

    // keyed records over several partitions, an explicit partition, compression
    let keyed: String = (0..30).map(|i| format!("key-{i}\tvalue-{i}\n")).collect();
    let produce = ["produce", "-t", "orders", "--key-separator", "\\t", "--acks", "1", "--compression", "lz4"];
    corelog(&[&produce[..], &["--linger-ms", "1", "--batch-size", "4096", "-b", b]].concat(), &keyed).ok();
    let mut got = lines(&corelog(&["consume", "-t", "orders", "--print-key", "-b", b], "").ok().stdout)
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    got.sort();
    let mut want: Vec<String> = keyed.lines().map(str::to_owned).collect();
    want.sort();
    assert_eq!(got, want);
    corelog(&["produce", "-t", "orders", "--partition", "2", "-b", b], "p2\n").ok();
    let p2 = corelog(&["consume", "-t", "orders", "--partition", "2", "--print-partition", "-b", b], "").ok().stdout;
    assert_eq!(p2.lines().last(), Some("2\tp2"), "{p2}");
    let fire_and_forget = corelog(&["produce", "-t", "orders", "--acks", "0", "-b", b], "gone\n").ok();
    assert!(fire_and_forget.stderr.contains("sent 1 record"), "{}", fire_and_forget.stderr);

    // a closed stdout ends consume quietly, even when following an idle topic
    for follow in [false, true] {
        let mut args = vec!["consume", "-t", "orders", "--from", "earliest", "-b", b];
        if follow {
            args.push("--follow");
        }
        let mut child = Command::new(BIN).args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take());
        let status = wait_with_limit(&mut child, &args);
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert!(status.success(), "follow={follow}: {status}: {stderr}");
        assert!(!stderr.contains("error"), "{stderr}");
    }

    // errors that need a broker
    corelog(&["consume", "--topic", "nope", "-b", b], "").fails_with("unknown topic \"nope\"");
    corelog(&["produce", "--topic", "nope", "-b", b], "x\n").fails_with("unknown topic \"nope\"");
    corelog(&["consume", "--topic", "events", "--partition", "7", "-b", b], "").fails_with("no partition 7");
    corelog(&["produce", "--topic", "events", "--partition", "7", "-b", b], "x\n").fails_with("no partition 7");
    corelog(&["topic", "describe", "nope", "-b", b], "").fails_with("unknown topic");
    corelog(&["topic", "create", "tiny", "--config", "max.message.bytes=1024", "-b", b], "").ok();
    let big = format!("{}\n", "x".repeat(4000));
    let run = corelog(&["produce", "--topic", "tiny", "-b", b], &big).fails_with("1 of 1 records failed");
    assert!(run.stderr.contains("sent 1 record"), "{}", run.stderr);

    // topic delete
    let run = corelog(&["topic", "delete", "events", "-b", b], "").ok();
    assert!(run.stdout.contains("deleted topic \"events\""), "{}", run.stdout);
    assert_eq!(lines(&corelog(&["topic", "list", "-b", b], "").ok().stdout), ["orders", "tiny"]);
    corelog(&["topic", "delete", "events", "-b", b], "").fails_with("unknown topic");
    drop(broker);
}

#[test]
fn bad_input_gives_one_line_errors() {
    // Nothing listens on a port that was free a moment ago.
    let down = format!("127.0.0.1:{}", free_port());
    // (Retried for 200 ms, not the default 10 s: a restarting broker would be
    // waited for.)
    let quick = ["--reconnect-timeout-ms", "200"];
    for args in [
        vec!["topic", "list", "--bootstrap", &down],
        vec!["topic", "create", "t", "-b", &down],
        vec!["consume", "--topic", "t", "-b", &down],
    ] {
        let run = corelog(&[&args[..], &quick].concat(), "").fails_with(&format!("cannot connect to {down}: "));
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
    corelog(&["produce", "--topic", "t", "-b", &down, quick[0], quick[1]], "x\n")
        .fails_with(&format!("cannot connect to {down}"));

    let bad = [
        (vec!["consume", "--topic", "t", "--from", "yesterday"], "expected earliest, latest, offset:N or timestamp:MS"),
        (vec!["consume", "--topic", "t", "--from", "offset:-1"], "offset:-1"),
        (vec!["consume"], "--topic"),
        (vec!["produce", "--topic", "t", "--acks", "2"], "expected 0, 1 or all"),
        (vec!["produce", "--topic", "t", "--compression", "gzip"], "gzip"),
        (vec!["produce", "--topic", "t", "--key-separator", ""], "must not be empty"),
        (vec!["topic", "create", "t", "--partitions", "0"], "--partitions"),
        (vec!["topic", "create", "t", "--config", "retention.ms"], "expected key=value"),
        (vec!["topic", "list", "--bootstrap", "localhost"], "expected host:port"),
        (vec!["topic", "frobnicate"], "frobnicate"),
    ];
    for (args, needle) in bad {
        corelog(&args, "").fails_with(needle);
    }

    // --help everywhere, with descriptions
    for args in [
        vec!["--help"],
        vec!["topic", "--help"],
        vec!["topic", "create", "--help"],
        vec!["topic", "list", "--help"],
        vec!["topic", "describe", "--help"],
        vec!["topic", "delete", "--help"],
        vec!["topic", "alter", "--help"],
        vec!["produce", "--help"],
        vec!["consume", "--help"],
        vec!["broker", "--help"],
    ] {
        let run = corelog(&args, "").ok();
        assert!(run.stdout.contains("Usage: corelog"), "{args:?}: {}", run.stdout);
        assert!(run.stdout.lines().count() > 4, "{args:?}: {}", run.stdout);
    }
}

/// A damaged metadata.json fails the start at once, naming the file, instead
/// of leaving the cores never listening until a start timeout.
#[test]
fn a_truncated_metadata_file_fails_the_start_naming_it() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("metadata.json"), br#"{"version": 3, "topics": {"orders": {"#).unwrap();
    let config = dir.path().join("corelog.toml");
    std::fs::write(&config, "[broker]\nio_memory_bytes = 1048576\n").unwrap();
    let port = free_port().to_string();
    let (config, data) = (config.to_str().unwrap(), data.to_str().unwrap());
    let run = corelog(
        &["broker", "--config", config, "--data-dir", data, "--port", &port, "--cores", "1", "--kafka-port", "0"],
        "",
    );
    let run = run.fails_with("metadata.json");
    assert!(!run.stderr.contains("did not start listening"), "{}", run.stderr);
}

/// `produce --print-offsets` tells where each input line went: every line
/// once, and the consumer finds that line's value at that partition and offset.
#[test]
fn produce_reports_each_records_partition_and_offset() {
    let broker = BrokerProcess::start("");
    let bs = broker.bootstrap();
    let b = bs.as_str();
    corelog(&["topic", "create", "t", "--partitions", "3", "-b", b], "").ok();
    let input: String = (1..=50).map(|i| format!("key-{i}:value-{i}\n")).collect();
    let run = corelog(&["produce", "--topic", "t", "--key-separator", ":", "--print-offsets", "-b", b], &input).ok();
    let mut reports: Vec<(u64, u32, u64)> = run
        .stdout
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 3, "{l:?}");
            (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect();
    reports.sort_unstable();
    assert_eq!(reports.iter().map(|r| r.0).collect::<Vec<_>>(), (1..=50).collect::<Vec<u64>>());

    let consumed = corelog(
        &["consume", "--topic", "t", "--print-partition", "--print-offset", "--max-messages", "50", "-b", b],
        "",
    )
    .ok()
    .stdout;
    let stored: std::collections::BTreeMap<(u32, u64), String> = consumed
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            ((f[0].parse().unwrap(), f[1].parse().unwrap()), f[2].to_owned())
        })
        .collect();
    for (line, partition, offset) in reports {
        assert_eq!(stored.get(&(partition, offset)), Some(&format!("value-{line}")), "line {line}");
    }
}

#[test]
fn cluster_status_and_elect_leaders_on_a_one_node_cluster() {
    let broker = BrokerProcess::start("");
    let bs = broker.bootstrap();
    let b = bs.as_str();
    corelog(&["topic", "create", "orders", "--partitions", "2", "-b", b], "").ok();

    let status = corelog(&["cluster", "status", "-b", b], "").ok().stdout;
    assert!(status.starts_with("Controllers: 0\tLeader: 0\t"), "{status}");
    assert!(status.contains("Brokers: 1\tFenced: none"), "{status}");
    let row = lines(&status).into_iter().find(|l| l.starts_with("0 ")).unwrap_or_else(|| panic!("{status}"));
    assert!(row.contains(&format!("127.0.0.1:{}", broker.port())) && row.contains("active"), "{status}");

    let elected = corelog(&["cluster", "elect-leaders", "--topic", "orders", "-b", b], "").ok().stdout;
    let rows: Vec<Vec<&str>> = lines(&elected).iter().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows, vec![vec!["orders", "0", "0", "not", "needed"], vec!["orders", "1", "0", "not", "needed"]]);

    corelog(&["cluster", "elect-leaders", "--topic", "orders:7", "-b", b], "").fails_with("could not be elected");
    corelog(&["cluster", "elect-leaders", "--topic", "orders:x", "-b", b], "").fails_with("TOPIC or TOPIC:P");
}
