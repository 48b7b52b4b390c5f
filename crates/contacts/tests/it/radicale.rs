//! A real CardDAV/CalDAV server accepts what we write: Radicale (Debian
//! package `radicale`) on 127.0.0.1, storage in a temp dir, gets every
//! produced vCard and iCalendar object by PUT and gives it back by GET.

use std::path::Path;

use mailshift_contacts::{read_calendar, write_calendar, ContactsOptions, VcardVersion};
use mailshift_model::Report;
use mailshift_testkit::radicale::{Radicale, MKCOL_BOOK};

use crate::common::{address_books, corpus, read};

fn unfold(s: &str) -> String {
    s.replace("\r\n ", "").replace("\n ", "")
}

/// PUTs every file of `dir` into `collection` and GETs it back; returns how many.
fn put_and_get(server: &Radicale, collection: &str, dir: &Path, content_type: &str, marker: &str) -> usize {
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let body = std::fs::read(f).unwrap();
        let href = format!("{collection}{name}");
        let (status, text) = server.http("PUT", &href, content_type, &body);
        assert!(
            status == 201 || status == 204,
            "PUT {href}: {status} {text}\n{}",
            String::from_utf8_lossy(&body)
        );
        let (status, got) = server.http("GET", &href, "text/plain", b"");
        assert_eq!(status, 200, "GET {href}");
        let sent = unfold(&String::from_utf8_lossy(&body));
        let got = unfold(&got);
        for line in sent.lines().filter(|l| l.starts_with(marker)) {
            assert!(got.contains(line.trim_end()), "GET {href}: {line:?} missing in\n{got}");
        }
    }
    files.len()
}

#[test]
fn radicale_accepts_every_card_and_calendar_object() {
    let Some(corpus) = corpus("radicale_accepts_every_card_and_calendar_object") else { return };
    if !mailshift_testkit::require_tool("radicale_accepts_every_card_and_calendar_object", "radicale") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let server = Radicale::start(&tmp.path().join("storage"), &tmp.path().join("radicale.log"));
    let (mut cards, mut objects) = (0, 0);
    for (i, path) in address_books(&corpus).iter().enumerate() {
        let contacts = read(path).0;
        if contacts.is_empty() {
            continue;
        }
        for version in [VcardVersion::V3, VcardVersion::V4] {
            let dir = tmp.path().join(format!("book-{i}-{version:?}"));
            let mut report = Report::new("contacts");
            mailshift_contacts::write_vcards(
                &contacts,
                &dir,
                &ContactsOptions::new(version, true, false),
                &mut report,
            )
            .unwrap();
            let collection = format!("/test/book-{i}-{version:?}/");
            let (status, text) = server.http("MKCOL", &collection, "application/xml", MKCOL_BOOK.as_bytes());
            assert_eq!(status, 201, "MKCOL {collection}: {text}");
            let n = put_and_get(&server, &collection, &dir, "text/vcard", "UID:");
            assert_eq!(n, contacts.len(), "{}: cards stored", path.display());
            cards += n;
        }
    }
    for (i, path) in mailshift_testkit::corpus_files(&corpus, "ical", &["ics"]).iter().enumerate() {
        let objs = read_calendar(path, &mut Vec::new()).unwrap();
        let dir = tmp.path().join(format!("cal-{i}"));
        write_calendar(&objs, &dir, true, &mut Report::new("calendar")).unwrap();
        let collection = format!("/test/cal-{i}/");
        let (status, text) = server.http("MKCALENDAR", &collection, "application/xml", b"");
        assert_eq!(status, 201, "MKCALENDAR {collection}: {text}");
        put_and_get(&server, &collection, &dir, "text/calendar", "DTSTART");
        objects += objs.len();
    }
    eprintln!("radicale stored {cards} vCards and {objects} calendar objects");
    drop(server);
}
