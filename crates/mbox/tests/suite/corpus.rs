//! Every mbox of the shared corpus reads without panic; golden files pin,
//! per file, the message count, the findings and every message's exact
//! fingerprint, flags and date. `MAILSHIFT_BLESS=1` rewrites them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mailshift_mbox::{MboxReadOptions, MboxSource};
use mailshift_model::{Item, Source};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// A readable summary of everything read from one file.
fn summary(path: &Path, opts: MboxReadOptions) -> (String, usize) {
    let source = MboxSource::open(path, opts).unwrap();
    let mut findings = Vec::new();
    let units = source.units(&mut findings).unwrap();
    assert_eq!(units.len(), 1);
    let mut reader = source.reader(path, units[0].folder.clone()).unwrap();
    let mut out = String::new();
    let mut messages = 0;
    let mut lines = Vec::new();
    while let Some(item) = reader.next_item().unwrap() {
        match item {
            Item::Message(m) => {
                messages += 1;
                let e = &m.envelope;
                lines.push(format!(
                    "message #{} at {} size {} flags [{}{}] received {} sender {}\n  exact {}\n",
                    e.origin.item.as_deref().unwrap_or("?"),
                    e.origin.offset.unwrap_or(0),
                    m.raw.len(),
                    e.flags.maildir_letters(),
                    e.flags.keywords.iter().map(|k| format!(" {k}")).collect::<String>(),
                    e.received.map_or_else(|| "-".to_owned(), |d| d.to_rfc3339()),
                    e.sender.as_deref().unwrap_or("-"),
                    m.fingerprint().exact,
                ));
            }
            Item::Skipped(f) => lines.push(format!(
                "skipped #{} at {}: {}\n",
                f.location.item.as_deref().unwrap_or("?"),
                f.location.offset.unwrap_or(0),
                f.kind
            )),
            Item::Finding(f) => lines.push(format!(
                "finding {} {:?} at {}\n",
                f.kind,
                f.level,
                f.location.offset.unwrap_or(0)
            )),
        }
    }
    let _ = writeln!(out, "file {}", path.file_name().unwrap().to_string_lossy());
    let _ = writeln!(out, "messages {messages}");
    let _ = writeln!(out, "variant {}", reader.variant());
    out.extend(lines);
    (out, messages)
}

