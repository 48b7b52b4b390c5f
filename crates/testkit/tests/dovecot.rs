//! Proves the private Dovecot harness and the fault proxy with a raw IMAP
//! client (rustls over std sockets) and the independent Python checker,
//! sharing no code with `mailshift-imap`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use mailshift_testkit::dovecot::{Dovecot, Layout, Options};
use mailshift_testkit::proxy::{Direction, Fault, FaultProxy};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};

// ---------------------------------------------------------------- raw client

trait Io: Read + Write + Send {}
impl<T: Read + Write + Send> Io for T {}

/// Just enough IMAP to drive the tests: lines, literals, tagged replies.
struct Raw {
    io: Box<dyn Io>,
    tag: u32,
}

fn tls_config(ca: Option<&Path>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(ca) = ca {
        for cert in CertificateDer::pem_file_iter(ca).expect("read CA") {
            roots.add(cert.expect("parse CA")).expect("add CA");
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn tls_wrap(tcp: TcpStream, ca: Option<&Path>, name: &str) -> io::Result<Box<dyn Io>> {
    let conn =
        rustls::ClientConnection::new(tls_config(ca), ServerName::try_from(name.to_string()).expect("name"))
            .map_err(io::Error::other)?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    // Finish the handshake now so certificate errors show here.
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock)?;
    }
    Ok(Box::new(s))
}

impl Raw {
    fn tls(addr: SocketAddr, ca: Option<&Path>) -> io::Result<Raw> {
        let tcp = TcpStream::connect(addr)?;
        tcp.set_read_timeout(Some(Duration::from_secs(20)))?;
        let mut r = Raw { io: tls_wrap(tcp, ca, "localhost")?, tag: 0 };
        let greeting = r.line()?;
        assert!(greeting.starts_with("* OK"), "greeting: {greeting}");
        Ok(r)
    }

    /// Plain connection; returns the greeting too.
    fn plain(addr: SocketAddr) -> (TcpStream, String) {
        let mut tcp = TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        let greeting = read_line(&mut tcp).expect("greeting");
        (tcp, greeting)
    }

    fn line(&mut self) -> io::Result<String> {
        read_line(&mut self.io)
    }

    /// Sends `cmd` with a fresh tag; returns (untagged lines, tagged line).
    fn cmd(&mut self, cmd: &str) -> (Vec<String>, String) {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        write!(self.io, "{tag} {cmd}\r\n").expect("send");
        self.io.flush().expect("flush");
        self.until_tagged(&tag)
    }

    fn until_tagged(&mut self, tag: &str) -> (Vec<String>, String) {
        let mut untagged = Vec::new();
        loop {
            let l = self.line().expect("read reply");
            if l.starts_with(&format!("{tag} ")) {
                return (untagged, l);
            }
            untagged.push(l);
        }
    }

    fn ok(&mut self, cmd: &str) -> Vec<String> {
        let (u, t) = self.cmd(cmd);
        assert!(t.split(' ').nth(1) == Some("OK"), "{cmd} -> {t}");
        u
    }

    fn capabilities(&mut self) -> Vec<String> {
        let u = self.ok("CAPABILITY");
        u.iter()
            .find_map(|l| l.strip_prefix("* CAPABILITY "))
            .expect("CAPABILITY line")
            .split(' ')
            .map(str::to_string)
            .collect()
    }

    /// APPEND with a synchronising literal; returns the tagged line.
    fn append(&mut self, folder: &str, flags: &str, date: &str, msg: &[u8]) -> String {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        write!(self.io, "{tag} APPEND {folder} ({flags}) \"{date}\" {{{}}}\r\n", msg.len()).expect("send");
        self.io.flush().expect("flush");
        let cont = self.line().expect("continuation");
        if !cont.starts_with('+') {
            return cont;
        }
        self.io.write_all(msg).expect("literal");
        self.io.write_all(b"\r\n").expect("crlf");
        self.io.flush().expect("flush");
        self.until_tagged(&tag).1
    }
}

fn read_line(r: &mut impl Read) -> io::Result<String> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    loop {
        if r.read(&mut b)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"));
        }
        out.push(b[0]);
        if out.ends_with(b"\r\n") {
            out.truncate(out.len() - 2);
            return Ok(String::from_utf8_lossy(&out).into_owned());
        }
    }
}

