//! Writing mboxrd: one file for one folder ([`MboxSink::file`]) or a
//! Thunderbird-style tree ([`MboxSink::tree`], names in [`crate::names`]).
//!
//! Each message is written as:
//! - `From SENDER DATE` (sender from the envelope or `MAILER-DAEMON`, date
//!   from `received`, else the `Date` header, else the epoch; asctime in
//!   UTC), ended like the message's own lines (LF or CRLF);
//! - the message with its flags as `Status`/`X-Status`/`X-Keywords` lines
//!   added at the end of its header (any bookkeeping lines it had are
//!   replaced, see [`crate::meta::BOOKKEEPING`]), and a `Content-Length`
//!   only when its last line has no line end (so the reader can give back
//!   exactly those bytes; a message that is all header, or whose header
//!   needs quoting, gets a line end added instead);
//! - every `^>*From ` line with one more `>` (except in a message given a
//!   Content-Length, which readers do not un-quote);
//! - the separator blank line.
//!
//! Crash safety: each folder is written to a dot-named temp file beside its
//! final name, and [`FolderWriter::commit`] syncs it and renames it over the
//! final name, then syncs the directory. A re-run rewrites the folder
//! completely, so its result is that of one clean run.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use mailshift_model::{
    durable, Error, Finding, FindingKind, FolderPath, FolderWriter, Location, Message, Result, Sink,
    Timestamp, WriteOutcome,
};

use crate::{from_line, meta, names};

#[derive(Debug)]
enum Target {
    File(PathBuf),
    Tree(PathBuf),
}

/// An mboxrd destination.
#[derive(Debug)]
pub struct MboxSink {
    target: Target,
    /// The one folder a single-file sink holds.
    bound: Mutex<Option<FolderPath>>,
}

impl MboxSink {
    /// Everything into the one mboxrd file at `path`; a second folder is
    /// refused.
    pub fn file(path: &Path) -> Result<Self> {
        let loc = Location::path(path);
        if path.is_dir() {
            return Err(Error::refused(loc, "is a directory; an mbox file was asked for"));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| Error::io(loc, e))?;
        }
        Ok(MboxSink { target: Target::File(path.to_path_buf()), bound: Mutex::new(None) })
    }

    /// One mboxrd file per folder under `dir`: `Inbox`, `Name`, `Name.sbd/Child`.
    pub fn tree(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| Error::io(Location::path(dir), e))?;
        Ok(MboxSink { target: Target::Tree(dir.to_path_buf()), bound: Mutex::new(None) })
    }
}

impl Sink for MboxSink {
    fn describe(&self) -> String {
        match &self.target {
            Target::File(p) => format!("mboxrd file at {}", p.display()),
            Target::Tree(p) => format!("mboxrd tree at {}", p.display()),
        }
    }

    fn open_folder(&self, folder: &FolderPath) -> Result<Box<dyn FolderWriter + '_>> {
        let dest = match &self.target {
            Target::File(path) => {
                let mut bound = self.bound.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                match &*bound {
                    Some(b) if b.key() != folder.key() => {
                        return Err(Error::refused(
                            Location::path(path).with_folder(folder.key()),
                            format!(
                                "one mbox file holds one folder, and it already holds {:?}\nhint: write to a directory to get one mbox file per folder",
                                b.key()
                            ),
                        ));
                    }
                    _ => *bound = Some(folder.clone()),
                }
                path.clone()
            }
            Target::Tree(dir) => {
                let loc = Location::path(dir).with_folder(folder.key());
                dir.join(names::folder_file(folder, &loc)?)
            }
        };
        Ok(Box::new(MboxFolderWriter::create(dest, folder)?))
    }
}

/// Writes one folder's mbox file (see the module docs).
#[derive(Debug)]
struct MboxFolderWriter {
    tmp: PathBuf,
    dest: PathBuf,
    out: BufWriter<File>,
    renamed: bool,
    location: Location,
    scratch: Vec<u8>,
    findings: Vec<Finding>,
}

/// Removes the `.NAME.mailshift-PID.tmp` files a killed run left beside the
/// mbox file `name` in `dir` (a run that is not killed removes its own).
/// Returns how many.
fn remove_stale_temps(dir: &Path, name: &str) -> io::Result<u64> {
    mailshift_model::durable::remove_pid_temps(dir, &format!(".{name}.mailshift-"))
}

impl MboxFolderWriter {
    fn create(dest: PathBuf, folder: &FolderPath) -> Result<Self> {
        let location = Location::path(&dest).with_folder(folder.key());
        let io = |e| Error::io(location.clone(), e);
        let dir = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
        fs::create_dir_all(&dir).map_err(io)?;
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let removed = remove_stale_temps(&dir, &name).map_err(io)?;
        let mut findings = Vec::new();
        if removed > 0 {
            findings.push(Finding::info(
                FindingKind::Leftover,
                location.clone(),
                format!("removed {removed} temporary file(s) left by an interrupted run"),
            ));
        }
        let tmp = dir.join(format!(".{name}.mailshift-{}.tmp", std::process::id()));
        let file = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp).map_err(io)?;
        Ok(MboxFolderWriter {
            tmp,
            dest,
            out: BufWriter::with_capacity(1 << 20, file),
            renamed: false,
            location,
            scratch: Vec::new(),
            findings,
        })
    }
}

