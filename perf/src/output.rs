//! `--output DIR`: `summary.json`, one `<stream>-latency.hgrm` per latency
//! stream (and the `<stream>-latency.hlog` interval logs, written while the
//! run goes by [`crate::monitor`]).

use std::path::{Path, PathBuf};

use crate::error::{PerfError, PerfResult};
use crate::hgrm::format_hgrm;
use crate::summary::RunReport;

/// Creates the output directory.
pub fn prepare(dir: &Path) -> PerfResult<()> {
    std::fs::create_dir_all(dir).map_err(|e| PerfError::new(format!("creating {}: {e}", dir.display())))
}

/// Writes the `.hgrm` files and `summary.json` (listing every file, the
/// interval logs in `hlogs` included) into `dir`.
pub fn write(dir: &Path, report: &mut RunReport, hlogs: &[PathBuf]) -> PerfResult<()> {
    let mut files: Vec<String> =
        hlogs.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into()).collect();
    for (name, hist) in &report.histograms {
        let file = format!("{name}-latency.hgrm");
        write_file(&dir.join(&file), format_hgrm(hist).as_bytes())?;
        files.push(file);
    }
    files.push("summary.json".into());
    files.sort();
    report.summary.files = files;
    let json = serde_json::to_string_pretty(&report.summary).map_err(|e| PerfError::new(e.to_string()))?;
    write_file(&dir.join("summary.json"), format!("{json}\n").as_bytes())
}

fn write_file(path: &Path, data: &[u8]) -> PerfResult<()> {
    std::fs::write(path, data).map_err(|e| PerfError::new(format!("writing {}: {e}", path.display())))
}
