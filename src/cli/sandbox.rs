//! `tradeq snapshot save|load FILE`, `tradeq lifecycle templates|attach|show` and
//! `tradeq demo reset [--empty]`, run straight against the store (a running server sees the
//! result on its next request).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};

use tradeq_model::RecordKind;
use tradeq_server::demo::{self, ResetTarget};
use tradeq_server::sandbox::lifecycle::{self, TEMPLATES};
use tradeq_server::snapshot::{self, SnapshotWriter};

use super::StoreArgs;

/// The business time of a command run outside the server: the command line has no sandbox
/// clock of its own, so it is the host's.
fn business_now() -> DateTime<Utc> {
    Utc::now()
}

/// `tradeq snapshot …`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    command: SnapshotCommand,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Subcommand)]
enum SnapshotCommand {
    /// Write every record (with its lifecycle), credential and piece of sandbox state to FILE
    /// (NDJSON, created with mode 0600: it holds every secret of the store).
    Save {
        /// Where to write; `-` for standard output.
        file: PathBuf,
    },
    /// Replace records, lifecycles and credentials with FILE's (checked in full first).
    Load {
        /// A file written by `snapshot save` or `GET /v1/snapshot`; `-` for standard input.
        file: PathBuf,
    },
}

/// Runs `tradeq snapshot …`.
pub async fn run_snapshot(args: SnapshotArgs) -> anyhow::Result<ExitCode> {
    let store = args.store.open().await?;
    match args.command {
        SnapshotCommand::Save { file } => {
            let mut writer = SnapshotWriter::new(store.clone());
            if file.as_os_str() == "-" {
                let mut out = std::io::stdout().lock();
                while let Some(chunk) = writer.next_chunk().await? {
                    out.write_all(chunk.as_bytes())?;
                }
                out.flush()?;
            } else {
                save_private(&file, &mut writer).await?;
                eprintln!("snapshot written to {} (mode 0600)", file.display());
            }
        }
        SnapshotCommand::Load { file } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?
            };
            let summary = snapshot::load(&*store, &text)
                .await
                .with_context(|| format!("{} was not loaded", file.display()))?;
            println!(
                "loaded {} records, {} lifecycles, {} credentials",
                summary.records, summary.lifecycles, summary.credentials
            );
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Writes the snapshot to a temporary file created 0600 beside `path`, then renames it over
/// `path`: the secrets are never readable by others, and a failed save leaves the old file.
async fn save_private(path: &Path, writer: &mut SnapshotWriter) -> anyhow::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let name = path
        .file_name()
        .context("the snapshot path names no file")?
        .to_string_lossy();
    let tmp = dir
        .unwrap_or(Path::new("."))
        .join(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    let result = async {
        let mut out = std::io::BufWriter::new(file);
        while let Some(chunk) = writer.next_chunk().await? {
            out.write_all(chunk.as_bytes())?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        anyhow::Ok(())
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `tradeq lifecycle …`.
#[derive(Debug, Args)]
pub struct LifecycleArgs {
    #[command(subcommand)]
    command: LifecycleCommand,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Subcommand)]
enum LifecycleCommand {
    /// List the named templates.
    Templates,
    /// Attach a template to a stored record and start its lifecycle now.
    Attach {
        /// alipay-trade, koubei-order, onsite-trade or omni-order.
        kind: RecordKind,
        /// The record's primary key.
        key: String,
        /// The template's name (`tradeq lifecycle templates`).
        template: String,
    },
    /// Show a record's timeline and its progress.
    Show {
        /// The record's kind.
        kind: RecordKind,
        /// The record's primary key.
        key: String,
    },
}

/// Runs `tradeq lifecycle …`.
pub async fn run_lifecycle(args: LifecycleArgs) -> anyhow::Result<ExitCode> {
    if let LifecycleCommand::Templates = args.command {
        for t in TEMPLATES {
            println!("{:<32} {:<14} {}", t.name, t.kind.as_str(), t.description);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let store = args.store.open().await?;
    let code = match args.command {
        LifecycleCommand::Templates => ExitCode::SUCCESS,
        LifecycleCommand::Attach {
            kind,
            key,
            template,
        } => match lifecycle::attach(&*store, kind, &key, &template, business_now()).await {
            Ok((record, state)) => {
                let view = lifecycle::progress_view(&record, Some(&state));
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "timeline": record.timeline(),
                        "lifecycle": view,
                    }))?
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        },
        LifecycleCommand::Show { kind, key } => match store.get(kind, &key).await? {
            Some(record) if record.timeline().is_some() => {
                let state = store.get_lifecycle(kind, &key).await?;
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "timeline": record.timeline(),
                        "lifecycle": lifecycle::progress_view(&record, state.as_ref()),
                    }))?
                );
                ExitCode::SUCCESS
            }
            Some(_) => {
                eprintln!("{kind} `{key}` has no timeline");
                ExitCode::from(1)
            }
            None => {
                eprintln!("error: no {kind} with {} `{key}`", kind.primary_key_name());
                ExitCode::from(1)
            }
        },
    };
    store.close().await;
    Ok(code)
}

/// `tradeq demo reset [--empty]`.
#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Remove every record instead of writing the demo records again.
    #[arg(long)]
    empty: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Runs `tradeq demo reset`.
pub async fn run_reset(args: ResetArgs) -> anyhow::Result<ExitCode> {
    let store = args.store.open().await?;
    let to = if args.empty {
        ResetTarget::Empty
    } else {
        ResetTarget::Demo
    };
    let summary = demo::reset(&*store, to, business_now())
        .await
        .context("the reset failed")?;
    println!(
        "removed {} records, wrote {} (credentials kept)",
        summary.removed, summary.inserted
    );
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
