//! `corelog-bench`: run named workloads against a fresh broker and compare
//! stored runs. See docs/bench.md.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Parser, Subcommand};
use corelog_benches::broker::BrokerMode;
use corelog_benches::chart::{self, Series};
use corelog_benches::compare::{self, Run};
use corelog_benches::runner::{self, compact_utc, RawOptions, RunOptions};
use corelog_benches::workload::{Workload, STANDARD};
use corelog_perf::cli::parse_bootstrap;
use corelog_perf::hgrm::parse_hgrm;

/// The broker's allocator (an in-process broker's heap purge is written
/// for it), which also serves the load tools here as it does corelog-perf.
#[global_allocator]
static ALLOCATOR: corelog_broker::memory::Allocator = corelog_broker::memory::Allocator;

#[derive(Parser, Debug)]
#[command(name = "corelog-bench", version, about = "Run named corelog workloads and compare the results")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a workload (a file, or the name of a standard one) and store the result.
    Run(RunArgs),
    /// Print stored runs side by side and chart their latency distributions.
    Compare(CompareArgs),
    /// List the standard workloads.
    List,
    /// Only the raw baseline: O_DIRECT sequential write, then read, of a volume.
    Raw(RawArgs),
    /// The Kafka listener (librdkafka through confluent-kafka) against the
    /// native port (corelog-perf), on one fresh broker, in the same run.
    Kafka(KafkaArgs),
}

