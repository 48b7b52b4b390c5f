use chrono::DateTime;
use mailshift_model::{FindingKind, Flags, FolderPath, NoProgress};

use super::*;
use crate::memory::{MemorySource, Stored};

fn msg(folder: &str, body: &str, flags: Flags, date: Option<&str>) -> Stored {
    let folder = FolderPath::new([folder]);
    let Stored::Message(mut m) = MemorySource::message(
        &folder,
        format!("Subject: s {body}\nMessage-ID: <{body}@x>\n\n{body}\n").as_bytes(),
        0,
    ) else {
        unreachable!()
    };
    m.envelope.flags = flags;
    m.envelope.received = date.map(|d| DateTime::parse_from_rfc3339(d).unwrap());
    Stored::Message(m)
}

fn store(items: &[(&str, Vec<Stored>)]) -> MemorySource {
    let mut s = MemorySource::new();
    for (f, v) in items {
        s.unit(FolderPath::new([*f]), v.clone());
    }
    s
}

fn cmp(a: &MemorySource, b: &MemorySource, logical: bool) -> Comparison {
    compare(a, b, &CompareOptions { logical, jobs: 2, ignore_flags: false }, &NoProgress).unwrap()
}

const D: Option<&str> = Some("2024-01-02T03:04:05+00:00");

#[test]
fn same_messages_in_another_order_and_time_zone_are_equal() {
    let a = store(&[(
        "Inbox",
        vec![msg("Inbox", "1", Flags::SEEN, D), msg("Inbox", "2", Flags::default(), None)],
    )]);
    let b = store(&[(
        "INBOX",
        vec![
            msg("INBOX", "2", Flags::default(), Some("2020-01-01T00:00:00Z")),
            msg("INBOX", "1", Flags::SEEN, Some("2024-01-02T05:04:05+02:00")),
        ],
    )]);
    let c = cmp(&a, &b, false);
    assert!(c.is_equal(), "{c:#?}");
    assert_eq!((c.matched, c.messages_a, c.messages_b), (2, 2, 2));
    let r = c.to_report();
    r.check_balance().unwrap();
    assert_eq!((r.read, r.written, r.skipped), (2, 2, 0));
}

#[test]
fn missing_and_extra_are_listed_as_a_multiset() {
    let a = store(&[(
        "Work",
        vec![msg("Work", "1", Flags::default(), D), msg("Work", "1", Flags::default(), D)],
    )]);
    let b = store(&[
        ("Work", vec![msg("Work", "1", Flags::default(), D)]),
        ("Other", vec![msg("Other", "9", Flags::default(), D)]),
    ]);
    let c = cmp(&a, &b, false);
    assert!(!c.is_equal());
    assert_eq!((c.matched, c.missing, c.extra), (1, 1, 1));
    let work = c.folders.iter().find(|f| f.folder == "Work").unwrap();
    assert_eq!(work.missing[0].message_id.as_deref(), Some("1@x"));
    assert_eq!(work.missing[0].subject.as_deref(), Some("s 1"));
    let other = c.folders.iter().find(|f| f.folder == "Other").unwrap();
    assert_eq!(other.extra.len(), 1);
    let kinds: Vec<FindingKind> = c.findings.iter().map(|f| f.kind).collect();
    assert!(kinds.contains(&FindingKind::Missing) && kinds.contains(&FindingKind::Extra), "{kinds:?}");
    let r = c.to_report();
    r.check_balance().unwrap();
    assert_eq!((r.read, r.written, r.skipped), (2, 1, 1));
}

#[test]
fn flags_and_dates_must_survive() {
    let a = store(&[("X", vec![msg("X", "1", Flags::SEEN, D), msg("X", "2", Flags::default(), D)])]);
    let b = store(&[(
        "X",
        vec![
            msg("X", "1", Flags::default(), D),
            msg("X", "2", Flags::default(), Some("2024-01-02T03:04:06Z")),
        ],
    )]);
    let c = cmp(&a, &b, false);
    assert_eq!((c.matched, c.mismatched), (2, 2));
    assert!(!c.is_equal());
    let texts: Vec<&str> = c.findings.iter().map(|f| f.message.as_str()).collect();
    assert!(texts[0].contains("flags [S] in A, [] in B"), "{texts:?}");
    assert!(texts[1].contains("received"), "{texts:?}");
    let opts = CompareOptions { ignore_flags: true, ..CompareOptions::default() };
    let c = compare(&a, &b, &opts, &NoProgress).unwrap();
    assert_eq!(c.mismatched, 1, "only the date differs now: {c:#?}");
}

#[test]
fn logical_matches_rewritten_bytes() {
    let a = store(&[("X", vec![msg("X", "1", Flags::default(), None)])]);
    let folder = FolderPath::new(["X"]);
    let b = store(&[(
        "X",
        vec![MemorySource::message(&folder, b"Message-ID: <1@x>\r\nX-Added: 1\r\n\r\n1\r\n", 0)],
    )]);
    assert!(!cmp(&a, &b, false).is_equal());
    let c = cmp(&a, &b, true);
    assert!(c.is_equal(), "{c:#?}");
    assert_eq!(c.by, "logical");
}
