//! The IMAP wire: responses parsed by `imap-proto` (the parser behind
//! `async-imap`), commands written here, over any async byte stream.
//!
//! All protocol code lives in this module so the parser can be swapped
//! (for `imap-codec`, say) without touching the upload logic. Responses are
//! turned into the small owned [`Resp`] enum the rest of the crate uses.
//!
//! Why not `async-imap` itself: its APPEND waits for the continuation and
//! then for the tagged answer before the next message (one round trip or
//! two per message), hides the APPENDUID code, and cannot pipeline with
//! LITERAL+; the upload is mostly APPENDs, so the session is our own and
//! only the parser is borrowed.

use std::time::{Duration, Instant};

use imap_proto::rfc4315::UidSetMember;
use imap_proto::{AttributeValue, MailboxDatum, Response, ResponseCode, Status as PStatus};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{ImapError, Result};

/// A byte stream a session runs over: TCP, TLS over TCP, a test proxy.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The status of a tagged or untagged status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
    PreAuth,
    Bye,
}

/// A response code we act on; the others are kept as their text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// UIDPLUS: the UIDs the appended messages got, in order.
    AppendUid {
        validity: u32,
        uids: Vec<u32>,
    },
    Capabilities(Vec<String>),
    UidValidity(u32),
    TryCreate,
    /// Any other code, upper-cased, without brackets (`OVERQUOTA`, `THROTTLED`).
    Other(String),
}

/// A tagged completion (or the untagged greeting/BYE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    pub tag: String,
    pub status: Status,
    pub code: Option<Code>,
    pub text: String,
}

impl Tagged {
    /// The response code's name, upper-cased: `OVERQUOTA`, `APPENDUID`...
    /// Codes the parser does not know stay at the start of the text, so
    /// they are read from there.
    pub fn code_name(&self) -> Option<String> {
        match &self.code {
            Some(Code::AppendUid { .. }) => Some("APPENDUID".into()),
            Some(Code::Capabilities(_)) => Some("CAPABILITY".into()),
            Some(Code::UidValidity(_)) => Some("UIDVALIDITY".into()),
            Some(Code::TryCreate) => Some("TRYCREATE".into()),
            Some(Code::Other(s)) => Some(s.clone()),
            None => {
                let rest = self.text.strip_prefix('[')?;
                let end = rest.find([']', ' '])?;
                Some(rest[..end].to_ascii_uppercase())
            }
        }
    }

    /// The whole answer for a message: `NO [OVERQUOTA] Quota exceeded`.
    pub fn describe(&self) -> String {
        let status = match self.status {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
            Status::PreAuth => "PREAUTH",
            Status::Bye => "BYE",
        };
        match (&self.code, self.text.starts_with('[')) {
            (Some(Code::Other(c)), _) => format!("{status} [{c}] {}", self.text),
            _ => format!("{status} {}", self.text),
        }
    }
}

/// One FETCH response, the parts we ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchItem {
    pub seq: u32,
    pub uid: Option<u32>,
    pub size: Option<u32>,
    pub internal_date: Option<String>,
    pub flags: Vec<String>,
    /// `BODY[...]` data (the header fields, or the whole message).
    pub body: Option<Vec<u8>>,
}

/// One LIST response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListItem {
    /// Attributes as written, e.g. `\Sent`, `\Noselect`, `\HasChildren`.
    pub attributes: Vec<String>,
    pub delimiter: Option<String>,
    /// The name on the wire (modified UTF-7 unless UTF8=ACCEPT).
    pub name: String,
}

/// A server response, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resp {
    Tagged(Tagged),
    /// `+ ...`: the server waits for a literal or a SASL response.
    Continue(String),
    Capabilities(Vec<String>),
    List(ListItem),
    Fetch(FetchItem),
    Exists(u32),
    /// An untagged status (`* OK [...]`, `* NO ...`, `* BYE ...`).
    Status(Tagged),
    /// Anything else (EXPUNGE, FLAGS, RECENT, lines the parser refused).
    Other,
}

