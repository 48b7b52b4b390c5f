//! The upload: source folders into server folders, pipelined, resumable,
//! without duplicates.
//!
//! - Folders go to `jobs` connections, biggest first; each connection owns
//!   the folders it takes.
//! - On request ([`UploadOptions::split_min_bytes`]), a folder that holds
//!   more than its share of the mailbox (one big INBOX) is split over all
//!   `jobs` connections at once: each message goes to the
//!   shard its logical key (Message-ID or Date/From/To/Subject, and size)
//!   hashes to, and each shard's dedup scan counts only the server's
//!   messages of its own keys. Copies of one message therefore always meet
//!   in one shard, so the journal, the scan and the settling at the end
//!   work per shard exactly as for a whole folder. The price: the UIDs of a
//!   split folder no longer follow the source order (each message keeps its
//!   INTERNALDATE, which is what clients sort by).
//! - Each folder's units are read on a blocking thread, which also does the
//!   CPU work per message (CRLF, hashes), into small bounded channels, so
//!   memory is bounded by the channels, the in-flight windows and the
//!   largest message, never by the mailbox.
//! - Before appending, the server's copy of the folder is scanned
//!   (RFC822.SIZE and the Message-ID/Date/From/To/Subject header fields):
//!   a message whose logical key and size are already there is counted as
//!   already present, as is one the journal lists. This makes re-runs,
//!   runs after a crash and folders filled by another tool duplicate-free.
//! - APPENDs carry flags, keywords and INTERNALDATE. With LITERAL+ they are
//!   pipelined (many in flight, no wait for continuations); without it one
//!   message is sent at a time with a synchronising literal.
//! - Confirmed APPENDs are journaled in one SQLite transaction per answered
//!   MULTIAPPEND batch (or 256 single APPENDs).
//! - A connection that waits (for the source, or for the other shards)
//!   sends NOOP after [`crate::connection::ConnectOptions::keepalive`]; one
//!   whose OAuth2 token is about to expire finishes what it has in flight
//!   and logs in again.
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
    /// Connections in parallel: each takes whole folders, except a folder
    /// split over all of them (see `split_min_bytes`).
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
    /// A folder at least this big that holds at least a `1/jobs` share of
    /// the mailbox is split over all connections. Off by default
    /// (`u64::MAX`): measured on Dovecot (maildir), 20,000 messages into one
    /// folder took 63 s split over 4 connections against 45 s over one, as
    /// each connection re-reads the folder after the others' commits. For
    /// servers that limit each connection (Microsoft 365) it can help.
    pub split_min_bytes: u64,
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
            split_min_bytes: u64::MAX,
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
    /// Which part of the folder this job handles.
    shard: Shard,
}

/// A part of a folder: the messages whose key hashes to `index` of
/// `count`. `count == 1` is the whole folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// The shard a key belongs to. SipHash with fixed keys: the same in
    /// every shard of a run (runs need not agree: the journal and the scan
    /// do not depend on shards).
    fn of(key: &Key, count: usize) -> usize {
        if count <= 1 {
            return 0;
        }
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        key.hash(&mut h);
        (h.finish() % count as u64) as usize
    }

    fn holds(&self, key: &Key) -> bool {
        Shard::of(key, self.count) == self.index
    }
}

/// A message prepared on the reader thread: the CRLF bytes IMAP wants, its
/// dedup key and exact hash (the CPU work, off the network tasks).
#[derive(Debug)]
struct Ready {
    m: Message,
    data: Vec<u8>,
    key: Key,
    hash: String,
}

/// What the reader hands a folder's connection.
#[derive(Debug)]
enum Fed {
    Message(Ready),
    Other(Item),
}

impl Ready {
    fn new(m: Message) -> Ready {
        let data = crlf(&m.raw);
        let key = (logical(&data), data.len() as u64);
        let hash = m.exact_hash().to_hex();
        Ready { m, data, key, hash }
    }
}

