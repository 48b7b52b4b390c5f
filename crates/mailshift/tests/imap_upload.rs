//! `mailshift upload` and `compare ... imaps://` against a private Dovecot
//! (testkit's harness), checked with an independent client
//! (`scripts/imap_check.py`, Python's imaplib): every message's bytes,
//! flags and INTERNALDATE; re-runs, SIGKILL, broken connections, XOAUTH2,
//! quota and size limits, a big folder split over connections.
//!
//! Every test starts from [`Fixture`]: a private Dovecot, a source with
//! known expectations, a state file and a report path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::TimeZone as _;
use mailshift_model::{Envelope, ExactHash, Flags, FolderPath, Message, Sink};
use mailshift_testkit::dovecot::{Dovecot, Options};
use mailshift_testkit::proxy::{Direction, Fault, FaultProxy};
use serde_json::Value;
use tempfile::TempDir;

use crate::support::{expect, mailshift, report};

/// What one message should look like on the server.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Expected {
    hash: String,
    flags: Vec<String>,
    date: i64,
}

/// The server folder name (decoded) a source folder lands in on a `.` server.
fn server_name(f: &FolderPath) -> String {
    if f.is_inbox() {
        return "INBOX".into();
    }
    f.segments.iter().map(|s| s.replace('.', "\u{2024}")).collect::<Vec<_>>().join(".")
}

/// A maildir (fs layout, so a name may hold a `.`) with non-ASCII and
/// nested folders, flags, keywords, dates in several offsets, a duplicate;
/// `inbox_extra` more messages in INBOX make it the folder a run splits.
fn make_source(
    dir: &Path,
    per_folder: usize,
    inbox_extra: usize,
) -> (PathBuf, BTreeMap<String, Vec<Expected>>) {
    let root = dir.join("src");
    let opts =
        mailshift_maildir::MaildirWriteOptions { layout: mailshift_maildir::Layout::Fs, utf8_names: false };
    let sink = mailshift_maildir::MaildirSink::create(&root, opts).unwrap();
    let folders = [
        FolderPath::inbox(),
        FolderPath::new(["Sent"]),
        FolderPath::new(["Privé", "Reçus 2024"]),
        FolderPath::new(["Projects", "Ωmega"]),
        FolderPath::new(["v1.2 release"]),
    ];
    let mut expected: BTreeMap<String, Vec<Expected>> = BTreeMap::new();
    for (fi, folder) in folders.iter().enumerate() {
        let mut w = sink.open_folder(folder).unwrap();
        let count = if folder.is_inbox() { per_folder + inbox_extra } else { per_folder };
        for i in 0..count {
            let n = fi * 1000 + i;
            let body = format!(
                "From: Alice <alice@example.com>\nTo: bob@example.com\nSubject: message {n} é\nMessage-ID: <m{n}@test>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\nbody {n}\n{}\n",
                "x".repeat(n % 7 * 100)
            );
            let mut flags =
                Flags { seen: i % 2 == 0, flagged: i % 3 == 0, answered: i % 5 == 0, ..Flags::default() };
            if i % 4 == 1 {
                flags.keywords.insert("$Label1".into());
                flags.keywords.insert("work".into());
            }
            let offset = chrono::FixedOffset::east_opt(((i % 5) as i32 - 2) * 3600).unwrap();
            let received = offset.timestamp_opt(1_600_000_000 + n as i64 * 3607, 0).unwrap();
            let env = Envelope {
                folder: folder.clone(),
                flags: flags.clone(),
                received: Some(received),
                ..Envelope::default()
            };
            let m = Message::new(body.into_bytes(), env);
            let mut fl: Vec<String> = flags.imap_list();
            fl.sort();
            expected.entry(server_name(folder)).or_default().push(Expected {
                hash: m.exact_hash().to_hex(),
                flags: fl,
                date: received.timestamp(),
            });
            w.write(&m).unwrap();
        }
        w.commit().unwrap();
    }
    for v in expected.values_mut() {
        v.sort();
    }
    (root, expected)
}