fn status(s: PStatus) -> Status {
    match s {
        PStatus::Ok => Status::Ok,
        PStatus::No => Status::No,
        PStatus::Bad => Status::Bad,
        PStatus::PreAuth => Status::PreAuth,
        PStatus::Bye => Status::Bye,
    }
}

fn caps(list: &[imap_proto::Capability<'_>]) -> Vec<String> {
    list.iter()
        .map(|c| match c {
            imap_proto::Capability::Imap4rev1 => "IMAP4REV1".to_owned(),
            imap_proto::Capability::Auth(a) => format!("AUTH={}", a.to_ascii_uppercase()),
            imap_proto::Capability::Atom(a) => a.to_ascii_uppercase(),
        })
        .collect()
}

fn code(c: Option<ResponseCode<'_>>) -> Option<Code> {
    Some(match c? {
        ResponseCode::AppendUid(validity, set) => {
            let mut uids = Vec::new();
            for m in set {
                match m {
                    UidSetMember::Uid(u) => uids.push(u),
                    // A range is as long as the batch we sent, at most.
                    UidSetMember::UidRange(r) => uids.extend(r.take(100_000)),
                }
            }
            Code::AppendUid { validity, uids }
        }
        ResponseCode::Capabilities(c) => Code::Capabilities(caps(&c)),
        ResponseCode::UidValidity(v) => Code::UidValidity(v),
        ResponseCode::TryCreate => Code::TryCreate,
        ResponseCode::Alert => Code::Other("ALERT".into()),
        ResponseCode::Parse => Code::Other("PARSE".into()),
        ResponseCode::ReadOnly => Code::Other("READ-ONLY".into()),
        ResponseCode::ReadWrite => Code::Other("READ-WRITE".into()),
        _ => return None,
    })
}

fn convert(r: Response<'_>) -> Resp {
    match r {
        Response::Done { tag, status: s, outcome } => Resp::Tagged(Tagged {
            tag: tag.0,
            status: status(s),
            code: code(outcome.code),
            text: outcome.information.map(|c| c.into_owned()).unwrap_or_default(),
        }),
        Response::Data { status: s, outcome } => Resp::Status(Tagged {
            tag: "*".into(),
            status: status(s),
            code: code(outcome.code),
            text: outcome.information.map(|c| c.into_owned()).unwrap_or_default(),
        }),
        Response::Continue(o) => Resp::Continue(o.information.map(|c| c.into_owned()).unwrap_or_default()),
        Response::Capabilities(c) => Resp::Capabilities(caps(&c)),
        Response::MailboxData(MailboxDatum::Exists(n)) => Resp::Exists(n),
        Response::MailboxData(MailboxDatum::List(l)) => Resp::List(ListItem {
            attributes: l
                .name_attributes
                .iter()
                .map(|a| match a {
                    imap_proto::NameAttribute::Extension(e) => e.to_string(),
                    other => format!("\\{other:?}"),
                })
                .collect(),
            delimiter: l.delimiter.map(|d| d.into_owned()),
            name: l.name.into_owned(),
        }),
        Response::Fetch(seq, attrs) => {
            let mut f = FetchItem { seq, ..FetchItem::default() };
            for a in attrs {
                match a {
                    AttributeValue::Uid(u) => f.uid = Some(u),
                    AttributeValue::Rfc822Size(s) => f.size = Some(s),
                    AttributeValue::InternalDate(d) => f.internal_date = Some(d.into_owned()),
                    AttributeValue::Flags(fl) => f.flags = fl.into_iter().map(|c| c.into_owned()).collect(),
                    AttributeValue::BodySection { data, .. } | AttributeValue::Rfc822(data) => {
                        f.body = Some(data.map(|d| d.into_owned()).unwrap_or_default());
                    }
                    _ => {}
                }
            }
            Resp::Fetch(f)
        }
        _ => Resp::Other,
    }
}

/// An IMAP session's framing: a read buffer, an output buffer, tags.
pub struct Session {
    io: Box<dyn Io>,
    rbuf: Vec<u8>,
    rpos: usize,
    out: Vec<u8>,
    next_tag: u64,
    /// `host:port`, for error messages.
    pub server: String,
    /// How long to wait for the server before giving up on the connection.
    pub timeout: Duration,
    /// The last time bytes went either way (for keep-alive).
    last_io: Instant,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("server", &self.server).field("next_tag", &self.next_tag).finish()
    }
}

