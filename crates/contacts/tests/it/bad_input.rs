//! Bad input gives findings with line numbers, never a panic.

use mailshift_contacts::{read_address_book, read_address_book_bytes, read_calendar_bytes};
use mailshift_model::{FindingKind, Location};

fn loc() -> Location {
    Location::path("bad")
}

#[test]
fn binary_junk_is_a_finding() {
    let junk: Vec<u8> = (0u32..4096).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let mut f = Vec::new();
    assert!(read_address_book_bytes(&junk, &loc(), &mut f).is_empty());
    assert!(f.iter().any(|f| f.kind == FindingKind::Unreadable), "{f:?}");
    let mut f = Vec::new();
    assert!(read_calendar_bytes(&junk, &loc(), &mut f).is_empty());
    assert_eq!(f.len(), 1);
}

#[test]
fn truncated_csv_names_the_line() {
    let Some(corpus) = crate::common::corpus("truncated_csv_names_the_line") else { return };
    let full = std::fs::read(corpus.join("contacts/contact_csv__outlook_contacts.csv")).unwrap();
    // Cut a third of the way into the last physical line.
    let last_row = full[..full.len() - 2].iter().rposition(|&b| b == b'\n').unwrap();
    let cut = &full[..last_row + (full.len() - last_row) / 3];
    let mut f = Vec::new();
    let c = read_address_book_bytes(cut, &loc(), &mut f);
    assert_eq!(c.len(), 5);
    // The csv crate names the line where the cut record starts: a row of
    // this export spans two physical lines (a note with a line break).
    let lines = String::from_utf8_lossy(cut).lines().count();
    let named: Vec<usize> = f
        .iter()
        .filter(|f| f.kind == FindingKind::Truncated)
        .filter_map(|f| f.message.strip_prefix("line ")?.split(':').next()?.parse().ok())
        .collect();
    assert_eq!(named.len(), 1, "{f:?}");
    assert!((lines - 1..=lines).contains(&named[0]), "line {} of {lines}: {f:?}", named[0]);
}

#[test]
fn broken_photo_names_the_line() {
    let Some(corpus) = crate::common::corpus("broken_photo_names_the_line") else { return };
    let mut f = Vec::new();
    let c = read_address_book(&corpus.join("vcard/android-vcard__v21_malformed_photo.vcf"), &mut f).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].formatted_name.as_deref(), Some("fullname"));
    assert!(f.iter().any(|f| f.message.starts_with("line 5: the PHOTO")), "{f:?}");
}

#[test]
fn ldif_bad_base64_names_the_line() {
    let text =
        "dn: cn=a\ncn: a\nmail: a@x.org\n\ndn: cn=b\ncn: b\ndescription:: ###broken###\nmail: b@x.org\n";
    let mut f = Vec::new();
    let c = read_address_book_bytes(text.as_bytes(), &loc(), &mut f);
    assert_eq!(c.len(), 2);
    assert_eq!(c[1].emails[0].value, "b@x.org");
    assert!(f.iter().any(|f| f.message.starts_with("line 7:")), "{f:?}");
}

#[test]
fn truncated_vcard_and_calendar_are_findings() {
    let mut f = Vec::new();
    let c = read_address_book_bytes(
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\nBEGIN:VCARD\r\nFN:B",
        &loc(),
        &mut f,
    );
    assert_eq!(c.len(), 2, "the truncated card is read as far as it goes");
    assert!(f.iter().any(|f| f.kind == FindingKind::Truncated && f.message.contains("line 5")), "{f:?}");
    let mut f = Vec::new();
    let o = read_calendar_bytes(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n", &loc(), &mut f);
    assert!(o.len() <= 1);
    assert!(f.iter().any(|f| f.kind == FindingKind::Truncated && f.message.starts_with("line 1:")), "{f:?}");
}

#[test]
fn random_prefixes_of_corpus_files_never_panic() {
    let Some(corpus) = crate::common::corpus("random_prefixes_of_corpus_files_never_panic") else { return };
    for path in crate::common::address_books(&corpus) {
        let bytes = std::fs::read(&path).unwrap();
        for cut in (0..bytes.len()).step_by(bytes.len() / 17 + 1) {
            let mut f = Vec::new();
            let _ = read_address_book_bytes(&bytes[..cut], &loc(), &mut f);
        }
    }
    for path in mailshift_testkit::corpus_files(&corpus, "ical", &["ics"]) {
        let bytes = std::fs::read(&path).unwrap();
        for cut in (0..bytes.len()).step_by(bytes.len() / 23 + 1) {
            let _ = read_calendar_bytes(&bytes[..cut], &loc(), &mut Vec::new());
        }
    }
}
