//! Property tests of the sparse offset and time indexes: lookups against a
//! linear scan, the indexer's entries against the batches they index, entry
//! encoding, and loading arbitrary (random or damaged) index files from disk.

mod common;

use corelog_runtime::run_local;
use corelog_storage::disk::{DmaStorage, Storage};
use corelog_storage::limits::INDEX_INTERVAL_BYTES;
use corelog_storage::segment::index_file::{write_planned, IndexEntry, IndexFile, IndexForm, TRAILER_LEN};
use corelog_storage::segment::indexer::Indexer;
use corelog_storage::segment::offset_index::{lookup_offset, OffsetEntry};
use corelog_storage::segment::time_index::{lookup_time, TimeEntry};
use proptest::prelude::*;

// ------------------------------------------------------------ generators

/// Strictly increasing offset entries (relative offsets and positions), no
/// entry at position 0, as the log writes them.
fn offset_entries() -> impl Strategy<Value = Vec<OffsetEntry>> {
    prop::collection::vec((1u32..1000, 1u32..100_000), 0..64).prop_map(|steps| {
        let (mut rel, mut pos) = (0u32, 0u32);
        steps
            .into_iter()
            .map(|(dr, dp)| {
                rel += dr;
                pos += dp;
                OffsetEntry { relative_offset: rel, position: pos }
            })
            .collect()
    })
}

/// Time entries with strictly increasing running max, offsets and positions.
fn time_entries() -> impl Strategy<Value = Vec<TimeEntry>> {
    (-1_000_000i64..1_000_000, prop::collection::vec((1i64..10_000, 1u32..1000, 1u32..100_000), 0..64)).prop_map(
        |(start, steps)| {
            let (mut ts, mut rel, mut pos) = (start, 0u32, 0u32);
            steps
                .into_iter()
                .map(|(dt, dr, dp)| {
                    ts += dt;
                    rel += dr;
                    pos += dp;
                    TimeEntry { max_timestamp: ts, relative_offset: rel, position: pos }
                })
                .collect()
        },
    )
}

/// A segment's batches: (length in bytes, record count, max timestamp).
fn batches() -> impl Strategy<Value = Vec<(u64, u64, i64)>> {
    prop::collection::vec((prop_oneof![64u64..2048, 2048u64..20_000], 1u64..50, -1000i64..1000), 1..200)
}

// ---------------------------------------------------------------- models

fn linear_lookup_offset(entries: &[OffsetEntry], target: u32) -> OffsetEntry {
    let mut best = OffsetEntry { relative_offset: 0, position: 0 };
    for e in entries {
        if e.relative_offset <= target {
            best = *e;
        }
    }
    best
}

fn linear_lookup_time(entries: &[TimeEntry], target: i64) -> TimeEntry {
    let mut best = TimeEntry { max_timestamp: i64::MIN, relative_offset: 0, position: 0 };
    for e in entries {
        if e.max_timestamp < target {
            best = *e;
        }
    }
    best
}

/// A batch laid out in a segment: position, relative base offset, length,
/// max timestamp.
#[derive(Debug, Clone, Copy)]
struct Laid {
    position: u64,
    rel: u64,
    records: u64,
    len: u64,
    max_ts: i64,
}

fn lay_out(batches: &[(u64, u64, i64)]) -> Vec<Laid> {
    let (mut position, mut rel) = (0u64, 0u64);
    batches
        .iter()
        .map(|&(len, records, max_ts)| {
            let laid = Laid { position, rel, records, len, max_ts };
            position += len;
            rel += records;
            laid
        })
        .collect()
}

