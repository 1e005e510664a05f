//! What explains a run: the executor thread's CPU time and page faults, the
//! block device's counters, the CPU time of processes and threads, the
//! machine's load, the check that the data directory is on a real disk, and
//! its free space.
//! Shared by `engine-bench` and `corelog-bench`.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `statfs` magic of tmpfs.
pub const TMPFS_MAGIC: i64 = 0x0102_1994;
/// `statfs` magic of ramfs.
pub const RAMFS_MAGIC: i64 = 0x8584_58f6;

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
    pub reads: u64,
    pub read_sectors: u64,
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
            reads: *f.first()?,
            read_sectors: *f.get(2)?,
            writes: *f.get(4)?,
            write_sectors: *f.get(6)?,
            // Flush fields exist since Linux 5.5.
            flushes: f.get(15).copied().unwrap_or(0),
            flush_ms: f.get(16).copied().unwrap_or(0),
        })
    }

    pub fn since(self, start: DiskStats) -> DiskStats {
        DiskStats {
            reads: self.reads.saturating_sub(start.reads),
            read_sectors: self.read_sectors.saturating_sub(start.read_sectors),
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

/// `statfs(2)` of the filesystem holding `dir`.
fn statfs(dir: &Path) -> io::Result<libc::statfs> {
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).map_err(io::Error::other)?;
    // SAFETY: statfs writes only into the struct we hand it.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

/// Bytes an unprivileged writer may still use on the filesystem of `dir`.
pub fn free_bytes(dir: &Path) -> io::Result<u64> {
    let st = statfs(dir)?;
    // The block counts are in f_frsize units (f_bsize where a kernel leaves it 0).
    let unit = if st.f_frsize > 0 { st.f_frsize } else { st.f_bsize };
    Ok(st.f_bavail as u64 * unit as u64)
}

pub fn check_real_disk(dir: &Path) -> io::Result<()> {
    let st = statfs(dir)?;
    let magic = st.f_type as i64;
    if magic == TMPFS_MAGIC || magic == RAMFS_MAGIC {
        return Err(io::Error::other(format!(
            "{} is on tmpfs/ramfs; --dir must be on a real disk for O_DIRECT",
            dir.display()
        )));
    }
    Ok(())
}

/// The 1/5/15-minute load averages as text ("0.52 1.10 1.31").
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// A `/proc/…/stat` line's command name and the fields after it (state,
/// ppid, …: field 3 of stat(5) on). `pid (comm) state ppid …`: comm may
/// hold spaces and parentheses.
fn split_proc_stat(text: &str) -> Option<(&str, std::str::SplitWhitespace<'_>)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    Some((text.get(open + 1..close)?, text.get(close + 1..)?.split_whitespace()))
}

/// The parent pid in a `/proc/…/stat` line.
pub fn parent_pid(text: &str) -> Option<u32> {
    split_proc_stat(text)?.1.nth(1)?.parse().ok()
}

/// The command name and CPU time (user + system) in a `/proc/…/stat` line.
pub fn parse_proc_stat(text: &str) -> Option<(String, Duration)> {
    let (comm, fields) = split_proc_stat(text)?;
    let comm = comm.to_owned();
    let fields: Vec<&str> = fields.collect();
    // After comm: state is field 3 of stat(5); utime and stime are 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let total = utime + stime;
    Some((comm, Duration::from_secs(total / ticks) + Duration::from_nanos((total % ticks) * 1_000_000_000 / ticks)))
}

/// CPU time a process has used so far (its threads, exited ones included).
pub fn process_cpu(pid: u32) -> Option<Duration> {
    parse_proc_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?).map(|(_, cpu)| cpu)
}

/// CPU time of a process's live threads whose name starts with `prefix`.
pub fn threads_cpu(pid: u32, prefix: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        if let Some((comm, cpu)) = parse_proc_stat(&text) {
            if comm.starts_with(prefix) {
                total += cpu;
            }
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parent_pid_past_an_odd_command_name() {
        assert_eq!(parent_pid("123 (core-0 (x) y) S 77 123 123 0 -1"), Some(77));
        assert_eq!(parent_pid("garbage"), None);
    }

    #[test]
    fn this_process_parents_a_child_it_spawned() {
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
        assert_eq!(parent_pid(&stat), Some(std::process::id()));
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn free_space_of_a_real_directory_is_read() {
        let dir = std::env::temp_dir();
        let free = free_bytes(&dir).unwrap();
        assert!(free > 0, "{} reports no free space", dir.display());
        assert!(free_bytes(Path::new("/no/such/dir")).is_err());
    }

    #[test]
    fn proc_stat_lines_parse() {
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        let line =
            format!("4242 (core-1 (x)) S 1 4242 4242 0 -1 4194368 100 0 0 0 {} {} 0 0 20 0 3 0", 3 * ticks, ticks);
        let (comm, cpu) = parse_proc_stat(&line).unwrap();
        assert_eq!(comm, "core-1 (x)");
        assert_eq!(cpu, Duration::from_secs(4));
        assert!(parse_proc_stat("garbage").is_none());
        assert!(process_cpu(std::process::id()).is_some());
        assert!(threads_cpu(std::process::id(), "").is_some());
    }

    #[test]
    fn machine_cpu_parses_proc_stat() {
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        let t = |n: u64| n * ticks;
        let stat =
            format!("cpu  {} 0 {} {} {} 0 {} 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n", t(10), t(5), t(100), t(2), t(1));
        let m = MachineCpu::parse(&stat).unwrap();
        assert_eq!(
            (m.busy, m.idle, m.iowait),
            (Duration::from_secs(16), Duration::from_secs(102), Duration::from_secs(2))
        );
        assert!(MachineCpu::now().is_some());
    }
}

/// Machine-wide CPU time from the first line of `/proc/stat`: busy
/// (user, nice, system, irq, softirq, steal) and idle (idle, iowait).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MachineCpu {
    pub busy: Duration,
    pub idle: Duration,
    pub iowait: Duration,
}

impl MachineCpu {
    pub fn now() -> Option<MachineCpu> {
        MachineCpu::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    pub fn parse(stat: &str) -> Option<MachineCpu> {
        let line = stat.lines().find(|l| l.starts_with("cpu "))?;
        let f: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
        let get = |i: usize| f.get(i).copied().unwrap_or(0);
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        let d = |t: u64| Duration::from_nanos(t.saturating_mul(1_000_000_000 / ticks));
        // user nice system idle iowait irq softirq steal (guest time is in user)
        Some(MachineCpu {
            busy: d(get(0) + get(1) + get(2) + get(5) + get(6) + get(7)),
            idle: d(get(3) + get(4)),
            iowait: d(get(4)),
        })
    }

    pub fn since(self, start: MachineCpu) -> MachineCpu {
        MachineCpu {
            busy: self.busy.saturating_sub(start.busy),
            idle: self.idle.saturating_sub(start.idle),
            iowait: self.iowait.saturating_sub(start.iowait),
        }
    }
}
