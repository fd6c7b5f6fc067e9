//! Persistence of the registry: the [`Store`] trait (load + compare-and-swap by version, so the
//! registry can live in a shared store: [`super::S3Store`]) and [`FileStore`], one
//! pretty-printed JSON file `registry.json` in the data dir (the default, for one replica).
//!
//! Crash safety: every write goes to a fresh temp file in the same directory, is fsync'd, renamed
//! over `registry.json`, and the directory is fsync'd; a `kill -9` at any moment leaves either the
//! old or the new file. Leftover temp files are removed on open. Writers (threads or processes)
//! are serialized by an exclusive lock on `registry.lock`, under which the on-disk version is
//! compared with the expected one. The file holds the front users' secrets, so it is written
//! readable by its owner only (mode 0600).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{RegistryError, RegistryState};

/// The registry file name inside the data dir.
pub const REGISTRY_FILE: &str = "registry.json";
/// The lock file that serializes writers (it is never removed; its content is unused).
pub const LOCK_FILE: &str = "registry.lock";
/// Temp files are `.registry.json.tmp-<pid>-<n>`; any left over is garbage from a crash.
const TMP_PREFIX: &str = ".registry.json.tmp-";

/// Where the registry lives between runs.
pub trait Store: Send + Sync {
    /// The stored state; `None` when nothing was ever stored (an empty registry at version 0).
    fn load(&self) -> Result<Option<RegistryState>, RegistryError>;

    /// Stores `next` if the stored version is still `expected_version` (0 when nothing is
    /// stored); otherwise fails with [`RegistryError::Conflict`] and stores nothing.
    fn compare_and_swap(
        &self,
        expected_version: u64,
        next: &RegistryState,
    ) -> Result<(), RegistryError>;

    /// The state to start from: [`Self::load`], or what a shared store falls back to when it
    /// cannot be reached (a local cached copy).
    fn load_at_start(&self) -> Result<Option<RegistryState>, RegistryError> {
        self.load()
    }

    /// Whether other processes read and write this store too (replicas): then what a process
    /// learns on its own stays out of it (see [`super::Registry::learn`]).
    fn shared(&self) -> bool {
        false
    }

    /// Whether the stored registry can be read (readiness): its version, or why not.
    fn check(&self) -> Result<u64, RegistryError> {
        Ok(self.load()?.map_or(0, |s| s.version))
    }

    /// Whether a shared store answers; `None` for a store of this process's own.
    fn health(&self) -> Option<Result<(), String>> {
        None
    }
}

/// The registry as `registry.json` in a directory.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    path: PathBuf,
    lock_path: PathBuf,
}

impl FileStore {
    /// Uses `dir` (created if missing) and removes temp files left over by a crash.
    pub fn open(dir: &Path) -> Result<Self, RegistryError> {
        fs::create_dir_all(dir).map_err(|e| with_path(e, dir))?;
        let store = Self {
            dir: dir.to_path_buf(),
            path: dir.join(REGISTRY_FILE),
            lock_path: dir.join(LOCK_FILE),
        };
        let _lock = store.lock()?; // nobody is mid-write while we clean up
        store.remove_temp_files();
        Ok(store)
    }

    /// The path of `registry.json`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the exclusive writer lock; it is released when the returned file is dropped.
    fn lock(&self) -> Result<File, RegistryError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(|e| with_path(e, &self.lock_path))?;
        file.lock().map_err(|e| with_path(e, &self.lock_path))?;
        Ok(file)
    }

    fn remove_temp_files(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                // A leftover that cannot be removed is harmless: it is never read.
                if let Err(e) = fs::remove_file(entry.path()) {
                    tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove a leftover registry temp file");
                }
            }
        }
    }

    /// Writes `state` to a temp file, fsyncs it, renames it over `registry.json`, fsyncs the dir.
    fn write_atomic(&self, state: &RegistryState) -> Result<(), RegistryError> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let mut json = serde_json::to_vec_pretty(state).map_err(io::Error::other)?;
        json.push(b'\n');
        let tmp = self.dir.join(format!(
            "{TMP_PREFIX}{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut opts = OpenOptions::new();
            opts.write(true).create_new(true);
            // It holds the front users' secrets: the owner's only.
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut file = opts.open(&tmp)?;
            file.write_all(&json)?;
            file.sync_all()?;
            fs::rename(&tmp, &self.path)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(with_path(e, &self.path).into());
        }
        // The rename is done: the new state is what every reader sees from now on, so it is
        // committed. A failed directory fsync only weakens durability across a power loss.
        if let Err(e) = sync_dir(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot fsync the registry directory");
        }
        Ok(())
    }
}

