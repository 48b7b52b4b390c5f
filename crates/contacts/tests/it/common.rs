//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use mailshift_contacts::{read_address_book, Contact, ContactsOptions, Photo, VcardVersion};
use mailshift_model::{Finding, Report};

pub fn corpus(test: &str) -> Option<PathBuf> {
    mailshift_testkit::shared_corpus(test)
}

/// Every address book of the corpus (vcard/ and contacts/).
pub fn address_books(corpus: &Path) -> Vec<PathBuf> {
    let mut v = mailshift_testkit::corpus_files(corpus, "vcard", &[]);
    v.extend(mailshift_testkit::corpus_files(corpus, "contacts", &[]));
    v
}

pub fn read(path: &Path) -> (Vec<Contact>, Vec<Finding>) {
    let mut f = Vec::new();
    let c = read_address_book(path, &mut f).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (c, f)
}

/// Writes contacts to `dir/name` and reads them back with our own reader.
pub fn write_and_reread(contacts: &[Contact], out: &Path, version: VcardVersion) -> (Vec<Contact>, Report) {
    let mut report = Report::new("contacts");
    let opts = ContactsOptions::new(version, false, false);
    mailshift_contacts::write_vcards(contacts, out, &opts, &mut report).expect("write");
    let (back, findings) = read(out);
    assert!(findings.is_empty(), "{}: re-reading our output gave findings: {findings:?}", out.display());
    (back, report)
}

/// Line ends normalised; control characters (invalid in vCard, dropped by
/// the writer) removed.
fn nl(s: &str) -> String {
    s.replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

fn no_internet(t: &[String]) -> Vec<String> {
    t.iter().filter(|t| *t != "internet").cloned().collect()
}

/// Field-by-field equality of a contact and its written-then-read copy.
pub fn assert_same(a: &Contact, b: &Contact, ctx: &str) {
    assert_eq!(a.display_name(), b.display_name(), "{ctx}: FN");
    if !a.name.is_empty() {
        assert_eq!(a.name, b.name, "{ctx}: N");
    }
    let vals = |v: &[mailshift_contacts::Typed]| v.iter().map(|t| t.value.clone()).collect::<Vec<_>>();
    assert_eq!(vals(&a.emails), vals(&b.emails), "{ctx}: e-mail addresses");
    for (x, y) in a.emails.iter().zip(&b.emails) {
        assert_eq!(no_internet(&x.types), no_internet(&y.types), "{ctx}: e-mail types");
        assert_eq!(x.pref, y.pref, "{ctx}: e-mail preference");
    }
    assert_eq!(vals(&a.phones), vals(&b.phones), "{ctx}: phones");
    for (x, y) in a.phones.iter().zip(&b.phones) {
        assert_eq!(x.types, y.types, "{ctx}: phone types of {}", x.value);
    }
    assert_eq!(vals(&a.urls), vals(&b.urls), "{ctx}: URLs");
    assert_eq!(vals(&a.impps), vals(&b.impps), "{ctx}: IM");
    assert_eq!(a.addresses.len(), b.addresses.len(), "{ctx}: addresses");
    for (x, y) in a.addresses.iter().zip(&b.addresses) {
        assert_eq!(
            (nl(&x.street), &x.locality, &x.postal_code, &x.country, &x.types, x.label.as_deref().map(nl)),
            (nl(&y.street), &y.locality, &y.postal_code, &y.country, &y.types, y.label.as_deref().map(nl)),
            "{ctx}: address"
        );
    }
    assert_eq!(a.org, b.org, "{ctx}: ORG");
    assert_eq!(a.title, b.title, "{ctx}: TITLE");
    assert_eq!(a.birthday, b.birthday, "{ctx}: BDAY");
    assert_eq!(a.anniversary, b.anniversary, "{ctx}: ANNIVERSARY");
    assert_eq!(a.nicknames, b.nicknames, "{ctx}: NICKNAME");
    let notes = |c: &Contact| c.notes.iter().map(|n| nl(n)).collect::<Vec<_>>();
    assert_eq!(notes(a), notes(b), "{ctx}: NOTE");
    assert_eq!(a.categories, b.categories, "{ctx}: CATEGORIES");
    assert_eq!(a.members, b.members, "{ctx}: members");
    assert_eq!(a.kind, b.kind, "{ctx}: kind");
    match (&a.photo, &b.photo) {
        (Some(Photo::Inline { bytes: x, .. }), Some(Photo::Inline { bytes: y, .. })) => {
            assert_eq!(x, y, "{ctx}: photo bytes");
        }
        (x, y) => assert_eq!(x, y, "{ctx}: photo"),
    }
    let extra = |c: &Contact| {
        c.extra
            .iter()
            .map(|e| (e.name.clone(), e.values.iter().map(|v| nl(v)).collect::<Vec<_>>()))
            .collect::<Vec<_>>()
    };
    assert_eq!(extra(a), extra(b), "{ctx}: extra properties");
}

/// `BEGIN:VCARD` lines, counted without the parser.
pub fn begin_count(bytes: &[u8]) -> usize {
    String::from_utf8_lossy(bytes).lines().filter(|l| l.trim().eq_ignore_ascii_case("BEGIN:VCARD")).count()
}
