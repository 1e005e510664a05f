//! The cluster tests' fault proxy against a small echo server on 127.0.0.1:
//! pass-through, delay, black holes one way and both ways, cut, counters,
//! back-pressure and stopping.
//!
//! Timing is only ever asserted from below (at least the delay): the machine
//! is shared and noisy.

mod cluster_support;

use cluster_support::proxy::{
    Direction, Fault, FaultProxy, MAX_BUFFERED_BYTES_PER_DIRECTION, MAX_CONNECTIONS, MAX_DELAY,
};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long a read waits before the test concludes that nothing comes.
const SILENCE: Duration = Duration::from_millis(300);
/// How long a test waits for something that must happen.
const DEADLINE: Duration = Duration::from_secs(10);

/// What the test server does with a connection.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Sends back every byte it reads.
    Echo,
    /// Never reads: a stalled peer.
    Silent,
}

/// A server on 127.0.0.1 with its own accept thread and one thread per echo
/// connection; all stop when it is dropped.
struct Server {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    connections: Arc<AtomicU64>,
    received: Arc<AtomicU64>,
    /// Clones of the accepted sockets, to shut them down on drop.
    streams: Arc<Mutex<Vec<TcpStream>>>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    fn start(mode: Mode) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stopping = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicU64::new(0));
        let received = Arc::new(AtomicU64::new(0));
        let streams: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let threads: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let acceptor = {
            let (stopping, connections, received) = (stopping.clone(), connections.clone(), received.clone());
            let (streams, threads) = (streams.clone(), threads.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    connections.fetch_add(1, Ordering::SeqCst);
                    streams.lock().unwrap().push(stream.try_clone().expect("clone"));
                    if mode == Mode::Echo {
                        let received = received.clone();
                        threads.lock().unwrap().push(thread::spawn(move || echo(stream, &received)));
                    }
                }
            })
        };
        Server { addr, stopping, connections, received, streams, threads, acceptor: Some(acceptor) }
    }

    fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }
}

fn echo(mut stream: TcpStream, received: &AtomicU64) {
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                received.fetch_add(n as u64, Ordering::SeqCst);
                if stream.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    // The server's clone of the socket keeps it open: close it explicitly.
    let _ = stream.shutdown(Shutdown::Both);
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for stream in self.streams.lock().unwrap().iter() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        for thread in self.threads.lock().unwrap().drain(..) {
            let _ = thread.join();
        }
    }
}

fn connect(proxy: &FaultProxy) -> TcpStream {
    let stream = TcpStream::connect(proxy.local_addr()).expect("connect to the proxy");
    stream.set_read_timeout(Some(DEADLINE)).expect("read timeout");
    stream
}

/// Sends `message` and reads back as many bytes.
fn round_trip(stream: &mut TcpStream, message: &[u8]) -> Vec<u8> {
    stream.write_all(message).expect("write");
    let mut reply = vec![0u8; message.len()];
    stream.read_exact(&mut reply).expect("reply");
    reply
}

/// Waits until `condition` holds; panics after `DEADLINE`.
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

/// Asserts that nothing arrives on `stream` within `SILENCE` and that the
/// connection is still up.
fn assert_silent(stream: &mut TcpStream) {
    stream.set_read_timeout(Some(SILENCE)).expect("read timeout");
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
        Ok(0) => panic!("the connection was closed; a black hole keeps it up"),
        Ok(n) => panic!("{n} bytes came through a black hole: {:?}", &buf[..n]),
        Err(e) => panic!("the connection failed: {e}"),
    }
    stream.set_read_timeout(Some(DEADLINE)).expect("read timeout");
}

/// Asserts that `stream` is closed: a read returns end of file or an error
/// other than a timeout.
fn assert_closed(stream: &mut TcpStream) {
    stream.set_read_timeout(Some(DEADLINE)).expect("read timeout");
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("{n} bytes on a connection that should be closed"),
        Err(e) => assert!(
            !matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut),
            "the connection stayed open"
        ),
    }
}

