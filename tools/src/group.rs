//! `corelog group list|describe|delete|reset-offsets`: consumer-group
//! administration (like Kafka's `kafka-consumer-groups`).

use std::collections::{BTreeMap, BTreeSet};

use clap::{Args, Subcommand};
use corelog_client::{Admin, ClientError, GroupDescription, GroupState, OffsetSpec, TopicPartition};
use corelog_protocol::ErrorCode;

use crate::bootstrap::{self, describe, BootstrapArgs};
use crate::topic::table;

#[derive(Args, Debug)]
pub struct GroupArgs {
    #[command(subcommand)]
    command: GroupCommand,
}

#[derive(Subcommand, Debug)]
enum GroupCommand {
    /// List every consumer group (of every core), sorted, one per line.
    List(ListArgs),
    /// Show a group's state and members, and per partition its committed
    /// offset, log end offset and lag.
    Describe(DescribeArgs),
    /// Delete a group without members, and its committed offsets.
    Delete(DeleteArgs),
    /// Set a group's committed offsets (the group must have no members).
    /// Prints the plan; changes nothing without --execute.
    #[command(after_help = "Examples:\n  \
        corelog group reset-offsets billing --topic orders --to-earliest             # dry run: print the plan\n  \
        corelog group reset-offsets billing --topic orders --to-earliest --execute\n  \
        corelog group reset-offsets billing --topic orders:0,2 --to-offset 1000 --execute\n  \
        corelog group reset-offsets billing --all-topics --to-datetime 1700000000000 --execute")]
    ResetOffsets(ResetArgs),
}

#[derive(Args, Debug)]
struct ListArgs {
    /// Print each group's state and protocol type too.
    #[arg(long)]
    state: bool,
    #[command(flatten)]
    bootstrap: BootstrapArgs,
}

#[derive(Args, Debug)]
struct DescribeArgs {
    /// Group id.
    group: String,
    #[command(flatten)]
    bootstrap: BootstrapArgs,
}

#[derive(Args, Debug)]
struct DeleteArgs {
    /// Group id.
    group: String,
    #[command(flatten)]
    bootstrap: BootstrapArgs,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["to_earliest", "to_latest", "to_offset", "to_datetime"])))]
#[command(group(clap::ArgGroup::new("scope").required(true).args(["topics", "all_topics"])))]
struct ResetArgs {
    /// Group id.
    group: String,
    /// A topic to reset: every partition (`T`), or some (`T:0,2`). Repeatable.
    #[arg(long = "topic", short = 't', value_name = "T[:P,...]", value_parser = parse_topic_partitions)]
    topics: Vec<(String, Option<Vec<u32>>)>,
    /// Every topic the group has committed offsets for.
    #[arg(long)]
    all_topics: bool,
    /// To the log start of each partition.
    #[arg(long)]
    to_earliest: bool,
    /// To the log end of each partition (skip everything there is now).
    #[arg(long)]
    to_latest: bool,
    /// To offset N (clamped to each partition's log start and end).
    #[arg(long, value_name = "N")]
    to_offset: Option<u64>,
    /// To the first record at or after MS ms since the epoch (the log end if
    /// there is none).
    #[arg(long, value_name = "MS")]
    to_datetime: Option<i64>,
    /// Apply the plan (without it, only print it).
    #[arg(long)]
    execute: bool,
    #[command(flatten)]
    bootstrap: BootstrapArgs,
}

/// Parses `T` or `T:P,P,...`.
pub(crate) fn parse_topic_partitions(text: &str) -> Result<(String, Option<Vec<u32>>), String> {
    match text.split_once(':') {
        None if !text.is_empty() => Ok((text.to_owned(), None)),
        Some((topic, list)) if !topic.is_empty() => {
            let partitions: Result<Vec<u32>, _> = list.split(',').map(|p| p.trim().parse::<u32>()).collect();
            match partitions {
                Ok(ps) if !ps.is_empty() => Ok((topic.to_owned(), Some(ps))),
                _ => Err(format!("expected TOPIC or TOPIC:P,P,..., got {text:?}")),
            }
        }
        _ => Err(format!("expected TOPIC or TOPIC:P,P,..., got {text:?}")),
    }
}

pub fn run(args: GroupArgs) -> Result<(), String> {
    match args.command {
        GroupCommand::List(a) => bootstrap::run(list(a)),
        GroupCommand::Describe(a) => bootstrap::run(describe_group(a)),
        GroupCommand::Delete(a) => bootstrap::run(delete(a)),
        GroupCommand::ResetOffsets(a) => bootstrap::run(reset_offsets(a)),
    }
}

async fn admin(bootstrap: &BootstrapArgs) -> Result<Admin, String> {
    Ok(Admin::new(&bootstrap.connect(bootstrap::client_config()).await?))
}

