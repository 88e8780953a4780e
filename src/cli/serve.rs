//! `tradeq serve`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde::Deserialize;

use tradeq_server::admin_token::AdminToken;
use tradeq_server::serve::shutdown_signal;
use tradeq_server::{AppState, Listeners, ServerConfig};
use tradeq_store::{NonceStore, Store};

use super::private_files::{self, write_private};
use super::StoreArgs;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Protocol listener address [default: 127.0.0.1:8080].
    #[arg(long, env = "TRADEQ_LISTEN")]
    listen: Option<SocketAddr>,
    /// Admin API listener address [default: 127.0.0.1:8081].
    #[arg(long, env = "TRADEQ_ADMIN_LISTEN")]
    admin_listen: Option<SocketAddr>,
    #[command(flatten)]
    store: StoreArgs,
    /// A TOML configuration file (see the README); flags and TRADEQ_* variables win over it.
    #[arg(long, env = "TRADEQ_CONFIG")]
    config: Option<PathBuf>,
    /// The admin API bearer token; generated and kept in the store when not given.
    #[arg(long, env = "TRADEQ_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Install the demo data set and credentials on first start (kept afterwards).
    #[arg(long)]
    demo: bool,
    /// Append a short English hint to the sub_msg of a refused signature or timestamp (on by
    /// default with --demo).
    #[arg(long)]
    explain_in_errors: bool,
}

/// The configuration file: every setting optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    admin_token: Option<String>,
    v2_timestamp_window_secs: Option<i64>,
    v3_timestamp_window_secs: Option<i64>,
    top_timestamp_window_secs: Option<i64>,
    max_body_bytes: Option<usize>,
    max_admin_body_bytes: Option<usize>,
    signature_cache_entries: Option<usize>,
    credential_cache_ttl_ms: Option<u64>,
    record_cache_entries: Option<usize>,
    journal_max_entries: Option<usize>,
    journal_max_bytes: Option<usize>,
    journal_body_bytes: Option<usize>,
    explain_in_errors: Option<bool>,
    database_timeout_ms: Option<u64>,
    read_busy_timeout_ms: Option<u64>,
    header_read_timeout_secs: Option<u64>,
    body_read_timeout_secs: Option<u64>,
    idle_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    admin_max_connections: Option<usize>,
    drain_timeout_secs: Option<u64>,
}

fn load_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let file = match &args.config {
        Some(p) => load_file(p)?,
        None => FileConfig::default(),
    };
    let mut config = ServerConfig::default();
    config.listen = args.listen.or(file.listen).unwrap_or(config.listen);
    config.admin_listen = args
        .admin_listen
        .or(file.admin_listen)
        .unwrap_or(config.admin_listen);
    macro_rules! overlay {
        ($($field:ident),*) => {$(if let Some(v) = file.$field { config.$field = v; })*};
    }
    overlay!(
        v2_timestamp_window_secs,
        v3_timestamp_window_secs,
        top_timestamp_window_secs,
        max_body_bytes,
        max_admin_body_bytes,
        signature_cache_entries,
        credential_cache_ttl_ms,
        database_timeout_ms,
        read_busy_timeout_ms,
        header_read_timeout_secs,
        body_read_timeout_secs,
        idle_timeout_secs,
        max_connections,
        admin_max_connections,
        drain_timeout_secs
    );
    overlay!(
        journal_max_entries,
        journal_max_bytes,
        journal_body_bytes,
        explain_in_errors
    );
    // The demo is for integrating: hints in the answers unless the file turns them off.
    config.explain_in_errors =
        args.explain_in_errors || file.explain_in_errors.unwrap_or(args.demo);
    config.validate()?;
    let store_args = StoreArgs {
        data_dir: args.store.data_dir.clone().or(file.data_dir.clone()),
        database_url: args
            .store
            .database_url
            .clone()
            .or(file.database_url.clone()),
    };
    // Ports first: a start that cannot listen must leave no store, token or file behind.
    let shutdown = shutdown_signal();
    let listeners = Listeners::bind(config.listen, config.admin_listen).await?;
    let data_dir = store_args.data_dir();
    let mut store_options = tradeq_store::StoreOptions::default();
    if let Some(entries) = file.record_cache_entries {
        store_options.record_cache_entries = entries;
    }
    store_options.database_timeout = Some(Duration::from_millis(config.database_timeout_ms));
    store_options.read_busy_timeout = Some(Duration::from_millis(config.read_busy_timeout_ms));
    let store = store_args.open_with(&store_options).await?;
    // Used nonces live in the database on every backend: a request captured before a restart
    // is still refused after it, and nodes sharing PostgreSQL agree on them.
    let nonces: Arc<dyn NonceStore> = store.clone().nonce_store();

    // The token itself is known only when given or just generated; otherwise only its digest.
    let (admin_token, plain_token) = match args.admin_token.or(file.admin_token) {
        Some(t) => (AdminToken::from_plain(&t), Some(t)),
        None => stored_admin_token(store.as_ref(), &data_dir).await?,
    };
    let demo_creds_path = data_dir.join("demo-credentials.json");
    // (The data directory itself was checked when the embedded store was opened.)
    private_files::warn_if_shared(&[&data_dir.join("admin-token"), &demo_creds_path]);

    let gateway_url = format!("http://{}", listeners.protocol.local_addr()?);
    let admin_url = format!("http://{}", listeners.admin.local_addr()?);

    if args.demo {
        let shown_token = plain_token
            .or_else(|| demo_token_on_file(&demo_creds_path, &admin_token))
            .unwrap_or_default();
        let creds = tradeq_server::demo::install(
            store.as_ref(),
            &gateway_url,
            &admin_url,
            &shown_token,
            chrono::Utc::now(),
        )
        .await
        .context("cannot install the demo data")?;
        private_files::create_private_dir(&data_dir)?;
        let path = demo_creds_path;
        write_private(&path, &serde_json::to_string_pretty(&creds)?)?;
        println!("{}", demo_banner(&creds, &path));
    }

    let state = AppState::with_admin_token(store.clone(), nonces, config, admin_token);
    tracing::info!(
        backend = store.backend(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "tradeq ready"
    );
    tradeq_server::serve(state, listeners, shutdown)
        .await
        .context("server failed")?;
    store.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The admin token kept in the store as its digest, created on first start and written once,
/// in clear, to `<data-dir>/admin-token` (mode 0600) so an operator can read it. The token
/// comes back only when it was just created. A token an older version kept in clear is
/// replaced by its digest.
async fn stored_admin_token(
    store: &dyn Store,
    data_dir: &Path,
) -> anyhow::Result<(AdminToken, Option<String>)> {
    if let Some(stored) = store.get_meta("admin_token").await? {
        if let Some(token) = AdminToken::from_stored(&stored) {
            return Ok((token, None));
        }
        if !stored.is_empty() {
            let token = AdminToken::from_plain(&stored);
            store.put_meta("admin_token", &token.stored_form()).await?;
            tracing::info!("the admin token kept in clear in the store is now kept as a digest");
            return Ok((token, None));
        }
    }
    let mut bytes = [0u8; 24];
    openssl::rand::rand_bytes(&mut bytes)?;
    let plain: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let token = AdminToken::from_plain(&plain);
    store.put_meta("admin_token", &token.stored_form()).await?;
    private_files::create_private_dir(data_dir)?;
    let path = data_dir.join("admin-token");
    write_private(&path, &plain)?;
    tracing::info!("admin token created and written to {}", path.display());
    Ok((token, Some(plain)))
}

/// The admin token a previous start wrote into `demo-credentials.json`, if it is still the
/// token: the store keeps only its digest, so a restart cannot recover it otherwise.
fn demo_token_on_file(path: &Path, token: &AdminToken) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let creds: serde_json::Value = serde_json::from_str(&text).ok()?;
    let on_file = creds.get("admin_token")?.as_str()?;
    if token.matches(on_file) {
        return Some(on_file.to_string());
    }
    tracing::warn!(
        "{} holds no valid admin token: use --admin-token or the admin-token file",
        path.display()
    );
    None
}