/// Runs the indexer over the whole segment (as appends do).
fn index(base: u64, laid: &[Laid]) -> (Vec<OffsetEntry>, Vec<TimeEntry>, i64) {
    let mut indexer = Indexer::new(base, 0, i64::MIN, i64::MIN);
    let (mut offsets, mut times) = (Vec::new(), Vec::new());
    for b in laid {
        let new = indexer.observe(b.position, b.len, base + b.rel, b.max_ts);
        offsets.extend(new.offset);
        times.extend(new.time);
    }
    (offsets, times, indexer.running_max())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn offset_lookup_matches_linear_scan(entries in offset_entries(), probes in prop::collection::vec(any::<u32>(), 1..32), near in prop::collection::vec((any::<prop::sample::Index>(), -2i64..=2), 0..32)) {
        let mut targets = probes;
        for (i, d) in near {
            if !entries.is_empty() {
                let e = entries[i.index(entries.len())];
                targets.push((i64::from(e.relative_offset) + d).clamp(0, i64::from(u32::MAX)) as u32);
            }
        }
        targets.extend([0, u32::MAX]);
        for t in targets {
            prop_assert_eq!(lookup_offset(&entries, t), linear_lookup_offset(&entries, t), "target {}", t);
        }
    }

    #[test]
    fn time_lookup_matches_linear_scan(entries in time_entries(), probes in prop::collection::vec(any::<i64>(), 1..32), near in prop::collection::vec((any::<prop::sample::Index>(), -2i64..=2), 0..32)) {
        let mut targets = probes;
        for (i, d) in near {
            if !entries.is_empty() {
                targets.push(entries[i.index(entries.len())].max_timestamp + d);
            }
        }
        targets.extend([i64::MIN, i64::MAX, 0]);
        for t in targets {
            prop_assert_eq!(lookup_time(&entries, t), linear_lookup_time(&entries, t), "target {}", t);
        }
    }

    /// The indexer's entries point at real batch boundaries with the right
    /// offsets and running max; looking up from them never skips the batch a
    /// reader is after.
    #[test]
    fn indexer_entries_are_safe_starting_points(base in 0u64..1 << 40, batches in batches(), probes in prop::collection::vec(-1100i64..1100, 1..16)) {
        let laid = lay_out(&batches);
        let (offsets, times, running_max) = index(base, &laid);
        prop_assert_eq!(running_max, laid.iter().map(|b| b.max_ts).max().unwrap());
        let at_position = |pos: u32| laid.iter().position(|b| b.position == u64::from(pos));

        // Offset entries: strictly increasing, on boundaries, one per interval.
        for w in offsets.windows(2) {
            prop_assert!(w[0].position < w[1].position && w[0].relative_offset < w[1].relative_offset);
        }
        let mut last_pos = 0u64;
        for e in &offsets {
            prop_assert!(e.position > 0);
            let i = at_position(e.position);
            prop_assert!(i.is_some(), "offset entry {:?} is not at a batch boundary", e);
            prop_assert_eq!(u64::from(e.relative_offset), laid[i.unwrap()].rel);
            prop_assert!(u64::from(e.position) - last_pos >= INDEX_INTERVAL_BYTES);
            last_pos = u64::from(e.position);
        }
        // The index stays sparse but not too sparse: past the last entry at
        // most one interval plus one batch remains unindexed.
        let end = laid.last().map_or(0, |b| b.position + b.len);
        let max_batch = laid.iter().map(|b| b.len).max().unwrap_or(0);
        prop_assert!(end - last_pos <= INDEX_INTERVAL_BYTES + 2 * max_batch);

        // Time entries: running max strictly increasing and exact; a subset
        // of the offset entries' positions.
        for w in times.windows(2) {
            prop_assert!(w[0].max_timestamp < w[1].max_timestamp && w[0].position < w[1].position);
        }
        for t in &times {
            let i = at_position(t.position);
            prop_assert!(i.is_some());
            let i = i.unwrap();
            prop_assert_eq!(u64::from(t.relative_offset), laid[i].rel);
            prop_assert_eq!(t.max_timestamp, laid[..=i].iter().map(|b| b.max_ts).max().unwrap());
            prop_assert!(offsets.iter().any(|o| o.position == t.position));
        }

        // Offset lookups land on the batch holding the offset or before it.
        let total = laid.last().map_or(0, |b| b.rel + b.records);
        for rel in [0, total / 3, total / 2, total.saturating_sub(1)] {
            let e = lookup_offset(&offsets, rel as u32);
            let i = laid.iter().position(|b| b.position == u64::from(e.position)).expect("boundary");
            prop_assert_eq!(laid[i].rel, u64::from(e.relative_offset));
            prop_assert!(laid[i].rel <= rel);
        }

        // Time lookups: scanning from the entry finds the same first batch
        // with max timestamp >= target as scanning the whole segment.
        for ts in probes {
            let e = lookup_time(&times, ts);
            let from = laid.iter().position(|b| b.position == u64::from(e.position)).expect("boundary");
            prop_assert_eq!(laid[from].rel, u64::from(e.relative_offset));
            let full = laid.iter().position(|b| b.max_ts >= ts);
            let scanned = laid[from..].iter().position(|b| b.max_ts >= ts).map(|i| i + from);
            prop_assert_eq!(scanned, full, "time lookup for {} started at batch {}", ts, from);
        }
    }

    /// Recovery resumes the indexer from the last time entry; the running max
    /// it ends with must equal the one of a full pass.
    #[test]
    fn indexer_resumed_at_a_time_entry_keeps_the_running_max(batches in batches(), cut in any::<prop::sample::Index>()) {
        let laid = lay_out(&batches);
        let (offsets, times, full_max) = index(0, &laid);
        if times.is_empty() {
            return Ok(());
        }
        let t = times[cut.index(times.len())];
        let indexed_through = offsets.iter().filter(|o| o.position >= t.position).map(|o| o.position).max().unwrap_or(t.position);
        let mut indexer = Indexer::new(0, u64::from(indexed_through), t.max_timestamp, t.max_timestamp);
        let from = laid.iter().position(|b| b.position == u64::from(t.position)).expect("boundary");
        for b in &laid[from..] {
            let new = indexer.observe(b.position, b.len, b.rel, b.max_ts);
            if let Some(o) = new.offset {
                prop_assert!(o.position > indexed_through);
            }
            if let Some(nt) = new.time {
                prop_assert!(nt.max_timestamp > t.max_timestamp);
            }
        }
        prop_assert_eq!(indexer.running_max(), full_max);
    }

    #[test]
    fn offset_entry_round_trips(relative_offset in any::<u32>(), position in any::<u32>(), raw in prop::array::uniform8(any::<u8>())) {
        let e = OffsetEntry { relative_offset, position };
        let mut buf = [0u8; OffsetEntry::SIZE];
        e.encode(&mut buf);
        prop_assert_eq!(OffsetEntry::decode(&buf), e);
        prop_assert_eq!(e.position(), position);
        prop_assert_eq!(&buf[..4], &relative_offset.to_le_bytes()[..]);
        prop_assert_eq!(&buf[4..], &position.to_le_bytes()[..]);
        let mut again = [0u8; OffsetEntry::SIZE];
        OffsetEntry::decode(&raw).encode(&mut again);
        prop_assert_eq!(again, raw);
    }

    #[test]
    fn time_entry_round_trips(max_timestamp in any::<i64>(), relative_offset in any::<u32>(), position in any::<u32>(), raw in prop::array::uniform16(any::<u8>())) {
        let e = TimeEntry { max_timestamp, relative_offset, position };
        let mut buf = [0u8; TimeEntry::SIZE];
        e.encode(&mut buf);
        prop_assert_eq!(TimeEntry::decode(&buf), e);
        prop_assert_eq!(e.position(), position);
        prop_assert_eq!(&buf[..8], &max_timestamp.to_le_bytes()[..]);
        let mut again = [0u8; TimeEntry::SIZE];
        TimeEntry::decode(&raw).encode(&mut again);
        prop_assert_eq!(again, raw);
    }
}

