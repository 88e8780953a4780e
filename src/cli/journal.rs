//! `tradeq journal` and `tradeq explain`: the request journal and signature diagnosis of a
//! running server, read through its admin API.
//!
//! The admin URL and token come from `--admin-url`/`--admin-token` (or `TRADEQ_ADMIN_URL`,
//! `TRADEQ_ADMIN_TOKEN`), else from the credentials file `tradeq serve --demo` writes
//! (`admin_url`, `admin_token`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::Value;

/// Where the admin API is.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// The admin API [default: the credentials file's admin_url].
    #[arg(long, env = "TRADEQ_ADMIN_URL")]
    admin_url: Option<String>,
    /// The admin token [default: the credentials file's admin_token].
    #[arg(long, env = "TRADEQ_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Credentials file [default: $TRADEQ_CREDENTIALS, else ./tradeq-data/demo-credentials.json].
    #[arg(long, env = "TRADEQ_CREDENTIALS")]
    credentials: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutcomeArg {
    Ok,
    Error,
}

#[derive(Debug, Args)]
pub struct JournalArgs {
    /// Keep printing new entries as they arrive.
    #[arg(long, short = 'f')]
    follow: bool,
    /// Only this method.
    #[arg(long)]
    method: Option<String>,
    /// Only this app id / app key.
    #[arg(long)]
    app: Option<String>,
    /// Only this effective merchant.
    #[arg(long)]
    merchant: Option<String>,
    /// Only successes or only errors.
    #[arg(long, value_enum)]
    outcome: Option<OutcomeArg>,
    /// Only requests for this record key.
    #[arg(long)]
    key: Option<String>,
    /// Only this front door: alipay_v2, alipay_v3 or top.
    #[arg(long)]
    front_door: Option<String>,
    /// How many of the newest entries to print (1–1000).
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print each entry as one line of JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    admin: AdminArgs,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The journal entry to explain: the id the answer carried (v2 `trace_id` header, TOP
    /// `request_id`, v3 `alipay-trace-id` header).
    #[arg(long, conflicts_with = "request")]
    journal: Option<String>,
    /// A raw request to analyse: a JSON file `{"method","url","headers","body"}` (`-` for stdin).
    #[arg(long)]
    request: Option<PathBuf>,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    admin: AdminArgs,
}

struct Admin {
    url: String,
    token: String,
    http: reqwest::Client,
}

impl AdminArgs {
    fn connect(&self) -> anyhow::Result<Admin> {
        let from_file = || -> anyhow::Result<Value> {
            let path = self
                .credentials
                .clone()
                .unwrap_or_else(|| PathBuf::from("./tradeq-data/demo-credentials.json"));
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "cannot read {} for the admin URL and token (pass --admin-url and \
                     --admin-token, or --credentials FILE)",
                    path.display()
                )
            })?;
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
        };
        let (url, token) = match (&self.admin_url, &self.admin_token) {
            (Some(u), Some(t)) => (u.clone(), t.clone()),
            (url, token) => {
                let file = from_file()?;
                let field = |name: &str| {
                    file[name]
                        .as_str()
                        .map(str::to_string)
                        .with_context(|| format!("the credentials file has no `{name}`"))
                };
                (
                    url.clone().map_or_else(|| field("admin_url"), Ok)?,
                    token.clone().map_or_else(|| field("admin_token"), Ok)?,
                )
            }
        };
        let http = reqwest::Client::builder()
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Admin {
            url: url.trim_end_matches('/').to_string(),
            token,
            http,
        })
    }
}

impl Admin {
    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let res = req
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the admin API at {}", self.url))?;
        if res.status().is_success() {
            return Ok(res);
        }
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
            .unwrap_or(text);
        anyhow::bail!("the admin API answered {status}: {message}")
    }

    async fn get_json(&self, path_and_query: &str) -> anyhow::Result<Value> {
        let res = self
            .send(self.http.get(format!("{}{path_and_query}", self.url)))
            .await?;
        json_of(res).await
    }
}

async fn json_of(res: reqwest::Response) -> anyhow::Result<Value> {
    let text = res.text().await.context("reading the answer")?;
    serde_json::from_str(&text).context("the admin API answered something other than JSON")
}

fn query_string(args: &JournalArgs, paging: bool) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for (name, value) in [
        ("method", &args.method),
        ("app", &args.app),
        ("merchant", &args.merchant),
        ("key", &args.key),
        ("front_door", &args.front_door),
    ] {
        if let Some(v) = value {
            pairs.push((name, v.clone()));
        }
    }
    if let Some(o) = args.outcome {
        pairs.push((
            "outcome",
            match o {
                OutcomeArg::Ok => "ok",
                OutcomeArg::Error => "error",
            }
            .to_string(),
        ));
    }
    if paging {
        pairs.push(("limit", args.limit.to_string()));
    }
    if pairs.is_empty() {
        return String::new();
    }
    let encoded = tradeq_wire::params::encode_form(
        pairs.iter().map(|(k, v)| (*k, v.as_str())),
        tradeq_wire::params::Charset::Utf8,
    );
    format!("?{encoded}")
}

