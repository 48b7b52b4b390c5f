//! The streaming mbox reader: bytes in, [`Item`]s out, one message held at
//! a time. See the crate docs for the rules it applies.

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::Path;

use mailshift_model::{Envelope, Error, Finding, FindingKind, FolderPath, Item, Location, Message, Result};

use crate::input::Input;
use crate::{from_line, meta, MboxReadOptions, MboxVariant};

/// A Content-Length larger than this is not looked ahead for (a liar would
/// make the reader hold that many bytes); the message is split on From_
/// lines instead, with a `bad_content_length` finding.
pub const MAX_CONTENT_LENGTH: u64 = 128 << 20;

/// After this many lying Content-Length headers a file's others are not
/// trusted either (each liar costs a look-ahead of up to its claim).
pub const MAX_BAD_CONTENT_LENGTHS: u64 = 16;

/// How much of a garbage line is kept to check whether it is a From_ line.
const KEEP_GARBAGE: usize = 4096;

const BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug)]
enum State {
    /// Nothing read yet.
    Start,
    /// The From_ line of the next message has been read, at this offset.
    Separator(Vec<u8>, u64),
    Done,
}

/// What ended a message.
enum End {
    Separator(Vec<u8>, u64),
    Eof,
}

/// What the reader has seen so far, for `inspect` and the variant label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Messages and skipped pseudo/deleted messages.
    pub items: u64,
    /// `>From ` lines (any number of `>`).
    pub quoted_from: u64,
    /// `>>From ` lines (two or more `>`): only mboxrd writes them.
    pub double_quoted_from: u64,
    /// Messages whose Content-Length was honoured.
    pub content_length_used: u64,
    /// ...of which had unquoted `From ` lines in their body (mboxcl2).
    pub content_length_unquoted: u64,
    /// Content-Length headers that did not land on a message boundary.
    pub content_length_bad: u64,
}

/// Reads an mbox from any [`BufRead`], yielding [`Item`]s in file order:
/// messages (with their byte offset in `origin`), skipped messages and
/// findings. Memory holds one message (plus, for a Content-Length being
/// checked, the bytes it claims).
///
/// ```
/// use mailshift_mbox::{MboxReader, MboxReadOptions};
/// use mailshift_model::Item;
/// let mbox = b"From a@b Sat Jan  3 01:05:34 1996\nSubject: hi\n\n>From here\n\n";
/// let items: Vec<Item> = MboxReader::new(&mbox[..], MboxReadOptions::default())
///     .collect::<Result<_, _>>().unwrap();
/// let Item::Message(m) = &items[0] else { panic!() };
/// assert_eq!(m.raw, b"Subject: hi\n\nFrom here\n");
/// assert_eq!(m.envelope.sender.as_deref(), Some("a@b"));
/// ```
#[derive(Debug)]
pub struct MboxReader<R> {
    input: Input<R>,
    opts: MboxReadOptions,
    folder: FolderPath,
    location: Location,
    state: State,
    queue: VecDeque<Item>,
    stats: ReadStats,
    capacity: usize,
}

impl<R: BufRead> MboxReader<R> {
    /// A reader of `inner`; its messages go to the inbox until [`Self::with_folder`].
    pub fn new(inner: R, opts: MboxReadOptions) -> Self {
        MboxReader {
            input: Input::new(inner),
            opts,
            folder: FolderPath::inbox(),
            location: Location::default(),
            state: State::Start,
            queue: VecDeque::new(),
            stats: ReadStats::default(),
            capacity: 16 << 10,
        }
    }

    /// The folder its messages belong to (also named in locations).
    #[must_use]
    pub fn with_folder(mut self, folder: FolderPath) -> Self {
        self.location.folder = Some(folder.key());
        self.folder = folder;
        self
    }

    /// The file it reads, named in every location.
    #[must_use]
    pub fn with_path(mut self, path: &Path) -> Self {
        self.location.path = Some(path.to_path_buf());
        self
    }

    pub fn stats(&self) -> ReadStats {
        self.stats
    }

    /// The variant forced, or the one the file looked like so far: mboxcl2
    /// or mboxcl where Content-Length was honoured, else mboxrd (see the
    /// crate docs for why mboxo is never guessed).
    pub fn variant(&self) -> MboxVariant {
        if let Some(v) = self.opts.variant {
            return v;
        }
        if self.stats.content_length_unquoted > 0 {
            MboxVariant::MboxCl2
        } else if self.stats.content_length_used > 0 {
            MboxVariant::MboxCl
        } else {
            MboxVariant::MboxRd
        }
    }

