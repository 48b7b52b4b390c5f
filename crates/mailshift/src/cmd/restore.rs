//! `mailshift restore ARCHIVE... DEST`: the maildir back, with flags and
//! dates; archives of an incremental chain are restored in the order given.

use std::path::PathBuf;

use anyhow::{bail, Context};
use mailshift_archive::{restore, RestoreOptions};
use mailshift_model::Report;

use crate::cmd::convert::outcome;
use crate::{output, progress, summary, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The archives, oldest first (a full backup and its increments), then
    /// the destination maildir (created if missing; restoring again adds
    /// nothing).
    #[arg(required = true, num_args = 2.., value_name = "ARCHIVE... DEST")]
    pub paths: Vec<PathBuf>,
    /// Restore only this folder (as `compare` names it: `INBOX`, `Work/2024`)
    /// and the folders below it.
    #[arg(long, value_name = "PATH")]
    pub folder: Option<String>,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let Some((dest, archives)) = args.paths.split_last() else { bail!("give ARCHIVE... DEST") };
    let opts = RestoreOptions { folder: args.folder.clone() };
    let mut total = Report::new("restore");
    for a in archives {
        let bar = progress::for_stderr("restore");
        let r = restore(a, dest, &opts, bar.as_ref())
            .with_context(|| format!("cannot restore {} into {}", a.display(), dest.display()))?;
        let secs = total.elapsed_seconds + r.elapsed_seconds;
        total.merge(r);
        total.elapsed_seconds = secs;
    }
    total.source = Some(archives.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    total.destination = Some(dest.display().to_string());
    summary::print_report(&total);
    if let Some(path) = &args.report {
        output::write_json(path, &serde_json::to_value(&total)?)?;
    }
    Ok(outcome(&total))
}
