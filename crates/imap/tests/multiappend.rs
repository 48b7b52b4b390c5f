//! Batching: while the server works on one MULTIAPPEND, the uploader keeps
//! taking messages from its source, so the next APPEND carries a full batch.
//! On Dovecot every APPEND command is one transaction that re-reads the
//! folder's uidlist; batches of a dozen messages (what the small source
//! channel held) made a 20,000-message folder 2.4x slower than full batches.

mod scripted;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailshift_imap::connection::ConnectOptions;
use scripted::{read_command, upload_plain, usual_answer, Messages};
use tokio::io::{AsyncWriteExt, BufReader};

/// A server with LITERAL+ and MULTIAPPEND that takes 300 ms per APPEND
/// command (long enough for even a slow debug build to read the rest of
/// the source meanwhile); records the number of messages in each APPEND.
async fn serve(listener: tokio::net::TcpListener, batches: Arc<Mutex<Vec<usize>>>) {
    loop {
        let Ok((sock, _)) = listener.accept().await else { return };
        let (r, mut w) = sock.into_split();
        let mut r = BufReader::new(r);
        let caps = "IMAP4rev1 LITERAL+ MULTIAPPEND AUTH=PLAIN SASL-IR";
        w.write_all(format!("* OK [CAPABILITY {caps}] ready\r\n").as_bytes()).await.unwrap();
        while let Ok(Some(cmd)) = read_command(&mut r).await {
            let (reply, close) = if cmd.word == "APPEND" {
                tokio::time::sleep(Duration::from_millis(300)).await;
                batches.lock().unwrap().push(cmd.literals.len());
                (format!("{} OK APPEND completed\r\n", cmd.tag), false)
            } else {
                usual_answer(&cmd, caps)
            };
            let _ = w.write_all(reply.as_bytes()).await;
            if close {
                break;
            }
        }
    }
}

#[test]
fn appends_go_in_full_multiappend_batches() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let batches = Arc::new(Mutex::new(Vec::new()));
    rt.spawn(serve(listener, Arc::clone(&batches)));
    let r = upload_plain(Messages::new(1200), port, ConnectOptions::default());
    assert_eq!((r.read, r.written, r.skipped), (1200, 1200, 0), "{r:?}");
    let batches = batches.lock().unwrap().clone();
    assert_eq!(batches.iter().sum::<usize>(), 1200, "{batches:?}");
    // 1,200 messages at most 500 per command: 3 full batches, plus the
    // small first one sent at once to the idle server. While a batch is
    // with the server, a partial one waits and gathers.
    assert!(batches.len() <= 5, "{} APPEND commands for 1,200 messages: {batches:?}", batches.len());
    assert!(batches.iter().all(|&n| n <= 500), "a batch above 500 messages: {batches:?}");
}
