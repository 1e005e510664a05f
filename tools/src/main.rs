//! `corelog`: run a broker, administer topics, produce and consume from the
//! command line (like Kafka's console tools).

mod broker;
mod config;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "corelog", version, about = "A thread-per-core commit log: broker and tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a broker (single node). With no arguments: data in ./corelog-data,
    /// every core, ports 9092 + core.
    Broker(broker::BrokerArgs),
}

fn main() {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Broker(args) => broker::run(args),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Logs to stderr, one line per event; `RUST_LOG` filters (default info).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
