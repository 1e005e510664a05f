//! Restarting right after kill -9, through the real binaries: a consumer
//! started before the broker is back waits for it instead of failing on the
//! first refused connection, and a broker whose port is still held retries
//! the bind.

mod cli_support;
mod support;

use std::time::Duration;

use cli_support::{broker_command, corelog, free_port, read_all, spawn_corelog, wait_until_accepting, wait_with_limit};
use support::BrokerProc;

#[test]
fn a_consumer_started_while_the_broker_restarts_waits_for_it() {
    let dir = support::data_dir();
    let mut broker = BrokerProc::start("restart", dir.path(), 1, false);
    let b = format!("127.0.0.1:{}", broker.port);
    corelog(&["topic", "create", "t", "-b", &b], "").ok();
    let input: String = (0..100).map(|i| format!("v{i}\n")).collect();
    corelog(&["produce", "--topic", "t", "-b", &b], &input).ok();
    broker.kill();

    let args = ["consume", "--topic", "t", "--from", "earliest", "--max-messages", "100", "-b", b.as_str()];
    let mut consumer = spawn_corelog(&args);
    let (stdout, stderr) = (read_all(consumer.stdout.take().unwrap()), read_all(consumer.stderr.take().unwrap()));
    // Its first connection attempts are refused: nothing listens yet.
    std::thread::sleep(Duration::from_millis(500));
    assert!(consumer.try_wait().unwrap().is_none(), "the consumer gave up before the broker was back");
    broker.restart();
    let status = wait_with_limit(&mut consumer, &args);
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(status.success(), "consumer failed ({status}):\n{stderr}");
    let expected: Vec<String> = (0..100).map(|i| format!("v{i}")).collect();
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected, "stderr:\n{stderr}");
}

#[test]
fn a_broker_whose_port_is_still_held_retries_the_bind() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let port = free_port();
    // Stands in for the previous broker process, not yet gone.
    let holder = std::net::TcpListener::bind(("127.0.0.1", port)).expect("hold the port");
    let log_path = dir.path().join("broker.log");
    let mut broker = broker_command(dir.path(), port, "").spawn().expect("spawn the broker");
    std::thread::sleep(Duration::from_millis(700));
    assert!(broker.try_wait().unwrap().is_none(), "{}", std::fs::read_to_string(&log_path).unwrap());
    drop(holder);
    assert!(wait_until_accepting(&mut broker, port), "{}", std::fs::read_to_string(&log_path).unwrap());
    corelog(&["topic", "create", "t", "-b", &format!("127.0.0.1:{port}")], "").ok();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("address in use"), "{log}");
    let _ = broker.kill();
    let _ = broker.wait();
}