/// A group error with what was being done, unless the error says it all.
fn group_error(context: &str, group: &str, e: &ClientError) -> String {
    match e.code() {
        Some(ErrorCode::UnknownGroup) => format!("group {group:?} does not exist"),
        Some(ErrorCode::GroupNotEmpty) => {
            format!("{context}: group {group:?} has members (stop its consumers first)")
        }
        _ => format!("{context}: {}", describe(e)),
    }
}

async fn list(args: ListArgs) -> Result<(), String> {
    let admin = admin(&args.bootstrap).await?;
    let groups = admin.list_groups().await.map_err(|e| format!("listing groups: {}", describe(&e)))?;
    if args.state {
        let mut rows = vec![["GROUP", "STATE", "TYPE"].map(str::to_owned).to_vec()];
        for g in groups {
            let kind = if g.protocol_type.is_empty() { "-".to_owned() } else { g.protocol_type };
            rows.push(vec![g.group_id, g.state.to_string(), kind]);
        }
        let mut out = String::new();
        table(&mut out, &rows);
        print!("{out}");
    } else {
        for g in groups {
            println!("{}", g.group_id);
        }
    }
    Ok(())
}

/// One row of `describe`: a partition the group committed or has assigned,
/// or a member with no partitions.
struct Row {
    topic: String,
    partition: Option<u32>,
    committed: Option<u64>,
    end: Option<u64>,
    member: Option<(String, String, String)>,
}

async fn describe_group(args: DescribeArgs) -> Result<(), String> {
    let admin = admin(&args.bootstrap).await?;
    let group = args.group.as_str();
    let context = format!("describing group {group:?}");
    let description = admin.describe_group(group).await.map_err(|e| group_error(&context, group, &e))?;
    let committed = admin.group_offsets(group).await.map_err(|e| group_error(&context, group, &e))?;
    let rows = rows(&admin, &description, &committed).await;

    let mut out = String::new();
    let protocol = if description.protocol.is_empty() { "-" } else { description.protocol.as_str() };
    out.push_str(&format!(
        "Group: {group}\tState: {}\tProtocol: {protocol}\tGeneration: {}\tMembers: {}\tCoordinator: {}\n\n",
        description.state,
        description.generation,
        description.members.len(),
        description.coordinator
    ));
    let header =
        ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"];
    let mut table_rows = vec![header.map(str::to_owned).to_vec()];
    let show = |o: Option<u64>| o.map_or_else(|| "-".to_owned(), |o| o.to_string());
    for r in &rows {
        let lag = match (r.end, r.committed) {
            (Some(end), Some(committed)) => Some(end.saturating_sub(committed)),
            _ => None,
        };
        let (member, host, client) = r.member.clone().unwrap_or_else(|| ("-".into(), "-".into(), "-".into()));
        table_rows.push(vec![
            group.to_owned(),
            r.topic.clone(),
            r.partition.map_or_else(|| "-".to_owned(), |p| p.to_string()),
            show(r.committed),
            show(r.end),
            show(lag),
            member,
            host,
            client,
        ]);
    }
    if rows.is_empty() {
        out.push_str(&format!("Group {group:?} has no members and no committed offsets.\n"));
    } else {
        table(&mut out, &table_rows);
    }
    if description.members.is_empty() && description.state != GroupState::Dead {
        out.push_str(&format!("\nGroup {group:?} has no active members.\n"));
    } else if matches!(description.state, GroupState::PreparingRebalance | GroupState::CompletingRebalance) {
        out.push_str(&format!("\nGroup {group:?} is rebalancing: assignments are not known until it is stable.\n"));
    }
    print!("{out}");
    Ok(())
}

/// The describe rows: every partition committed or assigned, with its log
/// end offset, then members without partitions.
async fn rows(admin: &Admin, description: &GroupDescription, committed: &BTreeMap<TopicPartition, u64>) -> Vec<Row> {
    let mut owners: BTreeMap<TopicPartition, (String, String, String)> = BTreeMap::new();
    for m in &description.members {
        for tp in &m.assignment {
            owners.insert(tp.clone(), (m.member_id.clone(), m.host.clone(), m.client_id.clone()));
        }
    }
    let partitions: BTreeSet<TopicPartition> = committed.keys().chain(owners.keys()).cloned().collect();
    let mut rows = Vec::new();
    for tp in partitions {
        let end = admin.list_offsets(&tp.topic, tp.partition, OffsetSpec::Latest).await.ok().and_then(|o| o.offset);
        rows.push(Row {
            committed: committed.get(&tp).copied(),
            end,
            member: owners.get(&tp).cloned(),
            topic: tp.topic,
            partition: Some(tp.partition),
        });
    }
    for m in description.members.iter().filter(|m| m.assignment.is_empty()) {
        rows.push(Row {
            topic: "-".into(),
            partition: None,
            committed: None,
            end: None,
            member: Some((m.member_id.clone(), m.host.clone(), m.client_id.clone())),
        });
    }
    rows
}

