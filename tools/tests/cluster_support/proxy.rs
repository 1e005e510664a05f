//! A fault-injecting TCP proxy for the cluster tests.
//!
//! The machine has no `tc netem`, so a link between two brokers is cut,
//! delayed or black-holed by placing a [`FaultProxy`] on it: the dialing side
//! connects to the proxy's `local_addr()` instead of the peer, and the test
//! changes the link's faults at any time through the handle.
//!
//! Shape: one acceptor thread per proxy and, per forwarded connection, a
//! reader and a writer thread per direction joined by a bounded queue of
//! segments. The reader stamps each segment with its arrival time; the writer
//! applies the fault in force when the segment reaches the head of the queue,
//! so a fault change also affects bytes already in flight (like packets in the
//! network) and order is kept. A stalled destination stalls its writer, the
//! full queue stalls the reader, and the source's TCP window closes: back-
//! pressure instead of memory growth.
//!
//! Stopping never relies on timeouts: shutting a socket down wakes a thread
//! blocked on it, every fault change and every teardown wakes the writers
//! waiting on the condition variable, and a connection to the listener wakes
//! the acceptor.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Largest read from one socket, so the largest queued segment.
pub const SEGMENT_BYTES: usize = 16 * 1024;
/// Segments queued between the reader and the writer of one direction.
pub const QUEUE_SEGMENTS: usize = 32;
/// Bytes one direction of one connection holds: the queue plus the segment
/// in the reader's hands and the one in the writer's.
pub const MAX_BUFFERED_BYTES_PER_DIRECTION: usize = (QUEUE_SEGMENTS + 2) * SEGMENT_BYTES;
/// Connections forwarded at once; more are accepted and closed at once.
pub const MAX_CONNECTIONS: usize = 64;
/// Bytes one proxy may hold in all its queues.
pub const MAX_BUFFERED_BYTES: usize = 96 * 1024 * 1024;
const _: () = assert!(MAX_CONNECTIONS * 2 * MAX_BUFFERED_BYTES_PER_DIRECTION <= MAX_BUFFERED_BYTES);
/// Longest delay a test may ask for (longer is a test bug).
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// How long the acceptor waits for the target to accept (loopback answers
/// at once; a target that is down refuses at once).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Pause after a failed accept (fd exhaustion), so the acceptor never spins.
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(10);
/// How long stopping waits for the threads before detaching them.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);
// The acceptor may be inside a connect to the target when the proxy stops.
const _: () = assert!(CONNECT_TIMEOUT.as_millis() < STOP_TIMEOUT.as_millis());
/// Stack of every proxy thread: they only copy bytes.
pub const THREAD_STACK_BYTES: usize = 256 * 1024;
const _: () = assert!(THREAD_STACK_BYTES >= 4 * SEGMENT_BYTES);

/// One direction of a proxied link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Bytes from the connecting client to the target.
    ToTarget,
    /// Bytes from the target back to the client.
    ToClient,
}

impl Direction {
    pub const BOTH: [Direction; 2] = [Direction::ToTarget, Direction::ToClient];

    fn index(self) -> usize {
        match self {
            Direction::ToTarget => 0,
            Direction::ToClient => 1,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Direction::ToTarget => "to-target",
            Direction::ToClient => "to-client",
        }
    }
}

/// What happens to the bytes of one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forwarded at once.
    Pass,
    /// Forwarded once they have been in the proxy this long, in order.
    Delay(Duration),
    /// Read and discarded: the connections stay up and the peer hears
    /// nothing, like a partition where packets vanish. Bytes already queued
    /// vanish too (a writer blocked on a stalled destination finishes its
    /// segment first). A close (FIN) is held back, not discarded, and goes
    /// through once the fault lifts.
    DropBytes,
}

/// A TCP proxy on 127.0.0.1 forwarding every connection to one target, with
/// faults per direction and a cut switch, for the cluster tests.
///
/// Lives on the test's thread; its own threads (acceptor, two per direction
/// of each connection) stop and are joined when it is dropped.
pub struct FaultProxy {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
    /// Disconnected once every proxy thread has ended: each holds a sender
    /// and nobody sends, so this is a join with a timeout.
    threads_ended: Receiver<()>,
}