/// What the server holds, read by `scripts/imap_check.py`.
fn server_state(d: &Dovecot) -> BTreeMap<String, Vec<Expected>> {
    let script = mailshift_testkit::workspace_root().join("scripts/imap_check.py");
    let out = Command::new("python3")
        .arg(script)
        .args(["127.0.0.1", &d.imaps_port().to_string(), d.user(), "--password-file"])
        .arg(d.password_file())
        .arg("--ssl")
        .arg("--cafile")
        .arg(d.ca_cert_path())
        .arg("--bytes")
        .output()
        .expect("run imap_check.py");
    assert!(out.status.success(), "imap_check.py: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("imap_check JSON");
    let mut state = BTreeMap::new();
    for (folder, msgs) in v["messages"].as_object().expect("messages") {
        let mut list = Vec::new();
        for m in msgs.as_array().unwrap() {
            let bytes =
                base64::engine::general_purpose::STANDARD.decode(m["bytes_b64"].as_str().unwrap()).unwrap();
            let mut flags: Vec<String> =
                m["flags"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_owned()).collect();
            flags.sort();
            let hash: ExactHash = mailshift_model::Fingerprint::of(&bytes).exact;
            list.push(Expected {
                hash: hash.to_hex(),
                flags,
                date: m["internaldate_unix"].as_i64().unwrap(),
            });
        }
        list.sort();
        if !list.is_empty() {
            state.insert(folder.clone(), list);
        }
    }
    state
}

/// A test's private Dovecot, source, state and report.
struct Fixture {
    d: Dovecot,
    dir: TempDir,
    src: PathBuf,
    expected: BTreeMap<String, Vec<Expected>>,
    state: PathBuf,
    rep: PathBuf,
}

/// Starts Dovecot (or skips the test when it is not installed) and builds
/// a source of `per_folder` messages in each of 5 folders, plus
/// `inbox_extra` in INBOX.
fn fixture(name: &str, opts: Options, per_folder: usize, inbox_extra: usize) -> Option<Fixture> {
    let d = Dovecot::start_for_test(name, opts)?;
    let dir = tempfile::tempdir().unwrap();
    let (src, expected) = make_source(dir.path(), per_folder, inbox_extra);
    let state = dir.path().join("state.sqlite");
    let rep = dir.path().join("r.json");
    Some(Fixture { d, dir, src, expected, state, rep })
}

impl Fixture {
    /// `upload SRC imaps://USER@127.0.0.1:PORT` with the CA, password file,
    /// state and report; `port` may be a proxy's.
    fn args(&self, port: u16) -> Vec<String> {
        let mut a = upload_args(&self.d, &self.src, &self.state, port);
        a.extend(["--report".into(), self.rep.display().to_string()]);
        a
    }

    /// Runs with `extra` arguments, expects `code`, returns the report.
    fn upload(&self, code: i32, extra: &[&str]) -> Value {
        self.upload_with_state(code, &self.state, extra)
    }

    /// The same with another journal.
    fn upload_with_state(&self, code: i32, state: &Path, extra: &[&str]) -> Value {
        let mut a = upload_args(&self.d, &self.src, state, self.d.imaps_port());
        a.extend(["--report".into(), self.rep.display().to_string()]);
        a.extend(extra.iter().map(|s| s.to_string()));
        run_ok(code, &a);
        report(&self.rep)
    }

    /// The server holds exactly the source: every message once, with its
    /// bytes, flags and INTERNALDATE.
    fn assert_exact(&self, what: &str) {
        let got = server_state(&self.d);
        assert_eq!(counts(&got), counts(&self.expected), "{what}: not exactly one copy of each");
        assert_eq!(got, self.expected, "{what}: server differs from the source; log:\n{}", self.d.log());
    }
}

fn counts(m: &BTreeMap<String, Vec<Expected>>) -> Vec<(String, usize)> {
    m.iter().map(|(k, v)| (k.clone(), v.len())).collect()
}

fn upload_args(d: &Dovecot, src: &Path, state: &Path, port: u16) -> Vec<String> {
    vec![
        "upload".into(),
        src.display().to_string(),
        format!("imaps://{}@127.0.0.1:{port}", d.user()),
        "--ca-file".into(),
        d.ca_cert_path().display().to_string(),
        "--password-file".into(),
        d.password_file().display().to_string(),
        "--state".into(),
        state.display().to_string(),
    ]
}

fn run(args: &[String]) -> crate::support::Run {
    let a: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|s| s as &dyn AsRef<std::ffi::OsStr>).collect();
    mailshift(&a)
}

fn run_ok(code: i32, args: &[String]) -> crate::support::Run {
    let a: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|s| s as &dyn AsRef<std::ffi::OsStr>).collect();
    expect(code, &a)
}

