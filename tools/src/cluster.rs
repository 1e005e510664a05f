//! `corelog cluster status|elect-leaders`: the brokers and the controller
//! quorum, and leader elections (like Kafka's `kafka-metadata-quorum` and
//! `kafka-leader-election`).

use clap::{Args, Subcommand};
use corelog_client::{Admin, ClientError};
use corelog_protocol::{ElectionKind, ErrorCode};

use crate::bootstrap::{self, describe, BootstrapArgs};
use crate::group::parse_topic_partitions;
use crate::topic::table;

#[derive(Args, Debug)]
pub struct ClusterArgs {
    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(Subcommand, Debug)]
enum ClusterCommand {
    /// The controller quorum (voters, leader) and every registered broker
    /// with its endpoints and whether it is fenced.
    Status(StatusArgs),
    /// Move partition leadership to the preferred (first) replica where it
    /// is in sync, or elect outside the in-sync replicas (unclean: may lose
    /// acknowledged records).
    #[command(after_help = "Examples:\n  \
        corelog cluster elect-leaders                      # preferred leaders of every partition\n  \
        corelog cluster elect-leaders --topic orders:0,2\n  \
        corelog cluster elect-leaders --topic orders --unclean")]
    ElectLeaders(ElectArgs),
}

#[derive(Args, Debug)]
struct StatusArgs {
    #[command(flatten)]
    bootstrap: BootstrapArgs,
}

#[derive(Args, Debug)]
struct ElectArgs {
    /// TOPIC or TOPIC:P,P,... (repeatable); every partition when absent.
    #[arg(long = "topic", short = 't', value_name = "T[:P,...]", value_parser = parse_topic_partitions)]
    topics: Vec<(String, Option<Vec<u32>>)>,
    /// Elect outside the in-sync replicas where a partition has no leader.
    #[arg(long)]
    unclean: bool,
    #[command(flatten)]
    bootstrap: BootstrapArgs,
}

pub fn run(args: ClusterArgs) -> Result<(), String> {
    match args.command {
        ClusterCommand::Status(a) => bootstrap::run(status(a)),
        ClusterCommand::ElectLeaders(a) => bootstrap::run(elect(a)),
    }
}

async fn admin(bootstrap: &BootstrapArgs) -> Result<Admin, String> {
    Ok(Admin::new(&bootstrap.connect(bootstrap::client_config()).await?))
}

fn fail(context: &str) -> impl Fn(ClientError) -> String + '_ {
    move |e| format!("{context}: {}", describe(&e))
}

async fn status(args: StatusArgs) -> Result<(), String> {
    let admin = admin(&args.bootstrap).await?;
    let cluster = admin.describe_cluster().await.map_err(fail("describing the cluster"))?;
    let nodes = |ids: &[u32]| ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    let leader = cluster.controller_leader.map_or_else(|| "none (election under way)".to_owned(), |l| l.to_string());
    let fenced: Vec<u32> = cluster.brokers.iter().filter(|b| b.fenced).map(|b| b.node_id).collect();
    let mut out = format!(
        "Controllers: {}\tLeader: {leader}\tMetadata version: {}\nBrokers: {}\tFenced: {}\n\n",
        nodes(&cluster.controllers),
        cluster.metadata_version,
        cluster.brokers.len(),
        if fenced.is_empty() { "none".to_owned() } else { nodes(&fenced) },
    );
    let mut rows = vec![["NODE", "ENDPOINTS", "CORES", "STATE", "EPOCH"].map(str::to_owned).to_vec()];
    for b in &cluster.brokers {
        let last = u32::from(b.base_port) + b.cores.saturating_sub(1);
        let endpoints = if b.cores > 1 {
            format!("{}:{}-{last}", b.host, b.base_port)
        } else {
            format!("{}:{}", b.host, b.base_port)
        };
        let state = if b.fenced { "fenced" } else { "active" };
        rows.push(vec![
            b.node_id.to_string(),
            endpoints,
            b.cores.to_string(),
            state.to_owned(),
            b.broker_epoch.to_string(),
        ]);
    }
    table(&mut out, &rows);
    print!("{out}");
    Ok(())
}

async fn elect(args: ElectArgs) -> Result<(), String> {
    let partitions = (!args.topics.is_empty()).then_some(args.topics);
    let admin = admin(&args.bootstrap).await?;
    // Naming a topic without partitions means all of its partitions.
    let partitions = match partitions {
        None => None,
        Some(list) => {
            let mut named = Vec::with_capacity(list.len());
            for (topic, ps) in list {
                let ps = match ps {
                    Some(ps) => ps,
                    None => {
                        let info =
                            admin.describe_topic(&topic).await.map_err(fail(&format!("describing {topic:?}")))?;
                        (0..info.partition_count()).collect()
                    }
                };
                named.push((topic, ps));
            }
            Some(named)
        }
    };
    let kind = if args.unclean { ElectionKind::Unclean } else { ElectionKind::Preferred };
    let results = admin.elect_leaders(kind, partitions).await.map_err(fail("electing leaders"))?;
    let mut out = String::new();
    let mut rows = vec![["TOPIC", "PARTITION", "LEADER", "RESULT"].map(str::to_owned).to_vec()];
    let mut failed = 0;
    for t in &results {
        for p in &t.partitions {
            let result = match p.error {
                ErrorCode::None => "elected".to_owned(),
                ErrorCode::ElectionNotNeeded => "not needed".to_owned(),
                e => {
                    failed += 1;
                    p.error_message.clone().unwrap_or_else(|| e.message().to_owned())
                }
            };
            let leader = p.leader.map_or_else(|| "none".to_owned(), |l| l.to_string());
            rows.push(vec![t.name.clone(), p.partition.to_string(), leader, result]);
        }
    }
    table(&mut out, &rows);
    print!("{out}");
    if failed > 0 {
        return Err(format!("{failed} partition(s) could not be elected"));
    }
    Ok(())
}
