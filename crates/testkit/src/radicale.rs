//! A private Radicale (Debian package `radicale`, CardDAV/CalDAV) on
//! 127.0.0.1 for tests that prove a real server accepts the vCards and
//! iCalendar objects mailshift writes. Storage and log live in the caller's
//! directory; the server is killed when the handle drops, also on a failed
//! assertion.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The body of an MKCOL that makes an address book collection.
pub const MKCOL_BOOK: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<mkcol xmlns="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><set><prop>
<resourcetype><collection/><CR:addressbook/></resourcetype></prop></set></mkcol>"#;

/// A running Radicale; `port` is where it listens.
#[derive(Debug)]
pub struct Radicale {
    child: Child,
    pub port: u16,
}

impl Drop for Radicale {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Radicale {
    /// Starts Radicale with no authentication (any user owns `/USER/`),
    /// storage in `storage`, log in `log`; waits until the port accepts.
    /// Panics if it cannot start: callers check `require_tool` first.
    pub fn start(storage: &Path, log: &Path) -> Radicale {
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
        let server = Radicale { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "radicale did not start on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// One HTTP/1.1 request as user `test` (`Connection: close`); returns
    /// the status and the body.
    pub fn http(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
        let port = self.port;
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
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

    /// PUTs every file of `dir` into `collection` (a path ending in `/`),
    /// GETs each back and asserts that the server took it and kept every
    /// line that starts with `marker` (compared unfolded); with
    /// `marker_required`, every file must have such a line. Returns how
    /// many files it stored.
    pub fn put_and_get_dir(
        &self,
        collection: &str,
        dir: &Path,
        content_type: &str,
        marker: &str,
        marker_required: bool,
    ) -> usize {
        let unfold = |s: &str| s.replace("\r\n ", "").replace("\n ", "");
        let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in &files {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let body = std::fs::read(f).unwrap();
            let href = format!("{collection}{name}");
            let (status, text) = self.http("PUT", &href, content_type, &body);
            assert!(
                status == 201 || status == 204,
                "PUT {href}: {status} {text}\n{}",
                String::from_utf8_lossy(&body)
            );
            let (status, got) = self.http("GET", &href, "text/plain", b"");
            assert_eq!(status, 200, "GET {href}");
            let sent = unfold(&String::from_utf8_lossy(&body));
            let got = unfold(&got);
            let mut kept = 0;
            for line in sent.lines().filter(|l| l.starts_with(marker)) {
                assert!(got.contains(line.trim_end()), "GET {href}: {line:?} missing in\n{got}");
                kept += 1;
            }
            assert!(kept > 0 || !marker_required, "{href}: no {marker} line was sent");
        }
        files.len()
    }
}
