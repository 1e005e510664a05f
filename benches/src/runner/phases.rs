//! The phases of a run, in order: broker start, warm-up, measured load,
//! catch-up, raw baseline, and storing the result.

use super::*;

/// How long the followers have, after the last ack, to show the leader's
/// log end (a follower that needs longer is out of sync).
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(30);

impl Ctx<'_> {
    fn say(&mut self, line: String) {
        println!("{line}");
        self.lines.push(line);
    }

    fn note(&self, line: &str) {
        if self.opts.verbose {
            eprintln!("corelog-bench: {line}");
        }
    }

    fn display(&self) -> Display {
        if self.opts.verbose && self.w.topics == 1 {
            Display::Plain
        } else {
            Display::Quiet
        }
    }

    fn topics(&self, suffix: &str) -> Vec<String> {
        (0..self.w.topics)
            .map(|i| match self.w.topics {
                1 => format!("{}{suffix}", self.topic_base),
                _ => format!("{}{suffix}-{i}", self.topic_base),
            })
            .collect()
    }

    pub(super) fn run_phases(
        &mut self,
        source: &str,
        started: SystemTime,
        timestamp: &str,
    ) -> Result<BenchResult, String> {
        let w = self.w;
        let loadavg_start = loadavg();
        let broker_dir = self.run_dir.join("broker");
        let log = matches!(self.opts.broker, BrokerMode::Child { .. } | BrokerMode::Cluster { .. })
            .then(|| self.result_dir.join("broker.log"));
        let mut broker = BenchBroker::start(self.opts.broker.clone(), &broker_dir, self.opts.cores, log)?;
        let in_process = self.opts.broker == BrokerMode::InProcess;
        self.say(format!("workload {} ({source}): {}", w.name, describe(w)));
        let info = broker.info();
        self.say(format!(
            "broker: {}{}, {} ({})",
            info.mode,
            match (info.pid, info.pids.is_empty()) {
                (Some(p), _) => format!(" pid {p}"),
                (None, false) => format!(" of {} nodes, pids {:?}, each", info.pids.len(), info.pids),
                (None, true) => String::new(),
            },
            info.cores.map(|c| format!("{c} cores")).unwrap_or_else(|| "not started here".into()),
            info.bootstrap.join(",")
        ));

        // Calibration for "half-max".
        let mut calibration = None;
        let rate = match w.producer_rate {
            _ if self.opts.rate.is_some() => self.opts.rate,
            Rate::Max => None,
            Rate::PerSec(r) => Some(r),
            Rate::HalfMax => {
                let topics = self.topics("-max");
                self.warmup(&broker, &topics, None, "calibration-warmup")?;
                self.note(&format!("calibration: max rate for {} s", w.duration));
                let meter = Meter::start(&self.run_dir, &broker);
                let load = self.load(&broker, &topics, None, w.measured_limit(), "calibration")?;
                let phase = produce_phase(&load.produce, None, meter.finish(&broker, in_process));
                self.write_hgrm("calibration-produce-latency.hgrm", &load.produce.hist)?;
                let half = phase.throughput.records_per_sec / 2.0;
                self.say(format!(
                    "calibration at max rate: {:.0} records/s ({:.2} MB/s); half: {half:.0} records/s",
                    phase.throughput.records_per_sec, phase.throughput.mb_per_sec
                ));
                if !(half.is_finite() && half > 0.0) {
                    return Err("the calibration run acknowledged no records".into());
                }
                calibration = Some(phase);
                broker.restart_empty()?;
                Some(half)
            }
        };

        // Warm-up and the measured phase.
        let topics = self.topics("");
        self.warmup(&broker, &topics, rate, "warmup")?;
        self.note(&format!("measured phase: {} s", w.duration));
        let meter = Meter::start(&self.run_dir, &broker);
        let load = self.load(&broker, &topics, rate, w.measured_limit(), "measured")?;
        let produce = produce_phase(&load.produce, rate, meter.finish(&broker, in_process));
        let replication = self.replication(&broker, &topics)?;
        self.write_hgrm("produce-latency.hgrm", &load.produce.hist)?;
        let e2e = match &load.live {
            Some((s, co)) => {
                let name = if *co { "e2e-latency.hgrm" } else { "consume-latency.hgrm" };
                self.write_hgrm(name, &s.hist)?;
                Some(EndToEnd {
                    throughput: s.throughput(),
                    records_missing: s.missing,
                    co_corrected: *co,
                    latency: LatencySummary::of(&s.hist),
                })
            }
            None => None,
        };

        // Catch-up from disk.
        let consume = if w.consumer_backlog {
            let restarted = broker.owned();
            if restarted {
                self.note("restarting the broker (cold caches) before the catch-up read");
                broker.restart()?;
            }
            self.note("catch-up read from the start of the log");
            let meter = Meter::start(&self.run_dir, &broker);
            let (stream, expected, timed_out, rebalance_ms) = self.catch_up(&broker, &topics)?;
            let measured = meter.finish(&broker, in_process);
            self.write_hgrm("catch-up-latency.hgrm", &stream.hist)?;
            Some(ConsumePhase {
                throughput: stream.throughput(),
                expected,
                timed_out,
                broker_restarted: restarted,
                rebalance_ms,
                latency: LatencySummary::of(&stream.hist),
                device: measured.device,
                cpu: measured.cpu,
                broker_side: measured.broker_side,
            })
        } else {
            None
        };
        let broker_info = broker.info();
        broker.stop()?;
        drop(broker);
        if !self.opts.keep_data {
            let _ = std::fs::remove_dir_all(&broker_dir);
        }

        // The raw baseline, on the same disk, with the broker gone.
        let moved = produce.throughput.bytes.max(consume.as_ref().map_or(0, |c| c.throughput.bytes));
        let raw = if self.opts.raw.enabled { Some(self.raw_baseline(moved)?) } else { None };

        let ratios = Ratios::of(Some(&produce), e2e.as_ref(), consume.as_ref(), raw.as_ref());
        self.report(calibration.as_ref(), &produce, e2e.as_ref(), consume.as_ref(), raw.as_ref(), &ratios);
        if let Some(r) = &replication {
            self.replication_lines(r);
        }
        self.say(format!("results: {}", self.result_dir.display()));
        let (git_commit, git_dirty) = git_state();
        let mut result = BenchResult {
            tool: "corelog-bench".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            workload: w.clone(),
            workload_source: source.into(),
            started_at: iso_utc(started),
            timestamp: timestamp.into(),
            git_commit,
            git_dirty,
            machine: Machine {
                cores: corelog_runtime::available_cores(),
                kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|s| s.trim().to_owned()),
                loadavg_start,
                loadavg_end: loadavg(),
            },
            broker: broker_info,
            calibration,
            produce: Some(produce),
            e2e,
            consume,
            replication,
            raw,
            ratios,
            report: self.lines.clone(),
            files: Vec::new(),
        };
        let report_text: String = self.lines.iter().map(|l| format!("{l}\n")).collect();
        write(&self.result_dir.join("report.txt"), report_text.as_bytes())?;
        result.files = list_files(&self.result_dir, RESULT_FILE);
        write(&self.result_dir.join(RESULT_FILE), result.to_json()?.as_bytes())?;
        Ok(result)
    }

    fn warmup(
        &mut self,
        broker: &BenchBroker,
        topics: &[String],
        rate: Option<f64>,
        phase: &str,
    ) -> Result<(), String> {
        if self.w.warmup <= 0.0 {
            return Ok(());
        }
        self.note(&format!("{phase}: {} s, not measured", self.w.warmup));
        let warmup = Limit::Duration(Duration::from_secs_f64(self.w.warmup));
        let load = self.load(broker, topics, rate, warmup, phase)?;
        if load.produce.records == 0 {
            return Err(format!("{phase}: no record was acknowledged ({:?})", load.produce.first_error));
        }
        Ok(())
    }

    /// Runs the producers (and live consumers) on every topic for `secs`.
    fn load(
        &self,
        broker: &BenchBroker,
        topics: &[String],
        rate: Option<f64>,
        limit: Limit,
        phase: &str,
    ) -> Result<Load, String> {
        let w = self.w;
        let bootstrap = broker.bootstrap();
        let per_topic_rate = rate.map(|r| r / topics.len() as f64);
        let out = self.result_dir.join("perf").join(phase);
        let display = self.display();
        let handles: Vec<_> = topics
            .iter()
            .enumerate()
            .map(|(i, topic)| {
                let out = if topics.len() == 1 { out.clone() } else { out.join(format!("topic-{i}")) };
                let (w, bootstrap, topic) = (w.clone(), bootstrap.clone(), topic.clone());
                std::thread::spawn(move || load_topic(&w, &bootstrap, &topic, per_topic_rate, limit, &out, display))
            })
            .collect();
        let mut load = Load { produce: Stream::new(), live: None };
        let mut first_err = None;
        for h in handles {
            match h.join().map_err(|_| "a load thread panicked".to_string()).and_then(|r| r) {
                Ok((produce, live)) => {
                    let p = produce.summary.produce.as_ref().ok_or("a produce run without producer results")?;
                    let s = &mut load.produce;
                    s.records += p.records_acked;
                    s.bytes += p.bytes;
                    s.elapsed_s = s.elapsed_s.max(p.elapsed_s);
                    s.failed += p.records_failed;
                    if s.first_error.is_none() {
                        s.first_error = p.first_error.clone();
                    }
                    s.add_hist(&produce, "produce");
                    if let Some(live) = live {
                        let (stream, _) = load.live.get_or_insert_with(|| (Stream::new(), live.summary.e2e.is_some()));
                        if let Some(e) = &live.summary.e2e {
                            stream.records += e.records_received;
                            stream.bytes += e.bytes;
                            stream.elapsed_s = stream.elapsed_s.max(e.elapsed_s);
                            stream.missing += e.records_missing;
                            stream.add_hist(&live, "e2e");
                        } else if let Some(c) = &live.summary.consume {
                            stream.records += c.records;
                            stream.bytes += c.bytes;
                            stream.elapsed_s = stream.elapsed_s.max(c.fetch_time_ms as f64 / 1000.0);
                            stream.add_hist(&live, "consume");
                        }
                    }
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(format!("{phase}: {e}")),
            None => Ok(load),
        }
    }

    /// Reads every topic from the start, all topics at once.
    fn catch_up(&self, broker: &BenchBroker, topics: &[String]) -> Result<(Stream, Option<u64>, bool, u64), String> {
        let bootstrap = broker.bootstrap();
        let out = self.result_dir.join("perf").join("catch-up");
        let display = self.display();
        let fetch_size = self.w.fetch_bytes();
        let handles: Vec<_> = topics
            .iter()
            .enumerate()
            .map(|(i, topic)| {
                let out = if topics.len() == 1 { out.clone() } else { out.join(format!("topic-{i}")) };
                let config = ConsumeConfig {
                    common: common(&bootstrap, topic, &out, display),
                    from: StartFrom::Earliest,
                    fetch_size,
                    timeout: Duration::from_secs(10),
                    ..ConsumeConfig::default()
                };
                std::thread::spawn(move || corelog_perf::consume::run(&config).map_err(|e| e.to_string()))
            })
            .collect();
        let mut stream = Stream::new();
        let (mut expected, mut timed_out, mut rebalance_ms) = (Some(0u64), false, 0u64);
        for h in handles {
            let report = h.join().map_err(|_| "a consumer thread panicked".to_string())??;
            let c = report.summary.consume.as_ref().ok_or("a consume run without consumer results")?;
            stream.records += c.records;
            stream.bytes += c.bytes;
            stream.elapsed_s = stream.elapsed_s.max(c.fetch_time_ms as f64 / 1000.0);
            expected = expected.zip(c.expected).map(|(a, b)| a + b);
            timed_out |= c.timed_out;
            rebalance_ms = rebalance_ms.max(c.rebalance_time_ms);
            stream.add_hist(&report, "consume");
        }
        Ok((stream, expected, timed_out, rebalance_ms))
    }

    /// Cluster mode: every replica's log end and the ISR once the
    /// measured phase's last record is acknowledged.
    fn replication(&self, broker: &BenchBroker, topics: &[String]) -> Result<Option<Replication>, String> {
        let BrokerMode::Cluster { .. } = self.opts.broker else { return Ok(None) };
        let rf = self.w.replication_factor;
        let metrics = broker.metrics_addrs();
        let converged = crate::cluster_admin::wait_converged(&metrics, topics, rf.into(), CONVERGE_TIMEOUT)?;
        let mut partitions = Vec::new();
        for (topic, ends) in &converged.ends {
            for set in crate::cluster_admin::replica_sets(&broker.bootstrap(), topic)? {
                partitions.push(PartitionReplicas {
                    topic: topic.clone(),
                    partition: set.partition,
                    replicas: set.replicas,
                    isr: set.isr,
                    log_ends: ends.get(&set.partition).cloned().unwrap_or_default(),
                });
            }
        }
        Ok(Some(Replication {
            replication_factor: rf,
            nodes: metrics.len(),
            converged_after_ms: converged.after.map(|d| d.as_secs_f64() * 1000.0),
            partitions,
        }))
    }

    fn replication_lines(&mut self, r: &Replication) {
        let converged = r.converged_after_ms.map_or_else(
            || format!("NOT equal within {CONVERGE_TIMEOUT:?}"),
            |ms| format!("equal {:.1} s after the last ack (gauges published once a second)", ms / 1000.0),
        );
        self.say(format!(
            "replication: factor {} on {} nodes; every replica's log end {converged}",
            r.replication_factor, r.nodes
        ));
        for p in &r.partitions {
            self.say(format!(
                "  {} partition {}: replicas {:?}, ISR {:?}, log ends {:?}",
                p.topic, p.partition, p.replicas, p.isr, p.log_ends
            ));
        }
    }

    fn raw_baseline(&mut self, moved: u64) -> Result<RawBaseline, String> {
        let o = &self.opts.raw;
        let mut note = None;
        let mut volume = match o.volume {
            Some(v) => {
                note = Some(format!("fixed volume {} MiB (--raw-gib)", v / MIB));
                v
            }
            None if moved < o.min_volume => {
                note = Some(format!("the run moved {} MiB; at least {} MiB measured", moved / MIB, o.min_volume / MIB));
                o.min_volume
            }
            None if moved > o.max_volume => {
                note = Some(format!(
                    "the run moved {} MiB; capped at {} MiB (--raw-max-gib)",
                    moved / MIB,
                    o.max_volume / MIB
                ));
                o.max_volume
            }
            None => moved,
        };
        if let Some(free) = free_bytes(&self.run_dir) {
            if volume > free / 10 * 8 {
                volume = (free / 10 * 8).max(64 * MIB);
                note = Some(format!("capped at {} MiB by free space", volume / MIB));
            }
        }
        let dir = self.run_dir.join("raw");
        self.note(&format!("raw baseline: O_DIRECT write and read of {} MiB in {}", volume / MIB, dir.display()));
        let b = raw::baseline(&dir, volume, o.io_bytes, o.in_flight)
            .map_err(|e| format!("raw baseline in {}: {e}", dir.display()))?;
        Ok(RawBaseline::from_baseline(&dir, &b, o.io_bytes, o.in_flight, note))
    }

    fn broker_side_lines(&mut self, side: Option<&BrokerSide>, requests: &str) {
        let Some(side) = side else { return };
        let stream = if requests == "produce" { side.produce.as_ref() } else { side.fetch.as_ref() };
        if let Some(s) = stream {
            self.say(format!("  broker-side {requests} latency: {}", s.describe("requests")));
        }
        if let Some(s) = side.fdatasync.as_ref().filter(|_| requests == "produce") {
            self.say(format!("  broker-side fdatasync: {}", s.describe("calls")));
        }
    }

    fn write_hgrm(&self, name: &str, hist: &Histogram<u64>) -> Result<(), String> {
        write(&self.result_dir.join(name), format_hgrm(hist).as_bytes())
    }

    fn report(
        &mut self,
        calibration: Option<&ProducePhase>,
        p: &ProducePhase,
        e2e: Option<&EndToEnd>,
        consume: Option<&ConsumePhase>,
        raw: Option<&RawBaseline>,
        ratios: &Ratios,
    ) {
        let of_raw = |ratio: Option<f64>, what: &str, base: Option<f64>| match (ratio, base) {
            (Some(r), Some(b)) => format!(" = {:.1}% of raw {what} ({b:.1} MB/s)", 100.0 * r),
            _ => " (no raw baseline)".into(),
        };
        if let Some(c) = calibration {
            let ratio = raw.map(|r| c.throughput.mb_per_sec / r.write.mb_per_sec);
            self.say(format!(
                "calibration (max rate): {:.0} records/s, {:.2} MB/s{}",
                c.throughput.records_per_sec,
                c.throughput.mb_per_sec,
                of_raw(ratio, "write", raw.map(|r| r.write.mb_per_sec))
            ));
        }
        let t = &p.throughput;
        let target = p.target_rate.map(|r| format!(", target {r:.0} records/s")).unwrap_or_default();
        self.say(format!(
            "produce: {} records in {:.2} s{target}: {:.0} records/s, {:.2} MB/s{}",
            t.records,
            t.elapsed_s,
            t.records_per_sec,
            t.mb_per_sec,
            of_raw(ratios.produce_vs_raw_write, "write", raw.map(|r| r.write.mb_per_sec))
        ));
        let how = if p.co_corrected { "scheduled send -> ack, CO-corrected" } else { "send -> ack" };
        self.say(format!("  latency ms ({how}): {}", percentiles(&p.latency)));
        if p.records_failed > 0 {
            self.say(format!(
                "  {} records failed; first error: {}",
                p.records_failed,
                p.first_error.clone().unwrap_or_default()
            ));
        }
        self.say(format!("  {}", machine_line(p.device.as_ref(), p.cpu.as_ref())));
        self.broker_side_lines(p.broker_side.as_ref(), "produce");
        if let Some(e) = e2e {
            let t = &e.throughput;
            let what = if e.co_corrected {
                "scheduled send -> receipt, CO-corrected"
            } else {
                "record timestamp (ms) -> receipt"
            };
            self.say(format!(
                "live consumer: {} records, {:.0} records/s, {:.2} MB/s{}{}",
                t.records,
                t.records_per_sec,
                t.mb_per_sec,
                of_raw(ratios.e2e_vs_raw_read, "read", raw.map(|r| r.read.mb_per_sec)),
                if e.records_missing > 0 {
                    format!(", {} acknowledged records missing", e.records_missing)
                } else {
                    String::new()
                }
            ));
            self.say(format!("  latency ms ({what}): {}", percentiles(&e.latency)));
        }
        if let Some(c) = consume {
            let t = &c.throughput;
            self.say(format!(
                "catch-up consume{}: {} records in {:.2} s: {:.0} records/s, {:.2} MB/s{}{}",
                if c.broker_restarted { " (broker restarted: from disk)" } else { "" },
                t.records,
                t.elapsed_s,
                t.records_per_sec,
                t.mb_per_sec,
                of_raw(ratios.consume_vs_raw_read, "read", raw.map(|r| r.read.mb_per_sec)),
                if c.timed_out { format!(", TIMED OUT short of {:?} records", c.expected) } else { String::new() }
            ));
            self.say(format!("  {}", machine_line(c.device.as_ref(), c.cpu.as_ref())));
            self.broker_side_lines(c.broker_side.as_ref(), "fetch");
        }
        if let Some(r) = raw {
            self.say(format!(
                "raw baseline: O_DIRECT {:.2} GiB in {} KiB I/Os, {} in flight: write {:.1} MB/s (p99 {} µs), \
                 read {:.1} MB/s (p99 {} µs){}",
                r.volume_bytes as f64 / GIB as f64,
                r.io_bytes / 1024,
                r.in_flight,
                r.write.mb_per_sec,
                r.write.latency_us.p99,
                r.read.mb_per_sec,
                r.read.latency_us.p99,
                r.note.as_ref().map(|n| format!("; {n}")).unwrap_or_default()
            ));
        }
    }
}
