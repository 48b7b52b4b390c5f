//! `backup`, `verify`, `restore` and `drill` run as a user would, with the
//! real `tar` and `zstd` as the second opinion: what they extract must be
//! the same store, damage must be named, faults must leave nothing that
//! looks complete, and crafted archives must not write outside DEST.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mailshift_testkit::gen::{self, Amount, Profile};
use mailshift_testkit::{fixtures, require_tool};

use crate::support::{bin, expect, gen_mbox, mailshift, report, tree};

/// A store with folders, flags, keywords and messages in new/: a tree of
/// mboxes converted to Maildir++, plus a generated maildir's messages.
fn store(dir: &Path, n: usize) -> PathBuf {
    let mail = dir.join("mail");
    fs::create_dir_all(mail.join("Work.sbd")).unwrap();
    gen_mbox(&mail.join("Inbox"), 31, n);
    gen_mbox(&mail.join("Sent"), 32, n / 2 + 1);
    gen_mbox(&mail.join("Work"), 33, n / 3 + 1);
    gen_mbox(&mail.join("Work.sbd/Project 1.5"), 34, n / 4 + 1);
    let md = dir.join("store");
    expect(0, &[&"convert", &mail, &md]);
    let extra = dir.join("generated");
    gen::write_maildir(&extra, 35, Amount::Messages(n as u64), Profile::Small).unwrap();
    // Into a folder of its own: its own dovecot-keywords comes along.
    fs::rename(&extra, md.join(".Generated")).unwrap();
    fs::write(md.join(".Generated/maildirfolder"), b"").unwrap();
    md
}

fn backup(src: &Path, to: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let rep = to.with_extension(format!("{name}.json"));
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
        vec![&"backup", &src, &"--to", &to, &"--name", &name, &"--report", &rep];
    for e in extra {
        args.push(e);
    }
    expect(0, &args);
    let r = report(&rep);
    assert_eq!(
        r["archives"][0]["messages"].as_u64(),
        r["written"].as_u64().map(|w| w - r["already_present"].as_u64().unwrap())
    );
    to.join(format!("{name}.tar.zst"))
}

/// Runs the shell pipeline `script` (arguments as `$1`, `$2`, ...) in a new
/// directory `into` and asserts that it succeeded: extraction with the
/// standard tools alone.
fn extract_with_shell(into: &Path, script: &str, args: &[&Path]) {
    fs::create_dir(into).unwrap();
    let st =
        Command::new("sh").arg("-c").arg(script).arg("sh").args(args).current_dir(into).status().unwrap();
    assert!(st.success(), "{script} failed in {}", into.display());
}

fn same(a: &Path, b: &Path) {
    expect(0, &[&"compare", &a, &b]);
}

#[test]
fn corpus_and_generated_stores_survive_backup_verify_restore() {
    let dir = tempfile::tempdir().unwrap();
    let generated = store(dir.path(), 40);
    let sources = [fixtures().join("sample/thunderbird"), fixtures().join("mbox"), generated];
    for (i, src) in sources.iter().enumerate() {
        let before = tree(src);
        let out = dir.path().join(format!("out{i}"));
        let archive = backup(src, &out, "b", &[]);
        let run = expect(0, &[&"verify", &archive]);
        assert!(run.stderr.contains("result: intact"), "{}", run.stderr);
        let dest = dir.path().join(format!("restored{i}"));
        let rep = dir.path().join(format!("restore{i}.json"));
        expect(0, &[&"restore", &archive, &dest, &"--report", &rep]);
        same(src, &dest);
        // Again: nothing added, nothing changed.
        let first = tree(&dest);
        expect(0, &[&"restore", &archive, &dest, &"--report", &rep]);
        let r = report(&rep);
        assert_eq!(r["already_present"], r["read"], "{r}");
        assert_eq!(tree(&dest), first);
        same(src, &dest);
        assert_eq!(tree(src), before, "the source was changed");
        expect(0, &[&"verify", &archive, &"--against", src]);
    }
}

#[test]
fn debian_tar_and_zstd_extract_the_same_store() {
    if !require_tool("debian_tar_and_zstd_extract_the_same_store", "zstd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = store(dir.path(), 30);
    let archive = backup(&src, &dir.path().join("out"), "mail", &[]);
    let x1 = dir.path().join("x1");
    fs::create_dir(&x1).unwrap();
    let st = Command::new("tar").arg("--zstd").arg("-xf").arg(&archive).current_dir(&x1).status().unwrap();
    assert!(st.success());
    same(&src, &x1.join("mail/maildir"));
    let x2 = dir.path().join("x2");
    extract_with_shell(&x2, "zstd -dc \"$1\" | tar -xf -", &[&archive]);
    same(&src, &x2.join("mail/maildir"));
    // The manifest inside is the one beside, less its last (hash) line.
    let inside = fs::read_to_string(x2.join("mail/manifest.jsonl")).unwrap();
    let beside = fs::read_to_string(dir.path().join("out/mail.manifest.jsonl")).unwrap();
    assert!(beside.starts_with(&inside));
    assert!(beside[inside.len()..].starts_with("{\"type\":\"archive\""), "{}", &beside[inside.len()..]);
    // Every line is JSON a user can read without mailshift.
    for line in beside.lines() {
        let _: serde_json::Value = serde_json::from_str(line).unwrap();
    }
}

#[test]
fn original_files_are_stored_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("box.mbox");
    gen_mbox(&src, 41, 25);
    let archive = backup(&src, &dir.path().join("out"), "orig", &["--original"]);
    expect(0, &[&"verify", &archive]);
    let x = dir.path().join("x");
    fs::create_dir(&x).unwrap();
    let st = Command::new("tar").arg("--zstd").arg("-xf").arg(&archive).current_dir(&x).status().unwrap();
    assert!(st.success());
    assert_eq!(fs::read(x.join("orig/original/box.mbox")).unwrap(), fs::read(&src).unwrap());
    same(&src, &x.join("orig/maildir"));
}

