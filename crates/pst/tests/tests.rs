//! Integration tests of the PST reader against the shared corpus.
#![allow(clippy::print_stderr)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use mail_parser::MimeHeaders;
use mailshift_model::{Item, Message, Source};
use mailshift_pst::{PstOptions, PstSource};

fn pst_files(test: &str) -> Option<Vec<PathBuf>> {
    let corpus = mailshift_testkit::shared_corpus(test)?;
    Some(mailshift_testkit::corpus_files(&corpus, "pst", &["pst", "ost"]))
}

/// Every message, skipped item and finding of a source.
#[derive(Default)]
struct Walk {
    messages: Vec<Message>,
    skipped: usize,
    findings: usize,
}

fn walk(src: &PstSource) -> Walk {
    let mut w = Walk::default();
    let mut findings = Vec::new();
    let Ok(units) = src.units(&mut findings) else { return w };
    for unit in units {
        let _ = src.read_unit(&unit, &mut |item| {
            match item {
                Item::Message(m) => w.messages.push(m),
                Item::Skipped(_) => w.skipped += 1,
                Item::Finding(_) => w.findings += 1,
            }
            ControlFlow::Continue(())
        });
    }
    let _ = src.inventory();
    let _ = src.items_of_class("IPM", &mut |_| {});
    w
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn every_corpus_file_opens_or_fails_clearly() {
    let Some(files) = pst_files("every_corpus_file_opens_or_fails_clearly") else { return };
    assert_eq!(files.len(), 22);
    for f in &files {
        let t = std::time::Instant::now();
        match PstSource::open(f, PstOptions::default()) {
            Ok(src) => {
                walk(&src);
            }
            Err(e) => {
                let msg = e.to_string();
                // Only the sample with a corrupt header checksum may fail.
                assert!(name(f).contains("AddingBulkMessages"), "{msg}");
                assert!(msg.contains(&name(f)) && msg.contains("checksum"), "{msg}");
                assert!(t.elapsed().as_millis() < 500, "slow error: {:?}", t.elapsed());
            }
        }
    }
}

#[test]
fn non_pst_and_truncated_headers_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("page.pst");
    std::fs::write(&html, b"<!DOCTYPE html><html></html>").unwrap();
    let e = PstSource::open(&html, PstOptions::default()).unwrap_err().to_string();
    assert!(e.contains("page.pst") && e.contains("not a PST"), "{e}");
    assert!(!mailshift_pst::sniff(&html));
    let Some(files) = pst_files("non_pst_and_truncated_headers_give_clear_errors") else { return };
    let src = files.iter().find(|f| name(f).starts_with("tika__testPST_various")).unwrap();
    assert!(mailshift_pst::sniff(src));
    let bytes = std::fs::read(src).unwrap();
    let cut = dir.path().join("cut.pst");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = PstSource::open(&cut, PstOptions::default()).unwrap_err().to_string();
    assert!(e.contains("cut.pst") && e.contains("truncated"), "{e}");
}

