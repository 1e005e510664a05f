//! `corelog topic create|list|describe|delete|alter`: topic administration
//! (like Kafka's `kafka-topics` and `kafka-configs`).

use clap::{Args, Subcommand};
use corelog_client::{Admin, ClientError, OffsetSpec, PartitionInfo, TopicInfo};

use crate::bootstrap::{self, describe, parse_key_value, topic_error, BootstrapArgs};

#[derive(Args, Debug)]
pub struct TopicArgs {
    #[command(subcommand)]
    command: TopicCommand,
}

#[derive(Subcommand, Debug)]
enum TopicCommand {
    /// Create a topic. Its partitions are placed on the least-loaded cores.
    #[command(after_help = "Examples:\n  corelog topic create orders --partitions 6\n  \
                            corelog topic create audit --config retention.ms=604800000 --config flush.policy=1000")]
    Create(CreateArgs),
    /// List the names of every topic, sorted, one per line.
    List(ListArgs),
    /// Show a topic's partitions (owning core endpoint, log start and end
    /// offsets) and every config with its value, marking defaults.
    Describe(DescribeArgs),
    /// Delete a topic and all its data.
    Delete(DeleteArgs),
    /// Add partitions to a topic and change or remove its config overrides.
    #[command(after_help = "Examples:\n  corelog topic alter orders --partitions 12\n  \
                            corelog topic alter orders --config retention.ms=86400000 --delete-config flush.policy")]
    Alter(AlterArgs),
}

#[derive(Args, Debug)]
struct CreateArgs {
    /// Topic name.
    name: String,
    /// Number of partitions.
    #[arg(long, short = 'p', default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    partitions: u32,
    /// Replicas of every partition, on distinct brokers (at most the number
    /// of live brokers).
    #[arg(long, short = 'r', default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    replication_factor: u16,
    /// A topic config override, key=value (repeatable). Keys: retention.ms,
    /// retention.bytes, segment.bytes, segment.ms, flush.policy,
    /// max.message.bytes, min.insync.replicas, unclean.leader.election.enable
    /// (see corelog.toml for their meaning and defaults).
    #[arg(long = "config", short = 'c', value_name = "KEY=VALUE", value_parser = parse_key_value)]
    configs: Vec<(String, String)>,
    #[command(flatten)]
    bootstrap: BootstrapArgs,
}

#[derive(Args, Debug)]
struct ListArgs {
    #[command(flatten)]
    bootstrap: BootstrapArgs,
}

#[derive(Args, Debug)]
struct DescribeArgs {
    /// Topic name.
    name: String,
    #[command(flatten)]
    bootstrap: BootstrapArgs,
}

#[derive(Args, Debug)]
struct DeleteArgs {
    /// Topic name.
    name: String,
    #[command(flatten)]
    bootstrap: BootstrapArgs,
}

#[derive(Args, Debug)]
struct AlterArgs {
    /// Topic name.
    name: String,
    /// New total number of partitions (can only grow; existing records stay
    /// where they are, so keyed records may map to other partitions from now on).
    #[arg(long, short = 'p')]
    partitions: Option<u32>,
    /// Set a config override, key=value (repeatable).
    #[arg(long = "config", short = 'c', value_name = "KEY=VALUE", value_parser = parse_key_value)]
    configs: Vec<(String, String)>,
    /// Remove a config override, so the key goes back to its default (repeatable).
    #[arg(long = "delete-config", value_name = "KEY")]
    delete_configs: Vec<String>,
    #[command(flatten)]
    bootstrap: BootstrapArgs,
}

pub fn run(args: TopicArgs) -> Result<(), String> {
    match args.command {
        TopicCommand::Create(a) => bootstrap::run(create(a)),
        TopicCommand::List(a) => bootstrap::run(list(a)),
        TopicCommand::Describe(a) => bootstrap::run(describe_topic(a)),
        TopicCommand::Delete(a) => bootstrap::run(delete(a)),
        TopicCommand::Alter(a) => bootstrap::run(alter(a)),
    }
}

async fn admin(bootstrap: &BootstrapArgs) -> Result<Admin, String> {
    Ok(Admin::new(&bootstrap.connect(bootstrap::client_config()).await?))
}

async fn create(args: CreateArgs) -> Result<(), String> {
    let admin = admin(&args.bootstrap).await?;
    let configs: Vec<(&str, &str)> = args.configs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    admin
        .create_replicated_topic(&args.name, args.partitions, args.replication_factor, &configs)
        .await
        .map_err(|e| format!("creating topic {:?}: {}", args.name, describe(&e)))?;
    let plural = if args.partitions == 1 { "" } else { "s" };
    println!("created topic {:?} with {} partition{plural}", args.name, args.partitions);
    Ok(())
}

async fn list(args: ListArgs) -> Result<(), String> {
    let admin = admin(&args.bootstrap).await?;
    let names = admin.list_topics().await.map_err(|e| format!("listing topics: {}", describe(&e)))?;
    for name in names {
        println!("{name}");
    }
    Ok(())
}

async fn delete(args: DeleteArgs) -> Result<(), String> {
    let admin = admin(&args.bootstrap).await?;
    admin.delete_topic(&args.name).await.map_err(|e| topic_error(&format!("deleting topic {:?}", args.name), &e))?;
    println!("deleted topic {:?}", args.name);
    Ok(())
}

