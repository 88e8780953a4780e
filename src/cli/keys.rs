//! `tradeq keys …`: an RSA-2048 key pair for an app, the sandbox certificate authority of
//! certificate mode, and platform key rotation.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use tradeq_server::certs::{self, SandboxCa};
use tradeq_wire::alipay::{cert, keys};

use super::StoreArgs;

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Generate an RSA-2048 key pair: PKCS#1 and PKCS#8 private keys, SPKI public key (PEM),
    /// plus the one-line base64 public key the Alipay console asks for.
    Gen {
        /// Directory to write into (created if missing).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// File name prefix.
        #[arg(long, default_value = "app")]
        name: String,
    },
    /// Create the sandbox certificate authority of certificate mode (kept in the store) unless
    /// it exists, and print its root bundle's SN; `--out` writes the bundle (alipayRootCert.crt).
    Ca {
        /// Write the root bundle (PEM) to this file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Validity of the roots, in days (when creating).
        #[arg(long, default_value_t = certs::DEFAULT_ROOT_DAYS)]
        root_days: u32,
        /// Validity of the certificates it issues from now on, in days.
        #[arg(long, default_value_t = certs::DEFAULT_CERT_DAYS)]
        cert_days: u32,
        /// Replace an existing authority with a new one. Apps registered before keep the bundle
        /// they were given until they are registered again.
        #[arg(long)]
        renew: bool,
    },
    /// Give an Alipay app a new platform key pair; in certificate mode also a new platform
    /// certificate (the old one stays downloadable). Answers are signed with the new key at once.
    RotatePlatform {
        /// The app id.
        #[arg(long)]
        app: String,
    },
}

pub async fn run(args: KeysArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        KeysCommand::Gen { out, name } => gen(out, name),
        KeysCommand::Ca {
            out,
            root_days,
            cert_days,
            renew,
        } => {
            let store = args.store.open().await?;
            let existing = certs::load(store.as_ref()).await?;
            let ca = match existing {
                Some(mut ca) if !renew => {
                    if ca.cert_validity_days != cert_days {
                        certs::check_days(cert_days)?;
                        ca.cert_validity_days = cert_days;
                        certs::save(store.as_ref(), &ca).await?;
                    }
                    println!("sandbox certificate authority exists");
                    ca
                }
                _ => {
                    let ca = tokio::task::spawn_blocking(move || {
                        SandboxCa::create(root_days, cert_days)
                    })
                    .await??;
                    certs::save(store.as_ref(), &ca).await?;
                    println!("sandbox certificate authority created");
                    ca
                }
            };
            println!(
                "issued certificates are valid {} days",
                ca.cert_validity_days
            );
            println!("alipay_root_cert_sn: {}", ca.root_cert_sn()?);
            match out {
                Some(path) => {
                    write_file(&path, &ca.bundle_pem, false)?;
                    println!("wrote {}", path.display());
                }
                None => print!("{}", ca.bundle_pem),
            }
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::RotatePlatform { app } => {
            let store = args.store.open().await?;
            let Some(stored) = store.get_alipay_app(&app).await? else {
                bail!("no Alipay app `{app}`");
            };
            let ca = certs::load(store.as_ref()).await?;
            let rotated =
                tokio::task::spawn_blocking(move || certs::rotate_platform(ca.as_ref(), &stored))
                    .await??;
            store.put_alipay_app(&rotated).await?;
            tradeq_server::demo::note_rotation(store.as_ref(), &rotated).await?;
            println!("new platform key pair for Alipay app {app}");
            match &rotated.cert_mode {
                Some(c) => {
                    println!(
                        "alipay_cert_sn: {}",
                        cert::cert_sn_from_pem(&c.alipay_cert_pem)?
                    );
                    println!("platform (\"Alipay\") public-key certificate:");
                    print!("{}", c.alipay_cert_pem);
                }
                None => {
                    println!("platform (\"Alipay\") public key:");
                    print!("{}", rotated.platform_public_key_pem);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn gen(out: PathBuf, name: String) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let private = keys::generate_rsa_2048()?;
    let public = keys::public_from_private(&private)?;
    let files = [
        (
            format!("{name}_private_key_pkcs1.pem"),
            keys::private_key_to_pkcs1_pem(&private)?,
            true,
        ),
        (
            format!("{name}_private_key_pkcs8.pem"),
            keys::private_key_to_pkcs8_pem(&private)?,
            true,
        ),
        (
            format!("{name}_public_key.pem"),
            keys::public_key_to_spki_pem(&public)?,
            false,
        ),
        (
            format!("{name}_public_key.txt"),
            keys::public_key_to_spki_base64(&public)? + "\n",
            false,
        ),
    ];
    for (file, contents, secret) in files {
        let path = out.join(&file);
        if path.exists() {
            anyhow::bail!("{} exists; refusing to overwrite a key", path.display());
        }
        write_file(&path, &contents, secret)?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn write_file(path: &std::path::Path, contents: &str, secret: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if secret { 0o600 } else { 0o644 });
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}