#[test]
fn pass_through_echoes_and_counts() {
    let server = Server::start(Mode::Echo);
    let proxy = FaultProxy::start(server.addr).unwrap();
    assert_eq!(proxy.target(), server.addr);
    assert_eq!(proxy.fault(Direction::ToTarget), Fault::Pass);
    let mut first = connect(&proxy);
    let mut second = connect(&proxy);
    assert_eq!(round_trip(&mut first, b"hello proxy"), b"hello proxy");
    assert_eq!(round_trip(&mut second, b"again"), b"again");
    assert_eq!(round_trip(&mut first, b"!"), b"!");

    wait_until("the counters count every byte", || {
        proxy.bytes_forwarded(Direction::ToTarget) == 17 && proxy.bytes_forwarded(Direction::ToClient) == 17
    });
    assert_eq!(server.received(), 17);
    assert_eq!(proxy.connections_accepted(), 2);
    assert_eq!(server.connections(), 2);
    assert_eq!(proxy.connections_open(), 2);
    assert_eq!(proxy.connections_refused(), 0);
    assert_eq!(proxy.bytes_dropped(Direction::ToTarget) + proxy.bytes_dropped(Direction::ToClient), 0);

    // A client's close travels to the server, whose close travels back: the
    // connection then leaves the proxy.
    drop(first);
    wait_until("the closed connection is gone", || proxy.connections_open() == 1);
    second.shutdown(Shutdown::Write).unwrap();
    assert_closed(&mut second);
    wait_until("both connections are gone", || proxy.connections_open() == 0);
    assert!(proxy.stop(), "every proxy thread ends");
}

#[test]
fn large_transfer_arrives_whole_and_in_order() {
    const TOTAL: usize = 8 * MAX_BUFFERED_BYTES_PER_DIRECTION + 12_345;
    let server = Server::start(Mode::Echo);
    let proxy = FaultProxy::start(server.addr).unwrap();
    let stream = connect(&proxy);
    let payload: Vec<u8> = (0..TOTAL).map(|i| (i * 7 % 251) as u8).collect();
    let writer = {
        let (mut stream, payload) = (stream.try_clone().unwrap(), payload.clone());
        thread::spawn(move || stream.write_all(&payload).unwrap())
    };
    let mut echoed = vec![0u8; TOTAL];
    (&stream).read_exact(&mut echoed).unwrap();
    writer.join().unwrap();
    assert!(echoed == payload, "the echo differs from what was sent");
    wait_until("every byte is counted", || proxy.bytes_forwarded(Direction::ToClient) == TOTAL as u64);
    assert_eq!(proxy.bytes_forwarded(Direction::ToTarget), TOTAL as u64);
}

#[test]
fn delay_adds_at_least_the_delay_each_way() {
    const DELAY: Duration = Duration::from_millis(150);
    let server = Server::start(Mode::Echo);
    let proxy = FaultProxy::start(server.addr).unwrap();
    let mut stream = connect(&proxy);
    assert_eq!(round_trip(&mut stream, b"warm"), b"warm");

    proxy.delay(DELAY);
    let start = Instant::now();
    assert_eq!(round_trip(&mut stream, b"both ways"), b"both ways");
    let elapsed = start.elapsed();
    assert!(elapsed >= 2 * DELAY, "a round trip through a delay both ways took {elapsed:?}");

    proxy.set_fault(Direction::ToTarget, Fault::Pass);
    assert_eq!(proxy.fault(Direction::ToClient), Fault::Delay(DELAY));
    let start = Instant::now();
    assert_eq!(round_trip(&mut stream, b"one way"), b"one way");
    let elapsed = start.elapsed();
    assert!(elapsed >= DELAY, "a round trip through a one-way delay took {elapsed:?}");

    proxy.pass();
    assert_eq!(round_trip(&mut stream, b"passed"), b"passed");
}

