//! A scripted server that greets like Microsoft Exchange, throttles the
//! first APPEND and gives UIDs: the upload must wait and retry, and set
//! `\Flagged` again with UID STORE (Exchange drops it at APPEND).

mod scripted;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailshift_imap::connection::ConnectOptions;
use scripted::{read_command, upload_plain, usual_answer, Messages};
use tokio::io::{AsyncWriteExt, BufReader};

/// Runs the scripted server for one connection at a time; records the
/// commands it saw (first line, without the tag).
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
        while let Ok(Some(cmd)) = read_command(&mut r).await {
            seen.lock().unwrap().push(cmd.text.clone());
            let (reply, close) = if cmd.word == "APPEND" {
                let tag = &cmd.tag;
                appends += 1;
                let reply = if appends == 1 {
                    format!("{tag} NO [THROTTLED] Request is throttled. Try again in 1 second\r\n")
                } else {
                    next_uid += 1;
                    format!("{tag} OK [APPENDUID 7 {}] APPEND completed\r\n", next_uid - 1)
                };
                (reply, false)
            } else {
                usual_answer(&cmd, "IMAP4rev1 LITERAL+ UIDPLUS")
            };
            let _ = w.write_all(reply.as_bytes()).await;
            if close {
                break;
            }
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
    let source = Messages { flagged: Some(1), ..Messages::new(3) };
    let opts = ConnectOptions { timeout: Duration::from_secs(10), ..ConnectOptions::default() };
    let r = upload_plain(source, port, opts);
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
