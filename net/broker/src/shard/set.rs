//! Starting and stopping the shards: one pinned executor per core, each with
//! its `Shard`, its control loop, its maintenance task and whatever the
//! caller serves on it (the broker's network endpoint).

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::channel::oneshot;

use super::controller::{distribute, Controller, LocalBroker};
use super::messages::AdminError;
use super::messages::ControlMessage;
use super::quorum_member::QuorumMember;
use super::state::Shard;
use crate::cluster::{BrokerEndpoint, ClusterSettings};
use crate::limits::{fd_budget, FdBudget, DEFAULT_MAX_CONNECTIONS_PER_CORE, DEFAULT_RETENTION_CHECK_MS, FLUSH_TICK_MS};
use corelog_replication::metadata::cluster::{ClusterMetadata, ClusterStore};
use corelog_replication::metadata::MetadataError;
use corelog_replication::replica::ReplicaConfig;
use corelog_runtime::{control_channel, spawn_cores, ControlReceiver, ControlSender, CoreHandle, ExecutorConfig};
use corelog_storage::limits::DEFAULT_TAIL_CACHE_BYTES;
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Debug, Clone)]
pub struct ShardSetConfig {
    /// This broker: its node id, and the address it registers with itself
    /// as a one-node cluster's only broker.
    pub broker: LocalBroker,
    /// The replication protocol's timing.
    pub replica: ReplicaConfig,
    /// A cluster member's settings (`--controllers`); None for a one-node
    /// cluster, whose core 0 is its own controller.
    pub cluster: Option<(ClusterSettings, BrokerEndpoint)>,
    /// The controller quorum's leader as core 0 last saw it (-1: unknown),
    /// for every core's DescribeCluster and Metadata answers.
    pub controller_leader: Arc<AtomicI64>,
    pub data_dir: PathBuf,
    /// Cores to run on; clamped to the machine's CPUs.
    pub cores: usize,
    pub tail_cache_bytes: usize,
    pub retention_check: Duration,
    pub executor: ExecutorConfig,
    /// How the open-file limit is spent (each core's fd cache size).
    pub fd_budget: FdBudget,
}

impl Default for ShardSetConfig {
    fn default() -> Self {
        ShardSetConfig {
            broker: LocalBroker { node_id: 0, host: "127.0.0.1".into(), base_port: 9192, kafka: None },
            replica: ReplicaConfig::default(),
            cluster: None,
            controller_leader: Arc::new(AtomicI64::new(-1)),
            data_dir: PathBuf::from("corelog-data"),
            cores: corelog_runtime::available_cores(),
            tail_cache_bytes: DEFAULT_TAIL_CACHE_BYTES,
            retention_check: Duration::from_millis(DEFAULT_RETENTION_CHECK_MS),
            executor: ExecutorConfig::default(),
            // The limit of a typical shell; `Broker::start` passes the real one.
            fd_budget: fd_budget(1024, 1, DEFAULT_MAX_CONNECTIONS_PER_CORE as u64),
        }
    }
}

/// The running shards.
pub struct ShardSet {
    handles: Vec<CoreHandle<Result<(), String>>>,
    senders: Vec<ControlSender<ControlMessage>>,
    /// Held while running: a second broker on the same data is refused.
    _lock: std::fs::File,
}

/// Locks `<data_dir>/.lock` (flock, released when the process exits) so two
/// brokers never write the same segment files.
fn lock_data_dir(data_dir: &std::path::Path) -> io::Result<std::fs::File> {
    use std::os::unix::io::AsRawFd;
    let path = data_dir.join(".lock");
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
    // SAFETY: flock on a descriptor we own; no memory is involved.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("data directory {} is in use by another broker ({e})", data_dir.display()),
        ));
    }
    Ok(file)
}

