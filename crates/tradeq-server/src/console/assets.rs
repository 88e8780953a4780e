//! The console's files, embedded at build time.

/// One embedded file.
pub struct Asset {
    /// Its path under `/console/`.
    pub path: &'static str,
    /// Its media type.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

macro_rules! assets {
    ($(($path:literal, $type:literal)),* $(,)?) => {
        &[$(Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("../../console/", $path)),
        }),*]
    };
}

/// Every file of the console.
pub static ASSETS: &[Asset] = assets![
    ("index.html", "text/html; charset=utf-8"),
    ("app.css", "text/css; charset=utf-8"),
    ("js/main.js", "text/javascript; charset=utf-8"),
    ("js/api.js", "text/javascript; charset=utf-8"),
    ("js/dom.js", "text/javascript; charset=utf-8"),
    ("js/md5.js", "text/javascript; charset=utf-8"),
    ("js/crypto.js", "text/javascript; charset=utf-8"),
    ("js/signing.js", "text/javascript; charset=utf-8"),
    ("js/diff.js", "text/javascript; charset=utf-8"),
    ("js/overview.js", "text/javascript; charset=utf-8"),
    ("js/records.js", "text/javascript; charset=utf-8"),
    ("js/journal.js", "text/javascript; charset=utf-8"),
    ("js/explorer.js", "text/javascript; charset=utf-8"),
    ("js/faults.js", "text/javascript; charset=utf-8"),
    ("js/clock.js", "text/javascript; charset=utf-8"),
];
