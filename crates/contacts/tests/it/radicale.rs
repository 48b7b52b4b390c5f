//! A real CardDAV/CalDAV server accepts what we write: Radicale (Debian
//! package `radicale`) on 127.0.0.1, storage in a temp dir, gets every
//! produced vCard and iCalendar object by PUT and gives it back by GET.

use mailshift_contacts::{read_calendar, write_calendar, ContactsOptions, VcardVersion};
use mailshift_model::Report;
use mailshift_testkit::radicale::{Radicale, MKCOL_BOOK};

use crate::common::{address_books, corpus, read};

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
            let n = server.put_and_get_dir(&collection, &dir, "text/vcard", "UID:", false);
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
        server.put_and_get_dir(&collection, &dir, "text/calendar", "DTSTART", false);
        objects += objs.len();
    }
    eprintln!("radicale stored {cards} vCards and {objects} calendar objects");
    drop(server);
}
