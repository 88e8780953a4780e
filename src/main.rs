//! `tradeq`: serve the five trade-query APIs, load data, manage credentials, and query as a
//! client.

#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

use clap::Parser;

// The request path allocates many small, short-lived buffers; mimalloc's thread-local free lists
// cost a fraction of glibc's arena locking for them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_tracing(args.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = match runtime.block_on(cli::run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    };
    // Dropping the runtime would wait for every blocking task still running; the work that
    // matters is done (the drain has its own bound), so exiting is bounded too.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    code
}
