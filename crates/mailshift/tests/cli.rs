//! Exit codes, `inspect`, dry runs.

use std::fs;

use crate::support::{expect, mailshift, report};

/// Three messages; `Status`/`X-Status`/`X-Keywords` are mbox bookkeeping
/// the reader turns into flags and removes.
const MESSAGES: [&str; 3] = [
    "From: a@example.com\nSubject: one\nMessage-ID: <1@x>\n\nshort\n",
    "From: b@example.com\nSubject: two\nMessage-ID: <2@x>\n\nA longer body\nwith two lines\n",
    "From: c@example.com\nSubject: three\nMessage-ID: <3@x>\n\nmiddle size body\n",
];

fn fixture_mbox() -> Vec<u8> {
    let seps = [
        ("From a@example.com Tue Mar  5 10:00:00 2019", "Status: RO\nX-Status: A\n"),
        ("From b@example.com Sat Jan  1 00:00:01 2022", "Status: O\nX-Keywords: work\n"),
        ("From c@example.com Wed Jul 15 12:30:00 2020", "Status: RO\nX-Status: F\n"),
    ];
    let mut out = Vec::new();
    for ((from, book), msg) in seps.iter().zip(MESSAGES) {
        let (head, body) = msg.split_once("\n\n").unwrap();
        out.extend_from_slice(format!("{from}\n{head}\n{book}\n{body}\n").as_bytes());
    }
    out
}

#[test]
fn a_missing_source_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let run = expect(2, &[&"convert", &dir.path().join("nope"), &dir.path().join("out")]);
    assert!(run.stderr.contains("nope"), "{}", run.stderr);
    assert!(!dir.path().join("out").exists());
    expect(2, &[&"inspect", &dir.path().join("nope")]);
    expect(2, &[&"compare", &dir.path().join("nope"), &dir.path()]);
}

#[test]
fn bad_arguments_exit_2() {
    expect(2, &[&"convert", &"--to", &"pdf", &"a", &"b"]);
    expect(2, &[&"frobnicate"]);
    expect(2, &[&"convert", &"only-one"]);
}

#[test]
fn a_store_with_an_unreadable_message_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("md");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(md.join(sub)).unwrap();
    }
    fs::write(md.join("cur/1700000000.M1P1.host:2,S"), MESSAGES[0]).unwrap();
    // A message file that cannot be read (root reads anything, so a
    // dangling link rather than a mode of 000).
    std::os::unix::fs::symlink(dir.path().join("gone"), md.join("cur/1700000001.M2P1.host:2,S")).unwrap();
    let out = dir.path().join("out.mbox");
    let rep = dir.path().join("r.json");
    let run = mailshift(&[&"convert", &md, &out, &"--to", &"mbox", &"--report", &rep]);
    assert_eq!(run.code, 1, "{run:?}");
    let r = report(&rep);
    assert_eq!(r["written"], 1, "{r}");
    assert!(r["findings"].as_array().unwrap().iter().any(|f| f["level"] == "error"), "{r}");
}

#[test]
fn inspect_json_describes_the_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("Inbox");
    fs::write(&mbox, fixture_mbox()).unwrap();
    let run = expect(0, &[&"inspect", &mbox, &"--json"]);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    assert_eq!(v["format"], "mbox");
    assert!(v["variant"].is_string(), "{v}");
    assert_eq!(v["messages"], 3);
    let sizes: Vec<u64> = MESSAGES.iter().map(|m| m.len() as u64).collect();
    assert_eq!(v["bytes"], sizes.iter().sum::<u64>());
    let folders = v["folders"].as_array().unwrap();
    assert_eq!(folders.len(), 1);
    let f = &folders[0];
    assert_eq!(f["folder"], "INBOX");
    assert_eq!(f["messages"], 3);
    assert_eq!(f["min_size"], *sizes.iter().min().unwrap());
    assert_eq!(f["max_size"], *sizes.iter().max().unwrap());
    assert!(f["earliest"].as_str().unwrap().starts_with("2019-03-05T10:00:00"), "{f}");
    assert!(f["latest"].as_str().unwrap().starts_with("2022-01-01T00:00:01"), "{f}");
    let flags = &f["flags"];
    assert_eq!((flags["seen"].as_u64(), flags["answered"].as_u64()), (Some(2), Some(1)));
    assert_eq!((flags["flagged"].as_u64(), flags["deleted"].as_u64()), (Some(1), Some(0)));
    assert_eq!(flags["keywords"]["work"], 1);
    assert!(run.stderr.contains("3 messages"), "{}", run.stderr);

    let table = expect(0, &[&"inspect", &mbox]);
    let line = table.stdout.lines().find(|l| l.starts_with("INBOX")).expect("an INBOX line");
    assert!(line.split_whitespace().nth(1) == Some("3"), "{line}");
}

#[test]
fn a_dry_run_counts_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("Inbox");
    fs::write(&mbox, fixture_mbox()).unwrap();
    let out = dir.path().join("out");
    let rep = dir.path().join("r.json");
    expect(0, &[&"convert", &mbox, &out, &"--dry-run", &"--report", &rep]);
    assert!(!out.exists());
    let r = report(&rep);
    assert_eq!((r["read"].as_u64(), r["written"].as_u64()), (Some(3), Some(3)));
}

#[test]
fn the_summary_names_counts_and_balance() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("Inbox");
    fs::write(&mbox, fixture_mbox()).unwrap();
    let out = dir.path().join("out");
    let run = expect(0, &[&"convert", &mbox, &out]);
    assert!(run.stderr.contains("read 3, written 3"), "{}", run.stderr);
    assert!(run.stderr.contains("balance: ok"), "{}", run.stderr);
    // A second run finds everything already there.
    let again = expect(0, &[&"convert", &mbox, &out]);
    assert!(again.stderr.contains("(3 already present)"), "{}", again.stderr);
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("Inbox");
    fs::write(&mbox, fixture_mbox()).unwrap();
    let mut child = std::process::Command::new(crate::support::bin())
        .args(["inspect", "--json"])
        .arg(&mbox)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before anything is written
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("error") && !stderr.contains("panicked"), "{stderr}");
}