/// Reads a folder's units on a blocking thread and hands each message to
/// the shard of its key (findings to the first shard). A shard whose
/// connection gave up is skipped; reading stops when none is left or the
/// run is cancelled.
fn spawn_reader(
    source: Arc<dyn Source>,
    units: Vec<Unit>,
    senders: Vec<mpsc::Sender<Fed>>,
) -> tokio::task::JoinHandle<()> {
    tokio::task::spawn_blocking(move || {
        let count = senders.len();
        let mut alive = vec![true; count];
        for unit in &units {
            let r = source.read_unit(unit, &mut |item| {
                let (i, fed) = match item {
                    Item::Message(m) => {
                        let r = Ready::new(m);
                        (Shard::of(&r.key, count), Fed::Message(r))
                    }
                    other => (alive.iter().position(|a| *a).unwrap_or(0), Fed::Other(other)),
                };
                if alive[i] && senders[i].blocking_send(fed).is_err() {
                    alive[i] = false;
                }
                if alive.iter().any(|a| *a) {
                    std::ops::ControlFlow::Continue(())
                } else {
                    std::ops::ControlFlow::Break(())
                }
            });
            if let Err(e) = r {
                let f = Finding::error(
                    FindingKind::Unreadable,
                    e.location.clone(),
                    format!("unit not read on: {e}"),
                );
                if let Some(i) = alive.iter().position(|a| *a) {
                    let _ = senders[i].blocking_send(Fed::Other(Item::Finding(f)));
                }
            }
            if !alive.iter().any(|a| *a) {
                break;
            }
        }
    })
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
                shard: Shard::WHOLE,
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
    let workers = shared.opts.jobs.max(1);
    // A folder bigger than its share of the mailbox would keep one
    // connection busy long after the others are done: split it.
    let (split, whole): (Vec<FolderJob>, Vec<FolderJob>) = jobs.into_iter().partition(|j| {
        workers > 1
            && j.refused.is_none()
            && j.bytes >= shared.opts.split_min_bytes
            && j.bytes * workers as u64 >= jobs_bytes
    });
    // The connection that made the folders is logged in already: the first
    // worker goes on with it (a TLS handshake and a login saved). Split
    // folders open their own, so then it is closed rather than left idle.
    let spare = if split.is_empty() && !whole.is_empty() {
        Some(conn)
    } else {
        conn.logout().await;
        None
    };
    let queue = Arc::new(std::sync::Mutex::new(VecDeque::from(whole)));
    let mut all = tokio::spawn(schedule(Arc::clone(&shared), split, queue, workers, spare));
    // The workers run as tasks; the bar is fed from here, where the
    // (non-'static) progress lives. The end is taken as soon as it comes,
    // not at the next tick.
    progress.begin(jobs_units, jobs_bytes);
    let mut shown = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let results = loop {
        tokio::select! {
            done = &mut all => break done,
            _ = tick.tick() => {}
        }
        let now = shared.handled.load(Ordering::Relaxed);
        if now > shown {
            progress.message(now - shown);
            shown = now;
        }
    };
    let now = shared.handled.load(Ordering::Relaxed);
    if now > shown {
        progress.message(now - shown);
    }
    progress.end();
    let mut first_error = None;
    let mut cancelled = false;
    let results = results.map_err(|e| ImapError::Internal(format!("the upload failed: {e}")))?;
    for r in results {
        match r {
            Ok((r, c)) => {
                report.merge(r);
                cancelled |= c;
            }
            Err((r, e)) => {
                report.merge(r);
                first_error.get_or_insert(e);
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

/// The split folders first, one after the other, each over `workers`
/// connections at once (all shards of a folder run together, so the reader
/// that feeds them never waits for a shard nobody runs); then the other
/// folders, a whole folder per connection.
async fn schedule(
    shared: Arc<Shared>,
    split: Vec<FolderJob>,
    queue: Arc<std::sync::Mutex<VecDeque<FolderJob>>>,
    workers: usize,
    mut spare: Option<Conn>,
) -> Vec<WorkerResult> {
    let mut results = Vec::new();
    for job in split {
        let stop = shared.opts.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed));
        if stop {
            break;
        }
        results.extend(run_split(&shared, job, workers).await);
        if results.iter().any(|r| r.is_err()) {
            return results; // the journal holds what was confirmed: a re-run resumes
        }
    }
    let mut handles = Vec::new();
    for _ in 0..workers {
        let shared = Arc::clone(&shared);
        let queue = Arc::clone(&queue);
        let conn = spare.take();
        handles.push(tokio::spawn(async move { worker(shared, queue, conn).await }));
    }
    for h in handles {
        results.push(match h.await {
            Ok(r) => r,
            Err(e) => Err((Report::new("upload"), ImapError::Internal(format!("a worker failed: {e}")))),
        });
    }
    results
}

/// One folder over `count` connections, a shard each.
async fn run_split(shared: &Arc<Shared>, job: FolderJob, count: usize) -> Vec<WorkerResult> {
    // A killed run may have left APPENDs landing late: wait for the whole
    // folder to settle once, before the shards scan their parts.
    if !shared.opts.dry_run {
        if let Err(e) = settle_before_split(shared, &job).await {
            return vec![Err((Report::new("upload"), e))];
        }
    }
    let mut senders = Vec::new();
    let mut handles = Vec::new();
    for index in 0..count {
        let (tx, rx) = mpsc::channel::<Fed>(16);
        senders.push(tx);
        let shared = Arc::clone(shared);
        let mut part = job.clone();
        part.shard = Shard { index, count };
        handles.push(tokio::spawn(async move {
            let mut journal = match Journal::open(&shared.opts.journal) {
                Ok(j) => j,
                Err(e) => return Err((Report::new("upload"), e)),
            };
            let mut conn = None;
            let mut f = FolderRun::new(&shared, &part);
            let r = f.run(&mut conn, &mut journal, rx).await;
            let cancelled = f.cancelled;
            let report = f.into_report();
            if let Some(c) = conn {
                c.logout().await;
            }
            match r {
                Ok(()) => Ok((report, cancelled)),
                Err(e) => Err((report, e)),
            }
        }));
    }
    let reader = spawn_reader(Arc::clone(&shared.source), job.units.clone(), senders);
    let mut results = Vec::new();
    for h in handles {
        results.push(match h.await {
            Ok(r) => r,
            Err(e) => Err((Report::new("upload"), ImapError::Internal(format!("a worker failed: {e}")))),
        });
    }
    let _ = reader.await;
    results
}

/// Before a folder is split: if a killed run left APPENDs unanswered, wait
/// until the folder stops changing, then forget them.
async fn settle_before_split(shared: &Arc<Shared>, job: &FolderJob) -> Result<()> {
    let journal = Journal::open(&shared.opts.journal)?;
    if journal.pending(&shared.account, &job.mapped.wire)? == 0 {
        return Ok(());
    }
    let mut conn = None;
    let mut retries = 0;
    let mut f = FolderRun::new(shared, job);
    f.ensure(&mut conn, &mut retries).await?;
    f.await_late_appends(&mut conn, &mut retries).await?;
    journal.clear_pending(&shared.account, &job.mapped.wire)?;
    if let Some(c) = conn {
        c.logout().await;
    }
    Ok(())
}

async fn worker(
    shared: Arc<Shared>,
    queue: Arc<std::sync::Mutex<VecDeque<FolderJob>>>,
    conn: Option<Conn>,
) -> WorkerResult {
    let mut report = Report::new("upload");
    let mut journal = match Journal::open(&shared.opts.journal) {
        Ok(j) => j,
        Err(e) => return Err((report, e)),
    };
    let mut conn = conn;
    let mut cancelled = false;
    loop {
        let job = match queue.lock() {
            Ok(mut q) => q.pop_front(),
            Err(_) => None,
        };
        let Some(job) = job else { break };
        let (tx, rx) = mpsc::channel::<Fed>(16);
        let reader = spawn_reader(Arc::clone(&shared.source), job.units.clone(), vec![tx]);
        let mut f = FolderRun::new(&shared, &job);
        let r = f.run(&mut conn, &mut journal, rx).await;
        let _ = reader.await;
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
    /// This connection's share of the in-flight window (a split folder's
    /// shards share the folder's).
    window_bytes: usize,
    window_messages: usize,
    /// (hash, occurrence) recorded as pending by this shard.
    intended: Vec<(String, u32)>,
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
            window_bytes: share(shared.opts.window_bytes, job.shard.count, 4 << 20),
            window_messages: share(shared.opts.window_messages, job.shard.count, 2 * BATCH_MESSAGES),
            intended: Vec::new(),
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

    /// Runs the folder (or shard) fed by `rx` to the end.
    async fn run(
        &mut self,
        conn: &mut Option<Conn>,
        journal: &mut Journal,
        mut rx: mpsc::Receiver<Fed>,
    ) -> Result<()> {
        let result = self.drive(conn, journal, &mut rx).await;
        // Dropping the receiver tells the reader this shard takes no more.
        drop(rx);
        result
    }

    async fn drive(
        &mut self,
        conn: &mut Option<Conn>,
        journal: &mut Journal,
        rx: &mut mpsc::Receiver<Fed>,
    ) -> Result<()> {
        if let Some(why) = self.job.refused.clone() {
            while let Some(fed) = rx.recv().await {
                self.count_read(&fed);
                match fed {
                    Fed::Message(r) => {
                        let at = self.at(&r.m.envelope.origin);
                        self.skip(Finding::error(
                            FindingKind::Name,
                            at,
                            format!("folder refused by the server: {why}"),
                        ));
                    }
                    Fed::Other(item) => self.other_item(item),
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
            // A split folder was settled before its shards started.
            if self.job.shard.count == 1 && journal.pending(&self.shared.account, &wire)? > 0 {
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
                // Waiting for the source (a slow PST, or a reader busy
                // feeding the other shards): keep the connection alive.
                let idle = self.shared.connector.opts.keepalive.max(Duration::from_millis(100));
                match tokio::time::timeout(idle, rx.recv()).await {
                    Ok(Some(fed)) => self.accept(fed),
                    Ok(None) => source_done = true,
                    Err(_) => {
                        if let Some(c) = conn.as_mut() {
                            if c.keepalive(idle).await.is_err() {
                                // Gone: the next send reconnects and rescans.
                                *conn = None;
                            }
                        }
                    }
                }
                continue;
            }
            if dry {
                while let Some(p) = self.todo.pop_front() {
                    self.written(p.data.len() as u64, false);
                }
                continue;
            }
            // Each message is recorded as pending once, before its first
            // send: one transaction for what the next step may send.
            let intents: Vec<&Entry> = self.todo.iter().filter(|p| !p.intended).map(|p| &p.entry).collect();
            if !intents.is_empty() {
                journal.intend(&self.shared.account, &wire, &intents)?;
                for p in &mut self.todo {
                    if !p.intended && self.job.shard.count > 1 {
                        self.intended.push((p.entry.hash.clone(), p.entry.occurrence));
                    }
                    p.intended = true;
                }
            }
            // An OAuth2 session about to expire: once what it carries is
            // answered, log in again with a fresh token.
            if self.inflight.is_empty() && conn.as_ref().is_some_and(|c| c.must_renew()) {
                if let Some(old) = conn.take() {
                    old.logout().await;
                }
                self.commit(journal)?;
                *conn = Some(connect_retry(&self.shared.connector, self.shared.opts.max_retries).await?);
            }
            let step = match conn.as_mut() {
                Some(c) => self.step(c, rx, &mut source_done).await,
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
            if self.job.shard.count == 1 {
                journal.clear_pending(&self.shared.account, &wire)?;
            } else {
                // The other shards' rows stay until they are done.
                journal.clear_pending_of(&self.shared.account, &wire, &self.intended)?;
            }
        }
        if !dry && self.shared.m365 {
            if let Some(c) = conn.as_mut() {
                self.reflag_m365(c).await?;
            }
        }
        Ok(())
    }

    /// Whether `todo` should go out now although the server is still busy
    /// with an earlier batch: it fills a MULTIAPPEND batch, the window
    /// allows no more messages to gather, or its first message must go
    /// alone. Otherwise the connection waits for the server's answer and
    /// keeps gathering, so batches are full whatever the source's speed
    /// (a server that is idle gets what there is at once).
    fn batch_ready(&self) -> bool {
        self.todo.len() >= BATCH_MESSAGES
            || self.todo_bytes() >= BATCH_BYTES
            || !self.room()
            || self.todo.front().is_some_and(|p| p.alone)
    }

    /// Bytes of the messages waiting to be sent.
    fn todo_bytes(&self) -> usize {
        self.todo.iter().map(|p| p.data.len()).sum()
    }

    /// Whether another message may be taken from the source.
    fn room(&self) -> bool {
        let n = self.todo.len() + self.inflight.len();
        let bytes = self.inflight_bytes + self.todo_bytes();
        n < self.window_messages && (bytes < self.window_bytes || n == 0)
    }

    fn count_read(&mut self, fed: &Fed) {
        match fed {
            Fed::Message(r) => {
                let size = r.m.size();
                self.shared.handled.fetch_add(size, Ordering::Relaxed);
                self.stats.read += 1;
                self.stats.bytes += size;
                self.report.read += 1;
                self.report.bytes_read += size;
            }
            Fed::Other(Item::Skipped(_)) => {
                self.stats.read += 1;
                self.report.read += 1;
            }
            Fed::Other(_) => {}
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
    fn accept(&mut self, fed: Fed) {
        self.count_read(&fed);
        let Ready { m, data, key, hash } = match fed {
            Fed::Message(r) => r,
            Fed::Other(other) => return self.other_item(other),
        };
        let at = self.at(&m.envelope.origin);
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
        let occ = self.occurrences.entry(hash.clone()).or_insert(0);
        let occurrence = *occ;
        *occ += 1;
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
                        if self.job.shard.holds(&key) {
                            *found.entry(key).or_insert(0) += 1;
                        }
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
    async fn step(
        &mut self,
        c: &mut Conn,
        rx: &mut mpsc::Receiver<Fed>,
        source_done: &mut bool,
    ) -> Result<()> {
        let literal_plus = c.caps.has("LITERAL+");
        let q = crate::protocol::quoted(&self.job.mapped.wire).unwrap_or_default();
        if literal_plus {
            let multi = c.caps.has("MULTIAPPEND");
            while !self.todo.is_empty()
                && self.inflight.len() < self.window_messages
                && (self.inflight_bytes < self.window_bytes || self.inflight.is_empty())
                && !c.must_renew()
                && (!multi || self.inflight.is_empty() || *source_done || self.batch_ready())
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
                            || bytes + next.data.len() > BATCH_BYTES
                            || c.must_renew())
                    {
                        break;
                    }
                    let Some(mut p) = self.todo.pop_front() else { break };
                    // A rate limit that makes us wait closes the batch after
                    // this message: one command is not held open for long.
                    let waited = self.shared.limiter.lock().await.wait(p.data.len()).await;
                    let date = p.date.as_deref().map(|d| format!(" {d}")).unwrap_or_default();
                    c.session.queue(format!(" {}{date} {{{}+}}\r\n", p.flags, p.data.len()).as_bytes());
                    c.session.queue(&p.data);
                    n += 1;
                    bytes += p.data.len();
                    self.inflight_bytes += p.data.len();
                    p.tag = tag.clone();
                    let alone = p.alone;
                    self.inflight.push_back(p);
                    if alone || waited {
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
            // While the server works, keep taking from the source up to the
            // window, so the next APPEND is a full MULTIAPPEND batch. Taking
            // only what the small source channel held made batches of ~16
            // messages: on Dovecot every batch is a transaction that
            // re-reads the folder's uidlist, which made a 20,000-message
            // folder 2.4x slower than with full batches.
            let take = !*source_done && self.room();
            tokio::select! {
                biased;
                resp = c.session.read() => match resp? {
                    Resp::Tagged(t) => return self.answer(t).await,
                    Resp::Status(t) if t.status == Status::Bye => {
                        return Err(ImapError::Closed { server: c.session.server.clone(), why: Some(t.text) })
                    }
                    _ => {}
                },
                fed = rx.recv(), if take => match fed {
                    Some(fed) => self.accept(fed),
                    None => *source_done = true,
                },
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

/// A shard's part of a window: `total / count`, but not below `floor`
/// (small windows make small MULTIAPPEND batches), nor above `total`.
fn share(total: usize, count: usize, floor: usize) -> usize {
    (total / count.max(1)).max(floor).min(total)
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

    /// Waits until one more message of `bytes` fits the rates; whether it
    /// had to wait.
    async fn wait(&mut self, bytes: usize) -> bool {
        if self.msgs.is_none() && self.bytes.is_none() {
            return false;
        }
        let due = |count: f64, rate: Option<f64>| rate.map_or(0.0, |r| count / r);
        let at = due(self.sent_msgs, self.msgs).max(due(self.sent_bytes, self.bytes));
        let now = self.start.elapsed().as_secs_f64();
        let waits = at > now;
        if waits {
            tokio::time::sleep(Duration::from_secs_f64(at - now)).await;
        }
        self.sent_msgs += 1.0;
        self.sent_bytes += bytes as f64;
        waits
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
