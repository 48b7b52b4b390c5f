//! `mailshift backup SRC... --to DIR`: one verified archive per store.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use mailshift_archive::{backup, BackupOptions, BackupSummary, Identities, Recipients};
use mailshift_convert::{open_source, SourceOptions};
use mailshift_model::{ErrorKind, Report};

use crate::cmd::convert::{outcome, ToArg};
use crate::{output, progress, summary, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The stores to back up (format detected: PST/OST, mbox, maildir, EML
    /// folder); one archive each.
    #[arg(required = true)]
    pub src: Vec<PathBuf>,
    /// The directory the archives and their manifests are written to.
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// The archive's name (one SRC only): NAME.tar.zst and
    /// NAME.manifest.jsonl. Default: the store's name and the UTC time.
    #[arg(long)]
    pub name: Option<String>,
    /// zstd compression level.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=19))]
    pub level: i32,
    /// Folders read at once (0 = one per core); zstd uses every core.
    #[arg(long, short = 'j', default_value_t = 0)]
    pub jobs: usize,
    /// Also store the source files as they are (the PST, the mbox) under
    /// NAME/original/.
    #[arg(long)]
    pub original: bool,
    /// Store only the messages that this earlier backup (and the chain it
    /// builds on) does not hold (one SRC only).
    #[arg(long, value_name = "MANIFEST")]
    pub incremental_from: Option<PathBuf>,
    /// Encrypt the archive and its manifest to this age recipient
    /// (`age1...`; repeatable): NAME.tar.zst.age, decryptable with
    /// `age -d -i KEY`. Only non-revealing data stays in clear.
    #[arg(long, value_name = "RECIPIENT")]
    pub encrypt_to: Vec<String>,
    /// Encrypt to every recipient in this file (one per line, # comments).
    #[arg(long, value_name = "FILE")]
    pub encrypt_to_file: Vec<PathBuf>,
    /// The age identity that opens an encrypted --incremental-from chain.
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// Read SRC as this format instead of detecting it.
    #[arg(long, value_enum)]
    pub from: Option<ToArg>,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut recipients = Recipients::default();
    for r in &args.encrypt_to {
        recipients.0.push(Recipients::parse_one(r).map_err(anyhow::Error::msg)?);
    }
    for f in &args.encrypt_to_file {
        recipients.add_file(f).with_context(|| format!("cannot read recipients from {}", f.display()))?;
    }
    let identities = match &args.identity {
        Some(p) => Some(Arc::new(Identities::from_file(p).context("cannot read the identity file")?)),
        None => None,
    };
    if args.src.len() > 1 && (args.name.is_some() || args.incremental_from.is_some()) {
        bail!("--name and --incremental-from take one SRC");
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed));
    let mut total = Report::new("backup");
    let mut archives = Vec::new();
    for src in &args.src {
        let source_opts = SourceOptions { format: args.from.map(ToArg::format), ..SourceOptions::default() };
        let source = open_source(src, &source_opts)
            .with_context(|| format!("cannot open source {}", src.display()))?;
        let opts = BackupOptions {
            name: args.name.clone().unwrap_or_else(|| mailshift_archive::backup::default_name(src)),
            level: args.level,
            jobs: args.jobs,
            zstd_threads: 0,
            original: args.original.then(|| src.clone()),
            incremental_from: args.incremental_from.clone(),
            cancel: Some(Arc::clone(&cancel)),
            recipients: recipients.clone(),
            identities: identities.clone(),
        };
        let bar = progress::for_stderr("backup");
        let s = match backup(source.as_ref(), &args.to, &opts, bar.as_ref()) {
            Ok(s) => s,
            Err(e) if matches!(e.kind, ErrorKind::Cancelled) => {
                bail!("interrupted: the partial archive was removed; nothing was written")
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "backup of {} failed; no archive was written (the partial file was removed) and the \
                     source was only read",
                    src.display()
                )))
            }
        };
        summary::print_report(&s.report);
        eprintln!("{}", describe(&s));
        archives.push(serde_json::json!({
            "archive": s.archive,
            "manifest": s.manifest,
            "archive_bytes": s.archive_bytes,
            "archive_blake3": s.archive_blake3,
            "entries": s.entries,
            "messages": s.messages,
            "unchanged": s.unchanged,
        }));
        total.merge(s.report);
    }
    total.source = Some(args.src.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    total.destination = Some(args.to.display().to_string());
    if let Some(path) = &args.report {
        let mut value = serde_json::to_value(&total)?;
        value["archives"] = archives.into();
        output::write_json(path, &value)?;
    }
    Ok(outcome(&total))
}

fn describe(s: &BackupSummary) -> String {
    let ratio =
        if s.report.bytes_written > 0 { s.archive_bytes as f64 / s.report.bytes_written as f64 } else { 0.0 };
    let unchanged = if s.unchanged > 0 {
        format!(", {} unchanged since the parent backup", s.unchanged)
    } else {
        String::new()
    };
    format!(
        "  archive {} ({:.1} MB, {:.0}% of {:.1} MB; {} messages, {} entries{unchanged})\n  manifest {}\n  BLAKE3 {}",
        s.archive.display(),
        s.archive_bytes as f64 / 1e6,
        ratio * 100.0,
        s.report.bytes_written as f64 / 1e6,
        s.messages,
        s.entries,
        s.manifest.display(),
        s.archive_blake3
    )
}