/// readpst's counts (manifest notes) against ours: mail must be equal or
/// more; contacts (contacts + distribution lists) and appointments too,
/// except where a comment explains the difference.
#[test]
fn item_counts_match_readpst() {
    let Some(corpus) = mailshift_testkit::shared_corpus("item_counts_match_readpst") else { return };
    let manifest = std::fs::read_to_string(corpus.join("manifest.jsonl")).unwrap();
    let mut checked = 0;
    for line in manifest.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let local = v["local"].as_str().unwrap();
        if !local.starts_with("pst/") {
            continue;
        }
        let notes = v["notes"].as_str().unwrap();
        let count = |what: &str| -> Option<u64> {
            let i = notes.find(&format!(" {what},"))?;
            notes[..i].rsplit(' ').next()?.parse().ok()
        };
        let (Some(mail), Some(contacts), Some(appts)) = (count("mail"), count("contact"), count("appt"))
        else {
            continue; // readpst failed on it (the corrupt-checksum sample)
        };
        let src = PstSource::open(&corpus.join(local), PstOptions::default()).unwrap();
        let inv = src.inventory().unwrap();
        let walked = walk(&src);
        assert_eq!(walked.messages.len() as u64, inv.mail, "{local}: walk and inventory disagree");
        assert_eq!(walked.skipped, 0, "{local}");
        assert!(inv.mail >= mail, "{local}: {} mail, readpst {mail}", inv.mail);
        let our_contacts = inv.contacts + inv.distribution_lists;
        if local.ends_with("tika__testPST.pst") {
            // The file holds no contact item at all: its node B-tree has
            // exactly seven message nodes, all IPM.Note (checked by walking
            // every node). readpst's "1 contact" is not an item of the file.
            assert_eq!(our_contacts, 0);
        } else {
            assert!(our_contacts >= contacts, "{local}: {our_contacts} contacts, readpst {contacts}");
        }
        if local.ends_with("SampleOstFile.ost") {
            // readpst's notes say 17 appointments. Walking every node of the
            // file (normal and associated items, embedded messages included)
            // finds 5 IPM.Appointment and 6 IPM.Schedule.Meeting.Request
            // items and nothing else with a calendar class; the meeting
            // requests are mail here (they are among the 87).
            let mut meetings = 0;
            src.items_of_class("IPM.Schedule.Meeting", &mut |_| meetings += 1).unwrap();
            assert_eq!((inv.appointments, meetings), (5, 6), "{local}");
            assert!(appts >= inv.appointments + meetings);
        } else {
            assert!(inv.appointments >= appts, "{local}: {} appointments, readpst {appts}", inv.appointments);
        }
        checked += 1;
    }
    assert_eq!(checked, 21);
}

#[test]
fn every_message_parses_with_mail_parser() {
    let Some(files) = pst_files("every_message_parses_with_mail_parser") else { return };
    let mut total = 0;
    for f in &files {
        let Ok(src) = PstSource::open(f, PstOptions::default()) else { continue };
        for m in walk(&src).messages {
            let parsed = mail_parser::MessageParser::default().parse(&m.raw);
            assert!(parsed.is_some(), "{}: {} does not parse", name(f), m.envelope.origin);
            let parsed = parsed.unwrap();
            assert!(parsed.root_part().headers().len() > 1, "{}: no headers", m.envelope.origin);
            total += 1;
        }
    }
    assert!(total >= 200, "{total}");
}

/// A readable summary of a message for golden files.
fn summary(m: &Message) -> String {
    let p = mail_parser::MessageParser::default().parse(&m.raw).unwrap();
    let mut s = String::new();
    let _ = writeln!(s, "folder: {}", m.envelope.folder.key());
    let _ = writeln!(s, "subject: {}", p.subject().unwrap_or(""));
    let from = p.from().and_then(|a| a.first()).map(|a| format!("{:?} <{:?}>", a.name(), a.address()));
    let _ = writeln!(s, "from: {}", from.unwrap_or_default());
    let _ = writeln!(s, "flags: {}", m.envelope.flags.maildir_letters());
    let _ = writeln!(s, "received: {:?}", m.envelope.received.map(|d| d.to_rfc3339()));
    let _ = writeln!(s, "text parts: {} html parts: {}", p.text_body.len(), p.html_body.len());
    for a in p.attachments() {
        let _ = writeln!(
            s,
            "attachment: {:?} {} bytes blake3 {}",
            a.attachment_name(),
            a.contents().len(),
            &blake3::hash(a.contents()).to_hex()[..16]
        );
        if let Some(inner) = a.message() {
            let _ = writeln!(
                s,
                "  embedded: subject {:?}, {} attachment(s)",
                inner.subject().unwrap_or(""),
                inner.attachments().count()
            );
        }
    }
    s.push('\n');
    s
}