/// Flips one byte of a copy of `archive` at `at`.
fn flipped(archive: &Path, at: u64, to: &Path) {
    let mut bytes = fs::read(archive).unwrap();
    bytes[at as usize] ^= 0x55;
    fs::write(to, bytes).unwrap();
    let m = mailshift_archive::manifest_path(archive);
    fs::copy(&m, mailshift_archive::manifest_path(to)).unwrap();
}

#[test]
fn damage_is_found_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let src = store(dir.path(), 60);
    let archive = backup(&src, &dir.path().join("out"), "d", &[]);
    let size = fs::metadata(&archive).unwrap().len();
    for (i, at) in [0, 100, size / 3, size / 2, size * 9 / 10, size - 5].into_iter().enumerate() {
        let bad = dir.path().join(format!("flip{i}.tar.zst"));
        flipped(&archive, at, &bad);
        let rep = dir.path().join(format!("flip{i}.json"));
        let run = expect(1, &[&"verify", &bad, &"--report", &rep]);
        assert!(run.stderr.contains("DIFFERS from the manifest"), "byte {at}: {}", run.stderr);
        let r = report(&rep);
        assert_eq!(r["clean"], false);
        let v = &r["verification"];
        let named = v["damaged"].as_array().unwrap().len() + v["missing"].as_array().unwrap().len();
        // A flipped byte inside the data is pinned on entries (names on
        // stdout); one in zstd's frame header or checksum is caught by the
        // stream's checksum and the whole-file hash.
        if named > 0 {
            assert!(run.stdout.contains("d/"), "byte {at}: {}", run.stdout);
        }
        // In the middle of the data, the damaged entries must be named.
        if at == size / 3 || at == size / 2 {
            assert!(named > 0, "byte {at}: no entry named: {v}");
        }
        assert!(!r["findings"].as_array().unwrap().is_empty());
    }
    // Truncated: the entries after the cut are named missing.
    let cut = dir.path().join("cut.tar.zst");
    let bytes = fs::read(&archive).unwrap();
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    fs::copy(mailshift_archive::manifest_path(&archive), mailshift_archive::manifest_path(&cut)).unwrap();
    let run = expect(1, &[&"verify", &cut]);
    assert!(run.stdout.contains("missing: d/"), "{}", run.stdout);
    // The manifest beside it deleted: checked against the one inside, and said.
    let lone = dir.path().join("lone.tar.zst");
    fs::copy(&archive, &lone).unwrap();
    let run = expect(1, &[&"verify", &lone]);
    assert!(run.stderr.contains("manifest beside the archive is missing"), "{}", run.stderr);
    assert!(run.stderr.contains("169") || run.stderr.contains("intact;"), "{}", run.stderr);
    // No archive at all: verify could not run.
    let run = expect(2, &[&"verify", &dir.path().join("nothing.tar.zst")]);
    assert!(run.stderr.contains("nothing.tar.zst"), "{}", run.stderr);
    // Both gone (a truncated archive without a manifest beside it).
    let worst = dir.path().join("worst.tar.zst");
    fs::write(&worst, &bytes[..bytes.len() / 3]).unwrap();
    let run = expect(1, &[&"verify", &worst]);
    assert!(run.stderr.contains("no manifest"), "{}", run.stderr);
    // Restore checks every message against the manifest beside the
    // archive: one whose bytes do not match is named and not restored.
    let forged = dir.path().join("forged.tar.zst");
    fs::copy(&archive, &forged).unwrap();
    let text = fs::read_to_string(mailshift_archive::manifest_path(&archive)).unwrap();
    let line = text.lines().find(|l| l.starts_with("{\"type\":\"message\"")).unwrap();
    let rec: serde_json::Value = serde_json::from_str(line).unwrap();
    let hash = rec["blake3"].as_str().unwrap();
    let forged_text = text.replacen(hash, &"0".repeat(64), 1);
    fs::write(mailshift_archive::manifest_path(&forged), forged_text).unwrap();
    let dest = dir.path().join("forged-restore");
    let run = expect(1, &[&"restore", &forged, &dest]);
    let entry = rec["path"].as_str().unwrap();
    assert!(run.stderr.contains("differ from the manifest"), "{}", run.stderr);
    let name = entry.rsplit('/').next().unwrap();
    assert!(
        tree(&dest).keys().all(|p| !p.to_string_lossy().ends_with(name)),
        "the damaged message was restored"
    );
    // A drill of a damaged archive fails and says so in its report.
    let bad = dir.path().join("drill-bad.tar.zst");
    flipped(&archive, size / 2, &bad);
    let rep = dir.path().join("drill.json");
    let run = mailshift(&[&"drill", &bad, &"--report", &rep]);
    assert_ne!(run.code, 0, "{}", run.stderr);
}

