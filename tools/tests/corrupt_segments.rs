//! A byte of a stored batch damaged on disk while the broker is down, through
//! the real binaries: `corelog consume` prints exactly the records before the
//! damaged batch and exits 1 naming topic, partition and offset (the broker
//! answers CORRUPT_MESSAGE, which is not retried), a consumer starting after
//! the batch reads the rest, and the broker logs the damage once and counts
//! it. Cases: a byte of the CRC-covered body, and of each header field the
//! CRC does not cover (base offset, leader epoch).

mod cli_support;
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cli_support::corelog;
use support::{metric, BrokerProc};

const TOPIC: &str = "t";
const RECORDS: usize = 3000;

/// One batch as found in a segment file (header fields at the offsets
/// `engine/format/src/header.rs` documents).
#[derive(Debug, Clone, Copy)]
struct Batch {
    pos: u64,
    len: u64,
    base: u64,
    last: u64,
}

/// The batches of a `.log` file, walked by their length fields.
fn batches_in(path: &Path) -> Vec<Batch> {
    let bytes = std::fs::read(path).expect("read the segment file");
    let le = |at: usize, n: usize| bytes[at..at + n].iter().rev().fold(0u64, |v, b| v << 8 | u64::from(*b));
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + 80 <= bytes.len() {
        let (base, len, last_delta) = (le(pos, 8), le(pos + 8, 4), le(pos + 28, 4));
        assert!(len >= 80, "a batch of {len} bytes at {pos} of {}", path.display());
        out.push(Batch { pos: pos as u64, len, base, last: base + last_delta });
        pos += len as usize;
    }
    out
}

/// The partition's segment files, by base offset.
fn segments(data_dir: &Path) -> Vec<(u64, PathBuf)> {
    let dir = data_dir.join("topics").join(TOPIC).join("0");
    let mut out: Vec<(u64, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| {
            let path = e.ok()?.path();
            let base = path.file_name()?.to_str()?.strip_suffix(".log")?.parse().ok()?;
            Some((base, path))
        })
        .collect();
    out.sort();
    out
}

fn flip(path: &Path, pos: u64, mask: u8) {
    let mut bytes = std::fs::read(path).expect("read");
    bytes[pos as usize] ^= mask;
    std::fs::write(path, bytes).expect("write");
}

/// `offset<TAB>value` lines of records `range`, as `consume --print-offset` prints them.
fn lines(range: std::ops::Range<u64>) -> String {
    range.map(|o| format!("{o}\t{}\n", value(o))).collect()
}

/// The value of record `i` (about 100 bytes, so batches of a 2 KiB
/// producer batch size hold about 18 records).
fn value(i: u64) -> String {
    format!("record-{i:06}-{}", "x".repeat(85))
}

/// Fills a one-partition topic with small segments (several sealed ones),
/// stops the broker, flips `mask` into byte `at(batch)` of the batch in the
/// middle of the second segment, starts the broker again and checks what
/// consumers, the broker's log and its metrics show.
fn damaged_batch_through_the_cli(name: &str, at: fn(&Batch) -> u64, mask: u8) {
    let dir = support::data_dir();
    let mut broker = BrokerProc::start(name, dir.path(), 1, true);
    let b = format!("127.0.0.1:{}", broker.port);
    corelog(&["topic", "create", TOPIC, "--config", "segment.bytes=65536", "-b", &b], "").ok();
    let input: String = (0..RECORDS as u64).map(|i| format!("{}\n", value(i))).collect();
    corelog(&["produce", "--topic", TOPIC, "--batch-size", "2048", "-b", &b], &input).ok();
    assert!(broker.terminate(Duration::from_secs(30)).is_some_and(|s| s.success()), "clean stop");

    let segments = segments(dir.path());
    assert!(segments.len() >= 3, "want sealed segments: {segments:?}");
    let (victim, path) = &segments[1];
    let batches = batches_in(path);
    assert!(batches.len() >= 6, "{batches:?}");
    let (hit, next) = (batches[batches.len() / 2], batches[batches.len() / 2 + 1]);
    assert_eq!(next.base, hit.last + 1, "batches are contiguous");
    eprintln!("[{name}] damaging byte {} of batch {hit:?} in segment {victim} ({} batches)", at(&hit), batches.len());
    flip(path, at(&hit), mask);

    broker.restart();
    let mark = broker.log_mark();
    let consume_from = |from: &str| {
        let args = ["consume", "--topic", TOPIC, "--from", from, "--print-offset", "-b", &b];
        let started = Instant::now();
        let run = corelog(&args, "");
        (run, started.elapsed())
    };

    // From the start: exactly the records before the damaged batch, then
    // exit 1 naming topic, partition, the batch's offset and where to resume.
    let (run, took) = consume_from("earliest");
    eprintln!("[{name}] the failing consume took {took:?}");
    assert!(run.stdout == lines(0..hit.base), "printed other than the records before offset {}", hit.base);
    let run = run.fails_with("corrupt");
    let error = run.stderr.lines().last().unwrap();
    for needle in [
        format!("topic \"{TOPIC}\" partition 0"),
        format!("offset {}", hit.base),
        format!("readable again from offset {}", next.base),
    ] {
        assert!(error.contains(&needle), "the error lacks {needle:?}: {error}");
    }
    // Asking again fails the same way (and is not logged or counted again).
    let (again, _) = consume_from(&format!("offset:{}", hit.base));
    assert_eq!(again.stdout, "");
    again.fails_with(&format!("offset {}", hit.base));

    // From the next batch on: the rest of the log, whole.
    let (rest, _) = consume_from(&format!("offset:{}", next.base));
    let rest = rest.ok();
    assert!(rest.stdout == lines(next.base..RECORDS as u64), "the records after the damaged batch read back wrong");

    // The broker logged it once and counted it once.
    let warnings = broker.lines_since(mark, "damaged stored batch");
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(warnings[0].contains(&format!("offset={}", hit.base)), "{}", warnings[0]);
    assert!(warnings[0].contains(&format!("topic=\"{TOPIC}\" partition=0")), "{}", warnings[0]);
    let text = broker.scrape_metrics();
    assert_eq!(metric(&text, "corelog_corrupt_batches_total", 0), 1.0, "{text}");
}

#[test]
fn a_flipped_body_byte_in_a_sealed_segment_fails_the_consumer_naming_the_batch() {
    damaged_batch_through_the_cli("corrupt-body", |b| b.pos + b.len / 2, 0x04);
}

#[test]
fn a_flipped_base_offset_byte_is_not_served_and_skips_no_offsets() {
    // base_offset (header bytes 0..8) is outside the CRC: +64 would make
    // the consumer skip 64 offsets if it were served.
    damaged_batch_through_the_cli("corrupt-base-offset", |b| b.pos, 0x40);
}

#[test]
fn a_flipped_leader_epoch_byte_is_not_served() {
    // leader_epoch (header bytes 12..16) is outside the CRC too.
    damaged_batch_through_the_cli("corrupt-epoch", |b| b.pos + 13, 0x01);
}
