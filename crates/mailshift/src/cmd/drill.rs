//! `mailshift drill ARCHIVE...`: a restore drill. Verifies the archives,
//! restores them into scratch space, checks every message against the
//! manifests (and a live store with --against), measures the restore rate
//! and writes a report an auditor can read. The scratch space is removed.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use mailshift_archive::drill::restored_maildir;
use mailshift_archive::{drill, DrillOptions};
use mailshift_convert::{compare, open_source, CompareOptions, SourceOptions};

use crate::{output, progress, summary, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The archives, oldest first (a full backup and its increments).
    #[arg(required = true)]
    pub archives: Vec<PathBuf>,
    /// Also compare the restored maildir with this live store.
    #[arg(long, value_name = "SRC")]
    pub against: Option<PathBuf>,
    /// Make the scratch directory here (default: the system temp dir).
    #[arg(long, value_name = "DIR")]
    pub scratch: Option<PathBuf>,
    /// The age identity file that opens encrypted archives.
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let bar = progress::for_stderr("drill");
    let identities = match &args.identity {
        Some(p) => Some(std::sync::Arc::new(
            mailshift_archive::Identities::from_file(p).context("cannot read the identity file")?,
        )),
        None => None,
    };
    let opts = DrillOptions { scratch_in: args.scratch.clone(), identities };
    let (mut d, scratch) = drill(&args.archives, &opts, bar.as_ref()).context("the drill could not run")?;
    let mut comparison = None;
    if let Some(src) = &args.against {
        let a = open_source(src, &SourceOptions::default())
            .with_context(|| format!("cannot open source {}", src.display()))?;
        let b = open_source(&restored_maildir(scratch.path()), &SourceOptions::default())
            .context("cannot read the restored maildir")?;
        let bar = progress::for_stderr("compare");
        let c = compare(a.as_ref(), b.as_ref(), &CompareOptions::default(), bar.as_ref())
            .context("cannot compare with the live store")?;
        if !c.is_equal() {
            d.passed = false;
            d.findings.extend(c.findings.iter().cloned());
        }
        comparison = Some(c);
    }
    let mut s = String::new();
    let _ = writeln!(s, "drill: {} archive(s), scratch {} (removed)", d.archives.len(), d.scratch.display());
    for v in &d.archives {
        let _ = writeln!(
            s,
            "  {}: {} of {} messages intact, archive hash {}",
            v.archive.display(),
            v.messages_ok,
            v.messages,
            match v.archive_hash_ok {
                Some(true) => "ok",
                Some(false) => "DIFFERS",
                None => "not checked",
            }
        );
    }
    let _ = writeln!(
        s,
        "  restored {} messages ({:.1} MB) in {:.2} s: {:.0} MB/s, {:.0} messages/s",
        d.restored,
        d.restore.bytes_written as f64 / 1e6,
        d.restore_seconds,
        d.restore_mb_per_s,
        d.restore_messages_per_s
    );
    let _ = writeln!(
        s,
        "  manifest lists {}: matched {}, missing {}, extra {}, flag/date mismatches {}",
        d.expected, d.matched, d.missing, d.extra, d.mismatched
    );
    if let Some(c) = &comparison {
        let _ = writeln!(
            s,
            "  against {}: {} (matched {}, missing {}, extra {}, mismatched {})",
            c.a.path.display(),
            if c.is_equal() { "the same" } else { "DIFFERENT" },
            c.matched,
            c.missing,
            c.extra,
            c.mismatched
        );
    }
    s.push_str(&summary::findings(&d.findings));
    let _ = writeln!(s, "  result: {}", if d.passed { "PASSED" } else { "FAILED" });
    eprint!("{s}");
    if let Some(path) = &args.report {
        let mut value = serde_json::to_value(&d)?;
        if let Some(c) = &comparison {
            value["against"] = serde_json::json!({
                "source": c.a.path, "equal": c.is_equal(), "matched": c.matched,
                "missing": c.missing, "extra": c.extra, "mismatched": c.mismatched,
            });
        }
        output::write_json(path, &value)?;
    }
    drop(scratch);
    Ok(if d.passed { Outcome::Clean } else { Outcome::Findings })
}
