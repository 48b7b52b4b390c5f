//! `mailshift compare A B`: do two stores hold the same messages?
//! Exit 0 when they do, 1 when they differ, 2 when it could not run.

use std::fmt::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use mailshift_convert::{compare, open_source, CompareOptions, Comparison, MessageRef, SourceOptions};

use crate::{output, progress, summary, Outcome};

/// Differences listed per folder and side on stdout (all are in --report).
const LIST_FIRST: usize = 20;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The reference store (format detected).
    pub a: PathBuf,
    /// The store that should hold the same messages.
    pub b: PathBuf,
    /// Match by Message-ID (or Date/From/To/Subject), for servers that
    /// rewrite messages, instead of exact bytes.
    #[arg(long)]
    pub logical: bool,
    /// Do not compare flags (for a store that cannot hold them, such as an
    /// EML folder).
    #[arg(long)]
    pub ignore_flags: bool,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
    /// Folders read at once per store (0 = one per core).
    #[arg(long, short = 'j', default_value_t = 0)]
    pub jobs: usize,
    /// How to log in when A or B is an imap[s]://USER@HOST URL.
    #[command(flatten)]
    pub imap: crate::cmd::upload::ImapArgs,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let a = open(&args.a, None, &args.imap)?;
    let b = open(&args.b, Some(a.as_ref()), &args.imap)?;
    let bar = progress::for_stderr("compare");
    let opts = CompareOptions { logical: args.logical, jobs: args.jobs, ignore_flags: args.ignore_flags };
    let c = compare(a.as_ref(), b.as_ref(), &opts, bar.as_ref()).context("cannot compare")?;
    let mut report = c.to_report();
    report.elapsed_seconds = started.elapsed().as_secs_f64();
    if let Some(path) = &args.report {
        let mut value = serde_json::to_value(&report)?;
        let mut details = serde_json::to_value(&c)?;
        if let Some(d) = details.as_object_mut() {
            d.remove("findings"); // already at the top
        }
        value["equal"] = c.is_equal().into();
        value["comparison"] = details;
        output::write_json(path, &value)?;
    }
    output::stdout(&differences(&c))?;
    eprint!(
        "compare: A {} messages, B {} messages, matched {}, missing in B {}, extra in B {}, \
         flag/date mismatches {}, {:.2} s: {}\n{}",
        c.messages_a,
        c.messages_b,
        c.matched,
        c.missing,
        c.extra,
        c.mismatched,
        report.elapsed_seconds,
        if c.is_equal() { "the same" } else { "DIFFERENT" },
        summary::findings(&c.findings)
    );
    Ok(if c.is_equal() { Outcome::Clean } else { Outcome::Findings })
}

/// Opens a store: a path (format detected) or an `imap[s]://USER@HOST`
/// URL. For a server compared with a store `other`, the server folders are
/// the ones an upload of `other` writes (same delimiter, special folders
/// and names), so `compare SRC imaps://...` matches folder by folder.
fn open(
    p: &std::path::Path,
    other: Option<&dyn mailshift_model::Source>,
    imap: &crate::cmd::upload::ImapArgs,
) -> anyhow::Result<Box<dyn mailshift_model::Source>> {
    let text = p.to_string_lossy();
    if !crate::cmd::upload::is_imap_url(&text) {
        return open_source(p, &SourceOptions::default())
            .with_context(|| format!("cannot open source {}", p.display()));
    }
    let connector = imap.connector(&text)?;
    let mut server = mailshift_imap::source::ImapSource::new(connector, Default::default(), false, false)?;
    if let Some(other) = other {
        let mut findings = Vec::new();
        let mut folders: Vec<mailshift_model::FolderPath> =
            other.units(&mut findings)?.into_iter().map(|u| u.folder).collect();
        folders.sort();
        folders.dedup();
        let known = server.mapping_for(&folders, Default::default())?;
        server.set_known(known);
    }
    Ok(Box::new(server))
}

/// The per-folder listing of what differs (nothing when equal).
fn differences(c: &Comparison) -> String {
    let mut s = String::new();
    for f in &c.folders {
        if f.missing.is_empty() && f.extra.is_empty() && f.mismatched == 0 {
            continue;
        }
        let _ = writeln!(
            s,
            "{}: A {}, B {}, matched {}, missing in B {}, extra in B {}, mismatched {}",
            f.folder,
            f.in_a,
            f.in_b,
            f.matched,
            f.missing.len(),
            f.extra.len(),
            f.mismatched
        );
        list(&mut s, "missing in B", &f.missing);
        list(&mut s, "extra in B", &f.extra);
    }
    s
}

fn list(s: &mut String, what: &str, refs: &[MessageRef]) {
    for r in refs.iter().take(LIST_FIRST) {
        let subject = r.subject.as_deref().unwrap_or("(no subject)");
        let id = r.message_id.as_deref().map(|i| format!(" <{i}>")).unwrap_or_default();
        let _ = writeln!(s, "  {what}: {} {subject:?}{id}", r.origin);
    }
    if refs.len() > LIST_FIRST {
        let _ = writeln!(s, "  {what}: ... and {} more", refs.len() - LIST_FIRST);
    }
}
