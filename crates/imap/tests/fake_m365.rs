//! A scripted server that greets like Microsoft Exchange, throttles the
//! first APPEND and gives UIDs: the upload must wait and retry, and set
//! `\Flagged` again with UID STORE (Exchange drops it at APPEND).

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailshift_imap::auth::{Credentials, Secret};
use mailshift_imap::connection::{ConnectOptions, Connector};
use mailshift_imap::target::{Security, Target};
use mailshift_imap::upload::{upload, UploadOptions};
use mailshift_model::{
    Emit, Envelope, Flags, FolderPath, Item, Message, NoProgress, Source, SourceInfo, Unit,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

struct ThreeMessages;

impl Source for ThreeMessages {
    fn info(&self) -> SourceInfo {
        SourceInfo { format: "test".into(), variant: None, path: PathBuf::from("three") }
    }
    fn units(&self, _f: &mut Vec<mailshift_model::Finding>) -> mailshift_model::Result<Vec<Unit>> {
        Ok(vec![Unit { folder: FolderPath::inbox(), id: "1".into(), path: None, bytes: 100 }])
    }
    fn read_unit(&self, _u: &Unit, emit: Emit<'_>) -> mailshift_model::Result<()> {
        for i in 0..3 {
            let flags = Flags { flagged: i == 1, seen: true, ..Flags::default() };
            let raw = format!("Message-ID: <{i}@x>\nSubject: {i}\n\nbody\n").into_bytes();
            let env = Envelope { folder: FolderPath::inbox(), flags, ..Envelope::default() };
            if emit(Item::Message(Message::new(raw, env))) == ControlFlow::Break(()) {
                break;
            }
        }
        Ok(())
    }
}

/// Runs the scripted server for one connection at a time; returns the
/// commands it saw (without literals).
async fn serve(listener: tokio::net::TcpListener, seen: Arc<Mutex<Vec<String>>>) {
    let mut next_uid = 1;
    let mut appends = 0;
    loop {
        let Ok((sock, _)) = listener.accept().await else { return };
        let (r, mut w) = sock.into_split();
        let mut r = BufReader::new(r);
        w.write_all(b"* OK The Microsoft Exchange IMAP4 service is ready. [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS AUTH=PLAIN SASL-IR]\r\n")
            .await
            .unwrap();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                break;
            }
            let line = line.trim_end().to_owned();
            let (tag, cmd) = line.split_once(' ').unwrap_or((&line, ""));
            let word = cmd.split(' ').next().unwrap_or("").to_ascii_uppercase();
            seen.lock().unwrap().push(cmd.to_owned());
            let reply = match word.as_str() {
                "AUTHENTICATE" => format!("{tag} OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] done\r\n"),
                "CAPABILITY" => format!("* CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS\r\n{tag} OK done\r\n"),
                "LIST" => format!("* LIST (\\HasNoChildren) \"/\" INBOX\r\n{tag} OK done\r\n"),
                "EXAMINE" | "SELECT" => format!("* 0 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n{tag} OK done\r\n"),
                "APPEND" => {
                    let n: usize = line.rsplit('{').next().unwrap().trim_end_matches("+}").parse().unwrap();
                    let mut buf = vec![0; n + 2];
                    r.read_exact(&mut buf).await.unwrap();
                    appends += 1;
                    if appends == 1 {
                        format!("{tag} NO [THROTTLED] Request is throttled. Try again in 1 second\r\n")
                    } else {
                        next_uid += 1;
                        format!("{tag} OK [APPENDUID 7 {}] APPEND completed\r\n", next_uid - 1)
                    }
                }
                "LOGOUT" => {
                    let _ = w.write_all(format!("* BYE bye\r\n{tag} OK done\r\n").as_bytes()).await;
                    break;
                }
                _ => format!("{tag} OK done\r\n"),
            };
            w.write_all(reply.as_bytes()).await.unwrap();
        }
    }
}

#[test]
fn exchange_throttling_is_waited_out_and_flagged_is_set_again() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    rt.spawn(serve(listener, Arc::clone(&seen)));
    let target = Target { security: Security::Plain, user: "u".into(), host: "127.0.0.1".into(), port };
    let creds =
        Arc::new(Credentials { user: "u".into(), secret: Secret::Password("pw".into()), mechanism: None });
    let opts = ConnectOptions {
        allow_plaintext: true,
        timeout: Duration::from_secs(10),
        ..ConnectOptions::default()
    };
    let connector = Connector::new(target, opts, creds).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let up = UploadOptions { jobs: 1, journal: dir.path().join("j.sqlite"), ..UploadOptions::default() };
    let done = upload(Arc::new(ThreeMessages), connector, up, &NoProgress).unwrap();
    let r = &done.report;
    assert_eq!((r.read, r.written, r.skipped), (3, 3, 0), "{r:?}");
    assert!(r.findings.iter().any(|f| f.message.contains("throttled")), "{:?}", r.findings);
    let seen = seen.lock().unwrap();
    let appends = seen.iter().filter(|c| c.starts_with("APPEND")).count();
    assert_eq!(appends, 4, "one throttled APPEND retried: {seen:?}");
    // Message 1 (flagged) got UID 2 after the retry of message 0 got UID 1.
    let store: Vec<&String> = seen.iter().filter(|c| c.starts_with("UID STORE")).collect();
    assert_eq!(store.len(), 1, "{seen:?}");
    assert!(store[0].contains("\\Flagged"), "{store:?}");
}
