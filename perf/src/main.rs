//! `corelog-perf`: see docs/perf.md. A thin wrapper over the library.

use clap::Parser;
use corelog_perf::cli::{self, Cli};

/// jemalloc, as the broker: the load tool allocates and frees a batch's
/// buffers for every ~1 MiB it sends, and under glibc's malloc those came
/// back as fresh pages (page faults, zeroing, munmap: 6-8% of the producer
/// thread, 1 KiB records), on the thread that bounds a 1-partition run.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    match cli::run(cli) {
        Ok(report) if report.had_failures() => std::process::exit(1),
        Ok(_) => {}
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
