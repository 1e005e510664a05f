//! What explains a run: the executor thread's CPU time and page faults, the
//! block device's counters, the machine's load, and the check that the data
//! directory is on a real disk.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{RAMFS_MAGIC, TMPFS_MAGIC};

#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadUsage {
    pub cpu: Duration,
    pub minor_faults: u64,
    pub major_faults: u64,
    pub vol_switches: u64,
}

impl ThreadUsage {
    pub fn now() -> ThreadUsage {
        // SAFETY: getrusage only writes the struct we hand it.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        ThreadUsage {
            cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
            minor_faults: ru.ru_minflt as u64,
            major_faults: ru.ru_majflt as u64,
            vol_switches: ru.ru_nvcsw as u64,
        }
    }

    pub fn since(self, start: ThreadUsage) -> ThreadUsage {
        ThreadUsage {
            cpu: self.cpu.saturating_sub(start.cpu),
            minor_faults: self.minor_faults - start.minor_faults,
            major_faults: self.major_faults - start.major_faults,
            vol_switches: self.vol_switches - start.vol_switches,
        }
    }
}

/// Block-device counters (`/sys/dev/block/M:m/stat`) of the disk under
/// `--dir`: what actually reached the device in a phase.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiskStats {
    pub writes: u64,
    pub write_sectors: u64,
    pub flushes: u64,
    pub flush_ms: u64,
}

impl DiskStats {
    pub fn path_for(dir: &Path) -> Option<PathBuf> {
        use std::os::unix::fs::MetadataExt;
        let dev = std::fs::metadata(dir).ok()?.dev();
        let (major, minor) = (libc::major(dev), libc::minor(dev));
        let p = PathBuf::from(format!("/sys/dev/block/{major}:{minor}/stat"));
        p.exists().then_some(p)
    }

    pub fn read(path: Option<&Path>) -> Option<DiskStats> {
        let text = std::fs::read_to_string(path?).ok()?;
        let f: Vec<u64> = text.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        Some(DiskStats {
            writes: *f.get(4)?,
            write_sectors: *f.get(6)?,
            // Flush fields exist since Linux 5.5.
            flushes: f.get(15).copied().unwrap_or(0),
            flush_ms: f.get(16).copied().unwrap_or(0),
        })
    }

    pub fn since(self, start: DiskStats) -> DiskStats {
        DiskStats {
            writes: self.writes.saturating_sub(start.writes),
            write_sectors: self.write_sectors.saturating_sub(start.write_sectors),
            flushes: self.flushes.saturating_sub(start.flushes),
            flush_ms: self.flush_ms.saturating_sub(start.flush_ms),
        }
    }

    pub fn describe(&self) -> String {
        let bytes = self.write_sectors * 512;
        let avg_kib = if self.writes > 0 { bytes as f64 / self.writes as f64 / 1024.0 } else { 0.0 };
        format!(
            "device: {} writes ({:.0} KiB avg, {:.1} MiB)  {} cache flushes ({} ms)",
            self.writes,
            avg_kib,
            bytes as f64 / (1 << 20) as f64,
            self.flushes,
            self.flush_ms
        )
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({ "writes": self.writes, "write_bytes": self.write_sectors * 512,
            "flushes": self.flushes, "flush_ms": self.flush_ms })
    }
}

/// Whole-device counters around a phase; None where sysfs is unavailable.
pub struct DiskProbe {
    pub path: Option<PathBuf>,
    pub start: Option<DiskStats>,
}

impl DiskProbe {
    pub fn start(dir: &Path) -> DiskProbe {
        let path = DiskStats::path_for(dir);
        let start = DiskStats::read(path.as_deref());
        DiskProbe { path, start }
    }

    pub fn finish(self) -> Option<DiskStats> {
        Some(DiskStats::read(self.path.as_deref())?.since(self.start?))
    }
}

pub fn check_real_disk(dir: &Path) -> io::Result<()> {
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).map_err(io::Error::other)?;
    // SAFETY: statfs writes only into the struct we hand it.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let magic = st.f_type as i64;
    if magic == TMPFS_MAGIC || magic == RAMFS_MAGIC {
        return Err(io::Error::other(format!(
            "{} is on tmpfs/ramfs; --dir must be on a real disk for O_DIRECT",
            dir.display()
        )));
    }
    Ok(())
}

/// Removes a phase's files and makes the deletion (and any discard it
/// triggers) settle before the next phase starts timing.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