impl ShardSet {
    /// Starts the shards; `serve(shard)` runs on every core once that core
    /// has opened its partitions.
    pub fn start<G, F>(config: ShardSetConfig, serve: G) -> io::Result<ShardSet>
    where
        G: Fn(Rc<Shard>) -> F + Send + Sync + Clone + 'static,
        F: Future<Output = ()> + 'static,
    {
        std::fs::create_dir_all(&config.data_dir)?;
        let lock = lock_data_dir(&config.data_dir)?;
        // Read here, not on core 0: a damaged file then fails the start at
        // once with its name, instead of leaving the cores never listening.
        // A cluster member's metadata comes from the controller quorum.
        let metadata = match config.cluster {
            None => ClusterStore::new(&config.data_dir).load().map_err(|e| io::Error::other(e.to_string()))?,
            Some(_) => ClusterMetadata::default(),
        };
        let metadata = Arc::new(Mutex::new(Some(metadata)));
        let cores = config.cores.clamp(1, config.executor.placement.max_cores());
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..cores).map(|_| control_channel()).unzip();
        let receivers: Arc<Mutex<Vec<Option<ControlReceiver<ControlMessage>>>>> =
            Arc::new(Mutex::new(receivers.into_iter().map(Some).collect()));
        let peers = senders.clone();
        let executor = config.executor.clone();
        let handles = spawn_cores(cores, &executor, move |core| {
            let rx = receivers.lock().expect("receivers lock").get_mut(core).and_then(Option::take);
            let (peers, config, serve) = (peers.clone(), config.clone(), serve.clone());
            let metadata = if core == 0 { metadata.lock().expect("metadata lock").take() } else { None };
            async move {
                let rx = rx.ok_or_else(|| format!("core {core} started twice"))?;
                core_main(core as u32, rx, peers, config, metadata, serve).await
            }
        })?;
        Ok(ShardSet { handles, senders, _lock: lock })
    }

    /// Asks every core to flush and stop; returns once all have.
    pub fn shutdown(self) -> Result<(), String> {
        let mut waits = Vec::new();
        for s in &self.senders {
            let (done, rx) = oneshot::channel();
            if s.send(ControlMessage::Shutdown { done }).is_ok() {
                waits.push(rx);
            }
        }
        for rx in waits {
            let _ = futures::executor::block_on(rx);
        }
        self.join()
    }

    /// Waits for every core to exit.
    pub fn join(self) -> Result<(), String> {
        let mut result = Ok(());
        for h in self.handles {
            let r = h.join().map_err(|e| e.to_string()).and_then(|r| r);
            if result.is_ok() {
                result = r;
            }
        }
        result
    }

    /// A handle that can stop the shards from another thread (signals).
    pub fn stopper(&self) -> Vec<ControlSender<ControlMessage>> {
        self.senders.clone()
    }
}

/// Who decides metadata changes for this broker.
enum Authority {
    /// A one-node cluster: its own controller.
    Local(Controller),
    /// A cluster member: the controller quorum, through core 0.
    Quorum(Rc<QuorumMember>),
}

/// Publishes the controller quorum's leader as this node knows it.
async fn watch_controller_leader(shard: Rc<Shard>, member: Rc<QuorumMember>, leader: Arc<AtomicI64>) {
    loop {
        leader.store(member.controller_leader().map_or(-1, i64::from), Ordering::Relaxed);
        if !shard.wait_or_stop(Duration::from_millis(FLUSH_TICK_MS)).await {
            return;
        }
    }
}

