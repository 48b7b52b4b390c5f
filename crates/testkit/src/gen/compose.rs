//! Composes one message: trace and authentication headers, originator
//! fields, threads, list headers, then a MIME body in one of the shapes real
//! clients produce (plain, alternative, mixed with attachments).

use std::fmt::Write as _;

use chrono::{DateTime, Duration, FixedOffset, Offset as _, Utc};
use mailshift_model::Flags;
use rand::seq::IndexedRandom as _;
use rand::RngExt as _;

use super::encode::{self, WordCharset};
use super::words::*;
use super::{FlagStyle, GeneratedMessage, Generator, Profile};

/// Charsets a text part can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cs {
    Ascii,
    Latin1,
    Utf8,
}

struct Person {
    display: String,
    addr: String,
}

/// How big the parts of a message are, per profile.
struct Shape {
    text: (usize, usize),
    received_hops: (usize, usize),
    p_attach: f64,
    p_list: f64,
    p_alternative: f64,
    p_long_line: f64,
    /// Per wrapped line: a line starting with `From ` or `>From `.
    p_from_line: f64,
    gap_secs: (i64, i64),
}

fn shape(p: Profile) -> Shape {
    match p {
        Profile::Realistic => Shape {
            text: (300, 9_000),
            received_hops: (2, 6),
            p_attach: 0.18,
            p_list: 0.25,
            p_alternative: 0.4,
            p_long_line: 0.01,
            p_from_line: 0.001,
            gap_secs: (30, 57_600),
        },
        Profile::Dense => Shape {
            text: (600, 13_000),
            received_hops: (1, 5),
            p_attach: 0.1,
            p_list: 0.35,
            p_alternative: 0.3,
            p_long_line: 0.005,
            p_from_line: 0.001,
            gap_secs: (10, 8_400),
        },
        Profile::Small => Shape {
            text: (80, 700),
            received_hops: (1, 2),
            p_attach: 0.06,
            p_list: 0.15,
            p_alternative: 0.15,
            p_long_line: 0.0,
            p_from_line: 0.02,
            gap_secs: (600, 5 * 86_400),
        },
    }
}

/// Received dates stay before 2025-01-01 00:00 UTC, whatever the count: a
/// server (Dovecot's APPEND) replaces an INTERNALDATE in the future with
/// the current time, and the small profile's gaps (up to 5 days) used to
/// pass today after about 20,000 messages.
const RECEIVED_CEILING: i64 = 1_735_689_600;

/// A gap may use at most this fraction (1/N) of the time left before
/// [`RECEIVED_CEILING`]: the dates approach the ceiling (then move on by
/// one second per message, years away from today). 500 leaves the first few hundred messages of every profile as they
/// were (their drawn gaps are far below the limit), so short generated
/// stores, such as the committed `corpus/sample` tree, keep their bytes.
const CEILING_STEPS: i64 = 500;

/// The largest gap (seconds, at least 1) allowed after `now`.
fn room_before_ceiling(now: chrono::DateTime<Utc>) -> i64 {
    ((RECEIVED_CEILING - now.timestamp()) / CEILING_STEPS).max(1)
}

const OFFSETS: &[i32] = &[0, 3600, 7200, -5 * 3600, -8 * 3600, 9 * 3600, 19_800, -3 * 3600, 3600, 0];

fn fold_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let r = match c {
            'ä' => "ae",
            'ö' => "oe",
            'ü' => "ue",
            'ß' => "ss",
            'é' | 'è' | 'ê' | 'ë' => "e",
            'á' | 'à' | 'å' => "a",
            'ó' | 'ø' => "o",
            'í' | 'ï' => "i",
            'ú' => "u",
            'ç' => "c",
            'ñ' => "n",
            'ł' => "l",
            'ż' | 'ź' => "z",
            'ś' => "s",
            'ć' => "c",
            'ę' => "e",
            'ą' => "a",
            c if c.is_ascii_alphanumeric() => {
                out.push(c);
                continue;
            }
            _ => continue,
        };
        out.push_str(r);
    }
    out
}

fn rfc2822(t: DateTime<FixedOffset>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S %z").to_string()
}

