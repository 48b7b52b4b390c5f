//! `mailshift verify ARCHIVE [--against SRC]`: is everything inside, intact?
//! Exit 0 clean, 1 damage found, 2 could not run.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use mailshift_archive::manifest::{load_chain, Known};
use mailshift_archive::verify::{against, Against};
use mailshift_archive::{manifest_path, verify, Identities, Verification};
use mailshift_convert::{open_source, SourceOptions};
use mailshift_model::{FolderStats, Report};

use crate::{output, progress, summary, Outcome};

/// Entries listed per kind on stdout (all are in --report).
const LIST_FIRST: usize = 20;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The archive (`NAME.tar.zst`; its manifest `NAME.manifest.jsonl` beside it).
    pub archive: PathBuf,
    /// Also prove that every message of this live store is in the archive
    /// (or in the chain of backups it builds on).
    #[arg(long, value_name = "SRC")]
    pub against: Option<PathBuf>,
    /// The age identity file that opens an encrypted archive: without it
    /// only the whole-file hashes are checked.
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let keys = match &args.identity {
        Some(p) => Some(Identities::from_file(p).context("cannot read the identity file")?),
        None => None,
    };
    let bar = progress::for_stderr("verify");
    let mut v = verify(&args.archive, keys.as_ref(), bar.as_ref())
        .with_context(|| format!("cannot verify {}", args.archive.display()))?;
    let mut checked_against: Option<Against> = None;
    if let Some(src) = &args.against {
        let source = open_source(src, &SourceOptions::default())
            .with_context(|| format!("cannot open source {}", src.display()))?;
        let has_parent =
            v.manifest.as_ref().and_then(|m| m.header.as_ref()).is_some_and(|h| h.parent.is_some());
        let known = if has_parent {
            let chain = load_chain(&manifest_path(&args.archive), keys.as_ref())
                .context("cannot read the chain of backups")?;
            Known::from_chain(&chain).messages
        } else {
            v.manifest.as_ref().map(|m| Known::from_manifest(m).messages).unwrap_or_default()
        };
        let bar = progress::for_stderr("against");
        let a = against(source.as_ref(), known, bar.as_ref()).context("cannot read the live store")?;
        v.findings
            .extend(a.findings.iter().filter(|f| f.kind == mailshift_model::FindingKind::Missing).cloned());
        checked_against = Some(a);
    }
    let clean = v.is_clean();
    let report = as_report(&v);
    if let Some(path) = &args.report {
        let mut value = serde_json::to_value(&report)?;
        value["clean"] = clean.into();
        value["verification"] = serde_json::to_value(&v)?;
        if let Some(a) = &checked_against {
            value["against"] = serde_json::to_value(a)?;
        }
        output::write_json(path, &value)?;
    }
    output::stdout(&listing(&v))?;
    let mut s = String::new();
    let _ = writeln!(s, "verify: {} (manifest: {})", v.archive.display(), v.manifest_used);
    let _ = writeln!(
        s,
        "  {} entries read, {} intact; {} of {} messages intact; damaged {}, missing {}, extra {}",
        v.entries,
        v.entries_ok,
        v.messages_ok,
        v.messages,
        v.damaged.len(),
        v.missing.len(),
        v.extra.len()
    );
    if v.listed_elsewhere > 0 {
        let _ = writeln!(
            s,
            "  {} more messages listed, stored in earlier archives of the chain (verify those too)",
            v.listed_elsewhere
        );
    }
    if v.encrypted && !v.entries_checked {
        let _ = writeln!(s, "  encrypted: entries not checked (give --identity FILE to check every entry)");
    }
    let hash = match v.archive_hash_ok {
        Some(true) => "matches the manifest",
        Some(false) => "DIFFERS from the manifest",
        None => "not checked (no manifest beside the archive)",
    };
    let rate = if v.elapsed_seconds > 0.0 { v.bytes as f64 / 1e6 / v.elapsed_seconds } else { 0.0 };
    let _ = writeln!(
        s,
        "  archive {:.1} MB, BLAKE3 {}: {hash}; {:.1} MB of entries in {:.2} s ({rate:.0} MB/s)",
        v.archive_bytes as f64 / 1e6,
        v.archive_blake3,
        v.bytes as f64 / 1e6,
        v.elapsed_seconds
    );
    if let Some(a) = &checked_against {
        let _ = writeln!(
            s,
            "  against {}: {} messages, {} in the archive, {} NOT",
            a.source, a.checked, a.found, a.missing
        );
    }
    s.push_str(&summary::findings(&v.findings));
    let _ = writeln!(s, "  result: {}", if clean { "intact" } else { "DAMAGED OR INCOMPLETE" });
    eprint!("{s}");
    Ok(if clean { Outcome::Clean } else { Outcome::Findings })
}

/// The verification as a run report: each message listed is `written` when
/// its entry is intact and `skipped` when not, so it balances like every report.
fn as_report(v: &Verification) -> Report {
    let mut r = Report::new("verify");
    r.source = Some(v.archive.display().to_string());
    r.read = v.messages;
    r.written = v.messages_ok;
    r.skipped = v.messages - v.messages_ok.min(v.messages);
    r.bytes_read = v.archive_bytes;
    r.findings = v.findings.clone();
    r.elapsed_seconds = v.elapsed_seconds;
    r.folders.insert(
        "(all)".to_owned(),
        FolderStats { read: r.read, written: r.written, skipped: r.skipped, duplicates: 0, bytes: v.bytes },
    );
    r
}

fn listing(v: &Verification) -> String {
    let mut s = String::new();
    for (what, list) in [("damaged", &v.damaged), ("missing", &v.missing), ("extra", &v.extra)] {
        for p in list.iter().take(LIST_FIRST) {
            let _ = writeln!(s, "{what}: {p}");
        }
        if list.len() > LIST_FIRST {
            let _ = writeln!(s, "{what}: ... and {} more", list.len() - LIST_FIRST);
        }
    }
    s
}