fn start(test: &str, opts: Options) -> Option<Dovecot> {
    Dovecot::start_for_test(test, opts)
}

fn login(d: &Dovecot) -> Raw {
    let mut c = Raw::tls(d.imaps_addr(), Some(&d.ca_cert_path())).expect("imaps");
    c.ok(&format!("LOGIN {} {}", d.user(), d.password()));
    c
}

// ---------------------------------------------------------------- Dovecot

#[test]
fn login_plain_over_imaps_with_the_test_ca() {
    let Some(d) = start("login_plain_over_imaps_with_the_test_ca", Options::default()) else { return };
    let t = Instant::now();
    let mut c = login(&d);
    let caps = c.capabilities();
    for want in ["IMAP4rev1", "UIDPLUS", "MULTIAPPEND", "LITERAL+", "SPECIAL-USE", "NAMESPACE"] {
        assert!(caps.iter().any(|c| c == want), "missing {want} in {caps:?}");
    }
    let list = c.ok("LIST \"\" \"*\"");
    for (name, flag) in [("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"), ("Junk", "\\Junk")]
    {
        assert!(
            list.iter().any(|l| l.contains(flag) && l.ends_with(&format!("\".\" {name}"))),
            "{name} with {flag} not in {list:?}"
        );
    }
    // SASL PLAIN with an initial response works too.
    let mut c2 = Raw::tls(d.imaps_addr(), Some(&d.ca_cert_path())).expect("imaps");
    let plain = STANDARD.encode(format!("\0{}\0{}", d.user(), d.password()));
    c2.ok(&format!("AUTHENTICATE PLAIN {plain}"));
    // A wrong password is refused.
    let mut c3 = Raw::tls(d.imaps_addr(), Some(&d.ca_cert_path())).expect("imaps");
    let (_, t3) = c3.cmd(&format!("LOGIN {} wrong", d.user()));
    assert!(t3.contains("NO"), "wrong password accepted: {t3}");
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[test]
fn certificate_is_verified_not_just_offered() {
    let Some(d) = start("certificate_is_verified_not_just_offered", Options::default()) else { return };
    // Without the test CA the handshake must fail.
    let err = Raw::tls(d.imaps_addr(), None).err().expect("TLS without the CA must fail");
    assert!(err.to_string().to_lowercase().contains("certificate"), "unexpected error: {err}");
    // With it but the wrong name too.
    let tcp = TcpStream::connect(d.imaps_addr()).expect("connect");
    assert!(tls_wrap(tcp, Some(&d.ca_cert_path()), "mail.example.org").is_err(), "name not checked");
}

#[test]
fn xoauth2_minted_token_accepted_expired_and_forged_refused() {
    let Some(d) = start("xoauth2_minted_token_accepted_expired_and_forged_refused", Options::default())
    else {
        return;
    };
    let auth = |token: &str| {
        let mut c = Raw::tls(d.imaps_addr(), Some(&d.ca_cert_path())).expect("imaps");
        let ir = STANDARD.encode(d.xoauth2_response(token));
        write!(c.io, "x AUTHENTICATE XOAUTH2 {ir}\r\n").expect("send");
        c.io.flush().expect("flush");
        loop {
            let l = c.line().expect("reply");
            if l.starts_with("+") {
                // XOAUTH2 failure: a JSON error challenge, answered empty.
                write!(c.io, "\r\n").expect("send");
                c.io.flush().expect("flush");
            } else if l.starts_with("x ") {
                return l;
            }
        }
    };
    let good = auth(&d.mint_token(Duration::from_secs(600)));
    assert!(good.starts_with("x OK"), "valid token refused: {good}\n{}", d.log());
    let expired = auth(&d.mint_expired_token());
    assert!(expired.contains("NO"), "expired token accepted: {expired}");
    assert!(d.log().contains("expired"), "log should say why: {}", d.log());
    let forged = mailshift_testkit::dovecot::jwt_hs256(
        b"not-the-server-key-not-the-server-key",
        &serde_json::json!({"sub": d.user(), "exp": 4_000_000_000u64}),
    );
    let refused = auth(&forged);
    assert!(refused.contains("NO"), "forged token accepted: {refused}");
    // OAUTHBEARER (RFC 7628) with the same kind of token.
    let mut c = Raw::tls(d.imaps_addr(), Some(&d.ca_cert_path())).expect("imaps");
    let ir = STANDARD.encode(format!(
        "n,a={},\x01auth=Bearer {}\x01\x01",
        d.user(),
        d.mint_token(Duration::from_secs(60))
    ));
    c.ok(&format!("AUTHENTICATE OAUTHBEARER {ir}"));
}

#[test]
fn starttls_on_the_plain_port() {
    let Some(d) = start("starttls_on_the_plain_port", Options::default()) else { return };
    // Dovecot counts a connection whose remote and local IP are equal as
    // secure, so from 127.0.0.1 it would even allow LOGIN without TLS (no
    // LOGINDISABLED): clients must ask for STARTTLS themselves.
    let (mut tcp, greeting) = Raw::plain(d.imap_addr());
    assert!(greeting.contains("STARTTLS"), "greeting: {greeting}");
    tcp.write_all(b"b STARTTLS\r\n").expect("send");
    let ok = read_line(&mut tcp).expect("reply");
    assert!(ok.starts_with("b OK"), "STARTTLS: {ok}");
    let mut c = Raw { io: tls_wrap(tcp, Some(&d.ca_cert_path()), "localhost").expect("tls"), tag: 0 };
    c.ok(&format!("LOGIN {} {}", d.user(), d.password()));
}

#[test]
fn append_then_read_back_with_the_python_checker() {
    let Some(d) = start("append_then_read_back_with_the_python_checker", Options::default()) else { return };
    if !mailshift_testkit::require_tool("append_then_read_back_with_the_python_checker", "python3") {
        return;
    }
    let mut c = login(&d);
    let msg = b"From: a@example.org\r\nSubject: caf\xc3\xa9\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n";
    let t = c.append("INBOX", "\\Seen \\Flagged $Label1", "13-Sep-2020 14:26:40 +0200", msg);
    assert!(t.contains("OK") && t.contains("APPENDUID"), "APPEND: {t}");
    c.ok("CREATE \"Caf&AOk-.Sub\"");
    let t = c.append("\"Caf&AOk-.Sub\"", "", "01-Jan-2001 00:00:00 +0000", b"Subject: two\r\n\r\nx\r\n");
    assert!(t.contains("OK"), "APPEND: {t}");
    let out = Command::new("python3")
        .arg(mailshift_testkit::workspace_root().join("scripts/imap_check.py"))
        .args([d.host(), &d.imaps_port().to_string(), d.user(), "--ssl", "--password-file"])
        .arg(d.password_file())
        .arg("--cafile")
        .arg(d.ca_cert_path())
        .output()
        .expect("run imap_check.py");
    assert!(out.status.success(), "imap_check failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let inbox = &v["messages"]["INBOX"][0];
    let sha = ring::digest::digest(&ring::digest::SHA256, msg);
    let hex: String = sha.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(inbox["sha256"], hex.as_str(), "bytes differ: {inbox}");
    assert_eq!(inbox["size"], msg.len());
    // Dovecot keeps the instant (as the file's mtime), not the offset.
    assert_eq!(inbox["internaldate"], "2020-09-13T12:26:40+00:00");
    assert_eq!(inbox["internaldate_unix"], 1_600_000_000);
    assert_eq!(inbox["flags"], serde_json::json!(["$Label1", "\\Flagged", "\\Seen"]));
    assert_eq!(v["messages"]["Café.Sub"][0]["internaldate_unix"], 978_307_200);
    let sent = v["folders"].as_array().expect("folders").iter().find(|f| f["name"] == "Sent").expect("Sent");
    assert_eq!(sent["special_use"], serde_json::json!(["\\Sent"]));
    assert_eq!(v["delimiter"], ".");
    // doveadm with the private config sees the same mailbox.
    let out = d.doveadm(&["mailbox", "status", "-u", d.user(), "messages", "INBOX"]).expect("doveadm");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "INBOX messages=1", "{out:?}\n{}", d.log());
    // The maildir on disk is where the harness says.
    assert!(d.mail_root().join("cur").is_dir() || d.mail_root().join("new").is_dir());
    assert!(d.mail_root().join(".Caf&AOk-.Sub").is_dir(), "Maildir++ folder missing");
}

#[test]
fn fs_layout_quota_and_appendlimit() {
    let opts = Options {
        layout: Layout::Fs,
        quota_bytes: Some(20_000),
        append_limit: Some(8_000),
        ..Options::default()
    };
    let Some(d) = start("fs_layout_quota_and_appendlimit", opts) else { return };
    let mut c = login(&d);
    assert!(c.capabilities().iter().any(|c| c == "APPENDLIMIT=8000"), "APPENDLIMIT not advertised");
    let list = c.ok("LIST \"\" \"*\"");
    assert!(list.iter().any(|l| l.contains("\"/\" Sent")), "delimiter not /: {list:?}");
    c.ok("CREATE A/B");
    assert!(d.mail_root().join("A/B").is_dir(), "LAYOUT=fs folder missing under {}", d.mail_root().display());
    let date = "01-Jan-2020 00:00:00 +0000";
    let big = [b"Subject: big\r\n\r\n".as_slice(), &[b'x'; 9_000]].concat();
    let t = c.append("INBOX", "", date, &big);
    assert!(t.contains("NO") && t.contains("[LIMIT]"), "over APPENDLIMIT: {t}");
    let mid = [b"Subject: mid\r\n\r\n".as_slice(), &[b'y'; 7_000]].concat();
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(c.append("INBOX", "", date, &mid));
    }
    assert!(answers[0].contains("OK"), "{answers:?}");
    assert!(answers.iter().any(|t| t.contains("[OVERQUOTA]")), "quota never hit: {answers:?}");
}