    /// The next item, `None` at the end.
    pub fn next_item(&mut self) -> Result<Option<Item>> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Ok(Some(item));
            }
            match std::mem::replace(&mut self.state, State::Done) {
                State::Done => return Ok(None),
                State::Start => self.start()?,
                State::Separator(line, offset) => self.message(&line, offset)?,
            }
        }
    }

    fn at(&self, offset: u64) -> Location {
        self.location.clone().with_offset(offset)
    }

    fn io(&self, e: std::io::Error) -> Error {
        Error::io(self.at(self.input.offset()), e)
    }

    /// Finds the first From_ line; what comes before it is garbage.
    fn start(&mut self) -> Result<()> {
        let mut keep = Vec::new();
        let mut garbage = 0u64;
        let mut garbage_text = false;
        let mut first = true;
        let mut prev_blank = true;
        loop {
            let offset = self.input.offset();
            let n = self.input.skip_line(&mut keep, KEEP_GARBAGE).map_err(|e| self.io(e))?;
            if n == 0 {
                break;
            }
            let mut line = keep.as_slice();
            let mut skip = 0;
            if first && line.starts_with(BOM) {
                line = &line[BOM.len()..];
                skip = BOM.len();
            }
            if line.starts_with(b"From ") {
                let line = line.to_vec();
                if first || self.is_separator(&line, prev_blank)? {
                    if garbage_text {
                        self.queue.push_back(Item::Finding(Finding::warning(
                            FindingKind::Garbage,
                            self.at(0),
                            format!("{garbage} bytes before the first From_ line belong to no message and were left out"),
                        )));
                    }
                    self.state = State::Separator(line, offset + skip as u64);
                    return Ok(());
                }
            }
            garbage += n as u64;
            prev_blank = is_blank(line);
            garbage_text |= !line.iter().all(u8::is_ascii_whitespace);
            first = false;
        }
        let finding = if garbage_text {
            Finding::error(
                FindingKind::Garbage,
                self.at(0),
                format!("not an mbox file: no From_ line in {garbage} bytes; nothing was read from it"),
            )
        } else {
            Finding::info(FindingKind::Empty, self.at(0), "empty mbox file: no messages")
        };
        self.queue.push_back(Item::Finding(finding));
        Ok(())
    }

    /// Looks at the line after the current one (without consuming it):
    /// does it start a header field?
    fn next_is_header(&mut self) -> Result<bool> {
        let mut next = Vec::new();
        self.input.read_line(&mut next).map_err(|e| self.io(e))?;
        let yes = looks_like_field(&next);
        self.input.unread(&next);
        Ok(yes)
    }

    /// Whether a `From ` line (just read) separates messages: a From_ line
    /// whose date parses always does; a looser one only before a header
    /// field, and only if it is at most one word (`From -`, `From `, as
    /// Netscape and Thunderbird wrote, even right after a body) or, after a
    /// blank line, starts with an address (`From a@b <odd date>`).
    fn is_separator(&mut self, line: &[u8], prev_blank: bool) -> Result<bool> {
        if from_line::is_strict(line) {
            return Ok(true);
        }
        let mut words = line[5..].split(u8::is_ascii_whitespace).filter(|w| !w.is_empty());
        let first = words.next().unwrap_or_default();
        let shape = match words.next() {
            None => true,
            Some(_) => prev_blank && memchr::memchr(b'@', first).is_some(),
        };
        Ok(shape && self.next_is_header()?)
    }

    /// Reads the message whose From_ line was `sep` at `offset`.
    fn message(&mut self, sep: &[u8], offset: u64) -> Result<()> {
        self.stats.items += 1;
        let index = self.stats.items;
        let loc = self.at(offset).with_item(index.to_string());
        let from = from_line::parse(sep);
        if from.date.is_none() {
            let text = String::from_utf8_lossy(sep.trim_ascii_end()).into_owned();
            let finding = if from.has_date_text {
                Finding::warning(
                    FindingKind::Date,
                    loc.clone(),
                    format!("unparseable date in From_ line {text:?}"),
                )
            } else {
                Finding::info(FindingKind::Date, loc.clone(), format!("no date in From_ line {text:?}"))
            };
            self.queue.push_back(Item::Finding(finding));
        }
        let mut buf = Vec::with_capacity(self.capacity);
        let mut in_header = true;
        let mut prev_blank = false;
        let mut cl_used = false;
        let end = loop {
            let start = buf.len();
            let n = self.input.read_line(&mut buf).map_err(|e| self.io(e))?;
            if n == 0 {
                break End::Eof;
            }
            let line = &buf[start..];
            if line.starts_with(b"From ") {
                let line = line.to_vec();
                if self.is_separator(&line, prev_blank)? {
                    buf.truncate(start);
                    break End::Separator(line, self.input.offset() - n as u64);
                }
            } else if line.first() == Some(&b'>') {
                let quotes = line.iter().take_while(|b| **b == b'>').count();
                if line[quotes..].starts_with(b"From ") {
                    self.stats.quoted_from += 1;
                    self.stats.double_quoted_from += u64::from(quotes > 1);
                }
            }
            let blank = is_blank(&buf[start..]);
            if blank && in_header {
                in_header = false;
                if let Some(end) = self.content_length(&mut buf, &loc)? {
                    cl_used = true;
                    break end;
                }
            }
            prev_blank = blank;
        };
        self.state = match end {
            End::Separator(line, at) => State::Separator(line, at),
            End::Eof => State::Done,
        };
        if !cl_used {
            // The blank line before a separator (or at the end) is the
            // separator's, not the message's.
            if buf.ends_with(b"\n\n") {
                buf.pop();
            } else if buf.ends_with(b"\n\r\n") {
                buf.truncate(buf.len() - 2);
            }
        }
        // Room for a message like this one: a few regrowths fewer, without
        // every small message after a big one holding a big allocation.
        self.capacity = (buf.len() + buf.len() / 4).clamp(16 << 10, 1 << 20);
        self.finish(buf, from, loc, cl_used);
        Ok(())
    }

    /// Honours the Content-Length of the header just read (in `buf`) if it
    /// lands on a message boundary: reads that many bytes and returns what
    /// follows them. Otherwise puts the bytes back, reports the liar and
    /// returns `None`: the message is split on From_ lines instead.
    fn content_length(&mut self, buf: &mut Vec<u8>, loc: &Location) -> Result<Option<End>> {
        if matches!(self.opts.variant, Some(MboxVariant::MboxO | MboxVariant::MboxRd)) {
            return Ok(None);
        }
        if self.stats.content_length_bad >= MAX_BAD_CONTENT_LENGTHS {
            return Ok(None);
        }
        let Some(len) = meta::read(buf).content_length else { return Ok(None) };
        let body_start = buf.len();
        let bad = |reader: &mut Self, why: String| {
            reader.stats.content_length_bad += 1;
            let rest = if reader.stats.content_length_bad == MAX_BAD_CONTENT_LENGTHS {
                "; the file's later Content-Length headers are ignored too"
            } else {
                ""
            };
            reader.queue.push_back(Item::Finding(Finding::warning(
                FindingKind::BadContentLength,
                loc.clone(),
                format!("Content-Length: {len} ignored: {why}; the message was split on From_ lines instead{rest}"),
            )));
        };
        if len > MAX_CONTENT_LENGTH {
            bad(self, format!("larger than {MAX_CONTENT_LENGTH} bytes"));
            return Ok(None);
        }
        let got = self.input.read_upto(len, buf).map_err(|e| self.io(e))?;
        let body_ends_line = buf.len() == body_start || buf.ends_with(b"\n");
        let verdict = if got < len {
            Err(format!("the file ends {} bytes earlier", len - got))
        } else {
            self.boundary_after(body_ends_line, buf.ends_with(b"\r"))?
        };
        match verdict {
            Ok(end) => {
                self.stats.content_length_used += 1;
                Ok(Some(end))
            }
            Err(why) => {
                self.input.unread(&buf[body_start..]);
                buf.truncate(body_start);
                bad(self, why);
                Ok(None)
            }
        }
    }

    /// After a Content-Length's bytes: is this a message boundary? That is
    /// the end of the file or a From_ line, after at most one blank line
    /// (two line ends when the body did not end its last line). On success
    /// the blank lines are consumed and the From_ line (if any) returned.
    fn boundary_after(&mut self, body_ends_line: bool, body_ends_cr: bool) -> Result<Result<End, String>> {
        let max_eols = if body_ends_line { 1 } else { 2 };
        let mut peek = Vec::new();
        let mut eols = 0;
        loop {
            let start = peek.len();
            let n = self.input.read_line(&mut peek).map_err(|e| self.io(e))?;
            if n == 0 {
                return Ok(Ok(End::Eof));
            }
            let line = peek[start..].to_vec();
            if start == 0 && body_ends_cr && line.starts_with(b"\n") {
                self.input.unread(&peek);
                return Ok(Err("it ends between CR and LF".to_owned()));
            }
            if is_blank(&line) && eols < max_eols {
                eols += 1;
                continue;
            }
            if line.starts_with(b"From ") && self.is_separator(&line, true)? {
                return Ok(Ok(End::Separator(line, self.input.offset() - n as u64)));
            }
            self.input.unread(&peek);
            return Ok(Err("it does not end where a message does".to_owned()));
        }
    }

    /// Turns the bytes of one message into an item.
    fn finish(&mut self, mut raw: Vec<u8>, from: from_line::FromLine, loc: Location, cl_used: bool) {
        let header_len = meta::header_len(&raw);
        let unquoted_from = cl_used && has_bare_from(&raw[header_len..]);
        if unquoted_from {
            self.stats.content_length_unquoted += 1;
        }
        let unquote = match self.opts.variant {
            Some(MboxVariant::MboxRd) => true,
            Some(MboxVariant::MboxO | MboxVariant::MboxCl | MboxVariant::MboxCl2) => false,
            // mboxcl quotes the mboxo way and mboxcl2 not at all: neither
            // can be un-quoted.
            None => !cl_used,
        };
        if unquote {
            unquote_rd(&mut raw);
        }
        if raw.iter().all(u8::is_ascii_whitespace) {
            let f = Finding::warning(
                FindingKind::Empty,
                loc,
                "empty message (a From_ line with nothing after it)",
            );
            self.queue.push_back(Item::Skipped(f));
            return;
        }
        let header_len = meta::header_len(&raw);
        let meta = meta::read(&raw[..header_len]);
        if self.stats.items == 1 && meta::is_pseudo(&meta) {
            let f = Finding::info(
                FindingKind::PseudoMessage,
                loc,
                "UW-IMAP \"FOLDER INTERNAL DATA\" pseudo-message (folder state, no mail) skipped",
            );
            self.queue.push_back(Item::Skipped(f));
            return;
        }
        if meta.expunged && !self.opts.include_deleted {
            let f = Finding::warning(
                FindingKind::Deleted,
                loc,
                "message deleted in Thunderbird (X-Mozilla-Status expunged bit) but not compacted away: skipped (--include-deleted keeps it)",
            );
            self.queue.push_back(Item::Skipped(f));
            return;
        }
        if !self.opts.keep_mbox_headers {
            meta::strip(&mut raw);
            if raw.is_empty() {
                let f = Finding::warning(
                    FindingKind::Empty,
                    loc,
                    "message of mbox bookkeeping headers only: skipped",
                );
                self.queue.push_back(Item::Skipped(f));
                return;
            }
        }
        let envelope = Envelope {
            folder: self.folder.clone(),
            flags: meta.flags,
            received: from.date,
            sender: from.sender,
            origin: loc,
        };
        self.queue.push_back(Item::Message(Message::new(raw, envelope)));
    }
}