/// What `serve --demo` prints: where the credentials are and a ready snippet per SDK.
pub fn demo_banner(creds: &tradeq_server::demo::DemoCredentials, path: &Path) -> String {
    let gw = &creds.gateway_url;
    let a = &creds.alipay;
    let t = &creds.top;
    let host_port = gw.trim_start_matches("http://");
    let (host, port) = host_port.split_once(':').unwrap_or((host_port, "80"));
    format!(
        r#"
tradeq demo is running.
  credentials: {path}
  gateway:     {gw}   (Alipay v2 {gw}/gateway.do, v3 {gw}/v3/alipay/trade/query, TOP {gw}/router/rest)
  admin API:   {admin}  (Authorization: Bearer <admin_token from the credentials file>)

Try it:
  cargo run --release -- query alipay.trade.query --credentials {path} trade_no=2013112011001004330000121536

Node (npm i alipay-sdk):
  const {{ AlipaySdk }} = require('alipay-sdk');
  const creds = require('{path}');
  const sdk = new AlipaySdk({{ appId: creds.alipay.app_id, privateKey: creds.alipay.app_private_key_pkcs1_pem,
    alipayPublicKey: creds.alipay.alipay_public_key_pem, gateway: creds.gateway_url + '/gateway.do',
    endpoint: creds.gateway_url }});
  await sdk.exec('alipay.trade.query', {{ bizContent: {{ out_trade_no: '6823789339978248' }} }}, {{ validateSign: true }});
  await sdk.curl('POST', '/v3/alipay/trade/query', {{ body: {{ trade_no: '2013112011001004330000121536' }} }});

Python, community SDK (pip install python-alipay-sdk):
  from alipay import AliPay
  c = AliPay(appid="{app_id}", app_notify_url=None, app_private_key_string=APP_PRIVATE_KEY_PKCS1_PEM,
             alipay_public_key_string=ALIPAY_PUBLIC_KEY_PEM, sign_type="RSA2")
  c._gateway = "{gw}/gateway.do"
  c.api_alipay_trade_query(out_trade_no="6823789339978248")

Python, official SDK (pip install alipay-sdk-python; it only reaches port 80: serve with --listen 127.0.0.1:80):
  config = AlipayClientConfig(); config.server_url = "http://{host}/gateway.do"; config.app_id = "{app_id}"
  config.app_private_key = APP_PRIVATE_KEY_PKCS1_BASE64; config.alipay_public_key = ALIPAY_PUBLIC_KEY_BASE64

Python TOP SDK (pip install taobao-sdk-python3):
  import top, top.api.base
  class OnsiteTradeQuery(top.api.base.RestApi):
      def __init__(self): top.api.base.RestApi.__init__(self, "{host}", {port}); self.short_trade_no = None
      def getapiname(self): return "alibaba.xlife.onsite.trade.query"
  req = OnsiteTradeQuery(); req.short_trade_no = "77778888"
  req.set_app_info(top.appinfo("{app_key}", APP_SECRET)); req.getResponse("{session}")
  (merchant {merchant}; omni orders of guide user_id={guide})
"#,
        path = path.display(),
        admin = creds.admin_url,
        app_id = a.app_id,
        app_key = t.app_key,
        session = t.session,
        merchant = t.merchant_id,
        guide = t.guide_user_id,
    )
}