#[test]
fn golden_messages() {
    let Some(corpus) = mailshift_testkit::shared_corpus("golden_messages") else { return };
    for (file, take) in [
        ("tika__testPST_variousBodyTypes.pst", 4),
        ("aspose-net__passwordprotectedPST.pst", 4),
        ("go-pst__support.pst", 3),
        ("aspose-net__Outlook.pst", 5),
        ("aspose-net__SampleOstFile.ost", 4),
    ] {
        let src = PstSource::open(&corpus.join("pst").join(file), PstOptions::default()).unwrap();
        let msgs = walk(&src).messages;
        let mut out = String::new();
        for m in msgs.iter().take(take) {
            out.push_str(&summary(m));
        }
        let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(format!("{file}.txt"));
        mailshift_testkit::golden(&golden, &out);
    }
}

/// Cut copies of corpus files must never panic or hang, opened strictly or
/// with `recover`.
#[test]
fn truncated_copies_never_panic() {
    let Some(corpus) = mailshift_testkit::shared_corpus("truncated_copies_never_panic") else { return };
    for file in
        ["go-pst__32-bit.pst", "tika__testPST_variousBodyTypes.pst", "aspose-net__passwordprotectedPST.pst"]
    {
        let bytes = std::fs::read(corpus.join("pst").join(file)).unwrap();
        let len = bytes.len();
        let mut cuts: Vec<usize> = (1..24).map(|i| len * i / 24).collect();
        cuts.extend([0, 3, 4, 100, 511, 512, 563, 564, 1000, 4096, 17_000]);
        for cut in cuts {
            let cut = cut.min(len);
            for recover in [false, true] {
                let name = PathBuf::from(format!("{file}@{cut}"));
                if let Ok(src) = PstSource::from_bytes(&name, bytes[..cut].to_vec(), PstOptions { recover }) {
                    walk(&src);
                }
            }
        }
    }
}

/// Flipped bytes in the body of a file (not the header) never panic either;
/// damage is reported as findings or skipped items.
#[test]
fn corrupted_copies_never_panic() {
    let Some(corpus) = mailshift_testkit::shared_corpus("corrupted_copies_never_panic") else { return };
    let bytes = std::fs::read(corpus.join("pst/tika__testPST_variousBodyTypes.pst")).unwrap();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for round in 0..40 {
        let mut b = bytes.clone();
        for _ in 0..(1 + round % 8) * 4 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = 564 + (seed as usize) % (b.len() - 564);
            b[at] = (seed >> 32) as u8;
        }
        if let Ok(src) = PstSource::from_bytes(Path::new("flipped.pst"), b, PstOptions { recover: true }) {
            walk(&src);
        }
    }
}