/// Processes whose process group is `pgid` and that are not zombies.
fn live_in_group(pgid: u32) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        // pid (comm) state ppid pgrp ...
        let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else { continue };
        let f: Vec<&str> = rest.split(' ').collect();
        if f.len() > 2 && f[2] == pgid.to_string() && f[0] != "Z" {
            out.push(stat);
        }
    }
    out
}

#[test]
fn drop_stops_every_process() {
    let Some(d) = start("drop_stops_every_process", Options::default()) else { return };
    let _c = login(&d); // an imap process exists now
    let pid = d.pid();
    assert!(!live_in_group(pid).is_empty());
    let dir = d.dir().to_path_buf();
    let t = Instant::now();
    drop(d);
    assert!(t.elapsed() < Duration::from_secs(2), "stop took {:?}", t.elapsed());
    let left = live_in_group(pid);
    assert!(left.is_empty(), "left running: {left:?}");
    assert!(!dir.exists(), "temp dir left: {}", dir.display());
}

#[test]
fn many_servers_side_by_side() {
    if !mailshift_testkit::dovecot::available("many_servers_side_by_side") {
        return;
    }
    let t = Instant::now();
    let servers: Vec<Dovecot> = (0..4).map(|_| Dovecot::start(Options::default()).expect("start")).collect();
    let per = t.elapsed() / 4;
    assert!(per < Duration::from_secs(2), "start takes {per:?}");
    for d in &servers {
        login(d).ok("SELECT INBOX");
    }
}

