//! Shared harness of the end-to-end tests: a real `tradeq serve` process, and the rule that a
//! test missing a tool or service skips with a printed reason on a bare machine but fails when
//! `TRADEQ_REQUIRE_ALL=1` (CI), so CI can never pass by skipping.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Skips (returns) with a reason, or panics when every prerequisite is required.
#[macro_export]
macro_rules! skip_or_fail {
    ($($arg:tt)*) => {{
        let reason = format!($($arg)*);
        if $crate::support::require_all() {
            panic!("required by TRADEQ_REQUIRE_ALL=1 but unavailable: {reason}");
        }
        $crate::support::note_skip(&reason);
        return;
    }};
}

/// Prints why a test skips and adds it to `TRADEQ_SKIP_LOG` (set by `test.sh`), whose closing
/// line counts skips: a skipped test passes, so without that count it would look like one that
/// did its work.
pub fn note_skip(reason: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let binary = std::env::args()
        .next()
        .and_then(|p| {
            Path::new(&p)
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
        })
        .map(|n| {
            n.rsplit_once('-')
                .map_or(n.clone(), |(name, _)| name.to_string())
        })
        .unwrap_or_default();
    eprintln!("skipped: {reason}");
    if let Ok(path) = std::env::var("TRADEQ_SKIP_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(path) {
            let _ = writeln!(f, "{binary}::{test}: {reason}");
        }
    }
}

/// Whether `TRADEQ_REQUIRE_ALL=1`.
pub fn require_all() -> bool {
    std::env::var("TRADEQ_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running `tradeq serve --demo`, stopped with SIGTERM when dropped.
pub struct TestServer {
    child: Child,
    /// The data directory (holds demo-credentials.json).
    pub data_dir: tempfile::TempDir,
    /// Protocol port.
    pub port: u16,
    /// Admin port.
    pub admin_port: u16,
    /// Everything the server printed on stdout so far (the demo banner).
    stdout: std::sync::Arc<std::sync::Mutex<String>>,
}

impl TestServer {
    /// Starts a demo server on fresh ports (or `port` for the protocol listener) and waits until
    /// both listeners answer.
    pub fn start_demo(port: Option<u16>, extra_args: &[&str]) -> TestServer {
        TestServer::start_demo_via(&[], port, extra_args)
    }

    /// [`TestServer::start_demo`], run through `launcher` (a command that ends by executing its
    /// arguments, e.g. `sh -c 'ulimit -n 512; exec "$@"' sh`).
    pub fn start_demo_via(launcher: &[&str], port: Option<u16>, extra_args: &[&str]) -> TestServer {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let port = port.unwrap_or_else(free_port);
        let admin_port = free_port();
        let mut cmd = match launcher.split_first() {
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(env!("CARGO_BIN_EXE_tradeq"));
                cmd
            }
            None => Command::new(env!("CARGO_BIN_EXE_tradeq")),
        };
        cmd.arg("serve")
            .arg("--demo")
            .arg("--data-dir")
            .arg(data_dir.path())
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--admin-listen")
            .arg(format!("127.0.0.1:{admin_port}"))
            .args(extra_args)
            .env_remove("TRADEQ_DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn tradeq serve");
        let deadline = Instant::now() + Duration::from_secs(30);
        let creds = data_dir.path().join("demo-credentials.json");
        loop {
            if creds.exists()
                && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                && std::net::TcpStream::connect(("127.0.0.1", admin_port)).is_ok()
            {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(stderr) = child.stderr.take() {
                    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                        err.push_str(&line);
                        err.push('\n');
                    }
                }
                panic!("tradeq serve exited early ({status}):\n{err}");
            }
            assert!(Instant::now() < deadline, "tradeq serve did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        // Keep draining both pipes so the child never blocks on a full one.
        let stdout = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        if let Some(out) = child.stdout.take() {
            let sink = stdout.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if let Ok(mut s) = sink.lock() {
                        s.push_str(&line);
                        s.push('\n');
                    }
                }
            });
        }
        if let Some(stderr) = child.stderr.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    eprintln!("[tradeq] {line}");
                }
            });
        }
        TestServer {
            child,
            data_dir,
            port,
            admin_port,
            stdout,
        }
    }

    /// What the server printed on stdout: with `--demo`, the banner (printed before the
    /// listeners answer, so complete once it ends with a blank line).
    pub fn stdout_text(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = self.stdout.lock().map(|s| s.clone()).unwrap_or_default();
            if text.ends_with("\n\n") || Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Path of `demo-credentials.json`.
    pub fn credentials_path(&self) -> PathBuf {
        self.data_dir.path().join("demo-credentials.json")
    }

    /// The credentials as JSON.
    pub fn credentials(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.credentials_path()).expect("credentials");
        serde_json::from_str(&text).expect("credentials JSON")
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the server with SIGTERM and returns its exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        terminate(&mut self.child)
    }

    /// Stops the server with SIGTERM and copies its data directory to `to` first-class (the
    /// temporary directory itself goes away with the server).
    pub fn stop_keep_dir(mut self, to: &Path) -> std::process::ExitStatus {
        let status = terminate(&mut self.child);
        copy_dir(self.data_dir.path(), to);
        status
    }
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    #[cfg(unix)]
    {
        // SAFETY-free: `kill` is invoked as a process, not through libc.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            terminate(&mut self.child);
        }
    }
}

