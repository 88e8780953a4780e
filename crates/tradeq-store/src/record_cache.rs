//! Decoded records of the embedded store, reused between lookups while the database is unchanged.
//!
//! A point lookup through SQLite costs a read transaction (four `fcntl` lock calls), a B-tree
//! search and a JSON decode: most of what a TOP answer costs. Between two commits the answer to
//! a lookup cannot change, and SQLite tells when a commit happened: in WAL mode every commit, by
//! any connection of any process (a `tradeq import` next to the server included), rewrites the
//! wal-index header at the start of the `-shm` file (<https://www.sqlite.org/walformat.html>,
//! §2.2: two copies of a 48-byte header holding a commit counter, the last frame, salts and
//! checksums). A lookup reads that header with one `pread` and uses a cached record only if the
//! header is byte-for-byte the one seen when the record was cached; any change empties the cache.
//!
//! The header is read before the database, so a record cached under a header is never older
//! than that header's commit: a commit landing between the two reads changes the header and
//! retires the entry at the next lookup.

use std::collections::HashMap;
use std::fs::File;
use std::hash::BuildHasher;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tradeq_model::{KeyKind, Record, RecordKind};

/// Bytes of one copy of the wal-index header.
const HEADER_BYTES: usize = 48;
/// `iVersion` of the wal-index format every SQLite since 3.7.0 writes.
const WAL_INDEX_VERSION: u32 = 3_007_000;
/// Independent locks, so that lookups on several cores rarely wait for each other.
const SHARDS: usize = 16;

/// One state of the database, as the wal-index header names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp([u8; HEADER_BYTES]);

/// Reads the wal-index header of one database.
struct ChangeProbe {
    shm: File,
}

impl ChangeProbe {
    fn open(db: &Path) -> Option<ChangeProbe> {
        let mut name = db.as_os_str().to_owned();
        name.push("-shm");
        let shm = File::open(name).ok()?;
        let probe = ChangeProbe { shm };
        // A file that does not hold a wal-index (another locking mode, a foreign file) disables
        // the cache rather than feeding it stamps that mean nothing.
        probe.stamp().map(|_| probe)
    }

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

struct Shard {
    stamp: Option<Stamp>,
    entries: HashMap<String, Arc<Record>>,
}

/// A bounded map from lookups to decoded records, valid for one [`Stamp`] at a time.
pub(crate) struct RecordCache {
    probe: ChangeProbe,
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
    hasher: std::collections::hash_map::RandomState,
    hits: AtomicU64,
}

impl RecordCache {
    /// A cache of about `entries` records for the database file `db` (in WAL mode, with a
    /// connection open); `None` when `entries` is 0 or the file has no readable wal-index.
    pub(crate) fn open(db: &Path, entries: usize) -> Option<RecordCache> {
        if entries == 0 {
            return None;
        }
        let probe = ChangeProbe::open(db)?;
        let per_shard = entries.div_ceil(SHARDS);
        Some(RecordCache {
            probe,
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        stamp: None,
                        entries: HashMap::new(),
                    })
                })
                .collect(),
            per_shard,
            hasher: Default::default(),
            hits: AtomicU64::new(0),
        })
    }

    /// The database's state now; read it before the lookup whose result is to be cached.
    pub(crate) fn stamp(&self) -> Option<Stamp> {
        self.probe.stamp()
    }

    /// Lookups answered from the cache since it was opened.
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    fn shard(&self, key: &str) -> &Mutex<Shard> {
        &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS]
    }

    /// The record cached for `key` if the database is still in state `stamp`.
    pub(crate) fn get(&self, stamp: Stamp, key: &str) -> Option<Arc<Record>> {
        let mut shard = self.shard(key).lock().ok()?;
        if shard.stamp != Some(stamp) {
            shard.entries.clear();
            shard.stamp = Some(stamp);
            return None;
        }
        let found = shard.entries.get(key).cloned();
        if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Keeps `record`, read after `stamp` was taken, unless the shard has since seen another
    /// state (the record may already be outdated then).
    pub(crate) fn put(&self, stamp: Stamp, key: String, record: Arc<Record>) {
        let Ok(mut shard) = self.shard(&key).lock() else {
            return;
        };
        if shard.stamp != Some(stamp) {
            return;
        }
        if shard.entries.len() >= self.per_shard {
            // Bounded without bookkeeping: a full shard starts over.
            shard.entries.clear();
        }
        shard.entries.insert(key, record);
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

    #[test]
    fn a_file_without_a_wal_index_disables_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        std::fs::write(dir.path().join("t.db-shm"), [0u8; 200]).unwrap();
        assert!(RecordCache::open(&db, 10).is_none());
        assert!(RecordCache::open(&dir.path().join("missing.db"), 10).is_none());
    }
}