impl FaultProxy {
    /// Listens on 127.0.0.1:0 and forwards every accepted connection to
    /// `target`, passing bytes both ways until told otherwise.
    pub fn start(target: SocketAddr) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let local_addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            target,
            state: Mutex::new(State { faults: [Fault::Pass; 2], cut: false, stopping: false, links: Vec::new() }),
            changed: Condvar::new(),
            received: Default::default(),
            forwarded: Default::default(),
            dropped: Default::default(),
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            threads: Mutex::new(Vec::new()),
        });
        let (thread_alive, threads_ended) = mpsc::channel();
        let acceptor = {
            let shared = shared.clone();
            thread::Builder::new()
                .name("proxy-accept".into())
                .stack_size(THREAD_STACK_BYTES)
                .spawn(move || shared.accept_loop(&listener, &thread_alive))?
        };
        Ok(FaultProxy { shared, local_addr, acceptor: Some(acceptor), threads_ended })
    }

    /// The address to connect to instead of the target.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where connections are forwarded.
    pub fn target(&self) -> SocketAddr {
        self.shared.target
    }

    /// Sets the fault of one direction, leaving the other as it is; lifts a
    /// cut (any setter but [`cut`](Self::cut) reopens the link).
    pub fn set_fault(&self, direction: Direction, fault: Fault) {
        if let Fault::Delay(d) = fault {
            assert!(d <= MAX_DELAY, "delay {d:?} above {MAX_DELAY:?}");
        }
        let mut state = self.shared.state();
        state.faults[direction.index()] = fault;
        state.cut = false;
        self.shared.changed.notify_all();
    }

    /// Sets the same fault both ways; lifts a cut.
    pub fn set_both(&self, fault: Fault) {
        for direction in Direction::BOTH {
            self.set_fault(direction, fault);
        }
    }

    /// The fault in force in one direction (also while cut).
    pub fn fault(&self, direction: Direction) -> Fault {
        self.shared.state().faults[direction.index()]
    }

    /// Forwards both ways at once (the default); lifts a cut.
    pub fn pass(&self) {
        self.set_both(Fault::Pass);
    }

    /// The same as [`pass`](Self::pass), named for the end of a fault.
    pub fn heal(&self) {
        self.pass();
    }

    /// Delays both directions; lifts a cut.
    pub fn delay(&self, delay: Duration) {
        self.set_both(Fault::Delay(delay));
    }

    /// Black-holes both directions; lifts a cut.
    pub fn drop_bytes(&self) {
        self.set_both(Fault::DropBytes);
    }

    /// Closes every current connection (both sockets shut down) and closes
    /// new ones as soon as they are accepted, until another setter is called.
    pub fn cut(&self) {
        let mut state = self.shared.state();
        state.cut = true;
        for link in state.links.drain(..) {
            link.shut();
        }
        self.shared.changed.notify_all();
    }

    pub fn is_cut(&self) -> bool {
        self.shared.state().cut
    }

    /// Bytes written to the destination of `direction`, over all connections.
    pub fn bytes_forwarded(&self, direction: Direction) -> u64 {
        self.shared.forwarded[direction.index()].load(Ordering::SeqCst)
    }

    /// Bytes read in `direction` and discarded by a black hole.
    pub fn bytes_dropped(&self, direction: Direction) -> u64 {
        self.shared.dropped[direction.index()].load(Ordering::SeqCst)
    }

    /// Bytes read in `direction` and neither forwarded nor dropped yet (held
    /// by the queues, or by a connection torn down with bytes in flight).
    pub fn bytes_held(&self, direction: Direction) -> u64 {
        let i = direction.index();
        let received = self.shared.received[i].load(Ordering::SeqCst);
        let passed = self.shared.forwarded[i].load(Ordering::SeqCst) + self.shared.dropped[i].load(Ordering::SeqCst);
        received.saturating_sub(passed)
    }

    /// Connections accepted and forwarded to the target.
    pub fn connections_accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Connections accepted and closed at once: cut, at the connection limit,
    /// or the target did not accept.
    pub fn connections_refused(&self) -> u64 {
        self.shared.refused.load(Ordering::SeqCst)
    }

    /// Forwarded connections not closed yet.
    pub fn connections_open(&self) -> usize {
        self.shared.state().links.iter().filter(|link| !link.is_closed()).count()
    }

    /// Stops the proxy: closes every connection, ends every thread and joins
    /// them. False if some thread was still running after [`STOP_TIMEOUT`]
    /// (it is then detached, so a test never hangs here).
    pub fn stop(mut self) -> bool {
        self.stop_threads()
    }

    fn stop_threads(&mut self) -> bool {
        let Some(acceptor) = self.acceptor.take() else { return true };
        {
            let mut state = self.shared.state();
            state.stopping = true;
            for link in state.links.drain(..) {
                link.shut();
            }
            self.shared.changed.notify_all();
        }
        // accept() has no timeout: a connection wakes it to see `stopping`.
        let _ = TcpStream::connect_timeout(&self.local_addr, CONNECT_TIMEOUT);
        match self.threads_ended.recv_timeout(STOP_TIMEOUT) {
            Err(RecvTimeoutError::Disconnected) => {
                let _ = acceptor.join();
                for thread in std::mem::take(&mut *lock(&self.shared.threads)) {
                    let _ = thread.join();
                }
                true
            }
            Ok(()) | Err(RecvTimeoutError::Timeout) => {
                eprintln!("fault proxy {}: threads still running after {STOP_TIMEOUT:?}; detached", self.local_addr);
                false
            }
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

/// The proxy's state shared by the handle and all its threads.
struct Shared {
    target: SocketAddr,
    state: Mutex<State>,
    /// Notified on every fault change, teardown and stop: writers waiting
    /// out a delay or a black hole re-check.
    changed: Condvar,
    /// Per direction (`Direction::index`): bytes read from the source.
    received: [AtomicU64; 2],
    forwarded: [AtomicU64; 2],
    dropped: [AtomicU64; 2],
    accepted: AtomicU64,
    refused: AtomicU64,
    /// Connection threads; finished ones are joined whenever one is added.
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// Everything the faults and the link list need, under `Shared::state`
/// (taken by the handle, the acceptor and every connection thread).
struct State {
    faults: [Fault; 2],
    cut: bool,
    stopping: bool,
    /// Open connections (at most `MAX_CONNECTIONS`); closed ones are
    /// removed when a writer ends.
    links: Vec<Arc<Link>>,
}

impl State {
    fn admits(&self) -> bool {
        !self.cut && !self.stopping && self.links.len() < MAX_CONNECTIONS
    }
}

/// One forwarded connection: the accepted client socket and the socket to
/// the target. Shared by its four threads and the proxy's link list.
struct Link {
    client: TcpStream,
    target: TcpStream,
    shut: AtomicBool,
    writers_done: AtomicUsize,
}

impl Link {
    /// (source, destination) of `direction`.
    fn ends(&self, direction: Direction) -> (&TcpStream, &TcpStream) {
        match direction {
            Direction::ToTarget => (&self.client, &self.target),
            Direction::ToClient => (&self.target, &self.client),
        }
    }

    /// Shuts both sockets down, which wakes the threads blocked on them.
    /// Waiters on `changed` are the caller's to wake.
    fn shut(&self) {
        if !self.shut.swap(true, Ordering::SeqCst) {
            let _ = self.client.shutdown(Shutdown::Both);
            let _ = self.target.shutdown(Shutdown::Both);
        }
    }

    fn is_shut(&self) -> bool {
        self.shut.load(Ordering::SeqCst)
    }

    fn is_closed(&self) -> bool {
        self.is_shut() || self.writers_done.load(Ordering::SeqCst) == Direction::BOTH.len()
    }
}

/// What travels from a reader thread to the writer thread of the same
/// direction.
enum Segment {
    Bytes {
        data: Vec<u8>,
        arrived: Instant,
    },
    /// The source closed its side (FIN).
    End {
        arrived: Instant,
    },
}

/// A writer thread's decision for the segment at the head of its queue.
enum Release {
    Send,
    Discard,
    /// The connection is torn down or the proxy stops.
    Stop,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking proxy thread leaves consistent data (every update is one
    // assignment), so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn accept_loop(self: &Arc<Self>, listener: &TcpListener, thread_alive: &Sender<()>) {
        loop {
            let accepted = listener.accept();
            if self.state().stopping {
                return;
            }
            match accepted {
                Ok((client, _)) => self.admit(client, thread_alive),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => thread::sleep(ACCEPT_ERROR_BACKOFF),
            }
        }
    }

    /// Connects an accepted client to the target and starts its threads, or
    /// closes it at once.
    fn admit(self: &Arc<Self>, client: TcpStream, thread_alive: &Sender<()>) {
        if !self.state().admits() {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return;
        }
        let Ok(target) = TcpStream::connect_timeout(&self.target, CONNECT_TIMEOUT) else {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return;
        };
        // Broker traffic is small requests waiting for replies.
        let _ = client.set_nodelay(true);
        let _ = target.set_nodelay(true);
        let link = Arc::new(Link { client, target, shut: AtomicBool::new(false), writers_done: AtomicUsize::new(0) });
        {
            // Checked again under the lock: a cut or a stop since the first
            // check must not miss this connection.
            let mut state = self.state();
            if !state.admits() {
                self.refused.fetch_add(1, Ordering::SeqCst);
                link.shut();
                return;
            }
            state.links.push(link.clone());
        }
        self.accepted.fetch_add(1, Ordering::SeqCst);
        for direction in Direction::BOTH {
            let (queue_in, queue_out) = mpsc::sync_channel(QUEUE_SEGMENTS);
            let started = self
                .spawn(format!("proxy-read-{}", direction.name()), thread_alive, {
                    let (shared, link) = (self.clone(), link.clone());
                    move || shared.read_loop(&link, direction, &queue_in)
                })
                .and_then(|()| {
                    self.spawn(format!("proxy-write-{}", direction.name()), thread_alive, {
                        let (shared, link) = (self.clone(), link.clone());
                        move || shared.write_loop(&link, direction, &queue_out)
                    })
                });
            if started.is_err() {
                self.teardown(&link);
                return;
            }
        }
    }

    fn spawn(&self, name: String, thread_alive: &Sender<()>, body: impl FnOnce() + Send + 'static) -> io::Result<()> {
        let alive = thread_alive.clone();
        let handle = thread::Builder::new().name(name).stack_size(THREAD_STACK_BYTES).spawn(move || {
            let _alive = alive;
            body();
        })?;
        let mut threads = lock(&self.threads);
        let (finished, running): (Vec<_>, Vec<_>) = threads.drain(..).partition(|t| t.is_finished());
        for thread in finished {
            let _ = thread.join();
        }
        *threads = running;
        threads.push(handle);
        Ok(())
    }

    fn read_loop(&self, link: &Link, direction: Direction, queue: &SyncSender<Segment>) {
        let (mut source, _) = link.ends(direction);
        let mut buf = vec![0u8; SEGMENT_BYTES];
        loop {
            let n = match source.read(&mut buf) {
                Ok(0) => {
                    let _ = queue.send(Segment::End { arrived: Instant::now() });
                    return;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    // A reset: the whole connection goes, as it would end to end.
                    self.teardown(link);
                    return;
                }
            };
            self.received[direction.index()].fetch_add(n as u64, Ordering::SeqCst);
            // Queued even under a black hole: the writer decides, so bytes
            // already in flight when the fault starts vanish too.
            let segment = Segment::Bytes { data: buf[..n].to_vec(), arrived: Instant::now() };
            if queue.send(segment).is_err() {
                return;
            }
        }
    }

    fn write_loop(&self, link: &Link, direction: Direction, queue: &Receiver<Segment>) {
        let (_, mut destination) = link.ends(direction);
        let i = direction.index();
        while let Ok(segment) = queue.recv() {
            match segment {
                Segment::Bytes { data, arrived } => match self.await_release(link, direction, arrived, false) {
                    Release::Send => {
                        if destination.write_all(&data).is_err() {
                            self.teardown(link);
                            break;
                        }
                        self.forwarded[i].fetch_add(data.len() as u64, Ordering::SeqCst);
                    }
                    Release::Discard => {
                        self.dropped[i].fetch_add(data.len() as u64, Ordering::SeqCst);
                    }
                    Release::Stop => break,
                },
                Segment::End { arrived } => {
                    if let Release::Send = self.await_release(link, direction, arrived, true) {
                        let _ = destination.shutdown(Shutdown::Write);
                    }
                    break;
                }
            }
        }
        if link.writers_done.fetch_add(1, Ordering::SeqCst) + 1 == Direction::BOTH.len() {
            // Both sides closed: the sockets go too.
            link.shut();
        }
        self.state().links.retain(|link| !link.is_closed());
    }

    /// Waits until the fault in force lets the segment that arrived at
    /// `arrived` go (`is_end`: a close, which a black hole holds back).
    fn await_release(&self, link: &Link, direction: Direction, arrived: Instant, is_end: bool) -> Release {
        let mut state = self.state();
        loop {
            if state.stopping || link.is_shut() {
                return Release::Stop;
            }
            let wait = match state.faults[direction.index()] {
                Fault::Pass => return Release::Send,
                Fault::DropBytes if !is_end => return Release::Discard,
                Fault::DropBytes => None,
                Fault::Delay(delay) => {
                    let now = Instant::now();
                    let due = arrived + delay;
                    if now >= due {
                        return Release::Send;
                    }
                    Some(due - now)
                }
            };
            state = match wait {
                None => self.changed.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner()),
                Some(timeout) => {
                    self.changed.wait_timeout(state, timeout).unwrap_or_else(|poisoned| poisoned.into_inner()).0
                }
            };
        }
    }

    /// Tears a connection down from one of its own threads.
    fn teardown(&self, link: &Link) {
        link.shut();
        // Taking the lock orders this after any writer's check of `is_shut`
        // and before its wait, so the notification is not lost.
        drop(self.state());
        self.changed.notify_all();
    }
}
