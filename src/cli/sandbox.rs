//! `tradeq faults …` and `tradeq clock …`: the sandbox's fault rules and business clock, through
//! a running server's admin API (so the server applies a change at once).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

/// Where the admin API is and how to authenticate to it.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// The admin API [default: the `admin_url` of `<data-dir>/demo-credentials.json`, else
    /// http://127.0.0.1:8081].
    #[arg(long, env = "TRADEQ_ADMIN_URL", global = true)]
    admin_url: Option<String>,
    /// The admin token [default: `<data-dir>/admin-token`, else the demo credentials' token].
    #[arg(
        long,
        env = "TRADEQ_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    admin_token: Option<String>,
    /// The server's data directory, where its admin token and demo credentials are written
    /// [default: ./tradeq-data].
    #[arg(long, env = "TRADEQ_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
}

impl AdminArgs {
    fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("./tradeq-data"))
    }

    fn demo_credentials(&self) -> Option<Value> {
        let text = std::fs::read_to_string(self.data_dir().join("demo-credentials.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn url(&self) -> String {
        self.admin_url
            .clone()
            .or_else(|| {
                self.demo_credentials()
                    .and_then(|c| c["admin_url"].as_str().map(str::to_string))
            })
            .unwrap_or_else(|| "http://127.0.0.1:8081".to_string())
            .trim_end_matches('/')
            .to_string()
    }

    fn token(&self) -> anyhow::Result<String> {
        if let Some(t) = &self.admin_token {
            return Ok(t.clone());
        }
        if let Ok(t) = std::fs::read_to_string(self.data_dir().join("admin-token")) {
            return Ok(t.trim().to_string());
        }
        if let Some(t) = self
            .demo_credentials()
            .and_then(|c| c["admin_token"].as_str().map(str::to_string))
        {
            return Ok(t);
        }
        bail!(
            "no admin token: pass --admin-token (or TRADEQ_ADMIN_TOKEN), or --data-dir of the server"
        )
    }

    /// Sends one request and returns the JSON answer (`null` for 204); an error answer becomes
    /// an error naming the server's message.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.url());
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        let mut req = client.request(method, &url).bearer_auth(self.token()?);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let res = req
            .send()
            .await
            .with_context(|| format!("cannot reach the admin API at {url}"))?;
        let status = res.status();
        let text = res.text().await?;
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if !status.is_success() {
            let message = value["error"]["message"]
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            bail!("{status}: {message}");
        }
        Ok(value)
    }
}

#[derive(Debug, Args)]
pub struct FaultsArgs {
    #[command(subcommand)]
    command: FaultsCommand,
    #[command(flatten)]
    admin: AdminArgs,
}

#[derive(Debug, Subcommand)]
enum FaultsCommand {
    /// Add a rule: either the whole rule as JSON (`--json`), or its parts as flags.
    Add(Box<AddArgs>),
    /// List the rules with their hit counts.
    List,
    /// Remove one rule.
    Remove { id: String },
    /// Remove every rule.
    Clear,
}

