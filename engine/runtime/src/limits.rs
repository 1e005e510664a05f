//! Every limit and default of the runtime, in one place.

/// Block size every O_DIRECT read and write is aligned to. 4 KiB is the logical
/// block size of every NVMe/SATA SSD and of ext4/xfs; glommio reports the real
/// device alignment and we assert it divides this.
pub const BLOCK_SIZE: usize = 4096;

/// Default io_memory glommio registers per executor (it registers it three
/// times against RLIMIT_MEMLOCK; see README).
pub const DEFAULT_IO_MEMORY_BYTES: usize = 10 * 1024 * 1024;

/// Capacity of each cross-core control channel. Bounded so a slow core applies
/// back-pressure instead of growing a queue without limit.
pub const CONTROL_CHANNEL_CAPACITY: usize = 1024;

/// Threads per core for blocking work (small fsync'd files, metadata
/// writes). glommio's default of one queued every save behind the one
/// before it: a restart of 10,000 partitions ran 20,000 of them in a row.
/// 16 keep the disk's queue full through such a burst, and ext4 groups
/// their fsyncs into shared journal commits; the threads sleep in the
/// kernel almost all the time, so they cost a stack each and no CPU.
pub const BLOCKING_THREADS_PER_CORE: usize = 16;

/// Largest CPU number a cpuset may name: the kernel's `cpu_set_t` holds
/// CPUs 0..CPU_SETSIZE (1024), so a larger one could never be pinned to.
pub const MAX_CPU_INDEX: usize = 1023;

// O_DIRECT needs a power-of-two block size.
const _: () = assert!(BLOCK_SIZE.is_power_of_two());
// glommio splits io_memory into block-sized DMA buffers.
const _: () = assert!(DEFAULT_IO_MEMORY_BYTES.is_multiple_of(BLOCK_SIZE));
const _: () = assert!(CONTROL_CHANNEL_CAPACITY > 0);
// One thread would queue every fsync behind the one before it.
const _: () = assert!(BLOCKING_THREADS_PER_CORE > 1);
const _: () = assert!(MAX_CPU_INDEX < libc::CPU_SETSIZE as usize);
