//! A real CardDAV/CalDAV server accepts what we write: Radicale (Debian
//! package `radicale`) on 127.0.0.1, storage in a temp dir, gets every
//! produced vCard and iCalendar object by PUT and gives it back by GET.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailshift_contacts::{read_calendar, write_calendar, ContactsOptions, VcardVersion};
use mailshift_model::Report;

use crate::common::{address_books, corpus, read};

/// Kills the server when the test ends, also on a failed assertion.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(storage: &Path, log: &Path) -> Server {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = std::fs::File::create(log).unwrap();
    let child = Command::new("radicale")
        .args(["--config", "", "--server-hosts", &format!("127.0.0.1:{port}"), "--auth-type", "none"])
        .arg("--storage-filesystem-folder")
        .arg(storage)
        .args(["--logging-level", "warning"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start radicale");
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "radicale did not start on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

/// One HTTP/1.1 request (`Connection: close`); returns status and body.
fn http(port: u16, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // auth "none" takes any user; the user owns /test/.
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Basic dGVzdDp0ZXN0\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let status = resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

const MKCOL_BOOK: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<mkcol xmlns="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><set><prop>
<resourcetype><collection/><CR:addressbook/></resourcetype></prop></set></mkcol>"#;

fn unfold(s: &str) -> String {
    s.replace("\r\n ", "").replace("\n ", "")
}

/// PUTs every file of `dir` into `collection` and GETs it back; returns how many.
fn put_and_get(port: u16, collection: &str, dir: &Path, content_type: &str, marker: &str) -> usize {
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let body = std::fs::read(f).unwrap();
        let href = format!("{collection}{name}");
        let (status, text) = http(port, "PUT", &href, content_type, &body);
        assert!(
            status == 201 || status == 204,
            "PUT {href}: {status} {text}\n{}",
            String::from_utf8_lossy(&body)
        );
        let (status, got) = http(port, "GET", &href, "text/plain", b"");
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
    let server = start(&tmp.path().join("storage"), &tmp.path().join("radicale.log"));
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
            let (status, text) =
                http(server.port, "MKCOL", &collection, "application/xml", MKCOL_BOOK.as_bytes());
            assert_eq!(status, 201, "MKCOL {collection}: {text}");
            let n = put_and_get(server.port, &collection, &dir, "text/vcard", "UID:");
            assert_eq!(n, contacts.len(), "{}: cards stored", path.display());
            cards += n;
        }
    }
    for (i, path) in mailshift_testkit::corpus_files(&corpus, "ical", &["ics"]).iter().enumerate() {
        let objs = read_calendar(path, &mut Vec::new()).unwrap();
        let dir = tmp.path().join(format!("cal-{i}"));
        write_calendar(&objs, &dir, true, &mut Report::new("calendar")).unwrap();
        let collection = format!("/test/cal-{i}/");
        let (status, text) = http(server.port, "MKCALENDAR", &collection, "application/xml", b"");
        assert_eq!(status, 201, "MKCALENDAR {collection}: {text}");
        put_and_get(server.port, &collection, &dir, "text/calendar", "DTSTART");
        objects += objs.len();
    }
    eprintln!("radicale stored {cards} vCards and {objects} calendar objects");
    drop(server);
}