// ------------------------------------------------------ loading from disk

/// Damage applied to an index file's bytes: (byte index, xor) flips, a cut
/// length, and zero padding to a block boundary (as a growing file has).
#[derive(Debug, Clone)]
struct Damage {
    flips: Vec<(prop::sample::Index, u8)>,
    cut: Option<prop::sample::Index>,
    pad: bool,
}

fn damage_strategy() -> impl Strategy<Value = Damage> {
    (
        prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..4),
        prop::option::of(any::<prop::sample::Index>()),
        any::<bool>(),
    )
        .prop_map(|(flips, cut, pad)| Damage { flips, cut, pad })
}

impl Damage {
    fn is_none(&self) -> bool {
        self.flips.is_empty() && self.cut.is_none() && !self.pad
    }

    fn apply(&self, mut bytes: Vec<u8>) -> Vec<u8> {
        if !bytes.is_empty() {
            for (at, x) in &self.flips {
                let i = at.index(bytes.len());
                bytes[i] ^= x;
            }
        }
        if let Some(cut) = &self.cut {
            let len = cut.index(bytes.len() + 1);
            bytes.truncate(len);
        }
        if self.pad {
            bytes.resize(bytes.len().div_ceil(4096).max(1) * 4096, 0);
        }
        bytes
    }
}

