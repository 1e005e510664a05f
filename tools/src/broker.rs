//! `corelog broker`: run a node until SIGINT or SIGTERM, then flush and stop.

use std::path::PathBuf;

use clap::Args;
use corelog_broker::Broker;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::config::ConfigFile;

#[derive(Args, Debug)]
pub struct BrokerArgs {
    /// Config file (see corelog.toml); flags below override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data directory (default ./corelog-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Cores to run on (default: all; clamped to the machine's CPUs).
    #[arg(long)]
    cores: Option<usize>,
    /// CPUs the cores are pinned to, in core order: `all` (default: core i
    /// on the i-th CPU this process may use), `none` (unpinned: several
    /// brokers sharing a machine), or a list like `0,2-3`. Cores are
    /// clamped to the CPUs listed.
    #[arg(long, value_name = "all|none|LIST")]
    cpuset: Option<String>,
    /// Address to listen on and advertise (default 127.0.0.1).
    #[arg(long)]
    host: Option<String>,
    /// Base port: core i listens on port + i (default 9192).
    #[arg(long)]
    port: Option<u16>,
    /// Kafka listener base port: core i serves Kafka clients on kafka-port
    /// + i (default 9092; 0 turns the Kafka listener off).
    #[arg(long)]
    kafka_port: Option<u16>,
    /// Host advertised to Kafka clients in Metadata and FindCoordinator
    /// (default: --host). Set it behind NAT or in containers.
    #[arg(long, value_name = "HOST")]
    advertise: Option<String>,
    /// Serve Prometheus metrics on this port (default: off).
    #[arg(long)]
    metrics_port: Option<u16>,
    /// This broker's node id in the cluster (default 0).
    #[arg(long)]
    node_id: Option<u32>,
    /// The controller quorum, ID@HOST:PORT,... (e.g.
    /// 1@10.0.0.1:9190,2@10.0.0.2:9190,3@10.0.0.3:9190). A node whose id is
    /// listed runs a controller on its entry's port. Without it: a one-node
    /// cluster.
    #[arg(long, value_name = "ID@HOST:PORT,...")]
    controllers: Option<String>,
}

pub fn run(args: BrokerArgs) -> Result<(), String> {
    let file = match &args.config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    let mut config = file.broker_config()?;
    if let Some(v) = args.node_id {
        config.node_id = v;
    }
    if let Some(list) = &args.controllers {
        config.controllers =
            corelog_broker::cluster::parse_controllers(list).map_err(|e| format!("--controllers {list:?}: {e}"))?;
    }
    if let Some(v) = args.data_dir {
        config.data_dir = v;
    }
    if let Some(v) = args.cores {
        config.cores = v;
    }
    if let Some(v) = &args.cpuset {
        config.cpu_placement = v.parse().map_err(|e| format!("--cpuset: {e}"))?;
    }
    if let Some(v) = args.host {
        config.host = v;
    }
    if let Some(v) = args.port {
        config.base_port = v;
    }
    if let Some(v) = args.kafka_port {
        config.kafka_port = v;
    }
    if let Some(v) = args.advertise {
        config.advertise = Some(v);
    }
    if let Some(v) = args.metrics_port {
        config.metrics_port = Some(v);
    }
    let broker = Broker::start(config).map_err(|e| format!("starting the broker: {e}"))?;
    for (core, addr) in broker.endpoints().iter().enumerate() {
        println!("core {core} listening on {addr}");
    }
    for (core, addr) in broker.kafka_endpoints().iter().enumerate() {
        println!("core {core} listening for Kafka clients on {addr}");
    }
    let stopper = broker.stopper();
    let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(|e| format!("installing signal handlers: {e}"))?;
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            tracing::info!(signal, "stopping: flushing partitions");
            stopper.stop();
        }
    });
    broker.join()
}
