use std::collections::BTreeSet;

use mail_parser::{MessageParser, MimeHeaders as _};

use super::*;

fn mbox(seed: u64, n: u64, profile: Profile, variant: Variant) -> Vec<u8> {
    let mut out = Vec::new();
    write_mbox(&mut out, seed, Amount::Messages(n), profile, variant).unwrap();
    out
}

/// A minimal independent mbox splitter for checking the writer: returns
/// the From_ line and the message bytes (separator blank line removed).
fn split(mbox: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut prev_blank = true;
    for line in mbox.split_inclusive(|&b| b == b'\n') {
        if prev_blank && line.starts_with(b"From ") {
            if let Some((_, m)) = out.last_mut() {
                assert_eq!(m.pop(), Some(b'\n'), "separator blank line missing");
            }
            out.push((String::from_utf8(line.to_vec()).unwrap(), Vec::new()));
        } else {
            out.last_mut().expect("text before the first From_ line").1.extend_from_slice(line);
        }
        prev_blank = line == b"\n";
    }
    if let Some((_, m)) = out.last_mut() {
        assert_eq!(m.pop(), Some(b'\n'));
    }
    out
}

/// Removes one `>` from `^>+From ` lines (mboxrd un-quoting).
fn unquote(m: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(m.len());
    for line in m.split_inclusive(|&b| b == b'\n') {
        let gt = line.iter().take_while(|&&b| b == b'>').count();
        if gt > 0 && line[gt..].starts_with(b"From ") {
            out.extend_from_slice(&line[1..]);
        } else {
            out.extend_from_slice(line);
        }
    }
    out
}

/// Takes the bookkeeping headers out of the header block; returns them.
fn strip_bookkeeping(m: &[u8]) -> (Vec<u8>, Vec<String>) {
    let end = memchr::memmem::find(m, b"\n\n").unwrap() + 1;
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for line in m[..end].split_inclusive(|&b| b == b'\n') {
        let s = String::from_utf8_lossy(line);
        let name = s.split(':').next().unwrap_or("").to_ascii_lowercase();
        if ["status", "x-status", "x-keywords", "content-length"].contains(&name.as_str())
            || name.starts_with("x-mozilla-")
        {
            taken.push(s.trim_end().to_owned());
        } else {
            kept.extend_from_slice(line);
        }
    }
    kept.extend_from_slice(&m[end..]);
    (kept, taken)
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    for p in [Profile::Small, Profile::Dense, Profile::Realistic] {
        let a = mbox(42, 30, p, Variant::Mboxrd);
        assert_eq!(a, mbox(42, 30, p, Variant::Mboxrd), "{p:?}");
        assert_ne!(a, mbox(43, 30, p, Variant::Mboxrd), "{p:?}");
    }
    let a: Vec<_> = messages(5, 20, Profile::Dense).collect();
    let b: Vec<_> = messages(5, 20, Profile::Dense).collect();
    assert_eq!(a, b);
}

#[test]
fn every_message_parses_with_what_it_claims() {
    let parser = MessageParser::default();
    let mut ids = BTreeSet::new();
    let mut attachments = 0;
    let mut encoded_subjects = 0;
    for (profile, n) in [(Profile::Small, 300), (Profile::Dense, 200), (Profile::Realistic, 60)] {
        for m in messages(9, n, profile) {
            let msg =
                parser.parse(&m.raw).unwrap_or_else(|| panic!("mail-parser rejected a {profile:?} message"));
            // mail-parser decodes ISO-2022-JP only with its `full_encoding` feature.
            if !m.subject.chars().any(|c| ('\u{3040}'..='\u{30ff}').contains(&c)) {
                assert_eq!(msg.subject(), Some(m.subject.as_str()), "{profile:?}");
            }
            assert!(ids.insert(msg.message_id().expect("Message-ID").to_owned()), "duplicate Message-ID");
            let real = msg.attachments().filter(|a| a.attachment_name().is_some()).count();
            assert_eq!(real, m.attachments, "{profile:?}");
            assert!(msg.date().is_some());
            assert!(msg.from().and_then(|f| f.first()).and_then(|a| a.address()).is_some());
            assert!(msg.body_text(0).is_some_and(|t| t.contains("Hi ")));
            attachments += m.attachments;
            encoded_subjects += usize::from(!m.subject.is_ascii());
            assert!(m.raw.ends_with(b"\n") && !m.raw.contains(&b'\r'));
        }
    }
    assert!(
        attachments > 5 && encoded_subjects > 20,
        "{attachments} attachments, {encoded_subjects} encoded subjects"
    );
}

