//! `tradeq keys gen`: an RSA-2048 key pair for an app.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use tradeq_wire::alipay::keys;

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
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
}

pub fn run(args: KeysArgs) -> anyhow::Result<ExitCode> {
    let KeysCommand::Gen { out, name } = args.command;
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
