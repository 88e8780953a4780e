//! `tradeq serve`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use tradeq_server::admin_token::AdminToken;
use tradeq_server::config::{Loaded, Source, CONFIG_VARIABLE};
use tradeq_server::serve::shutdown_signal;
use tradeq_server::{AppState, Listeners, ServerConfig};
use tradeq_store::{NonceStore, Store};

use super::private_files::{self, write_private};
use super::settings::SettingFlags;
use super::StoreArgs;

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    settings: SettingFlags,
    /// A TOML file of settings (docs/configuration.md); TRADEQ_* variables and flags win over it.
    #[arg(long, env = CONFIG_VARIABLE)]
    config: Option<PathBuf>,
    /// Install the demo data set and credentials on first start (kept afterwards).
    #[arg(long)]
    demo: bool,
    /// Print the effective configuration (the admin token masked), each value with where it
    /// came from, and exit.
    #[arg(long)]
    print_config: bool,
}

/// The settings from the defaults, the file, the `TRADEQ_*` variables and the flags.
fn load_config(args: &ServeArgs) -> anyhow::Result<Loaded> {
    let file = match &args.config {
        Some(path) => Some((
            path.display().to_string(),
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config file {}", path.display()))?,
        )),
        None => None,
    };
    let mut env = Vec::new();
    for (key, value) in std::env::vars_os() {
        let Ok(key) = key.into_string() else { continue };
        if !key.starts_with("TRADEQ_") {
            continue;
        }
        match value.into_string() {
            Ok(value) => env.push((key, value)),
            Err(_) => anyhow::bail!("the variable {key} is not UTF-8"),
        }
    }
    let file = file
        .as_ref()
        .map(|(path, text)| (path.as_str(), text.as_str()));
    let mut loaded = ServerConfig::load(file, env, &args.settings.0)?;
    if let (Some(path), Source::File(_)) = (&args.config, loaded.source("admin_token")) {
        private_files::warn_if_shared(&[path.as_path()]);
    }
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    // The demo is for integrating: hints in the answers unless a setting turns them off.
    if !loaded.is_set("explain_in_errors") {
        loaded.config.explain_in_errors = args.demo;
    }
    Ok(loaded)
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let loaded = load_config(&args)?;
    if args.print_config {
        print!("{}", loaded.render());
        return Ok(ExitCode::SUCCESS);
    }
    let mut config = loaded.config;
    // The state has no use for the token itself, only for its digest.
    let given_token = config.admin_token.take();
    let store_args = StoreArgs {
        data_dir: Some(config.data_dir.clone()),
        database_url: config.database_url.clone(),
    };
    // Ports first: a start that cannot listen must leave no store, token or file behind.
    let shutdown = shutdown_signal();
    let listeners = Listeners::bind(config.listen, config.admin_listen).await?;
    let data_dir = store_args.data_dir();
    let store = store_args.open_with(&config.store_options()).await?;
    // Used nonces live in the database on every backend: a request captured before a restart
    // is still refused after it, and nodes sharing PostgreSQL agree on them.
    let nonces: Arc<dyn NonceStore> = store.clone().nonce_store();

    // The token itself is known only when given or just generated; otherwise only its digest.
    let (admin_token, plain_token) = match given_token {
        Some(t) => (
            AdminToken::from_plain(t.expose()),
            Some(t.expose().to_string()),
        ),
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
            .or_else(|| token_file(&data_dir.join("admin-token"), &admin_token))
            .unwrap_or_else(|| {
                // The store keeps only the token's digest: a node that did not create it (another
                // node on the same PostgreSQL, a fresh data directory) cannot write it down.
                tracing::warn!(
                    "the admin token of this store was created elsewhere and is kept only as a \
                     digest, so demo-credentials.json holds none: start every node with the same \
                     --admin-token (or TRADEQ_ADMIN_TOKEN)"
                );
                String::new()
            });
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

    if let Some(path) = &config.faults_file {
        let added = tradeq_server::sandbox::faults::install_rules_file(
            store.as_ref(),
            path,
            config.fault_max_timeout_ms,
        )
        .await
        .with_context(|| format!("cannot load the fault rules of {}", path.display()))?;
        tracing::info!(added, file = %path.display(), "fault rules installed");
    }
    let state = AppState::with_admin_token(store.clone(), nonces, config, admin_token);
    // The first requests already see the stored fault rules and clock.
    state
        .sandbox
        .refresh()
        .await
        .context("cannot read the sandbox state")?;
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

/// The token in `<data-dir>/admin-token`, written when it was generated, if it is still the
/// store's.
fn token_file(path: &Path, token: &AdminToken) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let on_file = text.trim();
    token.matches(on_file).then(|| on_file.to_string())
}

/// What `serve --demo` prints: where the credentials are and, per SDK, a complete program that
/// reads them (so no secret is printed) and the command that runs it.
pub fn demo_banner(creds: &tradeq_server::demo::DemoCredentials, path: &Path) -> String {
    let gw = &creds.gateway_url;
    let t = &creds.top;
    let host_port = gw.trim_start_matches("http://");
    let (host, port) = host_port.split_once(':').unwrap_or((host_port, "80"));
    // Absolute, so the programs run from any directory.
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let quoted = format!("{:?}", path.display().to_string());
    // The official Python Alipay SDK always connects to port 80, so its program only works there.
    let official = if port == "80" {
        format!(
            r#"
Python, official Alipay SDK (pip install alipay-sdk-python); save as demo_official.py, run `TZ=Asia/Shanghai python3 demo_official.py`:
    import json
    from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
    from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
    from alipay.aop.api.domain.AlipayTradeQueryModel import AlipayTradeQueryModel
    from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
    creds = json.load(open({quoted}))
    def body(pem):  # this SDK takes keys as bare base64
        return "".join(l for l in pem.splitlines() if not l.startswith("-----"))
    config = AlipayClientConfig()
    config.server_url = "http://{host}/gateway.do"
    config.app_id = creds["alipay"]["app_id"]
    config.app_private_key = body(creds["alipay"]["app_private_key_pkcs1_pem"])
    config.alipay_public_key = body(creds["alipay"]["alipay_public_key_pem"])
    model = AlipayTradeQueryModel()
    model.out_trade_no = "6823789339978248"
    r = json.loads(DefaultAlipayClient(alipay_client_config=config).execute(AlipayTradeQueryRequest(biz_model=model)))
    assert r["code"] == "10000", r
    print(r["trade_status"])
"#
        )
    } else {
        "\nPython, official Alipay SDK (pip install alipay-sdk-python): it always connects to port 80;\n  \
         serve there (--listen 127.0.0.1:80) and this banner shows its program.\n"
            .to_string()
    };
    format!(
        r#"
tradeq demo is running.
  credentials: {path}
  gateway:     {gw}   (Alipay v2 {gw}/gateway.do, v3 {gw}/v3/alipay/trade/query, TOP {gw}/router/rest)
  admin API:   {admin}  (Authorization: Bearer <admin_token from the credentials file>)
  web console: {admin}/console/  (sign in with the same admin token)

The programs below read the credentials file. The Node and Python Alipay SDKs stamp v2 requests
with the local time, which the gateway reads as Beijing time: run them with TZ=Asia/Shanghai.

Try it (tradeq on the PATH: cargo install --path .):
  $ tradeq query alipay.trade.query --credentials {path} trade_no=2013112011001004330000121536

Node, official SDK (npm i alipay-sdk); save as demo.mjs, run `TZ=Asia/Shanghai node demo.mjs`:
    import {{ readFileSync }} from 'node:fs';
    import {{ AlipaySdk }} from 'alipay-sdk';
    const creds = JSON.parse(readFileSync({quoted}, 'utf8'));
    const sdk = new AlipaySdk({{ appId: creds.alipay.app_id, privateKey: creds.alipay.app_private_key_pkcs1_pem,
      alipayPublicKey: creds.alipay.alipay_public_key_pem, gateway: creds.gateway_url + '/gateway.do',
      endpoint: creds.gateway_url }});
    const v2 = await sdk.exec('alipay.trade.query', {{ bizContent: {{ out_trade_no: '6823789339978248' }} }}, {{ validateSign: true }});
    if (v2.code !== '10000') throw new Error(`${{v2.subCode}}: ${{v2.subMsg}}`);
    console.log(v2.tradeStatus);
    const v3 = await sdk.curl('POST', '/v3/alipay/trade/query', {{ body: {{ trade_no: '2013112011001004330000121536' }} }});
    console.log(v3.data.trade_status);

Python, community Alipay SDK (pip install python-alipay-sdk); save as demo_community.py, run `TZ=Asia/Shanghai python3 demo_community.py`:
    import json
    from alipay import AliPay
    creds = json.load(open({quoted}))
    c = AliPay(appid=creds["alipay"]["app_id"], app_notify_url=None,
               app_private_key_string=creds["alipay"]["app_private_key_pkcs1_pem"],
               alipay_public_key_string=creds["alipay"]["alipay_public_key_pem"], sign_type="RSA2")
    c._gateway = creds["gateway_url"] + "/gateway.do"
    r = c.api_alipay_trade_query(out_trade_no="6823789339978248")
    assert r["code"] == "10000", r
    print(r["trade_status"])
{official}
Python, official TOP SDK (pip install taobao-sdk-python3); save as demo_top.py, run `python3 demo_top.py`:
    import json
    import top, top.api.base
    creds = json.load(open({quoted}))
    class OnsiteTradeQuery(top.api.base.RestApi):
        def __init__(self):
            top.api.base.RestApi.__init__(self, "{host}", {port})
            self.short_trade_no = None
        def getapiname(self):
            return "alibaba.xlife.onsite.trade.query"
    req = OnsiteTradeQuery()
    req.short_trade_no = "77778888"
    req.set_app_info(top.appinfo(creds["top"]["app_key"], creds["top"]["app_secret"]))
    print(req.getResponse(creds["top"]["session"]))

(TOP merchant {merchant}; omni orders of guide user_id={guide})
"#,
        path = path.display(),
        admin = creds.admin_url,
        merchant = t.merchant_id,
        guide = t.guide_user_id,
    )
}