#[test]
fn mbox_carries_the_flags_dates_and_bytes_it_claims() {
    for style in [FlagStyle::Status, FlagStyle::Mozilla] {
        let msgs: Vec<_> = Generator::new(3, Profile::Small).with_flag_style(style).take(400).collect();
        let mut w = MboxWriter::new(Vec::new(), Variant::Mboxrd);
        for m in &msgs {
            w.write(m).unwrap();
        }
        let (out, stats) = w.into_inner().unwrap();
        assert_eq!(stats.bytes, out.len() as u64);
        let parts = split(&out);
        assert_eq!(parts.len(), msgs.len());
        let (mut seen, mut recent, mut with_keywords) = (0, 0, 0);
        for (m, (from_line, body)) in msgs.iter().zip(&parts) {
            let date = m.received.format("%a %b %e %H:%M:%S %Y").to_string();
            assert_eq!(from_line.trim_end(), format!("From {} {date}", m.sender));
            let (raw, taken) = strip_bookkeeping(&unquote(body));
            assert_eq!(raw, m.raw);
            // Re-derive the flags from the headers, independently of the writer.
            let mut f = Flags::default();
            let mut new = true;
            for h in &taken {
                let (name, value) = h.split_once(':').unwrap_or((h.as_str(), ""));
                let value = value.trim();
                match name {
                    "Status" => {
                        new = false;
                        f.seen = value.contains('R');
                    }
                    "X-Status" => {
                        f.answered = value.contains('A');
                        f.flagged = value.contains('F');
                        f.draft = value.contains('T');
                        f.deleted = value.contains('D');
                    }
                    "X-Mozilla-Status" => {
                        let v = u32::from_str_radix(value, 16).unwrap();
                        (f.seen, f.answered, f.flagged, f.forwarded) =
                            (v & 1 != 0, v & 2 != 0, v & 4 != 0, v & 0x1000 != 0);
                    }
                    "X-Mozilla-Status2" => new = u32::from_str_radix(value, 16).unwrap() & 0x1_0000 != 0,
                    "X-Keywords" | "X-Mozilla-Keys" => {
                        value.split_whitespace().for_each(|k| f.add_keyword(k))
                    }
                    _ => panic!("unexpected bookkeeping header {h}"),
                }
            }
            assert_eq!(f, m.flags);
            assert_eq!(new, m.recent);
            seen += usize::from(f.seen);
            recent += usize::from(new);
            with_keywords += usize::from(!f.keywords.is_empty());
        }
        assert!(
            seen > 200 && recent > 10 && recent < 80 && with_keywords > 5,
            "{style:?}: {seen} seen, {recent} recent, {with_keywords} with keywords"
        );
    }
}

#[test]
fn from_lines_in_bodies_are_quoted() {
    let msgs: Vec<_> = messages(11, 300, Profile::Small).collect();
    let has = |m: &GeneratedMessage, p: &[u8]| m.raw.split(|&b| b == b'\n').any(|l| l.starts_with(p));
    assert!(msgs.iter().any(|m| has(m, b"From ")), "no body line starts with From");
    assert!(msgs.iter().any(|m| has(m, b">From ")), "no body line starts with >From");
    for variant in [Variant::Mboxrd, Variant::Mboxo] {
        let out = mbox(11, 300, Profile::Small, variant);
        let separators = out.split(|&b| b == b'\n').filter(|l| l.starts_with(b"From ")).count();
        assert_eq!(separators, 300, "{variant:?}: an unquoted From line in a body");
    }
    let rd = mbox(11, 300, Profile::Small, Variant::Mboxrd);
    let raw: Vec<Vec<u8>> = split(&rd).iter().map(|(_, b)| strip_bookkeeping(&unquote(b)).0).collect();
    assert_eq!(raw, msgs.iter().map(|m| m.raw.clone()).collect::<Vec<_>>());
}

#[test]
fn mboxcl2_content_length_and_crlf_framing() {
    let out = mbox(4, 50, Profile::Small, Variant::Mboxcl2);
    let msgs: Vec<_> = messages(4, 50, Profile::Small).collect();
    let mut at = 0;
    for m in &msgs {
        let cl = memchr::memmem::find(&out[at..], b"\nContent-Length: ").unwrap() + at + 17;
        let eol = cl + memchr::memchr(b'\n', &out[cl..]).unwrap();
        let len: usize = std::str::from_utf8(&out[cl..eol]).unwrap().parse().unwrap();
        let body_start = memchr::memmem::find(&out[cl..], b"\n\n").unwrap() + cl + 2;
        let body = &out[body_start..body_start + len];
        assert!(m.raw.ends_with(body));
        assert_eq!(out[body_start + len], b'\n', "separator after the counted body");
        at = body_start + len;
    }
    let crlf = mbox(4, 50, Profile::Small, Variant::Crlf);
    let lf = mbox(4, 50, Profile::Small, Variant::Mboxrd);
    assert!(crlf.windows(2).all(|w| w[1] != b'\n' || w[0] == b'\r'), "bare LF in CRLF output");
    assert_eq!(crlf.len(), lf.len() + lf.iter().filter(|&&b| b == b'\n').count());
}

