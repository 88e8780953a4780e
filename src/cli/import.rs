//! `tradeq import KIND FILE.jsonl`: a streaming bulk load in batched transactions.
//!
//! Each line is one record. A bad line is reported as `line N: field: reason` and skipped; the
//! good lines around it load. Loading the same file again changes nothing (unchanged records
//! are not rewritten). A checkpoint committed with every batch, in the target store itself,
//! lets an interrupted import resume where it stopped, and only into the store it was loading.

use std::io::{BufRead, BufReader, IsTerminal, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use tradeq_model::jsonl::{self, KindProbe, KindVerdict};
use tradeq_model::{Record, RecordKind};
use tradeq_store::{ImportCheckpoint, Store, StoreError, WriteOutcome};

use super::StoreArgs;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Record kind: alipay-trade, koubei-order, onsite-trade or omni-order.
    kind: RecordKind,
    /// The JSONL file (one record per line; `-` reads standard input).
    file: PathBuf,
    /// Records per transaction.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=50_000))]
    batch_size: u32,
    /// Ignore a checkpoint left by an interrupted run and start from the first line.
    #[arg(long)]
    restart: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// A file being imported: its name in the store's checkpoints and its state when opened.
#[derive(Debug, Clone)]
struct FileIdentity {
    file_id: String,
    len: u64,
    modified_ns: i64,
}

#[derive(Debug, Default)]
struct Totals {
    inserted: u64,
    updated: u64,
    unchanged: u64,
    rejected: u64,
}

pub async fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let store = args.store.open().await?;
    let (reader, identity) = if args.file.as_os_str() == "-" {
        let reader = ImportReader::new(Box::new(BufReader::new(std::io::stdin())), (0, 0));
        (reader, None)
    } else {
        let (reader, identity) = open_file(store.as_ref(), &args).await?;
        (reader, Some(identity))
    };
    let total = identity.as_ref().map(|i| i.len);
    let totals = import(&store, &args, reader, total, identity.as_ref()).await?;
    if let Some(identity) = &identity {
        store
            .clear_import_checkpoint(&identity.file_id, args.kind)
            .await
            .context("cannot clear the import checkpoint")?;
    }
    store.close().await;
    finish(totals)
}

/// Opens the file, positioned after the last committed batch of an interrupted run of the same
/// (unchanged) file into this same store.
async fn open_file(
    store: &dyn Store,
    args: &ImportArgs,
) -> anyhow::Result<(ImportReader, FileIdentity)> {
    let mut f = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let meta = f.metadata()?;
    let modified_ns = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let identity = FileIdentity {
        file_id: file_id(&args.file),
        len: meta.len(),
        modified_ns,
    };
    let mut start = (0u64, 0u64);
    if args.restart {
        store
            .clear_import_checkpoint(&identity.file_id, args.kind)
            .await?;
    } else if let Some(cp) = store
        .import_checkpoint(&identity.file_id, args.kind)
        .await?
    {
        if cp.file_len == identity.len && cp.modified_ns == identity.modified_ns {
            eprintln!(
                "resuming {} after line {} (use --restart to start over)",
                args.file.display(),
                cp.line
            );
            start = (cp.byte_offset, cp.line);
        } else {
            eprintln!(
                "{} changed since an interrupted import; starting from the first line",
                args.file.display()
            );
        }
    }
    f.seek(SeekFrom::Start(start.0))?;
    let reader = ImportReader::new(Box::new(BufReader::with_capacity(1 << 20, f)), start);
    Ok((reader, identity))
}