impl Generator {
    fn pick<'a>(&mut self, v: &'a [&'a str]) -> &'a str {
        v.choose(&mut self.rng).copied().unwrap_or("")
    }

    fn range(&mut self, (lo, hi): (usize, usize)) -> usize {
        self.rng.random_range(lo..=hi)
    }

    fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        for _ in 0..n {
            let d: u32 = self.rng.random_range(0..16);
            s.push(char::from_digit(d, 16).unwrap_or('0'));
        }
        s
    }

    /// `n` base64 characters taken from the payload pool (no line breaks).
    fn b64_chars(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        while s.len() < n {
            let at = self.rng.random_range(0..self.pool.lines());
            let line = self.pool.line(at);
            let take = (n - s.len()).min(line.len());
            s.push_str(std::str::from_utf8(&line[..take]).unwrap_or("AAAA"));
        }
        s
    }

    fn person(&mut self) -> Person {
        let domain = self.pick(DOMAINS);
        if self.rng.random_bool(0.06) {
            let i = self.rng.random_range(0..KANA_NAMES.len());
            let cs = if self.rng.random_bool(0.5) { WordCharset::Iso2022JpB } else { WordCharset::Utf8B };
            let display = encode::encoded_words(KANA_NAMES[i], cs).unwrap_or_default();
            return Person { display, addr: format!("user{i}.jp@{domain}") };
        }
        let first = self.pick(FIRST);
        let last = self.pick(LAST);
        let name = format!("{first} {last}");
        let addr = format!("{}.{}@{domain}", fold_ascii(first), fold_ascii(last));
        let display = if name.is_ascii() {
            if self.rng.random_bool(0.5) {
                format!("\"{name}\"")
            } else {
                name
            }
        } else {
            let cs = match self.rng.random_range(0..3) {
                0 => WordCharset::Latin1Q,
                1 => WordCharset::Utf8Q,
                _ => WordCharset::Utf8B,
            };
            encode::encoded_words(&name, cs)
                .or_else(|| encode::encoded_words(&name, WordCharset::Utf8B))
                .unwrap_or_default()
        };
        Person { display, addr }
    }

    /// A subject in its decoded form and as written in the header.
    fn subject(&mut self) -> (String, String) {
        let roll = self.rng.random_range(0..100);
        let (text, cs) = if roll < 70 {
            (self.pick(SUBJECTS).to_owned(), None)
        } else if roll < 82 {
            let cs = if self.rng.random_bool(0.6) { WordCharset::Latin1Q } else { WordCharset::Utf8B };
            (self.pick(SUBJECTS_LATIN1).to_owned(), Some(cs))
        } else if roll < 94 {
            let cs = if self.rng.random_bool(0.7) { WordCharset::Utf8B } else { WordCharset::Utf8Q };
            (self.pick(SUBJECTS_UTF8).to_owned(), Some(cs))
        } else {
            (self.pick(SUBJECTS_JIS).to_owned(), Some(WordCharset::Iso2022JpB))
        };
        let n = self.rng.random_range(1..999);
        let text = if cs.is_none() && self.rng.random_bool(0.3) { format!("{text} (#{n})") } else { text };
        let written = match cs {
            Some(cs) => encode::encoded_words(&text, cs).unwrap_or_else(|| text.clone()),
            None => text.clone(),
        };
        (text, written)
    }

