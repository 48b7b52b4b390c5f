//! Every mbox of the shared corpus converts, balances and compares equal.

use mailshift_testkit::{corpus_files, shared_corpus};

use crate::support::{mailshift, report};

#[test]
fn every_corpus_mbox_converts_to_maildir_and_compares_equal() {
    let Some(corpus) = shared_corpus("every_corpus_mbox_converts_to_maildir_and_compares_equal") else {
        return;
    };
    let mut sources = corpus_files(&corpus, "mbox", &[]);
    sources.push(corpus.join("mbox/thunderbird-folder-pairs"));
    assert!(sources.len() > 10, "too few corpus files: {sources:?}");
    let dir = tempfile::tempdir().unwrap();
    let mut total = 0;
    let mut undetected = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        let out = dir.path().join(format!("out{i}"));
        let rep = dir.path().join(format!("r{i}.json"));
        let mut run = mailshift(&[&"convert", src, &out, &"--report", &rep]);
        let detected = !run.stderr.contains("cannot tell the format");
        if !detected {
            // Not recognisable as an mbox (Foxmail's binary separators):
            // forced, it must still account for every byte as findings.
            undetected.push(src.clone());
            run = mailshift(&[&"convert", src, &out, &"--from", &"mbox", &"--report", &rep]);
        }
        assert!(run.code == 0 || run.code == 1, "{}: {run:?}", src.display());
        let r = report(&rep);
        total += r["read"].as_u64().unwrap();
        if !detected || !out.exists() {
            // Nothing to write (an empty or garbage-only file): nothing to compare.
            assert_eq!(r["written"], 0, "{}: {r}", src.display());
            continue;
        }
        let cmp = mailshift(&[&"compare", src, &out]);
        assert_eq!(cmp.code, 0, "{}: compare says they differ:\n{}{}", src.display(), cmp.stdout, cmp.stderr);
    }
    assert!(total > 100, "too few messages read from the corpus: {total}");
    assert!(undetected.len() <= 2, "not detected as mbox: {undetected:?}");
    if !undetected.is_empty() {
        eprintln!("not detected as mbox (converted with --from mbox): {undetected:?}");
    }
}