fn finish(totals: Totals) -> anyhow::Result<ExitCode> {
    eprintln!(
        "inserted {}, updated {}, unchanged {}, rejected {}",
        totals.inserted, totals.updated, totals.unchanged, totals.rejected
    );
    Ok(if totals.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Lines with their numbers and byte offsets.
struct ImportReader {
    inner: Box<dyn BufRead>,
    offset: u64,
    line: u64,
}

impl ImportReader {
    fn new(inner: Box<dyn BufRead>, (offset, line): (u64, u64)) -> ImportReader {
        ImportReader {
            inner,
            offset,
            line,
        }
    }

    /// The next line (without its newline), its number, or `None` at the end.
    fn next_line(&mut self, buf: &mut Vec<u8>) -> std::io::Result<Option<u64>> {
        buf.clear();
        let n = self.inner.read_until(b'\n', buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.offset += n as u64;
        self.line += 1;
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        Ok(Some(self.line))
    }
}

/// Outcomes of a batch written by the store, in input order.
type Outcomes = Vec<Result<WriteOutcome, StoreError>>;

/// A batch handed to the store: its outcomes once committed, its records' line numbers, and
/// where the file stood after its last line.
struct InFlight {
    written: tokio::task::JoinHandle<anyhow::Result<Outcomes>>,
    lines: Vec<u64>,
    offset: u64,
    line: u64,
}

/// Writes one batch (with its checkpoint, when the file has an identity) and restarts the
/// lifecycles of the records it rewrote.
async fn write_batch(
    store: Arc<dyn Store>,
    kind: RecordKind,
    batch: Vec<Record>,
    checkpoint: Option<ImportCheckpoint>,
) -> anyhow::Result<Outcomes> {
    let outcomes = match &checkpoint {
        Some(cp) => store.upsert_batch_checkpointed(&batch, cp).await,
        None => store.upsert_batch(&batch).await,
    }
    .context("the store failed; the batch was rolled back and nothing of it written")?;
    // A rewritten record's lifecycle starts again at its next query (the importer has no
    // business clock to start it with).
    let rewritten: Vec<String> = outcomes
        .iter()
        .zip(&batch)
        .filter(|(o, _)| matches!(o, Ok(WriteOutcome::Inserted | WriteOutcome::Updated)))
        .map(|(_, r)| r.primary_key().to_string())
        .collect();
    store
        .remove_lifecycles(kind, &rewritten)
        .await
        .context("the store failed while restarting lifecycles")?;
    Ok(outcomes)
}

/// Reads, parses and checks the file's lines while the store writes the previous batch: at
/// most one batch is in flight, so batches commit in file order and a checkpoint never runs
/// ahead of a batch before it. Rejections are printed in line order all the same: those found
/// while reading a batch wait until the batch before it is settled.
async fn import(
    store: &Arc<dyn Store>,
    args: &ImportArgs,
    mut reader: ImportReader,
    total_bytes: Option<u64>,
    identity: Option<&FileIdentity>,
) -> anyhow::Result<Totals> {
    let bar = progress(total_bytes, reader.offset);
    let started = Instant::now();
    let mut totals = Totals::default();
    let mut in_flight: Option<InFlight> = None;
    let read = read_batches(
        store,
        args,
        &mut reader,
        identity,
        &bar,
        &mut totals,
        &mut in_flight,
    )
    .await;
    // An import that stops early still settles the batch the store is writing, so what it
    // reports is what the store holds.
    let settled = match in_flight.take() {
        Some(f) => settle(f, &bar, &mut totals, &mut Instant::now()).await,
        None => Ok(()),
    };
    read?;
    settled?;
    bar.finish_and_clear();
    let done = totals.inserted + totals.updated + totals.unchanged;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{done} records in {secs:.2} s ({:.0} records/s)",
        if secs > 0.0 { done as f64 / secs } else { 0.0 }
    );
    Ok(totals)
}

async fn read_batches(
    store: &Arc<dyn Store>,
    args: &ImportArgs,
    reader: &mut ImportReader,
    identity: Option<&FileIdentity>,
    bar: &ProgressBar,
    totals: &mut Totals,
    in_flight: &mut Option<InFlight>,
) -> anyhow::Result<()> {
    let mut last_log = Instant::now();
    let mut batch: Vec<Record> = Vec::with_capacity(args.batch_size as usize);
    let mut lines: Vec<u64> = Vec::with_capacity(args.batch_size as usize);
    let mut buf = Vec::new();
    // Only a run that starts at the top of the file sees its first line.
    let mut at_start = reader.line == 0;
    let mut probe = KindProbe::new(args.kind);
    // The first lines' rejections, held back while they may all be explained by one question
    // ("is this a file of another kind?") rather than printed one by one.
    let mut held: Vec<Rejection> = Vec::new();
    // Rejections of the lines read since the batch in flight was handed over.
    let mut deferred: Vec<Rejection> = Vec::new();
    loop {
        let next = reader.next_line(&mut buf)?;
        if let Some(line) = next {
            let raw = if line == 1 {
                jsonl::strip_bom(&buf)
            } else {
                &buf[..]
            };
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let (verdict, rejection) = match std::str::from_utf8(raw) {
                Err(e) => (
                    probe.settle(),
                    Some(Rejection::new(line, "(record)", format!("not UTF-8: {e}"))),
                ),
                Ok(text) => {
                    if std::mem::take(&mut at_start) && jsonl::opens_json_array(text) {
                        anyhow::bail!("{}: {}", args.file.display(), jsonl::JSON_ARRAY_MESSAGE);
                    }
                    match Record::from_json(args.kind, text) {
                        Ok(r) => {
                            batch.push(r);
                            lines.push(line);
                            (probe.line(text, true), None)
                        }
                        Err(e) => (
                            probe.line(text, false),
                            Some(Rejection::new(line, &e.field, e.reason)),
                        ),
                    }
                }
            };
            match verdict {
                KindVerdict::Undecided => held.extend(rejection),
                KindVerdict::Settled => deferred.extend(held.drain(..).chain(rejection)),
                KindVerdict::OtherKind(other) => {
                    anyhow::bail!(other_kind_message(args, held.len() + 1, other))
                }
            }
        } else {
            match probe.finish() {
                KindVerdict::OtherKind(other) => {
                    anyhow::bail!(other_kind_message(args, held.len(), other))
                }
                _ => deferred.append(&mut held),
            }
        }
        let full = batch.len() >= args.batch_size as usize;
        if full || next.is_none() {
            if let Some(f) = in_flight.take() {
                settle(f, bar, totals, &mut last_log).await?;
            }
            for r in deferred.drain(..) {
                reject(bar, totals, r);
            }
        }
        if full || (next.is_none() && !batch.is_empty()) {
            let checkpoint = identity.map(|id| ImportCheckpoint {
                file_id: id.file_id.clone(),
                kind: args.kind,
                file_len: id.len,
                modified_ns: id.modified_ns,
                byte_offset: reader.offset,
                line: reader.line,
            });
            let records =
                std::mem::replace(&mut batch, Vec::with_capacity(args.batch_size as usize));
            *in_flight = Some(InFlight {
                written: tokio::spawn(write_batch(store.clone(), args.kind, records, checkpoint)),
                lines: std::mem::replace(&mut lines, Vec::with_capacity(args.batch_size as usize)),
                offset: reader.offset,
                line: reader.line,
            });
        }
        if next.is_none() {
            return Ok(());
        }
    }
}

/// Waits for the batch in flight and counts (or reports) each of its records.
async fn settle(
    f: InFlight,
    bar: &ProgressBar,
    totals: &mut Totals,
    last_log: &mut Instant,
) -> anyhow::Result<()> {
    let outcomes = f
        .written
        .await
        .map_err(|e| anyhow::anyhow!("the batch writer stopped: {e}"))??;
    for (outcome, line) in outcomes.into_iter().zip(&f.lines) {
        match outcome {
            Ok(WriteOutcome::Inserted) => totals.inserted += 1,
            Ok(WriteOutcome::Updated) => totals.updated += 1,
            Ok(WriteOutcome::Unchanged) => totals.unchanged += 1,
            Err(e) => {
                let field = match &e {
                    StoreError::Stale { .. } => "gmt_modified",
                    StoreError::KeyConflict { field, .. } => field,
                    _ => "(record)",
                };
                reject(bar, totals, Rejection::new(*line, field, e.to_string()));
            }
        }
    }
    bar.set_position(f.offset);
    let done = totals.inserted + totals.updated + totals.unchanged;
    bar.set_message(format!("{done} records"));
    if bar.is_hidden() && last_log.elapsed() > Duration::from_secs(5) {
        eprintln!(
            "{done} records loaded, {} rejected, line {}",
            totals.rejected, f.line
        );
        *last_log = Instant::now();
    }
    Ok(())
}

/// A line that was not loaded: `line N: field: reason`.
struct Rejection {
    line: u64,
    field: String,
    reason: String,
}

impl Rejection {
    fn new(line: u64, field: &str, reason: String) -> Rejection {
        Rejection {
            line,
            field: field.to_string(),
            reason,
        }
    }
}

fn reject(bar: &ProgressBar, totals: &mut Totals, r: Rejection) {
    totals.rejected += 1;
    bar.suspend(|| eprintln!("line {}: {}: {}", r.line, r.field, r.reason));
}

/// The one message for a file whose first `lines` lines all read as records of `other`.
fn other_kind_message(args: &ImportArgs, lines: usize, other: RecordKind) -> String {
    format!(
        "{file}: {question} file? (try `tradeq import {other} {file}`)",
        file = args.file.display(),
        question = jsonl::other_kind_question(args.kind, lines, other),
    )
}

fn progress(total: Option<u64>, start: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(t) => ProgressBar::new(t),
        None => ProgressBar::new_spinner(),
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] [{bar:40}] {bytes}/{total_bytes} {msg} ({eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_position(start);
    bar
}

/// Names a file in the store's checkpoints: a digest of its canonical path.
fn file_id(file: &Path) -> String {
    let canonical = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let digest = openssl::sha::sha256(canonical.display().to_string().as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}
