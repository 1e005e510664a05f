//! raft-rs logs through `slog`; this drain forwards every record to
//! `tracing`, so raft's elections and warnings land in the broker's log lines
//! (target `corelog_replication::controller::raft`) instead of being dropped.

use std::fmt::{self, Write};

use slog::{Drain, Level, OwnedKVList, Record, KV};

/// A `slog` drain that re-emits each record as a `tracing` event. Stateless:
/// it lives wherever the `QuorumNode` holding its logger lives (core 0).
pub struct TracingDrain;

/// The logger a `QuorumNode` hands to raft: every record carries the node's
/// id as `raft_id`.
pub fn raft_logger(node_id: u64) -> slog::Logger {
    slog::Logger::root(TracingDrain, slog::o!("raft_id" => node_id))
}

/// Collects a record's key-value pairs as ` key=value` text.
struct KvText(String);

impl slog::Serializer for KvText {
    fn emit_arguments(&mut self, key: slog::Key, val: &fmt::Arguments) -> slog::Result {
        // Writing to a String cannot fail.
        let _ = write!(self.0, " {key}={val}");
        Ok(())
    }
}

impl Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record, values: &OwnedKVList) -> Result<(), slog::Never> {
        let mut kv = KvText(String::new());
        // Serializing into a String does not fail; a failing KV impl only
        // loses its own pairs.
        let _ = record.kv().serialize(record, &mut kv);
        let _ = values.serialize(record, &mut kv);
        let msg = record.msg();
        let kv = kv.0;
        // tracing levels are static per call site, hence one arm per level.
        match record.level() {
            Level::Critical | Level::Error => {
                tracing::error!(target: "corelog_replication::controller::raft", "{msg}{kv}")
            }
            Level::Warning => {
                tracing::warn!(target: "corelog_replication::controller::raft", "{msg}{kv}")
            }
            Level::Info => {
                tracing::info!(target: "corelog_replication::controller::raft", "{msg}{kv}")
            }
            Level::Debug => {
                tracing::debug!(target: "corelog_replication::controller::raft", "{msg}{kv}")
            }
            Level::Trace => {
                tracing::trace!(target: "corelog_replication::controller::raft", "{msg}{kv}")
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn slog_records_reach_tracing_with_level_and_fields() {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish();
        // The process-wide subscriber: a scoped one races with the other
        // tests' threads over tracing's global interest and level caches (a
        // record was sometimes dropped). Only this test sets it; the other
        // tests' raft records land in it too, so only this logger's lines
        // (its own raft id) are looked at.
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber of this test binary");
        let logger = raft_logger(4242);
        slog::warn!(logger, "became candidate"; "term" => 3);
        slog::debug!(logger, "sent vote");
        slog::trace!(logger, "below the subscriber's level");
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| l.contains("raft_id=4242")).collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("WARN"), "{text}");
        assert!(lines[0].contains("corelog_replication::controller::raft"), "{text}");
        assert!(lines[0].contains("became candidate term=3 raft_id=4242"), "{text}");
        assert!(lines[1].contains("DEBUG") && lines[1].contains("sent vote raft_id=4242"), "{text}");
    }
}
