//! `corelog`: run a broker, administer topics and consumer groups, produce
//! and consume from the command line (like Kafka's console tools).

mod bootstrap;
mod broker;
mod cluster;
mod config;
mod consume;
mod group;
mod produce;
mod topic;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "corelog",
    version,
    about = "A thread-per-core commit log: broker and tools",
    after_help = "Client commands talk to 127.0.0.1:9192 unless given --bootstrap HOST:PORT,...\n\
                  Exit status: 0 on success, 1 on any error. Logs go to stderr; RUST_LOG filters them.\n\
                  See docs/cli.md for every command with examples."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a broker (single node). With no arguments: data in ./corelog-data,
    /// every core, ports 9192 + core.
    Broker(broker::BrokerArgs),
    /// Administer topics: create, list, describe, delete, alter.
    Topic(topic::TopicArgs),
    /// Send lines of stdin as records to a topic.
    Produce(produce::ProduceArgs),
    /// Print a topic's records to stdout, one per line (alone, or as a
    /// member of a consumer group with --group).
    Consume(consume::ConsumeArgs),
    /// Administer consumer groups: list, describe (offsets and lag),
    /// delete, reset-offsets.
    Group(group::GroupArgs),
    /// The cluster: status (brokers, controller quorum) and leader
    /// elections.
    Cluster(cluster::ClusterArgs),
}

/// The allocator the broker's heap purge is written for (see
/// `corelog_broker::memory`).
#[global_allocator]
static ALLOCATOR: corelog_broker::memory::Allocator = corelog_broker::memory::Allocator;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // --help and --version (to stdout, success), or help instead of an error.
            let _ = e.print();
            std::process::exit(if e.use_stderr() { 1 } else { 0 });
        }
        Err(e) => {
            // Usage errors are one line and exit with 1, like every other error.
            eprintln!("{}", one_line(&e.render().to_string()));
            std::process::exit(1);
        }
    };
    let result = match cli.command {
        Command::Broker(args) => {
            init_logging("info");
            broker::run(args)
        }
        Command::Topic(args) => {
            init_logging("warn");
            topic::run(args)
        }
        Command::Produce(args) => {
            init_logging("warn");
            produce::run(args)
        }
        Command::Consume(args) => {
            init_logging("warn");
            consume::run(args)
        }
        Command::Group(args) => {
            init_logging("warn");
            group::run(args)
        }
        Command::Cluster(args) => {
            init_logging("warn");
            cluster::run(args)
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// The first paragraph of a clap error (the message, without the usage and
/// tips that follow) on one line.
fn one_line(rendered: &str) -> String {
    let paragraph: Vec<&str> =
        rendered.lines().map(str::trim).take_while(|l| !l.is_empty()).filter(|l| !l.is_empty()).collect();
    paragraph.join(" ")
}

/// Logs to stderr, one line per event; `RUST_LOG` filters (default: info
/// for the broker, warnings only for the client commands).
fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into());
    // Colours only on a terminal: log files and pipes get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
}