#[test]
fn upload_is_exact_idempotent_and_proven_by_compare() {
    let Some(f) = fixture("upload_is_exact", Options::default(), 12, 0) else { return };
    let r = f.upload(0, &[]);
    assert_eq!(r["written"], 60, "{r}");
    assert_eq!(r["already_present"], 0, "{r}");
    f.assert_exact("first run");
    // A re-run adds nothing.
    let r = f.upload(0, &[]);
    assert_eq!((r["written"].as_u64(), r["already_present"].as_u64()), (Some(60), Some(60)), "{r}");
    f.assert_exact("re-run");
    // compare SRC imaps://: equal, then unequal once a message is gone.
    let d = &f.d;
    let cmp = |code| {
        run_ok(
            code,
            &[
                "compare".into(),
                f.src.display().to_string(),
                format!("imaps://{}@127.0.0.1:{}", d.user(), d.imaps_port()),
                "--ca-file".into(),
                d.ca_cert_path().display().to_string(),
                "--password-file".into(),
                d.password_file().display().to_string(),
            ],
        )
    };
    cmp(0);
    // Delete one message with an independent client (imaplib).
    let py = format!(
        "import imaplib,ssl\nM=imaplib.IMAP4_SSL('127.0.0.1',{port},ssl_context=ssl.create_default_context(cafile='{ca}'))\n\
         M.login('{user}',open('{pw}').read().strip())\nM.select('\"Priv&AOk-.Re&AOc-us 2024\"')\n\
         M.store('3','+FLAGS','\\\\Deleted')\nM.expunge()\nM.logout()\n",
        port = d.imaps_port(),
        ca = d.ca_cert_path().display(),
        user = d.user(),
        pw = d.password_file().display()
    );
    let out = Command::new("python3").arg("-c").arg(&py).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = cmp(1);
    assert!(run.stdout.contains("missing in B 1"), "{}", run.stdout);
}

/// Logins in the server's log once it has `at_least` of them and no more
/// arrive for a moment (Dovecot's log process writes behind).
fn logins_settled(d: &Dovecot, at_least: usize) -> usize {
    let count =
        || d.log().lines().filter(|l| l.contains("imap-login: ") && l.contains(" Login: user=")).count();
    let deadline = Instant::now() + Duration::from_secs(10);
    while count() < at_least && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut n = count();
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = count();
        if now == n {
            return n;
        }
        n = now;
    }
}

#[test]
fn the_connection_that_creates_the_folders_uploads_them() {
    let Some(f) = fixture("one_login", Options::default(), 4, 0) else { return };
    let r = f.upload(0, &["--jobs", "1", "--no-verify"]);
    assert_eq!(r["written"], 20, "{r}");
    // One login: the folders are made and filled over the same connection
    // (a second handshake and login cost ~5% of a 1,000-message upload on
    // this machine).
    assert_eq!(logins_settled(&f.d, 1), 1, "log:\n{}", f.d.log());
    // With the proof: one more, to read the server back.
    let r = f.upload(0, &["--jobs", "1"]);
    assert_eq!(r["already_present"], 20, "{r}");
    assert_eq!(logins_settled(&f.d, 3), 3, "log:\n{}", f.d.log());
    f.assert_exact("one connection");
}

#[test]
fn a_server_copy_from_elsewhere_is_not_duplicated_and_limits_are_findings() {
    let opts = Options { append_limit: Some(1_000_000), ..Options::default() };
    let Some(f) = fixture("server_copy", opts, 6, 0) else { return };
    // First with a fresh journal and --max-size: the big ones are findings.
    let r = f.upload_with_state(1, &f.dir.path().join("a.sqlite"), &["--max-size", "400"]);
    let too_large = r["findings"].as_array().unwrap().iter().filter(|f| f["kind"] == "too_large").count();
    assert!(too_large > 0 && r["skipped"].as_u64() == Some(too_large as u64), "{r}");
    // Then with another journal (as if another tool put them there): the
    // server scan finds what is there, only the rest is sent.
    let r = f.upload_with_state(0, &f.dir.path().join("b.sqlite"), &[]);
    assert_eq!(r["already_present"].as_u64(), Some(30 - too_large as u64), "{r}");
    f.assert_exact("after the second journal");
}

