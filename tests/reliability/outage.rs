//! PostgreSQL going away: every request is answered within the configured bound with the
//! protocol's retryable error, and service comes back by itself when the database does.
//!
//! The test runs its own throwaway cluster (`initdb` + `pg_ctl` on a port and directory of its
//! own), never the shared server, so it can stop and start it at will.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use tradeq_client::{RetryPolicy, TopClient};

use crate::node::{demo_credentials, Node};
use crate::support::free_port;
use crate::support::signed_v3_request;

/// The bound configured for the test (`database_timeout_ms`), and what an answer may take on
/// top of it on a loaded test machine.
const BOUND_MS: u64 = 500;
const SLACK_MS: u64 = 400;

/// A PostgreSQL cluster in a temporary directory, stopped when dropped.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    /// `None` (with the reason) when initdb/pg_ctl are not installed or cannot run.
    fn create() -> Result<Cluster, String> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|e| format!("no /usr/lib/postgresql: {e}"))?
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
            .max()
            .ok_or("initdb/pg_ctl not found under /usr/lib/postgresql/*/bin")?;
        // initdb refuses to run as root.
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let cluster = Cluster {
            bin,
            dir,
            port: free_port(),
            as_postgres,
        };
        if as_postgres {
            // The cluster, its socket and its log live in the temporary directory: the
            // postgres user owns it.
            run(
                "chown",
                &[
                    "postgres".to_string(),
                    cluster.dir.path().display().to_string(),
                ],
            )?;
        }
        cluster.pg(
            "initdb",
            &[
                "-D",
                &cluster.data_str(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        )?;
        cluster.start()?;
        Ok(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("pgdata")
    }

    fn data_str(&self) -> String {
        self.data().display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let exe = self.bin.join(tool).display().to_string();
        let mut all: Vec<String> = Vec::new();
        let program = if self.as_postgres {
            all.extend(["-u", "postgres", "--"].map(String::from));
            all.push(exe);
            "runuser".to_string()
        } else {
            exe
        };
        all.extend(args.iter().map(|a| a.to_string()));
        run(&program, &all)
    }

    fn start(&self) -> Result<(), String> {
        let log = self.dir.path().join("pg.log").display().to_string();
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data_str(),
                "-o",
                &opts,
                "-l",
                &log,
                "-w",
                "start",
            ],
        )
    }

    fn stop(&self) -> Result<(), String> {
        self.pg(
            "pg_ctl",
            &["-D", &self.data_str(), "-m", "fast", "-w", "stop"],
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg(
            "pg_ctl",
            &["-D", &self.data_str(), "-m", "immediate", "-w", "stop"],
        );
    }
}

fn run(program: &str, args: &[String]) -> Result<(), String> {
    // The log file of a started server must not inherit our pipes, or output() would wait on
    // the server; pg_ctl -l sends it to the file.
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// One answer: whether it is the protocol's retryable error, whether it is a success, and how
/// long it took.
struct Answer {
    retryable_error: bool,
    success: bool,
    took: Duration,
}

async fn v3(http: &reqwest::Client, base: &str, creds: &serde_json::Value, n: u32) -> Answer {
    let (authorization, body) = signed_v3_request(creds, &format!("outage-{n}-{}", rand_tag()));
    let started = Instant::now();
    let res = http
        .post(format!("{base}/v3/alipay/trade/query"))
        .header("authorization", authorization)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    let took = started.elapsed();
    match res {
        Ok(r) => Answer {
            retryable_error: r.status().is_server_error(),
            success: r.status() == 200,
            took,
        },
        Err(_) => Answer {
            retryable_error: false,
            success: false,
            took,
        },
    }
}

async fn top(client: &TopClient, http: &reqwest::Client, base: &str) -> Answer {
    let ts = (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let signed = client
        .sign_request(
            "alibaba.xlife.onsite.trade.query",
            &[("short_trade_no", "77778888")],
            &ts,
        )
        .unwrap();
    let started = Instant::now();
    let res = http
        .post(format!("{base}/router/rest"))
        .query(&signed.query)
        .form(&signed.body)
        .send()
        .await;
    let took = started.elapsed();
    let text = match res {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    Answer {
        retryable_error: text.contains("isp."),
        success: text.contains("trade_no") && !text.contains("error_response"),
        took,
    }
}

fn rand_tag() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_outage_is_answered_within_the_bound_and_recovered_from() {
    let cluster = match Cluster::create() {
        Ok(c) => c,
        Err(reason) => crate::skip_or_fail!("no throwaway PostgreSQL cluster: {reason}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("tradeq.toml");
    std::fs::write(&config, format!("database_timeout_ms = {BOUND_MS}\n")).unwrap();
    let node = Node::start(
        &data,
        &[
            "--demo",
            "--database-url",
            &cluster.url(),
            "--config",
            config.to_str().unwrap(),
        ],
    );
    let creds = demo_credentials(&data);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut top_config = tradeq_client::Credentials::load(data.join("demo-credentials.json"))
        .unwrap()
        .top_config()
        .unwrap();
    top_config.gateway_url = node.base_url.clone();
    top_config.options.retry = RetryPolicy::none();
    let top_client = TopClient::new(top_config).unwrap();

    let mut n = 0;
    let healthy = v3(&http, &node.base_url, &creds, n).await;
    assert!(healthy.success, "v3 before the outage");
    assert!(
        top(&top_client, &http, &node.base_url).await.success,
        "TOP before the outage"
    );

    cluster.stop().unwrap();
    let mut worst = Duration::ZERO;
    let mut times = Vec::new();
    for _ in 0..5 {
        n += 1;
        for answer in [
            v3(&http, &node.base_url, &creds, n).await,
            top(&top_client, &http, &node.base_url).await,
        ] {
            assert!(answer.retryable_error, "not the protocol's retryable error");
            worst = worst.max(answer.took);
            times.push(ms(answer.took));
        }
    }
    times.sort_by(f64::total_cmp);
    eprintln!(
        "database down: {} answers, median {:.0} ms, worst {:.0} ms (bound {BOUND_MS} ms)",
        times.len(),
        times[times.len() / 2],
        ms(worst)
    );
    assert!(
        worst < Duration::from_millis(BOUND_MS + SLACK_MS),
        "an answer took {worst:?} with the database down (bound {BOUND_MS} ms)"
    );

    cluster.start().unwrap();
    let back = Instant::now();
    loop {
        n += 1;
        let v = v3(&http, &node.base_url, &creds, n).await;
        let t = top(&top_client, &http, &node.base_url).await;
        if v.success && t.success {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "no recovery 15 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "database back: first good answers {:.0} ms after pg_ctl start returned",
        ms(back.elapsed())
    );
    assert!(node.stop());
    drop(cluster);
}