impl FolderWriter for MboxFolderWriter {
    fn write(&mut self, message: &Message) -> Result<WriteOutcome> {
        self.scratch.clear();
        write_message(&mut self.scratch, message);
        self.out.write_all(&self.scratch).map_err(|e| Error::io(self.location.clone(), e))?;
        Ok(WriteOutcome::Written)
    }

    fn commit(&mut self) -> Result<()> {
        let io = |e| Error::io(self.location.clone(), e);
        self.out.flush().map_err(io)?;
        self.out.get_ref().sync_all().map_err(io)?;
        if !self.renamed {
            fs::rename(&self.tmp, &self.dest).map_err(io)?;
            self.renamed = true;
        }
        let dir = self.dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        durable::sync_dir(dir).map_err(io)
    }

    fn take_findings(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.findings)
    }
}

impl Drop for MboxFolderWriter {
    fn drop(&mut self) {
        if !self.renamed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Appends one message in mboxrd form (From_ line, message, separator
/// blank line) to `out`.
pub fn write_message(out: &mut Vec<u8>, message: &Message) {
    let raw = &message.raw[..];
    let eol: &[u8] = match memchr::memchr(b'\n', raw) {
        _ if raw.ends_with(b"\r") => b"\r\n",
        Some(i) if i > 0 && raw[i - 1] == b'\r' => b"\r\n",
        _ => b"\n",
    };
    let env = &message.envelope;
    let sender = env
        .sender
        .as_deref()
        .filter(|s| !s.is_empty() && !s.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()))
        .unwrap_or("MAILER-DAEMON");
    // asctime has four-digit years only
    let date = env.received.or_else(|| header_date(raw)).filter(|d| {
        let year = chrono::Datelike::year(&d.with_timezone(&chrono::Utc));
        (0..=9999).contains(&year)
    });
    let date = date.map_or_else(|| "Thu Jan  1 00:00:00 1970".to_owned(), |d| from_line::asctime(&d));
    out.extend_from_slice(b"From ");
    out.extend_from_slice(sender.as_bytes());
    out.push(b' ');
    out.extend_from_slice(date.as_bytes());
    out.extend_from_slice(eol);

    let mut body = raw.to_vec();
    meta::strip(&mut body);
    let mut added = meta::flag_headers(&env.flags, eol);
    let header_end = mailshift_model::headers::header_block(&body).len();
    if header_end == body.len() {
        // All header, no body: the flag lines go last, after a line end if
        // the message lacks one (given back, documented), so that they
        // cannot take a message line as their continuation.
        out.extend_from_slice(&quote_rd(&body));
        if !body.is_empty() && !body.ends_with(b"\n") {
            out.extend_from_slice(eol);
        }
        out.extend_from_slice(&added);
        out.extend_from_slice(eol);
        return;
    }
    // The new lines go before the blank line that ends the header. A last
    // line without its line end is given back exactly thanks to a
    // Content-Length, mboxcl2 style: that body is not quoted, since readers
    // do not un-quote a body whose length they were given (nor is its
    // header, so a header needing quotes gets the line end added instead).
    let ends_line = body.ends_with(b"\n");
    let counted = !ends_line && quote_rd(&body[..header_end]).len() == header_end;
    let rest = if counted { body[header_end..].to_vec() } else { quote_rd(&body[header_end..]) };
    if counted {
        let blank = meta::header_len(&body) - header_end;
        added.extend_from_slice(format!("Content-Length: {}", rest.len() - blank).as_bytes());
        added.extend_from_slice(eol);
    }
    out.extend_from_slice(&quote_rd(&body[..header_end]));
    out.extend_from_slice(&added);
    out.extend_from_slice(&rest);
    if !ends_line {
        out.extend_from_slice(eol);
    }
    out.extend_from_slice(eol);
}

/// mboxrd quoting: one more `>` on every line matching `^>*From `.
fn quote_rd(raw: &[u8]) -> Vec<u8> {
    if memchr::memmem::find(raw, b"From ").is_none() {
        return raw.to_vec();
    }
    let mut out = Vec::with_capacity(raw.len() + 64);
    let mut pos = 0;
    while pos < raw.len() {
        let end = memchr::memchr(b'\n', &raw[pos..]).map_or(raw.len(), |i| pos + i + 1);
        let line = &raw[pos..end];
        let quotes = line.iter().take_while(|b| **b == b'>').count();
        if line[quotes..].starts_with(b"From ") {
            out.push(b'>');
        }
        out.extend_from_slice(line);
        pos = end;
    }
    out
}

/// The message's `Date` header, where it parses.
fn header_date(raw: &[u8]) -> Option<Timestamp> {
    let v = mailshift_model::headers::get(raw, "Date")?;
    let s = String::from_utf8_lossy(&v);
    chrono::DateTime::parse_from_rfc2822(s.trim()).ok()
}

/// Writes `messages` as one mboxrd file at `path`, crash-safely (for tests
/// and small tools).
pub fn write_file(path: &Path, messages: &[Message]) -> io::Result<()> {
    let mut out = Vec::new();
    for m in messages {
        write_message(&mut out, m);
    }
    durable::write_file_atomic(path, &out)
}
