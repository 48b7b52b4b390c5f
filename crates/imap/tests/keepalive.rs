//! Keep-alive: a scripted server that, like a NAT table or Microsoft 365's
//! idle timeout, drops a connection silent for more than a second, and a
//! source that pauses longer than that between messages. The waiting
//! connection must send NOOP and so never be dropped.

mod scripted;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailshift_imap::connection::ConnectOptions;
use scripted::{read_command, upload_plain, usual_answer, Messages};
use tokio::io::{AsyncWriteExt, BufReader};

/// Serves each connection; a client silent for a second is dropped.
/// Records the command words seen and how many connections were dropped.
async fn serve(listener: tokio::net::TcpListener, seen: Arc<Mutex<Vec<String>>>, dropped: Arc<Mutex<u32>>) {
    loop {
        let Ok((sock, _)) = listener.accept().await else { return };
        let (seen, dropped) = (Arc::clone(&seen), Arc::clone(&dropped));
        tokio::spawn(async move {
            let (r, mut w) = sock.into_split();
            let mut r = BufReader::new(r);
            let _ = w.write_all(b"* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN SASL-IR] ready\r\n").await;
            loop {
                let cmd = match tokio::time::timeout(Duration::from_secs(1), read_command(&mut r)).await {
                    Err(_) => {
                        *dropped.lock().unwrap() += 1;
                        return; // idle too long: the "NAT" forgets the connection
                    }
                    Ok(Ok(Some(cmd))) => cmd,
                    Ok(_) => return,
                };
                seen.lock().unwrap().push(cmd.word.clone());
                let (reply, close) = usual_answer(&cmd, "IMAP4rev1 LITERAL+");
                if w.write_all(reply.as_bytes()).await.is_err() || close {
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
    // Three messages, 1.6 s apart: longer than the server's idle limit.
    let source = Messages { pause: Duration::from_millis(1600), ..Messages::new(3) };
    let opts = ConnectOptions { timeout: Duration::from_secs(5), keepalive, ..Default::default() };
    let report = upload_plain(source, port, opts);
    let seen = seen.lock().unwrap().clone();
    let dropped = *dropped.lock().unwrap();
    (report, seen, dropped)
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
