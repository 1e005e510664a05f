//! A full disk through the real binary: a broker whose data directory is a
//! small ext4 file system of its own (a loop mount) fills it, refuses writes
//! with clear errors, and once space is freed accepts them again without a
//! restart; every acknowledged record is still there.
//!
//! Needs root (mount); as another user the test says so and does nothing.

mod cli_support;
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cli_support::corelog;
use support::BrokerProc;

/// Size of the file system the broker writes to.
const FS_BYTES: u64 = 48 * 1024 * 1024;

/// A loop-mounted ext4 image, unmounted and removed on drop.
struct SmallDisk {
    image: PathBuf,
    mount: PathBuf,
}

impl SmallDisk {
    fn new(dir: &Path) -> SmallDisk {
        let image = dir.join("disk.img");
        let mount = dir.join("mnt");
        std::fs::create_dir_all(&mount).unwrap();
        std::fs::File::create(&image).unwrap().set_len(FS_BYTES).unwrap();
        run(Command::new("mkfs.ext4").args(["-q", "-F", "-m", "0"]).arg(&image));
        run(Command::new("mount").args(["-o", "loop"]).arg(&image).arg(&mount));
        SmallDisk { image, mount }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
        let _ = std::fs::remove_file(&self.image);
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run a system command");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Produces `lines` (numbered from `first`) and returns the acknowledged
/// ones (line number -> (partition, offset)) and whether all were.
fn produce(b: &str, first: usize, count: usize) -> (BTreeMap<usize, (u32, u64)>, bool) {
    let input: String = (first..first + count).map(|i| format!("{i}:{}\n", "v".repeat(1000))).collect();
    let run = corelog(
        // Few retries: a full disk refuses the same batch again and again.
        &[
            "produce",
            "--topic",
            "t",
            "--key-separator",
            ":",
            "--print-offsets",
            "--batch-size",
            "262144",
            "--retries",
            "3",
            "-b",
            b,
        ],
        &input,
    );
    let acked = run
        .stdout
        .lines()
        .map(|l| {
            let f: Vec<u64> = l.split('\t').map(|x| x.parse().unwrap()).collect();
            (first + f[0] as usize - 1, (f[1] as u32, f[2]))
        })
        .collect();
    (acked, run.status.success())
}

#[test]
fn writes_resume_once_a_full_disk_has_room_again() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to loop-mount a small file system");
        return;
    }
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let disk = SmallDisk::new(dir.path());
    let data = disk.mount.join("data");
    let mut broker = BrokerProc::start("disk-full", &data, 1, false);
    let b = format!("127.0.0.1:{}", broker.port);
    corelog(&["topic", "create", "t", "--config", "segment.bytes=1048576", "-b", &b], "").ok();

    // Leave a few MiB free, then write past them.
    let filler = disk.mount.join("filler");
    let free = {
        // SAFETY: statvfs on a valid NUL-terminated path into a zeroed struct.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        let path = std::ffi::CString::new(disk.mount.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::statvfs(path.as_ptr(), &mut st) }, 0);
        st.f_bavail as u64 * st.f_frsize as u64
    };
    run(Command::new("fallocate").args(["-l", &(free - 6 * 1024 * 1024).to_string()]).arg(&filler));
    let mut acked = BTreeMap::new();
    let (first, all) = produce(&b, 0, 8_000);
    assert!(!all, "8 MB fitted into 6 MiB of free space");
    acked.extend(first);
    let log = broker.log_tail(400);
    assert!(log.contains("No space left on device"), "the broker did not say why writes fail:\n{log}");

    // Room again: writes are accepted again, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let started = Instant::now();
    let mut next = 8_000;
    loop {
        let (more, all) = produce(&b, next, 100);
        acked.extend(more);
        next += 100;
        if all {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "writes still refused:\n{}", broker.log_tail(40));
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(broker.log_tail(400).contains("reopened after a failure"), "{}", broker.log_tail(40));

    // Every acknowledged record is there, where it was acknowledged.
    let consumed =
        corelog(&["consume", "--topic", "t", "--print-partition", "--print-offset", "--print-key", "-b", &b], "")
            .ok()
            .stdout;
    let stored: BTreeMap<(u32, u64), usize> = consumed
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            ((f[0].parse().unwrap(), f[1].parse().unwrap()), f[2].parse().unwrap())
        })
        .collect();
    for (line, at) in &acked {
        assert_eq!(stored.get(at), Some(line), "acknowledged line {line} at {at:?}");
    }
    broker.kill();
    drop(disk);
}
