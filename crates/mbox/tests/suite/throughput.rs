//! Reader throughput on a generated mbox. Run it in release mode:
//! `cargo test -p mailshift-mbox --release --test tests throughput -- --ignored --nocapture`
//! (size with `MAILSHIFT_MBOX_BENCH_MIB`, default 512). The goal is at
//! least 150 MB/s.
#![allow(clippy::print_stderr)]

use std::time::Instant;

use mailshift_mbox::{MboxReadOptions, MboxSource};
use mailshift_model::{Item, Source};
use mailshift_testkit::gen::{self, Amount, Profile, Variant};

fn measure(mib: u64, profile: Profile) -> (u64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.mbox");
    let file = std::fs::File::create(&path).unwrap();
    let stats = gen::write_mbox(file, 5, Amount::Bytes(mib << 20), profile, Variant::Mboxrd).unwrap();
    // warm the page cache, as a benchmark run reading its input would
    let bytes = std::fs::read(&path).unwrap().len() as u64;
    let source = MboxSource::open(&path, MboxReadOptions::default()).unwrap();
    let units = source.units(&mut Vec::new()).unwrap();
    let start = Instant::now();
    let mut n = 0u64;
    source
        .read_unit(&units[0], &mut |item| {
            if let Item::Message(m) = item {
                n += 1;
                std::hint::black_box(m);
            }
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(n, stats.messages, "every generated message read");
    let mbps = bytes as f64 / secs / 1e6;
    eprintln!(
        "{profile:?}: {bytes} bytes, {n} messages in {secs:.3} s: {mbps:.0} MB/s, {:.0} messages/s",
        n as f64 / secs
    );
    (n, mbps)
}

#[test]
fn reads_a_small_generated_mbox_completely() {
    let (n, _) = measure(2, Profile::Dense);
    assert!(n > 50);
}

#[test]
#[ignore = "a benchmark: run with --release --ignored"]
fn reader_throughput() {
    let mib = std::env::var("MAILSHIFT_MBOX_BENCH_MIB").ok().and_then(|s| s.parse().ok()).unwrap_or(512);
    for profile in [Profile::Dense, Profile::Realistic] {
        let (_, mbps) = measure(mib, profile);
        if !cfg!(debug_assertions) {
            assert!(mbps >= 150.0, "{profile:?}: {mbps:.0} MB/s is under the 150 MB/s goal");
        }
    }
}
