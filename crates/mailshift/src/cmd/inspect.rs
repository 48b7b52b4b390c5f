//! `mailshift inspect SRC`: what a store holds, without changing it.

use std::fmt::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use mailshift_convert::{inspect, open_source, FolderInspection, Inspection, SourceOptions};
use mailshift_model::Level;

use crate::{output, progress, summary, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The store to inspect (format detected).
    pub src: PathBuf,
    /// Read SRC as this format instead of detecting it.
    #[arg(long, value_enum)]
    pub from: Option<super::convert::ToArg>,
    /// Print JSON on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let opts =
        SourceOptions { format: args.from.map(super::convert::ToArg::format), ..SourceOptions::default() };
    let source = open_source(&args.src, &opts)
        .with_context(|| format!("cannot open source {}", args.src.display()))?;
    let bar = progress::for_stderr("inspect");
    let found = inspect(source.as_ref(), bar.as_ref())
        .with_context(|| format!("cannot read source {}", args.src.display()))?;
    if args.json {
        let mut text = serde_json::to_string_pretty(&found)?;
        text.push('\n');
        output::stdout(&text)?;
    } else {
        output::stdout(&table(&found))?;
    }
    let secs = started.elapsed().as_secs_f64();
    eprint!(
        "inspect: {} messages, {} skipped, {:.1} MB in {} folders, {secs:.2} s\n{}",
        found.messages,
        found.skipped,
        found.bytes as f64 / 1e6,
        found.folders.len(),
        summary::findings(&found.findings)
    );
    Ok(if found.findings.iter().any(|f| f.level >= Level::Error) {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

/// The human table: one line per folder.
fn table(i: &Inspection) -> String {
    let mut s = String::new();
    let variant = i.variant.as_deref().map(|v| format!(" ({v})")).unwrap_or_default();
    let _ = writeln!(s, "{}{variant} at {}", i.format, i.path.display());
    let _ = writeln!(
        s,
        "{:<32} {:>8} {:>10} {:>9} {:>10}  {:<10}  {:<10}  FLAGS",
        "FOLDER", "MESSAGES", "SIZE", "MIN", "MAX", "EARLIEST", "LATEST"
    );
    for f in &i.folders {
        let _ = writeln!(
            s,
            "{:<32} {:>8} {:>10} {:>9} {:>10}  {:<10}  {:<10}  {}",
            f.folder,
            f.messages,
            size(Some(f.bytes)),
            size(f.min_size),
            size(f.max_size),
            f.earliest.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_else(|| "-".into()),
            f.latest.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_else(|| "-".into()),
            flags(f)
        );
    }
    let _ = writeln!(s, "{:<32} {:>8} {:>10}", "total", i.messages, size(Some(i.bytes)));
    if let Some(n) = &i.items {
        let _ = writeln!(s, "\nnot mail (mailshift contacts / mailshift calendar convert these):");
        for (name, count) in [
            ("contacts", n.contacts),
            ("distribution lists", n.distribution_lists),
            ("appointments", n.appointments),
            ("tasks", n.tasks),
            ("notes", n.notes),
            ("journal entries", n.journal),
            ("other items", n.other),
            ("unreadable items", n.unreadable),
        ] {
            let _ = writeln!(s, "{name:<32} {count:>8}");
        }
    }
    s
}

fn size(bytes: Option<u64>) -> String {
    match bytes {
        None => "-".into(),
        Some(b) if b < 1_000 => format!("{b} B"),
        Some(b) if b < 1_000_000 => format!("{:.1} kB", b as f64 / 1e3),
        Some(b) if b < 1_000_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        Some(b) => format!("{:.2} GB", b as f64 / 1e9),
    }
}

fn flags(f: &FolderInspection) -> String {
    let c = &f.flags;
    let mut parts: Vec<String> = [
        ("seen", c.seen),
        ("answered", c.answered),
        ("flagged", c.flagged),
        ("deleted", c.deleted),
        ("draft", c.draft),
        ("forwarded", c.forwarded),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .map(|(name, n)| format!("{name} {n}"))
    .collect();
    parts.extend(c.keywords.iter().map(|(k, n)| format!("{k} {n}")));
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}
