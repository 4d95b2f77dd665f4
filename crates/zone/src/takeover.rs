//! Taking back a dead node's players at once (DESIGN §5): the embedded zone
//! holds an exclusive lock on its data directory for as long as it runs, so
//! a zone that starts has proven that every node of the previous run is
//! dead (the operating system drops the lock of a killed process). Each game
//! server it starts first frees, in every database, the rows its predecessor
//! held or was being handed, instead of leaving players `PLAYER_BUSY` until
//! those leases run out. The same holds for a game server the running zone
//! killed and restarts itself.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use game::StoreRoutes;
use ownership::OwnerId;
use store::{OpOutcome, PlayerOp, StoreError};

/// The lock file in a zone's data directory.
pub const LOCK_FILE: &str = "kuafu.lock";

/// Why the data directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another running zone holds it.
    #[error("{0} is locked: another zone is running on this data directory")]
    Held(PathBuf),
    /// The lock file could not be opened or locked.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// The exclusive lock on a data directory, held until dropped (or until the
/// process dies, however it dies).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the lock of `data_dir`, or says who holds it.
    pub fn acquire(data_dir: &Path) -> Result<Self, LockError> {
        let path = data_dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|error| LockError::Io(path.clone(), error))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => Err(LockError::Held(path)),
            Err(TryLockError::Error(error)) => Err(LockError::Io(path, error)),
        }
    }
}

/// Frees, in every database of the zone, the rows a dead predecessor of
/// `owner` held or was being handed; returns how many.
pub async fn take_back(stores: &StoreRoutes, owner: &OwnerId) -> Result<u64, StoreError> {
    let mut rows = 0;
    for writer in stores.values() {
        let operation = PlayerOp::TakeBack {
            owner: owner.clone(),
        };
        match writer.submit(operation).await? {
            OpOutcome::TakenBack { rows: freed } => rows += freed,
            other => {
                return Err(StoreError::Backend(format!("take back answered {other:?}")));
            }
        }
    }
    Ok(rows)
}

/// Frees the rows of `owner`'s dead predecessor, as [`take_back`] does,
/// and says in the log how many.
pub(crate) async fn take_back_logged(
    stores: &StoreRoutes,
    owner: &OwnerId,
) -> Result<u64, StoreError> {
    let rows = take_back(stores, owner).await?;
    if rows > 0 {
        tracing::info!(node = %owner.node, rows, "took back the rows of its dead predecessor");
    }
    Ok(rows)
}
