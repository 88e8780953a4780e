//! `tradeq serve`'s settings end to end: a file, variables and flags read by the real binary,
//! shown with `--print-config` (which starts nothing, so these tests bind no port).

use std::path::Path;
use std::process::{Command, Output};

/// `tradeq serve --print-config` with `args`, the variables `env` and no other `TRADEQ_*`.
fn print_config(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tradeq"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TRADEQ_") {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir)
        .env("RUST_LOG", "warn")
        .args(["serve", "--print-config"])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn line<'a>(stdout: &'a str, key: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in:\n{stdout}"))
}

#[test]
fn flags_beat_variables_which_beat_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tradeq.toml"),
        "listen = \"127.0.0.1:9001\"\nmax_body_bytes = 4096\nrecord_cache_entries = 1\n\
         request_timestamps_follow_clock = true\nfaults_file = \"file.ndjson\"\n\
         admin_token = \"from-the-file\"\n",
    )
    .unwrap();
    let out = print_config(
        dir.path(),
        &[
            "--config",
            "tradeq.toml",
            "--listen",
            "127.0.0.1:9003",
            "--record-cache-entries",
            "3",
            "--request-timestamps-follow-clock",
            "false",
            "--faults-file",
            "flag.ndjson",
        ],
        &[
            ("TRADEQ_LISTEN", "127.0.0.1:9002"),
            ("TRADEQ_MAX_BODY_BYTES", "8192"),
            ("TRADEQ_RECORD_CACHE_ENTRIES", "2"),
            ("TRADEQ_FAULTS_FILE", "env.ndjson"),
            ("TRADEQ_ADMIN_TOKEN", "from-the-variable"),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        line(&stdout, "listen"),
        "listen = \"127.0.0.1:9003\"  # flag --listen"
    );
    assert_eq!(
        line(&stdout, "max_body_bytes"),
        "max_body_bytes = 8192  # variable TRADEQ_MAX_BODY_BYTES"
    );
    assert_eq!(
        line(&stdout, "record_cache_entries"),
        "record_cache_entries = 3  # flag --record-cache-entries"
    );
    assert_eq!(
        line(&stdout, "request_timestamps_follow_clock"),
        "request_timestamps_follow_clock = false  # flag --request-timestamps-follow-clock"
    );
    assert_eq!(
        line(&stdout, "faults_file"),
        "faults_file = \"flag.ndjson\"  # flag --faults-file"
    );
    assert_eq!(
        line(&stdout, "admin_token"),
        "admin_token = \"***\"  # variable TRADEQ_ADMIN_TOKEN"
    );
    assert!(!stdout.contains("from-the"), "a token printed:\n{stdout}");
    assert_eq!(
        line(&stdout, "idle_timeout_secs"),
        "idle_timeout_secs = 60  # default"
    );
    // Nothing was started or written.
    assert!(!dir.path().join("tradeq-data").exists());
}

#[test]
fn explain_in_errors_follows_the_demo_unless_set() {
    let dir = tempfile::tempdir().unwrap();
    let shown = |args: &[&str], env: &[(&str, &str)]| {
        let out = print_config(dir.path(), args, env);
        assert!(out.status.success(), "{out:?}");
        line(&String::from_utf8_lossy(&out.stdout), "explain_in_errors").to_string()
    };
    assert_eq!(shown(&[], &[]), "explain_in_errors = false  # default");
    assert_eq!(
        shown(&["--demo"], &[]),
        "explain_in_errors = true  # default"
    );
    assert_eq!(
        shown(&["--demo"], &[("TRADEQ_EXPLAIN_IN_ERRORS", "false")]),
        "explain_in_errors = false  # variable TRADEQ_EXPLAIN_IN_ERRORS"
    );
    assert_eq!(
        shown(&["--explain-in-errors"], &[]),
        "explain_in_errors = true  # flag --explain-in-errors"
    );
}

#[test]
fn a_bad_value_is_named_with_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let out = print_config(
        dir.path(),
        &[],
        &[("TRADEQ_SIGNATURE_CACHE_ENTRIES", "20000000")],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "configuration `signature_cache_entries` is 20000000 (from the variable \
             TRADEQ_SIGNATURE_CACHE_ENTRIES); it must be between 0 and 10000000"
        ),
        "{stderr}"
    );
    let out = print_config(dir.path(), &["--admin-listen", "localhost"], &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("configuration `admin_listen` (from the flag --admin-listen)"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_key_is_refused_and_a_near_variable_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.toml"), "journal_max_entry = 5\n").unwrap();
    let out = print_config(dir.path(), &["--config", "t.toml"], &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "configuration file t.toml: `journal_max_entry` is not a setting; did you mean \
             `journal_max_entries`?"
        ),
        "{out:?}"
    );
    let out = print_config(
        dir.path(),
        &[],
        &[
            ("TRADEQ_JOURNAL_MAX_ENTRY", "5"),
            ("TRADEQ_ADMIN_URL", "http://127.0.0.1:1"),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "TRADEQ_JOURNAL_MAX_ENTRY is not a setting and is ignored; did you mean \
             TRADEQ_JOURNAL_MAX_ENTRIES?"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("TRADEQ_ADMIN_URL"), "{stderr}");
}
