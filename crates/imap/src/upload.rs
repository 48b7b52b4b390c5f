//! The upload: source folders into server folders, pipelined, resumable,
//! without duplicates.
//!
//! - Folders go to `jobs` connections, biggest first; each connection owns
//!   the folders it takes (no two connections append to one folder).
//! - Each folder's units are read on a blocking thread into a small bounded
//!   channel, so memory is bounded by the channel, the in-flight window and
//!   the largest message, never by the mailbox.
//! - Before appending, the server's copy of the folder is scanned
//!   (RFC822.SIZE and the Message-ID/Date/From/To/Subject header fields):
//!   a message whose logical key and size are already there is counted as
//!   already present, as is one the journal lists. This makes re-runs,
//!   runs after a crash and folders filled by another tool duplicate-free.
//! - APPENDs carry flags, keywords and INTERNALDATE. With LITERAL+ they are
//!   pipelined (many in flight, no wait for continuations); without it one
//!   message is sent at a time with a synchronising literal.
//! - Confirmed APPENDs are journaled in batches.
//! - Disconnects and timeouts: back off with jitter, reconnect, rescan the
//!   folder, and decide again for the messages whose answer never came.
//!   Throttling answers (`NO [THROTTLED]`, `[UNAVAILABLE]`, "try again")
//!   back off (honouring a suggested number of seconds) and retry.
//! - Microsoft 365 drops `\Flagged` given at APPEND: it is set again with
//!   UID STORE at the end of each folder (UIDPLUS gives the UIDs).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailshift_model::{
    headers, Finding, FindingKind, Fingerprint, FolderPath, FolderStats, Item, Location, Message, Progress,
    Report, Source, Unit,
};
use tokio::sync::{mpsc, Mutex};

use crate::connection::{Conn, Connector};
use crate::folders::{FolderMapper, Mapped, ServerFolders};
use crate::journal::{Entry, Journal};
use crate::protocol::{internal_date, is_atom, Code, Resp, Status, Tagged};
use crate::{ImapError, Result};

/// How to upload.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Connections in parallel (each owns whole folders).
    pub jobs: usize,
    /// Messages larger than this are reported, not sent.
    pub max_size: Option<u64>,
    pub max_msgs_per_sec: Option<f64>,
    pub max_bytes_per_sec: Option<f64>,
    /// The journal file.
    pub journal: std::path::PathBuf,
    /// Read and decide, send nothing.
    pub dry_run: bool,
    /// `--folder-map`: source key → server name.
    pub folder_map: BTreeMap<String, String>,
    /// Bytes in flight per connection (pipelined APPENDs).
    pub window_bytes: usize,
    /// Messages in flight per connection.
    pub window_messages: usize,
    /// Reconnects per folder before the run gives up.
    pub max_retries: u32,
    /// Set to stop reading; what is in flight is finished and journaled.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            jobs: 4,
            max_size: None,
            max_msgs_per_sec: None,
            max_bytes_per_sec: None,
            journal: std::path::PathBuf::from("upload.sqlite"),
            dry_run: false,
            folder_map: BTreeMap::new(),
            window_bytes: 16 << 20,
            window_messages: 1000,
            max_retries: 10,
            cancel: None,
        }
    }
}

/// What an upload did, plus what is needed to read the server back.
#[derive(Debug)]
pub struct Uploaded {
    pub report: Report,
    /// Server name (wire) → the source folder it holds.
    pub folders: HashMap<String, FolderPath>,
    pub mapper: Option<FolderMapper>,
    /// Whether the run was cancelled before the end.
    pub cancelled: bool,
}

/// A folder's work.
#[derive(Debug, Clone)]
struct FolderJob {
    folder: FolderPath,
    mapped: Mapped,
    units: Vec<Unit>,
    bytes: u64,
    /// Why the server refused the folder, if it did.
    refused: Option<String>,
}

/// The longest wait for APPENDs of a killed run to land.
const SETTLE_MAX: Duration = Duration::from_secs(15);

/// Messages per MULTIAPPEND command.
const BATCH_MESSAGES: usize = 500;
/// Bytes per MULTIAPPEND command (a batch is one server transaction).
const BATCH_BYTES: usize = 8 << 20;

/// Shared across connections.
struct Shared {
    connector: Connector,
    source: Arc<dyn Source>,
    opts: UploadOptions,
    account: String,
    m365: bool,
    max_size: Option<u64>,
    limiter: Mutex<Limiter>,
    /// Bytes of source messages handled so far, for the progress bar.
    handled: AtomicU64,
}

/// Uploads `source` to the server `connector` reaches. Blocking: it runs
/// its own tokio runtime.
pub fn upload(
    source: Arc<dyn Source>,
    connector: Connector,
    opts: UploadOptions,
    progress: &dyn Progress,
) -> Result<Uploaded> {
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| {
            ImapError::Io { server: connector.target.server(), what: "start the runtime".into(), source: e }
        })?;
    rt.block_on(run(source, connector, opts, progress))
}

