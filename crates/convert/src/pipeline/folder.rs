//! Converting one folder: a reading side and a writing side, run in turn
//! on one thread, message by message, in source order.
//!
//! (A writer thread fed through a bounded queue was tried, to overlap
//! parsing with the writer's system calls in a store that is one big
//! folder: on this 2-core machine it was no faster, since writing is bound
//! by the file system, and it took more than twice the memory.)

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::atomic::Ordering;

use mailshift_model::{
    ErrorKind, ExactHash, Finding, FindingKind, FolderStats, FolderWriter, Item, Location, Message, Report,
    WriteOutcome,
};

use super::{is_fatal, Run};
use crate::schedule::FolderGroup;

/// What the reading side hands the writing side.
enum Work {
    Message(Message),
    Finding(Finding),
}

impl Run<'_> {
    /// Converts one folder (all its units, in order) and returns its report.
    pub(super) fn folder(&self, group: &FolderGroup) -> Report {
        let mut writing = Writing {
            run: self,
            key: &group.key,
            writer: None,
            open_error: None,
            written: 0,
            already_present: 0,
            bytes_written: 0,
            skipped: 0,
            findings: Vec::new(),
        };
        if self.stopping() {
            return Report::default();
        }
        if !self.opts.dry_run {
            match self.sink.open_folder(&group.folder) {
                Ok(w) => writing.writer = Some(w),
                Err(e) if is_fatal(&e) => {
                    self.abort(e);
                    return Report::default();
                }
                Err(e) => writing.open_error = Some(e.to_string()),
            }
        }
        let mut reading =
            Reading { run: self, key: &group.key, seen: HashSet::new(), stats: FolderStats::default() };
        reading.read(group, &mut |work| {
            writing.handle(work);
            true
        });
        writing.finish();
        let mut stats = reading.stats;
        stats.written = writing.written;
        stats.skipped += writing.skipped;
        let mut report = Report {
            read: stats.read,
            written: stats.written,
            skipped: stats.skipped,
            duplicates: stats.duplicates,
            bytes_read: stats.bytes,
            bytes_written: writing.bytes_written,
            already_present: writing.already_present,
            findings: writing.findings,
            ..Report::default()
        };
        report.folders.insert(group.key.clone(), stats);
        report
    }
}

fn with_folder(mut location: Location, key: &str) -> Location {
    if location.folder.is_none() {
        location.folder = Some(key.to_owned());
    }
    location
}

/// The reading side: counts what is read and drops duplicates.
struct Reading<'r, 'a> {
    run: &'r Run<'a>,
    key: &'r str,
    /// Exact hashes already passed on, for `dedupe`.
    seen: HashSet<ExactHash>,
    /// `read`, `bytes`, `duplicates`, and `skipped` for items the source skipped.
    stats: FolderStats,
}

impl Reading<'_, '_> {
    /// Reads every unit of the folder, handing work to `send` (which says
    /// whether the writing side still takes it).
    fn read(&mut self, group: &FolderGroup, send: &mut dyn FnMut(Work) -> bool) {
        let progress = self.run.progress;
        for unit in &group.units {
            if self.run.stopping() {
                break;
            }
            let result = self.run.source.read_unit(unit, &mut |item| {
                let taken = match item {
                    Item::Message(m) => self.message(m, send),
                    Item::Skipped(f) => {
                        self.stats.read += 1;
                        self.stats.skipped += 1;
                        progress.message(0);
                        progress.finding(&f);
                        send(Work::Finding(f))
                    }
                    Item::Finding(f) => {
                        progress.finding(&f);
                        send(Work::Finding(f))
                    }
                };
                if taken && !self.run.stopping() {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            });
            if let Err(e) = result {
                if !matches!(e.kind, ErrorKind::Cancelled) {
                    let f = Finding::error(
                        FindingKind::Unreadable,
                        with_folder(e.location.clone(), self.key),
                        format!("cannot read {} any further: {}", unit.id, e.kind),
                    );
                    progress.finding(&f);
                    send(Work::Finding(f));
                }
            }
            progress.unit_done(unit);
        }
    }

    fn message(&mut self, message: Message, send: &mut dyn FnMut(Work) -> bool) -> bool {
        let size = message.size();
        self.stats.read += 1;
        self.stats.bytes += size;
        self.run.progress.message(size);
        if self.run.opts.dedupe && !self.seen.insert(message.fingerprint().exact) {
            self.stats.duplicates += 1;
            let f = Finding::info(
                FindingKind::Duplicate,
                with_folder(message.envelope.origin.clone(), self.key),
                "exact duplicate of a message already in this folder: not written again",
            );
            self.run.progress.finding(&f);
            return send(Work::Finding(f));
        }
        send(Work::Message(message))
    }
}

/// The writing side: writes in order, counts outcomes, keeps the findings.
struct Writing<'r, 'a> {
    run: &'r Run<'a>,
    key: &'r str,
    writer: Option<Box<dyn FolderWriter + 'a>>,
    /// Why the folder could not be opened: each of its messages is skipped.
    open_error: Option<String>,
    written: u64,
    already_present: u64,
    bytes_written: u64,
    /// Messages read but not written.
    skipped: u64,
    findings: Vec<Finding>,
}

impl Writing<'_, '_> {
    fn finding(&mut self, f: Finding) {
        self.run.progress.finding(&f);
        self.findings.push(f);
    }

    fn handle(&mut self, work: Work) {
        match work {
            Work::Finding(f) => self.findings.push(f), // the reading side showed it
            Work::Message(m) => self.write(&m),
        }
    }

    fn skip(&mut self, message: &Message, why: String) {
        self.skipped += 1;
        let location = with_folder(message.envelope.origin.clone(), self.key);
        self.finding(Finding::error(FindingKind::Unwritable, location, why));
    }

    fn write(&mut self, message: &Message) {
        let size = message.size();
        if self.run.opts.dry_run {
            self.written += 1;
            self.bytes_written += size;
            return;
        }
        if let Some(why) = &self.open_error {
            let why = format!("not written: the folder could not be opened: {why}");
            return self.skip(message, why);
        }
        if self.run.stop.load(Ordering::Relaxed) {
            // The target failed (disk full, ...): do not hammer it.
            return self.skip(message, "not written: the run stopped (see the error)".into());
        }
        let Some(writer) = self.writer.as_mut() else {
            return self.skip(message, "not written: no writer".into());
        };
        let outcome = writer.write(message);
        let found = writer.take_findings();
        for f in found {
            self.finding(f);
        }
        match outcome {
            Ok(WriteOutcome::Written) => {
                self.written += 1;
                self.bytes_written += size;
            }
            Ok(WriteOutcome::AlreadyPresent) => {
                self.written += 1;
                self.already_present += 1;
            }
            Err(e) => {
                let why = format!("cannot write: {e}");
                if is_fatal(&e) {
                    self.run.abort(e);
                }
                self.skip(message, why);
            }
        }
    }

    /// Commits what was written; a failed commit stops the run, since the
    /// messages written since the last commit may not be durable.
    fn finish(&mut self) {
        if let Some(mut w) = self.writer.take() {
            if let Err(e) = w.commit() {
                self.run.abort(e);
            }
            for f in w.take_findings() {
                self.finding(f);
            }
        }
    }
}
