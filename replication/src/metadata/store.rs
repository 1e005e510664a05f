//! The version-1 `metadata.json` (a single node's, before the cluster): read
//! by `cluster::file` to migrate it; written here only to make such files
//! (tests). The current file is `cluster::file::ClusterStore`'s, version 2.
//!
//! Persisting the metadata: one JSON file replaced atomically.
//!
//! Write `metadata.json.tmp`, fsync it, rename over `metadata.json`, fsync
//! the directory: after a crash the file is either the old or the new state,
//! never a mix. Synchronous: the broker loads it before its cores start and
//! saves it from the controller core's blocking pool
//! (`corelog_runtime::blocking`), since the fsyncs take milliseconds.
//!
//! # File format
//!
//! `metadata.json` is one JSON object, pretty-printed by serde_json (two-space
//! indent, one array element per line, no trailing newline). Format version 1,
//! with arrays shown on one line:
//!
//! ```text
//! {
//!   "format_version": 1,        u32: layout of this file (METADATA_FORMAT_VERSION)
//!   "version": 3,               u64: Metadata::version, bumped by every change
//!   "topics": {                 object: every topic by name, in name order
//!     "orders": {
//!       "name": "orders",       the same name again
//!       "config": {             TopicConfig, every field always present:
//!         "retention_ms": null,          u64 ms, or null: keep forever
//!         "retention_bytes": 1048576,    u64 bytes, or null: no size limit
//!         "segment_bytes": 1073741824,   u64
//!         "segment_ms": 604800000,       u64
//!         "flush_interval_ms": null,     u64 ms, or null: fdatasync before every ack
//!         "max_message_bytes": 1048576   u64
//!       },
//!       "partitions": [0, 1, 0]          owning core of each partition; index = partition id
//!     }
//!   }
//! }
//! ```
//!
//! Compatibility:
//! - `format_version` absent: version 1. Every file written before the field
//!   existed is version 1, and keeps loading.
//! - `format_version` newer than [`METADATA_FORMAT_VERSION`]: refused (the
//!   error names the file and both versions), never half-read: a newer corelog
//!   wrote it, and only a build that knows that layout may rewrite it.
//! - Fields the layout does not list are ignored on load (and not written back
//!   by the next save). That is not a way to extend the format: any change to
//!   the layout above, an added field included, needs a new version (so an
//!   older build refuses the file instead of dropping what it does not know)
//!   and a loader here for the old one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Metadata, MetadataError};

pub const METADATA_FILE: &str = "metadata.json";

/// Version of the `metadata.json` layout this build writes, and the newest it
/// reads. See the module docs for the layout and when to bump it.
pub const METADATA_FORMAT_VERSION: u32 = 1;

/// What a file without a `format_version` field is.
const UNVERSIONED_FORMAT_VERSION: u32 = 1;

/// The file's top-level object as written: the version, then the metadata's
/// own fields beside it.
#[derive(Serialize)]
struct VersionedFile<'a> {
    format_version: u32,
    #[serde(flatten)]
    metadata: &'a Metadata,
}

/// Just the version, read before anything else so that a newer file is
/// refused as such instead of failing on whatever else changed in it.
#[derive(Deserialize)]
struct FormatVersion {
    #[serde(default = "unversioned")]
    format_version: u64,
}

fn unversioned() -> u64 {
    u64::from(UNVERSIONED_FORMAT_VERSION)
}

pub struct MetadataStore {
    path: PathBuf,
}

impl MetadataStore {
    pub fn new(data_dir: &Path) -> Self {
        MetadataStore { path: data_dir.join(METADATA_FILE) }
    }

    /// The saved metadata, or empty metadata if none was ever saved.
    pub fn load(&self) -> Result<Metadata, MetadataError> {
        match fs::read(&self.path) {
            Ok(bytes) => self.decode(&bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Metadata::default()),
            Err(e) => Err(MetadataError::Storage(format!("reading {}: {e}", self.path.display()))),
        }
    }

    fn decode(&self, bytes: &[u8]) -> Result<Metadata, MetadataError> {
        let damaged = |e: serde_json::Error| MetadataError::Storage(format!("{} is damaged: {e}", self.path.display()));
        let FormatVersion { format_version } = serde_json::from_slice(bytes).map_err(damaged)?;
        if format_version > u64::from(METADATA_FORMAT_VERSION) {
            return Err(MetadataError::Storage(format!(
                "{} has metadata format version {format_version}, but this build of corelog reads versions up to \
                 {METADATA_FORMAT_VERSION}: it was written by a newer corelog; run that one (or a newer one)",
                self.path.display()
            )));
        }
        if format_version == 0 {
            return Err(MetadataError::Storage(format!(
                "{} is damaged: metadata format version 0 does not exist (versions start at 1)",
                self.path.display()
            )));
        }
        // Version 1 is the only layout so far: `Metadata`'s own fields.
        serde_json::from_slice(bytes).map_err(damaged)
    }

    pub fn save(&self, metadata: &Metadata) -> Result<(), MetadataError> {
        self.save_inner(metadata).map_err(|e| MetadataError::Storage(format!("saving {}: {e}", self.path.display())))
    }