async fn alter(args: AlterArgs) -> Result<(), String> {
    if args.partitions.is_none() && args.configs.is_empty() && args.delete_configs.is_empty() {
        return Err("nothing to alter: give --partitions, --config or --delete-config".into());
    }
    if let Some(key) = args.delete_configs.iter().find(|k| args.configs.iter().any(|(set, _)| set == *k)) {
        return Err(format!("config {key:?} is both set and deleted"));
    }
    let admin = admin(&args.bootstrap).await?;
    let name = &args.name;
    let topic = admin.describe_topic(name).await.map_err(|e| topic_error(&format!("altering topic {name:?}"), &e))?;
    let current = topic.partition_count();
    // Check the partition count first, so a bad one changes nothing.
    let grow = match args.partitions {
        Some(n) if n < current => {
            return Err(format!(
                "altering topic {name:?}: it has {current} partitions and partitions cannot be removed (asked for {n})"
            ))
        }
        Some(n) => (n > current).then_some(n),
        None => None,
    };
    let mut ops: Vec<(&str, Option<&str>)> = args.configs.iter().map(|(k, v)| (k.as_str(), Some(v.as_str()))).collect();
    ops.extend(args.delete_configs.iter().map(|k| (k.as_str(), None)));
    if !ops.is_empty() {
        admin.alter_configs(name, &ops).await.map_err(|e| topic_error(&format!("altering configs of {name:?}"), &e))?;
        println!("altered {} config{} of topic {name:?}", ops.len(), if ops.len() == 1 { "" } else { "s" });
    }
    match grow {
        Some(n) => {
            admin
                .create_partitions(name, n)
                .await
                .map_err(|e| topic_error(&format!("adding partitions to {name:?}"), &e))?;
            println!("topic {name:?} now has {n} partitions (was {current})");
        }
        None if args.partitions.is_some() => println!("topic {name:?} already has {current} partitions"),
        None => {}
    }
    Ok(())
}

async fn describe_topic(args: DescribeArgs) -> Result<(), String> {
    let admin = admin(&args.bootstrap).await?;
    let name = &args.name;
    let context = format!("describing topic {name:?}");
    let fail = |e: ClientError| topic_error(&context, &e);
    let topic = admin.describe_topic(name).await.map_err(fail)?;
    let configs = admin.describe_configs(name).await.map_err(fail)?;

    let mut out = String::new();
    let count = topic.partition_count();
    out.push_str(&format!("Topic: {}\tPartitions: {count}\n\n", topic.name));
    let mut rows = vec![["PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "LOG-START", "LOG-END", "STATUS"]
        .map(str::to_owned)
        .to_vec()];
    let nodes = |ids: &[u32]| ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    for p in &topic.partitions {
        let (start, end) = offsets(&admin, &topic, p).await;
        let show = |o: Option<u64>| o.map_or_else(|| "-".to_owned(), |o| o.to_string());
        let owner = match (&p.owner, p.addr) {
            (Some(o), Some(addr)) => format!("{addr} (node {} core {})", o.node_id, o.core_id),
            (Some(o), None) => format!("{}:{} (node {} core {})", o.host, o.port, o.node_id, o.core_id),
            (None, _) => "none".to_owned(),
        };
        let status = if p.error.is_ok() { "ok".to_owned() } else { p.error.message().to_owned() };
        rows.push(vec![
            p.partition.to_string(),
            owner,
            p.leader_epoch.to_string(),
            nodes(&p.replicas),
            nodes(&p.isr),
            show(start),
            show(end),
            status,
        ]);
    }
    table(&mut out, &rows);
    out.push('\n');
    let mut rows = vec![["CONFIG", "VALUE", "SOURCE"].map(str::to_owned).to_vec()];
    let mut configs = configs;
    configs.sort_by(|a, b| a.key.cmp(&b.key));
    for c in configs {
        let source = if c.is_default { "default" } else { "topic" };
        rows.push(vec![c.key, c.value, source.to_owned()]);
    }
    table(&mut out, &rows);
    print!("{out}");
    Ok(())
}

/// A partition's log start and end offsets: from the metadata when the
/// answering core knew them, else asked of the owning core ("-" if unknown).
async fn offsets(admin: &Admin, topic: &TopicInfo, p: &PartitionInfo) -> (Option<u64>, Option<u64>) {
    let mut start = p.log_start_offset;
    let mut end = p.log_end_offset;
    if p.owner.is_some() {
        if start.is_none() {
            start =
                admin.list_offsets(&topic.name, p.partition, OffsetSpec::Earliest).await.ok().and_then(|o| o.offset);
        }
        if end.is_none() {
            end = admin.list_offsets(&topic.name, p.partition, OffsetSpec::Latest).await.ok().and_then(|o| o.offset);
        }
    }
    (start, end)
}

/// Appends `rows` as left-aligned columns (two spaces apart).
pub(crate) fn table(out: &mut String, rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let mut out = String::new();
        let rows = vec![
            vec!["A".to_owned(), "BB".to_owned(), "C".to_owned()],
            vec!["long".to_owned(), "x".to_owned(), "".to_owned()],
        ];
        table(&mut out, &rows);
        assert_eq!(out, "A     BB  C\nlong  x\n");
    }
}