/// How a generated index file's bytes are made.
#[derive(Debug, Clone)]
enum FileBytes {
    Random(Vec<u8>),
    /// A growing (trailer-less) index: entries end to end, then damage.
    Growing {
        offsets: Vec<OffsetEntry>,
        times: Vec<TimeEntry>,
        damage: Damage,
    },
    /// A sealed index as the engine writes it (entries and trailer), then damage.
    Sealed {
        offsets: Vec<OffsetEntry>,
        times: Vec<TimeEntry>,
        damage: Damage,
    },
}

fn file_bytes() -> impl Strategy<Value = FileBytes> {
    prop_oneof![
        prop_oneof![prop::collection::vec(any::<u8>(), 0..200), prop::collection::vec(any::<u8>(), 0..9000)]
            .prop_map(FileBytes::Random),
        (offset_entries(), time_entries(), damage_strategy()).prop_map(|(offsets, times, damage)| FileBytes::Growing {
            offsets,
            times,
            damage
        }),
        (offset_entries(), time_entries(), damage_strategy()).prop_map(|(offsets, times, damage)| FileBytes::Sealed {
            offsets,
            times,
            damage
        }),
    ]
}

/// The segment length the index is loaded against.
#[derive(Debug, Clone)]
enum SegmentLen {
    Fixed(u64),
    /// Just past the last entry's position plus this (so intact entries fit).
    PastLast(u64),
}

fn segment_len_strategy() -> impl Strategy<Value = SegmentLen> {
    prop_oneof![
        (0u64..64).prop_map(SegmentLen::Fixed),
        (0u64..1 << 20).prop_map(SegmentLen::Fixed),
        Just(SegmentLen::Fixed(u64::from(u32::MAX) + 1)),
        (1u64..10_000).prop_map(SegmentLen::PastLast),
    ]
}

fn encode_all<E: IndexEntry>(entries: &[E]) -> Vec<u8> {
    let mut out = vec![0u8; entries.len() * E::SIZE];
    for (i, e) in entries.iter().enumerate() {
        e.encode(&mut out[i * E::SIZE..(i + 1) * E::SIZE]);
    }
    out
}

/// The bytes of `entries` in the sealed form, as the engine plans them.
async fn sealed_bytes<E: IndexEntry>(scratch: &std::path::Path, entries: &[E]) -> Vec<u8> {
    let file = DmaStorage.open(scratch, true).await.expect("open scratch");
    let mut index = IndexFile::<E>::default();
    index.replace(entries.to_vec());
    let (write, exact) = index.plan_sealed_write(&file);
    assert_eq!(write.pos, 0);
    assert_eq!(write.entries, entries.len());
    assert_eq!(exact as usize, entries.len() * E::SIZE + TRAILER_LEN);
    assert_eq!(&write.buf.as_slice()[..entries.len() * E::SIZE], &encode_all(entries)[..]);
    write.buf.as_slice()[..exact as usize].to_vec()
}

/// The longest prefix of whole entries whose positions are non-zero,
/// strictly increasing and below `segment_len` (the growing form's rule).
fn valid_prefix<E: IndexEntry>(bytes: &[u8], segment_len: u64) -> Vec<E> {
    let mut out: Vec<E> = Vec::new();
    for raw in bytes.chunks_exact(E::SIZE) {
        let e = E::decode(raw);
        let p = e.position();
        if p == 0 || u64::from(p) >= segment_len || out.last().is_some_and(|l| l.position() >= p) {
            break;
        }
        out.push(e);
    }
    out
}

