//! `cargo test --release -p mailshift-maildir --test maildir -- --ignored --nocapture throughput`
//! A measurement, not a check: run by hand (the benchmark in benches/ is the real one).

use std::time::Instant;

use mailshift_maildir::Layout;
use mailshift_model::{FolderPath, Message};

use crate::support::{message, sink, write_all};

#[test]
#[ignore = "a measurement; run by hand with --release"]
#[allow(clippy::print_stdout)]
fn throughput_60k_small_messages() {
    let dir =
        tempfile::tempdir_in(std::env::var("MAILSHIFT_BENCH_DIR").unwrap_or_else(|_| "/tmp".into())).unwrap();
    let msgs: Vec<Message> = (0..60_000).map(|i| message(&FolderPath::inbox(), i)).collect();
    let bytes: usize = msgs.iter().map(|m| m.raw.len()).sum();
    let start = Instant::now();
    let (outcomes, _) = write_all(&sink(dir.path(), Layout::MaildirPlusPlus, false), &msgs);
    let t = start.elapsed();
    assert_eq!(outcomes.len(), msgs.len());
    println!(
        "wrote {} messages ({} bytes) in {:.2?}: {:.0} messages/s",
        msgs.len(),
        bytes,
        t,
        msgs.len() as f64 / t.as_secs_f64()
    );
    let start = Instant::now();
    let (outcomes, _) = write_all(&sink(dir.path(), Layout::MaildirPlusPlus, false), &msgs);
    println!("re-run (all already present): {:.2?}", start.elapsed());
    assert!(outcomes.iter().all(|o| *o == mailshift_model::WriteOutcome::AlreadyPresent));
}
