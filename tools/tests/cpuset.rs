//! `corelog broker --cpuset`: where the cores' threads run, read back from
//! the running process's threads, and a bad cpuset refused at start.

mod cli_support;

use cli_support::*;

/// The CPUs each thread of process `pid` whose name starts with `name` may
/// run on, as /proc lists them.
fn threads_cpus(pid: u32, name: &str) -> Vec<String> {
    let mut found = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks") {
        let dir = task.expect("task").path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !comm.trim().starts_with(name) {
            continue;
        }
        found.push(cpus_allowed(&dir.join("status")));
    }
    found
}

/// The `Cpus_allowed_list` of a /proc `status` file.
fn cpus_allowed(status: &std::path::Path) -> String {
    let status = std::fs::read_to_string(status).expect("status");
    status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")).expect("Cpus_allowed_list").trim().to_owned()
}

/// The CPUs this test process may run on, as /proc lists them.
fn own_cpus() -> String {
    cpus_allowed(std::path::Path::new("/proc/self/status"))
}

/// How long a started broker's core 0 threads may take to be all in place
/// (there and bound) before the test gives up.
const THREADS_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Asserts every thread of core 0 (its executor and glommio's helper
/// threads) may run on `expected` alone, and that there is one. It waits
/// for that, up to [`THREADS_LIMIT`], because glommio's threads bind
/// themselves to their CPUs as they start; a failure shows the broker's log
/// and, if it has ended, how (a CI run once found no core-0 thread at all).
fn assert_core0_on(broker: &mut BrokerProcess, expected: &str) {
    let deadline = std::time::Instant::now() + THREADS_LIMIT;
    loop {
        let threads = threads_cpus(broker.pid(), "core-0");
        if !threads.is_empty() && threads.iter().all(|c| c == expected) {
            return;
        }
        if let Some(status) = broker.exit_status() {
            panic!("the broker ended ({status}) with core-0 threads on {threads:?}; its log:\n{}", broker.log());
        }
        if std::time::Instant::now() > deadline {
            panic!("core-0 threads on {threads:?}, not all on {expected}; the broker's log:\n{}", broker.log());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_listed_cpu_pins_the_core_and_none_leaves_it_unpinned() {
    let cpus = corelog_runtime::allowed_cpus();
    let last = *cpus.last().expect("a CPU");
    // The last allowed CPU, not CPU 0: the default placement would pick 0.
    let mut pinned = BrokerProcess::start(&format!("cpuset = \"{last}\"\n"));
    assert_core0_on(&mut pinned, &last.to_string());
    drop(pinned);

    let mut unpinned = BrokerProcess::start("cpuset = \"none\"\n");
    assert_core0_on(&mut unpinned, &own_cpus());
    drop(unpinned);

    let mut default = BrokerProcess::start("");
    assert_core0_on(&mut default, &cpus[0].to_string());
}

#[test]
fn a_bad_cpuset_fails_the_start_with_the_reason() {
    let port = free_port().to_string();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let args = ["broker", "--data-dir", data, "--port", &port, "--cores", "1", "--kafka-port", "0", "--cpuset"];
    for (cpuset, reason) in [("2-1", "runs backwards"), ("0,0", "listed twice"), ("cpu0", "not a CPU number")] {
        let run = corelog(&[&args[..], &[cpuset]].concat(), "").fails_with(reason);
        assert!(run.stderr.contains("--cpuset"), "{}", run.stderr);
    }
    // A CPU the process may not run on: the core cannot start there.
    let absent = (corelog_runtime::allowed_cpus().last().copied().unwrap_or(0) + 1).to_string();
    corelog(&[&args[..], &[absent.as_str()]].concat(), "").fails_with(&format!("on CPU {absent}"));
}
