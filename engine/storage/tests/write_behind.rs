//! Write-behind (`LogConfig::write_behind`): a chunk that fills is written
//! at once by the append that filled it, even during a flush (`Always`), or
//! only while no flush runs (`BetweenFlushes`: chunks that fill during one
//! are written by a flush's plan, so the log's writes never overlap its
//! fdatasync). Either way every acknowledged record is on disk.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use common::{batch, ended, read_all_values, test_dir};
use corelog_runtime::run_local;
use corelog_storage::disk::{DmaStorage, Fault, FaultyStorage};
use corelog_storage::{FlushPolicy, LogConfig, PartitionLog, WriteBehind};

const CHUNK_BYTES: usize = 16 * 1024;

#[test]
fn alternating_chunks_that_fill_while_the_log_syncs_wait_for_a_flush() {
    appends_during_a_held_sync(WriteBehind::BetweenFlushes);
}

#[test]
fn always_chunks_that_fill_while_the_log_syncs_are_written_at_once() {
    appends_during_a_held_sync(WriteBehind::Always);
}

/// One append leads a flush whose fdatasync is held; another, of two
/// chunks' worth, arrives meanwhile. Whether its chunks are written early
/// is the mode's; both are acknowledged once the sync ends, in order.
fn appends_during_a_held_sync(mode: WriteBehind) {
    let dir = test_dir();
    let path = dir.path().to_path_buf();
    run_local(async move {
        let storage = FaultyStorage::new(DmaStorage);
        let config = LogConfig {
            write_chunk_bytes: CHUNK_BYTES,
            flush: FlushPolicy::Always,
            write_behind: mode,
            ..LogConfig::default()
        };
        let log = Rc::new(PartitionLog::open(storage.clone(), &path, config.clone()).await.unwrap());
        // No sync running: a batch of more than a chunk hands its full
        // chunks to its appender.
        log.append(batch(0, 20, 1000, 0)).await.unwrap();
        let early = log.stats().chunks_written_early;
        assert!(early >= 1, "a full chunk is written early while no sync runs");

        // The next fdatasync is held: the append leading it waits inside it.
        storage.arm(Fault::StallSync);
        let leader = spawn_append(&log, 1, 1);
        corelog_runtime::sleep(Duration::from_millis(100)).await;
        assert_eq!(log.stats().fsyncs, 1, "only the first append's sync has ended");
        // Two more chunks' worth arrives meanwhile.
        let follower = spawn_append(&log, 2, 40);
        corelog_runtime::sleep(Duration::from_millis(100)).await;
        let during = log.stats().chunks_written_early - early;
        match mode {
            WriteBehind::BetweenFlushes => assert_eq!(during, 0, "no chunk is written while the log flushes"),
            WriteBehind::Always => assert_eq!(during, 2, "both full chunks are written at once"),
        }
        assert_eq!((leader.get(), follower.get()), (None, None), "neither is durable yet");

        storage.disarm_all();
        let ends =
            corelog_runtime::timeout(Duration::from_secs(5), futures::future::join(ended(&leader), ended(&follower)))
                .await
                .expect("both appends are acknowledged once the sync ends");
        assert_eq!(ends.1, 61, "the follower's batch follows the leader's");
        assert_eq!(log.stats().chunks_written_early - early, during, "a flush wrote any held chunks");

        let reopened = PartitionLog::open(DmaStorage, &path, config).await.unwrap();
        let all = read_all_values(&reopened, 0).await;
        assert_eq!(all.len(), 61);
        for (i, (offset, value)) in all.iter().enumerate() {
            assert_eq!(*offset, i as u64);
            let (tag, index) = match offset {
                0..20 => (0, offset),
                20 => (1, &0),
                _ => (2, &(offset - 21)),
            };
            assert!(value.starts_with(format!("{tag}:{index}:").as_bytes()), "offset {offset}");
        }
    });
}

/// Appends a batch of `records` records tagged `tag` as a task of its own;
/// the cell gets the offset past it once the append returns.
fn spawn_append(log: &Rc<PartitionLog<FaultyStorage<DmaStorage>>>, tag: u64, records: usize) -> Rc<Cell<Option<u64>>> {
    let done = Rc::new(Cell::new(None));
    let (log, cell) = (log.clone(), done.clone());
    corelog_runtime::spawn_detached(async move {
        let info = log.append(batch(tag, records, 1000, tag as i64)).await.unwrap();
        cell.set(Some(info.last_offset + 1));
    });
    done
}