#[test]
fn drill_reports_what_it_checked() {
    let dir = tempfile::tempdir().unwrap();
    let src = store(dir.path(), 30);
    let archive = backup(&src, &dir.path().join("out"), "drill", &[]);
    let rep = dir.path().join("drill.json");
    let scratch = dir.path().join("scratch");
    fs::create_dir(&scratch).unwrap();
    expect(0, &[&"drill", &archive, &"--against", &src, &"--report", &rep, &"--scratch", &scratch]);
    let r: serde_json::Value = serde_json::from_str(&fs::read_to_string(&rep).unwrap()).unwrap();
    assert_eq!(r["passed"], true);
    assert_eq!(r["against"]["equal"], true);
    assert!(r["restored"].as_u64().unwrap() > 30);
    assert_eq!(r["restored"], r["matched"]);
    assert_eq!(r["expected"], r["matched"]);
    assert!(r["restore_seconds"].as_f64().unwrap() > 0.0);
    assert!(r["started"].as_str().unwrap().ends_with('Z'));
    assert_eq!(fs::read_dir(&scratch).unwrap().count(), 0, "scratch space left behind");
}

#[test]
fn incremental_chain_restores_the_full_mailbox() {
    let dir = tempfile::tempdir().unwrap();
    let src = store(dir.path(), 30);
    let out = dir.path().join("out");
    let full = backup(&src, &out, "full", &[]);
    // New mail arrives, in an existing folder and a new one.
    let more = dir.path().join("more");
    fs::create_dir_all(more.join("Work.sbd")).unwrap();
    gen_mbox(&more.join("Inbox"), 51, 12);
    gen_mbox(&more.join("Work.sbd/Later"), 52, 5);
    expect(0, &[&"convert", &more, &src]);
    let manifest = out.join("full.manifest.jsonl");
    let incr = backup(&src, &out, "incr", &["--incremental-from", manifest.to_str().unwrap()]);
    let rep = out.with_extension("incr.json");
    let r = report(&rep);
    assert_eq!(r["archives"][0]["messages"], 17, "{r}");
    assert_eq!(r["read"].as_u64().unwrap(), r["archives"][0]["unchanged"].as_u64().unwrap() + 17);
    expect(0, &[&"verify", &incr]);
    expect(0, &[&"verify", &incr, &"--against", &src]);
    // The full backup alone does not hold the new mail.
    expect(1, &[&"verify", &full, &"--against", &src]);
    let dest = dir.path().join("restored");
    expect(0, &[&"restore", &full, &incr, &dest]);
    same(&src, &dest);
    // Each in turn into the same place is the same.
    let dest2 = dir.path().join("restored2");
    expect(0, &[&"restore", &full, &dest2]);
    expect(0, &[&"restore", &incr, &dest2]);
    same(&src, &dest2);
    expect(0, &[&"drill", &full, &incr, &"--against", &src]);
}

#[test]
fn restore_of_one_folder() {
    let dir = tempfile::tempdir().unwrap();
    let src = store(dir.path(), 20);
    let archive = backup(&src, &dir.path().join("out"), "f", &[]);
    let dest = dir.path().join("only-work");
    let rep = dir.path().join("r.json");
    expect(0, &[&"restore", &archive, &dest, &"--folder", &"Work", &"--report", &rep]);
    let r = report(&rep);
    let folders: Vec<&String> = r["folders"].as_object().unwrap().keys().collect();
    assert_eq!(folders, ["Work", "Work/Project 1.5"], "{r}");
    let work = tree(&dest.join(".Work/cur"));
    assert_eq!(work.len() as u64, r["folders"]["Work"]["written"].as_u64().unwrap());
    assert!(fs::read_dir(dest.join("cur")).unwrap().next().is_none(), "the inbox was restored too");
}

/// Writes `NAME.tar.zst` holding the given entries, made with Python's
/// tarfile (an independent writer) and Debian's zstd.
fn crafted(path: &Path, script: &str) {
    let tar = path.with_extension("");
    let py = format!(
        "import tarfile, io, sys\nt = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT)\n\
         def f(name, data=b'Subject: x\\n\\nbody\\n'):\n    i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))\n\
         def link(name, target, kind=tarfile.SYMTYPE):\n    i = tarfile.TarInfo(name); i.type = kind; i.linkname = target; t.addfile(i)\n\
         {script}\nt.close()\n"
    );
    let st = Command::new("python3").arg("-c").arg(py).arg(&tar).status().unwrap();
    assert!(st.success());
    let st =
        Command::new("zstd").arg("-q").arg("-f").arg("--rm").arg(&tar).arg("-o").arg(path).status().unwrap();
    assert!(st.success());
}