#[test]
fn over_quota_is_reported_and_exits_1() {
    let opts = Options { quota_bytes: Some(4_000), ..Options::default() };
    let Some(f) = fixture("over_quota", opts, 6, 0) else { return };
    // One connection: Dovecot's quota check is per transaction, so parallel
    // connections may each pass it before the other commits.
    let r = f.upload(1, &["--jobs", "1"]);
    let quota = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["message"].as_str().unwrap().contains("over quota"))
        .count();
    assert!(quota > 0, "{r}");
    assert!(r["written"].as_u64().unwrap() > 0 && r["skipped"].as_u64().unwrap() >= quota as u64, "{r}");
}

#[test]
fn broken_and_stalled_connections_end_exact() {
    let Some(f) = fixture("faults", Options::default(), 20, 0) else { return };
    // The first 6 connections are cut after 9 KB up: mid-APPEND.
    let proxy = FaultProxy::start(
        f.d.imaps_addr(),
        Fault::CutAfterBytes { bytes: 9_000, direction: Direction::ClientToServer, connections: Some(6) },
    )
    .unwrap();
    let mut args = f.args(proxy.port());
    args.extend(["--jobs".into(), "2".into(), "--timeout".into(), "5".into()]);
    run_ok(0, &args);
    assert!(proxy.cuts() > 0, "the proxy never cut");
    f.assert_exact("after cuts");
    // Stalls longer than the timeout: reconnect and resume.
    let d2 = Dovecot::start(Options::default()).unwrap();
    let proxy = FaultProxy::start(
        d2.imaps_addr(),
        Fault::Stall {
            after_bytes: 5_000,
            duration: Duration::from_secs(4),
            direction: Direction::ClientToServer,
            connections: Some(2),
        },
    )
    .unwrap();
    let mut args = upload_args(&d2, &f.src, &f.dir.path().join("s2.sqlite"), proxy.port());
    args.extend(["--timeout".into(), "2".into(), "--jobs".into(), "1".into()]);
    run_ok(0, &args);
    assert_eq!(server_state(&d2), f.expected, "after stalls");
}

