//! The per-core cache of open sealed-segment files.
//!
//! A partition holds one descriptor for good: its active segment's log. Its
//! index files are opened when they are written (persist intervals, roll,
//! close) and closed after, and the log files of its sealed segments are
//! opened through this cache: a least-recently-used set of at most
//! `capacity` open files shared by every partition log of a core. A read of
//! a sealed segment whose file is not in the cache opens it (and closes the
//! least recently used one), so the descriptors a core holds for sealed
//! segments stay bounded however many segments and partitions it has.
//!
//! Files are O_DIRECT like every other segment file; closing one and opening
//! it again reads the same bytes (a sealed segment never changes).
//!
//! Bounds: at most `capacity` files are in the cache. A file evicted while a
//! read of it is in flight stays open until that read ends (the reader holds
//! it), and a closed file's descriptor is released at the executor's next
//! I/O cycle; so the descriptors a core holds for sealed segments are
//! `capacity` plus the reads in flight on evicted files.
//!
//! Entries are keyed by an id handed to each segment handle
//! ([`SegmentFile`](super::files::SegmentFile)), never by path: a path can
//! come back for a different file (truncation removes a segment that a later
//! roll creates again at the same base offset), an id never does. A handle
//! evicts its entry when it is dropped (its segment was deleted, truncated
//! or its log closed), so a deleted file's descriptor does not linger.
//!
//! Lives on: one core; shared (`Rc`) by every partition log of that core.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::Path;
use std::rc::Rc;

use futures::future::LocalBoxFuture;

use crate::disk::Storage;

/// What the cache did so far, and what it holds now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FdCacheStats {
    /// Files currently open in the cache.
    pub open: usize,
    /// Uses served by a file already open.
    pub hits: u64,
    /// Files opened because they were not in the cache.
    pub opens: u64,
    /// Files closed to make room.
    pub evictions: u64,
}

/// A [`Storage`] and the bounded set of sealed-segment files open through it.
pub struct FdCache<S: Storage> {
    storage: S,
    capacity: usize,
    state: RefCell<Lru<S::File>>,
}

struct Lru<F> {
    next_id: u64,
    /// Bumped by every use; the entry with the smallest is evicted first.
    clock: u64,
    entries: HashMap<u64, (Rc<F>, u64)>,
    /// Last use -> id, oldest first.
    by_use: BTreeMap<u64, u64>,
    stats: FdCacheStats,
}

impl<F> Lru<F> {
    fn touch(&mut self, id: u64) -> Option<Rc<F>> {
        self.clock += 1;
        let clock = self.clock;
        let (file, used) = self.entries.get_mut(&id)?;
        self.by_use.remove(used);
        *used = clock;
        self.by_use.insert(clock, id);
        Some(file.clone())
    }

    /// Adds a file just opened and evicts the least recently used ones
    /// past `capacity`; returns them (they close as they drop, or when the
    /// reads still holding them end).
    fn insert(&mut self, id: u64, file: Rc<F>, capacity: usize) -> Vec<Rc<F>> {
        self.clock += 1;
        self.entries.insert(id, (file, self.clock));
        self.by_use.insert(self.clock, id);
        let mut evicted = Vec::new();
        while self.entries.len() > capacity {
            let (_, oldest) = self.by_use.pop_first().expect("entries and by_use hold the same ids");
            evicted.extend(self.entries.remove(&oldest).map(|(file, _)| file));
        }
        self.stats.opens += 1;
        self.stats.evictions += evicted.len() as u64;
        self.stats.open = self.entries.len();
        evicted
    }

    fn remove(&mut self, id: u64) -> Option<Rc<F>> {
        let (file, used) = self.entries.remove(&id)?;
        self.by_use.remove(&used);
        self.stats.open = self.entries.len();
        Some(file)
    }
}

impl<S: Storage> FdCache<S> {
    /// A cache of at most `capacity` (at least 1) open files of `storage`.
    pub fn new(storage: S, capacity: usize) -> Rc<Self> {
        assert!(capacity >= 1, "an fd cache holds at least one file");
        Rc::new(FdCache {
            storage,
            capacity,
            state: RefCell::new(Lru {
                next_id: 0,
                clock: 0,
                entries: HashMap::new(),
                by_use: BTreeMap::new(),
                stats: FdCacheStats::default(),
            }),
        })
    }

