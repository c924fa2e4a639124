//! Atomic rewrite of `omnigraph.yaml` with drift detection.
//!
//! Sequence: exclusive `flock` on the stable sibling `<file>.lock` -> re-read and hash
//! the file -> refuse with [`RewriteAtomicError::Drift`] unless the hash is the caller's
//! baseline -> serialize -> write `<file>.tmp` -> fsync -> rename over the file -> fsync
//! the directory -> return the new hash (the caller's next baseline).
//!
//! The lock is taken on a sibling that is never renamed or deleted. Locking the config
//! file itself would be wrong: the rename replaces its inode, so a second writer that
//! opened the new file would get a lock of its own while the first still held the old.
//!
//! Every call blocks (file I/O and `flock`); async callers run it in `spawn_blocking`.

use std::convert::Infallible;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use fs2::FileExt;

use crate::hash::{hash_bytes, hash_to_hex, ConfigHash};
use crate::model::{ConfigContentError, OmnigraphConfig};

/// Why an atomic rewrite did not happen. In every case the file is left as it was.
#[derive(Debug, thiserror::Error)]
pub enum RewriteAtomicError {
    /// The file on disk is not the one the caller loaded: someone edited it by hand.
    #[error(
        "the config file changed on disk since it was loaded (expected sha256 {}, found {}); \
         refusing to overwrite a hand edit",
        hash_to_hex(expected),
        hash_to_hex(actual)
    )]
    Drift {
        expected: ConfigHash,
        actual: ConfigHash,
    },
    #[error("config rewrite failed: {0}")]
    Io(#[from] io::Error),
    #[error("config rewrite failed: cannot serialize the config: {0}")]
    Serialize(#[from] serde_yaml::Error),
    /// The re-read file or the config to write breaks the model's rules.
    #[error("config rewrite refused: {0}")]
    Invalid(#[from] ConfigContentError),
}

/// Error of [`rewrite_atomic_with`]: the rewrite machinery's, or the update closure's.
#[derive(Debug, thiserror::Error)]
pub enum RewriteWithError<E> {
    #[error(transparent)]
    Rewrite(#[from] RewriteAtomicError),
    #[error(transparent)]
    Update(E),
}

impl<E> From<io::Error> for RewriteWithError<E> {
    fn from(err: io::Error) -> Self {
        RewriteWithError::Rewrite(RewriteAtomicError::Io(err))
    }
}

/// `<file>.lock`: the stable lock file beside the config file.
pub fn lock_path_for(config_path: &Path) -> io::Result<PathBuf> {
    sibling_with_suffix(config_path, ".lock")
}

/// `<file>.tmp`: where the new content is written before the rename.
pub fn tmp_path_for(config_path: &Path) -> io::Result<PathBuf> {
    sibling_with_suffix(config_path, ".tmp")
}

fn sibling_with_suffix(config_path: &Path, suffix: &str) -> io::Result<PathBuf> {
    let name = config_path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("config path {} has no file name", config_path.display()),
        )
    })?;
    let mut sibling: OsString = name.to_owned();
    sibling.push(suffix);
    Ok(config_path.with_file_name(sibling))
}

/// Replaces the config file at `path` with `new_config`, provided the file's current
/// SHA-256 is `expected_hash`. Returns the SHA-256 of the bytes written.
pub fn rewrite_atomic(
    path: impl AsRef<Path>,
    new_config: &OmnigraphConfig,
    expected_hash: ConfigHash,
) -> Result<ConfigHash, RewriteAtomicError> {
    locked_rewrite(path.as_ref(), expected_hash, |_current| {
        Ok::<_, RewriteWithError<Infallible>>(new_config.clone())
    })
    .map_err(|err| match err {
        RewriteWithError::Rewrite(err) => err,
        RewriteWithError::Update(never) => match never {},
    })
}

/// Like [`rewrite_atomic`], but the new config is `update` applied to the file's own
/// contents, re-read while the lock is held. Checks that must not race (duplicate graph
/// id or uri) belong in `update`; an `Err` from it aborts with nothing written.
pub fn rewrite_atomic_with<E, F>(
    path: impl AsRef<Path>,
    expected_hash: ConfigHash,
    update: F,
) -> Result<ConfigHash, RewriteWithError<E>>
where
    F: FnOnce(&mut OmnigraphConfig) -> Result<(), E>,
{
    locked_rewrite(path.as_ref(), expected_hash, |current| {
        let mut config = OmnigraphConfig::from_yaml_str(&String::from_utf8_lossy(current))
            .map_err(RewriteAtomicError::Invalid)?;
        update(&mut config).map_err(RewriteWithError::Update)?;
        Ok(config)
    })
}

fn locked_rewrite<E, F>(
    path: &Path,
    expected_hash: ConfigHash,
    produce: F,
) -> Result<ConfigHash, RewriteWithError<E>>
where
    F: FnOnce(&[u8]) -> Result<OmnigraphConfig, RewriteWithError<E>>,
{
    let lock_path = lock_path_for(path)?;
    let lock_file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| with_path(e, "open lock file", &lock_path))?;
    FileExt::lock_exclusive(&lock_file).map_err(|e| with_path(e, "lock", &lock_path))?;

    let current = std::fs::read(path).map_err(|e| with_path(e, "read", path))?;
    let actual = hash_bytes(&current);
    if actual != expected_hash {
        return Err(RewriteAtomicError::Drift {
            expected: expected_hash,
            actual,
        }
        .into());
    }

    let new_config = produce(&current)?;
    new_config
        .validate()
        .map_err(|e| RewriteAtomicError::Invalid(e.into()))?;
    let text = new_config
        .to_yaml_string()
        .map_err(RewriteAtomicError::Serialize)?;
    replace_file(path, text.as_bytes())?;
    // The lock is released when `lock_file` is closed, after the rename is durable.
    drop(lock_file);
    Ok(hash_bytes(text.as_bytes()))
}

/// Write `<file>.tmp`, fsync, rename over `path`, fsync the directory.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), RewriteAtomicError> {
    let tmp_path = tmp_path_for(path)?;
    let tmp_guard = TmpFileGuard::new(&tmp_path);
    {
        let mut tmp = File::create(&tmp_path).map_err(|e| with_path(e, "create", &tmp_path))?;
        // Keep the operator's file mode (e.g. 0640) across the rewrite.
        if let Ok(meta) = std::fs::metadata(path) {
            tmp.set_permissions(meta.permissions())
                .map_err(|e| with_path(e, "set permissions of", &tmp_path))?;
        }
        tmp.write_all(bytes)
            .map_err(|e| with_path(e, "write", &tmp_path))?;
        tmp.sync_all()
            .map_err(|e| with_path(e, "fsync", &tmp_path))?;
    }
    std::fs::rename(&tmp_path, path).map_err(|e| with_path(e, "rename over", path))?;
    tmp_guard.disarm();
    sync_parent_dir(path)?;
    Ok(())
}

fn sync_parent_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| with_path(e, "fsync directory", dir))
}

fn with_path(err: io::Error, action: &str, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{action} {}: {err}", path.display()))
}

/// Removes the temporary file on every early return; disarmed once it has been renamed.
struct TmpFileGuard<'a> {
    path: &'a Path,
    armed: bool,
}

impl<'a> TmpFileGuard<'a> {
    fn new(path: &'a Path) -> Self {
        TmpFileGuard { path, armed: true }
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TmpFileGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            // Best effort: the file may never have been created.
            let _ = std::fs::remove_file(self.path);
        }
    }
}

#[cfg(test)]
mod tests;