/// Runs the upload `rounds` times, killing it (SIGKILL) after a random
/// delay each time.
fn kill_rounds(name: &str, args: &[String], rounds: u32, mut seed: u64) {
    for round in 0..rounds {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(50 + seed % 400);
        let mut child = Command::new(crate::support::bin())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while start.elapsed() < delay {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        eprintln!("{name}: round {round} killed after {delay:?}");
    }
}

#[test]
fn sigkill_at_random_points_then_rerun_gives_exactly_one_copy() {
    let Some(f) = fixture("upload_kill", Options::default(), 40, 0) else { return };
    let args = upload_args(&f.d, &f.src, &f.state, f.d.imaps_port());
    kill_rounds("upload_kill", &args, 4, 0x9e37_79b9_7f4a_7c15);
    run_ok(0, &args);
    f.assert_exact("after kills");
}

/// A folder that dominates the mailbox is split over the connections
/// (each message to the shard of its key): the result is exact, a re-run
/// adds nothing, and SIGKILL at random points then a re-run with another
/// number of connections still ends with exactly one copy of each.
#[test]
fn a_big_folder_split_over_connections_stays_exact_across_kills() {
    let Some(f) = fixture("upload_split", Options::default(), 10, 150) else { return };
    let split = ["--jobs", "3", "--split-folders-above", "0"];
    let mut args = f.args(f.d.imaps_port());
    args.extend(split.iter().map(|s| s.to_string()));
    kill_rounds("upload_split", &args, 3, 0x2545_f491_4f6c_dd1d);
    let r = f.upload(0, &["--jobs", "4", "--split-folders-above", "0"]);
    assert_eq!(r["written"], 200, "{r}");
    f.assert_exact("split, after kills");
    let r = f.upload(0, &split);
    assert_eq!((r["written"].as_u64(), r["already_present"].as_u64()), (Some(200), Some(200)), "{r}");
    // A fresh journal: the shards' scans alone find every message.
    let fresh = f.dir.path().join("fresh.sqlite");
    let r = f.upload_with_state(0, &fresh, &["--jobs", "2", "--split-folders-above", "0"]);
    assert_eq!(r["already_present"].as_u64(), Some(200), "{r}");
    f.assert_exact("split, re-runs");
}

/// XOAUTH2 args: the token command instead of a password.
fn xoauth2_args(f: &Fixture, cmd: String, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "upload".into(),
        f.src.display().to_string(),
        format!("imaps://{}@127.0.0.1:{}", f.d.user(), f.d.imaps_port()),
        "--ca-file".into(),
        f.d.ca_cert_path().display().to_string(),
        "--oauth2-token-cmd".into(),
        cmd,
        "--state".into(),
        f.state.display().to_string(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

#[test]
fn xoauth2_with_a_token_command_that_first_hands_out_an_expired_token() {
    let Some(f) = fixture("xoauth2", Options::default(), 4, 0) else { return };
    let expired = f.dir.path().join("expired");
    let good = f.dir.path().join("good");
    let calls = f.dir.path().join("calls");
    std::fs::write(&expired, f.d.mint_expired_token()).unwrap();
    std::fs::write(&good, f.d.mint_token(Duration::from_secs(600))).unwrap();
    // The first call prints an expired token (the server refuses it), the
    // next ones a valid one: the command must be run again on rejection.
    let cmd = format!(
        "echo x >> '{c}'; if [ $(wc -l < '{c}') -eq 1 ]; then cat '{e}'; else cat '{g}'; fi",
        c = calls.display(),
        e = expired.display(),
        g = good.display()
    );
    let r = run(&xoauth2_args(&f, cmd, &["--jobs", "1"]));
    assert_eq!(r.code, 0, "{}\n{}", r.stderr, f.d.log());
    assert!(!r.stderr.contains(&std::fs::read_to_string(&good).unwrap()), "token leaked to stderr");
    assert!(std::fs::read_to_string(&calls).unwrap().lines().count() >= 2);
    f.assert_exact("xoauth2");
}

/// The token's own expiry is followed: the first token (JSON with
/// `expires_in`, as MSAL prints) lives 4 seconds, the upload is slowed to
/// last longer, so the session must log in again with a new token before
/// the first one expires, without any rejection by the server.
#[test]
fn xoauth2_session_is_renewed_before_the_token_expires() {
    let Some(f) = fixture("xoauth2_expiry", Options::default(), 4, 0) else { return };
    let short = f.dir.path().join("short");
    let long = f.dir.path().join("long");
    let calls = f.dir.path().join("calls");
    std::fs::write(
        &short,
        format!(r#"{{"access_token":"{}","expires_in":4}}"#, f.d.mint_token(Duration::from_secs(4))),
    )
    .unwrap();
    std::fs::write(&long, f.d.mint_token(Duration::from_secs(600))).unwrap();
    // Each call logs the time; the first prints the short-lived token.
    let cmd = format!(
        "date +%s.%N >> '{c}'; if [ $(wc -l < '{c}') -eq 1 ]; then cat '{s}'; else cat '{l}'; fi",
        c = calls.display(),
        s = short.display(),
        l = long.display()
    );
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let r = run(&xoauth2_args(&f, cmd, &["--jobs", "1", "--max-msgs-per-sec", "3"]));
    assert_eq!(r.code, 0, "{}\n{}", r.stderr, f.d.log());
    let times: Vec<f64> =
        std::fs::read_to_string(&calls).unwrap().lines().map(|l| l.trim().parse().unwrap()).collect();
    assert!(times.len() >= 2, "the token command ran once: no renewal ({times:?})");
    assert!(times[1] - started < 4.0, "renewed only after the token expired: {times:?}, start {started}");
    assert!(!f.d.log().to_ascii_lowercase().contains("auth failed"), "a token was refused:\n{}", f.d.log());
    assert!(!r.stderr.contains("reconnecting"), "the session broke instead of being renewed:\n{}", r.stderr);
    f.assert_exact("xoauth2 renewal");
}

#[test]
fn starttls_dry_run_sends_nothing_then_the_upload_does() {
    let Some(f) = fixture("starttls_dry_run", Options::default(), 3, 0) else { return };
    let mut args = f.args(f.d.imap_port());
    args[2] = format!("imap://{}@127.0.0.1:{}", f.d.user(), f.d.imap_port());
    args.push("--starttls".into());
    let mut dry = args.clone();
    dry.push("--dry-run".into());
    run_ok(0, &dry);
    assert!(server_state(&f.d).is_empty(), "a dry run wrote");
    assert!(f.d.log().contains("TLS"), "no TLS in the log:\n{}", f.d.log());
    run_ok(0, &args);
    assert_eq!(report(&f.rep)["written"], 15);
    f.assert_exact("starttls");
}
