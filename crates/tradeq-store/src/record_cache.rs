//! Decoded records reused between lookups while the database is unchanged, on both backends.
//!
//! A point lookup costs a database read and a JSON decode: most of what a TOP answer costs.
//! Between two commits the answer to a lookup cannot change, so each backend names the state of
//! its database with a [`ChangeSource`] stamp, read *before* the lookup whose result is cached;
//! a cached record is used only while the stamp is the one it was cached under, and any new
//! stamp empties the cache. A record cached under a stamp is never older than that stamp's
//! state: a commit landing between the two reads changes the stamp and retires the entry at
//! the next lookup. A source that cannot vouch for the state right now answers `None`, and the
//! lookup reads the database.
//!
//! - SQLite ([`ChangeProbe`]): in WAL mode every commit, by any connection of any process (a
//!   `tradeq import` next to the server included), rewrites the wal-index header at the start of
//!   the `-shm` file (<https://www.sqlite.org/walformat.html>, §2.2: two copies of a 48-byte
//!   header holding a commit counter, the last frame, salts and checksums). The stamp is that
//!   header, read with one `pread`.
//! - PostgreSQL (`postgres::epoch`): a counter row every record write bumps in its own
//!   transaction, polled by each node.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use tradeq_model::{KeyKind, Record, RecordKind};

use crate::StoreError;

/// Names the state of a database, as of now.
pub(crate) trait ChangeSource {
    /// Equal stamps: no record was written in between.
    type Stamp: Copy + Eq;

    /// The state now, or `None` when it cannot be told (the lookup then reads the database).
    fn stamp(&self) -> Option<Self::Stamp>;
}

/// Bytes of one copy of the wal-index header.
const HEADER_BYTES: usize = 48;
/// `iVersion` of the wal-index format every SQLite since 3.7.0 writes.
const WAL_INDEX_VERSION: u32 = 3_007_000;

/// One state of an SQLite database, as the wal-index header names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp([u8; HEADER_BYTES]);

/// Every `-shm` descriptor this process opened, by (device, inode), kept open until it exits.
///
/// POSIX advisory locks belong to the process and the file, not to the descriptor: closing *any*
/// descriptor of a file drops every lock the process holds on it, the locks SQLite's own
/// connections take on `-shm` included. A probe that closed its descriptor (when a store is
/// dropped, or when a header read fails) would silently unlock the wal-index under the
/// connections still open on it. So a descriptor, once open, is never closed: one per `-shm`
/// file the process ever probed, reused when the same file is probed again.
fn held_descriptors() -> &'static Mutex<Held> {
    static HELD: OnceLock<Mutex<Held>> = OnceLock::new();
    HELD.get_or_init(Default::default)
}

/// Open `-shm` descriptors by (device, inode).
type Held = HashMap<(u64, u64), Arc<File>>;

/// Reads the wal-index header of one SQLite database.
pub(crate) struct ChangeProbe {
    shm: Arc<File>,
}

impl ChangeProbe {
    #[cfg(unix)]
    fn open(db: &Path) -> Option<ChangeProbe> {
        use std::os::unix::fs::MetadataExt;
        let mut name = db.as_os_str().to_owned();
        name.push("-shm");
        let id = |m: &std::fs::Metadata| (m.dev(), m.ino());
        let mut held = held_descriptors().lock().ok()?;
        let known = std::fs::metadata(&name)
            .ok()
            .and_then(|m| held.get(&id(&m)).cloned());
        let shm = match known {
            Some(shm) => shm,
            None => {
                let file = File::open(&name).ok()?;
                // Identified by the descriptor itself: the path may have been replaced since.
                let key = file.metadata().ok().map(|m| id(&m));
                let file = Arc::new(file);
                match key {
                    Some(key) => held.entry(key).or_insert(file).clone(),
                    None => {
                        // Unidentifiable but open: keep it open all the same.
                        std::mem::forget(file);
                        return None;
                    }
                }
            }
        };
        drop(held);
        let probe = ChangeProbe { shm };
        // A file that does not hold a wal-index (another locking mode, a foreign file) disables
        // the cache rather than feeding it stamps that mean nothing.
        probe.stamp().map(|_| probe)
    }

    #[cfg(not(unix))]
    fn open(_db: &Path) -> Option<ChangeProbe> {
        None
    }
}

impl ChangeSource for ChangeProbe {
    type Stamp = Stamp;

    /// The current header, or `None` while a commit is rewriting it (the two copies differ) or
    /// when it cannot be read: the caller then reads the database itself.
    #[cfg(unix)]
    fn stamp(&self) -> Option<Stamp> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 2 * HEADER_BYTES];
        self.shm.read_exact_at(&mut buf, 0).ok()?;
        let (first, second) = buf.split_at(HEADER_BYTES);
        if first != second {
            return None;
        }
        let version = u32::from_ne_bytes([first[0], first[1], first[2], first[3]]);
        // `isInit` (byte 12) is 0 while a connection rebuilds the index.
        if version != WAL_INDEX_VERSION || first[12] != 1 {
            return None;
        }
        let mut header = [0u8; HEADER_BYTES];
        header.copy_from_slice(first);
        Some(Stamp(header))
    }

    #[cfg(not(unix))]
    fn stamp(&self) -> Option<Stamp> {
        None
    }
}