/// The largest response we buffer while it is incomplete: a message
/// bigger than this in a FETCH is refused rather than eating memory.
const MAX_RESPONSE: usize = 1 << 30;

impl Session {
    pub fn new(io: Box<dyn Io>, server: String, timeout: Duration) -> Self {
        Session {
            io,
            rbuf: Vec::with_capacity(64 << 10),
            rpos: 0,
            out: Vec::new(),
            next_tag: 1,
            server,
            timeout,
            last_io: Instant::now(),
        }
    }

    /// How long the connection has been silent both ways.
    pub fn idle_for(&self) -> Duration {
        self.last_io.elapsed()
    }

    /// Gives the stream back (for STARTTLS), failing if the server sent
    /// bytes we have not read (a STARTTLS injection attempt).
    pub fn into_io(self) -> Result<Box<dyn Io>> {
        if self.rpos < self.rbuf.len() {
            return Err(ImapError::Protocol {
                server: self.server,
                snippet: "data after the STARTTLS answer (refused: possible injection)".into(),
            });
        }
        Ok(self.io)
    }

    /// A fresh tag: `m1`, `m2`, ...
    pub fn tag(&mut self) -> String {
        let t = format!("m{}", self.next_tag);
        self.next_tag += 1;
        t
    }

    /// Queues raw bytes; nothing is sent before [`Self::flush`].
    pub fn queue(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// Bytes queued and not yet sent.
    pub fn queued(&self) -> usize {
        self.out.len()
    }

    /// Queues `TAG COMMAND\r\n` and returns the tag.
    pub fn queue_command(&mut self, command: &str) -> String {
        let tag = self.tag();
        self.out.extend_from_slice(tag.as_bytes());
        self.out.push(b' ');
        self.out.extend_from_slice(command.as_bytes());
        self.out.extend_from_slice(b"\r\n");
        tag
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        let server = self.server.clone();
        let write = async {
            self.io.write_all(&out).await?;
            self.io.flush().await
        };
        match tokio::time::timeout(self.timeout, write).await {
            Ok(Ok(())) => {
                self.last_io = Instant::now();
                self.out = out;
                self.out.clear();
                Ok(())
            }
            Ok(Err(e)) => Err(ImapError::Io { server, what: "send".into(), source: e }),
            Err(_) => Err(ImapError::Timeout { server, what: "a send".into(), secs: self.timeout.as_secs() }),
        }
    }

    /// Reads the next response. Cancel-safe: dropped before it returns, it
    /// loses nothing, and the next call goes on where this one stopped.
    pub async fn read(&mut self) -> Result<Resp> {
        loop {
            if self.rpos < self.rbuf.len() {
                let avail = &self.rbuf[self.rpos..];
                if trips_status_text(avail) {
                    if let Some(r) = self.fallback()? {
                        return Ok(r);
                    }
                    self.fill().await?;
                    continue;
                }
                match Response::parse(avail) {
                    Ok((rest, resp)) => {
                        let used = avail.len() - rest.len();
                        let resp = convert(resp);
                        self.consume(used);
                        return Ok(resp);
                    }
                    Err(e) if e.is_incomplete() => {}
                    Err(_) => {
                        if let Some(r) = self.fallback()? {
                            return Ok(r);
                        }
                    }
                }
            }
            self.fill().await?;
        }
    }

    fn consume(&mut self, used: usize) {
        self.rpos += used;
        if self.rpos == self.rbuf.len() {
            self.rbuf.clear();
            self.rpos = 0;
        } else if self.rpos > (1 << 20) {
            self.rbuf.drain(..self.rpos);
            self.rpos = 0;
        }
    }

    /// A complete line the parser refused: a tagged line is read by hand
    /// (tag and status word), an untagged one is skipped; a line that
    /// announces a literal cannot be skipped safely and is an error.
    fn fallback(&mut self) -> Result<Option<Resp>> {
        let avail = &self.rbuf[self.rpos..];
        let Some(end) = memchr::memmem::find(avail, b"\r\n") else {
            return Ok(None);
        };
        let line = String::from_utf8_lossy(&avail[..end]).into_owned();
        if line.ends_with('}') {
            return Err(ImapError::Protocol {
                server: self.server.clone(),
                snippet: line.chars().take(200).collect(),
            });
        }
        self.consume(end + 2);
        let mut words = line.splitn(3, ' ');
        let tag = words.next().unwrap_or_default().to_owned();
        let st = words.next().unwrap_or_default().to_ascii_uppercase();
        let text = words.next().unwrap_or_default().to_owned();
        let st = match st.as_str() {
            "OK" => Status::Ok,
            "NO" => Status::No,
            "BAD" => Status::Bad,
            "BYE" => Status::Bye,
            _ => return Ok(Some(Resp::Other)),
        };
        let t = Tagged { tag: tag.clone(), status: st, code: None, text };
        Ok(Some(if tag == "*" {
            Resp::Status(t)
        } else if tag == "+" {
            Resp::Other
        } else {
            Resp::Tagged(t)
        }))
    }

    async fn fill(&mut self) -> Result<()> {
        if self.rbuf.len() - self.rpos > MAX_RESPONSE {
            return Err(ImapError::Protocol {
                server: self.server.clone(),
                snippet: "response larger than 1 GiB".into(),
            });
        }
        if self.rpos > 0 && self.rpos == self.rbuf.len() {
            self.rbuf.clear();
            self.rpos = 0;
        }
        let want = (self.rbuf.len() - self.rpos).clamp(64 << 10, 4 << 20);
        self.rbuf.reserve(want);
        // `read_buf` appends only what arrived, so a `fill` dropped while
        // waiting (the uploader selects between the server and its source)
        // leaves the buffer as it was: `read` is cancel-safe.
        let r = tokio::time::timeout(self.timeout, self.io.read_buf(&mut self.rbuf)).await;
        match r {
            Ok(Ok(0)) => Err(ImapError::Closed { server: self.server.clone(), why: None }),
            Ok(Ok(_)) => {
                self.last_io = Instant::now();
                Ok(())
            }
            Ok(Err(e)) => {
                Err(ImapError::Io { server: self.server.clone(), what: "receive".into(), source: e })
            }
            Err(_) => Err(ImapError::Timeout {
                server: self.server.clone(),
                what: "a command".into(),
                secs: self.timeout.as_secs(),
            }),
        }
    }

    /// Sends one command and reads until its tagged answer; untagged
    /// responses on the way are returned with it. A BYE ends the session.
    pub async fn run(&mut self, command: &str) -> Result<(Vec<Resp>, Tagged)> {
        let tag = self.queue_command(command);
        self.flush().await?;
        self.until_tagged(&tag).await
    }

    /// Reads until the tagged answer to `tag`.
    pub async fn until_tagged(&mut self, tag: &str) -> Result<(Vec<Resp>, Tagged)> {
        let mut untagged = Vec::new();
        loop {
            match self.read().await? {
                Resp::Tagged(t) if t.tag == tag => return Ok((untagged, t)),
                Resp::Status(t) if t.status == Status::Bye => {
                    return Err(ImapError::Closed { server: self.server.clone(), why: Some(t.text) })
                }
                other => untagged.push(other),
            }
        }
    }

    /// Sends a command and fails unless the answer is OK.
    pub async fn run_ok(&mut self, command: &str, what: &str) -> Result<(Vec<Resp>, Tagged)> {
        let (u, t) = self.run(command).await?;
        if t.status != Status::Ok {
            return Err(ImapError::Refused {
                server: self.server.clone(),
                command: what.to_owned(),
                why: t.describe(),
            });
        }
        Ok((u, t))
    }
}

/// An IMAP string for a command: quoted when that is possible (printable
/// 7-bit text), `None` when a literal is needed.
pub fn quoted(s: &str) -> Option<String> {
    if s.bytes().any(|b| !(0x20..0x7f).contains(&b)) {
        return None;
    }
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    Some(q)
}

/// Whether a keyword can go into a flag list as an atom.
pub fn is_atom(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..0x7f).contains(&b) && !b"(){ %*\"\\]".contains(&b))
}