#[test]
fn crafted_archives_cannot_write_outside_dest() {
    if !require_tool("crafted_archives_cannot_write_outside_dest", "zstd")
        || !require_tool("crafted_archives_cannot_write_outside_dest", "python3")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let abs = outside.join("abs");
    let cases = [
        (
            "dotdot",
            "f('../escaped')\nf('n/maildir/../../escaped2')\nf('n/maildir/cur/../../../escaped3')".to_owned(),
        ),
        ("absolute", format!("f('{}')", abs.display())),
        (
            "symlink",
            format!(
                "link('n/maildir/cur', '{out}')\nf('n/maildir/cur/1.M1_1.mailshift,S=3:2,S')\n\
                 link('n/maildir/.Evil', '{out}')\nf('n/maildir/.Evil/cur/2.M2_1.mailshift:2,')",
                out = outside.display()
            ),
        ),
        ("hardlink", "link('n/maildir/cur/3.M3_1.mailshift:2,', '/etc/passwd', tarfile.LNKTYPE)".to_owned()),
        (
            "device",
            "i = tarfile.TarInfo('n/maildir/cur/4.x:2,'); i.type = tarfile.CHRTYPE; t.addfile(i)".to_owned(),
        ),
    ];
    for (name, script) in cases {
        let archive = dir.path().join(format!("{name}.tar.zst"));
        crafted(&archive, &script);
        let dest = dir.path().join(format!("dest-{name}"));
        let run = expect(1, &[&"restore", &archive, &dest]);
        assert!(run.stderr.contains("entry refused"), "{name}: {}", run.stderr);
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0, "{name} wrote outside DEST");
        assert!(!dir.path().join("escaped").exists() && !dir.path().join("escaped2").exists());
        assert!(!abs.exists());
        // Nothing in DEST is a link.
        for e in walk(&dest) {
            assert!(!fs::symlink_metadata(&e).unwrap().file_type().is_symlink(), "{name}: {}", e.display());
        }
    }
    // A link already inside DEST is not followed either.
    let archive = dir.path().join("plain.tar.zst");
    crafted(&archive, "f('n/maildir/.Work/cur/5.M5_1.mailshift:2,S')");
    let dest = dir.path().join("dest-prelinked");
    fs::create_dir(&dest).unwrap();
    std::os::unix::fs::symlink(&outside, dest.join(".Work")).unwrap();
    let run = mailshift(&[&"restore", &archive, &dest]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0, "followed a symlink inside DEST");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

#[test]
fn a_full_target_leaves_no_partial_and_the_source_untouched() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if !is_root() {
        assert!(!ci, "CI runs as root and must run the full-disk test");
        eprintln!(
            "SKIPPED a_full_target_leaves_no_partial_and_the_source_untouched: needs root to mount a tmpfs"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big");
    // Realistic mail barely compresses past its attachments: 12 MB will not fit in 2 MB.
    gen::write_maildir(&src, 61, Amount::Bytes(12 << 20), Profile::Realistic).unwrap();
    let before = tree(&src);
    let target = dir.path().join("small");
    fs::create_dir(&target).unwrap();
    let st =
        Command::new("mount").args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"]).arg(&target).status().unwrap();
    if !st.success() {
        assert!(!ci, "cannot mount a tmpfs under CI");
        eprintln!("SKIPPED a_full_target_leaves_no_partial_and_the_source_untouched: mount failed");
        return;
    }
    let run = mailshift(&[&"backup", &src, &"--to", &target, &"--name", &"full"]);
    let listing: Vec<String> = fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let _ = Command::new("umount").arg(&target).status();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("No space left on device"), "{}", run.stderr);
    assert!(
        run.stderr.contains("full.tar.zst.partial") || run.stderr.contains("full.manifest"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("no archive was written"), "{}", run.stderr);
    assert!(listing.is_empty(), "left behind: {listing:?}");
    assert_eq!(tree(&src), before, "the source was changed");
}

#[test]
fn a_vanished_target_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let src = store(dir.path(), 10);
    // The target is a path through a file: as good as gone.
    let blocker = dir.path().join("not-a-dir");
    fs::write(&blocker, b"x").unwrap();
    let run = expect(2, &[&"backup", &src, &"--to", &blocker.join("sub"), &"--name", &"v"]);
    assert!(run.stderr.contains("not-a-dir"), "{}", run.stderr);
    // An existing archive is never overwritten.
    let out = dir.path().join("out");
    let archive = backup(&src, &out, "once", &[]);
    let before = fs::read(&archive).unwrap();
    let run = expect(2, &[&"backup", &src, &"--to", &out, &"--name", &"once"]);
    assert!(run.stderr.contains("never overwritten"), "{}", run.stderr);
    assert_eq!(fs::read(&archive).unwrap(), before);
}