/// A bounded map from lookups to decoded records, valid for one [`Stamp`] at a time.
///
/// Bounded with quick_cache's eviction (a new entry starts on probation; entries looked up
/// again are kept), so a scan of one-off keys, a flood of lookups of missing records included,
/// does not push out the records that are asked for all the time.
pub(crate) struct RecordCache<P: ChangeSource> {
    probe: P,
    /// The state the entries belong to. Readers hold it shared while they look up or insert,
    /// so emptying the cache for a new state (exclusive) never interleaves with an insert made
    /// under the old one.
    state: RwLock<Option<P::Stamp>>,
    entries: quick_cache::sync::Cache<String, Arc<Record>>,
    hits: AtomicU64,
}

impl RecordCache<ChangeProbe> {
    /// A cache of about `entries` records for the SQLite file `db` (in WAL mode, with a
    /// connection open); `None` when `entries` is 0 or the file has no readable wal-index.
    pub(crate) fn open(db: &Path, entries: usize) -> Option<RecordCache<ChangeProbe>> {
        if entries == 0 {
            return None;
        }
        RecordCache::new(ChangeProbe::open(db)?, entries)
    }
}

impl<P: ChangeSource> RecordCache<P> {
    /// A cache of about `entries` records of the database `probe` watches; `None` when
    /// `entries` is 0.
    pub(crate) fn new(probe: P, entries: usize) -> Option<RecordCache<P>> {
        if entries == 0 {
            return None;
        }
        Some(RecordCache {
            probe,
            state: RwLock::new(None),
            entries: quick_cache::sync::Cache::new(entries),
            hits: AtomicU64::new(0),
        })
    }

    /// The database's state now; read it before the lookup whose result is to be cached.
    pub(crate) fn stamp(&self) -> Option<P::Stamp> {
        self.probe.stamp()
    }

    /// The record a lookup finds: the cached one while the database is unchanged, else what
    /// `read` finds (kept for the next lookup when the state was known before it ran).
    pub(crate) async fn find<F, Fut>(
        &self,
        lookup: (RecordKind, KeyKind, &str, &str),
        read: F,
    ) -> Result<Option<Arc<Record>>, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<Arc<Record>>, StoreError>>,
    {
        let Some(stamp) = self.stamp() else {
            return read().await;
        };
        let (kind, key_kind, merchant, value) = lookup;
        let cache_key = key(kind, key_kind, merchant, value);
        if let Some(record) = self.get(stamp, &cache_key) {
            return Ok(Some(record));
        }
        let found = read().await?;
        if let Some(record) = &found {
            self.put(stamp, cache_key, record.clone());
        }
        Ok(found)
    }

    /// Lookups answered from the cache since it was opened.
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// The record cached for `key` if the database is still in state `stamp`.
    pub(crate) fn get(&self, stamp: P::Stamp, key: &str) -> Option<Arc<Record>> {
        {
            let state = self.state.read().ok()?;
            if *state == Some(stamp) {
                let found = self.entries.get(key);
                if found.is_some() {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                }
                return found;
            }
        }
        let mut state = self.state.write().ok()?;
        if *state != Some(stamp) {
            self.entries.clear();
            *state = Some(stamp);
        }
        None
    }

    /// Keeps `record`, read after `stamp` was taken, unless the cache has since seen another
    /// state (the record may already be outdated then).
    pub(crate) fn put(&self, stamp: P::Stamp, key: String, record: Arc<Record>) {
        let Ok(state) = self.state.read() else {
            return;
        };
        if *state == Some(stamp) {
            self.entries.insert(key, record);
        }
    }
}