async fn run(
    source: Arc<dyn Source>,
    connector: Connector,
    opts: UploadOptions,
    progress: &dyn Progress,
) -> Result<Uploaded> {
    let started = Instant::now();
    let mut report = Report::new("upload");
    report.source = Some(describe(&source));
    report.destination = Some(connector.target.to_string());
    let mut conn = connect_retry(&connector, opts.max_retries).await?;
    let server = ServerFolders::list(&mut conn).await?;
    let m365 = conn.is_m365();
    let mapper = FolderMapper::new(&server, opts.folder_map.clone(), m365);
    let limit = conn.caps.append_limit();
    let max_size = match (opts.max_size, limit) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let src = Arc::clone(&source);
    let units = tokio::task::spawn_blocking(move || {
        let mut findings = Vec::new();
        src.units(&mut findings).map(|u| (u, findings))
    })
    .await
    .map_err(|e| ImapError::Internal(e.to_string()))??;
    let (units, findings) = units;
    report.findings.extend(findings);
    let mut jobs: Vec<FolderJob> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for u in units {
        let key = u.folder.key();
        let i = *index.entry(key).or_insert_with(|| {
            let mapped = mapper.map(&u.folder);
            jobs.push(FolderJob {
                folder: u.folder.clone(),
                mapped,
                units: Vec::new(),
                bytes: 0,
                refused: None,
            });
            jobs.len() - 1
        });
        jobs[i].bytes += u.bytes;
        jobs[i].units.push(u);
    }
    // Two source folders on one server name would mix: the second is refused.
    let mut taken: HashMap<String, String> = HashMap::new();
    let mut folders = HashMap::new();
    for job in &mut jobs {
        if let Some(note) = &job.mapped.note {
            report.findings.push(Finding::info(
                FindingKind::Name,
                Location::default().with_folder(job.folder.key()),
                note.clone(),
            ));
        }
        if let Some(other) = taken.insert(job.mapped.wire.clone(), job.folder.key()) {
            job.refused = Some(format!("maps to {:?} like {other}", job.mapped.display));
            continue;
        }
        folders.insert(job.mapped.wire.clone(), job.folder.clone());
        if opts.dry_run || server.exists(&job.mapped.wire) {
            continue;
        }
        let Some(q) = crate::protocol::quoted(&job.mapped.wire) else {
            job.refused = Some(format!("name {:?} cannot be sent", job.mapped.display));
            continue;
        };
        let (_, t) = conn.session.run(&format!("CREATE {q}")).await?;
        if t.status != Status::Ok && t.code_name().as_deref() != Some("ALREADYEXISTS") {
            job.refused = Some(format!(
                "CREATE {:?} (mapped from {}): {}",
                job.mapped.display,
                job.folder.key(),
                t.describe()
            ));
            continue;
        }
        let _ = conn.session.run(&format!("SUBSCRIBE {q}")).await?;
    }
    conn.logout().await;
    jobs.sort_by_key(|j| std::cmp::Reverse(j.bytes));
    let jobs_units = jobs.iter().map(|j| j.units.len() as u64).sum();
    let jobs_bytes = jobs.iter().map(|j| j.bytes).sum();
    let account = connector.target.account();
    let shared = Arc::new(Shared {
        connector,
        source,
        account,
        m365,
        max_size,
        limiter: Mutex::new(Limiter::new(opts.max_msgs_per_sec, opts.max_bytes_per_sec)),
        handled: AtomicU64::new(0),
        opts,
    });
    let queue = Arc::new(std::sync::Mutex::new(VecDeque::from(jobs)));
    let workers = shared.opts.jobs.max(1);
    let mut handles = Vec::new();
    for _ in 0..workers {
        let shared = Arc::clone(&shared);
        let queue = Arc::clone(&queue);
        handles.push(tokio::spawn(async move { worker(shared, queue).await }));
    }
    // The workers run as tasks; the bar is fed from here, where the
    // (non-'static) progress lives.
    progress.begin(jobs_units, jobs_bytes);
    let mut shown = 0;
    while !handles.iter().all(|h| h.is_finished()) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = shared.handled.load(Ordering::Relaxed);
        if now > shown {
            progress.message(now - shown);
            shown = now;
        }
    }
    progress.end();
    let mut first_error = None;
    let mut cancelled = false;
    for h in handles {
        match h.await {
            Ok(Ok((r, c))) => {
                report.merge(r);
                cancelled |= c;
            }
            Ok(Err((r, e))) => {
                report.merge(r);
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(ImapError::Internal(format!("a worker failed: {e}")));
            }
        }
    }
    report.elapsed_seconds = started.elapsed().as_secs_f64();
    if shared.opts.dry_run {
        report.findings.push(Finding::info(
            FindingKind::Ignored,
            Location::path(shared.connector.target.to_string()),
            format!(
                "dry run: nothing was sent; {} messages would be uploaded",
                report.written - report.already_present
            ),
        ));
    }
    if let Some(e) = first_error {
        // The journal holds everything the server confirmed: running the
        // same command again resumes.
        return Err(e);
    }
    Ok(Uploaded { report, folders, mapper: Some(mapper), cancelled })
}

fn describe(source: &Arc<dyn Source>) -> String {
    let info = source.info();
    match info.variant {
        Some(v) => format!("{} ({v}) at {}", info.format, info.path.display()),
        None => format!("{} at {}", info.format, info.path.display()),
    }
}

