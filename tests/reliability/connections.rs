//! Connections: idle and slow clients are closed, a descriptor flood leaves the admin listener
//! reachable, shutdown is bounded, and requests hyper cannot parse get the front door's envelope.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::TestServer;

/// A server whose deadlines are short enough to test: header 1 s, body 2 s, drain 2 s, and
/// `idle_secs`.
fn start(idle_secs: u64, launcher: &[&str]) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("tradeq.toml");
    std::fs::write(
        &config,
        format!(
            "header_read_timeout_secs = 1\nidle_timeout_secs = {idle_secs}\n\
             body_read_timeout_secs = 2\ndrain_timeout_secs = 2\n"
        ),
    )
    .expect("write config");
    let config = config.to_string_lossy().to_string();
    let server = TestServer::start_demo_via(launcher, None, &["--config", &config]);
    (server, dir)
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    s
}

/// Reads until the peer closes (or the read timeout); returns what came and when it ended.
fn read_to_close(s: &mut TcpStream, started: Instant) -> (Vec<u8>, Duration) {
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return (got, started.elapsed()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn body_of(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer).to_string();
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[test]
fn idle_and_slow_connections_are_closed() {
    let (server, _dir) = start(3, &[]);

    // A connection that never sends a byte waits the idle timeout (3 s), not the header one.
    let started = Instant::now();
    let mut idle = connect(server.port);
    let (got, after) = read_to_close(&mut idle, started);
    assert!(got.is_empty(), "{got:?}");
    assert!(
        after >= Duration::from_millis(2_500) && after < Duration::from_secs(6),
        "idle connection closed after {after:?}"
    );

    // A head trickled one byte at a time is cut 1 s after its first byte.
    let mut slow = connect(server.port);
    let started = Instant::now();
    let head = b"GET /router/rest?format=json HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let mut closed_after = None;
    for b in head.iter().chain(std::iter::repeat_n(&b'a', 40)) {
        if slow.write_all(&[*b]).is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let closed_after = closed_after.unwrap_or_else(|| read_to_close(&mut slow, started).1);
    assert!(
        closed_after < Duration::from_secs(4),
        "slow head still open after {closed_after:?}"
    );

    // A body that trickles gets the TOP envelope once the 2 s body deadline passes.
    let mut trickle = connect(server.port);
    let started = Instant::now();
    trickle
        .write_all(
            b"POST /router/rest?format=json HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\na=",
        )
        .expect("write");
    let (got, after) = read_to_close(&mut trickle, started);
    assert!(
        after < Duration::from_secs(5),
        "body deadline ignored: {after:?}"
    );
    let json: serde_json::Value = serde_json::from_str(&body_of(&got)).expect("TOP JSON envelope");
    assert_eq!(json["error_response"]["code"], 43, "{json}");

    // A keep-alive connection idle for longer than the header timeout (but under the idle one)
    // is still served.
    let mut keep = connect(server.port);
    let request = b"GET /router/rest?format=json HTTP/1.1\r\nHost: x\r\n\r\n";
    keep.write_all(request).expect("write");
    let mut buf = [0u8; 4096];
    let n = keep.read(&mut buf).expect("first answer");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    std::thread::sleep(Duration::from_millis(1_800));
    keep.write_all(request).expect("write again");
    let n = keep.read(&mut buf).expect("second answer");
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    // ...and closed once it has been idle for the idle timeout after its last answer.
    let (_, after) = read_to_close(&mut keep, Instant::now());
    assert!(
        after >= Duration::from_millis(2_500) && after < Duration::from_secs(6),
        "keep-alive connection closed after {after:?}"
    );

    // A connection that was answered, then starts another head and stops, is cut by the header
    // deadline (1 s after that first byte), not the idle one (3 s): the deadline moves with
    // each request on a connection that has served others.
    let mut stalled = connect(server.port);
    for _ in 0..3 {
        stalled.write_all(request).expect("write");
        let n = stalled.read(&mut buf).expect("answer");
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    }
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    stalled
        .write_all(b"GET /router/rest?format=json HTTP/1.1\r\nHost")
        .expect("write half a head");
    let (_, after) = read_to_close(&mut stalled, started);
    assert!(
        after >= Duration::from_millis(800) && after < Duration::from_millis(2_500),
        "half a head on a used connection closed after {after:?}"
    );
    assert!(server.stop().success());
}

#[test]
fn admin_listener_stays_reachable_under_a_descriptor_flood() {
    // 512 descriptors, as on a host with a low `ulimit -n`: the protocol listener's cap is
    // fitted under it, so 1,100 idle sockets cannot take the admin listener's room.
    let launcher = ["sh", "-c", "ulimit -n 512 && exec \"$@\"", "sh"];
    let (server, _dir) = start(60, &launcher);
    let mut flood = Vec::new();
    let mut refused = 0;
    for _ in 0..1_100 {
        match TcpStream::connect(("127.0.0.1", server.port)) {
            Ok(s) => flood.push(s),
            Err(_) => refused += 1,
        }
    }
    std::thread::sleep(Duration::from_millis(300));

    let started = Instant::now();
    let mut admin = connect(server.admin_port);
    admin
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("admin write");
    let (got, after) = read_to_close(&mut admin, started);
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "admin unreachable under the flood: {}",
        String::from_utf8_lossy(&got)
    );
    assert!(after < Duration::from_secs(2), "admin took {after:?}");

    // A new protocol connection is answered at once, with a 503, not left hanging.
    let started = Instant::now();
    let mut extra = connect(server.port);
    let _ = extra.write_all(b"GET /router/rest HTTP/1.1\r\nHost: x\r\n\r\n");
    let (got, after) = read_to_close(&mut extra, started);
    assert!(
        got.starts_with(b"HTTP/1.1 503"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert!(after < Duration::from_secs(2), "503 took {after:?}");
    eprintln!(
        "flood: {} held, {refused} refused by the kernel",
        flood.len()
    );

    // Once the flood goes, the protocol listener serves again.
    drop(flood);
    std::thread::sleep(Duration::from_millis(500));
    let mut again = connect(server.port);
    again
        .write_all(b"GET /router/rest?format=json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let (got, _) = read_to_close(&mut again, Instant::now());
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert!(server.stop().success());
}

#[test]
fn shutdown_drains_for_a_bounded_time() {
    let (server, _dir) = start(3, &[]);
    // A request whose body never finishes, and an idle keep-alive connection.
    let mut stuck = connect(server.port);
    stuck
        .write_all(b"POST /gateway.do HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
        .expect("write");
    let _idle = connect(server.port);
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let status = server.stop();
    let took = started.elapsed();
    assert!(status.success(), "{status}");
    // The drain is 2 s (the stuck body's own deadline is 2 s too): well under the 10 s at which
    // the harness would kill the process.
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
}

#[test]
fn requests_the_http_layer_refuses_get_the_front_doors_envelope() {
    let (server, _dir) = start(3, &[]);
    let long = "x".repeat(70_000);
    let send = |raw: Vec<u8>| {
        let mut s = connect(server.port);
        s.write_all(&raw).expect("write");
        read_to_close(&mut s, Instant::now()).0
    };
    let head = |got: &[u8]| {
        String::from_utf8_lossy(got)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    };

    // TOP: HTTP 200 and the envelope in the format the URL asked for.
    let got = send(
        format!("GET /router/rest?format=json&a={long} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes(),
    );
    assert_eq!(head(&got), "HTTP/1.1 200 OK");
    let json: serde_json::Value = serde_json::from_str(&body_of(&got)).expect("JSON");
    assert_eq!(json["error_response"]["code"], 43, "{json}");
    let got = send(b"GET /router/rest HTTP/1.1\r\nBad Header: x\r\n\r\n".to_vec());
    assert!(
        body_of(&got).contains("<error_response>"),
        "{}",
        body_of(&got)
    );
    let mut huge = b"GET /router/rest?format=json HTTP/1.1\r\n".to_vec();
    for i in 0..200 {
        huge.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    huge.extend_from_slice(b"\r\n");
    let got = send(huge);
    let json: serde_json::Value = serde_json::from_str(&body_of(&got)).expect("JSON");
    assert_eq!(json["error_response"]["code"], 43, "{json}");

    // Alipay v2: HTTP 200 with the gateway's error_response.
    let got = send(format!("GET /gateway.do?a={long} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes());
    assert_eq!(head(&got), "HTTP/1.1 200 OK");
    let json: serde_json::Value = serde_json::from_str(&body_of(&got)).expect("JSON");
    assert_eq!(json["error_response"]["code"], "40002", "{json}");

    // Alipay v3: the status stays, with v3's error body.
    let got = send(
        format!("GET /v3/alipay/trade/query?a={long} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes(),
    );
    assert_eq!(head(&got), "HTTP/1.1 414 URI Too Long");
    let json: serde_json::Value = serde_json::from_str(&body_of(&got)).expect("JSON");
    assert_eq!(json["code"], "invalid-parameter", "{json}");

    // A URL just under the limit is read and answered by the front door itself.
    let fits = "y".repeat(60_000);
    let got = send(
        format!("GET /router/rest?format=json&a={fits} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .into_bytes(),
    );
    let json: serde_json::Value = serde_json::from_str(&body_of(&got)).expect("JSON");
    assert_ne!(json["error_response"]["code"], 43, "{json}");
    assert!(server.stop().success());
}