// ---------------------------------------------------------------- proxy

/// A server that records everything it receives and echoes it back.
fn echo_server() -> (SocketAddr, std::sync::mpsc::Receiver<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                let _ = tx.send(got);
            });
        }
    });
    (addr, rx)
}

/// Sends `data`, half-closes, reads what comes back until EOF or error.
fn roundtrip(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let reader = {
        let mut r = s.try_clone().expect("clone");
        std::thread::spawn(move || {
            let mut back = Vec::new();
            let _ = r.read_to_end(&mut back);
            back
        })
    };
    let _ = s.write_all(data);
    let _ = s.shutdown(std::net::Shutdown::Write);
    reader.join().expect("reader")
}

#[test]
fn proxy_relays_faithfully_and_counts() {
    let (target, rx) = echo_server();
    let p = FaultProxy::start(target, Fault::None).expect("proxy");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(roundtrip(p.addr(), &data), data);
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).expect("server saw"), data);
    assert_eq!(p.connections(), 1);
    assert_eq!(p.bytes_up(), data.len() as u64);
    assert_eq!(p.cuts(), 0);
}

#[test]
fn proxy_cuts_after_exactly_n_bytes_for_the_first_connection_only() {
    let (target, rx) = echo_server();
    let fault =
        Fault::CutAfterBytes { bytes: 1_000, direction: Direction::ClientToServer, connections: Some(1) };
    let p = FaultProxy::start(target, fault).expect("proxy");
    let data = vec![7u8; 50_000];
    let back = roundtrip(p.addr(), &data);
    assert!(back.len() <= 1_000, "got {} bytes back through a cut connection", back.len());
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).expect("server saw").len(), 1_000);
    assert_eq!(p.cuts(), 1);
    // The second connection is not cut.
    assert_eq!(roundtrip(p.addr(), &data), data);
    assert_eq!(p.connections(), 2);
    // Server→client cuts too.
    p.set_fault(Fault::CutAfterBytes { bytes: 10, direction: Direction::ServerToClient, connections: None });
    assert_eq!(roundtrip(p.addr(), &data).len(), 10);
}