#[test]
fn delay_keeps_order_when_it_shrinks() {
    let server = Server::start(Mode::Echo);
    let proxy = FaultProxy::start(server.addr).unwrap();
    let mut stream = connect(&proxy);
    proxy.set_fault(Direction::ToTarget, Fault::Delay(Duration::from_millis(400)));
    stream.write_all(b"first,").unwrap();
    wait_until("the first message is in the proxy", || proxy.bytes_held(Direction::ToTarget) == 6);
    // A later message with a shorter delay must not overtake the first.
    proxy.set_fault(Direction::ToTarget, Fault::Delay(Duration::from_millis(1)));
    stream.write_all(b"second").unwrap();
    let mut reply = [0u8; 12];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"first,second");
}

#[test]
fn black_hole_to_client_lets_requests_in_and_no_reply_out_until_healed() {
    let server = Server::start(Mode::Echo);
    let proxy = FaultProxy::start(server.addr).unwrap();
    let mut stream = connect(&proxy);
    assert_eq!(round_trip(&mut stream, b"before"), b"before");

    proxy.set_fault(Direction::ToClient, Fault::DropBytes);
    assert_eq!(proxy.fault(Direction::ToTarget), Fault::Pass);
    stream.write_all(b"ping").unwrap();
    wait_until("the server has the request", || server.received() == 10);
    wait_until("the reply is dropped", || proxy.bytes_dropped(Direction::ToClient) == 4);
    assert_silent(&mut stream);

    proxy.heal();
    assert_eq!(proxy.fault(Direction::ToClient), Fault::Pass);
    // The dropped "ping" reply never comes: the next bytes are the new reply.
    assert_eq!(round_trip(&mut stream, b"pong"), b"pong");
    assert_eq!(proxy.connections_accepted(), 1);
    assert_eq!(server.connections(), 1);
}

#[test]
fn black_hole_both_ways_keeps_the_connection_up_and_reaches_nobody() {
    let server = Server::start(Mode::Echo);
    let proxy = FaultProxy::start(server.addr).unwrap();
    let mut stream = connect(&proxy);
    assert_eq!(round_trip(&mut stream, b"up"), b"up");

    proxy.drop_bytes();
    stream.write_all(b"lost").unwrap();
    wait_until("the request is dropped", || proxy.bytes_dropped(Direction::ToTarget) == 4);
    assert_silent(&mut stream);
    assert_eq!(server.received(), 2, "nothing got through to the server");

    proxy.heal();
    assert_eq!(round_trip(&mut stream, b"found"), b"found");
    assert_eq!(server.received(), 7);
    wait_until("the forwarded bytes are counted", || proxy.bytes_forwarded(Direction::ToTarget) == 7);
}

#[test]
fn black_hole_swallows_bytes_already_in_flight() {
    let server = Server::start(Mode::Echo);
    let proxy = FaultProxy::start(server.addr).unwrap();
    let mut stream = connect(&proxy);
    proxy.set_fault(Direction::ToTarget, Fault::Delay(Duration::from_secs(5)));
    stream.write_all(b"in flight").unwrap();
    wait_until("the bytes are in the proxy", || proxy.bytes_held(Direction::ToTarget) == 9);

    proxy.set_fault(Direction::ToTarget, Fault::DropBytes);
    wait_until("the delayed bytes are dropped", || proxy.bytes_dropped(Direction::ToTarget) == 9);
    assert_eq!(proxy.bytes_held(Direction::ToTarget), 0);
    proxy.heal();
    assert_eq!(round_trip(&mut stream, b"after"), b"after");
    assert_eq!(server.received(), 5, "the dropped bytes never reached the server");
}

#[test]
fn close_during_a_black_hole_is_held_until_healed() {
    let server = Server::start(Mode::Echo);
    let proxy = FaultProxy::start(server.addr).unwrap();
    let mut stream = connect(&proxy);
    assert_eq!(round_trip(&mut stream, b"x"), b"x");

    proxy.set_fault(Direction::ToTarget, Fault::DropBytes);
    stream.shutdown(Shutdown::Write).unwrap();
    // The server would echo the close back at once; it has not seen it.
    assert_silent(&mut stream);
    assert_eq!(proxy.connections_open(), 1);

    proxy.heal();
    assert_closed(&mut stream);
    wait_until("the connection is gone", || proxy.connections_open() == 0);
}

