//! Crashes: the leader goes away and comes back; a node loses the unsynced
//! tail of its entries file; damage in the middle of the file is an error.

mod controller_cluster;

use std::fs::{self, OpenOptions};

use controller_cluster::{Cluster, SeedGuard};
use corelog_replication::controller::LogStore;

const ENTRIES_HEADER_BYTES: usize = 8;

/// Byte positions of the records of an entries file (header: 8 bytes;
/// record: u32 length, u32 crc, payload).
fn record_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut pos = ENTRIES_HEADER_BYTES;
    while pos + 8 <= bytes.len() {
        starts.push(pos);
        pos += 8 + u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
    }
    starts
}

#[test]
fn the_leader_crashes_a_new_one_takes_over_and_the_old_one_catches_up() {
    for seed in 0..5 {
        let _guard = SeedGuard(seed);
        // Snapshots every 15 entries: the restart replays snapshot + log.
        let mut cluster = Cluster::new(&[1, 2, 3], seed, 15);
        cluster.propose_and_commit(25, 500);
        let old = cluster.elect(500);
        let old_term = cluster.sim(old).node.term();
        let before_crash = cluster.acked.len();
        cluster.crash(old);

        let new = cluster.elect(1000);
        assert_ne!(new, old);
        assert!(cluster.sim(new).node.term() > old_term);
        cluster.propose_and_commit(25, 500);
        assert!(cluster.acked.len() >= before_crash + 25);

        cluster.restart(old);
        // Rebuilt from its own directory before hearing from anyone.
        let replayed = cluster.sim(old).app.applied.clone();
        assert!(cluster.sim(old).node.snapshot_index() > 0, "no snapshot to restart from");
        assert!(!replayed.is_empty());
        assert_eq!(replayed[..], cluster.reference[..replayed.len()]);
        cluster.settle(2000);
        // Everything, in order, once (App::apply refuses a repeated index;
        // the history is compared element by element).
        assert_eq!(cluster.sim(old).app.applied, cluster.reference);
        assert!(cluster.reference.len() >= 50);
    }
}

#[test]
fn a_torn_tail_is_cut_and_the_node_converges() {
    let _guard = SeedGuard(11);
    let mut cluster = Cluster::new(&[1, 2, 3], 11, 1000);
    cluster.propose_and_commit(20, 500);
    let leader = cluster.elect(500);
    let victim = (1..=3).find(|&id| id != leader).unwrap();
    cluster.crash(victim);

    // The crash lost the second half of the last record.
    let path = cluster.dir(victim).join("entries");
    let bytes = fs::read(&path).unwrap();
    let starts = record_starts(&bytes);
    assert!(starts.len() >= 20, "{} records", starts.len());
    let last = *starts.last().unwrap();
    let cut = last + (bytes.len() - last) / 2;
    OpenOptions::new().write(true).open(&path).unwrap().set_len(cut as u64).unwrap();

    let (_, recovered) = LogStore::open(&cluster.dir(victim)).unwrap();
    assert_eq!(recovered.entries.len(), starts.len() - 1);
    assert_eq!(fs::metadata(&path).unwrap().len(), last as u64, "tail not cut at the record");

    cluster.restart(victim);
    cluster.propose_and_commit(5, 500);
    cluster.settle(2000);
    assert_eq!(cluster.sim(victim).app.applied, cluster.reference);
    // The lost entry came back from the leader.
    let (_, recovered) = {
        cluster.crash(victim);
        LogStore::open(&cluster.dir(victim)).unwrap()
    };
    assert!(recovered.entries.len() >= starts.len());
}

#[test]
fn damage_in_the_middle_of_the_entries_file_is_an_error_naming_it() {
    let mut cluster = Cluster::new(&[1, 2, 3], 5, 1000);
    cluster.propose_and_commit(10, 500);
    cluster.crash(2);
    let path = cluster.dir(2).join("entries");
    let mut bytes = fs::read(&path).unwrap();
    let starts = record_starts(&bytes);
    let middle = starts[starts.len() / 2];
    bytes[middle + 9] ^= 0x55;
    fs::write(&path, &bytes).unwrap();
    let err = LogStore::open(&cluster.dir(2)).err().expect("damage refused").to_string();
    assert!(err.starts_with(&format!("{}: damaged at byte {middle}", path.display())), "{err}");
}
