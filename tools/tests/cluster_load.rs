//! Three `corelog broker` processes under a steady acks=all produce: the
//! leader of partition 0 is killed with SIGKILL in the middle and restarted
//! once a new leader is up; every acknowledged record is read back at its
//! acknowledged (partition, offset), and, the producer being idempotent,
//! no record is stored twice.

mod cluster_support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use cluster_support::cluster::{parse_reports, TestCluster, BIN};

const LINES: usize = 20_000;
/// The writer pauses this long after every `PACE_EVERY` lines, so the
/// produce is a stream over seconds rather than one burst.
const PACE: Duration = Duration::from_millis(2);
const PACE_EVERY: usize = 20;
/// Lines written before the kill.
const KILL_AFTER: usize = LINES / 4;

#[test]
fn killing_a_leader_under_steady_load_keeps_every_acknowledged_record_in_place() {
    let mut cluster = TestCluster::start(3, "");
    cluster.corelog(&["topic", "create", "load", "-p", "3", "-r", "3"]).expect("create the topic");
    cluster.wait_until("every partition has 3 in-sync replicas", |c| {
        c.describe("load").is_some_and(|ps| ps.len() == 3 && ps.iter().all(|p| p.isr.len() == 3 && p.leader.is_some()))
    });
    let lines: Vec<String> = (0..LINES).map(|i| format!("k{i}:v{i}")).collect();

    let mut child = Command::new(BIN)
        .args(["produce", "--topic", "load", "--key-separator", ":", "--print-offsets", "--idempotent"])
        .args(["-b", &cluster.bootstrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn produce");
    let written = Arc::new(AtomicUsize::new(0));
    // The writer holds the last quarter back until the failover is over,
    // so the produce spans all of it however fast the cluster is.
    let (failover_done, await_failover) = mpsc::channel::<()>();
    let writer = {
        let mut stdin = child.stdin.take().expect("stdin");
        let lines = lines.clone();
        let written = written.clone();
        std::thread::spawn(move || {
            for (i, line) in lines.iter().enumerate() {
                if i == LINES * 3 / 4 {
                    let _ = await_failover.recv();
                }
                stdin.write_all(format!("{line}\n").as_bytes()).expect("write a line");
                written.store(i + 1, Ordering::SeqCst);
                if i % PACE_EVERY == 0 {
                    stdin.flush().expect("flush");
                    std::thread::sleep(PACE);
                }
            }
        })
    };
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let reports = std::thread::spawn(move || {
        let mut all = String::new();
        let mut line = String::new();
        while stdout.read_line(&mut line).expect("read reports") > 0 {
            all.push_str(&line);
            line.clear();
        }
        all
    });
    let mut stderr_pipe = child.stderr.take().expect("stderr");
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr_pipe.read_to_string(&mut s);
        s
    });

    let before = cluster.describe("load").expect("describe").into_iter().find(|p| p.partition == 0).expect("p0");
    let leader = before.leader.expect("a leader");
    cluster.wait_until("a quarter of the lines written", |_| written.load(Ordering::SeqCst) >= KILL_AFTER);
    cluster.kill(leader);
    cluster.wait_until("partition 0 has a new leader at a new epoch", |c| {
        c.describe("load").is_some_and(|ps| {
            ps.iter().any(|p| p.partition == 0 && p.leader.is_some_and(|l| l != leader) && p.epoch > before.epoch)
        })
    });
    cluster.restart(leader);
    cluster.wait_until("the restarted broker is back", |c| c.live_brokers() == Some(3));
    failover_done.send(()).expect("the writer waits");
    writer.join().expect("writer");
    let status = child.wait().expect("produce");
    let reports = reports.join().expect("reports");
    let stderr = stderr.join().expect("stderr");
    eprintln!("produce: {status}; {}", stderr.lines().last().unwrap_or_default());
    let acked = parse_reports(&reports, &lines);
    assert!(acked.len() > LINES / 2, "most records acknowledged across one failover: {}\n{stderr}", acked.len());

    cluster.wait_until("every partition back to 3 in-sync replicas", |c| {
        c.describe("load").is_some_and(|ps| ps.iter().all(|p| p.isr.len() == 3))
    });
    let stored = cluster.consume_at(&cluster.bootstrap(), "load").expect("consume");
    for (line, at) in &acked {
        assert_eq!(stored.get(at), Some(line), "acknowledged {line} at its reported {at:?}");
    }
    for partition in 0..3u32 {
        let offsets: Vec<u64> = stored.keys().filter(|(p, _)| *p == partition).map(|(_, o)| *o).collect();
        assert_eq!(offsets, (0..offsets.len() as u64).collect::<Vec<_>>(), "dense offsets in partition {partition}");
    }
    // The producer is idempotent: a batch retried after its answer died
    // with the leader is stored once.
    let mut copies: BTreeMap<&str, usize> = BTreeMap::new();
    for line in stored.values() {
        *copies.entry(line.as_str()).or_default() += 1;
    }
    let duplicated: Vec<(&str, usize)> =
        acked.keys().filter_map(|l| copies.get(l.as_str()).filter(|n| **n > 1).map(|n| (l.as_str(), *n))).collect();
    let unacked_stored = copies.keys().filter(|l| !acked.contains_key(**l)).count();
    eprintln!(
        "{} acknowledged of {LINES}; {} stored; {} acknowledged records stored more than once{}; {unacked_stored} \
         unacknowledged stored",
        acked.len(),
        stored.len(),
        duplicated.len(),
        if duplicated.is_empty() {
            String::new()
        } else {
            format!(" (first: {:?})", &duplicated[..duplicated.len().min(5)])
        },
    );
    assert!(duplicated.is_empty(), "acknowledged records stored twice: {:?}", &duplicated[..duplicated.len().min(5)]);
    let all_copies: Vec<(&&str, &usize)> = copies.iter().filter(|(_, n)| **n > 1).collect();
    assert!(all_copies.is_empty(), "records stored twice: {:?}", &all_copies[..all_copies.len().min(5)]);
}