/// The Python virtualenv and Node folder of the conformance suites, installed from the
/// registries on first use (`tests/conformance/setup.sh`). `None` when a tool is missing.
pub struct Toolchain {
    /// `tests/conformance/.venv/bin/python`.
    pub python: PathBuf,
    /// `tests/conformance/node` (holds node_modules).
    pub node_dir: PathBuf,
}

/// Runs `tests/conformance/setup.sh` once per test process.
pub fn toolchain() -> Result<Toolchain, String> {
    static ONCE: std::sync::OnceLock<Result<Toolchain, String>> = std::sync::OnceLock::new();
    let r = ONCE.get_or_init(|| {
        for tool in ["python3", "node", "npm"] {
            if Command::new(tool).arg("--version").output().is_err() {
                return Err(format!("`{tool}` is not installed"));
            }
        }
        let dir = root().join("tests/conformance");
        let out = Command::new("bash")
            .arg(dir.join("setup.sh"))
            .output()
            .map_err(|e| format!("cannot run setup.sh: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "setup.sh failed (package registries unreachable?):\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(Toolchain {
            python: dir.join(".venv/bin/python"),
            node_dir: dir.join("node"),
        })
    });
    match r {
        Ok(t) => Ok(Toolchain {
            python: t.python.clone(),
            node_dir: t.node_dir.clone(),
        }),
        Err(e) => Err(e.clone()),
    }
}

/// Runs a script of the suite with the server's coordinates in its environment, echoing its
/// output, and fails the test if it fails.
pub fn run_suite(program: &Path, args: &[&str], server: &TestServer, cwd: &Path) {
    let out = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .env("TRADEQ_CREDENTIALS", server.credentials_path())
        .env("TRADEQ_GATEWAY", server.base_url())
        .env("TRADEQ_PORT", server.port.to_string())
        .env(
            "TRADEQ_ADMIN_URL",
            format!("http://127.0.0.1:{}", server.admin_port),
        )
        // For suites that run the CLI against the server's store (`tradeq keys …`).
        .env("TRADEQ_BIN", env!("CARGO_BIN_EXE_tradeq"))
        .env("TRADEQ_DATA_DIR", server.data_dir.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "{} {:?} failed ({})",
        program.display(),
        args,
        out.status
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// A database of its own on the test PostgreSQL server (`TRADEQ_TEST_DATABASE_URL`, whose
/// database is only used to connect), dropped afterwards.
pub struct Database {
    admin_url: String,
    name: String,
}

impl Database {
    /// `tradeq_<tag>_<pid>`, created afresh.
    pub fn create(admin_url: &str, tag: &str) -> Database {
        let name = format!("tradeq_{tag}_{}", std::process::id());
        let db = Database {
            admin_url: admin_url.to_string(),
            name,
        };
        db.psql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name));
        db.psql(&format!("CREATE DATABASE {}", db.name));
        db
    }

    fn psql(&self, sql: &str) {
        let out = Command::new("psql")
            .args([self.admin_url.as_str(), "-v", "ON_ERROR_STOP=1", "-qc", sql])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Its URL.
    pub fn url(&self) -> String {
        let base = self
            .admin_url
            .rsplit_once('/')
            .map_or(self.admin_url.as_str(), |(b, _)| b);
        format!("{base}/{}", self.name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                self.admin_url.as_str(),
                "-qc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

/// A signed v3 `alipay.trade.query` of the demo trade with the demo app's key: the
/// `Authorization` header and the body.
pub fn signed_v3_request(creds: &serde_json::Value, nonce: &str) -> (String, String) {
    use tradeq_wire::alipay::keys::parse_private_key;
    use tradeq_wire::alipay::sign::{rsa_sign, SignType};
    use tradeq_wire::alipay::v3::request_sign_content;
    let key = parse_private_key(
        creds["alipay"]["app_private_key_pkcs8_pem"]
            .as_str()
            .expect("demo app private key"),
    )
    .expect("demo app private key parses");
    let ts = chrono::Utc::now().timestamp_millis();
    let app_id = creds["alipay"]["app_id"].as_str().expect("demo app id");
    let auth = format!("app_id={app_id},nonce={nonce},timestamp={ts}");
    let body = r#"{"trade_no":"2013112011001004330000121536"}"#.to_string();
    let content = request_sign_content(
        &auth,
        "POST",
        "/v3/alipay/trade/query",
        body.as_bytes(),
        None,
    );
    let sign = rsa_sign(&key, SignType::Rsa2, &content).expect("sign");
    (format!("ALIPAY-SHA256withRSA {auth},sign={sign}"), body)
}
