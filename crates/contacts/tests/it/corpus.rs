//! Every address book of the shared corpus converts, with as many contacts
//! out as in, and every field survives a write and a re-read.

use mailshift_contacts::{ContactsOptions, VcardVersion};
use mailshift_model::{FindingKind, Report};

use crate::common::{address_books, assert_same, begin_count, corpus, read, write_and_reread};

/// Contacts in the non-vCard books, counted by hand from the files (data
/// rows of the CSV files, `dn:` entries of the LDIF files).
const EXPECTED: &[(&str, usize)] = &[
    ("comm-central__addrbook_export.csv", 2),
    ("comm-central__addrbook_export.ldif", 3),
    ("comm-central__addrbook_export.txt", 2),
    ("comm-central__browser_import.csv", 1),
    ("comm-central__browser_import.ldif", 2),
    ("comm-central__import.mab", 0),
    ("comm-central__import_basic_addressbook.csv", 1),
    ("comm-central__import_basic_csv_addressbook.csv", 2),
    ("comm-central__import_basic_ldif_addressbook.ldif", 1),
    ("comm-central__import_bug_263304.ldif", 1),
    ("comm-central__import_csv_no_header.csv", 2),
    ("comm-central__import_csv_semicolon.csv", 2),
    ("comm-central__import_quote.csv", 1),
    ("comm-central__import_shiftjis_addressbook.csv", 1),
    ("comm-central__import_tab_comma_mixed.csv", 4),
    ("comm-central__import_utf16_addressbook.csv", 1),
    ("contact_csv__outlook_contacts.csv", 5),
    ("contact_csv__outlook_contacts_dos.csv", 5),
];

#[test]
fn every_address_book_converts_with_every_contact_and_field() {
    let Some(corpus) = corpus("every_address_book_converts_with_every_contact_and_field") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (mut total_in, mut files) = (0, 0);
    for path in address_books(&corpus) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (contacts, findings) = read(&path);
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match ext {
            "vcf" => {
                let bytes = std::fs::read(&path).unwrap();
                assert_eq!(contacts.len(), begin_count(&bytes), "{name}: contacts read vs BEGIN:VCARD lines");
            }
            "json" => {
                // Independent count: one `"vcard"` tag per card.
                let text = std::fs::read_to_string(&path).unwrap();
                assert_eq!(contacts.len(), text.matches("\"vcard\"").count(), "{name}: jCards read");
            }
            "xml" => {
                let text = std::fs::read_to_string(&path).unwrap();
                assert_eq!(contacts.len(), text.matches("<vcard>").count(), "{name}: xCards read");
            }
            "mab" => {
                assert!(contacts.is_empty(), "{name}");
                assert!(
                    findings.iter().any(|f| f.kind == FindingKind::Unsupported),
                    "{name}: an unsupported format must say so: {findings:?}"
                );
                continue;
            }
            _ => {
                let want = EXPECTED.iter().find(|(n, _)| *n == name).map(|(_, n)| *n);
                assert_eq!(Some(contacts.len()), want, "{name}: contacts read");
            }
        }
        assert!(!contacts.is_empty(), "{name}: no contacts");
        files += 1;
        total_in += contacts.len();
        for version in [VcardVersion::V3, VcardVersion::V4] {
            let out = tmp.path().join(format!("{name}.{version:?}.vcf"));
            let (back, report) = write_and_reread(&contacts, &out, version);
            assert_eq!(back.len(), contacts.len(), "{name} {version:?}: contacts out == contacts in");
            assert_eq!((report.read, report.written), (contacts.len() as u64, contacts.len() as u64));
            report.check_balance().unwrap();
            for (i, (a, b)) in contacts.iter().zip(&back).enumerate() {
                assert_same(a, b, &format!("{name} {version:?} contact {}", i + 1));
            }
            let text = std::fs::read_to_string(&out).unwrap();
            assert!(text.split("\r\n").all(|l| l.len() <= 75), "{name}: a line is longer than 75 octets");
            assert!(!text.replace("\r\n", "").contains('\n'), "{name}: a bare LF");
        }
    }
    eprintln!("{files} address books, {total_in} contacts converted");
    assert!(files >= 70, "only {files} address books read");
}

#[test]
fn split_writes_one_file_per_contact_and_merge_counts_duplicates() {
    let Some(corpus) = corpus("split_writes_one_file_per_contact_and_merge_counts_duplicates") else {
        return;
    };
    let mut all = Vec::new();
    for path in address_books(&corpus) {
        all.extend(read(&path).0);
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("split");
    let mut report = Report::new("contacts");
    let opts = ContactsOptions::new(VcardVersion::V4, true, false);
    mailshift_contacts::write_vcards(&all, &dir, &opts, &mut report).unwrap();
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(files, all.len(), "one file per contact");
    assert_eq!(report.written as usize, all.len());

    // The same book twice: with merge, every second copy is a duplicate.
    let twice: Vec<_> = all.iter().chain(all.iter()).cloned().collect();
    let mut report = Report::new("contacts");
    let opts = ContactsOptions::new(VcardVersion::V3, false, true);
    let out = tmp.path().join("merged.vcf");
    mailshift_contacts::write_vcards(&twice, &out, &opts, &mut report).unwrap();
    report.check_balance().unwrap();
    assert_eq!(report.read as usize, 2 * all.len());
    assert!(report.duplicates as usize >= all.len(), "{} duplicates", report.duplicates);
    assert_eq!(read(&out).0.len() as u64, report.written);
}