async fn delete(args: DeleteArgs) -> Result<(), String> {
    let admin = admin(&args.bootstrap).await?;
    let group = args.group.as_str();
    admin.delete_group(group).await.map_err(|e| group_error(&format!("deleting group {group:?}"), group, &e))?;
    println!("deleted group {group:?}");
    Ok(())
}

async fn reset_offsets(args: ResetArgs) -> Result<(), String> {
    let admin = admin(&args.bootstrap).await?;
    let group = args.group.as_str();
    let context = format!("resetting the offsets of group {group:?}");
    let fail = |e: ClientError| group_error(&context, group, &e);

    // Only an empty group: its members would overwrite the reset.
    match admin.describe_group(group).await {
        Ok(d) if !d.members.is_empty() => {
            return Err(format!(
                "{context}: the group has {} active member{} (state {}); stop its consumers first",
                d.members.len(),
                if d.members.len() == 1 { "" } else { "s" },
                d.state
            ))
        }
        Ok(_) => {}
        Err(e) if e.code() == Some(ErrorCode::UnknownGroup) => {}
        Err(e) => return Err(fail(e)),
    }
    let current = admin.group_offsets(group).await.map_err(fail)?;

    // The partitions to reset.
    let mut partitions: BTreeSet<TopicPartition> = BTreeSet::new();
    if args.all_topics {
        if current.is_empty() {
            return Err(format!("{context}: the group has no committed offsets (name the topics with --topic)"));
        }
        partitions.extend(current.keys().cloned());
    }
    for (topic, wanted) in &args.topics {
        let info = admin.describe_topic(topic).await.map_err(|e| format!("{context}: {}", describe(&e)))?;
        let count = info.partition_count();
        match wanted {
            None => partitions.extend((0..count).map(|p| TopicPartition::new(topic.clone(), p))),
            Some(list) => {
                if let Some(p) = list.iter().find(|p| **p >= count) {
                    return Err(format!("topic {topic:?} has no partition {p} (it has {count})"));
                }
                partitions.extend(list.iter().map(|p| TopicPartition::new(topic.clone(), *p)));
            }
        }
    }

    // Where each goes.
    let mut plan: BTreeMap<TopicPartition, u64> = BTreeMap::new();
    for tp in &partitions {
        let lookup = |spec| admin.list_offsets(&tp.topic, tp.partition, spec);
        let offset = if args.to_earliest {
            lookup(OffsetSpec::Earliest).await.map_err(fail)?.offset
        } else if args.to_latest {
            lookup(OffsetSpec::Latest).await.map_err(fail)?.offset
        } else if let Some(n) = args.to_offset {
            let start = lookup(OffsetSpec::Earliest).await.map_err(fail)?.offset.unwrap_or(0);
            let end = lookup(OffsetSpec::Latest).await.map_err(fail)?.offset.unwrap_or(start);
            Some(n.clamp(start, end.max(start)))
        } else if let Some(ms) = args.to_datetime {
            match lookup(OffsetSpec::Timestamp(ms)).await.map_err(fail)?.offset {
                Some(o) => Some(o),
                None => lookup(OffsetSpec::Latest).await.map_err(fail)?.offset,
            }
        } else {
            unreachable!("clap requires a target")
        };
        plan.insert(tp.clone(), offset.unwrap_or(0));
    }

    let mut rows = vec![["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET"].map(str::to_owned).to_vec()];
    for (tp, new) in &plan {
        let now = current.get(tp).map_or_else(|| "-".to_owned(), u64::to_string);
        rows.push(vec![group.to_owned(), tp.topic.clone(), tp.partition.to_string(), now, new.to_string()]);
    }
    let mut out = String::new();
    table(&mut out, &rows);
    print!("{out}");
    let n = plan.len();
    let plural = if n == 1 { "" } else { "s" };
    if args.execute {
        admin.reset_group_offsets(group, &plan).await.map_err(|e| match e.code() {
            Some(ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration | ErrorCode::RebalanceInProgress) => {
                format!("{context}: the group got members meanwhile; stop its consumers first")
            }
            _ => fail(e),
        })?;
        println!("reset the offsets of {n} partition{plural} of group {group:?}");
    } else {
        println!("dry run: nothing changed (add --execute to reset {n} partition{plural})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_partition_flags() {
        assert_eq!(parse_topic_partitions("orders").unwrap(), ("orders".into(), None));
        assert_eq!(parse_topic_partitions("orders:0,2").unwrap(), ("orders".into(), Some(vec![0, 2])));
        for bad in ["", ":1", "orders:", "orders:x", "orders:1,,2"] {
            assert!(parse_topic_partitions(bad).is_err(), "{bad:?} accepted");
        }
    }
}