#[test]
fn size_targets_and_densities() {
    let mut out = Vec::new();
    let s = write_mbox(&mut out, 1, Amount::Bytes(8 << 20), Profile::Dense, Variant::Mboxrd).unwrap();
    assert!(s.bytes >= 8 << 20 && s.bytes < (8 << 20) + (1 << 20));
    // About 60,000 messages per GiB, i.e. about 470 per 8 MiB.
    assert!((330..=620).contains(&s.messages), "{} dense messages in 8 MiB", s.messages);
    assert_eq!(parse_size("1G"), Some(1 << 30));
    assert_eq!(parse_size("1.5k"), Some(1536));
    assert_eq!(parse_size("x"), None);
}

#[test]
fn maildir_and_floor_write_every_message() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("md");
    let s = write_maildir(&md, 8, Amount::Messages(120), Profile::Small).unwrap();
    let count = |d: &std::path::Path| std::fs::read_dir(d).unwrap().count() as u64;
    assert_eq!(count(&md.join("cur")) + count(&md.join("new")), 120);
    assert_eq!(s.messages, 120);
    let msgs: Vec<_> = messages(8, 120, Profile::Small).collect();
    let files: Vec<_> = ["cur", "new"]
        .iter()
        .flat_map(|d| std::fs::read_dir(md.join(d)).unwrap().map(|e| e.unwrap().path()))
        .collect();
    for (i, m) in msgs.iter().enumerate() {
        let tag = format!(".M{i}P0.");
        let p = files.iter().find(|p| p.to_string_lossy().contains(&tag)).expect("file of message");
        assert_eq!(std::fs::read(p).unwrap(), m.raw);
        let mtime = std::fs::metadata(p).unwrap().modified().unwrap();
        assert_eq!(chrono::DateTime::<Utc>::from(mtime), m.received);
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        match name.split_once(":2,") {
            Some((_, info)) => assert!(!m.recent && info.starts_with(&m.flags.maildir_letters()), "{name}"),
            None => assert!(m.recent && p.parent().unwrap().ends_with("new")),
        }
    }
    let mb = dir.path().join("x.mbox");
    let w = write_mbox(
        std::fs::File::create(&mb).unwrap(),
        8,
        Amount::Messages(120),
        Profile::Small,
        Variant::Mboxrd,
    )
    .unwrap();
    let fl = floor(&mb, &dir.path().join("floor")).unwrap();
    assert_eq!(fl.messages, 120);
    assert!(fl.message_bytes > w.message_bytes, "floor keeps the bookkeeping headers");
}

#[test]
fn committed_sample_is_what_the_generator_writes() {
    let committed = crate::fixtures().join("sample/thunderbird");
    let dir = tempfile::tempdir().unwrap();
    let folders = write_thunderbird_sample(dir.path(), SAMPLE_SEED).unwrap();
    assert!(folders.iter().map(|f| f.stats.messages).sum::<u64>() > 100);
    let mut total = 0;
    for f in &folders {
        let want = std::fs::read(dir.path().join(&f.file)).unwrap();
        let have =
            std::fs::read(committed.join(&f.file)).unwrap_or_else(|e| panic!("{}: {e}", f.file.display()));
        assert!(have == want, "{} differs from the generator's output", f.file.display());
        total += have.len();
    }
    assert!(total < 500_000, "sample is {total} bytes");
}

/// Received dates stay in the past and in order for a message-dense
/// store: the small profile's gaps (up to 5 days) used to run past today
/// after about 20,000 messages, and Dovecot's APPEND then replaced those
/// INTERNALDATEs with the current time. Near the 2025-01-01 ceiling the
/// dates move on by a second per message at most.
#[test]
fn received_dates_stay_in_the_past_for_large_counts() {
    let ceiling = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").unwrap();
    let now = chrono::Utc::now();
    let n = 25_000;
    let mut last = None;
    for (i, m) in Generator::new(5, Profile::Small).take(n).enumerate() {
        assert!(m.received < now, "message {i} received {} is in the future", m.received);
        assert!(m.received <= ceiling + chrono::Duration::seconds(n as i64), "message {i}: {}", m.received);
        if let Some(prev) = last {
            assert!(m.received > prev, "message {i}: dates not increasing");
        }
        last = Some(m.received);
    }
}
