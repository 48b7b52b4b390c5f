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

/// `mailshift convert archive.pst ~/Maildir` just works: every readable corpus
/// PST/OST converts, the report balances, and `compare` of the PST against its
/// own maildir output says equal. The corrupt-checksum sample must fail with
/// exit 2 and a message naming the file.
#[test]
fn every_corpus_pst_converts_to_maildir_and_compares_equal() {
    let Some(corpus) = shared_corpus("every_corpus_pst_converts_to_maildir_and_compares_equal") else {
        return;
    };
    let sources = corpus_files(&corpus, "pst", &["pst", "ost"]);
    assert!(sources.len() >= 20, "too few corpus PSTs: {sources:?}");
    let dir = tempfile::tempdir().unwrap();
    let mut total = 0;
    for (i, src) in sources.iter().enumerate() {
        let out = dir.path().join(format!("pst{i}"));
        let rep = dir.path().join(format!("pst{i}.json"));
        let run = mailshift(&[&"convert", src, &out, &"--report", &rep]);
        let name = src.file_name().unwrap().to_string_lossy().into_owned();
        if name.contains("AddingBulkMessagesWithImprovedPerformance") {
            assert_eq!(run.code, 2, "{name}: a corrupt header must not convert: {run:?}");
            assert!(run.stderr.contains(&name), "{name}: the error must name the file: {}", run.stderr);
            continue;
        }
        assert!(run.code == 0 || run.code == 1, "{name}: {run:?}");
        let r = report(&rep);
        total += r["written"].as_u64().unwrap();
        if r["written"] == 0 {
            continue;
        }
        let cmp = mailshift(&[&"compare", src, &out]);
        assert_eq!(cmp.code, 0, "{name}: compare says they differ:\n{}{}", cmp.stdout, cmp.stderr);
    }
    assert!(total > 100, "too few messages converted from the corpus PSTs: {total}");
}

/// `mailshift contacts` and `mailshift calendar` on corpus files: every
/// contact and calendar object read is written (the report balances) and
/// the output holds exactly that many cards / objects.
#[test]
fn contacts_and_calendar_subcommands_write_what_they_read() {
    let Some(corpus) = shared_corpus("contacts_and_calendar_subcommands_write_what_they_read") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let vcf = dir.path().join("all.vcf");
    let rep = dir.path().join("c.json");
    let mut args: Vec<std::path::PathBuf> = corpus_files(&corpus, "vcard", &["vcf"]);
    args.push(corpus.join("contacts/contact_csv__outlook_contacts.csv"));
    args.push(corpus.join("contacts/comm-central__import_basic_ldif_addressbook.ldif"));
    let mut cmd: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"contacts"];
    for a in &args {
        cmd.push(a);
    }
    cmd.extend([&"-o" as &dyn AsRef<std::ffi::OsStr>, &vcf, &"--vcard", &"4", &"--report", &rep]);
    let run = mailshift(&cmd);
    assert_eq!(run.code, 0, "{run:?}");
    let r = report(&rep);
    let written = r["written"].as_u64().unwrap();
    assert!(written > 70, "{r}");
    assert_eq!(r["read"], r["written"], "{r}");
    let text = std::fs::read_to_string(&vcf).unwrap();
    assert_eq!(text.matches("BEGIN:VCARD\r\n").count() as u64, written);
    assert!(text.contains("VERSION:4.0\r\n"));

    let ics = dir.path().join("all.ics");
    let rep = dir.path().join("i.json");
    let cals = corpus_files(&corpus, "ical", &["ics"]);
    let mut cmd: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"calendar"];
    for a in &cals {
        cmd.push(a);
    }
    cmd.extend([&"-o" as &dyn AsRef<std::ffi::OsStr>, &ics, &"--report", &rep]);
    let run = mailshift(&cmd);
    assert_eq!(run.code, 0, "{run:?}");
    let r = report(&rep);
    let written = r["written"].as_u64().unwrap();
    let text = std::fs::read_to_string(&ics).unwrap();
    let objects = ["BEGIN:VEVENT\r\n", "BEGIN:VTODO\r\n", "BEGIN:VJOURNAL\r\n"]
        .iter()
        .map(|b| text.matches(b).count() as u64)
        .sum::<u64>();
    assert_eq!(objects, written, "{r}");
    assert!(written >= 40, "{r}");
}
