//! Small helpers of a run: loading one topic, summaries, files, time.

use super::*;

/// One topic's load: the producers' report, and the live consumer's.
pub(super) fn load_topic(
    w: &Workload,
    bootstrap: &[SocketAddr],
    topic: &str,
    rate: Option<f64>,
    limit: Limit,
    out: &Path,
    display: Display,
) -> Result<(RunReport, Option<RunReport>), String> {
    let producer = w.producer_settings(rate, limit)?;
    // corelog-perf creates topics with one replica: a replicated one is
    // created here first, and used once every replica is in sync.
    if w.replication_factor > 1 {
        let s = w.topic_settings();
        crate::cluster_admin::ensure_replicated_topic(
            bootstrap,
            topic,
            w.partitions_per_topic,
            w.replication_factor,
            &s.configs,
        )?;
    }
    // The topic must exist before a consumer can be assigned to it.
    corelog_perf::topic::ensure(bootstrap, topic, &w.topic_settings()).map_err(|e| e.to_string())?;
    let live = w.consumers > 0 && !w.consumer_backlog;
    match (live, rate) {
        (false, _) => {
            let config =
                ProduceConfig { common: common(bootstrap, topic, out, display), topic: w.topic_settings(), producer };
            Ok((corelog_perf::produce::run(&config).map_err(|e| e.to_string())?, None))
        }
        (true, Some(_)) => {
            let config = E2eConfig {
                common: common(bootstrap, topic, out, display),
                topic: w.topic_settings(),
                producer,
                fetch_size: w.fetch_bytes(),
                timeout: Duration::from_secs(10),
            };
            let report = corelog_perf::e2e::run(&config).map_err(|e| e.to_string())?;
            Ok((report.clone(), Some(report)))
        }
        (true, None) => {
            // No schedule at max rate, so no e2e mode: a consumer from the
            // log end beside the producers, until 2 s pass without records.
            let consume = ConsumeConfig {
                common: common(bootstrap, topic, &out.join("consume"), Display::Quiet),
                from: StartFrom::Latest,
                fetch_size: w.fetch_bytes(),
                timeout: Duration::from_secs(2),
                ..ConsumeConfig::default()
            };
            let consumer = std::thread::spawn(move || corelog_perf::consume::run(&consume).map_err(|e| e.to_string()));
            // Let it connect and find the log ends first.
            std::thread::sleep(Duration::from_millis(500));
            let config =
                ProduceConfig { common: common(bootstrap, topic, out, display), topic: w.topic_settings(), producer };
            let produced = corelog_perf::produce::run(&config).map_err(|e| e.to_string());
            let consumed = consumer.join().map_err(|_| "the consumer thread panicked".to_string())?;
            Ok((produced?, Some(consumed?)))
        }
    }
}

pub(crate) fn common(bootstrap: &[SocketAddr], topic: &str, out: &Path, display: Display) -> Common {
    Common {
        bootstrap: bootstrap.to_vec(),
        topic: topic.into(),
        reporting_interval: Duration::from_secs(5),
        output: Some(out.to_path_buf()),
        display,
    }
}

pub(super) fn produce_phase(s: &Stream, rate: Option<f64>, m: Measured) -> ProducePhase {
    ProducePhase {
        throughput: s.throughput(),
        target_rate: rate,
        co_corrected: rate.is_some(),
        records_failed: s.failed,
        first_error: s.first_error.clone(),
        latency: LatencySummary::of(&s.hist),
        device: m.device,
        cpu: m.cpu,
        broker_side: m.broker_side,
    }
}

/// `p50 1.23  p95 …  p99 …  p99.9 …  p99.99 …  max …`
pub fn percentiles(l: &LatencySummary) -> String {
    format!(
        "p50 {:.2}  p95 {:.2}  p99 {:.2}  p99.9 {:.2}  p99.99 {:.2}  max {:.2}",
        l.p50_ms, l.p95_ms, l.p99_ms, l.p999_ms, l.p9999_ms, l.max_ms
    )
}

