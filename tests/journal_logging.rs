//! What `tradeq serve` writes to its log about protocol requests: at the default level, the
//! diagnosis of a timestamp refused for being a whole number of hours off; at any verbosity,
//! never a `session`, `app_auth_token`, `sign` or secret.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tradeq_wire::params::{encode_form, Charset};
use tradeq_wire::top::sign::{sign, sign_string, SignMethod};

mod support;

struct Server {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Server {
    fn start(verbosity: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = support::free_port();
        let admin = support::free_port();
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_tradeq"))
            .args(verbosity)
            .args(["serve", "--demo", "--data-dir"])
            .arg(dir.path())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--admin-listen", &format!("127.0.0.1:{admin}")])
            .env_remove("RUST_LOG")
            .env_remove("TRADEQ_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn tradeq serve");
        let mut server = Server { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(server.dir.path().join("demo-credentials.json").exists()
            && TcpStream::connect(("127.0.0.1", port)).is_ok())
        {
            assert!(
                server.child.try_wait().ok().flatten().is_none(),
                "tradeq serve exited: {}",
                server.log()
            );
            assert!(Instant::now() < deadline, "tradeq serve did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn creds(&self) -> Value {
        let text = std::fs::read_to_string(self.dir.path().join("demo-credentials.json"))
            .expect("credentials");
        serde_json::from_str(&text).expect("JSON")
    }

    fn get(&self, path_and_query: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(
            s,
            "GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log()
    }
}

/// A signed TOP omni query with the demo session, stamped `timestamp`.
fn top_query(creds: &Value, timestamp: &str) -> (String, String) {
    let top = &creds["top"];
    let text = |k: &str| top[k].as_str().unwrap_or_default().to_string();
    let (app_key, secret, session) = (text("app_key"), text("app_secret"), text("session"));
    let mut p = vec![
        ("method", "alibaba.omni.order.query"),
        ("app_key", app_key.as_str()),
        ("session", session.as_str()),
        ("timestamp", timestamp),
        ("format", "json"),
        ("v", "2.0"),
        ("sign_method", "md5"),
        ("user_id", "3031798632"),
        ("order_id", "108717674563804955"),
        ("out_order_id", "12348"),
    ];
    let s = sign(&secret, SignMethod::Md5, &sign_string(p.clone(), false));
    p.push(("sign", &s));
    (format!("/router/rest?{}", encode_form(p, Charset::Utf8)), s)
}

#[test]
fn a_whole_hours_timestamp_is_explained_at_the_default_level() {
    let server = Server::start(&[]);
    let utc_stamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let (path, _) = top_query(&server.creds(), &utc_stamp);
    let answer = server.get(&path);
    assert!(answer.contains("\"code\":31"), "{answer}");
    let log = server.stop();
    let line = log
        .lines()
        .find(|l| l.contains("tradeq::diagnosis"))
        .unwrap_or_else(|| panic!("no diagnosis in the log:\n{log}"));
    assert!(line.contains("INFO"), "{line}");
    assert!(line.contains("8 whole hours off"), "{line}");
    assert!(line.contains("TZ=Asia/Shanghai"), "{line}");
}

#[test]
fn no_credential_reaches_the_log_at_any_verbosity() {
    let server = Server::start(&["-vv"]);
    let creds = server.creds();
    let now = tradeq_wire::time::format_gmt8(chrono::Utc::now());
    let (good, good_sign) = top_query(&creds, &now);
    assert!(server
        .get(&good)
        .contains("alibaba_omni_order_query_response"));
    // A refused signature is diagnosed (and logged) too.
    let bad = good.replace(&good_sign, "0123456789ABCDEF0123456789ABCDEF");
    assert!(server.get(&bad).contains("\"code\":25"));
    let token = creds["alipay"]["app_auth_tokens"][0]["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    server.get(&format!(
        "/gateway.do?method=alipay.trade.query&app_auth_token={token}&sign=SIGNVALUE0123"
    ));
    let log = server.stop();
    assert!(log.contains("TOP signature refused"), "{log}");
    assert!(
        log.contains("/gateway.do"),
        "the requests were logged: {log}"
    );
    let secrets = [
        creds["top"]["session"].as_str().unwrap_or("-"),
        creds["top"]["app_secret"].as_str().unwrap_or("-"),
        good_sign.as_str(),
        token.as_str(),
        "SIGNVALUE0123",
    ];
    for secret in secrets {
        assert!(
            !secret.is_empty() && !log.contains(secret),
            "{secret} is in the log"
        );
    }
}