#[test]
fn a_killed_backup_leaves_nothing_verify_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big");
    gen::write_maildir(&src, 71, Amount::Bytes(24 << 20), Profile::Realistic).unwrap();
    let mut seen_partial = false;
    for (i, delay) in [30u64, 80, 150, 250, 400].into_iter().enumerate() {
        let out = dir.path().join(format!("out{i}"));
        let mut child = Command::new(bin())
            .arg("backup")
            .arg(&src)
            .arg("--to")
            .arg(&out)
            .args(["--name", "k"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_millis(delay);
        let mut finished = false;
        while Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                finished = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if !finished {
            child.kill().unwrap();
        }
        child.wait().unwrap();
        let Ok(rd) = fs::read_dir(&out) else { continue };
        let names: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
        let complete = out.join("k.tar.zst");
        for p in &names {
            if p.to_string_lossy().ends_with(".partial") {
                seen_partial = true;
            }
            if p.to_string_lossy().ends_with(".tar.zst") || p.to_string_lossy().ends_with(".tar.zst.partial")
            {
                let run = mailshift(&[&"verify", p]);
                if p == &complete && finished {
                    assert_eq!(run.code, 0, "{}", run.stderr);
                } else if p != &complete {
                    assert_ne!(run.code, 0, "verify accepted {} of a killed backup", p.display());
                }
            }
        }
        if names.contains(&complete) {
            // Renamed into place only when complete: it verifies.
            expect(0, &[&"verify", &complete]);
        }
        // The next run cleans up and completes.
        if !names.contains(&complete) {
            expect(0, &[&"backup", &src, &"--to", &out, &"--name", &"k"]);
            expect(0, &[&"verify", &complete]);
            let left: Vec<_> = fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert_eq!(left.len(), 2, "{left:?}");
        }
    }
    assert!(seen_partial, "no kill landed while the archive was being written");
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of a Unix time, as doveadm prints dates.
fn utc(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[test]
fn dovecot_reads_what_tar_extracts() {
    if !require_tool("dovecot_reads_what_tar_extracts", "doveadm") {
        return;
    }
    assert_eq!(utc(1_417_711_544), "2014-12-04 16:45:44");
    let dir = tempfile::tempdir().unwrap();
    let src = store(dir.path(), 25);
    let archive = backup(&src, &dir.path().join("out"), "dc", &[]);
    let x = dir.path().join("x");
    fs::create_dir(&x).unwrap();
    assert!(Command::new("tar")
        .arg("--zstd")
        .arg("-xf")
        .arg(&archive)
        .current_dir(&x)
        .status()
        .unwrap()
        .success());
    let manifest =
        mailshift_archive::Manifest::load(&dir.path().join("out/dc.manifest.jsonl")).expect("manifest");
    let mut want: Vec<(Vec<String>, String)> = manifest
        .messages()
        .map(|m| {
            let mut f = m.flags().imap_list();
            f.sort();
            (f, utc(m.mtime))
        })
        .collect();
    want.sort();
    // Dovecot refuses to open mail as root: as root, read it as nobody.
    let root = is_root();
    let (user, group) =
        if root { ("nobody".to_owned(), "nogroup".to_owned()) } else { (whoami("-un"), whoami("-gn")) };
    let home = dir.path().join("home");
    fs::create_dir_all(home.join("run")).unwrap();
    fs::create_dir_all(home.join("state")).unwrap();
    let conf = home.join("dovecot.conf");
    fs::write(
        &conf,
        format!(
            "ssl = no\nlog_path = /dev/stderr\nbase_dir = {h}/run\nstate_dir = {h}/state\nmail_uid = {user}\n\
             mail_gid = {group}\nfirst_valid_uid = 0\nfirst_valid_gid = 0\n",
            h = home.display()
        ),
    )
    .unwrap();
    if root {
        assert!(Command::new("chmod").arg("-R").arg("a+rwX").arg(dir.path()).status().unwrap().success());
    }
    let out = Command::new("doveadm")
        .args(["-f", "tab", "-c"])
        .arg(&conf)
        .arg("-o")
        .arg(format!("mail_location=maildir:{}", x.join("dc/maildir").display()))
        .args(["fetch", "flags date.received", "all"])
        .env("HOME", &home)
        .env("USER", &user)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut got: Vec<(Vec<String>, String)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let (flags, date) = l.split_once('\t').unwrap();
            let mut f: Vec<String> =
                flags.split(' ').filter(|f| !f.is_empty() && *f != "\\Recent").map(str::to_owned).collect();
            f.sort();
            (f, date.trim().to_owned())
        })
        .collect();
    got.sort();
    assert_eq!(got.len(), want.len());
    assert!(
        want.iter().any(|(f, _)| f.iter().any(|k| !k.starts_with('\\'))),
        "no keywords in the test store"
    );
    assert_eq!(got, want);
}

fn whoami(flag: &str) -> String {
    String::from_utf8(Command::new("id").arg(flag).output().unwrap().stdout).unwrap().trim().to_owned()
}

/// `age-keygen` into `path`; returns the recipient (`age1...`).
fn keygen(path: &Path) -> String {
    let st = Command::new("age-keygen").arg("-o").arg(path).stderr(Stdio::null()).status().unwrap();
    assert!(st.success());
    let out = Command::new("age-keygen").arg("-y").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn encrypted_backups_round_trip_and_stay_readable_with_age() {
    if !require_tool("encrypted_backups_round_trip_and_stay_readable_with_age", "age")
        || !require_tool("encrypted_backups_round_trip_and_stay_readable_with_age", "zstd")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = store(dir.path(), 25);
    let key = dir.path().join("key.txt");
    let recipient = keygen(&key);
    // A second recipient from a file: either key opens the archive.
    let key2 = dir.path().join("key2.txt");
    let recipients = dir.path().join("recipients.txt");
    fs::write(&recipients, format!("# the backup admin\n{}\n", keygen(&key2))).unwrap();
    let out = dir.path().join("out");
    let rep = dir.path().join("enc.json");
    expect(
        0,
        &[
            &"backup",
            &src,
            &"--to",
            &out,
            &"--name",
            &"enc",
            &"--encrypt-to",
            &recipient,
            &"--encrypt-to-file",
            &recipients,
            &"--report",
            &rep,
        ],
    );
    let archive = out.join("enc.tar.zst.age");
    assert!(archive.exists() && !out.join("enc.tar.zst").exists());
    for f in fs::read_dir(&out).unwrap() {
        use std::os::unix::fs::PermissionsExt;
        let mode = f.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "backup files are private");
    }
    let mut names: Vec<String> =
        fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["enc.manifest.jsonl", "enc.manifest.jsonl.age", "enc.tar.zst.age"]);
    // Nothing about the mail in clear: not in the clear manifest, not in the files.
    let clear = fs::read_to_string(out.join("enc.manifest.jsonl")).unwrap();
    assert_eq!(clear.lines().count(), 2, "{clear}");
    for secret in ["Work", "Project", "Generated", "\"message\"", "\"folder\"", src.to_str().unwrap()] {
        assert!(!clear.contains(secret), "{secret} in clear: {clear}");
    }
    for f in ["enc.tar.zst.age", "enc.manifest.jsonl.age"] {
        let bytes = fs::read(out.join(f)).unwrap();
        assert!(bytes.starts_with(b"age-encryption.org/v1\n"), "{f}");
        assert!(!bytes.windows(8).any(|w| w == b"Subject:" || w == b"Project "), "{f} holds clear text");
    }
    // Without a key: the whole-file hashes are checked, and it says so.
    let run = expect(0, &[&"verify", &archive]);
    assert!(run.stderr.contains("entries not checked"), "{}", run.stderr);
    // With either key: every entry.
    for k in [&key, &key2] {
        let vrep = dir.path().join("v.json");
        let run = expect(0, &[&"verify", &archive, &"--identity", k, &"--report", &vrep]);
        assert!(run.stderr.contains("result: intact"), "{}", run.stderr);
        let v = report(&vrep);
        assert_eq!(v["verification"]["entries_checked"], true);
        assert!(v["verification"]["messages_ok"].as_u64().unwrap() > 25, "{v}");
        assert_eq!(v["verification"]["messages_ok"], v["verification"]["messages"]);
    }
    expect(0, &[&"verify", &archive, &"--identity", &key, &"--against", &src]);
    // Restore needs the key, and gives the store back.
    let dest = dir.path().join("restored");
    let run = expect(2, &[&"restore", &archive, &dest]);
    assert!(run.stderr.contains("--identity"), "{}", run.stderr);
    expect(0, &[&"restore", &archive, &dest, &"--identity", &key]);
    same(&src, &dest);
    expect(0, &[&"drill", &archive, &"--identity", &key2, &"--against", &src]);
    // Standard tools alone: age | zstd | tar gives the same maildir, and
    // the manifest decrypts to plain JSON lines.
    let x = dir.path().join("x");
    extract_with_shell(&x, "age -d -i \"$1\" \"$2\" | zstd -dc | tar -xf -", &[&key, &archive]);
    same(&src, &x.join("enc/maildir"));
    let m = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&key)
        .arg(out.join("enc.manifest.jsonl.age"))
        .output()
        .unwrap();
    assert!(m.status.success());
    let text = String::from_utf8(m.stdout).unwrap();
    assert!(text.starts_with("{\"type\":\"header\""), "{text}");
    assert!(text.lines().last().unwrap().starts_with("{\"type\":\"archive\""));
    assert!(text.ends_with(&format!("{}\n", clear.lines().last().unwrap())), "{text}");
    // A wrong key is a clear error, not damage.
    let wrong = dir.path().join("wrong.txt");
    keygen(&wrong);
    for cmd in ["verify", "restore", "drill"] {
        let d = dir.path().join(format!("wrong-{cmd}"));
        let run = if cmd == "restore" {
            mailshift(&[&cmd, &archive, &d, &"--identity", &wrong])
        } else {
            mailshift(&[&cmd, &archive, &"--identity", &wrong])
        };
        assert_eq!(run.code, 2, "{cmd}: {}", run.stderr);
        assert!(run.stderr.contains("wrong key"), "{cmd}: {}", run.stderr);
    }
    // A flipped ciphertext byte, in the archive or in the encrypted
    // manifest, is found with and without the key.
    let size = fs::metadata(&archive).unwrap().len();
    let bad_dir = dir.path().join("bad");
    fs::create_dir(&bad_dir).unwrap();
    for at in [size / 2, size - 3] {
        let bad = bad_dir.join("enc.tar.zst.age");
        let mut bytes = fs::read(&archive).unwrap();
        bytes[at as usize] ^= 0x55;
        fs::write(&bad, bytes).unwrap();
        for m in ["enc.manifest.jsonl", "enc.manifest.jsonl.age"] {
            fs::copy(out.join(m), bad_dir.join(m)).unwrap();
        }
        let run = expect(1, &[&"verify", &bad]);
        assert!(run.stderr.contains("DIFFERS from the manifest"), "{}", run.stderr);
        let run = expect(1, &[&"verify", &bad, &"--identity", &key]);
        assert!(run.stderr.contains("DIFFERS from the manifest"), "{}", run.stderr);
        assert!(run.stderr.contains("damaged"), "{}", run.stderr);
        fs::remove_file(&bad).unwrap();
    }
    let bad = bad_dir.join("enc.tar.zst.age");
    fs::copy(&archive, &bad).unwrap();
    let mut enc = fs::read(out.join("enc.manifest.jsonl.age")).unwrap();
    let n = enc.len();
    enc[n - 20] ^= 1;
    fs::write(bad_dir.join("enc.manifest.jsonl.age"), enc).unwrap();
    let run = expect(1, &[&"verify", &bad]);
    assert!(run.stderr.contains("encrypted manifest differs"), "{}", run.stderr);
    // An encrypted incremental backup builds on the encrypted chain.
    gen_mbox(&dir.path().join("more.mbox"), 81, 4);
    expect(0, &[&"convert", &dir.path().join("more.mbox"), &src]);
    let parent = out.join("enc.manifest.jsonl");
    let run = mailshift(&[
        &"backup",
        &src,
        &"--to",
        &out,
        &"--name",
        &"enc2",
        &"--encrypt-to",
        &recipient,
        &"--incremental-from",
        &parent,
    ]);
    assert_eq!(run.code, 2, "an encrypted parent needs its key: {}", run.stderr);
    expect(
        0,
        &[
            &"backup",
            &src,
            &"--to",
            &out,
            &"--name",
            &"enc2",
            &"--encrypt-to",
            &recipient,
            &"--incremental-from",
            &parent,
            &"--identity",
            &key,
        ],
    );
    let dest = dir.path().join("chain");
    expect(0, &[&"restore", &out.join("enc2.tar.zst.age"), &dest, &"--identity", &key]);
    same(&src, &dest);
}

