//! `mailshift restore ARCHIVE... DEST`: the maildir back, with flags and
//! dates. The newest archive of an incremental chain is restored as its
//! manifest lists the mailbox, from the archives of its chain.

use std::path::PathBuf;

use anyhow::{bail, Context};
use std::sync::Arc;

use mailshift_archive::restore::restore_chain;
use mailshift_archive::{Identities, RestoreOptions};

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
    /// The age identity file that opens encrypted archives.
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let Some((dest, archives)) = args.paths.split_last() else { bail!("give ARCHIVE... DEST") };
    let identities = match &args.identity {
        Some(p) => Some(Arc::new(Identities::from_file(p).context("cannot read the identity file")?)),
        None => None,
    };
    let opts = RestoreOptions { folder: args.folder.clone(), identities };
    let bar = progress::for_stderr("restore");
    let mut total = restore_chain(archives, dest, &opts, bar.as_ref())
        .with_context(|| format!("cannot restore into {}", dest.display()))?;
    total.source = Some(archives.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    total.destination = Some(dest.display().to_string());
    summary::print_report(&total);
    if let Some(path) = &args.report {
        output::write_json(path, &serde_json::to_value(&total)?)?;
    }
    Ok(outcome(&total))
}
