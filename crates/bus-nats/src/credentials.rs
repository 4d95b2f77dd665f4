//! A node's NATS credentials: an nkey (an Ed25519 key pair). The node keeps
//! its seed in a file of its own ([`key_file`]) and proves it holds it by
//! signing the server's challenge: no secret crosses the wire or sits in
//! the server's configuration, which lists only public keys
//! (`permissions::authorization_block`).

use std::io::Write;
use std::path::{Path, PathBuf};

use nkeys::{KeyPair, KeyPairType};

use crate::subjects;

/// The extension of a seed file.
pub const KEY_FILE_EXTENSION: &str = "nk";

/// The seed file of process `process` in `dir`: `<dir>/<name>.nk`, the name
/// escaped like a subject token (so any name is one safe file name).
pub fn key_file(dir: &Path, process: &str) -> PathBuf {
    dir.join(format!("{}.{KEY_FILE_EXTENSION}", subjects::token(process)))
}

/// A node's user nkey. Its `Debug` shows only the public key.
#[derive(Clone)]
pub struct NodeKey {
    seed: String,
    public_key: String,
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("NodeKey")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

/// A seed file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The file could not be read or written.
    #[error("NATS key file {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file does not hold a user nkey seed.
    #[error("NATS key file {path} does not hold a user nkey seed (SU…): {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl NodeKey {
    /// A new key from the operating system's random generator.
    pub fn generate() -> Self {
        let pair = KeyPair::new_user();
        let seed = pair.seed().expect("a generated key pair has its seed");
        Self {
            public_key: pair.public_key(),
            seed,
        }
    }

    /// The key of a user seed (`SU…`), or why `seed` is not one.
    fn from_seed(seed: &str) -> Result<Self, String> {
        let pair = KeyPair::from_seed(seed).map_err(|error| error.to_string())?;
        if !matches!(pair.key_pair_type(), KeyPairType::User) {
            return Err("the seed is not a user's".to_owned());
        }
        Ok(Self {
            seed: seed.to_owned(),
            public_key: pair.public_key(),
        })
    }

    /// Reads the seed in `path` (surrounding whitespace ignored).
    pub fn read(path: &Path) -> Result<Self, CredentialsError> {
        let text = std::fs::read_to_string(path).map_err(|error| CredentialsError::Io {
            path: path.to_owned(),
            error,
        })?;
        Self::from_seed(text.trim()).map_err(|reason| CredentialsError::Invalid {
            path: path.to_owned(),
            reason,
        })
    }

    /// Writes the seed to `path`, which must not exist yet, readable by its
    /// owner only.
    pub fn write_new(&self, path: &Path) -> Result<(), CredentialsError> {
        let io = |error| CredentialsError::Io {
            path: path.to_owned(),
            error,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io)?;
        writeln!(file, "{}", self.seed).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// The public key (`U…`), what the server's configuration lists.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The seed, for the client's signature.
    pub(crate) fn seed(&self) -> &str {
        &self.seed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_key_reads_back_and_only_its_owner_may_read_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = key_file(dir.path(), "gs.1");
        assert_eq!(path.file_name().unwrap(), "gs~2e1.nk");
        let key = NodeKey::generate();
        key.write_new(&path).unwrap();
        let read = NodeKey::read(&path).unwrap();
        assert_eq!(read.public_key(), key.public_key());
        assert!(read.public_key().starts_with('U'));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = key.write_new(&path).unwrap_err();
        assert!(matches!(again, CredentialsError::Io { .. }), "{again}");
    }

    #[test]
    fn a_file_without_a_user_seed_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.nk");
        let account_seed = KeyPair::new_account().seed().unwrap();
        for text in ["password", &account_seed, ""] {
            std::fs::write(&path, text).unwrap();
            let error = NodeKey::read(&path).unwrap_err();
            assert!(matches!(error, CredentialsError::Invalid { .. }), "{error}");
            assert!(error.to_string().contains("bad.nk"), "{error}");
        }
        let missing = NodeKey::read(&dir.path().join("none.nk")).unwrap_err();
        assert!(matches!(missing, CredentialsError::Io { .. }), "{missing}");
    }

    #[test]
    fn debug_output_never_shows_the_seed() {
        let key = NodeKey::generate();
        let shown = format!("{key:?}");
        assert!(shown.contains(key.public_key()));
        assert!(!shown.contains(key.seed()), "{shown}");
    }
}