async fn core_main<G, F>(
    core: u32,
    rx: ControlReceiver<ControlMessage>,
    peers: Vec<ControlSender<ControlMessage>>,
    config: ShardSetConfig,
    metadata: Option<ClusterMetadata>,
    serve: G,
) -> Result<(), String>
where
    G: Fn(Rc<Shard>) -> F,
    F: Future<Output = ()> + 'static,
{
    let node_id = config.broker.node_id;
    let shard = Rc::new(Shard::new(
        core,
        node_id,
        config.replica,
        &config.data_dir,
        config.tail_cache_bytes,
        config.fd_budget,
        peers,
    ));
    let mut authority = None;
    let mut opening = None;
    if let Some(metadata) = metadata {
        match config.cluster.clone() {
            None => {
                let (c, effects) =
                    Controller::load(&shard, metadata, &config.broker).map_err(|e| format!("loading metadata: {e}"))?;
                opening = Some((Arc::new(c.metadata().clone()), effects));
                config.controller_leader.store(i64::from(node_id), Ordering::Relaxed);
                authority = Some(Authority::Local(c));
            }
            Some((settings, endpoint)) => {
                // Serve at once (with no partitions) and open them as the
                // quorum's images arrive.
                opening = Some((Arc::new(ClusterMetadata::default()), Vec::new()));
                let member = QuorumMember::start(shard.clone(), settings, endpoint)
                    .await
                    .map_err(|e| format!("joining the cluster: {e}"))?;
                let member = Rc::new(member);
                corelog_runtime::spawn_detached(watch_controller_leader(
                    shard.clone(),
                    member.clone(),
                    config.controller_leader.clone(),
                ));
                authority = Some(Authority::Quorum(member));
            }
        }
    }
    corelog_runtime::spawn_detached(maintenance(shard.clone(), config.retention_check));
    corelog_runtime::spawn_detached(crate::replica::fetcher::run(shard.clone()));
    if let Some((settings, _)) = &config.cluster {
        corelog_runtime::spawn_detached(crate::replica::isr_sender::run(shard.clone(), settings.clone()));
    }
    // Awaited at shutdown: a core must not exit while its serving task
    // still holds the listeners. A task still pending when the executor
    // exits is not dropped by then, so its sockets would outlive the core
    // and the ports keep taking connections after `shutdown` returned.
    let serving = {
        let shard = shard.clone();
        let served = serve(shard.clone());
        corelog_runtime::spawn(async move {
            let ready = std::pin::pin!(shard.ready());
            let stopped = std::pin::pin!(shard.stopped());
            if let futures::future::Either::Left(_) = futures::future::select(ready, stopped).await {
                served.await;
            }
        })
    };
    if let Some((snapshot, effects)) = opening {
        // Other cores' control loops are already running on their
        // executors. This one starts after: admin commands sent meanwhile
        // wait in the channel instead of changing partitions being opened.
        let started = Instant::now();
        let partitions = effects.len();
        match distribute(&shard, snapshot, effects).await {
            Ok(()) => tracing::info!(partitions, elapsed = ?started.elapsed(), "opened every partition"),
            Err(e) => tracing::error!(error = %e, "opening partitions at start failed"),
        }
    }
    while let Ok(msg) = rx.recv_async().await {
        match msg {
            ControlMessage::Admin { command, reply } => match authority.as_mut() {
                Some(Authority::Local(c)) => {
                    let _ = reply.send(c.handle(&shard, command).await.map_err(AdminError::from));
                }
                // Forwarded to the quorum: commands wait for their answer
                // concurrently, and the control loop stays free.
                Some(Authority::Quorum(member)) => {
                    let (member, shard) = (member.clone(), shard.clone());
                    corelog_runtime::spawn_detached(async move {
                        let _ = reply.send(member.admin(&shard, command).await);
                    });
                }
                None => {
                    let _ =
                        reply.send(Err(MetadataError::Storage(format!("core {core} is not the controller")).into()));
                }
            },
            ControlMessage::Prepare { effects, done } => {
                let _ = done.send(shard.prepare(&effects).await);
            }
            ControlMessage::Discard { done } => {
                shard.discard_pending().await;
                let _ = done.send(());
            }
            ControlMessage::Apply { metadata, effects, done } => {
                let _ = done.send(shard.apply(metadata, &effects).await);
            }
            ControlMessage::Shutdown { done } => {
                shard.stop_serving();
                shard.close_all().await;
                serving.join().await;
                let _ = done.send(());
                return Ok(());
            }
        }
    }
    // Every sender is gone: nobody can ask for a shutdown any more.
    shard.stop_serving();
    serving.join().await;
    Ok(())
}

/// Interval flushes and retention for this core's partitions, and bringing
/// failed logs back (see reopen.rs).
async fn maintenance(shard: Rc<Shard>, retention_check: Duration) {
    let mut last_retention = Instant::now();
    loop {
        corelog_runtime::sleep(Duration::from_millis(FLUSH_TICK_MS)).await;
        let check_retention = last_retention.elapsed() >= retention_check;
        if check_retention {
            last_retention = Instant::now();
        }
        for p in shard.partitions() {
            // A failed log is brought back, not flushed (that would fail
            // every tick).
            if p.log.failure().is_some() {
                shard.reopen_if_failed(&p);
                continue;
            }
            if let Err(e) = p.log.flush_if_due().await {
                tracing::warn!(topic = %p.topic, partition = p.id, error = %e, "interval flush failed");
            }
            // The replication state machines' clock (ISR lag, lost fetches),
            // and the durability an interval flush just reached.
            crate::replica::tick(&p);
            // Also right after a roll, so a partition at its limit deletes a
            // segment per roll and the next roll reuses its file
            // (corelog_storage's segment/recycled.rs).
            if check_retention || p.log.retention_due() {
                if let Err(e) = p.log.enforce_retention().await {
                    tracing::warn!(topic = %p.topic, partition = p.id, error = %e, "retention failed");
                }
            }
        }
    }
}
