//! The web console in a real browser: `tests/browser/console.test.mjs` drives headless Chromium
//! (the system's `chromium`, through puppeteer-core) against a running `tradeq serve --demo`, with
//! calls made by the official Node `alipay-sdk`. Its Node packages are installed from the npm
//! registry by `tests/browser/setup.sh` on first use. Without chromium, node, npm or the registry
//! the test skips with the reason, and fails instead under `TRADEQ_REQUIRE_ALL=1`.
//!
//! Screenshots of every page land in `<target>/tmp/console-screenshots/`.

#[macro_use]
mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{root, TestServer};

/// The Chromium binary: `TRADEQ_CHROMIUM`, else Debian's `/usr/bin/chromium`, else `chromium` on
/// the `PATH`.
fn chromium() -> Option<PathBuf> {
    let candidates = std::env::var_os("TRADEQ_CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/usr/bin/chromium")])
        .chain(std::env::var_os("PATH").into_iter().flat_map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("chromium"))
                .collect::<Vec<_>>()
        }));
    candidates.into_iter().find(|p| p.is_file())
}

/// Copies a pipe of the suite to stderr, line by line, as it runs.
fn echo<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        if let Some(pipe) = pipe {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                eprintln!("{line}");
            }
        }
    })
}

#[test]
fn console_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        skip_or_fail!(
            "console_in_headless_chromium: no Chromium (apt-get install chromium, or set TRADEQ_CHROMIUM)"
        );
    };
    for tool in ["node", "npm"] {
        if Command::new(tool).arg("--version").output().is_err() {
            skip_or_fail!("console_in_headless_chromium: `{tool}` is not installed");
        }
    }
    let dir = root().join("tests/browser");
    let setup = Command::new("bash")
        .arg(dir.join("setup.sh"))
        .output()
        .expect("run tests/browser/setup.sh");
    if !setup.status.success() {
        skip_or_fail!(
            "console_in_headless_chromium: tests/browser/setup.sh failed (npm registry unreachable?):\n{}{}",
            String::from_utf8_lossy(&setup.stdout),
            String::from_utf8_lossy(&setup.stderr)
        );
    }

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let server = TestServer::start_demo(None, &[]);
    let mut child = Command::new("node")
        .args(["--test", "console.test.mjs"])
        .current_dir(&dir)
        .env("TRADEQ_CREDENTIALS", server.credentials_path())
        .env("TRADEQ_GATEWAY", server.base_url())
        .env(
            "TRADEQ_ADMIN_URL",
            format!("http://127.0.0.1:{}", server.admin_port),
        )
        .env("TRADEQ_CHROMIUM", &chromium)
        .env("TRADEQ_SCREENSHOTS", &shots)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node --test");
    let out = echo(child.stdout.take());
    let err = echo(child.stderr.take());
    // Each browser test bounds its own waits; this bounds the whole run should Chromium hang.
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the browser suite did not finish within 300 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = (out.join(), err.join());
    eprintln!("screenshots: {}", shots.display());
    assert!(status.success(), "the browser suite failed ({status})");
    assert!(server.stop().success());
}