#[derive(clap::Args, Debug)]
struct KafkaArgs {
    /// Where the fresh broker runs: in this process or as a child process.
    #[arg(long, default_value = "child", value_parser = ["in-process", "child"])]
    broker: String,
    /// The corelog binary for --broker child (default: `corelog` next to this binary).
    #[arg(long)]
    corelog_bin: Option<PathBuf>,
    /// Broker cores; each topic gets one partition per core.
    #[arg(long, default_value_t = 1)]
    cores: usize,
    /// Records per run.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Value bytes per record.
    #[arg(long, default_value_t = 1024)]
    record_size: usize,
    /// Codecs to compare (none, lz4, zstd).
    #[arg(long, value_delimiter = ',', default_value = "none,lz4", value_parser = corelog_perf::cli::parse_compression)]
    compression: Vec<corelog_client::Compression>,
    /// Runs of each path per codec (medians are reported).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The Python with confluent-kafka.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Scratch directory on the disk under test (removed afterwards).
    #[arg(long, default_value = "bench-data")]
    data_dir: PathBuf,
    /// Results go to DIR/kafka-vs-native/<timestamp>/.
    #[arg(long, default_value = "bench-results")]
    results: PathBuf,
    /// Only the final report.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(clap::Args, Debug)]
struct RawArgs {
    /// Scratch directory on the disk under test (a subdirectory is used and removed).
    #[arg(long, default_value = "bench-data")]
    data_dir: PathBuf,
    /// Volume, GiB.
    #[arg(long, default_value_t = 4.0)]
    gib: f64,
    /// Bytes per I/O, KiB (a multiple of 4).
    #[arg(long, default_value_t = 1024)]
    io_kib: usize,
    /// I/Os outstanding.
    #[arg(long, default_value_t = RawOptions::default().in_flight)]
    in_flight: usize,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Workload file, or the name of a standard workload (see `list`).
    workload: String,
    /// Use this running broker instead of starting one (host:port,…).
    #[arg(long, value_delimiter = ',', value_parser = parse_bootstrap)]
    bootstrap: Vec<SocketAddr>,
    /// Where a fresh broker runs: in this process, as a child process
    /// (`corelog broker`, see --corelog-bin), or `cluster`: three
    /// `corelog broker` children, each a controller, `--cores 1` each.
    #[arg(long, default_value = "in-process", value_parser = ["in-process", "child", "cluster"])]
    broker: String,
    /// Target rate in records/s over all topics, replacing the workload's producer_rate.
    #[arg(long, conflicts_with = "half_rate_of")]
    rate: Option<f64>,
    /// Target rate: half the measured records/s of this stored run (a run
    /// directory, or a workload's directory for its newest run), e.g. RF 1
    /// and RF 3 at half of RF 3's max.
    #[arg(long)]
    half_rate_of: Option<PathBuf>,
    /// The corelog binary for --broker child or cluster (default: `corelog` next to this binary).
    #[arg(long)]
    corelog_bin: Option<PathBuf>,
    /// Broker cores (default: all).
    #[arg(long)]
    cores: Option<usize>,
    /// Scratch directory on the disk under test (broker data, raw baseline);
    /// each run uses a subdirectory, removed afterwards.
    #[arg(long, default_value = "bench-data")]
    data_dir: PathBuf,
    /// Results go to DIR/<workload>/<timestamp>/.
    #[arg(long, default_value = "bench-results")]
    results: PathBuf,
    /// Raw baseline volume in GiB (default: what the run moved, 0.25 to --raw-max-gib).
    #[arg(long)]
    raw_gib: Option<f64>,
    /// Largest raw baseline volume when it follows the run, GiB.
    #[arg(long, default_value_t = 16.0)]
    raw_max_gib: f64,
    /// Raw baseline I/Os outstanding.
    #[arg(long, default_value_t = RawOptions::default().in_flight)]
    raw_in_flight: usize,
    /// Skip the raw baseline (no ratios).
    #[arg(long)]
    no_raw: bool,
    /// Keep the broker's data directory.
    #[arg(long)]
    keep_data: bool,
    /// Only the final report.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(clap::Args, Debug)]
struct CompareArgs {
    /// Run directories (a workload's directory stands for its newest run).
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// The latency distribution to chart: produce, e2e, consume (live
    /// consumer at max rate), catch-up, calibration-produce.
    #[arg(long, default_value = "produce")]
    stream: String,
    /// Where table.txt, latency.png and latency.svg go (default: bench-results/compare/<timestamp>).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Chart title (default: "<stream> latency by percentile").
    #[arg(long)]
    title: Option<String>,
}

fn gib(g: f64) -> Result<u64, String> {
    if g.is_finite() && g > 0.0 {
        Ok((g * (1u64 << 30) as f64) as u64)
    } else {
        Err(format!("{g}: expected a positive number of GiB"))
    }
}

/// The corelog binary a child broker runs.
fn corelog_bin(given: Option<PathBuf>) -> Result<PathBuf, String> {
    let bin = match given {
        Some(bin) => bin,
        None => std::env::current_exe().map_err(|e| e.to_string())?.with_file_name("corelog"),
    };
    if !bin.is_file() {
        return Err(format!(
            "{} not found: build it (cargo build --release -p corelog-tools) or pass --corelog-bin",
            bin.display()
        ));
    }
    Ok(bin)
}

fn kafka(args: KafkaArgs) -> Result<(), String> {
    let broker = match args.broker.as_str() {
        "child" => BrokerMode::Child { bin: corelog_bin(args.corelog_bin)? },
        _ => BrokerMode::InProcess,
    };
    if args.rounds == 0 || args.records == 0 || args.cores == 0 || args.compression.is_empty() {
        return Err("--rounds, --records, --cores and --compression must each be at least 1".into());
    }
    let options = corelog_benches::kafka_compare::KafkaCompareOptions {
        broker,
        cores: args.cores,
        records: args.records,
        record_size: args.record_size,
        compressions: args.compression,
        rounds: args.rounds,
        data_dir: args.data_dir,
        results: args.results,
        python: args.python,
        quiet: args.quiet,
    };
    let (result, dir) = corelog_benches::kafka_compare::run(&options)?;
    print!("\n{}", result.report);
    println!("\nstored in {}", dir.display());
    if result.runs.iter().any(|r| r.failed > 0) {
        return Err("some records failed (see the report)".into());
    }
    Ok(())
}

fn run(args: RunArgs) -> Result<(), String> {
    let (workload, source) = Workload::resolve(&args.workload)?;
    let broker = if !args.bootstrap.is_empty() {
        BrokerMode::External(args.bootstrap.clone())
    } else if args.broker == "child" || args.broker == "cluster" {
        let bin = corelog_bin(args.corelog_bin)?;
        if args.broker == "cluster" {
            BrokerMode::Cluster { bin }
        } else {
            BrokerMode::Child { bin }
        }
    } else {
        BrokerMode::InProcess
    };
    let rate = match &args.half_rate_of {
        Some(dir) => {
            let run = Run::load(dir)?;
            let produce = run.result.produce.as_ref().ok_or(format!("{}: no produce phase", run.dir.display()))?;
            let half = produce.throughput.records_per_sec / 2.0;
            eprintln!(
                "corelog-bench: rate {half:.0} records/s: half of {:.0} in {}",
                produce.throughput.records_per_sec,
                run.dir.display()
            );
            Some(half)
        }
        None => args.rate,
    };
    let defaults = RunOptions::default();
    let options = RunOptions {
        broker,
        cores: args.cores.unwrap_or(defaults.cores),
        data_dir: args.data_dir,
        results: args.results,
        raw: RawOptions {
            enabled: !args.no_raw,
            volume: args.raw_gib.map(gib).transpose()?,
            max_volume: gib(args.raw_max_gib)?,
            in_flight: args.raw_in_flight.max(1),
            ..RawOptions::default()
        },
        verbose: !args.quiet,
        keep_data: args.keep_data,
        rate,
    };
    let (result, _dir) = runner::run(&workload, &source, &options)?;
    let failed = result.produce.as_ref().is_some_and(|p| p.records_failed > 0)
        || result.e2e.as_ref().is_some_and(|e| e.records_missing > 0)
        || result.consume.as_ref().is_some_and(|c| c.timed_out);
    if failed {
        return Err("the run had failures (see the report)".into());
    }
    Ok(())
}

fn compare(args: CompareArgs) -> Result<(), String> {
    let runs = args.runs.iter().map(|p| Run::load(p)).collect::<Result<Vec<_>, _>>()?;
    let table = compare::table(&runs);
    print!("{table}");
    let out =
        args.output.unwrap_or_else(|| PathBuf::from("bench-results/compare").join(compact_utc(SystemTime::now())));
    std::fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    std::fs::write(out.join("table.txt"), &table).map_err(|e| e.to_string())?;
    let file = format!("{}-latency.hgrm", args.stream);
    let mut series = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let path = run.dir.join(&file);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let hgrm = parse_hgrm(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                series.push(Series::from_hgrm(&run.label(i), &hgrm));
            }
            Err(_) => eprintln!("note: {} has no {file}; left out of the chart", run.dir.display()),
        }
    }
    let (png, svg) = (out.join("latency.png"), out.join("latency.svg"));
    let title = args.title.unwrap_or_else(|| format!("{} latency by percentile", args.stream));
    chart::render(&series, &title, &png, &svg)?;
    println!("\nchart: {} and {}", png.display(), svg.display());
    Ok(())
}

