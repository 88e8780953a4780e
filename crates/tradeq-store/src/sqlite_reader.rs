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

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::StoreError;

/// Idle read-only connections kept for reuse.
const POOL_SIZE: usize = 8;

/// How much of the database file a reader maps (address space, not memory: the pages are the
/// kernel's page cache, shared by every connection).
const MMAP_BYTES: u64 = 1 << 36;

pub(crate) struct FastReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

fn reader_error(e: rusqlite::Error) -> StoreError {
    StoreError::Reader(e.to_string())
}

impl FastReader {
    pub(crate) fn new(path: &Path) -> FastReader {
        FastReader {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
        }
    }

    fn open(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(reader_error)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(reader_error)?;
        conn.set_prepared_statement_cache_capacity(64);
        // Pages read through a memory map cost no system call and no copy; a private page cache
        // of 2 MiB (SQLite's default) would send most lookups of a large store back to pread.
        conn.execute_batch(&format!(
            "PRAGMA mmap_size = {MMAP_BYTES}; PRAGMA cache_size = -16384;"
        ))
        .map_err(reader_error)?;
        Ok(conn)
    }

    /// Runs a query binding `params` and returns the first row's first two text columns.
    pub(crate) fn first_row(
        &self,
        sql: &str,
        params: &[&str],
    ) -> Result<Option<(String, String)>, StoreError> {
        let conn = match self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            Some(c) => c,
            None => self.open()?,
        };
        let result = (|| {
            let mut stmt = conn.prepare_cached(sql)?;
            stmt.query_row(rusqlite::params_from_iter(params.iter()), |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .optional()
        })()
        .map_err(reader_error);
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < POOL_SIZE {
                idle.push(conn);
            }
        }
        result
    }
}