/// One entry as a line (and its findings below it).
pub fn entry_line(e: &Value) -> String {
    let s = |name: &str| e[name].as_str().unwrap_or("-");
    let outcome = if e["outcome"] == "ok" {
        "ok".to_string()
    } else {
        let code = s("code");
        match e["sub_code"].as_str() {
            Some(sub) => format!("error {code} {sub}"),
            None => format!("error {code}"),
        }
    };
    let mut line = format!(
        "{}  {:<9}  {:<42}  app {}  merchant {}  {}  {:.1} ms  id {}",
        s("time"),
        s("front_door"),
        s("method"),
        s("app"),
        s("merchant"),
        outcome,
        e["latency_ms"].as_f64().unwrap_or_default(),
        s("id"),
    );
    if let Some(key) = e["record_key"].as_str() {
        line.push_str(&format!("  key {key}"));
    }
    if let Some(rule) = e["fault"]["rule_id"].as_str() {
        line.push_str(&format!("  fault {rule}"));
    }
    for finding in e["diagnosis"].as_array().into_iter().flatten() {
        line.push_str(&format!("\n    ↳ {}", finding.as_str().unwrap_or_default()));
    }
    line
}

/// `tradeq journal`.
pub async fn run_journal(args: JournalArgs) -> anyhow::Result<ExitCode> {
    if !(1..=1000).contains(&args.limit) {
        eprintln!("error: --limit must be from 1 to 1000");
        return Ok(ExitCode::from(2));
    }
    let admin = args.admin.connect()?;
    let page = admin
        .get_json(&format!("/v1/journal{}", query_string(&args, true)))
        .await?;
    // Oldest first on a terminal, so the newest ends up next to the prompt (and next to what
    // --follow prints after it).
    let mut entries: Vec<Value> = page["entries"].as_array().cloned().unwrap_or_default();
    entries.reverse();
    for e in &entries {
        print_entry(e, args.json);
    }
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    let res = admin
        .send(admin.http.get(format!(
            "{}/v1/journal/stream{}",
            admin.url,
            query_string(&args, false)
        )))
        .await?;
    follow(res, args.json).await?;
    Ok(ExitCode::SUCCESS)
}

fn print_entry(e: &Value, json: bool) {
    if json {
        println!("{e}");
    } else {
        println!("{}", entry_line(e));
    }
}

/// Prints Server-Sent Events until the server ends the stream.
async fn follow(mut res: reqwest::Response, json: bool) -> anyhow::Result<()> {
    let mut buffer = String::new();
    while let Some(chunk) = res.chunk().await.context("reading the stream")? {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let mut kind = "message";
            let mut data = String::new();
            for line in event.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    kind = v.trim();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            match kind {
                "entry" => match serde_json::from_str::<Value>(&data) {
                    Ok(e) => print_entry(&e, json),
                    Err(_) => eprintln!("(an unreadable event was skipped)"),
                },
                "lagged" => eprintln!("(too slow: entries were missed: {data})"),
                _ => {}
            }
        }
    }
    Ok(())
}

/// `tradeq explain`.
pub async fn run_explain(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let admin = args.admin.connect()?;
    let answer = match (&args.journal, &args.request) {
        (Some(id), _) => {
            let path = format!(
                "/v1/journal/{}",
                percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC)
            );
            admin.get_json(&path).await?
        }
        (None, Some(file)) => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("reading stdin")?
            } else {
                std::fs::read_to_string(file)
                    .with_context(|| format!("cannot read {}", file.display()))?
            };
            serde_json::from_str::<Value>(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let res = admin
                .send(
                    admin
                        .http
                        .post(format!("{}/v1/explain", admin.url))
                        .header("content-type", "application/json")
                        .body(text),
                )
                .await?;
            json_of(res).await?
        }
        (None, None) => {
            eprintln!("error: pass --journal ID or --request FILE");
            return Ok(ExitCode::from(2));
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(ExitCode::SUCCESS);
    }
    let s = |name: &str| answer[name].as_str().unwrap_or("-").to_string();
    if args.journal.is_some() {
        println!("{}", entry_line(&answer));
    } else {
        let failed = answer["failed_check"].as_str().unwrap_or("");
        println!(
            "{}: {}{}",
            s("front_door"),
            s("outcome"),
            if failed.is_empty() {
                String::new()
            } else {
                format!(" ({failed} check: {})", s("error"))
            }
        );
        for finding in answer["diagnosis"].as_array().into_iter().flatten() {
            println!("    ↳ {}", finding.as_str().unwrap_or_default());
        }
    }
    if let Some(sign_string) = answer["sign_string"].as_str() {
        println!("string the server verified:\n{sign_string}");
    }
    if answer["diagnosis"].as_array().is_none_or(|d| d.is_empty()) && answer["outcome"] == "ok" {
        println!("nothing to explain: the request passed authentication");
    }
    Ok(ExitCode::SUCCESS)
}