fn raw(args: RawArgs) -> Result<(), String> {
    if args.io_kib == 0 || !args.io_kib.is_multiple_of(4) || args.in_flight == 0 {
        return Err("--io-kib must be a positive multiple of 4 and --in-flight at least 1".into());
    }
    std::fs::create_dir_all(&args.data_dir).map_err(|e| format!("{}: {e}", args.data_dir.display()))?;
    corelog_benches::probes::check_real_disk(&args.data_dir).map_err(|e| e.to_string())?;
    let dir = args.data_dir.join(format!("raw-{}", compact_utc(SystemTime::now())));
    let io_bytes = args.io_kib * 1024;
    let b = corelog_benches::raw::baseline(&dir, gib(args.gib)?, io_bytes, args.in_flight)
        .map_err(|e| format!("raw baseline in {}: {e}", dir.display()))?;
    let mb = |bytes: u64, s: std::time::Duration| bytes as f64 / (1u64 << 20) as f64 / s.as_secs_f64();
    let (w, r) = (&b.write, &b.read);
    println!(
        "raw O_DIRECT {:.2} GiB, {} KiB I/Os, {} in flight: write {:.1} MB/s (p50 {} p99 {} max {} µs), read {:.1} MB/s \
         (p50 {} p99 {} max {} µs)  [MB = 2^20 bytes]",
        w.bytes as f64 / (1u64 << 30) as f64,
        args.io_kib,
        args.in_flight,
        mb(w.bytes, w.elapsed),
        w.write_latency.p50,
        w.write_latency.p99,
        w.write_latency.max,
        mb(r.bytes, r.elapsed),
        r.read_latency.p50,
        r.read_latency.p99,
        r.read_latency.max
    );
    Ok(())
}

fn list() {
    for (name, text) in STANDARD {
        let description =
            Workload::from_toml(text).map(|w| w.description).unwrap_or_else(|e| format!("(invalid: {e})"));
        println!("{name:<24} {description}");
    }
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Run(args) => run(args),
        Command::Compare(args) => compare(args),
        Command::List => {
            list();
            Ok(())
        }
        Command::Raw(args) => raw(args),
        Command::Kafka(args) => kafka(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("corelog-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
