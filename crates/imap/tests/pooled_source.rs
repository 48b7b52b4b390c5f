//! `ImapSource` keeps logged-in connections for the next folder. A kept
//! connection may be closed by the server while it waits (an idle
//! timeout); the folder is then read on a new connection, not reported as
//! unreadable.

mod scripted;

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use mailshift_imap::auth::{Credentials, Secret};
use mailshift_imap::connection::{ConnectOptions, Connector};
use mailshift_imap::source::ImapSource;
use mailshift_imap::target::{Security, Target};
use mailshift_model::Source;
use scripted::{read_command, usual_answer};
use tokio::io::{AsyncWriteExt, BufReader};

/// Serves each connection with the usual answers; the first one is closed
/// right after its LIST, as an idle timeout would close it.
async fn serve(listener: tokio::net::TcpListener, connections: Arc<AtomicU32>) {
    loop {
        let Ok((sock, _)) = listener.accept().await else { return };
        let n = connections.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let (r, mut w) = sock.into_split();
            let mut r = BufReader::new(r);
            let _ = w.write_all(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n").await;
            while let Ok(Some(cmd)) = read_command(&mut r).await {
                let (reply, close) = usual_answer(&cmd, "IMAP4rev1");
                if w.write_all(reply.as_bytes()).await.is_err() || close {
                    return;
                }
                if n == 0 && cmd.word == "LIST" {
                    return; // the server forgets the connection
                }
            }
        });
    }
}

#[test]
fn a_kept_connection_the_server_closed_is_replaced() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicU32::new(0));
    rt.spawn(serve(listener, Arc::clone(&connections)));

    let target = Target { security: Security::Plain, user: "u".into(), host: "127.0.0.1".into(), port };
    let creds =
        Arc::new(Credentials { user: "u".into(), secret: Secret::Password("pw".into()), mechanism: None });
    let opts = ConnectOptions { allow_plaintext: true, ..ConnectOptions::default() };
    let connector = Connector::new(target, opts, creds).unwrap();
    let source = ImapSource::new(connector, HashMap::new(), false, true).unwrap();

    let mut findings = Vec::new();
    let units = source.units(&mut findings).unwrap();
    assert_eq!(units.len(), 1, "{units:?}");
    // The LIST connection went to the pool, and the server has closed it.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let read = source.read_unit(&units[0], &mut |_| ControlFlow::Continue(()));
    assert!(read.is_ok(), "the folder was not read again on a new connection: {read:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 2, "one for LIST, one to read the folder");
}
