//! `tradeq apps …`: Alipay apps, app auth tokens, TOP apps and TOP sessions, written straight to
//! the store (a running server picks changes up on the next request).

use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use tradeq_model::credentials::{redact, AlipayApp, AppAuthToken, TopApp, TopSession};
use tradeq_model::Timestamp;
use tradeq_server::certs;
use tradeq_wire::alipay::{cert, keys};

use super::StoreArgs;

#[derive(Debug, Args)]
pub struct AppsArgs {
    #[command(subcommand)]
    command: AppsCommand,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Subcommand)]
enum AppsCommand {
    /// Alipay apps.
    #[command(subcommand)]
    Alipay(AlipayCommand),
    /// Alipay app auth tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// TOP apps.
    #[command(subcommand)]
    Top(TopCommand),
    /// TOP sessions.
    #[command(subcommand)]
    Session(SessionCommand),
}

#[derive(Debug, Subcommand)]
enum AlipayCommand {
    /// Register an app. A platform key pair that signs its answers is generated unless given;
    /// its public key is printed for the app's developers.
    Add {
        #[arg(long)]
        app_id: String,
        /// The merchant (PID) owning the app.
        #[arg(long)]
        merchant_pid: String,
        /// The app's public key: a file, or the key itself (SPKI or PKCS#1, PEM or base64).
        /// Optional with --app-cert, whose key is used.
        #[arg(long, required_unless_present = "app_cert")]
        public_key: Option<String>,
        /// Allowed sign types.
        #[arg(long, value_delimiter = ',', default_value = "RSA2,RSA")]
        sign_types: Vec<String>,
        /// AES content-encryption key (base64 of 16, 24 or 32 bytes).
        #[arg(long, conflicts_with = "gen_aes_key")]
        aes_key: Option<String>,
        /// Generate an AES key (printed once).
        #[arg(long)]
        gen_aes_key: bool,
        /// Contract flag: always return fund_bill_list.
        #[arg(long)]
        always_fund_bill_list: bool,
        /// Use this platform private key (a file or the key) instead of generating one.
        #[arg(long)]
        platform_private_key: Option<String>,
        /// Public-key-certificate mode: the sandbox authority issues the app's certificate
        /// (unless --app-cert gives one) and the platform certificate.
        #[arg(long)]
        cert_mode: bool,
        /// The app's certificate (a file or the PEM), issued by the sandbox authority; implies
        /// --cert-mode.
        #[arg(long)]
        app_cert: Option<String>,
    },
    /// Stop accepting an app certificate (certificate mode), by its SN.
    RevokeCert {
        #[arg(long)]
        app_id: String,
        /// The app certificate's SN (32 hex digits).
        #[arg(long)]
        sn: String,
    },
    /// List apps.
    List,
    /// Remove an app and its app auth tokens.
    Remove { app_id: String },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Grant a token: the app acts for `--merchant-pid` when it sends it.
    Add {
        #[arg(long)]
        app_id: String,
        #[arg(long)]
        merchant_pid: String,
        /// The token text (generated when absent).
        #[arg(long)]
        token: Option<String>,
        /// Expiry, `yyyy-MM-dd HH:mm:ss` (GMT+8).
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// List tokens.
    List,
    /// Revoke a token.
    Remove { token: String },
}

#[derive(Debug, Subcommand)]
enum TopCommand {
    /// Register a TOP app.
    Add {
        #[arg(long)]
        app_key: String,
        /// The secret (generated when absent; printed once).
        #[arg(long)]
        app_secret: Option<String>,
        #[arg(long, value_delimiter = ',', default_value = "md5,hmac,hmac-sha256")]
        sign_methods: Vec<String>,
        /// The merchant owning the app.
        #[arg(long)]
        merchant_id: String,
    },
    /// List TOP apps.
    List,
    /// Remove a TOP app and its sessions.
    Remove { app_key: String },
}

#[derive(Debug, Subcommand)]
enum SessionCommand {
    /// Create a session acting for a merchant.
    Add {
        #[arg(long)]
        app_key: String,
        #[arg(long)]
        merchant_id: String,
        /// The session key (generated when absent).
        #[arg(long)]
        session: Option<String>,
        /// Expiry, `yyyy-MM-dd HH:mm:ss` (GMT+8).
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// List sessions.
    List,
    /// Remove a session.
    Remove { session: String },
}

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; bytes];
    openssl::rand::rand_bytes(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A key given as a path or as the key text itself.
fn key_text(arg: &str) -> anyhow::Result<String> {
    let path = std::path::Path::new(arg);
    if !arg.contains("-----") && path.is_file() {
        return std::fs::read_to_string(path).with_context(|| format!("cannot read {arg}"));
    }
    Ok(arg.to_string())
}

fn expiry(arg: Option<String>) -> anyhow::Result<Option<Timestamp>> {
    arg.map(|s| {
        Timestamp::parse(&s)
            .with_context(|| format!("`{s}` is not a time: use yyyy-MM-dd HH:mm:ss (GMT+8)"))
    })
    .transpose()
}

pub async fn run(args: AppsArgs) -> anyhow::Result<ExitCode> {
    let store = args.store.open().await?;
    match args.command {
        AppsCommand::Alipay(cmd) => match cmd {
            AlipayCommand::Add {
                app_id,
                merchant_pid,
                public_key,
                sign_types,
                aes_key,
                gen_aes_key,
                always_fund_bill_list,
                platform_private_key,
                cert_mode,
                app_cert,
            } => {
                for t in &sign_types {
                    if t != "RSA2" && t != "RSA" {
                        bail!("sign type `{t}` is not supported: use RSA2 and/or RSA");
                    }
                }
                let app_cert = app_cert.map(|c| key_text(&c)).transpose()?;
                let from_cert = app_cert
                    .as_deref()
                    .map(cert::public_key_from_pem)
                    .transpose()
                    .context("--app-cert is not a usable certificate")?;
                let app_public = match (public_key, from_cert) {
                    (Some(k), from_cert) => {
                        let key = keys::parse_public_key(&key_text(&k)?)
                            .context("--public-key is not a usable RSA public key")?;
                        if from_cert.is_some_and(|c| !keys::same_public_key(&c, &key)) {
                            bail!("--app-cert certifies another key than --public-key");
                        }
                        key
                    }
                    (None, Some(key)) => key,
                    (None, None) => bail!("--public-key or --app-cert is required"),
                };
                let platform = match platform_private_key {
                    Some(k) => keys::parse_private_key(&key_text(&k)?)
                        .context("--platform-private-key is not a usable RSA private key")?,
                    None => keys::generate_rsa_2048()?,
                };
                let platform_public = keys::public_from_private(&platform)?;
                let aes_key = match (aes_key, gen_aes_key) {
                    (Some(k), _) => {
                        tradeq_wire::alipay::aes::aes_encrypt(&k, b"{}")
                            .context("--aes-key must be base64 of 16, 24 or 32 bytes")?;
                        Some(k)
                    }
                    (None, true) => {
                        let mut raw = [0u8; 16];
                        openssl::rand::rand_bytes(&mut raw)?;
                        let k =
                            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, raw);
                        println!("AES key (keep it secret): {k}");
                        Some(k)
                    }
                    (None, false) => None,
                };
                let app_public_key_pem = keys::public_key_to_spki_pem(&app_public)?;
                let platform_public_key_pem = keys::public_key_to_spki_pem(&platform_public)?;
                let cert_mode = if cert_mode || app_cert.is_some() {
                    let ca = certs::load_or_create(store.as_ref()).await?;
                    Some(certs::cert_mode_for(
                        &ca,
                        certs::CertModeRequest {
                            app_id: &app_id,
                            merchant_pid: &merchant_pid,
                            app_public_key_pem: &app_public_key_pem,
                            platform_public_key_pem: &platform_public_key_pem,
                            app_cert: app_cert.as_deref(),
                            revoked: None,
                        },
                        None,
                    )?)
                } else {
                    None
                };
                let app = AlipayApp {
                    app_id: app_id.clone(),
                    merchant_pid,
                    app_public_key_pem,
                    sign_types,
                    platform_private_key_pem: keys::private_key_to_pkcs8_pem(&platform)?,
                    platform_public_key_pem,
                    aes_key,
                    always_fund_bill_list,
                    cert_mode,
                };
                store.put_alipay_app(&app).await?;
                println!("added Alipay app {app_id}");
                match &app.cert_mode {
                    Some(c) => {
                        println!("app_cert_sn: {}", cert::cert_sn_from_pem(&c.app_cert_pem)?);
                        println!(
                            "alipay_cert_sn: {}",
                            cert::cert_sn_from_pem(&c.alipay_cert_pem)?
                        );
                        println!(
                            "alipay_root_cert_sn: {}",
                            cert::root_cert_sn(&c.alipay_root_cert_pem)?
                        );
                        println!("app public-key certificate (appCertPublicKey):");
                        print!("{}", c.app_cert_pem);
                        println!("platform public-key certificate (alipayCertPublicKey_RSA2):");
                        print!("{}", c.alipay_cert_pem);
                        println!("root bundle (alipayRootCert):");
                        print!("{}", c.alipay_root_cert_pem);
                    }
                    None => {
                        println!(
                            "platform (\"Alipay\") public key for the app's SDK configuration:"
                        );
                        print!("{}", app.platform_public_key_pem);
                        println!("{}", keys::public_key_to_spki_base64(&platform_public)?);
                    }
                }
            }
            AlipayCommand::List => {
                for a in store.list_alipay_apps().await? {
                    let mode = match &a.cert_mode {
                        Some(c) => format!(
                            "cert mode (app_cert_sn {}, alipay_cert_sn {}, {} revoked)",
                            cert::cert_sn_from_pem(&c.app_cert_pem).unwrap_or_default(),
                            cert::cert_sn_from_pem(&c.alipay_cert_pem).unwrap_or_default(),
                            c.revoked_app_cert_sns.len()
                        ),
                        None => "public-key mode".to_string(),
                    };
                    println!(
                        "{}\tmerchant {}\tsign types {}\taes {}\talways_fund_bill_list {}\t{}",
                        a.app_id,
                        a.merchant_pid,
                        a.sign_types.join(","),
                        if a.aes_key.is_some() { "yes" } else { "no" },
                        a.always_fund_bill_list,
                        mode
                    );
                }
            }
            AlipayCommand::RevokeCert { app_id, sn } => {
                let Some(mut app) = store.get_alipay_app(&app_id).await? else {
                    bail!("no Alipay app `{app_id}`");
                };
                let Some(c) = app.cert_mode.as_mut() else {
                    bail!("Alipay app `{app_id}` is in public-key mode: it has no certificate");
                };
                let sn = sn.to_ascii_lowercase();
                if sn.len() != 32 || !sn.bytes().all(|b| b.is_ascii_hexdigit()) {
                    bail!("`{sn}` is not a certificate SN (32 hex digits)");
                }
                if !c.revoked_app_cert_sns.contains(&sn) {
                    c.revoked_app_cert_sns.push(sn.clone());
                }
                store.put_alipay_app(&app).await?;
                println!("app certificate {sn} of Alipay app {app_id} is revoked");
            }
            AlipayCommand::Remove { app_id } => {
                if !store.delete_alipay_app(&app_id).await? {
                    bail!("no Alipay app `{app_id}`");
                }
                println!("removed Alipay app {app_id} and its app auth tokens");
            }
        },
        AppsCommand::Token(cmd) => match cmd {
            TokenCommand::Add {
                app_id,
                merchant_pid,
                token,
                expires_at,
            } => {
                if store.get_alipay_app(&app_id).await?.is_none() {
                    bail!("no Alipay app `{app_id}`: add it first");
                }
                let token = match token {
                    Some(t) => t,
                    None => random_hex(20)?,
                };
                store
                    .put_app_auth_token(&AppAuthToken {
                        token: token.clone(),
                        app_id,
                        merchant_pid,
                        expires_at: expiry(expires_at)?,
                    })
                    .await?;
                println!("{token}");
            }
            TokenCommand::List => {
                let tokens = store.list_app_auth_tokens().await?;
                let shown = short_forms(tokens.iter().map(|t| t.token.as_str()));
                for (t, short) in tokens.iter().zip(shown) {
                    println!(
                        "{}\tapp {}\tmerchant {}\texpires {}",
                        short,
                        t.app_id,
                        t.merchant_pid,
                        t.expires_at.map_or("never".to_string(), |e| e.to_string())
                    );
                }
            }
            TokenCommand::Remove { token } => {
                let all = store.list_app_auth_tokens().await?;
                let token = resolve(
                    all.iter().map(|t| t.token.as_str()),
                    &token,
                    "app auth token",
                )?;
                if !store.delete_app_auth_token(&token).await? {
                    bail!("no such app auth token");
                }
                println!("revoked");
            }
        },
        AppsCommand::Top(cmd) => match cmd {
            TopCommand::Add {
                app_key,
                app_secret,
                sign_methods,
                merchant_id,
            } => {
                for m in &sign_methods {
                    if !["md5", "hmac", "hmac-sha256"].contains(&m.as_str()) {
                        bail!("sign method `{m}` is not supported: use md5, hmac, hmac-sha256");
                    }
                }
                let secret = match app_secret {
                    Some(s) => s,
                    None => random_hex(16)?,
                };
                store
                    .put_top_app(&TopApp {
                        app_key: app_key.clone(),
                        app_secret: secret.clone(),
                        sign_methods,
                        merchant_id,
                    })
                    .await?;
                println!("added TOP app {app_key}; secret (shown once): {secret}");
            }
            TopCommand::List => {
                for a in store.list_top_apps().await? {
                    println!(
                        "{}\tmerchant {}\tsign methods {}",
                        a.app_key,
                        a.merchant_id,
                        a.sign_methods.join(",")
                    );
                }
            }
            TopCommand::Remove { app_key } => {
                if !store.delete_top_app(&app_key).await? {
                    bail!("no TOP app `{app_key}`");
                }
                println!("removed TOP app {app_key} and its sessions");
            }
        },
        AppsCommand::Session(cmd) => match cmd {
            SessionCommand::Add {
                app_key,
                merchant_id,
                session,
                expires_at,
            } => {
                if store.get_top_app(&app_key).await?.is_none() {
                    bail!("no TOP app `{app_key}`: add it first");
                }
                let session = match session {
                    Some(s) => s,
                    None => random_hex(20)?,
                };
                store
                    .put_top_session(&TopSession {
                        session: session.clone(),
                        app_key,
                        merchant_id,
                        expires_at: expiry(expires_at)?,
                    })
                    .await?;
                println!("{session}");
            }
            SessionCommand::List => {
                let sessions = store.list_top_sessions().await?;
                let shown = short_forms(sessions.iter().map(|s| s.session.as_str()));
                for (s, short) in sessions.iter().zip(shown) {
                    println!(
                        "{}\tapp {}\tmerchant {}\texpires {}",
                        short,
                        s.app_key,
                        s.merchant_id,
                        s.expires_at.map_or("never".to_string(), |e| e.to_string())
                    );
                }
            }
            SessionCommand::Remove { session } => {
                let all = store.list_top_sessions().await?;
                let session = resolve(all.iter().map(|s| s.session.as_str()), &session, "session")?;
                if !store.delete_top_session(&session).await? {
                    bail!("no such session");
                }
                println!("removed");
            }
        },
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// How `list` shows secrets: the shortest prefix (at least four characters) that tells each one
/// apart from the others, then `…`. `remove` accepts exactly that.
fn short_forms<'a>(all: impl Iterator<Item = &'a str>) -> Vec<String> {
    let all: Vec<&str> = all.collect();
    all.iter()
        .map(|secret| {
            let chars: Vec<char> = secret.chars().collect();
            let mut n = 4.min(chars.len());
            loop {
                let prefix: String = chars[..n].iter().collect();
                let unique = all
                    .iter()
                    .filter(|other| other.starts_with(prefix.as_str()))
                    .count()
                    == 1;
                if unique || n >= chars.len() {
                    return if n >= chars.len() {
                        redact(secret)
                    } else {
                        format!("{prefix}…")
                    };
                }
                n += 1;
            }
        })
        .collect()
}

/// The secret `given` names: itself, or the one secret it is a prefix of (as `list` shows it,
/// with or without the trailing `…`).
fn resolve<'a>(
    all: impl Iterator<Item = &'a str>,
    given: &str,
    what: &str,
) -> anyhow::Result<String> {
    let prefix = given
        .strip_suffix('…')
        .or_else(|| given.strip_suffix("..."))
        .unwrap_or(given);
    let all: Vec<&str> = all.collect();
    if all.contains(&given) {
        return Ok(given.to_string());
    }
    let matches: Vec<&&str> = all.iter().filter(|s| s.starts_with(prefix)).collect();
    match (prefix.is_empty(), matches.as_slice()) {
        (false, [one]) => Ok(one.to_string()),
        (false, []) | (true, _) => bail!("no such {what}: `{given}`"),
        (false, many) => bail!(
            "`{given}` starts {} {what}s: give more of its characters",
            many.len()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::{resolve, short_forms};

    #[test]
    fn listed_forms_are_accepted_by_remove() {
        let all = ["abcdef12", "abcdzz34", "9f8e7d6c"];
        let shown = short_forms(all.iter().copied());
        assert_eq!(shown, ["abcde…", "abcdz…", "9f8e…"]);
        for (secret, short) in all.iter().zip(&shown) {
            assert_eq!(
                resolve(all.iter().copied(), short, "token").unwrap(),
                *secret
            );
        }
        assert_eq!(
            resolve(all.iter().copied(), "9f8e", "token").unwrap(),
            "9f8e7d6c"
        );
        assert_eq!(
            resolve(all.iter().copied(), "abcdef12", "token").unwrap(),
            "abcdef12"
        );
        let err = resolve(all.iter().copied(), "abcd…", "token").unwrap_err();
        assert!(err.to_string().contains("starts 2 tokens"), "{err}");
        assert!(resolve(all.iter().copied(), "zzz", "token").is_err());
        assert!(resolve(all.iter().copied(), "…", "token").is_err());
    }
}