/// Checks what `IndexFile::load` made of `bytes`. `intact`: the bytes are an
/// undamaged sealed index of these entries.
fn check_loaded<E: IndexEntry + std::fmt::Debug + PartialEq>(
    loaded: &IndexFile<E>,
    form: IndexForm,
    bytes: &[u8],
    segment_len: u64,
    original: Option<&[E]>,
    intact: bool,
) {
    let entries = loaded.entries();
    assert!(!loaded.is_dirty(), "a freshly loaded index has nothing to write");
    for w in entries.windows(2) {
        assert!(w[0].position() < w[1].position(), "positions not increasing: {entries:?}");
    }
    for e in entries {
        assert!(e.position() > 0 && u64::from(e.position()) < segment_len, "{e:?} outside the segment ({segment_len})");
    }
    match form {
        IndexForm::Damaged => assert!(entries.is_empty(), "a damaged index keeps nothing"),
        IndexForm::Growing => assert_eq!(entries, &valid_prefix::<E>(bytes, segment_len)[..]),
        IndexForm::Sealed => {
            assert_eq!(bytes.len(), entries.len() * E::SIZE + TRAILER_LEN);
            assert_eq!(&bytes[..entries.len() * E::SIZE], &encode_all(entries)[..]);
            assert_eq!(&bytes[entries.len() * E::SIZE..][..4], b"CLIX");
            if let Some(original) = original {
                assert_eq!(entries, original, "a sealed index that checks out must hold what was written");
            }
        }
    }
    if intact {
        let fits = original.unwrap().iter().all(|e| u64::from(e.position()) < segment_len);
        let want = if fits { IndexForm::Sealed } else { IndexForm::Damaged };
        assert_eq!(form, want, "an undamaged sealed index loads as {want:?}");
    }
}