    fn word(&mut self, cs: Cs) -> &'static str {
        let r = self.rng.random_range(0..100);
        match cs {
            Cs::Latin1 if r < 10 => WORDS_LATIN1.choose(&mut self.rng).copied().unwrap_or("x"),
            Cs::Utf8 if r < 8 => WORDS_LATIN1.choose(&mut self.rng).copied().unwrap_or("x"),
            Cs::Utf8 if r < 12 => WORDS_UTF8.choose(&mut self.rng).copied().unwrap_or("x"),
            _ => WORDS.choose(&mut self.rng).copied().unwrap_or("x"),
        }
    }

    /// Plain text of about `target` bytes: greeting, wrapped paragraphs (with
    /// the odd line starting with `From ` or `>From `), quoted reply, signature.
    fn text(&mut self, target: usize, cs: Cs, reply: bool, signer: &str) -> String {
        let mut s = String::with_capacity(target + 200);
        let p_from = shape(self.profile).p_from_line;
        let greet = self.pick(FIRST);
        let _ = write!(s, "Hi {greet},\n\n");
        let mut line_len = 0;
        let mut lines_in_para = 0;
        let mut para_len = self.rng.random_range(2..8);
        while s.len() < target {
            if line_len == 0 && self.rng.random_bool(p_from * 10.0) {
                s.push_str(self.pick(FROM_LINES));
                s.push('\n');
                continue;
            }
            let w = self.word(cs);
            if line_len > 0 && line_len + w.len() + 1 > 72 {
                s.push('\n');
                line_len = 0;
                lines_in_para += 1;
                if self.rng.random_bool(p_from) {
                    s.push_str(self.pick(FROM_LINES));
                    s.push('\n');
                }
                if lines_in_para >= para_len {
                    s.push('\n');
                    lines_in_para = 0;
                    para_len = self.rng.random_range(2..8);
                }
            }
            if line_len > 0 {
                s.push(' ');
                line_len += 1;
            }
            s.push_str(w);
            line_len += w.len();
        }
        s.push_str(".\n");
        if reply {
            let _ = write!(s, "\nOn {}, {greet} wrote:\n", self.pick(&["Monday", "Tuesday", "Friday"]));
            for _ in 0..self.rng.random_range(2..10) {
                let mut q = String::from("> ");
                for _ in 0..self.rng.random_range(3..12) {
                    q.push_str(self.word(Cs::Ascii));
                    q.push(' ');
                }
                s.push_str(q.trim_end());
                s.push('\n');
            }
        }
        let _ = write!(s, "\n-- \n{signer}\n");
        s
    }

    /// A complete text part: its MIME headers and encoded body.
    fn text_part(&mut self, text: &str, cs: Cs, html: bool, out: &mut Vec<u8>) {
        let body_owned;
        let body: &str = if html {
            let mut h = String::with_capacity(text.len() + 200);
            h.push_str("<html><head><meta http-equiv=\"content-type\" content=\"text/html; charset=UTF-8\"></head><body>\n");
            for p in text.split("\n\n") {
                let _ = writeln!(
                    h,
                    "<p>{}</p>",
                    p.replace('&', "&amp;").replace('<', "&lt;").replace('\n', "<br>\n")
                );
            }
            h.push_str("</body></html>\n");
            body_owned = h;
            &body_owned
        } else {
            text
        };
        let subtype = if html { "html" } else { "plain" };
        let long_line = self.rng.random_bool(shape(self.profile).p_long_line);
        match cs {
            Cs::Ascii => {
                let flowed = if !html && self.rng.random_bool(0.3) { "; format=flowed" } else { "" };
                let _ = write!(
                    out_str(out),
                    "Content-Type: text/{subtype}; charset=us-ascii{flowed}\nContent-Transfer-Encoding: 7bit\n\n"
                );
                out.extend_from_slice(body.as_bytes());
                if long_line {
                    self.long_line(out);
                }
            }
            Cs::Latin1 => {
                let bytes = encode::latin1(body).unwrap_or_else(|| body.as_bytes().to_vec());
                let charset = if encode::latin1(body).is_some() { "ISO-8859-1" } else { "UTF-8" };
                if self.rng.random_bool(0.5) || html {
                    let _ = write!(
                        out_str(out),
                        "Content-Type: text/{subtype}; charset={charset}\nContent-Transfer-Encoding: quoted-printable\n\n"
                    );
                    encode::quoted_printable(&bytes, out);
                } else {
                    let _ = write!(out_str(out), "Content-Type: text/{subtype}; charset={charset}\nContent-Transfer-Encoding: 8bit\n\n");
                    out.extend_from_slice(&bytes);
                    if long_line {
                        self.long_line(out);
                    }
                }
            }
            Cs::Utf8 => {
                match self.rng.random_range(0..10) {
                    0..=3 => {
                        let _ = write!(out_str(out), "Content-Type: text/{subtype}; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\n");
                        encode::quoted_printable(body.as_bytes(), out);
                    }
                    4..=5 => {
                        let _ = write!(out_str(out), "Content-Type: text/{subtype}; charset=\"utf-8\"\nContent-Transfer-Encoding: base64\n\n");
                        encode::base64_lines(body.as_bytes(), out);
                    }
                    _ => {
                        let _ = write!(out_str(out), "Content-Type: text/{subtype}; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n");
                        out.extend_from_slice(body.as_bytes());
                        if long_line {
                            self.long_line(out);
                        }
                    }
                }
            }
        }
    }

    /// One very long line (pasted log or minified markup), up to 64 KiB.
    fn long_line(&mut self, out: &mut Vec<u8>) {
        let n = self.rng.random_range(1_000..65_536);
        let start = out.len();
        while out.len() - start < n {
            out.extend_from_slice(self.word(Cs::Ascii).as_bytes());
            out.push(b';');
        }
        out.push(b'\n');
    }

    /// Encoded size of one attachment, from the profile's distribution.
    fn attachment_size(&mut self) -> usize {
        let r = self.rng.random_range(0..100);
        match self.profile {
            Profile::Realistic => match r {
                0..=44 => self.rng.random_range(5_000..100_000),
                45..=79 => self.rng.random_range(100_000..400_000),
                80..=95 => self.rng.random_range(400_000..1_500_000),
                _ => self.rng.random_range(1_500_000..self.pool.len().max(1_500_001)),
            },
            Profile::Dense => self.rng.random_range(2_000..90_000),
            Profile::Small => self.rng.random_range(200..2_000),
        }
    }

    fn attachment(&mut self, boundary: &str, out: &mut Vec<u8>) {
        let (ctype, ext) = *ATTACHMENTS.choose(&mut self.rng).unwrap_or(&("application/octet-stream", "bin"));
        let stem = self.pick(FILE_STEMS);
        let name = format!("{stem}.{ext}");
        let filename = if name.is_ascii() {
            format!("filename=\"{name}\"")
        } else {
            let mut pct = String::new();
            for b in name.bytes() {
                if b.is_ascii_alphanumeric() || b == b'.' {
                    pct.push(b as char);
                } else {
                    let _ = write!(pct, "%{b:02X}");
                }
            }
            format!("filename*=UTF-8''{pct}")
        };
        let _ = write!(
            out_str(out),
            "--{boundary}\nContent-Type: {ctype}; name=\"{name}\"\nContent-Disposition: attachment;\n {filename}\nContent-Transfer-Encoding: base64\n\n"
        );
        let size = self.attachment_size();
        let lines = size.div_ceil(super::POOL_LINE).max(1);
        let mut left = lines;
        while left > 0 {
            let take = left.min(self.pool.lines());
            let start = self.rng.random_range(0..=self.pool.lines() - take);
            out.extend_from_slice(self.pool.slice(start, take));
            left -= take;
        }
    }

    /// A forwarded message as an inline `message/rfc822` part: a second
    /// header block inside the body, whose text may hold `From ` lines too.
    fn forwarded(&mut self, boundary: &str, sent: DateTime<FixedOffset>, out: &mut Vec<u8>) {
        let from = self.person();
        let to = self.person();
        let (_, subject) = self.subject();
        let date = rfc2822(sent - Duration::days(self.rng.random_range(1..30)));
        let id = self.hex(20);
        let len = self.rng.random_range(100..1_500);
        let text = self.text(len, Cs::Ascii, false, "");
        let _ = write!(
            out_str(out),
            "--{boundary}\nContent-Type: message/rfc822\nContent-Disposition: inline\n\nFrom: {} <{}>\nTo: {} <{}>\nSubject: {subject}\nDate: {date}\nMessage-ID: <{id}@fwd.example.net>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n{text}",
            from.display, from.addr, to.display, to.addr
        );
    }

    fn flags(&mut self) -> (Flags, bool) {
        let mut f = Flags::default();
        if self.rng.random_bool(0.08) {
            return (f, true);
        }
        f.seen = self.rng.random_bool(0.8);
        f.answered = f.seen && self.rng.random_bool(0.15);
        f.flagged = self.rng.random_bool(0.07);
        match self.style {
            FlagStyle::Status => {
                f.draft = self.rng.random_bool(0.01);
                f.deleted = self.rng.random_bool(0.01);
            }
            FlagStyle::Mozilla => f.forwarded = self.rng.random_bool(0.04),
        }
        if self.rng.random_bool(0.05) {
            for _ in 0..self.rng.random_range(1..3) {
                let k = self.pick(&["$label1", "work", "todo", "NonJunk", "$label4"]);
                f.add_keyword(k);
            }
        }
        (f, false)
    }

    pub(super) fn compose(&mut self) -> GeneratedMessage {
        let sh = shape(self.profile);
        let idx = self.index;
        self.index += 1;
        let gap = self.rng.random_range(sh.gap_secs.0..=sh.gap_secs.1);
        self.now += Duration::seconds(gap.min(room_before_ceiling(self.now)));
        let received = self.now;
        let off = FixedOffset::east_opt(*OFFSETS.choose(&mut self.rng).unwrap_or(&0)).unwrap_or(Utc.fix());
        let sent = (received - Duration::seconds(self.rng.random_range(2..900))).with_timezone(&off);
        let from = self.person();
        let to = self.person();
        let (flags, recent) = self.flags();
        let mut h = String::with_capacity(4096);

        // Trace fields, newest hop first.
        let _ = writeln!(h, "Return-Path: <{}>", from.addr);
        let _ = writeln!(h, "Delivered-To: {}", to.addr);
        let hops = self.range(sh.received_hops);
        let to_domain = to.addr.rsplit('@').next().unwrap_or("example.org").to_owned();
        let from_domain = from.addr.rsplit('@').next().unwrap_or("example.com").to_owned();
        let mut t = received.with_timezone(&Utc.fix());
        for hop in 0..hops {
            let by = if hop == 0 { format!("mx.{to_domain}") } else { format!("relay{hop}.{to_domain}") };
            let host = self.rng.random_range(1..40);
            let ip = format!(
                "{}.{}",
                self.pick(&["192.0.2", "198.51.100", "203.0.113"]),
                self.rng.random_range(1..255)
            );
            let id = self.hex(12).to_uppercase();
            let via = self.pick(&["ESMTPS", "ESMTP", "SMTP", "LMTP"]);
            let mta = self.pick(&["Postfix", "Exim 4.96", "Microsoft SMTP Server", "Dovecot"]);
            let _ = write!(
                h,
                "Received: from mail{host}.{from_domain} (mail{host}.{from_domain} [{ip}])\n\tby {by} ({mta}) with {via} id {id}\n\tfor <{}>; {}\n",
                to.addr,
                rfc2822(t)
            );
            t -= Duration::seconds(self.rng.random_range(0..60));
        }
        if self.profile != Profile::Small || self.rng.random_bool(0.3) {
            let sel = self.rng.random_range(1..4);
            let bh = self.b64_chars(43);
            let (b1, b2, b3, b4) =
                (self.b64_chars(76), self.b64_chars(76), self.b64_chars(76), self.b64_chars(64));
            let _ = write!(
                h,
                "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={from_domain}; s=selector{sel};\n\tt={}; h=from:to:subject:date:message-id:mime-version;\n\tbh={bh}=;\n\tb={b1}\n\t {b2}\n\t {b3}\n\t {b4}==\n",
                sent.timestamp()
            );
            let _ = write!(h, "Authentication-Results: mx.{to_domain};\n\tdkim=pass header.d={from_domain};\n\tspf=pass smtp.mailfrom={}\n", from.addr);
        }
        let list = if self.rng.random_bool(sh.p_list) { LISTS.choose(&mut self.rng).copied() } else { None };
        if let Some((l, desc)) = list {
            let d = "lists.example.org";
            let _ = write!(
                h,
                "List-Id: {desc} <{l}.{d}>\nList-Unsubscribe: <mailto:{l}-unsubscribe@{d}>,\n <https://{d}/mailman/options/{l}>\nList-Archive: <https://{d}/archives/{l}>\nList-Post: <mailto:{l}@{d}>\nList-Help: <mailto:{l}-request@{d}?subject=help>\nList-Subscribe: <mailto:{l}-subscribe@{d}>\nPrecedence: list\nSender: \"{l}\" <{l}-bounces@{d}>\n"
            );
        }

        // Originator fields and threading.
        let msgid = format!("<{}.{idx}@{from_domain}>", self.hex(16));
        let reply = !self.threads.is_empty() && self.rng.random_bool(0.3);
        let (subject_text, subject) = if reply {
            let i = self.rng.random_range(0..self.threads.len());
            let (parent, refs, subj) = self.threads[i].clone();
            let mut all = refs;
            all.push(parent.clone());
            let keep = all.len().saturating_sub(8);
            let _ = writeln!(h, "In-Reply-To: {parent}");
            let _ = writeln!(h, "References: {}", all[keep..].join("\n "));
            let text = format!("Re: {}", subj.0);
            let written = format!("Re: {}", subj.1);
            self.threads.push_back((msgid.clone(), all[keep..].to_vec(), subj));
            (text, written)
        } else {
            let s = self.subject();
            self.threads.push_back((msgid.clone(), Vec::new(), s.clone()));
            s
        };
        if self.threads.len() > 40 {
            self.threads.pop_front();
        }
        let _ = writeln!(h, "Message-ID: {msgid}");
        let _ = writeln!(h, "Date: {}", rfc2822(sent));
        let _ = writeln!(h, "From: {} <{}>", from.display, from.addr);
        let _ = writeln!(h, "To: {} <{}>", to.display, to.addr);
        if self.rng.random_bool(0.25) {
            let cc = self.person();
            let _ = writeln!(h, "Cc: {} <{}>", cc.display, cc.addr);
        }
        let _ = writeln!(h, "Subject: {subject}");
        let client = self.pick(CLIENTS);
        h.push_str(client);
        h.push('\n');
        if client.contains("Outlook") {
            let _ = writeln!(h, "Thread-Index: {}", self.b64_chars(32));
            h.push_str("X-MS-Has-Attach: \n");
        }
        h.push_str("MIME-Version: 1.0\n");

        // Body.
        let cs = match self.rng.random_range(0..10) {
            0..=4 => Cs::Ascii,
            5..=6 => Cs::Latin1,
            _ => Cs::Utf8,
        };
        let target = self.range(sh.text);
        let signer = from.display.clone();
        let text = self.text(target, cs, reply, &signer);
        let mut raw = h.into_bytes();
        raw.reserve(target * 3);
        let attach = if self.rng.random_bool(sh.p_attach) {
            match self.rng.random_range(0..100) {
                0..=74 => 1,
                75..=92 => 2,
                _ => 3,
            }
        } else {
            0
        };
        let alternative = self.rng.random_bool(sh.p_alternative);
        let forward = self.rng.random_bool(0.02);
        let mixed = attach > 0 || forward;
        let outer = format!("----=_Part_{}_{}", idx, self.hex(8));
        let inner = format!("------------{}", self.hex(24));
        if mixed {
            let _ = write!(
                out_str(&mut raw),
                "Content-Type: multipart/mixed;\n boundary=\"{outer}\"\n\nThis is a multi-part message in MIME format.\n--{outer}\n"
            );
        }
        if alternative {
            let _ =
                write!(out_str(&mut raw), "Content-Type: multipart/alternative;\n boundary=\"{inner}\"\n\n");
            if !mixed {
                raw.extend_from_slice(b"This is a multi-part message in MIME format.\n");
            }
            let _ = writeln!(out_str(&mut raw), "--{inner}");
            self.text_part(&text, cs, false, &mut raw);
            let _ = writeln!(out_str(&mut raw), "--{inner}");
            self.text_part(&text, cs, true, &mut raw);
            let _ = writeln!(out_str(&mut raw), "--{inner}--");
        } else {
            self.text_part(&text, cs, false, &mut raw);
        }
        if forward {
            end_line(&mut raw);
            self.forwarded(&outer, sent, &mut raw);
        }
        for _ in 0..attach {
            end_line(&mut raw);
            self.attachment(&outer, &mut raw);
        }
        if mixed {
            end_line(&mut raw);
            let _ = writeln!(out_str(&mut raw), "--{outer}--");
        }
        end_line(&mut raw);
        let _ = subject_text;
        let sender = match self.style {
            FlagStyle::Status => from.addr,
            FlagStyle::Mozilla => "-".to_owned(),
        };
        GeneratedMessage {
            raw,
            flags,
            received: received.with_timezone(&Utc.fix()),
            sender,
            recent,
            style: self.style,
            attachments: attach,
            subject: subject_text,
        }
    }
}

fn end_line(v: &mut Vec<u8>) {
    if !v.ends_with(b"\n") {
        v.push(b'\n');
    }
}

/// Lets `write!` append UTF-8 text to a byte buffer.
fn out_str(v: &mut Vec<u8>) -> ByteWriter<'_> {
    ByteWriter(v)
}

struct ByteWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