/// An INTERNALDATE for APPEND: `"02-Jan-2024 03:04:05 +0100"`.
pub fn internal_date(t: &mailshift_model::Timestamp) -> String {
    format!("\"{}\"", t.format("%d-%b-%Y %H:%M:%S %z"))
}

/// Parses an INTERNALDATE as the server writes it (the day may be
/// space-padded).
pub fn parse_internal_date(s: &str) -> Option<mailshift_model::Timestamp> {
    chrono::DateTime::parse_from_str(s.trim(), "%d-%b-%Y %H:%M:%S %z").ok()
}

/// Whether `avail` starts with a status response (`* OK`, `a1 NO`, `+`, ...)
/// whose response code is followed directly by a non-ASCII character, as in
/// `* OK [ALERT]é`: imap-proto 0.17 slices that text one byte in and panics
/// (found by the `imap_response` fuzz target). Such a line goes to the
/// hand-written fallback instead; a line not yet complete is waited for.
fn trips_status_text(avail: &[u8]) -> bool {
    let line = match memchr::memmem::find(avail, b"\r\n") {
        Some(end) => &avail[..end],
        None => avail,
    };
    let mut words = line.splitn(3, |&b| b == b' ');
    let first = words.next().unwrap_or_default();
    let second = words.next().unwrap_or_default();
    let status = first == b"+"
        || [&b"OK"[..], b"NO", b"BAD", b"BYE", b"PREAUTH"].iter().any(|w| second.eq_ignore_ascii_case(w));
    status && line.windows(2).any(|w| w[0] == b']' && w[1] >= 0x80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_atoms() {
        assert_eq!(quoted(r#"a"b\c"#).unwrap(), r#""a\"b\\c""#);
        assert!(quoted("é").is_none());
        assert!(quoted("a\r\n").is_none());
        assert!(is_atom("$Label1") && is_atom("NonJunk"));
        assert!(!is_atom("a b") && !is_atom("x(") && !is_atom(""));
    }

    #[test]
    fn dates_round_trip() {
        let t = parse_internal_date(" 2-Jan-2024 03:04:05 +0100").unwrap();
        assert_eq!(internal_date(&t), "\"02-Jan-2024 03:04:05 +0100\"");
    }

    /// Every response in `stream`, read by a session that is interrupted
    /// (its `read` dropped) whenever nothing arrived for 200 µs, while the
    /// server sends 7 bytes a millisecond. Returns them and how many reads
    /// were dropped.
    async fn read_interrupted(stream: &'static [u8]) -> (Vec<Resp>, usize) {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut s = Session::new(Box::new(client), "test".into(), Duration::from_secs(5));
        let feeder = tokio::spawn(async move {
            for chunk in stream.chunks(7) {
                server.write_all(chunk).await.unwrap();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        let (mut got, mut dropped) = (Vec::new(), 0);
        while got.len() < 5 {
            tokio::select! {
                r = s.read() => got.push(r.unwrap()),
                () = tokio::time::sleep(Duration::from_micros(200)) => dropped += 1,
            }
        }
        feeder.await.unwrap();
        (got, dropped)
    }

    /// Found by the fuzz target: imap-proto panics on a response code
    /// followed directly by a multi-byte character.
    #[tokio::test]
    async fn a_status_text_that_panics_imap_proto_is_read_by_hand() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut s = Session::new(Box::new(client), "test".into(), Duration::from_secs(5));
        server
            .write_all("* OK [ALERT]\u{e9}t\u{e9}\r\na1 NO [OVERQUOTA]\u{fc}ber\r\na2 OK fine\r\n".as_bytes())
            .await
            .unwrap();
        let Resp::Status(t) = s.read().await.unwrap() else { panic!() };
        assert_eq!(t.status, Status::Ok);
        let Resp::Tagged(t) = s.read().await.unwrap() else { panic!() };
        assert_eq!((t.tag.as_str(), t.status), ("a1", Status::No));
        let Resp::Tagged(t) = s.read().await.unwrap() else { panic!() };
        assert_eq!((t.tag.as_str(), t.status), ("a2", Status::Ok));
    }

    /// The uploader drops `read` while it takes messages from its source:
    /// a dropped read must lose nothing and add nothing.
    #[tokio::test]
    async fn a_dropped_read_loses_nothing() {
        const STREAM: &[u8] =
            b"* 1 FETCH (UID 7 RFC822.SIZE 5 BODY[HEADER.FIELDS (MESSAGE-ID)] {5}\r\nab\r\n\r)\r\n\
              * OK [WEIRDCODE x] hi\r\nm1 OK [APPENDUID 9 42] done\r\nm2 NO [OVERQUOTA] Quota exceeded\r\n\
              m3 OK [SOMETHING (a b)] odd but fine\r\n";
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut whole = Session::new(Box::new(client), "test".into(), Duration::from_secs(5));
        server.write_all(STREAM).await.unwrap();
        let mut expected = Vec::new();
        for _ in 0..5 {
            expected.push(whole.read().await.unwrap());
        }
        let (got, dropped) = read_interrupted(STREAM).await;
        assert!(dropped > 0, "no read was interrupted: the test proves nothing");
        assert_eq!(got, expected, "after {dropped} dropped reads");
    }

    #[tokio::test]
    async fn reads_pipelined_answers_fetch_literals_and_odd_lines() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut s = Session::new(Box::new(client), "test".into(), Duration::from_secs(5));
        server
            .write_all(
                b"* 1 FETCH (UID 7 RFC822.SIZE 5 BODY[HEADER.FIELDS (MESSAGE-ID)] {5}\r\nab\r\n\r)\r\n\
                  * OK [WEIRDCODE x] hi\r\nm1 OK [APPENDUID 9 42] done\r\nm2 NO [OVERQUOTA] Quota exceeded\r\n\
                  m3 OK [SOMETHING (a b)] odd but fine\r\n",
            )
            .await
            .unwrap();
        match s.read().await.unwrap() {
            Resp::Fetch(f) => {
                assert_eq!((f.uid, f.size), (Some(7), Some(5)));
                assert_eq!(f.body.as_deref(), Some(&b"ab\r\n\r"[..]));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(s.read().await.unwrap(), Resp::Status(_)));
        let Resp::Tagged(t) = s.read().await.unwrap() else { panic!() };
        assert_eq!(t.code, Some(Code::AppendUid { validity: 9, uids: vec![42] }));
        let Resp::Tagged(t) = s.read().await.unwrap() else { panic!() };
        assert_eq!(
            (t.tag.as_str(), t.status, t.code_name().as_deref()),
            ("m2", Status::No, Some("OVERQUOTA"))
        );
        let Resp::Tagged(t) = s.read().await.unwrap() else { panic!() };
        assert_eq!(t.status, Status::Ok);
        drop(server);
        assert!(matches!(s.read().await, Err(ImapError::Closed { .. })));
    }
}