pub(super) fn machine_line(device: Option<&DeviceIo>, cpu: Option<&CpuUse>) -> String {
    let device = device.map_or("device: n/a".into(), |d| {
        format!(
            "device: wrote {:.0} MB ({:.1} MB/s, {} writes, {} flushes), read {:.0} MB ({:.1} MB/s)",
            d.written_mb, d.write_mb_per_sec, d.writes, d.flushes, d.read_mb, d.read_mb_per_sec
        )
    });
    let cpu = cpu.map_or("cpu: n/a".into(), |c| {
        format!(
            "cpu (cores): broker {}, load tools {:.2}, machine busy {} (iowait {})",
            c.broker_cores.map_or("n/a".into(), |b| format!("{b:.2}")),
            c.tools_cores,
            c.machine_busy_cores.map_or("n/a".into(), |b| format!("{b:.2}")),
            c.machine_iowait_cores.map_or("n/a".into(), |b| format!("{b:.2}")),
        )
    });
    format!("{device}; {cpu}")
}

pub(super) fn describe(w: &Workload) -> String {
    let rate = match w.producer_rate {
        Rate::Max => "max".to_string(),
        Rate::HalfMax => "half of max".to_string(),
        Rate::PerSec(r) => format!("{r} records/s"),
    };
    format!(
        "{} topic(s) x {} partitions, {} B records, {} producer(s) and {} consumer(s) per topic, rate {rate}, acks {}, \
         flush {}{}; warm-up {} s, measured {} s",
        w.topics,
        w.partitions_per_topic,
        w.message_size,
        w.producers,
        w.consumers,
        w.acks,
        w.flush_policy.config_value(),
        if w.consumer_backlog { ", then a catch-up read" } else { "" },
        w.warmup,
        w.duration
    )
}

pub(super) fn write(path: &Path, data: &[u8]) -> Result<(), String> {
    std::fs::write(path, data).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// File names in `dir` (and `perf/…` below it), plus `extra`, sorted.
pub(super) fn list_files(dir: &Path, extra: &str) -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let name = format!("{prefix}{}", e.file_name().to_string_lossy());
            if e.path().is_dir() {
                walk(&e.path(), &format!("{name}/"), out);
            } else {
                out.push(name);
            }
        }
    }
    let mut files = vec![extra.to_owned()];
    walk(dir, "", &mut files);
    files.sort();
    files.dedup();
    files
}

/// `dir`, or `dir-2`, `dir-3`, … if it exists; created.
pub(super) fn unique_dir(dir: &Path) -> Result<PathBuf, String> {
    let mut candidate = dir.to_path_buf();
    let mut n = 1;
    while candidate.exists() {
        n += 1;
        candidate = PathBuf::from(format!("{}-{n}", dir.display()));
    }
    std::fs::create_dir_all(&candidate).map_err(|e| format!("creating {}: {e}", candidate.display()))?;
    Ok(candidate)
}

pub(super) fn free_bytes(dir: &Path) -> Option<u64> {
    let dir = if dir.exists() { dir } else { dir.parent()? };
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: statvfs writes only into the struct we hand it.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    (unsafe { libc::statvfs(c.as_ptr(), &mut st) } == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

/// The commit checked out in the current directory, and whether the work
/// tree has uncommitted changes.
pub(super) fn git_state() -> (Option<String>, Option<bool>) {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "HEAD"]).filter(|c| !c.is_empty());
    let dirty =
        commit.as_ref().and_then(|_| git(&["status", "--porcelain", "--untracked-files=no"])).map(|s| !s.is_empty());
    (commit, dirty)
}

/// (year, month, day, hour, minute, second) in UTC.
pub(super) fn utc_fields(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = corelog_perf::clock::civil_from_days(days);
    (year, month, day, (rem / 3600) as u32, (rem % 3600 / 60) as u32, (rem % 60) as u32)
}

/// `20261122T040743Z`: sorts by time, safe in file and topic names.
pub fn compact_utc(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = utc_fields(t);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// `2026-11-22T04:07:43Z`.
pub fn iso_utc(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = utc_fields(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}