/// The flag letters of a maildir file name with `letter` added (sorted,
/// as the maildir spec wants them).
fn with_flag(name: &str, letter: char) -> String {
    let (base, info) = name.split_once(":2,").unwrap();
    let mut letters: Vec<char> = info.chars().chain([letter]).collect();
    letters.sort_unstable();
    letters.dedup();
    format!("{base}:2,{}", letters.into_iter().collect::<String>())
}

fn messages_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

#[test]
fn a_chain_restores_the_mailbox_as_it_was_at_the_newest_backup() {
    let dir = tempfile::tempdir().unwrap();
    let src = store(dir.path(), 30);
    let out = dir.path().join("out");
    let full = backup(&src, &out, "full", &[]);
    // Since then: one message deleted, one re-flagged, one moved to
    // another folder, one re-flagged *and* moved, one new.
    let inbox = messages_in(&src.join("cur"));
    assert!(inbox.len() >= 6, "{inbox:?}");
    fs::remove_file(&inbox[0]).unwrap();
    let flagged = inbox[1].file_name().unwrap().to_string_lossy().into_owned();
    let info = flagged.split_once(":2,").unwrap().1.to_owned();
    let letter = ['F', 'R', 'D'].into_iter().find(|c| !info.contains(*c)).unwrap();
    let flagged_to = with_flag(&flagged, letter);
    assert_ne!(flagged, flagged_to);
    fs::rename(&inbox[1], src.join("cur").join(&flagged_to)).unwrap();
    fs::rename(&inbox[2], src.join(".Work/cur").join(inbox[2].file_name().unwrap())).unwrap();
    let both = with_flag(&inbox[3].file_name().unwrap().to_string_lossy(), 'D');
    fs::rename(&inbox[3], src.join(".Sent/cur").join(both)).unwrap();
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(src.join(".Empty").join(sub)).unwrap();
    }
    fs::write(src.join(".Empty/maildirfolder"), b"").unwrap();
    gen_mbox(&dir.path().join("new.mbox"), 91, 1);
    expect(0, &[&"convert", &dir.path().join("new.mbox"), &src]);
    let manifest = out.join("full.manifest.jsonl");
    let incr = backup(&src, &out, "incr", &["--incremental-from", manifest.to_str().unwrap()]);
    // Only the new message's bytes are stored; the moved ones are listed.
    let r = report(&out.with_extension("incr.json"));
    assert_eq!(r["archives"][0]["messages"], 1, "{r}");
    expect(0, &[&"verify", &incr]);
    expect(0, &[&"verify", &incr, &"--against", &src]);
    // The chain, given or found beside the newest manifest, is the mailbox now.
    for (i, given) in [vec![&full, &incr], vec![&incr]].into_iter().enumerate() {
        let dest = dir.path().join(format!("restored{i}"));
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"restore"];
        for a in &given {
            args.push(*a);
        }
        args.push(&dest);
        expect(0, &args);
        same(&src, &dest);
        assert!(!tree(&dest).keys().any(|p| p.ends_with(&flagged)), "the old flags came back");
        assert!(dest.join(".Empty/cur").is_dir(), "the new empty folder was not restored");
    }
    // The full backup alone is the mailbox as it was then: different.
    let old = dir.path().join("old");
    expect(0, &[&"restore", &full, &old]);
    expect(1, &[&"compare", &src, &old]);
    let rep = dir.path().join("drill.json");
    expect(0, &[&"drill", &full, &incr, &"--against", &src, &"--report", &rep]);
    let d: serde_json::Value = serde_json::from_str(&fs::read_to_string(&rep).unwrap()).unwrap();
    assert_eq!(d["passed"], true, "{d}");
    assert_eq!(d["expected"], d["matched"], "{d}");
    assert_eq!(d["archives"][1]["messages"], 1, "{d}");
}