    pub fn storage(&self) -> &S {
        &self.storage
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn stats(&self) -> FdCacheStats {
        self.state.borrow().stats
    }
}

/// What a segment handle needs from the cache, with the storage type erased
/// so handles (and the segments holding them) stay generic over the file
/// type alone.
pub(crate) trait FileSource<F> {
    /// A fresh id for a handle whose file goes through the cache.
    fn new_id(&self) -> u64;
    /// The file with this id, from the cache or opened (read-write, never
    /// created) at `path` and put in it.
    fn cached<'a>(&'a self, id: u64, path: &'a Path) -> LocalBoxFuture<'a, io::Result<Rc<F>>>;
    /// Opens `path` outside the cache (the caller closes it by dropping it).
    fn open<'a>(&'a self, path: &'a Path, create: bool) -> LocalBoxFuture<'a, io::Result<F>>;
    /// Closes and forgets the file with this id, if it is open.
    fn evict(&self, id: u64);
}

impl<S: Storage> FileSource<S::File> for FdCache<S> {
    fn new_id(&self) -> u64 {
        let mut st = self.state.borrow_mut();
        st.next_id += 1;
        st.next_id
    }

    fn cached<'a>(&'a self, id: u64, path: &'a Path) -> LocalBoxFuture<'a, io::Result<Rc<S::File>>> {
        Box::pin(async move {
            {
                let mut st = self.state.borrow_mut();
                if let Some(file) = st.touch(id) {
                    st.stats.hits += 1;
                    return Ok(file);
                }
            }
            let opened = Rc::new(self.storage.open(path, false).await?);
            let mut st = self.state.borrow_mut();
            // Another task may have opened the same file meanwhile: keep
            // that one (ours closes as it drops).
            if let Some(file) = st.touch(id) {
                st.stats.hits += 1;
                return Ok(file);
            }
            let evicted = st.insert(id, opened.clone(), self.capacity);
            drop(st);
            drop(evicted);
            Ok(opened)
        })
    }

    fn open<'a>(&'a self, path: &'a Path, create: bool) -> LocalBoxFuture<'a, io::Result<S::File>> {
        Box::pin(self.storage.open(path, create))
    }

    fn evict(&self, id: u64) {
        let removed = self.state.borrow_mut().remove(id);
        drop(removed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lru() -> Lru<u32> {
        Lru { next_id: 0, clock: 0, entries: HashMap::new(), by_use: BTreeMap::new(), stats: FdCacheStats::default() }
    }

    #[test]
    fn keeps_at_most_capacity_entries_and_evicts_the_least_recently_used() {
        let mut lru = lru();
        assert!(lru.insert(1, Rc::new(10), 2).is_empty());
        assert!(lru.insert(2, Rc::new(20), 2).is_empty());
        assert_eq!(lru.touch(1).as_deref(), Some(&10)); // 2 is now the least recently used
        let evicted = lru.insert(3, Rc::new(30), 2);
        assert_eq!(evicted.iter().map(|f| **f).collect::<Vec<_>>(), vec![20]);
        assert!(lru.touch(2).is_none());
        assert_eq!(lru.touch(1).as_deref(), Some(&10));
        assert_eq!(lru.touch(3).as_deref(), Some(&30));
        assert_eq!((lru.stats.open, lru.stats.evictions), (2, 1));
        assert_eq!(lru.remove(3).as_deref(), Some(&30));
        assert!(lru.remove(3).is_none());
        assert_eq!(lru.stats.open, 1);
        // The order survives removals: 1 is the only entry, then 4 and 5 come.
        assert!(lru.insert(4, Rc::new(40), 2).is_empty());
        let evicted = lru.insert(5, Rc::new(50), 2);
        assert_eq!(evicted.iter().map(|f| **f).collect::<Vec<_>>(), vec![10]);
        assert_eq!(lru.entries.len(), lru.by_use.len());
    }

    #[test]
    fn a_smaller_capacity_evicts_down_to_it_oldest_first() {
        let mut lru = lru();
        for id in 0..5 {
            assert!(lru.insert(id, Rc::new(id as u32), 8).is_empty());
        }
        let evicted = lru.insert(5, Rc::new(5), 3);
        assert_eq!(evicted.iter().map(|f| **f).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(lru.stats.open, 3);
    }
}
