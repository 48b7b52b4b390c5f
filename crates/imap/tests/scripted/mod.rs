//! What the scripted-server tests share: a source of small messages, a
//! plaintext upload to a server on 127.0.0.1, and a command reader that
//! takes LITERAL+ literals in (so a MULTIAPPEND of many messages is one
//! command). Each test writes only its server's answers.
#![allow(dead_code)] // each test binary uses its own part

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mailshift_imap::auth::{Credentials, Secret};
use mailshift_imap::connection::{ConnectOptions, Connector};
use mailshift_imap::target::{Security, Target};
use mailshift_imap::upload::{upload, UploadOptions};
use mailshift_model::{
    Emit, Envelope, Flags, FolderPath, Item, Message, NoProgress, Report, Source, SourceInfo, Unit,
};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// `count` small messages in INBOX, `pause` apart (a slow PST, a busy
/// disk); the one at `flagged` is flagged, all are seen.
pub struct Messages {
    pub count: usize,
    pub pause: Duration,
    pub flagged: Option<usize>,
}

impl Messages {
    pub fn new(count: usize) -> Messages {
        Messages { count, pause: Duration::ZERO, flagged: None }
    }
}

impl Source for Messages {
    fn info(&self) -> SourceInfo {
        SourceInfo { format: "test".into(), variant: None, path: PathBuf::from("scripted") }
    }
    fn units(&self, _f: &mut Vec<mailshift_model::Finding>) -> mailshift_model::Result<Vec<Unit>> {
        Ok(vec![Unit { folder: FolderPath::inbox(), id: "1".into(), path: None, bytes: 100 }])
    }
    fn read_unit(&self, _u: &Unit, emit: Emit<'_>) -> mailshift_model::Result<()> {
        for i in 0..self.count {
            if i > 0 && !self.pause.is_zero() {
                std::thread::sleep(self.pause);
            }
            let flags = Flags { flagged: self.flagged == Some(i), seen: true, ..Flags::default() };
            let raw = format!("Message-ID: <{i}@x>\nSubject: {i}\n\nbody\n").into_bytes();
            let env = Envelope { folder: FolderPath::inbox(), flags, ..Envelope::default() };
            if emit(Item::Message(Message::new(raw, env))) == ControlFlow::Break(()) {
                break;
            }
        }
        Ok(())
    }
}

/// Uploads `source` with one connection, in plaintext, to the scripted
/// server on `port`; `opts` as given otherwise.
pub fn upload_plain(source: Messages, port: u16, opts: ConnectOptions) -> Report {
    let target = Target { security: Security::Plain, user: "u".into(), host: "127.0.0.1".into(), port };
    let creds =
        Arc::new(Credentials { user: "u".into(), secret: Secret::Password("pw".into()), mechanism: None });
    let opts = ConnectOptions { allow_plaintext: true, ..opts };
    let connector = Connector::new(target, opts, creds).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let up = UploadOptions { jobs: 1, journal: dir.path().join("j.sqlite"), ..UploadOptions::default() };
    upload(Arc::new(source), connector, up, &NoProgress).unwrap().report
}

/// One client command.
pub struct Command {
    pub tag: String,
    /// The command word, upper case (`APPEND`, `UID`, ...).
    pub word: String,
    /// The first line without its tag (up to the first literal).
    pub text: String,
    /// Each literal the command carried, in order (one per message of an
    /// APPEND or MULTIAPPEND).
    pub literals: Vec<Vec<u8>>,
}

/// Reads one command, with its LITERAL+ literals (`{n+}`); `None` at the
/// end of the connection.
pub async fn read_command<R: AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Option<Command>> {
    let mut line = String::new();
    if r.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let first = line.trim_end().to_owned();
    let (tag, text) = first.split_once(' ').unwrap_or((&first, ""));
    let word = text.split(' ').next().unwrap_or("").to_ascii_uppercase();
    let mut cmd = Command { tag: tag.to_owned(), word, text: text.to_owned(), literals: Vec::new() };
    let mut current = first.clone();
    while let Some(n) = literal_len(&current) {
        let mut buf = vec![0; n];
        r.read_exact(&mut buf).await?;
        cmd.literals.push(buf);
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        current = line.trim_end().to_owned();
    }
    Ok(Some(cmd))
}

/// The size of the literal that ends `line` (`{123+}` or `{123}`).
fn literal_len(line: &str) -> Option<usize> {
    let inner = line.strip_suffix('}')?.rsplit_once('{')?.1;
    inner.trim_end_matches('+').parse().ok()
}

/// What a scripted server answers to anything but the commands a test
/// scripts itself: login, a LIST of INBOX alone, an empty INBOX, OK to
/// the rest. `true` with LOGOUT's answer: close after sending it.
pub fn usual_answer(cmd: &Command, caps: &str) -> (String, bool) {
    let tag = &cmd.tag;
    let text = match cmd.word.as_str() {
        "AUTHENTICATE" => format!("{tag} OK [CAPABILITY {caps}] done\r\n"),
        "CAPABILITY" => format!("* CAPABILITY {caps}\r\n{tag} OK done\r\n"),
        "LIST" => format!("* LIST (\\HasNoChildren) \"/\" INBOX\r\n{tag} OK done\r\n"),
        "EXAMINE" | "SELECT" => format!("* 0 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n{tag} OK done\r\n"),
        "LOGOUT" => return (format!("* BYE bye\r\n{tag} OK done\r\n"), true),
        _ => format!("{tag} OK done\r\n"),
    };
    (text, false)
}