/// One message whose block is damaged is one `Unreadable` skipped item
/// naming its node; the other messages of the folder are still read.
#[test]
fn one_damaged_message_is_one_finding() {
    let Some(corpus) = mailshift_testkit::shared_corpus("one_damaged_message_is_one_finding") else { return };
    let mut bytes = std::fs::read(corpus.join("pst/tika__testPST_variousBodyTypes.pst")).unwrap();
    let header = mailshift_pst::header::parse(&bytes).unwrap();
    let reader = mailshift_pst::header::PatchedReader::new(
        std::io::Cursor::new(bytes.clone()),
        mailshift_pst::header::normalised(&header),
    );
    let ndb = mailshift_pst::ndb::Ndb::open(&header, Box::new(reader), bytes.len() as u64).unwrap();
    let mut messages = Vec::new();
    ndb.walk_nodes(&mut |n| {
        if n.nid & 0x1F == 0x04 {
            messages.push(n);
        }
    })
    .unwrap();
    assert_eq!(messages.len(), 4);
    let victim = messages[1];
    let (at, _) = ndb.block_location(victim.data).unwrap().unwrap();
    bytes[usize::try_from(at).unwrap() + 2] ^= 0xFF; // breaks the heap signature and the block CRC
    let src = PstSource::from_bytes(Path::new("damaged.pst"), bytes, PstOptions::default()).unwrap();
    let mut skipped = Vec::new();
    let mut read = 0;
    for unit in src.units(&mut Vec::new()).unwrap() {
        src.read_unit(&unit, &mut |item| {
            match item {
                Item::Message(_) => read += 1,
                Item::Skipped(f) => skipped.push(f),
                Item::Finding(_) => {}
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    }
    assert_eq!(read, 3);
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].kind, mailshift_model::FindingKind::Unreadable);
    assert_eq!(skipped[0].location.item.as_deref(), Some(format!("node {:#x}", victim.nid).as_str()));
    assert!(skipped[0].location.folder.is_some());
    assert_eq!(skipped[0].location.offset, Some(at));
}

#[test]
fn ost_and_ansi_files_are_read() {
    let Some(corpus) = mailshift_testkit::shared_corpus("ost_and_ansi_files_are_read") else { return };
    let ost =
        PstSource::open(&corpus.join("pst/aspose-net__SampleOstFile.ost"), PstOptions::default()).unwrap();
    assert_eq!(ost.info().variant.as_deref(), Some("ost"));
    assert!(ost.inventory().unwrap().ost);
    assert!(!ost.password_protected());
    // An OST has no IPM-subtree entry id: `Root - Mailbox/IPM_SUBTREE` is found
    // by name and stripped, so folders are `INBOX`, `Inbox/sub1`, `Sent Items`.
    let units = ost.units(&mut Vec::new()).unwrap();
    let keys: Vec<String> = units.iter().map(|u| u.folder.key()).collect();
    assert!(keys.iter().all(|k| !k.contains("IPM_SUBTREE") && !k.contains("Root - ")), "{keys:?}");
    assert!(units.iter().any(|u| u.folder.is_inbox()), "{keys:?}");
    assert!(keys.iter().any(|k| k == "INBOX/sub1"), "{keys:?}");
    assert!(units.iter().any(|u| u.folder.role == Some(mailshift_model::Role::Sent)), "{keys:?}");
    // Contacts, Calendar, Tasks, ... hold no mail: they are not units.
    assert!(!keys.iter().any(|k| k == "Contacts" || k == "Calendar"), "{keys:?}");
    let ansi = PstSource::open(&corpus.join("pst/go-pst__32-bit.pst"), PstOptions::default()).unwrap();
    let inv = ansi.inventory().unwrap();
    assert!(!inv.unicode);
    assert_eq!(inv.appointments, 1);
    let mut n = 0;
    ansi.items_of_class("IPM.Appointment", &mut |item| {
        assert!(item.class.starts_with("IPM.Appointment"));
        n += 1;
    })
    .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn password_is_reported_and_roles_found() {
    let Some(corpus) = mailshift_testkit::shared_corpus("password_is_reported_and_roles_found") else {
        return;
    };
    let src =
        PstSource::open(&corpus.join("pst/aspose-net__passwordprotectedPST.pst"), PstOptions::default())
            .unwrap();
    assert!(src.password_protected());
    let mut findings = Vec::new();
    src.units(&mut findings).unwrap();
    assert!(findings.iter().any(|f| f.kind == mailshift_model::FindingKind::Protected));
    let src = PstSource::open(&corpus.join("pst/tika__testPST.pst"), PstOptions::default()).unwrap();
    let units = src.units(&mut Vec::new()).unwrap();
    let roles: BTreeMap<String, Option<mailshift_model::Role>> =
        units.iter().map(|u| (u.folder.key(), u.folder.role)).collect();
    // "Éléments supprimés" is the store's wastebasket: Trash from its entry id.
    assert!(roles.values().any(|r| *r == Some(mailshift_model::Role::Trash)), "{roles:?}");
}

/// readpst as an oracle: the subjects it writes (`-e`, one file per
/// message) equal ours, folder by folder (folders matched by their own
/// name, case-insensitively: our `INBOX` is its `Inbox`).
///
/// readpst 0.6.76 is not deterministic on `variousBodyTypes`: about one run
/// in four it drops one of the four messages (seen on CI and here, same
/// binary, same file). It loses messages but never invents them, so the
/// oracle is the fullest of several runs.
#[test]
fn readpst_oracle_subjects() {
    if !mailshift_testkit::require_tool("readpst_oracle_subjects", "readpst") {
        return;
    }
    let Some(corpus) = mailshift_testkit::shared_corpus("readpst_oracle_subjects") else { return };
    for file in ["go-pst__support.pst", "tika__testPST_variousBodyTypes.pst", "aspose-net__Outlook.pst"] {
        let path = corpus.join("pst").join(file);
        let theirs = (0..5)
            .map(|_| readpst_subjects(&path))
            .max_by_key(|t| t.values().map(Vec::len).sum::<usize>())
            .unwrap();
        let src = PstSource::open(&path, PstOptions::default()).unwrap();
        let mut ours: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for m in walk(&src).messages {
            let folder = m.envelope.folder.name().to_lowercase();
            ours.entry(folder).or_default().push(subject_of(&m.raw));
        }
        for v in ours.values_mut() {
            v.sort();
        }
        assert!(ours.len() > 1 || file.contains("variousBodyTypes"), "{file}: {ours:?}");
        assert_eq!(ours, theirs, "{file}");
    }
}

/// One readpst `-e` run: the subjects it wrote, per folder name, sorted.
fn readpst_subjects(path: &Path) -> BTreeMap<String, Vec<String>> {
    let out = tempfile::tempdir().unwrap();
    let st = std::process::Command::new("readpst")
        .args(["-q", "-e", "-o"])
        .arg(out.path())
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
    let mut theirs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in walkdir(out.path()) {
        let folder = entry.parent().and_then(Path::file_name).unwrap().to_string_lossy().to_lowercase();
        theirs.entry(folder).or_default().push(subject_of(&std::fs::read(&entry).unwrap()));
    }
    for v in theirs.values_mut() {
        v.sort();
    }
    theirs
}

/// The decoded subject, from the header block only (so that body quirks of
/// either writer do not matter).
fn subject_of(raw: &[u8]) -> String {
    let end = raw.windows(2).position(|w| w == b"\n\n" || w == b"\r\n").map_or(raw.len(), |_| {
        raw.windows(4)
            .position(|w| w == b"\r\n\r\n")
            .or_else(|| raw.windows(2).position(|w| w == b"\n\n"))
            .map_or(raw.len(), |p| p + 2)
    });
    let mut head = raw[..end].to_vec();
    head.extend_from_slice(b"\r\n");
    mail_parser::MessageParser::default()
        .parse(&head)
        .and_then(|m| m.subject().map(|s| s.trim().to_owned()))
        .unwrap_or_default()
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "eml") {
                out.push(p);
            }
        }
    }
    out
}

