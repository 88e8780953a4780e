//! Owner-only modes for the embedded store's files.
//!
//! `tradeq.db` holds every secret tradeq has (platform private keys, AES keys, TOP secrets, app
//! auth tokens, sessions), and its `-wal` and `-shm` hold recent pages of it. SQLite creates a
//! database file with 0644 (less the umask) and gives its `-wal` and `-shm` the database file's
//! own mode, so creating the database file 0600 before SQLite opens it is enough to keep all
//! three private.

use std::path::{Path, PathBuf};

/// Creates `db` empty with mode 0600 if it does not exist yet (SQLite then fills it in).
pub(crate) fn create_private(db: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(db) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The database file and its companions that exist and can be read or written by anyone but
/// their owner, with their modes.
pub fn shared_store_files(db: &Path) -> Vec<(PathBuf, u32)> {
    let mut found = Vec::new();
    for suffix in ["", "-wal", "-shm", "-nonces", "-nonces-wal", "-nonces-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let path = PathBuf::from(name);
        if let Some(mode) = group_or_other_mode(&path) {
            found.push((path, mode));
        }
    }
    found
}

/// The permission bits of `path` when its group or others have any access; `None` when only
/// the owner has, or when it does not exist.
pub fn group_or_other_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_file_is_private_and_an_existing_one_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        create_private(&db).unwrap();
        let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(shared_store_files(&db).is_empty());
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        create_private(&db).unwrap();
        assert_eq!(shared_store_files(&db), vec![(db.clone(), 0o644)]);
    }
}