#[test]
fn proxy_stalls_and_slows() {
    let (target, _rx) = echo_server();
    let p = FaultProxy::start(target, Fault::stall(100, Duration::from_millis(700))).expect("proxy");
    let t = Instant::now();
    let data = vec![1u8; 1_000];
    assert_eq!(roundtrip(p.addr(), &data), data);
    assert!(t.elapsed() >= Duration::from_millis(700), "no stall: {:?}", t.elapsed());
    assert_eq!(p.stalls(), 1);
    p.set_fault(Fault::Slow { bytes_per_sec: 50_000 });
    let t = Instant::now();
    let data = vec![2u8; 25_000];
    assert_eq!(roundtrip(p.addr(), &data), data);
    // 25 kB each way at 50 kB/s: at least about half a second.
    assert!(t.elapsed() >= Duration::from_millis(400), "not slowed: {:?}", t.elapsed());
}

#[test]
fn proxy_in_front_of_dovecot_tls_passes_and_cuts() {
    let Some(d) = start("proxy_in_front_of_dovecot_tls_passes_and_cuts", Options::default()) else { return };
    let p = FaultProxy::start(d.imaps_addr(), Fault::None).expect("proxy");
    let mut c = Raw::tls(p.addr(), Some(&d.ca_cert_path())).expect("TLS through the proxy");
    c.ok(&format!("LOGIN {} {}", d.user(), d.password()));
    // Cut the next connection in the middle of an APPEND literal.
    p.set_fault(Fault::CutAfterBytes {
        bytes: 30_000,
        direction: Direction::ClientToServer,
        connections: None,
    });
    let mut c = Raw::tls(p.addr(), Some(&d.ca_cert_path())).expect("TLS through the proxy");
    c.ok(&format!("LOGIN {} {}", d.user(), d.password()));
    c.tag += 1;
    let big = vec![b'z'; 100_000];
    write!(c.io, "t9 APPEND INBOX {{{}+}}\r\n", big.len()).expect("send");
    let sent = c.io.write_all(&big).and_then(|()| c.io.write_all(b"\r\n")).and_then(|()| c.io.flush());
    let reply = c.line();
    assert!(sent.is_err() || reply.is_err(), "APPEND survived a cut connection: {reply:?}");
    assert_eq!(p.cuts(), 1);
    // Nothing half-written reached the mailbox.
    let mut c = login(&d);
    let u = c.ok("SELECT INBOX");
    assert!(u.iter().any(|l| l == "* 0 EXISTS"), "{u:?}");
}
