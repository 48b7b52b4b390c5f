//! `convert`: every message of a source written to a sink, folders in
//! parallel, every message accounted for.
//!
//! The pipeline keeps no state of its own: what survives a crash is what the
//! sink made durable, and a re-run relies on the sinks' deterministic names
//! ([`WriteOutcome::AlreadyPresent`]) to add no duplicates.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mailshift_model::{
    BalanceError, Error, ErrorKind, Finding, FindingKind, Location, Progress, Report, Sink, Source,
    SourceInfo,
};

use crate::schedule::{group_units, run_biggest_first};

/// How to run [`convert`].
#[derive(Debug, Clone, Default)]
pub struct ConvertOptions {
    /// Worker threads (folders converted at once); 0 means one per core.
    pub jobs: usize,
    /// Drop exact duplicates within a folder (counted as `duplicates`).
    pub dedupe: bool,
    /// Read everything, write nothing, count as if writing.
    pub dry_run: bool,
    /// Set from outside (Ctrl-C) to stop soon: what was written is
    /// committed and the run ends with [`ErrorKind::Cancelled`].
    pub cancel: Option<Arc<AtomicBool>>,
}

/// Why [`convert`] did not return a report.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The source could not be listed: nothing was done.
    #[error("{0}")]
    Source(Box<Error>),
    /// The run stopped: the target became unusable (disk full, read-only,
    /// I/O error), a commit failed, or it was cancelled. `report` says what
    /// was done before.
    #[error("{error}")]
    Aborted { error: Box<Error>, report: Box<Report> },
    /// The counts do not add up: a message went missing (a bug).
    #[error("{error}")]
    Unbalanced { error: BalanceError, report: Box<Report> },
}

impl ConvertError {
    /// The partial report, where there is one.
    pub fn report(&self) -> Option<&Report> {
        match self {
            ConvertError::Source(_) => None,
            ConvertError::Aborted { report, .. } | ConvertError::Unbalanced { report, .. } => Some(report),
        }
    }
}

/// A short description of a source for reports: `mbox (mboxrd) at /path`.
pub fn describe_source(info: &SourceInfo) -> String {
    match &info.variant {
        Some(v) => format!("{} ({v}) at {}", info.format, info.path.display()),
        None => format!("{} at {}", info.format, info.path.display()),
    }
}

/// Whether an error means the target cannot take any more writes, so going
/// on would only turn every remaining message into a finding.
pub fn is_fatal(error: &Error) -> bool {
    match &error.kind {
        ErrorKind::Io(e) => is_fatal_io(e),
        ErrorKind::Cancelled => true,
        _ => false,
    }
}

fn is_fatal_io(e: &io::Error) -> bool {
    const EIO: i32 = 5;
    if matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::QuotaExceeded
    ) || e.raw_os_error() == Some(EIO)
    {
        return true;
    }
    // An error re-wrapped with a path keeps its kind but loses the errno;
    // EIO has no kind of its own, so look for it in the text.
    e.raw_os_error().is_none() && e.to_string().contains("(os error 5)")
}

/// Converts every message of `source` into `sink`. See the crate docs.
pub fn convert(
    source: &dyn Source,
    sink: &dyn Sink,
    opts: &ConvertOptions,
    progress: &dyn Progress,
) -> Result<Report, ConvertError> {
    let started = Instant::now();
    let mut report = Report::new("convert");
    report.source = Some(describe_source(&source.info()));
    report.destination =
        Some(if opts.dry_run { format!("{} (dry run)", sink.describe()) } else { sink.describe() });
    let units = source.units(&mut report.findings).map_err(|e| ConvertError::Source(Box::new(e)))?;
    for f in &report.findings {
        progress.finding(f);
    }
    progress.begin(units.len() as u64, units.iter().map(|u| u.bytes).sum());
    let groups = group_units(units);
    let run = Run { source, sink, opts, progress, fatal: Mutex::new(None), stop: AtomicBool::new(false) };
    let results = run_biggest_first(opts.jobs, &groups, |g| run.folder(g));
    for r in results {
        report.merge(r);
    }
    let cancelled = run.cancelled();
    let mut fatal = run.fatal.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    if fatal.is_none() && cancelled {
        fatal = Some(Error::new(Location::default(), ErrorKind::Cancelled));
    }
    // `finish` is where a sink that defers durability to the end of the
    // run (the maildir sink) names what was committed: before it, nothing
    // may be reported as written. A cancel (Ctrl-C) keeps what was
    // committed, so it finishes too; after the target failed (disk full,
    // I/O error) nothing more is named, and the report says so.
    let target_failed = fatal.as_ref().is_some_and(|e| !matches!(e.kind, ErrorKind::Cancelled));
    if !target_failed && !opts.dry_run {
        if let Err(e) = sink.finish() {
            fatal = Some(e);
        }
    }
    if fatal.as_ref().is_some_and(|e| !matches!(e.kind, ErrorKind::Cancelled)) && !opts.dry_run {
        report.findings.push(Finding::error(
            FindingKind::Unwritable,
            Location::default(),
            "the run stopped before its final sync: messages counted as written may not be on disk \
             (none is under its final name half-written); the same command run again completes the \
             destination without duplicates",
        ));
    }
    progress.end();
    report.elapsed_seconds = started.elapsed().as_secs_f64();
    if let Some(error) = fatal {
        return Err(ConvertError::Aborted { error: Box::new(error), report: Box::new(report) });
    }
    if let Err(error) = report.check_balance() {
        return Err(ConvertError::Unbalanced { error, report: Box::new(report) });
    }
    Ok(report)
}

/// What all folder workers of one run share.
pub(crate) struct Run<'a> {
    source: &'a dyn Source,
    sink: &'a dyn Sink,
    opts: &'a ConvertOptions,
    progress: &'a dyn Progress,
    /// The first error that made the target unusable.
    fatal: Mutex<Option<Error>>,
    /// Set once `fatal` is: every worker stops reading.
    stop: AtomicBool,
}

impl Run<'_> {
    pub(crate) fn cancelled(&self) -> bool {
        self.opts.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed))
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.cancelled()
    }

    pub(crate) fn abort(&self, error: Error) {
        let mut slot = self.fatal.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(error);
        }
        self.stop.store(true, Ordering::Relaxed);
    }
}

mod folder;
#[cfg(test)]
mod tests;
