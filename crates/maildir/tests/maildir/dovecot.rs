//! A real Dovecot (`doveadm`, no server needed) reads what we wrote: folder
//! names (non-ASCII, dots, slashes), flags, keywords and received dates.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use mailshift_maildir::Layout;
use mailshift_model::{FolderPath, Message, Source};

use crate::support::{message, sink, write_all};

struct Doveadm {
    conf: std::path::PathBuf,
    home: std::path::PathBuf,
    user: String,
}

fn id(flag: &str) -> String {
    let out = Command::new("id").arg(flag).output().expect("run id");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

impl Doveadm {
    /// A minimal configuration in `dir`; Dovecot refuses mail access as
    /// root, so as root the mail is opened as `nobody` (and made writable).
    fn new(dir: &Path, extra: &str) -> Self {
        let (user, group) = if id("-u") == "0" {
            ("nobody".to_owned(), "nogroup".to_owned())
        } else {
            (id("-un"), id("-gn"))
        };
        let home = dir.join("home");
        std::fs::create_dir_all(home.join("run")).unwrap();
        std::fs::create_dir_all(home.join("state")).unwrap();
        let conf = home.join(format!("dovecot-{}.conf", extra.len()));
        let text = format!(
            "ssl = no\nlog_path = /dev/stderr\nbase_dir = {h}/run\nstate_dir = {h}/state\n\
             mail_uid = {user}\nmail_gid = {group}\nfirst_valid_uid = 0\nfirst_valid_gid = 0\n{extra}\n",
            h = home.display()
        );
        std::fs::write(&conf, text).unwrap();
        if id("-u") == "0" {
            assert!(Command::new("chmod").arg("-R").arg("a+rwX").arg(dir).status().unwrap().success());
        }
        Doveadm { conf, home, user }
    }

    fn run(&self, location: &str, args: &[&str]) -> Vec<Vec<String>> {
        let out = Command::new("doveadm")
            .arg("-f")
            .arg("tab")
            .arg("-c")
            .arg(&self.conf)
            .arg("-o")
            .arg(format!("mail_location={location}"))
            .args(args)
            .env("HOME", &self.home)
            .env("USER", &self.user)
            .env("TZ", "UTC")
            .output()
            .expect("run doveadm");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "doveadm {args:?} failed: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout.lines().skip(1).map(|l| l.split('\t').map(str::to_owned).collect()).collect()
    }

    fn mailboxes(&self, location: &str) -> BTreeSet<String> {
        self.run(location, &["mailbox", "list"]).into_iter().map(|r| r[0].clone()).collect()
    }
}

fn folders() -> Vec<FolderPath> {
    let f = |s: &[&str]| FolderPath::new(s.iter().map(|x| (*x).to_owned()));
    vec![
        FolderPath::inbox(),
        f(&["Project 1.5"]),
        f(&["Entwürfe"]),
        f(&["日本語", "子"]),
        f(&["Work", "2024"]),
        f(&["a/b"]),
        f(&["A&B ~x"]),
    ]
}

fn messages() -> Vec<Message> {
    let mut v = Vec::new();
    for (fi, folder) in folders().iter().enumerate() {
        let n = if fi == 0 { 64 } else { 4 };
        v.extend((0..n).map(|i| message(folder, fi * 100 + i)));
    }
    v
}

/// What Dovecot must show for each message, by subject: flags and date.
fn expected(msgs: &[Message]) -> Seen {
    msgs.iter()
        .map(|m| {
            let subject = mailshift_model::headers::get(&m.raw, "Subject").unwrap();
            let flags: BTreeSet<String> = m.envelope.flags.imap_list().into_iter().collect();
            let date = m.envelope.received.unwrap().naive_utc().format("%Y-%m-%d %H:%M:%S").to_string();
            (String::from_utf8(subject).unwrap(), (flags, date))
        })
        .collect()
}

fn fetched(d: &Doveadm, location: &str) -> Seen {
    d.run(location, &["fetch", "flags date.received hdr.subject", "all"])
        .into_iter()
        .map(|r| {
            let flags =
                r[0].split(' ').filter(|f| !f.is_empty() && *f != "\\Recent").map(str::to_owned).collect();
            (r[2].trim().to_owned(), (flags, r[1].clone()))
        })
        .collect()
}

type Seen = BTreeMap<String, (BTreeSet<String>, String)>;

/// Names only the messages that differ, so a failure is readable.
fn assert_same(got: &Seen, want: &Seen) {
    let mut diffs = Vec::new();
    for (subject, w) in want {
        if got.get(subject) != Some(w) {
            diffs.push(format!("{subject}: dovecot {:?}, written {w:?}", got.get(subject)));
        }
    }
    diffs.extend(got.keys().filter(|k| !want.contains_key(*k)).map(|k| format!("{k}: not written")));
    assert!(diffs.is_empty(), "{} difference(s):\n{}", diffs.len(), diffs.join("\n"));
}

#[test]
fn dovecot_reads_maildirpp_as_written() {
    if !mailshift_testkit::require_tool("dovecot_reads_maildirpp_as_written", "doveadm") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Maildir");
    let msgs = messages();
    write_all(&sink(&root, Layout::MaildirPlusPlus, false), &msgs);
    let plain = Doveadm::new(dir.path(), "");
    let loc = format!("maildir:{}", root.display());

    // A stock Dovecot (separator `.`) shows the escapes as ordinary names.
    let names = plain.mailboxes(&loc);
    for want in ["INBOX", "Project 1\\2e5", "Entwürfe", "日本語.子", "Work.2024", "a\\2fb", "A&B ~x"] {
        assert!(names.contains(want), "{want:?} not in {names:?}");
    }
    // With the listescape plugin and separator `/`, the dot comes back.
    let escaped = Doveadm::new(
        dir.path(),
        "mail_plugins = $mail_plugins listescape\nnamespace inbox {\n  separator = /\n  inbox = yes\n}",
    );
    let names = escaped.mailboxes(&loc);
    for want in ["INBOX", "Project 1.5", "Entwürfe", "日本語/子", "Work/2024", "A&B ~x"] {
        assert!(names.contains(want), "{want:?} not in {names:?}");
    }

    // Flags, keywords and INTERNALDATE of every message.
    assert_same(&fetched(&plain, &loc), &expected(&msgs));
}

#[test]
fn dovecot_reads_every_layout_and_name_encoding() {
    if !mailshift_testkit::require_tool("dovecot_reads_every_layout_and_name_encoding", "doveadm") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let msgs = messages();
    let combos = [(Layout::MaildirPlusPlus, true), (Layout::Fs, false), (Layout::Fs, true)];
    for (layout, utf8) in combos {
        let root = dir.path().join(format!("{layout}-{utf8}"));
        write_all(&sink(&root, layout, utf8), &msgs);
    }
    let d = Doveadm::new(dir.path(), "");
    for (layout, utf8) in combos {
        let root = dir.path().join(format!("{layout}-{utf8}"));
        let mut loc = format!("maildir:{}", root.display());
        if layout == Layout::Fs {
            loc.push_str(":LAYOUT=fs");
        }
        if utf8 {
            loc.push_str(":UTF-8");
        }
        let names = d.mailboxes(&loc);
        let sep = if layout == Layout::Fs { "/" } else { "." };
        let dotted = if layout == Layout::Fs { "Project 1.5" } else { "Project 1\\2e5" };
        for want in [
            "INBOX",
            dotted,
            "Entwürfe",
            &format!("日本語{sep}子"),
            &format!("Work{sep}2024"),
            "a\\2fb",
            "A&B ~x",
        ] {
            assert!(names.contains(want), "{loc}: {want:?} not in {names:?}");
        }
        assert_same(&fetched(&d, &loc), &expected(&msgs));
    }
}

impl Doveadm {
    fn run_stdin(&self, location: &str, args: &[&str], stdin: &[u8]) {
        use std::io::Write;
        let mut child = Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf)
            .arg("-o")
            .arg(format!("mail_location={location}"))
            .args(args)
            .env("HOME", &self.home)
            .env("USER", &self.user)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("run doveadm");
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        assert!(child.wait().unwrap().success(), "doveadm {args:?} failed");
    }
}

