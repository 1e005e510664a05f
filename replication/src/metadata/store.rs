//! Persisting the metadata: one JSON file replaced atomically.
//!
//! Write `metadata.json.tmp`, fsync it, rename over `metadata.json`, fsync
//! the directory: after a crash the file is either the old or the new state,
//! never a mix. Runs on the controller core; the file is small and changes
//! rarely, so plain blocking I/O is fine here.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{Metadata, MetadataError};

pub const METADATA_FILE: &str = "metadata.json";

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
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| MetadataError::Storage(format!("{} is damaged: {e}", self.path.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Metadata::default()),
            Err(e) => Err(MetadataError::Storage(format!("reading {}: {e}", self.path.display()))),
        }
    }

    pub fn save(&self, metadata: &Metadata) -> Result<(), MetadataError> {
        self.save_inner(metadata).map_err(|e| MetadataError::Storage(format!("saving {}: {e}", self.path.display())))
    }

    fn save_inner(&self, metadata: &Metadata) -> io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let tmp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(metadata).map_err(io::Error::other)?;
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
    use crate::metadata::Command;

    #[test]
    fn saves_and_loads_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetadataStore::new(dir.path());
        assert_eq!(store.load().unwrap(), Metadata::default());
        let mut m = Metadata::default();
        m.apply(Command::CreateTopic { name: "t".into(), partitions: 3, config: Default::default() }, 2).unwrap();
        store.save(&m).unwrap();
        assert_eq!(store.load().unwrap(), m);
        assert!(!dir.path().join("metadata.json.tmp").exists());
        fs::write(dir.path().join(METADATA_FILE), b"{ not json").unwrap();
        assert!(matches!(store.load(), Err(MetadataError::Storage(_))));
    }
}