    fn save_inner(&self, metadata: &Metadata) -> io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let tmp = self.path.with_extension("json.tmp");
        let file = VersionedFile { format_version: METADATA_FORMAT_VERSION, metadata };
        let bytes = serde_json::to_vec_pretty(&file).map_err(io::Error::other)?;
        let mut file = File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, &self.path)?;
        File::open(dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{Topic, TopicConfig};

    #[test]
    fn saves_and_loads_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetadataStore::new(dir.path());
        assert_eq!(store.load().unwrap(), Metadata::default());
        let m = sample();
        store.save(&m).unwrap();
        assert_eq!(store.load().unwrap(), m);
        assert!(!dir.path().join("metadata.json.tmp").exists());
        fs::write(dir.path().join(METADATA_FILE), b"{ not json").unwrap();
        assert!(matches!(store.load(), Err(MetadataError::Storage(_))));
    }

    /// One topic with every config field set explicitly, so the golden file
    /// does not move when a default does.
    fn sample() -> Metadata {
        let config = TopicConfig {
            retention_ms: Some(86_400_000),
            retention_bytes: None,
            segment_bytes: 1 << 20,
            segment_ms: 3_600_000,
            flush_interval_ms: Some(250),
            max_message_bytes: 65_536,
        };
        let topic = Topic { name: "orders".into(), config, partitions: vec![0, 1, 0] };
        Metadata { version: 3, topics: [("orders".to_string(), topic)].into() }
    }

    /// The exact bytes [`sample`] is saved as: the format the module docs
    /// describe. A change here is a change of the file format: bump
    /// METADATA_FORMAT_VERSION and keep loading this one, don't just update it.
    const GOLDEN_V1: &str = r#"{
  "format_version": 1,
  "version": 3,
  "topics": {
    "orders": {
      "name": "orders",
      "config": {
        "retention_ms": 86400000,
        "retention_bytes": null,
        "segment_bytes": 1048576,
        "segment_ms": 3600000,
        "flush_interval_ms": 250,
        "max_message_bytes": 65536
      },
      "partitions": [
        0,
        1,
        0
      ]
    }
  }
}"#;

    #[test]
    fn writes_the_documented_format() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetadataStore::new(dir.path());
        store.save(&sample()).unwrap();
        let written = fs::read_to_string(dir.path().join(METADATA_FILE)).unwrap();
        assert_eq!(written, GOLDEN_V1);
        assert_eq!(store.load().unwrap(), sample());
    }

    #[test]
    fn a_file_without_format_version_loads_as_version_1() {
        // What every build before format_version wrote.
        let old = GOLDEN_V1.replace("  \"format_version\": 1,\n", "");
        assert!(!old.contains("format_version"));
        assert_eq!(serde_json::to_string_pretty(&sample()).unwrap(), old, "byte for byte what those builds wrote");
        let dir = tempfile::tempdir().unwrap();
        let store = MetadataStore::new(dir.path());
        fs::write(dir.path().join(METADATA_FILE), &old).unwrap();
        assert_eq!(store.load().unwrap(), sample());
        // Saving it again writes the current version.
        store.save(&store.load().unwrap()).unwrap();
        assert_eq!(fs::read_to_string(dir.path().join(METADATA_FILE)).unwrap(), GOLDEN_V1);
    }

    #[test]
    fn a_newer_format_version_is_refused_naming_the_file_and_both_versions() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetadataStore::new(dir.path());
        let path = dir.path().join(METADATA_FILE);
        // Refused on the version alone: the rest may be laid out in a way this
        // build cannot parse, or in one it can but would misread.
        let newer = [
            GOLDEN_V1.replace("\"format_version\": 1", "\"format_version\": 2"),
            r#"{"format_version": 2, "topics": [{"name": "orders", "cores": [0, 1, 0]}]}"#.to_string(),
        ];
        for text in newer {
            fs::write(&path, &text).unwrap();
            let Err(MetadataError::Storage(message)) = store.load() else { panic!("loaded a newer format: {text}") };
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains("format version 2"), "{message}");
            assert!(message.contains(&format!("up to {METADATA_FORMAT_VERSION}")), "{message}");
            assert_eq!(fs::read_to_string(&path).unwrap(), text, "a refused file is left as it is");
        }
    }

    #[test]
    fn damaged_files_are_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetadataStore::new(dir.path());
        let path = dir.path().join(METADATA_FILE);
        let damaged: [&[u8]; 7] = [
            &GOLDEN_V1.as_bytes()[..GOLDEN_V1.len() / 2], // truncated
            b"",
            b"\x00\xff\x13garbage",
            b"[1, 2, 3]",
            br#"{"format_version": "one", "version": 3, "topics": {}}"#,
            br#"{"format_version": 0, "version": 3, "topics": {}}"#,
            br#"{"format_version": 1, "version": 3, "topics": {"orders": {"name": "orders"}}}"#,
        ];
        for bytes in damaged {
            fs::write(&path, bytes).unwrap();
            let shown = String::from_utf8_lossy(bytes);
            let Err(MetadataError::Storage(message)) = store.load() else { panic!("loaded damaged file {shown:?}") };
            assert!(message.contains(&path.display().to_string()), "{shown:?}: {message}");
            assert!(message.contains("damaged"), "{shown:?}: {message}");
        }
    }
}