/// The cache key of a lookup. The merchant's length makes it unambiguous whatever the strings
/// contain.
pub(crate) fn key(kind: RecordKind, key: KeyKind, merchant: &str, value: &str) -> String {
    let slot = match key {
        KeyKind::Primary => '0',
        KeyKind::OutTradeNo => '1',
        KeyKind::ShortTradeNo => '2',
    };
    let mut out = String::with_capacity(48 + merchant.len() + value.len());
    out.push_str(kind.as_str());
    out.push(slot);
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut len = merchant.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (len % 10) as u8;
        len /= 10;
        if len == 0 {
            break;
        }
    }
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
    out.push('/');
    out.push_str(merchant);
    out.push_str(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_do_not_collide_across_merchant_and_value_boundaries() {
        let a = key(RecordKind::AlipayTrade, KeyKind::Primary, "2088", "1234");
        let b = key(RecordKind::AlipayTrade, KeyKind::Primary, "20881", "234");
        let c = key(RecordKind::OnsiteTrade, KeyKind::Primary, "2088", "1234");
        let d = key(RecordKind::AlipayTrade, KeyKind::OutTradeNo, "2088", "1234");
        let e = key(RecordKind::AlipayTrade, KeyKind::Primary, "", "20881234");
        let f = key(
            RecordKind::AlipayTrade,
            KeyKind::Primary,
            &"9".repeat(12),
            "",
        );
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_ne!(a, e);
        assert!(f.contains("12/999999999999"), "{f}");
    }

    fn wal_db(dir: &Path) -> (std::path::PathBuf, rusqlite::Connection) {
        let db = dir.join("t.db");
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT PRIMARY KEY); \
             INSERT INTO t VALUES ('a');",
        )
        .unwrap();
        (db, conn)
    }

    fn any_record() -> Arc<Record> {
        let doc = serde_json::json!({
            "trade_no": "2013112011001004330000121536", "out_trade_no": "6823789339978248",
            "seller_id": "2088101117952222", "buyer_logon_id": "159****5620",
            "trade_status": "TRADE_SUCCESS", "total_amount": 8888,
        });
        Arc::new(Record::from_json(RecordKind::AlipayTrade, &doc.to_string()).unwrap())
    }

    /// POSIX locks this process holds on the file with inode `ino`, from `/proc/locks`.
    #[cfg(target_os = "linux")]
    fn locks_held_on(ino: u64) -> usize {
        let me = std::process::id().to_string();
        let suffix = format!(":{ino}");
        std::fs::read_to_string("/proc/locks")
            .unwrap()
            .lines()
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 5 && f[1] == "POSIX" && f[4] == me && f[5].ends_with(&suffix)
            })
            .count()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn dropping_a_cache_keeps_sqlites_locks_on_the_wal_index() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let (db, conn) = wal_db(dir.path());
        // An open read transaction holds a read-mark lock on `-shm`.
        conn.execute_batch("BEGIN").unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        let ino = std::fs::metadata(dir.path().join("t.db-shm"))
            .unwrap()
            .ino();
        let before = locks_held_on(ino);
        assert!(before > 0, "the reader holds no lock on -shm");
        for _ in 0..3 {
            let cache = RecordCache::open(&db, 10).unwrap();
            assert!(cache.stamp().is_some());
            drop(cache);
        }
        // The old probe dropped this to 0: closing any descriptor of a file releases every
        // POSIX lock the process holds on it.
        let after = locks_held_on(ino);
        assert!(
            after >= before,
            "closing a descriptor of -shm released SQLite's locks ({before} -> {after})"
        );
        conn.execute_batch("COMMIT").unwrap();
    }

    #[test]
    fn a_probe_reuses_the_one_descriptor_of_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _conn) = wal_db(dir.path());
        let a = RecordCache::open(&db, 10).unwrap();
        let b = RecordCache::open(&db, 10).unwrap();
        assert!(Arc::ptr_eq(&a.probe.shm, &b.probe.shm));
    }

    #[test]
    fn a_flood_of_one_off_lookups_does_not_evict_the_hot_records() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _conn) = wal_db(dir.path());
        let cache = RecordCache::open(&db, 1_000).unwrap();
        let stamp = cache.stamp().unwrap();
        let record = any_record();
        let hot = |k: u32| format!("hot{k}");
        for k in 0..50 {
            assert!(cache.get(stamp, &hot(k)).is_none());
            cache.put(stamp, hot(k), record.clone());
        }
        let mut misses = 0;
        for i in 0..20_000u32 {
            let key = format!("bogus{i}");
            if cache.get(stamp, &key).is_none() {
                cache.put(stamp, key, record.clone());
            }
            if i % 64 == 0 {
                for k in 0..50 {
                    if cache.get(stamp, &hot(k)).is_none() {
                        misses += 1;
                        cache.put(stamp, hot(k), record.clone());
                    }
                }
            }
        }
        assert_eq!(misses, 0, "hot records evicted by one-off lookups");
    }

    #[test]
    fn a_commit_empties_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let (db, conn) = wal_db(dir.path());
        let cache = RecordCache::open(&db, 100).unwrap();
        let before = cache.stamp().unwrap();
        assert!(cache.get(before, "k").is_none());
        cache.put(before, "k".into(), any_record());
        assert!(cache.get(before, "k").is_some());
        conn.execute_batch("INSERT INTO t VALUES ('b')").unwrap();
        let after = cache.stamp().unwrap();
        assert_ne!(before, after);
        assert!(cache.get(after, "k").is_none());
        // A record read under the old state is not kept under the new one.
        cache.put(before, "k".into(), any_record());
        assert!(cache.get(after, "k").is_none());
    }

    #[test]
    fn a_file_without_a_wal_index_disables_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        std::fs::write(dir.path().join("t.db-shm"), [0u8; 200]).unwrap();
        assert!(RecordCache::open(&db, 10).is_none());
        assert!(RecordCache::open(&dir.path().join("missing.db"), 10).is_none());
    }
}