/// Contacts carry their e-mail address in a named property (PSETID_Address,
/// LID 0x8083): the name-to-id map must resolve it.
#[test]
fn named_properties_resolve_contact_email() {
    let Some(corpus) = mailshift_testkit::shared_corpus("named_properties_resolve_contact_email") else {
        return;
    };
    let src =
        PstSource::open(&corpus.join("pst/aspose-net__SampleContacts.pst"), PstOptions::default()).unwrap();
    let map = src.named_properties().unwrap();
    let address: [u8; 16] = [0x04, 0x20, 0x06, 0, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46];
    let id = map
        .iter()
        .find(|(_, n)| n.guid == address && n.kind == mailshift_pst::NameKind::Id(0x8083))
        .map(|(id, _)| *id)
        .expect("Email1EmailAddress in the map");
    let mut with_email = 0;
    let mut contacts = 0;
    src.items_of_class("IPM.Contact", &mut |item| {
        contacts += 1;
        if item.properties.string(id, item.codepage).is_some_and(|e| e.contains('@')) {
            with_email += 1;
        }
    })
    .unwrap();
    assert_eq!(contacts, 6);
    assert!(with_email >= 1, "{with_email} of {contacts} contacts have an e-mail address");
}

/// The same PST converts to the same bytes twice (MIME boundaries are
/// derived from the message, not random), so re-runs add no duplicates.
#[test]
fn conversion_is_deterministic() {
    let Some(corpus) = mailshift_testkit::shared_corpus("conversion_is_deterministic") else { return };
    let path = corpus.join("pst/aspose-net__Outlook.pst");
    let a = walk(&PstSource::open(&path, PstOptions::default()).unwrap()).messages;
    let b = walk(&PstSource::open(&path, PstOptions::default()).unwrap()).messages;
    assert_eq!(a.len(), 14);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.raw, y.raw, "{}", x.envelope.origin);
    }
    // Embedded messages are message/rfc822 parts, never base64 (RFC 2046).
    let embedded = a.iter().filter(|m| m.raw.windows(22).any(|w| w == b"Content-Type: message/")).count();
    assert!(embedded >= 2, "{embedded}");
    for m in &a {
        let text = String::from_utf8_lossy(&m.raw);
        if let Some(i) = text.find("Content-Type: message/rfc822") {
            let part_head = &text[i..text[i..].find("\r\n\r\n").map_or(text.len(), |e| i + e)];
            assert!(!part_head.contains("base64"), "{part_head}");
        }
    }
}

