//! Point reads of the embedded store straight through SQLite's C library.
//!
//! sqlx runs every SQLite connection on a worker thread and hands each statement to it over a
//! channel: about 40 µs per point lookup on one core (`examples/lookup_bench.rs`), which was most
//! of a request's cost. A lookup served from SQLite's page cache takes a few µs, so `find` reads
//! here, synchronously, on a small pool of read-only connections with cached prepared
//! statements. In WAL mode a reader never waits for the writer, and both drivers link the same
//! libsqlite3.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// Idle read-only connections kept for reuse.
const POOL_SIZE: usize = 8;

/// How much of the database file a reader maps (address space, not memory: the pages are the
/// kernel's page cache, shared by every connection). This is the ceiling the bundled SQLite is
/// built with (`SQLITE_MAX_MMAP_SIZE`, just under 2 GiB); pages past it are read with `pread`.
const MMAP_BYTES: u64 = 0x7fff_0000;

pub(crate) struct FastReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// How long a read waits on a lock another connection holds. These reads run on the async
    /// runtime's worker threads, so a wait here stalls every request queued on that worker:
    /// short, and a timeout is answered as the protocol's retryable error.
    busy_timeout: Duration,
}

/// The default of [`FastReader::busy_timeout`].
pub(crate) const READ_BUSY_TIMEOUT: Duration = Duration::from_millis(100);

fn reader_error(e: rusqlite::Error) -> StoreError {
    StoreError::Reader(e.to_string())
}

impl FastReader {
    pub(crate) fn new(path: &Path) -> FastReader {
        FastReader {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            busy_timeout: READ_BUSY_TIMEOUT,
        }
    }

    /// Sets how long a read waits on another connection's lock.
    pub(crate) fn set_busy_timeout(&mut self, timeout: Duration) {
        self.busy_timeout = timeout;
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn open(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(reader_error)?;
        conn.busy_timeout(self.busy_timeout).map_err(reader_error)?;
        conn.set_prepared_statement_cache_capacity(64);
        // Pages read through a memory map cost no system call and no copy; a private page cache
        // of 2 MiB (SQLite's default) would send most lookups of a large store back to pread.
        conn.execute_batch(&format!(
            "PRAGMA mmap_size = {MMAP_BYTES}; PRAGMA cache_size = -16384;"
        ))
        .map_err(reader_error)?;
        Ok(conn)
    }

    /// Runs a query binding `params` and hands the first row's first two text columns to
    /// `decode` as they sit in SQLite's row buffer: the document is read in place, never copied
    /// into a `String` first.
    pub(crate) fn first_row<T>(
        &self,
        sql: &str,
        params: &[&str],
        decode: impl FnOnce(&str, &str) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let conn = match self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            Some(c) => c,
            None => self.open()?,
        };
        let result = (|| {
            let mut stmt = conn.prepare_cached(sql).map_err(reader_error)?;
            let mut rows = stmt
                .query(rusqlite::params_from_iter(params.iter()))
                .map_err(reader_error)?;
            let Some(row) = rows.next().map_err(reader_error)? else {
                return Ok(None);
            };
            let text = |i: usize| {
                row.get_ref(i)
                    .map_err(reader_error)?
                    .as_str()
                    .map_err(|e| StoreError::Reader(e.to_string()))
            };
            decode(text(0)?, text(1)?).map(Some)
        })();
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < POOL_SIZE {
                idle.push(conn);
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_map_the_file_and_find_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let setup = Connection::open(&path).unwrap();
        setup
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT PRIMARY KEY, doc TEXT);
                 INSERT INTO t VALUES ('a', '{\"x\":1}');",
            )
            .unwrap();
        let reader = FastReader::new(&path);
        let conn = reader.open().unwrap();
        // SQLite silently lowers a request above its compiled ceiling: the setting must stick,
        // or every lookup is back to system calls.
        let mapped: i64 = conn
            .query_row("PRAGMA mmap_size", [], |r| r.get(0))
            .unwrap();
        assert_eq!(u64::try_from(mapped).unwrap(), MMAP_BYTES);
        let sql = "SELECT k, doc FROM t WHERE k = ?1";
        let owned = |k: &str, doc: &str| Ok((k.to_string(), doc.to_string()));
        assert_eq!(
            reader.first_row(sql, &["a"], owned).unwrap(),
            Some(("a".to_string(), r#"{"x":1}"#.to_string()))
        );
        assert_eq!(reader.first_row(sql, &["b"], owned).unwrap(), None);
    }

    #[test]
    fn a_read_behind_another_connections_lock_fails_fast() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let setup = Connection::open(&path).unwrap();
        setup
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT PRIMARY KEY, doc TEXT);
                 INSERT INTO t VALUES ('a', '{}');",
            )
            .unwrap();
        drop(setup);
        // A connection that keeps the file to itself (exclusive locking mode) until it is done.
        let holder = Connection::open(&path).unwrap();
        holder
            .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN IMMEDIATE; DELETE FROM t;")
            .unwrap();
        let reader = FastReader::new(&path);
        let started = std::time::Instant::now();
        let result = reader.first_row("SELECT k, doc FROM t WHERE k = ?1", &["a"], |_, _| Ok(()));
        let took = started.elapsed();
        let err = result.unwrap_err().to_string();
        assert!(err.contains("locked"), "{err}");
        assert!(
            took >= READ_BUSY_TIMEOUT / 2,
            "it did not wait at all: {took:?}"
        );
        assert!(
            took < Duration::from_secs(1),
            "a blocked read held its thread for {took:?}"
        );
        holder.execute_batch("ROLLBACK").unwrap();
    }
}
