//! Command-line interface.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{ArgMatches, Args, FromArgMatches, Parser, Subcommand};

use tradeq_server::config::{redact_url, Setting};
use tradeq_server::ServerConfig;
use tradeq_store::Store;

mod apps;
mod faults;
mod generate;
mod import;
mod journal;
mod keys;
mod private_files;
mod query;
mod sandbox;
mod serve;
mod settings;

/// A protocol-faithful implementation of five Alipay and Taobao Open Platform trade/order query
/// APIs.
#[derive(Debug, Parser)]
#[command(name = "tradeq", version, about)]
pub struct Cli {
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the protocol front doors and the admin API.
    Serve(serve::ServeArgs),
    /// Load records from a JSONL file into the store.
    Import(import::ImportArgs),
    /// Manage apps, app auth tokens and TOP sessions.
    Apps(apps::AppsArgs),
    /// Generate keys.
    Keys(keys::KeysArgs),
    /// Demo data tools.
    Demo(generate::DemoArgs),
    /// Call a method as a client: sign with a credentials file, verify the answer, print it.
    Query(query::QueryArgs),
    /// Sandbox fault rules, through a running server's admin API.
    Faults(faults::FaultsArgs),
    /// The sandbox's business clock, through a running server's admin API.
    Clock(faults::ClockArgs),
    /// Save the whole sandbox to a file, or replace it with one.
    Snapshot(sandbox::SnapshotArgs),
    /// Record lifecycles: templates, attaching one, progress.
    Lifecycle(sandbox::LifecycleArgs),
    /// Show a running server's request journal (this node's), or follow it live.
    Journal(journal::JournalArgs),
    /// Explain why a request was refused: a journal entry, or a raw request.
    Explain(journal::ExplainArgs),
    /// Print the table of every setting, as docs/configuration.md holds it.
    #[command(name = "config-table", hide = true)]
    ConfigTable,
}

/// Where the data lives; shared by every command that opens the store. Its two flags are the
/// `data_dir` and `database_url` settings.
#[derive(Debug, Clone, Default)]
pub struct StoreArgs {
    /// The data directory (the embedded SQLite store lives in it).
    pub data_dir: Option<PathBuf>,
    /// A database URL instead of the embedded store: postgres://… or sqlite://FILE.
    pub database_url: Option<String>,
}

const STORE_SETTINGS: [&str; 2] = ["data_dir", "database_url"];

impl FromArgMatches for StoreArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(StoreArgs {
            data_dir: matches.get_one::<String>("data_dir").map(PathBuf::from),
            database_url: matches.get_one::<String>("database_url").cloned(),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = StoreArgs::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for StoreArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.args(
            STORE_SETTINGS
                .iter()
                .filter_map(|name| Setting::named(name))
                .map(|s| settings::setting_arg(s).global(true)),
        )
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        StoreArgs::augment_args(cmd)
    }
}

impl StoreArgs {
    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| ServerConfig::default().data_dir)
    }

    /// The URL of the store these arguments name.
    pub fn url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        let dir = self.data_dir();
        private_files::create_private_dir(&dir)?;
        private_files::warn_if_shared(&[&dir]);
        Ok(format!("sqlite://{}", dir.join("tradeq.db").display()))
    }

    /// Opens the store (running migrations).
    pub async fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        self.open_with(&tradeq_store::StoreOptions::default()).await
    }

    /// Opens the store with `options`.
    pub async fn open_with(
        &self,
        options: &tradeq_store::StoreOptions,
    ) -> anyhow::Result<Arc<dyn Store>> {
        let url = self.url()?;
        tradeq_store::open_with(&url, options)
            .await
            .with_context(|| format!("cannot open the store at {}", redact_url(&url)))
    }
}

/// Logs to stderr; `RUST_LOG` overrides the level.
pub fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "info,sqlx=warn",
        1 => "debug,sqlx=info,hyper=info",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never in a log file or a pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Runs a command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Import(args) => import::run(args).await,
        Command::Apps(args) => apps::run(args).await,
        Command::Keys(args) => keys::run(args),
        Command::Demo(args) => generate::run(args).await,
        Command::Query(args) => query::run(args).await,
        Command::Faults(args) => faults::run_faults(args).await,
        Command::Clock(args) => faults::run_clock(args).await,
        Command::Snapshot(args) => sandbox::run_snapshot(args).await,
        Command::Lifecycle(args) => sandbox::run_lifecycle(args).await,
        Command::Journal(args) => journal::run_journal(args).await,
        Command::Explain(args) => journal::run_explain(args).await,
        Command::ConfigTable => {
            print!("{}", tradeq_server::config::markdown_table());
            Ok(ExitCode::SUCCESS)
        }
    }
}