impl<R: BufRead> Iterator for MboxReader<R> {
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_item() {
            Ok(item) => item.map(Ok),
            Err(e) => {
                self.state = State::Done;
                self.queue.clear();
                Some(Err(e))
            }
        }
    }
}

fn is_blank(line: &[u8]) -> bool {
    line == b"\n" || line == b"\r\n"
}

/// `Name:` with a name of printable ASCII other than the colon.
fn looks_like_field(line: &[u8]) -> bool {
    let Some(colon) = memchr::memchr(b':', line) else { return false };
    colon > 0 && line[..colon].iter().all(|b| b.is_ascii_graphic())
}

/// Whether any line of `body` starts with `From ` (only a Content-Length
/// body can hold one: mboxcl2 does not quote).
fn has_bare_from(body: &[u8]) -> bool {
    body.starts_with(b"From ") || memchr::memmem::find(body, b"\nFrom ").is_some()
}

/// mboxrd un-quoting: one `>` less on every line matching `^>+From `.
pub fn unquote_rd(raw: &mut Vec<u8>) {
    let finder = memchr::memmem::Finder::new(b">From ");
    if finder.find(raw).is_none() {
        return;
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut pos = 0;
    while pos < raw.len() {
        let end = memchr::memchr(b'\n', &raw[pos..]).map_or(raw.len(), |i| pos + i + 1);
        let line = &raw[pos..end];
        let quotes = line.iter().take_while(|b| **b == b'>').count();
        if quotes > 0 && line[quotes..].starts_with(b"From ") {
            out.extend_from_slice(&line[1..]);
        } else {
            out.extend_from_slice(line);
        }
        pos = end;
    }
    *raw = out;
}