/// Message counts worked out by hand from `grep -c '^From '` (the From_
/// column) and reading the files; the reader must agree. Where they differ,
/// the reason is given.
const EXPECTED: &[(&str, usize, &str)] = &[
    ("MimeKit__content-length.mbox", 29, ""),
    ("MimeKit__issue1189.mbox", 4, ""),
    ("MimeKit__simple.mbox", 3, ""),
    ("MimeKit__unmunged.mbox", 2, "3 From lines: `From Russia with love` sits in a body after a blank line, followed by a blank line, not a header"),
    ("aspose-net__ExampleMbox.mbox", 1, ""),
    ("comm-central__mbox_mboxrd.mbox", 2, ""),
    ("comm-central__mbox_modern.mbox", 2, ""),
    ("comm-central__mbox_unquoted.mbox", 2, "3 From lines: the bare `From ` in the first body has no blank line before it"),
    ("comm-central__movemailspool.mbox", 3, ""),
    ("ponymail__asterix-dev-201709-mailarchivesao.mbox", 53, ""),
    ("ponymail__commits_ponymail_apache_org_2016-06.mbox", 82, ""),
    ("ponymail__empty_attachment.mbox", 1, ""),
    ("ponymail__empty_body.mbox", 1, ""),
    ("ponymail__httpd-dev-28428.mbox", 1, ""),
    ("ponymail__httpd-users-200606-part.mbox", 12, ""),
    ("ponymail__httpd-users-2020-07.asf.mbox", 108, ""),
    ("ponymail__httpd-users-2020-07.mbox", 108, ""),
    ("ponymail__httpd-users-4950.mbox", 1, ""),
    ("ponymail__maven-dev-2017-11-124652-listsao.mbox", 1, ""),
    ("ponymail__maven-dev-2017-11-124652-mailarchivesao.mbox", 1, ""),
    ("ponymail__maven-dev-2017-11-124652-mboxvm.mbox", 1, ""),
    ("ponymail__maven_duplicates_2017_listsao_1.mbox", 10, ""),
    ("ponymail__maven_duplicates_2017_listsao_2.mbox", 10, ""),
    ("ponymail__maven_duplicates_2017_mailarchivesao.mbox", 10, ""),
    ("ponymail__maven_duplicates_2017_mboxvm.mbox", 10, ""),
    ("ponymail__nexus-html-only.mbox", 3, ""),
    ("ponymail__no_date.mbox", 1, ""),
    ("ponymail__ponymail-dev-1079-mailarchiesao.mbox", 1, ""),
    ("ponymail__ponymail-dev-1079-mboxvm.mbox", 1, ""),
    ("ponymail__ponymail-dev-1080-listsao.mbox", 1, ""),
    ("ponymail__ponymail-dev-1080-mailarchiesao.mbox", 1, ""),
    ("ponymail__ponymail-dev-1080-mboxvm.mbox", 1, ""),
    ("ponymail__text_enriched.mbox", 1, ""),
    ("ponymail__tomcat-ancient-boundary.mbox", 1, ""),
    ("rubymail__mbox.odd.mbox", 2, ""),
    ("rubymail__mbox.simple.mbox", 3, ""),
    ("tika__complex.mbox", 3, ""),
    ("tika__headers.mbox", 1, ""),
    ("tika__multiline.mbox", 1, ""),
    ("tika__multiline2.mbox", 1, ""),
    ("tika__quoted.mbox", 1, ""),
    ("tika__simple.mbox", 2, ""),
    ("tika__single_mail.mbox", 1, ""),
    ("tika__testFOXMAIL.box", 0, "a Foxmail box, no From_ line at all: a `garbage` error finding, nothing read"),
    ("tika__testMBOX_complex.mbox", 1, ""),
    ("tika__testMBOX_lengthy_x-headers.mbox", 1, ""),
];

#[test]
fn every_corpus_mbox_matches_its_golden_file() {
    let Some(corpus) = mailshift_testkit::shared_corpus("every_corpus_mbox_matches_its_golden_file") else {
        return;
    };
    let files = mailshift_testkit::corpus_files(&corpus, "mbox", &[]);
    assert!(files.len() >= 40, "corpus has {} mbox files", files.len());
    let mut seen = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (text, count) = summary(path, MboxReadOptions::default());
        mailshift_testkit::golden(&golden_dir().join(format!("{name}.txt")), &text);
        let (_, want, why) = EXPECTED
            .iter()
            .find(|(n, _, _)| *n == name)
            .unwrap_or_else(|| panic!("{name}: not in the EXPECTED table"));
        assert_eq!(count, *want, "{name}: {why}");
        seen.push(name);
    }
    assert_eq!(seen.len(), EXPECTED.len(), "every EXPECTED file is in the corpus");
}

#[test]
fn thunderbird_folder_pairs_tree() {
    let Some(corpus) = mailshift_testkit::shared_corpus("thunderbird_folder_pairs_tree") else { return };
    let dir = corpus.join("mbox/thunderbird-folder-pairs");
    assert!(mailshift_mbox::sniff(&dir));
    let source = MboxSource::open(&dir, MboxReadOptions::default()).unwrap();
    let mut findings = Vec::new();
    let units = source.units(&mut findings).unwrap();
    // `.msf` summaries are skipped without a word
    assert!(findings.is_empty(), "{findings:?}");
    let keys: Vec<String> = units.iter().map(|u| u.folder.key()).collect();
    assert_eq!(keys, vec!["bugmail-1", "migration"]);
    let mut text = String::new();
    for unit in &units {
        let (t, _) = summary(unit.path.as_deref().unwrap(), MboxReadOptions::default());
        text.push_str(&t);
    }
    mailshift_testkit::golden(&golden_dir().join("thunderbird-folder-pairs.txt"), &text);
    assert!(text.contains("file bugmail-1\nmessages 1\n"), "{text}");
    // migration: 3 From_ lines, CRLF
    assert!(text.contains("file migration\nmessages 3\n"), "{text}");
}
