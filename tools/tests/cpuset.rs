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

/// Asserts every thread of core 0 (its executor and glommio's helper
/// threads) may run on `expected` alone, and that there is one.
fn assert_core0_on(pid: u32, expected: &str) {
    let threads = threads_cpus(pid, "core-0");
    assert!(!threads.is_empty(), "no core-0 thread in process {pid}");
    assert!(threads.iter().all(|c| c == expected), "core-0 threads on {threads:?}, not {expected}");
}

#[test]
fn a_listed_cpu_pins_the_core_and_none_leaves_it_unpinned() {
    let cpus = corelog_runtime::allowed_cpus();
    let last = *cpus.last().expect("a CPU");
    // The last allowed CPU, not CPU 0: the default placement would pick 0.
    let pinned = BrokerProcess::start(&format!("cpuset = \"{last}\"\n"));
    assert_core0_on(pinned.pid(), &last.to_string());
    drop(pinned);

    let unpinned = BrokerProcess::start("cpuset = \"none\"\n");
    assert_core0_on(unpinned.pid(), &own_cpus());
    drop(unpinned);

    let default = BrokerProcess::start("");
    assert_core0_on(default.pid(), &cpus[0].to_string());
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
