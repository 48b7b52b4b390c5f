//! `convert` killed with SIGKILL at random points and run again gives
//! exactly the output of one clean run.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{bin, expect, gen_mbox, report, tmp_files, tree};

/// A tiny seeded generator for the kill delays (xorshift).
struct Delays(u64);

impl Delays {
    fn next_ms(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + self.0 % (hi - lo)
    }
}

/// Runs convert, killing it after a random delay, until one run finishes on
/// its own; returns how many runs were killed. `max_ms` is the time of a
/// clean run: the first kills come within its first half, so they land
/// inside a run, later ones within twice it, so that a writer that starts
/// each folder over (mbox) gets to finish too.
fn convert_with_kills(src: &Path, dest: &Path, seed: u64, max_ms: u64, extra: &[&str]) -> usize {
    let mut delays = Delays(seed);
    let mut killed = 0;
    for _ in 0..40 {
        let mut child = Command::new(bin())
            .arg("convert")
            .arg(src)
            .arg(dest)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mailshift");
        // The first kills fall in the first half of a clean run's time, so
        // they land inside a run; later ones may come after the end.
        let upto = if killed < 3 { max_ms / 3 } else { max_ms * 2 };
        let deadline = Instant::now() + Duration::from_millis(delays.next_ms(20, upto.max(40)));
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                assert_eq!(status.code(), Some(0), "an interrupted run left a store that fails to convert");
                return killed;
            }
            if Instant::now() >= deadline {
                child.kill().expect("SIGKILL");
                child.wait().expect("reap");
                killed += 1;
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    panic!("convert never finished within 40 tries");
}

/// A tree of twelve mbox folders, 1,500 messages in all: folders commit on
/// their own, so every killed run leaves some done, one or two half done
/// (temp files, renames cut short) and the rest not started.
fn source_tree(dir: &Path, seed: u64) -> u64 {
    let src = dir.join("mail");
    std::fs::create_dir_all(&src).unwrap();
    let mut n = 0;
    for i in 0..12u64 {
        let name = if i == 0 { "Inbox".to_owned() } else { format!("Folder {i}") };
        n += gen_mbox(&src.join(name), seed + i, 125).messages;
    }
    n
}

/// How a re-run treats what a killed run wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rerun {
    /// Finds each message already present (maildir, EML).
    Resumes,
    /// Writes each folder over, complete (mbox).
    Rewrites,
}

fn kill_test(to: &str, dest_name: &str, seed: u64, rerun: Rerun) {
    let dir = tempfile::tempdir().unwrap();
    let messages = source_tree(dir.path(), seed);
    let src = dir.path().join("mail");
    let extra = ["--to", to, "--jobs", "2"];

    let clean = dir.path().join(format!("clean-{dest_name}"));
    let rep = dir.path().join("clean.json");
    let started = Instant::now();
    expect(0, &[&"convert", &src, &clean, &"--to", &to, &"--jobs", &"2", &"--report", &rep]);
    let clean_ms = started.elapsed().as_millis() as u64;
    let r = report(&rep);
    assert_eq!(r["written"].as_u64(), Some(messages));

    let crashed = dir.path().join(format!("crashed-{dest_name}"));
    // A run can finish before its kill lands when the machine is faster than
    // during the clean run: then start again from nothing, with new delays.
    let mut killed = 0;
    for attempt in 0..5 {
        if crashed.is_dir() {
            std::fs::remove_dir_all(&crashed).expect("remove previous attempt");
        } else if crashed.exists() {
            std::fs::remove_file(&crashed).expect("remove previous attempt");
        }
        killed = convert_with_kills(&src, &crashed, seed + attempt, clean_ms, &extra);
        if killed >= 1 {
            break;
        }
    }
    assert!(killed >= 1, "no run was killed: make the source bigger");
    eprintln!("kill test ({to}): {messages} messages, clean run {clean_ms} ms, {killed} runs killed");
    // Once more, to completion, with a report: everything is already there.
    let rep = dir.path().join("again.json");
    expect(0, &[&"convert", &src, &crashed, &"--to", &to, &"--report", &rep]);
    let again = report(&rep);
    let present = if rerun == Rerun::Resumes { messages } else { 0 };
    assert_eq!(again["already_present"].as_u64(), Some(present), "{again}");
    assert_eq!(again["written"].as_u64(), Some(messages), "{again}");

    let (a, b) = (tree(&clean), tree(&crashed));
    let names =
        |t: &std::collections::BTreeMap<std::path::PathBuf, Vec<u8>>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "after {killed} kills the file names differ from a clean run");
    assert!(a == b, "after {killed} kills the file contents differ from a clean run");
    // Temp files of killed runs must never count as messages (compare
    // below); a writer should also clean them up.
    let leftovers = tmp_files(&crashed);
    if rerun == Rerun::Resumes {
        assert!(leftovers.is_empty(), "temp files left behind: {leftovers:?}");
    } else if !leftovers.is_empty() {
        eprintln!("kill test ({to}): {} temp files of killed runs left behind", leftovers.len());
    }
    // EML files cannot hold flags; everything else must be there.
    let ignore = if to == "eml" { "--ignore-flags" } else { "--logical" };
    expect(0, &[&"compare", &src, &crashed, &ignore]);
    if to != "eml" {
        expect(0, &[&"compare", &src, &crashed]);
    }
}

#[test]
fn killed_maildir_conversions_end_like_a_clean_run() {
    kill_test("maildir", "md", 0x5eed_0001, Rerun::Resumes);
}

#[test]
fn killed_eml_conversions_end_like_a_clean_run() {
    kill_test("eml", "eml", 0x5eed_0002, Rerun::Resumes);
}

#[test]
fn killed_mbox_conversions_end_like_a_clean_run() {
    kill_test("mbox", "mbox", 0x5eed_0003, Rerun::Rewrites);
}

#[test]
fn ctrl_c_stops_cleanly_and_a_rerun_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let messages = source_tree(dir.path(), 0x5eed_0004);
    let src = dir.path().join("mail");
    let dest = dir.path().join("md");
    let child = Command::new(bin())
        .arg("convert")
        .arg(&src)
        .arg(&dest)
        .args(["--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mailshift");
    std::thread::sleep(Duration::from_millis(300));
    let sent = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill -INT");
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(0) {
        // Stopped before the end: a clean stop, with a summary, not a crash.
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        assert!(stderr.contains("balance: ok"), "{stderr}");
    }
    let rep = dir.path().join("r.json");
    expect(0, &[&"convert", &src, &dest, &"--report", &rep]);
    assert_eq!(report(&rep)["written"].as_u64(), Some(messages));
    expect(0, &[&"compare", &src, &dest]);
}
