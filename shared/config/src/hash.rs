//! SHA-256 of the config file's bytes: the drift-detection baseline.

use std::io;
use std::path::Path;

use sha2::{Digest, Sha256};

/// SHA-256 digest of a config file's exact bytes.
pub type ConfigHash = [u8; 32];

/// SHA-256 of `bytes`.
pub fn hash_bytes(bytes: &[u8]) -> ConfigHash {
    Sha256::digest(bytes).into()
}

/// SHA-256 of the file's bytes as they are on disk (no parsing, no normalisation: any
/// edit, even of a comment, changes the hash).
pub fn hash_config_file(path: impl AsRef<Path>) -> io::Result<ConfigHash> {
    std::fs::read(path.as_ref()).map(|bytes| hash_bytes(&bytes))
}

/// Lowercase hex, for logs, errors and `/healthz`.
pub fn hash_to_hex(hash: &ConfigHash) -> String {
    hex::encode(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_config_file_is_deterministic_and_detects_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("omnigraph.yaml");
        std::fs::write(&path, "graphs:\n  alpha:\n    uri: /data/alpha.omni\n").unwrap();

        let first = hash_config_file(&path).unwrap();
        let second = hash_config_file(&path).unwrap();
        assert_eq!(first, second, "same bytes, same hash");
        assert_eq!(first, hash_bytes(&std::fs::read(&path).unwrap()));

        // A one-byte edit (even whitespace) is a change.
        std::fs::write(&path, "graphs:\n  alpha:\n    uri: /data/alpha.omni \n").unwrap();
        let edited = hash_config_file(&path).unwrap();
        assert_ne!(first, edited);

        // Writing the original bytes back restores the original hash.
        std::fs::write(&path, "graphs:\n  alpha:\n    uri: /data/alpha.omni\n").unwrap();
        assert_eq!(hash_config_file(&path).unwrap(), first);
    }

    #[test]
    fn hash_config_file_reports_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = hash_config_file(dir.path().join("absent.yaml")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn hash_to_hex_is_lowercase_sha256_hex() {
        assert_eq!(
            hash_to_hex(&hash_bytes(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
