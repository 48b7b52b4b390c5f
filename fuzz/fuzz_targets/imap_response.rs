//! The IMAP response reader on arbitrary server bytes (a hostile or broken
//! server): never panics, never loops, and every `read` either returns a
//! response that consumed input or ends with an error. The same bytes read
//! whole and read with every read dropped once mid-way (as the uploader
//! does while it takes messages from its source) give the same responses.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mailshift_imap::protocol::Session;
use tokio::io::AsyncWriteExt;

/// The responses read from `data`, then the error that ended them. With
/// `interrupt`, the server trickles the bytes and every read is first
/// given only one poll before it is dropped and started again.
async fn responses(data: &[u8], interrupt: bool) -> Vec<String> {
    let (client, mut server) = tokio::io::duplex(data.len() + 64);
    let mut s = Session::new(Box::new(client), "fuzz".into(), Duration::from_secs(5));
    let bytes = data.to_vec();
    let feeder = tokio::spawn(async move {
        for chunk in bytes.chunks(if interrupt { 5 } else { usize::MAX }) {
            let _ = server.write_all(chunk).await;
            tokio::task::yield_now().await;
        }
    });
    let mut out = Vec::new();
    // Each response takes at least one byte: more reads than bytes is a loop.
    for _ in 0..=data.len() + 1 {
        if interrupt {
            let once = tokio::time::timeout(Duration::ZERO, s.read()).await;
            if let Ok(r) = once {
                match r {
                    Ok(resp) => out.push(format!("{resp:?}")),
                    Err(e) => return end(out, e, feeder).await,
                }
                continue;
            }
        }
        match s.read().await {
            Ok(resp) => out.push(format!("{resp:?}")),
            Err(e) => return end(out, e, feeder).await,
        }
    }
    panic!("more responses than bytes: {out:?}");
}

async fn end(
    mut out: Vec<String>,
    e: mailshift_imap::ImapError,
    feeder: tokio::task::JoinHandle<()>,
) -> Vec<String> {
    let _ = feeder.await;
    out.push(format!("error {e}"));
    out
}

fuzz_target!(|data: &[u8]| {
    // The interrupted pass is quadratic in the input by design (a dropped
    // read per five bytes); responses longer than this teach nothing new.
    if data.len() > 8192 {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    let whole = rt.block_on(responses(data, false));
    let interrupted = rt.block_on(responses(data, true));
    assert_eq!(whole, interrupted);
});