/// Real-world stores of the shared corpus (every mbox, the PSTs up to
/// 4 MB): backed up, verified, restored, and the restored maildir compares
/// equal with the source.
#[test]
fn corpus_stores_survive_backup_verify_restore() {
    let Some(corpus) = mailshift_testkit::shared_corpus("corpus_stores_survive_backup_verify_restore") else {
        return;
    };
    let mut sources = mailshift_testkit::corpus_files(&corpus, "mbox", &[]);
    sources.push(corpus.join("mbox/thunderbird-folder-pairs"));
    sources.extend(
        mailshift_testkit::corpus_files(&corpus, "pst", &["pst", "ost"])
            .into_iter()
            .filter(|p| fs::metadata(p).is_ok_and(|m| m.len() <= 4 << 20)),
    );
    let dir = tempfile::tempdir().unwrap();
    let (mut done, mut messages) = (0, 0);
    for (i, src) in sources.iter().enumerate() {
        let out = dir.path().join(format!("out{i}"));
        let rep = dir.path().join(format!("b{i}.json"));
        let run = mailshift(&[&"backup", src, &"--to", &out, &"--name", &"c", &"--report", &rep]);
        if run.code == 2 {
            // Not a store mailshift reads (undetected format, a corrupt or
            // password-protected PST): `convert` says the same; nothing written.
            assert!(!out.join("c.tar.zst").exists(), "{}", src.display());
            continue;
        }
        assert!(run.code == 0 || run.code == 1, "{}: {run:?}", src.display());
        let archive = out.join("c.tar.zst");
        let v = mailshift(&[&"verify", &archive]);
        assert_eq!(v.code, 0, "{}: {}", src.display(), v.stderr);
        let dest = dir.path().join(format!("r{i}"));
        expect(0, &[&"restore", &archive, &dest]);
        let written = report(&rep)["archives"][0]["messages"].as_u64().unwrap();
        if written == 0 {
            continue;
        }
        let cmp = mailshift(&[&"compare", src, &dest]);
        assert_eq!(cmp.code, 0, "{}: compare says they differ:\n{}{}", src.display(), cmp.stdout, cmp.stderr);
        done += 1;
        messages += written;
    }
    assert!(done >= 20, "too few corpus stores backed up: {done}");
    assert!(messages > 100, "too few messages: {messages}");
}

