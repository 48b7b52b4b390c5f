//! Round trips between formats keep every message, flag and date
//! (`compare` is the judge).

use std::fs;
use std::path::Path;

use mailshift_testkit::gen::{self, Amount, Profile};

use crate::support::{expect, gen_mbox, report};

fn convert(src: &Path, dest: &Path, to: &str, extra: &[&str]) {
    let rep = dest.with_extension("report.json");
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
        vec![&"convert", &src, &dest, &"--to", &to, &"--report", &rep];
    args.extend(extra.iter().map(|e| e as &dyn AsRef<std::ffi::OsStr>));
    expect(0, &args);
    let r = report(&rep);
    assert!(r["written"].as_u64().unwrap() > 0, "{r}");
}

fn same(a: &Path, b: &Path) {
    expect(0, &[&"compare", &a, &b]);
}

/// mbox bookkeeping headers: an mbox writer stores flags in them and a
/// reader removes them, so a maildir message carrying one of its own (the
/// generator adds `X-Keywords`) cannot come back byte for byte through mbox.
const BOOKKEEPING: [&str; 5] = ["status:", "x-status:", "x-keywords:", "x-mozilla-status", "x-uid:"];

/// Removes bookkeeping header lines from every message of a maildir.
fn strip_bookkeeping(md: &Path) {
    for sub in ["cur", "new"] {
        for e in fs::read_dir(md.join(sub)).unwrap() {
            let p = e.unwrap().path();
            let raw = fs::read(&p).unwrap();
            let head_len = raw.windows(2).position(|w| w == b"\n\n").map_or(raw.len(), |i| i + 1);
            let (head, body) = raw.split_at(head_len);
            let mut out: Vec<u8> = head
                .split_inclusive(|b| *b == b'\n')
                .filter(|l| {
                    let l = String::from_utf8_lossy(l).to_ascii_lowercase();
                    !BOOKKEEPING.iter().any(|h| l.starts_with(h))
                })
                .flatten()
                .copied()
                .collect();
            out.extend_from_slice(body);
            if out != raw {
                let mtime = fs::metadata(&p).unwrap().modified().unwrap();
                fs::write(&p, out).unwrap();
                fs::File::options().write(true).open(&p).unwrap().set_modified(mtime).unwrap();
            }
        }
    }
}

#[test]
fn maildir_to_mbox_to_maildir() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("md");
    gen::write_maildir(&md, 11, Amount::Messages(150), Profile::Small).unwrap();
    strip_bookkeeping(&md);
    let mbox = dir.path().join("all.mbox");
    convert(&md, &mbox, "mbox", &[]);
    assert!(mbox.is_file());
    let back = dir.path().join("back");
    convert(&mbox, &back, "maildir", &[]);
    same(&md, &mbox);
    same(&md, &back);
}

#[test]
fn mbox_to_maildir_to_mbox() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.mbox");
    gen_mbox(&src, 12, 200);
    let md = dir.path().join("md");
    convert(&src, &md, "maildir", &["--layout", "fs"]);
    let back = dir.path().join("back.mbox");
    convert(&md, &back, "mbox", &[]);
    same(&src, &md);
    same(&src, &back);
}

#[test]
fn a_folder_tree_through_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("mail");
    fs::create_dir_all(tree.join("Work.sbd")).unwrap();
    gen_mbox(&tree.join("Inbox"), 21, 40);
    gen_mbox(&tree.join("Sent"), 22, 30);
    gen_mbox(&tree.join("Work"), 23, 20);
    gen_mbox(&tree.join("Work.sbd/2024"), 24, 10);
    let md = dir.path().join("md");
    convert(&tree, &md, "maildir", &["--jobs", "3"]);
    let mboxes = dir.path().join("mboxes");
    convert(&md, &mboxes, "mbox", &[]);
    same(&tree, &md);
    same(&tree, &mboxes);
    // EML files cannot hold flags: everything else must survive.
    let eml = dir.path().join("eml");
    convert(&md, &eml, "eml", &[]);
    expect(1, &[&"compare", &tree, &eml]);
    expect(0, &[&"compare", &tree, &eml, &"--ignore-flags"]);
    let md2 = dir.path().join("md2");
    convert(&eml, &md2, "maildir", &["--layout", "fs"]);
    same(&eml, &md2);
    // A store missing a message is not the same.
    let short = dir.path().join("short.mbox");
    gen_mbox(&short, 21, 39);
    let run = crate::support::mailshift(&[&"compare", &tree.join("Inbox"), &short]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("missing in B"), "{}", run.stdout);
}