#[test]
fn cut_closes_connections_and_refuses_new_ones_until_pass() {
    let server = Server::start(Mode::Echo);
    let proxy = FaultProxy::start(server.addr).unwrap();
    let mut stream = connect(&proxy);
    assert_eq!(round_trip(&mut stream, b"alive"), b"alive");

    proxy.cut();
    assert!(proxy.is_cut());
    assert_closed(&mut stream);
    wait_until("the cut connection is gone", || proxy.connections_open() == 0);

    // A new connection may complete its handshake in the kernel, but it is
    // closed without reaching the target.
    if let Ok(mut refused) = TcpStream::connect(proxy.local_addr()) {
        assert_closed(&mut refused);
        wait_until("the proxy counts the refusal", || proxy.connections_refused() == 1);
    }
    assert_eq!(server.connections(), 1);
    assert_eq!(proxy.connections_accepted(), 1);

    proxy.pass();
    assert!(!proxy.is_cut());
    let mut again = connect(&proxy);
    assert_eq!(round_trip(&mut again, b"back"), b"back");
    assert_eq!(server.connections(), 2);
    assert_eq!(proxy.connections_accepted(), 2);
}

#[test]
fn stalled_target_applies_back_pressure_and_stop_still_ends_every_thread() {
    const WRITE_LIMIT: usize = 1 << 30;
    let server = Server::start(Mode::Silent);
    let proxy = FaultProxy::start(server.addr).unwrap();
    let mut stream = connect(&proxy);
    stream.set_write_timeout(Some(SILENCE)).unwrap();
    let chunk = vec![0xa5u8; 64 * 1024];
    let mut written = 0usize;
    let blocked = loop {
        match stream.write(&chunk) {
            Ok(n) => written += n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => break true,
            Err(e) => panic!("write failed: {e}"),
        }
        if written >= WRITE_LIMIT {
            break false;
        }
    };
    assert!(blocked, "{written} bytes went into a stalled target without blocking");
    let held = proxy.bytes_held(Direction::ToTarget);
    assert!(
        held <= MAX_BUFFERED_BYTES_PER_DIRECTION as u64,
        "the proxy holds {held} bytes, above its bound of {MAX_BUFFERED_BYTES_PER_DIRECTION}"
    );
    assert!(proxy.bytes_forwarded(Direction::ToTarget) <= written as u64);

    // The writer is blocked on the stalled socket and the reader on the full
    // queue: stopping must still end both.
    assert!(proxy.stop(), "every proxy thread ends");
    assert_closed(&mut stream);
}

#[test]
fn connections_beyond_the_limit_are_closed_at_once() {
    let server = Server::start(Mode::Echo);
    let proxy = FaultProxy::start(server.addr).unwrap();
    let mut streams: Vec<TcpStream> = (0..MAX_CONNECTIONS).map(|_| connect(&proxy)).collect();
    for stream in &mut streams {
        assert_eq!(round_trip(stream, b"in"), b"in");
    }
    assert_eq!(proxy.connections_open(), MAX_CONNECTIONS);

    if let Ok(mut over) = TcpStream::connect(proxy.local_addr()) {
        assert_closed(&mut over);
    }
    wait_until("the proxy counts the refusal", || proxy.connections_refused() == 1);
    assert_eq!(server.connections(), MAX_CONNECTIONS as u64);

    drop(streams.pop());
    wait_until("a slot is free", || proxy.connections_open() == MAX_CONNECTIONS - 1);
    let mut next = connect(&proxy);
    assert_eq!(round_trip(&mut next, b"next"), b"next");
    assert_eq!(proxy.connections_accepted(), MAX_CONNECTIONS as u64 + 1);
}

#[test]
#[should_panic(expected = "above")]
fn a_delay_above_the_limit_is_a_test_bug() {
    let server = Server::start(Mode::Echo);
    let proxy = FaultProxy::start(server.addr).unwrap();
    proxy.delay(MAX_DELAY + Duration::from_millis(1));
}