async fn connect_retry(connector: &Connector, max: u32) -> Result<Conn> {
    let mut attempt = 0;
    loop {
        match connector.connect().await {
            Ok(c) => return Ok(c),
            Err(e) if e.is_transient() && attempt < max => {
                attempt += 1;
                tokio::time::sleep(backoff(attempt, None)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Exponential back-off with jitter, capped at a minute; a suggested
/// delay from the server wins when it is longer.
fn backoff(attempt: u32, suggested: Option<Duration>) -> Duration {
    let base =
        Duration::from_millis(250u64.saturating_mul(1 << attempt.min(10))).min(Duration::from_secs(60));
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let jitter = base.mul_f64(f64::from(nanos % 1000) / 2000.0); // up to +50 %
    (base + jitter).max(suggested.unwrap_or_default())
}

type WorkerResult = std::result::Result<(Report, bool), (Report, ImapError)>;

async fn worker(shared: Arc<Shared>, queue: Arc<std::sync::Mutex<VecDeque<FolderJob>>>) -> WorkerResult {
    let mut report = Report::new("upload");
    let mut journal = match Journal::open(&shared.opts.journal) {
        Ok(j) => j,
        Err(e) => return Err((report, e)),
    };
    let mut conn: Option<Conn> = None;
    let mut cancelled = false;
    loop {
        let job = match queue.lock() {
            Ok(mut q) => q.pop_front(),
            Err(_) => None,
        };
        let Some(job) = job else { break };
        let mut f = FolderRun::new(&shared, &job);
        let r = f.run(&mut conn, &mut journal).await;
        cancelled |= f.cancelled;
        report.merge(f.into_report());
        if let Err(e) = r {
            return Err((report, e));
        }
    }
    if let Some(c) = conn {
        c.logout().await;
    }
    Ok((report, cancelled))
}

/// A message on its way: kept until the server confirms it.
#[derive(Debug)]
struct Pending {
    tag: String,
    data: Vec<u8>,
    flags: String,
    date: Option<String>,
    entry: Entry,
    key: (String, u64),
    flagged: bool,
    origin: Location,
    throttled: u32,
    /// Send in an APPEND of its own: its MULTIAPPEND batch was refused,
    /// and one message alone tells which one the server does not take.
    alone: bool,
    /// Recorded in the journal's pending table.
    intended: bool,
}

type Key = (String, u64);

struct FolderRun<'a> {
    shared: &'a Shared,
    job: &'a FolderJob,
    key: String,
    stats: FolderStats,
    report: Report,
    journaled: HashSet<(String, u32)>,
    avail: HashMap<Key, u32>,
    claimed: HashMap<Key, u32>,
    occurrences: HashMap<String, u32>,
    todo: VecDeque<Pending>,
    inflight: VecDeque<Pending>,
    inflight_bytes: usize,
    to_journal: Vec<(Entry, Option<u32>)>,
    uidvalidity: Option<u32>,
    reflag: Vec<u32>,
    reflag_missing: u64,
    cancelled: bool,
    /// UIDs this run appended, per key (for [`Self::settle`]).
    appended_uids: HashMap<Key, Vec<u32>>,
    had_content: bool,
    reconnected: bool,
}

impl<'a> FolderRun<'a> {
    fn new(shared: &'a Shared, job: &'a FolderJob) -> Self {
        FolderRun {
            shared,
            job,
            key: job.folder.key(),
            stats: FolderStats::default(),
            report: Report::new("upload"),
            journaled: HashSet::new(),
            avail: HashMap::new(),
            claimed: HashMap::new(),
            occurrences: HashMap::new(),
            todo: VecDeque::new(),
            inflight: VecDeque::new(),
            inflight_bytes: 0,
            to_journal: Vec::new(),
            uidvalidity: None,
            reflag: Vec::new(),
            reflag_missing: 0,
            cancelled: false,
            appended_uids: HashMap::new(),
            had_content: false,
            reconnected: false,
        }
    }

    fn into_report(mut self) -> Report {
        self.report.folders.insert(self.key.clone(), self.stats);
        self.report
    }

    fn at(&self, origin: &Location) -> Location {
        let mut l = origin.clone();
        l.folder.get_or_insert_with(|| self.key.clone());
        l
    }

    fn skip(&mut self, finding: Finding) {
        self.stats.skipped += 1;
        self.report.skipped += 1;
        self.report.findings.push(finding);
    }

    fn written(&mut self, bytes: u64, already: bool) {
        self.stats.written += 1;
        self.report.written += 1;
        if already {
            self.report.already_present += 1;
        } else {
            self.report.bytes_written += bytes;
        }
    }

    async fn run(&mut self, conn: &mut Option<Conn>, journal: &mut Journal) -> Result<()> {
        let (tx, mut rx) = mpsc::channel::<Item>(16);
        let source = Arc::clone(&self.shared.source);
        let units = self.job.units.clone();
        let reader = tokio::task::spawn_blocking(move || {
            for unit in &units {
                let mut stop = false;
                let r = source.read_unit(unit, &mut |item| {
                    if tx.blocking_send(item).is_err() {
                        stop = true;
                        std::ops::ControlFlow::Break(())
                    } else {
                        std::ops::ControlFlow::Continue(())
                    }
                });
                if let Err(e) = r {
                    let f = Finding::error(
                        FindingKind::Unreadable,
                        e.location.clone(),
                        format!("unit not read on: {e}"),
                    );
                    let _ = tx.blocking_send(Item::Finding(f));
                }
                if stop {
                    break;
                }
            }
        });
        let result = self.drive(conn, journal, &mut rx).await;
        drop(rx);
        let _ = reader.await;
        result
    }

    async fn drive(
        &mut self,
        conn: &mut Option<Conn>,
        journal: &mut Journal,
        rx: &mut mpsc::Receiver<Item>,
    ) -> Result<()> {
        if let Some(why) = self.job.refused.clone() {
            while let Some(item) = rx.recv().await {
                self.count_read(&item);
                if let Item::Message(m) = item {
                    let at = self.at(&m.envelope.origin);
                    self.skip(Finding::error(
                        FindingKind::Name,
                        at,
                        format!("folder refused by the server: {why}"),
                    ));
                } else {
                    self.other_item(item);
                }
            }
            return Ok(());
        }
        let dry = self.shared.opts.dry_run;
        let wire = self.job.mapped.wire.clone();
        for e in journal.entries(&self.shared.account, &wire)? {
            self.journaled.insert((e.hash, e.occurrence));
        }
        let mut retries = 0u32;
        if dry {
            // What is there already counts in a dry run too; a folder that
            // does not exist yet is simply empty.
            match self.ensure(conn, &mut retries).await {
                Ok(()) | Err(ImapError::Refused { .. }) => {}
                Err(e) => return Err(e),
            }
        } else {
            self.ensure(conn, &mut retries).await?;
            if journal.pending(&self.shared.account, &wire)? > 0 {
                self.await_late_appends(conn, &mut retries).await?;
                journal.clear_pending(&self.shared.account, &wire)?;
            }
        }
        let mut source_done = false;
        loop {
            let cancel = self.shared.opts.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed));
            if cancel && !source_done {
                self.cancelled = true;
                source_done = true;
            }
            while !source_done && self.room() {
                match rx.try_recv() {
                    Ok(item) => self.accept(item),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => source_done = true,
                }
            }
            if self.todo.is_empty() && self.inflight.is_empty() {
                self.commit(journal)?;
                if source_done {
                    break;
                }
                match rx.recv().await {
                    Some(item) => self.accept(item),
                    None => source_done = true,
                }
                continue;
            }
            if dry {
                while let Some(p) = self.todo.pop_front() {
                    self.written(p.data.len() as u64, false);
                }
                continue;
            }
            // Each message is recorded as pending once, before its first send.
            let intents: Vec<&Entry> = self.todo.iter().filter(|p| !p.intended).map(|p| &p.entry).collect();
            if !intents.is_empty() {
                journal.intend(&self.shared.account, &wire, &intents)?;
                for p in &mut self.todo {
                    p.intended = true;
                }
            }
            let step = match conn.as_mut() {
                Some(c) => self.step(c).await,
                None => Err(ImapError::Closed { server: self.shared.connector.target.server(), why: None }),
            };
            match step {
                Ok(()) => {
                    if self.to_journal.len() >= 256 || self.inflight.is_empty() {
                        self.commit(journal)?;
                    }
                }
                Err(e) if e.is_transient() && retries < self.shared.opts.max_retries => {
                    self.commit(journal)?;
                    self.report.findings.push(Finding::warning(
                        FindingKind::Unwritable,
                        Location::default().with_folder(self.key.clone()),
                        format!("connection lost ({e}); reconnecting and resuming"),
                    ));
                    retries += 1;
                    self.reconnected = true;
                    if let Some(c) = conn.take() {
                        drop(c);
                    }
                    let mut wait = backoff(retries, None);
                    if matches!(e, ImapError::Timeout { .. }) {
                        // The abandoned connection may still deliver what
                        // it carried (a stalled network, a slow server):
                        // give it time to land before the rescan decides.
                        wait += self.shared.connector.opts.timeout * 2;
                    }
                    tokio::time::sleep(wait).await;
                    self.ensure(conn, &mut retries).await?;
                    self.requeue_unconfirmed();
                }
                Err(e) => {
                    self.commit(journal)?;
                    return Err(e);
                }
            }
        }
        if !dry {
            if let Some(c) = conn.as_mut() {
                self.settle(c).await?;
            }
            journal.clear_pending(&self.shared.account, &wire)?;
        }
        if !dry && self.shared.m365 {
            if let Some(c) = conn.as_mut() {
                self.reflag_m365(c).await?;
            }
        }
        Ok(())
    }

    /// Whether another message may be taken from the source.
    fn room(&self) -> bool {
        let n = self.todo.len() + self.inflight.len();
        let bytes: usize = self.inflight_bytes + self.todo.iter().map(|p| p.data.len()).sum::<usize>();
        n < self.shared.opts.window_messages && (bytes < self.shared.opts.window_bytes || n == 0)
    }

    fn count_read(&mut self, item: &Item) {
        match item {
            Item::Message(m) => {
                self.shared.handled.fetch_add(m.size(), Ordering::Relaxed);
                self.stats.read += 1;
                self.stats.bytes += m.size();
                self.report.read += 1;
                self.report.bytes_read += m.size();
            }
            Item::Skipped(_) => {
                self.stats.read += 1;
                self.report.read += 1;
            }
            Item::Finding(_) => {}
        }
    }

    fn other_item(&mut self, item: Item) {
        match item {
            Item::Skipped(f) => self.skip(f),
            Item::Finding(f) => self.report.findings.push(f),
            Item::Message(_) => {}
        }
    }

    /// Decides about one item from the source.
    fn accept(&mut self, item: Item) {
        self.count_read(&item);
        let m = match item {
            Item::Message(m) => m,
            other => return self.other_item(other),
        };
        let at = self.at(&m.envelope.origin);
        let data = crlf(&m.raw);
        let size = data.len() as u64;
        if let Some(limit) = self.shared.max_size {
            if size > limit {
                return self.skip(Finding::error(
                    FindingKind::TooLarge,
                    at,
                    format!("{size} bytes, over the limit of {limit} bytes (--max-size or the server's APPENDLIMIT): not uploaded"),
                ));
            }
        }
        let hash = m.exact_hash().to_hex();
        let occ = self.occurrences.entry(hash.clone()).or_insert(0);
        let occurrence = *occ;
        *occ += 1;
        let key = (logical(&data), size);
        let entry = Entry { hash, occurrence, uid: None };
        if self.journaled.contains(&(entry.hash.clone(), occurrence)) {
            self.claim(&key);
            return self.written(size, true);
        }
        if self.claim(&key) {
            self.to_journal.push((entry, self.uidvalidity));
            return self.written(size, true);
        }
        let (flags, flagged) = self.flags(&m, &at);
        let date = m.envelope.received.as_ref().map(internal_date);
        self.todo.push_back(Pending {
            tag: String::new(),
            data,
            flags,
            date,
            entry,
            key,
            flagged,
            origin: at,
            throttled: 0,
            alone: false,
            intended: false,
        });
    }

    /// Takes one server copy with this key, if one is not yet accounted for.
    fn claim(&mut self, key: &Key) -> bool {
        match self.avail.get_mut(key) {
            Some(n) if *n > 0 => {
                *n -= 1;
                *self.claimed.entry(key.clone()).or_insert(0) += 1;
                true
            }
            _ => false,
        }
    }

    fn flags(&mut self, m: &Message, at: &Location) -> (String, bool) {
        let mut list = Vec::new();
        for f in m.envelope.flags.imap_list() {
            if f.starts_with('\\') || is_atom(&f) {
                list.push(f);
            } else {
                self.report.findings.push(Finding::warning(
                    FindingKind::Unsupported,
                    at.clone(),
                    format!("keyword {f:?} is not a valid IMAP keyword: not set"),
                ));
            }
        }
        (format!("({})", list.join(" ")), m.envelope.flags.flagged)
    }

    /// Connects if needed, then reads what the server holds in the folder.
    async fn ensure(&mut self, conn: &mut Option<Conn>, retries: &mut u32) -> Result<()> {
        loop {
            if conn.is_none() {
                match self.shared.connector.connect().await {
                    Ok(c) => *conn = Some(c),
                    Err(e) if e.is_transient() && *retries < self.shared.opts.max_retries => {
                        *retries += 1;
                        tokio::time::sleep(backoff(*retries, None)).await;
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            let Some(c) = conn.as_mut() else { continue };
            match self.scan(c).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_transient() && *retries < self.shared.opts.max_retries => {
                    *conn = None;
                    *retries += 1;
                    tokio::time::sleep(backoff(*retries, None)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A previous run was stopped after sending APPENDs it never saw
    /// answered. The server may still be committing them (it had the
    /// whole command when the client died), and a scan made now could miss
    /// them and send them again. Rescan until the folder stops changing
    /// (two equal scans a second apart, at most [`SETTLE_MAX`]).
    async fn await_late_appends(&mut self, conn: &mut Option<Conn>, retries: &mut u32) -> Result<()> {
        let start = Instant::now();
        let mut last: Option<HashMap<Key, u32>> = None;
        while start.elapsed() < SETTLE_MAX {
            tokio::time::sleep(Duration::from_secs(1)).await;
            self.ensure(conn, retries).await?;
            let now = self.avail.clone();
            if last.as_ref() == Some(&now) {
                break;
            }
            last = Some(now);
        }
        Ok(())
    }

    /// Reads the folder's messages on the server: key and size of each.
    /// What this run already accounted for is subtracted.
    async fn scan(&mut self, c: &mut Conn) -> Result<()> {
        let mut found = self.server_counts(c).await?;
        if found.values().any(|n| *n > 0) {
            self.had_content = true;
        }
        for (k, n) in &mut found {
            *n = n.saturating_sub(self.claimed.get(k).copied().unwrap_or(0));
        }
        self.avail = found;
        Ok(())
    }

    /// How many copies of each (logical key, size) the folder holds.
    async fn server_counts(&mut self, c: &mut Conn) -> Result<HashMap<Key, u32>> {
        let q = crate::protocol::quoted(&self.job.mapped.wire).unwrap_or_default();
        let (untagged, _) = c.session.run_ok(&format!("EXAMINE {q}"), "EXAMINE").await?;
        let mut exists = 0;
        for r in &untagged {
            match r {
                Resp::Exists(n) => exists = *n,
                Resp::Status(Tagged { code: Some(Code::UidValidity(v)), .. }) => self.uidvalidity = Some(*v),
                _ => {}
            }
        }
        let mut found: HashMap<Key, u32> = HashMap::new();
        if exists > 0 {
            let tag = c.session.queue_command(
                "FETCH 1:* (RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM TO SUBJECT)])",
            );
            c.session.flush().await?;
            loop {
                match c.session.read().await? {
                    Resp::Fetch(f) => {
                        let header = f.body.unwrap_or_default();
                        let key = (logical(&header), u64::from(f.size.unwrap_or(0)));
                        *found.entry(key).or_insert(0) += 1;
                    }
                    Resp::Tagged(t) if t.tag == tag => {
                        if t.status != Status::Ok {
                            return Err(ImapError::Refused {
                                server: c.session.server.clone(),
                                command: "FETCH".into(),
                                why: t.describe(),
                            });
                        }
                        break;
                    }
                    Resp::Status(t) if t.status == Status::Bye => {
                        return Err(ImapError::Closed { server: c.session.server.clone(), why: Some(t.text) })
                    }
                    _ => {}
                }
            }
        }
        // Nothing selected while appending: EXISTS/EXPUNGE noise stays away.
        let _ = c.session.run("UNSELECT").await;
        Ok(found)
    }

    /// The end of a folder that was not empty at the start or lost its
    /// connection: an APPEND of an interrupted run (a killed process, an
    /// abandoned connection) can land after our scan decided to send the
    /// message again. Scan once more; where the server holds more copies of
    /// a message than the source accounts for, remove the copies this run
    /// appended (by UID), so exactly one copy stays.
    async fn settle(&mut self, c: &mut Conn) -> Result<()> {
        if !(self.had_content || self.reconnected) || self.appended_uids.is_empty() {
            return Ok(());
        }
        let found = self.server_counts(c).await?;
        let mut extra = Vec::new();
        for (k, uids) in &self.appended_uids {
            let have = found.get(k).copied().unwrap_or(0);
            let want = self.claimed.get(k).copied().unwrap_or(0);
            if have > want {
                extra.extend(uids.iter().rev().take((have - want) as usize));
            }
        }
        if extra.is_empty() {
            return Ok(());
        }
        let at = Location::default().with_folder(self.key.clone());
        if !c.caps.has("UIDPLUS") {
            self.report.findings.push(Finding::warning(
                FindingKind::Duplicate,
                at,
                format!("{} messages are on the server twice (a late APPEND of an interrupted run); without UIDPLUS they are left", extra.len()),
            ));
            return Ok(());
        }
        let q = crate::protocol::quoted(&self.job.mapped.wire).unwrap_or_default();
        c.session.run_ok(&format!("SELECT {q}"), "SELECT").await?;
        let set: Vec<String> = extra.iter().map(u32::to_string).collect();
        let set = set.join(",");
        c.session.run_ok(&format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)"), "UID STORE").await?;
        c.session.run_ok(&format!("UID EXPUNGE {set}"), "UID EXPUNGE").await?;
        let _ = c.session.run("UNSELECT").await;
        self.report.findings.push(Finding::info(
            FindingKind::Duplicate,
            at,
            format!(
                "{} copies appended twice (an interrupted run's APPEND landed late) were removed by UID",
                extra.len()
            ),
        ));
        Ok(())
    }

    /// After a reconnect: messages sent without an answer may or may not be
    /// there; the fresh scan decides.
    fn requeue_unconfirmed(&mut self) {
        let mut back: Vec<Pending> = self.inflight.drain(..).collect();
        self.inflight_bytes = 0;
        back.extend(self.todo.drain(..));
        for p in back {
            if self.claim(&p.key) {
                let size = p.data.len() as u64;
                self.to_journal.push((p.entry, self.uidvalidity));
                self.written(size, true);
            } else {
                self.todo.push_back(p);
            }
        }
    }

    /// Sends what may be sent and handles one answer.
    async fn step(&mut self, c: &mut Conn) -> Result<()> {
        let literal_plus = c.caps.has("LITERAL+");
        let q = crate::protocol::quoted(&self.job.mapped.wire).unwrap_or_default();
        if literal_plus {
            let multi = c.caps.has("MULTIAPPEND");
            while !self.todo.is_empty()
                && self.inflight.len() < self.shared.opts.window_messages
                && (self.inflight_bytes < self.shared.opts.window_bytes || self.inflight.is_empty())
            {
                // One APPEND command, holding up to a batch of messages
                // with MULTIAPPEND: Dovecot then commits (and fsyncs) once
                // per batch instead of once per message.
                let tag = c.session.tag();
                c.session.queue(format!("{tag} APPEND {q}").as_bytes());
                let (mut n, mut bytes) = (0usize, 0usize);
                while let Some(next) = self.todo.front() {
                    if n > 0
                        && (!multi
                            || next.alone
                            || n >= BATCH_MESSAGES
                            || bytes + next.data.len() > BATCH_BYTES)
                    {
                        break;
                    }
                    let Some(mut p) = self.todo.pop_front() else { break };
                    self.shared.limiter.lock().await.wait(p.data.len()).await;
                    let date = p.date.as_deref().map(|d| format!(" {d}")).unwrap_or_default();
                    c.session.queue(format!(" {}{date} {{{}+}}\r\n", p.flags, p.data.len()).as_bytes());
                    c.session.queue(&p.data);
                    n += 1;
                    bytes += p.data.len();
                    self.inflight_bytes += p.data.len();
                    p.tag = tag.clone();
                    let alone = p.alone;
                    self.inflight.push_back(p);
                    if alone {
                        break;
                    }
                    if c.session.queued() > (1 << 20) {
                        c.session.flush().await?;
                    }
                }
                c.session.queue(b"\r\n");
            }
            c.session.flush().await?;
        } else if self.inflight.is_empty() {
            if let Some(mut p) = self.todo.pop_front() {
                self.shared.limiter.lock().await.wait(p.data.len()).await;
                let date = p.date.as_deref().map(|d| format!(" {d}")).unwrap_or_default();
                p.tag =
                    c.session.queue_command(&format!("APPEND {q} {}{date} {{{}}}", p.flags, p.data.len()));
                c.session.flush().await?;
                loop {
                    match c.session.read().await? {
                        Resp::Continue(_) => break,
                        Resp::Tagged(t) if t.tag == p.tag => {
                            // Refused before the literal (too big, quota).
                            self.inflight.push_back(p);
                            return self.answer(t).await;
                        }
                        Resp::Status(t) if t.status == Status::Bye => {
                            self.todo.push_front(p);
                            return Err(ImapError::Closed {
                                server: c.session.server.clone(),
                                why: Some(t.text),
                            });
                        }
                        _ => {}
                    }
                }
                c.session.queue(&p.data);
                c.session.queue(b"\r\n");
                self.inflight_bytes += p.data.len();
                self.inflight.push_back(p);
                c.session.flush().await?;
            }
        }
        if self.inflight.is_empty() {
            return Ok(());
        }
        loop {
            match c.session.read().await? {
                Resp::Tagged(t) => return self.answer(t).await,
                Resp::Status(t) if t.status == Status::Bye => {
                    return Err(ImapError::Closed { server: c.session.server.clone(), why: Some(t.text) })
                }
                _ => {}
            }
        }
    }

    /// Handles the tagged answer to an APPEND (one message or a batch).
    async fn answer(&mut self, t: Tagged) -> Result<()> {
        let batch: Vec<Pending> = {
            let (mine, rest): (VecDeque<Pending>, VecDeque<Pending>) =
                std::mem::take(&mut self.inflight).into_iter().partition(|p| p.tag == t.tag);
            self.inflight = rest;
            mine.into()
        };
        if batch.is_empty() {
            return Ok(()); // an answer to something else (UNSELECT)
        }
        for p in &batch {
            self.inflight_bytes = self.inflight_bytes.saturating_sub(p.data.len());
        }
        if t.status == Status::Ok {
            let (validity, uids) = match &t.code {
                Some(Code::AppendUid { validity, uids }) if uids.len() == batch.len() => {
                    (Some(*validity), uids.clone())
                }
                _ => (None, Vec::new()),
            };
            if validity.is_some() {
                self.uidvalidity = validity;
            }
            for (i, mut p) in batch.into_iter().enumerate() {
                let size = p.data.len() as u64;
                p.entry.uid = uids.get(i).copied();
                match (p.flagged, p.entry.uid) {
                    (true, Some(uid)) => self.reflag.push(uid),
                    (true, None) => self.reflag_missing += 1,
                    _ => {}
                }
                *self.claimed.entry(p.key.clone()).or_insert(0) += 1;
                if let Some(uid) = p.entry.uid {
                    self.appended_uids.entry(p.key.clone()).or_default().push(uid);
                }
                self.to_journal.push((p.entry, self.uidvalidity));
                self.written(size, false);
            }
            return Ok(());
        }
        let code = t.code_name().unwrap_or_default();
        let text = t.text.to_ascii_lowercase();
        let throttled = matches!(code.as_str(), "THROTTLED" | "UNAVAILABLE" | "INUSE")
            || text.contains("throttl")
            || text.contains("try again")
            || text.contains("server unavailable");
        let tries = batch.iter().map(|p| p.throttled).max().unwrap_or(0);
        if throttled && tries < self.shared.opts.max_retries {
            let wait = backoff(tries + 1, suggested_delay(&t.text));
            self.report.findings.push(Finding::info(
                FindingKind::Unwritable,
                Location::default().with_folder(self.key.clone()),
                format!("throttled ({}); waited {:.1} s and retried", t.describe(), wait.as_secs_f64()),
            ));
            tokio::time::sleep(wait).await;
            for mut p in batch.into_iter().rev() {
                p.throttled += 1;
                self.todo.push_front(p);
            }
            return Ok(());
        }
        if batch.len() > 1 {
            // MULTIAPPEND is all or nothing: send them one by one to learn
            // which message the server refuses.
            for mut p in batch.into_iter().rev() {
                p.alone = true;
                self.todo.push_front(p);
            }
            return Ok(());
        }
        let (kind, what) = match code.as_str() {
            "OVERQUOTA" => (FindingKind::Unwritable, "over quota"),
            "TOOBIG" | "LIMIT" => (FindingKind::TooLarge, "too big for the server"),
            "TRYCREATE" => (FindingKind::Unwritable, "the folder is gone"),
            _ if text.contains("quota") => (FindingKind::Unwritable, "over quota"),
            _ => (FindingKind::Unwritable, "refused"),
        };
        for p in batch {
            let size = p.data.len();
            self.skip(Finding::error(
                kind,
                p.origin.clone(),
                format!("not uploaded, {what}: {} ({size} bytes)", t.describe()),
            ));
        }
        Ok(())
    }

    fn commit(&mut self, journal: &mut Journal) -> Result<()> {
        if self.to_journal.is_empty() || self.shared.opts.dry_run {
            self.to_journal.clear();
            return Ok(());
        }
        let batch = std::mem::take(&mut self.to_journal);
        journal.record(&self.shared.account, &self.job.mapped.wire, &batch)
    }

    /// Microsoft 365 drops `\Flagged` at APPEND: set it again by UID.
    async fn reflag_m365(&mut self, c: &mut Conn) -> Result<()> {
        let at = Location::default().with_folder(self.key.clone());
        if self.reflag_missing > 0 {
            self.report.findings.push(Finding::warning(
                FindingKind::Mismatch,
                at.clone(),
                format!(
                    "{} flagged messages got no UID (no UIDPLUS): \\Flagged may be lost on Microsoft 365",
                    self.reflag_missing
                ),
            ));
        }
        if self.reflag.is_empty() {
            return Ok(());
        }
        let q = crate::protocol::quoted(&self.job.mapped.wire).unwrap_or_default();
        c.session.run_ok(&format!("SELECT {q}"), "SELECT").await?;
        for chunk in self.reflag.chunks(500) {
            let set: Vec<String> = chunk.iter().map(u32::to_string).collect();
            let (_, t) =
                c.session.run(&format!("UID STORE {} +FLAGS.SILENT (\\Flagged)", set.join(","))).await?;
            if t.status != Status::Ok {
                self.report.findings.push(Finding::warning(
                    FindingKind::Mismatch,
                    at.clone(),
                    format!("re-setting \\Flagged failed: {}", t.describe()),
                ));
            }
        }
        let _ = c.session.run("UNSELECT").await;
        Ok(())
    }
}

/// "try again in 30 seconds" → 30 s.
fn suggested_delay(text: &str) -> Option<Duration> {
    let lower = text.to_ascii_lowercase();
    let words: Vec<&str> =
        lower.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    words
        .windows(2)
        .find_map(|w| {
            let n: u64 = w[0].parse().ok()?;
            match w[1] {
                "s" | "sec" | "secs" | "second" | "seconds" => Some(Duration::from_secs(n)),
                "ms" | "milliseconds" => Some(Duration::from_millis(n)),
                "min" | "minute" | "minutes" => Some(Duration::from_secs(n * 60)),
                _ => None,
            }
        })
        .map(|d| d.min(Duration::from_secs(900)))
}

/// The logical key (Message-ID, or Date/From/To/Subject) from the header
/// block alone: the same for a whole message and for the header fields the
/// scan fetches.
fn logical(raw: &[u8]) -> String {
    Fingerprint::of(headers::header_block(raw)).logical.0
}

/// The message as IMAP wants it: every bare LF as CRLF.
pub fn crlf(raw: &[u8]) -> Vec<u8> {
    let extra = memchr::memchr_iter(b'\n', raw).count();
    let mut out = Vec::with_capacity(raw.len() + extra);
    let mut start = 0;
    for i in memchr::memchr_iter(b'\n', raw) {
        if i > 0 && raw[i - 1] == b'\r' {
            continue;
        }
        out.extend_from_slice(&raw[start..i]);
        out.extend_from_slice(b"\r\n");
        start = i + 1;
    }
    out.extend_from_slice(&raw[start..]);
    out
}

/// `--max-msgs-per-sec` and `--max-bytes-per-sec`, shared by all
/// connections: each send waits until the totals so far fit the rates.
#[derive(Debug)]
struct Limiter {
    msgs: Option<f64>,
    bytes: Option<f64>,
    start: Instant,
    sent_msgs: f64,
    sent_bytes: f64,
}

impl Limiter {
    fn new(msgs: Option<f64>, bytes: Option<f64>) -> Self {
        Limiter {
            msgs: msgs.filter(|r| *r > 0.0),
            bytes: bytes.filter(|r| *r > 0.0),
            start: Instant::now(),
            sent_msgs: 0.0,
            sent_bytes: 0.0,
        }
    }

    async fn wait(&mut self, bytes: usize) {
        if self.msgs.is_none() && self.bytes.is_none() {
            return;
        }
        let due = |count: f64, rate: Option<f64>| rate.map_or(0.0, |r| count / r);
        let at = due(self.sent_msgs, self.msgs).max(due(self.sent_bytes, self.bytes));
        let now = self.start.elapsed().as_secs_f64();
        if at > now {
            tokio::time::sleep(Duration::from_secs_f64(at - now)).await;
        }
        self.sent_msgs += 1.0;
        self.sent_bytes += bytes as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_and_delays() {
        assert_eq!(crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
        assert_eq!(
            suggested_delay("Server Unavailable. 15. Try again in 30 seconds"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(suggested_delay("no"), None);
        assert!(backoff(1, None) >= Duration::from_millis(500));
        assert!(backoff(30, None) <= Duration::from_secs(90));
    }
}