impl Store for FileStore {
    fn load(&self) -> Result<Option<RegistryState>, RegistryError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(RegistryError::Unreadable {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let corrupt = |reason: String| RegistryError::Corrupt {
            path: self.path.clone(),
            reason,
        };
        // Deserializing validates every value (see `BucketProps`).
        let state: RegistryState =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        Ok(Some(state))
    }

    fn compare_and_swap(
        &self,
        expected_version: u64,
        next: &RegistryState,
    ) -> Result<(), RegistryError> {
        let _lock = self.lock()?;
        let found = self.load()?.map_or(0, |s| s.version);
        if found != expected_version {
            return Err(RegistryError::Conflict {
                expected: expected_version,
                found,
            });
        }
        self.write_atomic(next)
    }
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_rename_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        // registry.json is a non-empty directory: the rename over it fails.
        fs::create_dir(store.path()).unwrap();
        fs::write(store.path().join("x"), b"x").unwrap();
        let state = RegistryState::default();
        let err = store.write_atomic(&state).unwrap_err();
        assert!(matches!(err, RegistryError::Io(_)), "{err}");
        assert!(err.to_string().contains("registry.json"), "{err}");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().all(|n| !n.starts_with(TMP_PREFIX)),
            "{names:?}"
        );
        assert!(store.path().join("x").exists());
    }

    /// A file written when the values were plain strings loads into the typed values and is
    /// written back byte for byte.
    #[test]
    fn a_string_format_file_loads_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"{
  "version": 4,
  "buckets": {
    "alias": {
      "backend_bck": "real-bucket",
      "profile": "team-a/prod",
      "endpoint": "http://[::1]:9000",
      "cloud_region": "eu-west-1",
      "addressing_style": "virtual"
    },
    "discovered": {
      "cloud_region": "us-east-2"
    }
  }
}
"#;
        fs::write(dir.path().join(REGISTRY_FILE), text).unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        let state = store.load().unwrap().unwrap();
        let alias = &state.buckets["alias"];
        assert_eq!(alias.backend_bck.as_deref(), Some("real-bucket"));
        assert_eq!(alias.endpoint.as_ref().map(|e| e.port()), Some(Some(9000)));
        assert_eq!(
            alias.addressing_style,
            Some(crate::profiles::AddressingStyle::Virtual)
        );
        store.compare_and_swap(4, &state).unwrap();
        assert_eq!(fs::read_to_string(store.path()).unwrap(), text);
    }

    #[test]
    fn an_invalid_value_is_an_error_naming_the_bucket() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(REGISTRY_FILE),
            r#"{"version": 1, "buckets": {"ok": {}, "b": {"profile": "a b"}}}"#,
        )
        .unwrap();
        let err = FileStore::open(dir.path()).unwrap().load().unwrap_err();
        assert!(
            err.to_string().contains(
                "is corrupt: bucket \"b\": invalid extra.aws.profile \"a b\": invalid character ' '"
            ),
            "{err}"
        );
    }

    #[test]
    fn file_is_pretty_json_with_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        let state = RegistryState {
            version: 7,
            ..Default::default()
        };
        store.compare_and_swap(0, &state).unwrap();
        let text = fs::read_to_string(store.path()).unwrap();
        assert_eq!(text, "{\n  \"version\": 7,\n  \"buckets\": {}\n}\n");
        assert_eq!(store.load().unwrap(), Some(state));
    }

    #[cfg(unix)]
    #[test]
    fn the_file_with_the_users_secrets_is_the_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        let state: RegistryState = serde_json::from_str(
            r#"{"version": 1, "buckets": {}, "users": {"alice": {
                "access_key": "RBAAAAAAAAAAAAAAAAAA", "secret_key": "secret-secret-secret",
                "grants": {"logs-*": ["read"], "photos": ["admin", "write"]}}}}"#,
        )
        .unwrap();
        store.compare_and_swap(0, &state).unwrap();
        let mode = fs::metadata(store.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Every field survives the file, users too.
        assert_eq!(store.load().unwrap(), Some(state));
    }

    #[test]
    fn two_users_with_one_access_key_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let user =
            r#"{"access_key": "RBAAAAAAAAAAAAAAAAAA", "secret_key": "secret-secret-secret"}"#;
        fs::write(
            dir.path().join(REGISTRY_FILE),
            format!(r#"{{"version": 1, "buckets": {{}}, "users": {{"a": {user}, "b": {user}}}}}"#),
        )
        .unwrap();
        let err = FileStore::open(dir.path()).unwrap().load().unwrap_err();
        assert!(err.to_string().contains("the same access key"), "{err}");
    }
}