/// The target directory disappears while the archive is written (a file
/// server share removed under the backup): a clear error, exit 2, nothing
/// left that looks complete, the source untouched.
#[test]
fn a_target_that_disappears_mid_write_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big");
    gen::write_maildir(&src, 73, Amount::Bytes(24 << 20), Profile::Realistic).unwrap();
    let before = tree(&src);
    let out = dir.path().join("share");
    let moved = dir.path().join("share-moved");
    let mut tries = 0;
    loop {
        tries += 1;
        let _ = fs::remove_dir_all(&out);
        let _ = fs::remove_dir_all(&moved);
        fs::create_dir(&out).unwrap();
        let child = Command::new(bin())
            .arg("backup")
            .arg(&src)
            .arg("--to")
            .arg(&out)
            .args(["--name", "gone"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the archive is being written, then take the share away.
        let partial = out.join("gone.tar.zst.partial");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !partial.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
        fs::rename(&out, &moved).unwrap();
        fs::remove_dir_all(&moved).unwrap();
        let done = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&done.stderr).into_owned();
        if done.status.code() == Some(0) && tries < 5 {
            continue; // it finished before the share went away: again
        }
        assert_eq!(done.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("no archive was written"), "{stderr}");
        assert!(stderr.contains("gone."), "names the file: {stderr}");
        assert!(!out.exists() && !moved.exists(), "something was left behind");
        break;
    }
    assert_eq!(tree(&src), before, "the source was changed");
}
