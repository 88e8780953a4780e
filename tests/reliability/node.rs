//! A `tradeq serve` process on a data directory the test keeps, so it can be stopped and started
//! again on the same data.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::free_port;

/// A running `tradeq serve`, stopped with SIGTERM when dropped.
pub struct Node {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// `http://127.0.0.1:<admin port>`.
    pub admin_url: String,
}

impl Node {
    /// Starts `tradeq serve --data-dir DIR ARGS…` on fresh ports and waits for both listeners.
    pub fn start(data_dir: &Path, args: &[&str]) -> Node {
        let port = free_port();
        let admin_port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_tradeq"))
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--admin-listen")
            .arg(format!("127.0.0.1:{admin_port}"))
            .args(args)
            .env_remove("TRADEQ_DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn tradeq serve");
        let mut node = Node {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            admin_url: format!("http://127.0.0.1:{admin_port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        // The listeners are bound before the demo data is installed; an answer from /health
        // comes only once the server is serving.
        while !answers_health(admin_port) {
            if let Ok(Some(status)) = node.child.try_wait() {
                panic!("tradeq serve exited early ({status})");
            }
            assert!(Instant::now() < deadline, "tradeq serve did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        node
    }

    /// Stops the server with SIGTERM; `true` when it exited 0.
    pub fn stop(mut self) -> bool {
        self.terminate()
    }

    fn terminate(&mut self) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}

/// The demo credentials a `--demo` node wrote into `data_dir`.
pub fn demo_credentials(data_dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(data_dir.join("demo-credentials.json")).expect("creds");
    serde_json::from_str(&text).expect("credentials JSON")
}

fn answers_health(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let request = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1")
}