#[derive(Debug, Args)]
struct AddArgs {
    /// The rule as JSON (as `POST /v1/faults` takes it); a file name or the JSON itself.
    #[arg(long, conflicts_with_all = ["action", "front_door", "method", "app", "merchant", "key"])]
    json: Option<String>,
    /// The action as JSON, e.g. '{"type":"error","code":"ACQ.SYSTEM_ERROR"}', or a bare
    /// type without parameters (`reset`, `bad_signature`).
    #[arg(long)]
    action: Option<String>,
    /// Match only this front door: alipay_v2, alipay_v3 or top.
    #[arg(long)]
    front_door: Option<String>,
    /// Match only this method.
    #[arg(long)]
    method: Option<String>,
    /// Match only this app id / app key.
    #[arg(long)]
    app: Option<String>,
    /// Match only this merchant.
    #[arg(long)]
    merchant: Option<String>,
    /// Match only this record key.
    #[arg(long)]
    key: Option<String>,
    /// Apply to at most this many requests.
    #[arg(long)]
    times: Option<u64>,
    /// Leave the first N matching requests alone.
    #[arg(long)]
    after: Option<u64>,
    /// Chance of applying to a matching request (0..1).
    #[arg(long)]
    probability: Option<f64>,
    /// Seed of the draws.
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ClockArgs {
    #[command(subcommand)]
    command: Option<ClockCommand>,
    #[command(flatten)]
    admin: AdminArgs,
}

#[derive(Debug, Subcommand)]
enum ClockCommand {
    /// Show the clock (the default).
    Show,
    /// Set the clock: `real`, `frozen --at <RFC 3339>` or `offset --secs N`.
    Set {
        /// real, offset or frozen.
        mode: String,
        /// The frozen instant (frozen).
        #[arg(long)]
        at: Option<String>,
        /// Seconds from real time (offset).
        #[arg(long, allow_hyphen_values = true)]
        secs: Option<i64>,
    },
    /// Move the clock by N seconds (negative: back); `--days` and `--hours` add to it.
    Advance {
        #[arg(allow_hyphen_values = true, default_value_t = 0)]
        secs: i64,
        #[arg(long, allow_hyphen_values = true, default_value_t = 0)]
        days: i64,
        #[arg(long, allow_hyphen_values = true, default_value_t = 0)]
        hours: i64,
    },
}

/// Prints an answer; a closed pipe (`… | head`) ends the output quietly.
fn print(value: &Value) -> anyhow::Result<()> {
    use std::io::Write;
    let text = serde_json::to_string_pretty(value)?;
    match writeln!(std::io::stdout(), "{text}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn json_arg(text: &str) -> anyhow::Result<Value> {
    let text = match std::fs::read_to_string(text) {
        Ok(contents) => contents,
        Err(_) => text.to_string(),
    };
    serde_json::from_str(&text).context("not valid JSON")
}

pub async fn run_faults(args: FaultsArgs) -> anyhow::Result<ExitCode> {
    let admin = &args.admin;
    match args.command {
        FaultsCommand::Add(add) => {
            let AddArgs {
                json,
                action,
                front_door,
                method,
                app,
                merchant,
                key,
                times,
                after,
                probability,
                seed,
            } = *add;
            let mut rule = match json {
                Some(text) => json_arg(&text)?,
                None => {
                    let Some(action) = action else {
                        bail!("give --action (or the whole rule with --json)");
                    };
                    let action = if action.trim_start().starts_with('{') {
                        json_arg(&action)?
                    } else {
                        json!({ "type": action })
                    };
                    let mut matcher = serde_json::Map::new();
                    for (name, value) in [
                        ("front_door", front_door),
                        ("method", method),
                        ("app", app),
                        ("merchant", merchant),
                        ("key", key),
                    ] {
                        if let Some(v) = value {
                            matcher.insert(name.to_string(), Value::String(v));
                        }
                    }
                    json!({ "match": matcher, "action": action })
                }
            };
            if let Value::Object(map) = &mut rule {
                for (name, value) in [
                    ("times", times.map(Value::from)),
                    ("after", after.map(Value::from)),
                    ("probability", probability.map(Value::from)),
                    ("seed", seed.map(Value::from)),
                ] {
                    if let Some(v) = value {
                        map.insert(name.to_string(), v);
                    }
                }
            }
            let created = admin
                .call(reqwest::Method::POST, "/v1/faults", Some(rule))
                .await?;
            print(&created)?;
        }
        FaultsCommand::List => {
            print(&admin.call(reqwest::Method::GET, "/v1/faults", None).await?)?;
        }
        FaultsCommand::Remove { id } => {
            admin
                .call(reqwest::Method::DELETE, &format!("/v1/faults/{id}"), None)
                .await?;
            println!("removed {id}");
        }
        FaultsCommand::Clear => {
            print(
                &admin
                    .call(reqwest::Method::DELETE, "/v1/faults", None)
                    .await?,
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_clock(args: ClockArgs) -> anyhow::Result<ExitCode> {
    let admin = &args.admin;
    let answer = match args.command.unwrap_or(ClockCommand::Show) {
        ClockCommand::Show => admin.call(reqwest::Method::GET, "/v1/clock", None).await?,
        ClockCommand::Set { mode, at, secs } => {
            let body = match mode.as_str() {
                "frozen" => json!({ "mode": "frozen", "at": at.context("frozen needs --at")? }),
                "offset" => {
                    json!({ "mode": "offset", "offset_secs": secs.context("offset needs --secs")? })
                }
                other => json!({ "mode": other }),
            };
            admin
                .call(reqwest::Method::PUT, "/v1/clock", Some(body))
                .await?
        }
        ClockCommand::Advance { secs, days, hours } => {
            let total = days
                .checked_mul(86_400)
                .and_then(|d| hours.checked_mul(3_600).and_then(|h| d.checked_add(h)))
                .and_then(|t| t.checked_add(secs))
                .context("the advance is out of range")?;
            admin
                .call(
                    reqwest::Method::POST,
                    "/v1/clock/advance",
                    Some(json!({ "secs": total })),
                )
                .await?
        }
    };
    print(&answer)?;
    Ok(ExitCode::SUCCESS)
}
