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
            eprintln!("error: {}", error_chain(&e));
            ExitCode::from(2)
        }
    };
    // Dropping the runtime would wait for every blocking task still running; the work that
    // matters is done (the drain has its own bound), so exiting is bounded too.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    code
}

/// The error and its causes, each said once: many library errors repeat their source's text in
/// their own message ("database error: … does not exist: … does not exist").
fn error_chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if !text.contains(part.as_str()) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_cause_is_said_once() {
        let inner = anyhow::anyhow!("database \"x\" does not exist");
        let e = inner
            .context("database error: database \"x\" does not exist")
            .context("cannot open the store");
        assert_eq!(
            super::error_chain(&e),
            "cannot open the store: database error: database \"x\" does not exist"
        );
    }
}