#[test]
fn reads_what_dovecot_wrote() {
    if !mailshift_testkit::require_tool("reads_what_dovecot_wrote", "doveadm") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Maildir");
    std::fs::create_dir_all(&root).unwrap();
    let d = Doveadm::new(dir.path(), "");
    let loc = format!("maildir:{}", root.display());
    d.run(&loc, &["mailbox", "create", "Entwürfe", "Work.Sub"]);
    d.run_stdin(&loc, &["save", "-m", "Work.Sub"], b"Subject: one\n\nbody\n");
    d.run_stdin(&loc, &["save"], b"Subject: two\n\nbody 2\n");
    d.run(&loc, &["flags", "add", "\\Seen $Label1 \\Flagged", "mailbox", "Work.Sub", "all"]);
    d.run(&loc, &["flags", "add", "\\Answered $Forwarded", "mailbox", "INBOX", "all"]);

    let (msgs, findings) = crate::support::read_dir(&root);
    assert!(findings.is_empty(), "{findings:?}");
    let mut src_findings = Vec::new();
    let units = mailshift_maildir::MaildirSource::open(&root).unwrap().units(&mut src_findings).unwrap();
    let keys: Vec<String> = units.iter().map(|u| u.folder.key()).collect();
    assert_eq!(keys, ["INBOX", "Entwürfe", "Work/Sub"]);
    assert_eq!(msgs.len(), 2);
    let inbox = &msgs[0];
    assert_eq!(inbox.raw, b"Subject: two\n\nbody 2\n");
    assert!(inbox.envelope.flags.answered && inbox.envelope.flags.forwarded && !inbox.envelope.flags.seen);
    let sub = &msgs[1];
    assert_eq!(sub.raw, b"Subject: one\n\nbody\n");
    assert_eq!(sub.envelope.folder.segments, ["Work", "Sub"]);
    assert!(sub.envelope.flags.seen && sub.envelope.flags.flagged);
    assert_eq!(sub.envelope.flags.keywords.iter().collect::<Vec<_>>(), ["$Label1"]);
}
