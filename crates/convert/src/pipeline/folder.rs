//! Converting one folder: a reading side and a writing side, in source
//! order.
//!
//! A big folder (one large mbox) runs the two sides on two threads joined
//! by a queue bounded in bytes ([`Queue`]): reading, splitting, un-quoting
//! and hashing overlap with the writer's system calls (file creation,
//! writes, times), and the writer's batches are synced on a third
//! ([`mailshift_model::durable::BackgroundBatch`]). Measured with
//! `scripts/bench` (the realistic and dense 1 GiB mboxes), not assumed: the
//! reading side is about 40% of the CPU time, the writer's system calls the
//! rest. The queue's bound keeps peak RSS under 40 MiB. A small folder
//! runs both sides in turn on one thread: a thread per folder would cost
//! more than it saves, and folders already run in parallel.

use std::collections::{HashSet, VecDeque};
use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex};

use mailshift_model::{
    ErrorKind, ExactHash, Finding, FindingKind, FolderStats, FolderWriter, Item, Location, Message, Report,
    WriteOutcome,
};

use super::{is_fatal, Run};
use crate::schedule::{cannot_read_further, FolderGroup};

/// A folder at least this big gets a writer thread of its own.
const THREADED_MIN_BYTES: u64 = 4 << 20;

/// How many bytes of messages may wait between the two sides: enough to
/// ride out a burst of small messages, little next to the 64 MiB memory goal.
const QUEUE_BYTES: u64 = 8 << 20;

/// What the reading side hands the writing side.
enum Work {
    /// A message, with its exact hash when the writer names files by it
    /// (computed on the reading side, which has time to spare).
    Message(Message, Option<ExactHash>),
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
        let hash = writing.writer.as_ref().is_some_and(|w| w.uses_exact_hash());
        let mut reading =
            Reading { run: self, key: &group.key, seen: HashSet::new(), stats: FolderStats::default(), hash };
        if writing.writer.is_some() && group.bytes >= THREADED_MIN_BYTES {
            writing = reading.read_into_writer_thread(group, writing);
        } else {
            reading.read(group, &mut |work| {
                writing.handle(work);
                true
            });
            writing.finish();
        }
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
    /// Whether to hash each message for the writer ([`FolderWriter::uses_exact_hash`]).
    hash: bool,
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
                        cannot_read_further(unit, &e),
                    );
                    progress.finding(&f);
                    send(Work::Finding(f));
                }
            }
            progress.unit_done(unit);
        }
    }

    /// Reads the folder on this thread (sources need not be `Send`) while
    /// `writing` writes on another; returns `writing` when all is written
    /// and committed.
    fn read_into_writer_thread<'r, 'a>(
        &mut self,
        group: &FolderGroup,
        writing: Writing<'r, 'a>,
    ) -> Writing<'r, 'a> {
        let queue = Queue::new(QUEUE_BYTES);
        // The writer thread takes `writing` from here; if no thread can be
        // had, the closure is dropped unrun and it is still here.
        let slot = Mutex::new(Some(writing));
        let take = || slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        std::thread::scope(|scope| {
            let spawned =
                std::thread::Builder::new().name("mailshift-write".into()).spawn_scoped(scope, || {
                    let mut writing = take()?;
                    while let Some(work) = queue.pop() {
                        writing.handle(work);
                    }
                    writing.finish();
                    Some(writing)
                });
            match spawned {
                Ok(handle) => {
                    self.read(group, &mut |work| queue.push(work));
                    queue.close();
                    let writing = handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    writing.expect("the writer thread took the writing side")
                }
                Err(_) => {
                    let mut writing = take().expect("the writing side was not taken");
                    self.read(group, &mut |work| {
                        writing.handle(work);
                        true
                    });
                    writing.finish();
                    writing
                }
            }
        })
    }

    fn message(&mut self, message: Message, send: &mut dyn FnMut(Work) -> bool) -> bool {
        let size = message.size();
        self.stats.read += 1;
        self.stats.bytes += size;
        self.run.progress.message(size);
        let exact = (self.hash || self.run.opts.dedupe).then(|| message.exact_hash());
        if self.run.opts.dedupe && exact.is_some_and(|h| !self.seen.insert(h)) {
            self.stats.duplicates += 1;
            let f = Finding::info(
                FindingKind::Duplicate,
                with_folder(message.envelope.origin.clone(), self.key),
                "exact duplicate of a message already in this folder: not written again",
            );
            self.run.progress.finding(&f);
            return send(Work::Finding(f));
        }
        send(Work::Message(message, exact.filter(|_| self.hash)))
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
            Work::Message(m, exact) => self.write(&m, exact),
        }
    }

    fn skip(&mut self, message: &Message, why: String) {
        self.skipped += 1;
        let location = with_folder(message.envelope.origin.clone(), self.key);
        self.finding(Finding::error(FindingKind::Unwritable, location, why));
    }

    fn write(&mut self, message: &Message, exact: Option<ExactHash>) {
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
        let outcome = match exact {
            Some(exact) => writer.write_hashed(message, exact),
            None => writer.write(message),
        };
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

/// A queue from the reading side to the writing side, bounded by the bytes
/// of the messages waiting in it (one message is always let in, however
/// big, so a huge message cannot block the reader for ever).
struct Queue {
    state: Mutex<QueueState>,
    changed: Condvar,
    max_bytes: u64,
}

struct QueueState {
    items: VecDeque<Work>,
    bytes: u64,
    closed: bool,
}

impl Queue {
    fn new(max_bytes: u64) -> Self {
        Queue {
            state: Mutex::new(QueueState { items: VecDeque::new(), bytes: 0, closed: false }),
            changed: Condvar::new(),
            max_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds `work`, waiting while the queue is full. Always `true`: the
    /// writing side takes everything (it skips what it cannot write).
    fn push(&self, work: Work) -> bool {
        let size = work.size();
        let mut state = self.lock();
        while !state.items.is_empty() && state.bytes + size > self.max_bytes {
            state = self.changed.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        state.bytes += size;
        state.items.push_back(work);
        drop(state);
        self.changed.notify_all();
        true
    }

    /// The next work, waiting for it; `None` once closed and empty.
    fn pop(&self) -> Option<Work> {
        let mut state = self.lock();
        loop {
            if let Some(work) = state.items.pop_front() {
                state.bytes -= work.size();
                drop(state);
                self.changed.notify_all();
                return Some(work);
            }
            if state.closed {
                return None;
            }
            state = self.changed.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// No more work will come.
    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }
}

impl Work {
    fn size(&self) -> u64 {
        match self {
            // The allocation, not the length: that is what is resident.
            Work::Message(m, _) => m.raw.capacity() as u64,
            Work::Finding(_) => 0,
        }
    }
}

#[cfg(test)]
mod queue_tests {
    use super::*;
    use mailshift_model::Envelope;

    #[test]
    fn bounded_queue_keeps_order_and_lets_big_messages_through() {
        let q = Queue::new(10);
        std::thread::scope(|s| {
            let h = s.spawn(|| {
                let mut got = Vec::new();
                while let Some(Work::Message(m, _)) = q.pop() {
                    assert!(q.lock().bytes <= 100);
                    got.push(m.raw.len());
                }
                got
            });
            for len in [3, 4, 100, 5, 6, 1] {
                q.push(Work::Message(Message::new(vec![b'x'; len], Envelope::default()), None));
                assert!(q.lock().bytes <= 100);
            }
            q.close();
            assert_eq!(h.join().unwrap(), [3, 4, 100, 5, 6, 1]);
        });
    }
}
