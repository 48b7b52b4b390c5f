//! Keep-alive: a scripted server that, like a NAT table or Microsoft 365's
//! idle timeout, drops a connection silent for more than a second, and a
//! source that pauses longer than that between messages. The waiting
//! connection must send NOOP and so never be dropped.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailshift_imap::auth::{Credentials, Secret};
use mailshift_imap::connection::{ConnectOptions, Connector};
use mailshift_imap::target::{Security, Target};
use mailshift_imap::upload::{upload, UploadOptions};
use mailshift_model::{Emit, Envelope, FolderPath, Item, Message, NoProgress, Source, SourceInfo, Unit};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Three messages, 1.6 s apart (a slow PST, a busy disk).
struct SlowSource;

impl Source for SlowSource {
    fn info(&self) -> SourceInfo {
        SourceInfo { format: "test".into(), variant: None, path: PathBuf::from("slow") }
    }
    fn units(&self, _f: &mut Vec<mailshift_model::Finding>) -> mailshift_model::Result<Vec<Unit>> {
        Ok(vec![Unit { folder: FolderPath::inbox(), id: "1".into(), path: None, bytes: 100 }])
    }
    fn read_unit(&self, _u: &Unit, emit: Emit<'_>) -> mailshift_model::Result<()> {
        for i in 0..3 {
            if i > 0 {
                std::thread::sleep(Duration::from_millis(1600));
            }
            let raw = format!("Message-ID: <{i}@x>\nSubject: {i}\n\nbody\n").into_bytes();
            let env = Envelope { folder: FolderPath::inbox(), ..Envelope::default() };
            if emit(Item::Message(Message::new(raw, env))) == ControlFlow::Break(()) {
                break;
            }
        }
        Ok(())
    }
}

/// Serves each connection; a client silent for `idle` is dropped. Records
/// the commands seen and how many connections were dropped.
async fn serve(listener: tokio::net::TcpListener, seen: Arc<Mutex<Vec<String>>>, dropped: Arc<Mutex<u32>>) {
    loop {
        let Ok((sock, _)) = listener.accept().await else { return };
        let (seen, dropped) = (Arc::clone(&seen), Arc::clone(&dropped));
        tokio::spawn(async move {
            let (r, mut w) = sock.into_split();
            let mut r = BufReader::new(r);
            let _ = w.write_all(b"* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN SASL-IR] ready\r\n").await;
            loop {
                let mut line = String::new();
                match tokio::time::timeout(Duration::from_secs(1), r.read_line(&mut line)).await {
                    Err(_) => {
                        *dropped.lock().unwrap() += 1;
                        return; // idle too long: the "NAT" forgets the connection
                    }
                    Ok(Ok(0)) | Ok(Err(_)) => return,
                    Ok(Ok(_)) => {}
                }
                let line = line.trim_end().to_owned();
                let (tag, cmd) = line.split_once(' ').unwrap_or((&line, ""));
                let word = cmd.split(' ').next().unwrap_or("").to_ascii_uppercase();
                seen.lock().unwrap().push(word.clone());
                let reply = match word.as_str() {
                    "AUTHENTICATE" => format!("{tag} OK [CAPABILITY IMAP4rev1 LITERAL+] done\r\n"),
                    "LIST" => format!("* LIST (\\HasNoChildren) \"/\" INBOX\r\n{tag} OK done\r\n"),
                    "EXAMINE" | "SELECT" => {
                        format!("* 0 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n{tag} OK done\r\n")
                    }
                    "APPEND" => {
                        let n: usize =
                            line.rsplit('{').next().unwrap().trim_end_matches("+}").parse().unwrap();
                        let mut buf = vec![0; n + 2];
                        if r.read_exact(&mut buf).await.is_err() {
                            return;
                        }
                        format!("{tag} OK APPEND completed\r\n")
                    }
                    "LOGOUT" => {
                        let _ = w.write_all(format!("* BYE bye\r\n{tag} OK done\r\n").as_bytes()).await;
                        return;
                    }
                    _ => format!("{tag} OK done\r\n"),
                };
                if w.write_all(reply.as_bytes()).await.is_err() {
                    return;
                }
            }
        });
    }
}

fn run(keepalive: Duration) -> (mailshift_model::Report, Vec<String>, u32) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let dropped = Arc::new(Mutex::new(0));
    rt.spawn(serve(listener, Arc::clone(&seen), Arc::clone(&dropped)));
    let target = Target { security: Security::Plain, user: "u".into(), host: "127.0.0.1".into(), port };
    let creds =
        Arc::new(Credentials { user: "u".into(), secret: Secret::Password("pw".into()), mechanism: None });
    let opts = ConnectOptions {
        allow_plaintext: true,
        timeout: Duration::from_secs(5),
        keepalive,
        ..Default::default()
    };
    let connector = Connector::new(target, opts, creds).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let up = UploadOptions { jobs: 1, journal: dir.path().join("j.sqlite"), ..UploadOptions::default() };
    let done = upload(Arc::new(SlowSource), connector, up, &NoProgress).unwrap();
    let seen = seen.lock().unwrap().clone();
    let dropped = *dropped.lock().unwrap();
    (done.report, seen, dropped)
}

#[test]
fn a_waiting_connection_sends_noop_and_is_never_dropped() {
    let (r, seen, dropped) = run(Duration::from_millis(300));
    assert_eq!((r.read, r.written, r.skipped), (3, 3, 0), "{r:?}");
    assert!(seen.iter().any(|c| c == "NOOP"), "no NOOP sent: {seen:?}");
    assert_eq!(dropped, 0, "a connection went idle and was dropped: {seen:?}");
    assert!(!r.findings.iter().any(|f| f.message.contains("connection lost")), "{:?}", r.findings);
}

/// The control: without keep-alive inside the server's idle limit the
/// same run loses its connection (and recovers by reconnecting), so the
/// test above can fail.
#[test]
fn without_keepalive_the_idle_connection_is_dropped() {
    let (r, seen, dropped) = run(Duration::from_secs(30));
    assert_eq!((r.read, r.written), (3, 3), "{r:?}");
    assert!(!seen.iter().any(|c| c == "NOOP"), "{seen:?}");
    assert!(dropped > 0, "the server never dropped an idle connection: {seen:?}");
}