async fn load_and_check<E: IndexEntry + std::fmt::Debug + PartialEq>(
    path: &std::path::Path,
    bytes: &[u8],
    segment_len: u64,
    original: Option<&[E]>,
    intact: bool,
) {
    std::fs::write(path, bytes).unwrap();
    let file = DmaStorage.open(path, false).await.expect("open index");
    match IndexFile::<E>::load(&file, segment_len).await {
        Ok((loaded, form)) => check_loaded(&loaded, form, bytes, segment_len, original, intact),
        Err(e) => panic!("loading {} bytes failed: {e}", bytes.len()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever an index file holds, loading it never panics and yields
    /// non-zero, strictly increasing positions inside the segment; a sealed
    /// index loads whole or not at all.
    #[test]
    fn loading_any_index_file_is_safe(input in file_bytes(), segment_len in segment_len_strategy()) {
        let dir = common::test_dir();
        let offset_path = dir.path().join("00000000000000000000.index");
        let time_path = dir.path().join("00000000000000000000.timeindex");
        let scratch = dir.path().join("scratch");
        run_local(async {
            let (offset_bytes, time_bytes, originals, intact) = match &input {
                FileBytes::Random(b) => (b.clone(), b.clone(), None, false),
                FileBytes::Growing { offsets, times, damage } => {
                    (damage.apply(encode_all(offsets)), damage.apply(encode_all(times)), None, false)
                }
                FileBytes::Sealed { offsets, times, damage } => (
                    damage.apply(sealed_bytes(&scratch, offsets).await),
                    damage.apply(sealed_bytes(&scratch, times).await),
                    Some((offsets.as_slice(), times.as_slice())),
                    damage.is_none(),
                ),
            };
            let len_for = |last: Option<u32>| match segment_len {
                SegmentLen::Fixed(n) => n,
                SegmentLen::PastLast(extra) => u64::from(last.unwrap_or(0)) + extra,
            };
            let offsets_len = len_for(originals.and_then(|o| o.0.last()).map(|e| e.position));
            let times_len = len_for(originals.and_then(|o| o.1.last()).map(|e| e.position));
            load_and_check::<OffsetEntry>(&offset_path, &offset_bytes, offsets_len, originals.map(|o| o.0), intact).await;
            load_and_check::<TimeEntry>(&time_path, &time_bytes, times_len, originals.map(|o| o.1), intact).await;
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// A growing index holding its first `written` entries, after the planned
    /// tail write (block-aligned, rewriting the partial last block), loads
    /// back as exactly the entries that point below `below`.
    #[test]
    fn tail_write_extends_a_growing_file(
        entries in prop::collection::vec((1u32..10, 1u32..5000), 0..1200),
        written in any::<prop::sample::Index>(),
        below in any::<prop::sample::Index>(),
    ) {
        let (mut rel, mut pos) = (0u32, 0u32);
        let entries: Vec<OffsetEntry> = entries
            .into_iter()
            .map(|(dr, dp)| {
                rel += dr;
                pos += dp;
                OffsetEntry { relative_offset: rel, position: pos }
            })
            .collect();
        let written = written.index(entries.len() + 1);
        let below = below.index(pos as usize + 2) as u64;
        let want = entries.iter().filter(|e| u64::from(e.position) < below).count();
        let mut initial = encode_all(&entries[..written]);
        initial.resize(initial.len().div_ceil(4096) * 4096, 0);
        let dir = common::test_dir();
        let path = dir.path().join("00000000000000000000.index");
        std::fs::write(&path, &initial).unwrap();
        let segment_len = u64::from(u32::MAX) + 1;
        run_local(async {
            let file = DmaStorage.open(&path, false).await.unwrap();
            let (mut index, form) = IndexFile::<OffsetEntry>::load(&file, segment_len).await.unwrap();
            assert_eq!(form, IndexForm::Growing);
            assert_eq!(index.entries(), &entries[..written]);
            for e in &entries[written..] {
                index.push(*e);
            }
            match index.plan_tail_write(&file, below) {
                None => assert!(want <= written, "nothing planned but {want} entries are due, {written} written"),
                Some(w) => {
                    assert!(want > written);
                    assert_eq!(w.entries, want);
                    assert_eq!(w.pos % 4096, 0);
                    assert_eq!(w.buf.len() % 4096, 0);
                    assert!(w.pos <= (written * OffsetEntry::SIZE) as u64);
                    let n = write_planned(&file, Some(w)).await.unwrap().unwrap();
                    index.wrote(n);
                    assert_eq!(index.written_len(), (want * OffsetEntry::SIZE) as u64);
                }
            }
            let (reloaded, form) = IndexFile::<OffsetEntry>::load(&file, segment_len).await.unwrap();
            assert_eq!(form, IndexForm::Growing);
            assert_eq!(reloaded.entries(), &entries[..want.max(written)]);
        });
    }
}

/// A sealed index written through the engine's own path (planned write,
/// trimmed to its exact length) loads back whole.
#[test]
fn sealed_index_round_trips_through_the_file() {
    let entries: Vec<OffsetEntry> =
        (1..=600u32).map(|i| OffsetEntry { relative_offset: i * 10, position: i * 4096 }).collect();
    let dir = common::test_dir();
    let path = dir.path().join("00000000000000000000.index");
    run_local(async {
        let file = DmaStorage.open(&path, true).await.unwrap();
        let mut index = IndexFile::<OffsetEntry>::default();
        index.replace(entries.clone());
        let (write, exact) = index.plan_sealed_write(&file);
        write_planned(&file, Some(write)).await.unwrap();
        file.truncate(exact).await.unwrap();
        let (loaded, form) = IndexFile::<OffsetEntry>::load(&file, 601 * 4096).await.unwrap();
        assert_eq!(form, IndexForm::Sealed);
        assert_eq!(loaded.entries(), &entries[..]);
        // One entry points past a shorter segment: the sealed index is refused whole.
        let (loaded, form) = IndexFile::<OffsetEntry>::load(&file, 600 * 4096).await.unwrap();
        assert_eq!(form, IndexForm::Damaged);
        assert!(loaded.entries().is_empty());
    });
}

/// A growing index cut back by truncate_to_position keeps the entries before
/// the cut and says how long the file must be.
#[test]
fn truncate_to_position_keeps_entries_before_the_cut() {
    let entries: Vec<OffsetEntry> =
        (1..=600u32).map(|i| OffsetEntry { relative_offset: i * 10, position: i * 4096 }).collect();
    let dir = common::test_dir();
    let path = dir.path().join("00000000000000000000.index");
    std::fs::write(&path, encode_all(&entries)).unwrap();
    run_local(async {
        let file = DmaStorage.open(&path, false).await.unwrap();
        let (mut loaded, form) = IndexFile::<OffsetEntry>::load(&file, u64::from(u32::MAX)).await.unwrap();
        assert_eq!(form, IndexForm::Growing);
        assert_eq!(loaded.entries(), &entries[..]);
        // Entries at or past position 300 * 4096 go.
        loaded.truncate_to_position(300 * 4096);
        assert_eq!(loaded.written_len(), 299 * OffsetEntry::SIZE as u64);
        assert_eq!(loaded.entries(), &entries[..299]);
        assert!(!loaded.is_dirty());
        assert!(loaded.plan_tail_write(&file, u64::MAX).is_none());
    });
}
