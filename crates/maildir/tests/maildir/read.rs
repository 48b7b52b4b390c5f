//! Reading maildirs written by other programs.

use std::fs;
use std::path::Path;

use filetime::FileTime;
use mailshift_maildir::{Layout, MaildirSource};
use mailshift_model::{FindingKind, Source};

use crate::support::read_dir;

fn put(dir: &Path, rel: &str, body: &str, mtime: i64) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, body).unwrap();
    filetime::set_file_mtime(&p, FileTime::from_unix_time(mtime, 0)).unwrap();
}

fn mkmaildir(dir: &Path) {
    for s in ["cur", "new", "tmp"] {
        fs::create_dir_all(dir.join(s)).unwrap();
    }
}

#[test]
fn reads_dovecot_style_maildirpp() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    mkmaildir(r);
    mkmaildir(&r.join(".Sent"));
    mkmaildir(&r.join(".Work.Proj&AOk-t"));
    fs::write(r.join(".Work.Proj&AOk-t/dovecot-keywords"), "0 $Label1\n1 NonJunk\n").unwrap();
    put(r, "cur/1600000002.M1P1.host,S=5,W=6:2,RS", "two\n", 1_600_000_002);
    put(r, "cur/1600000001.M1P1.host:2,", "one\n", 1_600_000_001);
    put(r, "new/1600000003.M1P1.host", "three\n", 1_600_000_003);
    put(r, "tmp/1600000004.M1P1.host", "unfinished\n", 1_600_000_004);
    put(r, ".Sent/cur/1.host:2,S", "sent\n", 1_000);
    put(r, ".Work.Proj&AOk-t/cur/5.host:2,FSbaq", "kw\n", 5_000);
    fs::create_dir_all(r.join("stray")).unwrap();

    let src = MaildirSource::open(r).unwrap();
    assert_eq!(src.layout(), Layout::MaildirPlusPlus);
    let mut findings = Vec::new();
    let units = src.units(&mut findings).unwrap();
    let keys: Vec<String> = units.iter().map(|u| u.folder.key()).collect();
    assert_eq!(keys, ["INBOX", "Sent", "Work/Projét"]);
    assert_eq!(units[0].bytes, 4 + 4 + 6);
    assert!(findings.iter().any(|f| f.kind == FindingKind::Ignored), "{findings:?}");

    let (msgs, findings) = read_dir(r);
    let bodies: Vec<&[u8]> = msgs.iter().map(|m| m.raw.as_slice()).collect();
    assert_eq!(bodies, [&b"one\n"[..], b"two\n", b"three\n", b"sent\n", b"kw\n"]);
    let two = &msgs[1].envelope;
    assert!(two.flags.seen && two.flags.answered && !two.flags.flagged);
    assert_eq!(two.received.unwrap().timestamp(), 1_600_000_002);
    assert_eq!(two.received.unwrap().offset().local_minus_utc(), 0);
    assert!(!msgs[2].envelope.flags.seen);
    let kw = &msgs[4].envelope;
    assert!(kw.flags.flagged && kw.flags.seen);
    assert_eq!(kw.flags.keywords.iter().collect::<Vec<_>>(), ["$Label1", "NonJunk"]);
    assert_eq!(msgs[3].envelope.folder.role, Some(mailshift_model::Role::Sent));
    // tmp/ is a leftover, the unknown letter `q` a finding.
    assert!(findings.iter().any(|f| f.kind == FindingKind::Leftover));
    assert!(
        findings.iter().any(|f| f.kind == FindingKind::Malformed && f.message.contains("\"q\"")),
        "{findings:?}"
    );
}

#[test]
fn reads_fs_layout() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    mkmaildir(&r.join("Lists/rust.users"));
    fs::create_dir_all(r.join("Lists/empty-plain-dir")).unwrap();
    put(r, "Lists/rust.users/cur/10.x:2,S", "a\n", 10);
    let src = MaildirSource::open(r).unwrap();
    assert_eq!(src.layout(), Layout::Fs);
    let (msgs, _) = read_dir(r);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].envelope.folder.segments, ["Lists", "rust.users"]);
}

#[test]
fn unreadable_file_is_a_skip_not_an_abort() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    mkmaildir(r);
    put(r, "cur/1.a:2,S", "ok\n", 1);
    // A dangling symlink cannot be read.
    std::os::unix::fs::symlink(r.join("nowhere"), r.join("cur/2.b:2,S")).unwrap();
    let src = MaildirSource::open(r).unwrap();
    let mut findings = Vec::new();
    let units = src.units(&mut findings).unwrap();
    let mut skipped = 0;
    let mut read = 0;
    src.read_unit(&units[0], &mut |item| {
        match item {
            mailshift_model::Item::Message(_) => read += 1,
            mailshift_model::Item::Skipped(f) => {
                assert_eq!(f.kind, FindingKind::Unreadable);
                skipped += 1;
            }
            mailshift_model::Item::Finding(_) => {}
        }
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!((read, skipped), (1, 1));
}