/// With `recover`, every corpus file still reads, and the orphan scan adds a
/// `Recovered` unit only when some message node is listed by no folder.
#[test]
fn recover_mode_reads_every_file() {
    let Some(files) = pst_files("recover_mode_reads_every_file") else { return };
    for f in &files {
        let strict = PstSource::open(f, PstOptions::default()).map(|s| walk(&s).messages.len());
        match PstSource::open(f, PstOptions { recover: true }) {
            Ok(src) => {
                let n = walk(&src).messages.len();
                if let Ok(strict) = strict {
                    assert!(n >= strict, "{}: {n} < {strict}", name(f));
                }
            }
            Err(e) => assert!(strict.is_err(), "{}: only recover failed: {e}", name(f)),
        }
    }
}

/// The scheduler starts the biggest folders first, so a unit's `bytes`
/// must rank folders by what their messages hold (PR_MESSAGE_SIZE from the
/// contents table), not by a guess per message: in SampleOstFile, INBOX
/// (12 messages, 776 kB written) must rank above INBOX/sub2 (29 messages,
/// 27 kB), which the old 20 kB-per-message guess put first.
#[test]
fn unit_sizes_rank_folders_by_their_bytes() {
    let Some(files) = pst_files("unit_sizes_rank_folders_by_their_bytes") else { return };
    let mut compared = 0;
    for path in files {
        let Ok(src) = PstSource::open(&path, PstOptions::default()) else { continue };
        let mut findings = Vec::new();
        let Ok(units) = src.units(&mut findings) else { continue };
        let mut sized = Vec::new();
        for unit in units {
            let mut written = 0u64;
            let _ = src.read_unit(&unit, &mut |item| {
                if let Item::Message(m) = item {
                    written += m.raw.len() as u64;
                }
                ControlFlow::Continue(())
            });
            sized.push((unit.folder.key(), unit.bytes, written));
        }
        // MAPI sizes and the MIME written differ (bodies in several forms,
        // encodings): only a clear difference must show in the order.
        for (a, a_unit, a_written) in &sized {
            for (b, b_unit, b_written) in &sized {
                if *a_written > 0 && *a_written >= b_written * 4 {
                    assert!(
                        a_unit > b_unit,
                        "{}: {a} ({a_written} bytes written) ranks below {b} ({b_written}): units {a_unit} <= {b_unit}",
                        path.display()
                    );
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 0, "no folders of clearly different sizes in the corpus");
}
