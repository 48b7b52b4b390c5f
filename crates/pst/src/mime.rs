//! MAPI to MIME. When the item kept its transport headers they are kept
//! (less the three that described the old body structure) and only the body
//! is rebuilt; otherwise the headers are synthesised from MAPI properties
//! and the recipient table. The MIME structure is written by `mail-builder`.

use std::borrow::Cow;

use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use mail_builder::mime::{BodyPart, MimePart};
use mail_builder::MessageBuilder;

use crate::messaging::{tag, Attachment, MapiMessage};
use crate::value::{decode_8bit, filetime, Value};

/// Builds the RFC 5322 bytes of `msg`.
pub fn to_mime(msg: &MapiMessage) -> Vec<u8> {
    let cp = msg.codepage();
    let body = body_part(msg, cp);
    let headers = msg.props.string(tag::TRANSPORT_HEADERS, cp).filter(|h| h.contains(':'));
    match headers {
        Some(h) => {
            let mut out = Vec::with_capacity(h.len() + size_hint(msg));
            for line in kept_headers(&h) {
                out.extend_from_slice(line.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"MIME-Version: 1.0\r\n");
            body.write_part(&mut out);
            out
        }
        None => synthesise(msg, cp, body),
    }
}

/// About how many bytes the body structure of `msg` takes as MIME (base64
/// attachments, bodies): the output buffer's first capacity, so that a
/// message with large attachments is not copied through ever larger
/// buffers (each a fresh allocation the kernel must fault in).
fn size_hint(msg: &MapiMessage) -> usize {
    let attachments: usize = msg.attachments.iter().filter_map(|a| a.data.as_ref()).map(Vec::len).sum();
    let bodies: usize = [tag::BODY, tag::HTML, tag::RTF_COMPRESSED]
        .iter()
        .filter_map(|&t| msg.props.get(t))
        .map(|v| match v {
            Value::Str(s) => s.len(),
            Value::Str8(b) | Value::Bin(b) => b.len(),
            _ => 0,
        })
        .sum();
    // base64 is 4/3 plus line breaks; quoted-printable a little more than 1.
    attachments / 3 * 4 * 78 / 76 + bodies * 11 / 10 + 4096
}

/// The transport header lines (continuations joined to their header), less
/// Content-Type, Content-Transfer-Encoding and MIME-Version.
fn kept_headers(h: &str) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    for line in h.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.push_str("\r\n");
                last.push_str(line);
            }
        } else {
            fields.push(line.to_owned());
        }
    }
    fields.retain(|f| {
        let name = f.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
        f.contains(':')
            && !matches!(name.as_str(), "content-type" | "content-transfer-encoding" | "mime-version")
    });
    fields
}

fn address<'x>(name: Option<String>, email: Option<String>) -> Option<Address<'x>> {
    let email = email.filter(|e| !e.is_empty());
    let name = name.filter(|n| !n.is_empty() && Some(n) != email.as_ref());
    match (name, email) {
        (None, None) => None,
        (n, Some(e)) => Some(Address::new_address(n, e)),
        (Some(n), None) => Some(Address::new_group(Some(n), Vec::new())),
    }
}

/// The sender's SMTP address where known, else its native address.
fn smtp(p: &crate::ltp::Props, cp: u32, smtp_tag: u16, email_tag: u16, type_tag: u16) -> Option<String> {
    p.string(smtp_tag, cp).filter(|s| s.contains('@')).or_else(|| {
        let e = p.string(email_tag, cp)?;
        let t = p.string(type_tag, cp).unwrap_or_default();
        (t.eq_ignore_ascii_case("SMTP") || e.contains('@')).then_some(e)
    })
}

fn ids(s: &str) -> Vec<String> {
    s.split(|c: char| c.is_whitespace() || c == ',')
        .map(|x| x.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
        .filter(|x| !x.is_empty())
        .collect()
}

fn synthesise(msg: &MapiMessage, cp: u32, body: MimePart<'_>) -> Vec<u8> {
    let p = &msg.props;
    let mut b = MessageBuilder::new();
    let from = address(
        p.string(tag::SENT_REPRESENTING_NAME, cp),
        smtp(p, cp, tag::SENT_REPRESENTING_SMTP, tag::SENT_REPRESENTING_EMAIL, 0x0064),
    );
    let sender = address(
        p.string(tag::SENDER_NAME, cp),
        smtp(p, cp, tag::SENDER_SMTP, tag::SENDER_EMAIL, tag::SENDER_ADDRTYPE),
    );
    match (from, sender) {
        (Some(f), s) => {
            b = b.from(f);
            if let Some(s) = s {
                let same = p.string(tag::SENDER_NAME, cp) == p.string(tag::SENT_REPRESENTING_NAME, cp);
                if !same {
                    b = b.sender(s);
                }
            }
        }
        (None, Some(s)) => b = b.from(s),
        (None, None) => {}
    }
    let mut lists: [Vec<Address<'_>>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for r in &msg.recipients {
        let kind = r.i32(tag::RECIPIENT_TYPE).unwrap_or(1) & 0xF;
        let email = smtp(r, cp, tag::SMTP_ADDRESS, tag::EMAIL_ADDRESS, tag::ADDRTYPE);
        if let Some(a) = address(r.string(tag::DISPLAY_NAME, cp), email) {
            match kind {
                2 => lists[1].push(a),
                3 => lists[2].push(a),
                _ => lists[0].push(a),
            }
        }
    }
    let [to, cc, bcc] = lists;
    if !to.is_empty() {
        b = b.to(Address::new_list(to));
    }
    if !cc.is_empty() {
        b = b.cc(Address::new_list(cc));
    }
    if !bcc.is_empty() {
        b = b.bcc(Address::new_list(bcc));
    }
    if let Some(s) = p.string(tag::SUBJECT, cp) {
        // PR_SUBJECT may start with a 0x01 and a prefix length: drop them.
        let s = match s.as_bytes() {
            [1, _, ..] => s.chars().skip(2).collect(),
            _ => s,
        };
        b = b.subject(Text::new(s));
    }
    let date = p.time(tag::CLIENT_SUBMIT_TIME).or_else(|| p.time(tag::DELIVERY_TIME)).and_then(filetime);
    if let Some(d) = date {
        b = b.date(Date::new(d.timestamp()));
    }
    if let Some(id) = p.string(tag::INTERNET_MESSAGE_ID, cp).map(|s| ids(&s)).filter(|v| !v.is_empty()) {
        b = b.message_id(MessageId::new(id[0].clone()));
    } else {
        b = b.header("Message-ID", Raw::new(String::new()));
    }
    if let Some(v) = p.string(tag::IN_REPLY_TO, cp).map(|s| ids(&s)).filter(|v| !v.is_empty()) {
        b = b.in_reply_to(MessageId::new_list(v.into_iter()));
    }
    if let Some(v) = p.string(tag::REFERENCES, cp).map(|s| ids(&s)).filter(|v| !v.is_empty()) {
        b = b.references(MessageId::new_list(v.into_iter()));
    }
    if date.is_none() {
        // mail-builder would stamp "now"; an item without a date keeps none.
        b = b.header("Date", Raw::new(String::new()));
    }
    let out = b.body(body).write_to_vec().unwrap_or_default();
    strip_empty_headers(out)
}

/// Removes the empty `Message-ID:`/`Date:` placeholders that stop
/// mail-builder from inventing values. In place: the body (attachments and
/// all) is not copied to a second buffer.
fn strip_empty_headers(mut raw: Vec<u8>) -> Vec<u8> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").map_or(raw.len(), |p| p + 2);
    let mut placeholders = Vec::new();
    let mut at = 0;
    for line in raw[..end].split_inclusive(|&c| c == b'\n') {
        let t = line.strip_suffix(b"\r\n").unwrap_or(line);
        if t == b"Message-ID: " || t == b"Date: " || t == b"Message-ID:" || t == b"Date:" {
            placeholders.push(at..at + line.len());
        }
        at += line.len();
    }
    for r in placeholders.into_iter().rev() {
        raw.drain(r);
    }
    raw
}

/// A boundary that is the same every time the message is converted (so a
/// re-run writes the same bytes) and differs between an embedded message
/// and its parent: a hash of the message's own properties. `=_` cannot occur
/// in quoted-printable or base64 text.
fn boundary(msg: &MapiMessage, level: u8) -> String {
    let mut h = crc32fast::Hasher::new();
    let mut ids: Vec<_> = msg.props.map.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        h.update(&id.to_le_bytes());
        if let Some(b) = msg.props.bytes(id) {
            h.update(b);
        } else if let Some(Value::Str(s)) = msg.props.get(id) {
            h.update(s.as_bytes());
        } else if let Some(t) = msg.props.time(id) {
            h.update(&t.to_le_bytes());
        }
    }
    h.update(&[u8::try_from(msg.attachments.len() % 256).unwrap_or(0), level]);
    let a = h.clone().finalize();
    h.update(b"mailshift");
    format!("=_ms{level}_{a:08x}{:08x}", h.finalize())
}

/// The body: text and HTML as multipart/alternative, RTF de-encapsulated or
/// kept, then the attachments as multipart/mixed.
fn body_part<'x>(msg: &'x MapiMessage, cp: u32) -> MimePart<'x> {
    let p = &msg.props;
    let text = p.string(tag::BODY, cp);
    let html = match p.get(tag::HTML) {
        Some(Value::Bin(b)) => {
            let hcp = p.i32(tag::INTERNET_CPID).and_then(|c| u32::try_from(c).ok()).unwrap_or(cp);
            Some(if hcp == 65001 || hcp == 0 {
                String::from_utf8_lossy(b).into_owned()
            } else {
                decode_8bit(b, hcp)
            })
        }
        Some(Value::Str(s)) => Some(s.clone()),
        Some(Value::Str8(b)) => Some(decode_8bit(b, cp)),
        _ => None,
    };
    let mut extra: Vec<MimePart<'x>> = Vec::new();
    let (text, html) = if text.is_none() && html.is_none() {
        match p.bytes(tag::RTF_COMPRESSED).map(rtf_body) {
            Some(RtfBody::Html(h)) => (None, Some(h)),
            Some(RtfBody::Text(t)) => (Some(t), None),
            Some(RtfBody::Rtf(r)) => {
                extra.push(MimePart::new("text/rtf", BodyPart::Binary(r.into())).attachment("body.rtf"));
                (None, None)
            }
            None => (None, None),
        }
    } else {
        (text, html)
    };
    // Attachments the HTML refers to by content-id go with it in a
    // multipart/related; the others into the multipart/mixed.
    let (mut related, mut attachments) = (Vec::new(), Vec::new());
    for (i, a) in msg.attachments.iter().enumerate() {
        let cid = content_id(a, cp);
        let referenced = match (&cid, &html) {
            (Some(c), Some(h)) => h.contains(&format!("cid:{c}")),
            _ => false,
        };
        if referenced {
            related.push(attachment_part(a, i + 1, cp, true));
        } else {
            attachments.push(attachment_part(a, i + 1, cp, false));
        }
    }
    let mut alternatives = Vec::new();
    if let Some(t) = text {
        alternatives.push(MimePart::new(
            ContentType::new("text/plain").attribute("charset", "utf-8"),
            BodyPart::Text(t.into()),
        ));
    }
    if let Some(h) = html {
        let part = MimePart::new(
            ContentType::new("text/html").attribute("charset", "utf-8"),
            BodyPart::Text(h.into()),
        );
        if related.is_empty() {
            alternatives.push(part);
        } else {
            let mut parts = vec![part];
            parts.append(&mut related);
            alternatives.push(MimePart::new(
                ContentType::new("multipart/related")
                    .attribute("type", "text/html")
                    .attribute("boundary", boundary(msg, 2)),
                BodyPart::Multipart(parts),
            ));
        }
    }
    let main = match alternatives.len() {
        0 => MimePart::new(
            ContentType::new("text/plain").attribute("charset", "utf-8"),
            BodyPart::Text("".into()),
        ),
        1 => alternatives.remove(0),
        _ => MimePart::new(
            ContentType::new("multipart/alternative").attribute("boundary", boundary(msg, 1)),
            BodyPart::Multipart(alternatives),
        ),
    };
    let mut parts = vec![main];
    parts.extend(extra);
    parts.append(&mut attachments);
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        MimePart::new(
            ContentType::new("multipart/mixed").attribute("boundary", boundary(msg, 0)),
            BodyPart::Multipart(parts),
        )
    }
}

enum RtfBody {
    Html(String),
    Text(String),
    Rtf(Vec<u8>),
}

/// Decompresses PR_RTF_COMPRESSED; HTML or text wrapped in RTF
/// (`\fromhtml1`, `\fromtext`) is taken out, other RTF kept as is.
fn rtf_body(compressed: &[u8]) -> RtfBody {
    // A header claiming more than the format can expand to (at most 8×
    // plus the dictionary) is not decompressed.
    let raw_size = crate::ltp::u32_at(compressed, 4).unwrap_or(u32::MAX) as usize;
    if compressed.len() < 16 || raw_size > compressed.len().saturating_mul(16) + 4096 {
        return RtfBody::Rtf(compressed.to_vec());
    }
    // Uncompressed ("MELA") content declaring more bytes than present.
    if compressed.get(8..12) == Some(b"MELA".as_slice()) && raw_size.saturating_add(16) > compressed.len() {
        return RtfBody::Rtf(compressed.to_vec());
    }
    let Some(rtf) = crate::rtf::decompress(compressed) else {
        return RtfBody::Rtf(compressed.to_vec());
    };
    if rtf.contains("\\fromhtml1") {
        RtfBody::Html(crate::rtf::deencapsulate(&rtf))
    } else if rtf.contains("\\fromtext") {
        RtfBody::Text(crate::rtf::deencapsulate(&rtf))
    } else {
        RtfBody::Rtf(rtf.into_bytes())
    }
}

fn guess_type(name: &str) -> &'static str {
    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "txt" => "text/plain",
        "htm" | "html" => "text/html",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "zip" => "application/zip",
        "eml" => "message/rfc822",
        "ics" => "text/calendar",
        "vcf" => "text/vcard",
        "xml" => "application/xml",
        "csv" => "text/csv",
        _ => "application/octet-stream",
    }
}

/// The attachment's file name.
pub fn attachment_name(a: &Attachment, index: usize, cp: u32) -> String {
    a.props
        .string(tag::ATTACH_LONG_FILENAME, cp)
        .or_else(|| a.props.string(tag::ATTACH_FILENAME, cp))
        .or_else(|| a.props.string(tag::DISPLAY_NAME, cp))
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| {
            let ext = a.props.string(tag::ATTACH_EXTENSION, cp).unwrap_or_default();
            if a.embedded.is_some() {
                format!("message{index}.eml")
            } else {
                format!("attachment{index}{ext}")
            }
        })
}

/// The attachment's content-id, without angle brackets.
fn content_id(a: &Attachment, cp: u32) -> Option<String> {
    a.props
        .string(tag::ATTACH_CONTENT_ID, cp)
        .map(|c| c.trim().trim_matches(['<', '>']).to_owned())
        .filter(|c| !c.is_empty())
}

fn attachment_part<'x>(a: &'x Attachment, index: usize, cp: u32, inline: bool) -> MimePart<'x> {
    let name = attachment_name(a, index, cp);
    if let Some(m) = &a.embedded {
        let raw = to_mime(m);
        // RFC 2046 5.2.1: message/rfc822 is never base64; write it as is.
        let cte = if raw.is_ascii() { "7bit" } else { "8bit" };
        return MimePart::new("message/rfc822", BodyPart::Binary(Cow::Owned(raw)))
            .attachment(name)
            .transfer_encoding(cte);
    }
    let mime = a
        .props
        .string(tag::ATTACH_MIME_TAG, cp)
        .filter(|m| m.contains('/') && !m.contains(char::is_whitespace))
        .unwrap_or_else(|| guess_type(&name).to_owned());
    let data: &[u8] = a.data.as_deref().unwrap_or(&[]);
    let mime = if mime.eq_ignore_ascii_case("message/rfc822") {
        "application/octet-stream".to_owned()
    } else {
        mime
    };
    let ct = ContentType::new(mime).attribute("name", name.clone());
    let part = MimePart::new(ct, BodyPart::Binary(Cow::Borrowed(data)));
    let part = match content_id(a, cp) {
        Some(c) => part.cid(c),
        None => part,
    };
    if inline {
        part.inline()
    } else {
        part.attachment(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ltp::Props;

    fn msg(props: &[(u16, u16, Value)]) -> MapiMessage {
        let mut p = Props::default();
        for (id, ty, v) in props {
            p.map.insert(*id, (*ty, v.clone()));
        }
        MapiMessage { props: p, ..MapiMessage::default() }
    }

    #[test]
    fn rtf_wrapping_html_becomes_html() {
        let rtf = r"{\rtf1\ansi\ansicpg1252\fromhtml1 {\*\htmltag19 <html><body>}hello{\*\htmltag84 </body></html>}}";
        let c = compressed_rtf::compress_rtf(rtf).unwrap();
        assert!(matches!(rtf_body(&c), RtfBody::Html(h) if h == "<html><body>hello</body></html>"));
        let plain = compressed_rtf::compress_rtf(r"{\rtf1\ansi {\b bold}}").unwrap();
        assert!(matches!(rtf_body(&plain), RtfBody::Rtf(_)));
    }

    /// Only the header's empty placeholders go; the body, whatever it
    /// holds, is kept byte for byte.
    #[test]
    fn empty_placeholders_are_stripped_from_the_header_only() {
        let raw = b"From: a@b\r\nDate: \r\nSubject: s\r\nMessage-ID:\r\nTo: c@d\r\n\r\nDate: \r\nMessage-ID: \r\nbody".to_vec();
        assert_eq!(
            strip_empty_headers(raw),
            b"From: a@b\r\nSubject: s\r\nTo: c@d\r\n\r\nDate: \r\nMessage-ID: \r\nbody".to_vec()
        );
        let kept = b"Date: Mon, 1 Jan 2001 00:00:00 +0000\r\n\r\nx".to_vec();
        assert_eq!(strip_empty_headers(kept.clone()), kept);
        assert_eq!(strip_empty_headers(b"Date: \r\n".to_vec()), b"".to_vec());
    }

    #[test]
    fn rtf_header_claiming_gigabytes_is_kept_not_decompressed() {
        let mut c = vec![0u8; 16];
        c[0] = 12;
        c[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        c[8..12].copy_from_slice(b"LZFu");
        assert!(matches!(rtf_body(&c), RtfBody::Rtf(_)));
        assert!(matches!(rtf_body(&[1, 2, 3]), RtfBody::Rtf(_)));
        // Uncompressed content declaring more bytes than present.
        let mut m = vec![0u8; 20];
        m[0] = 16;
        m[4] = 200;
        m[8..12].copy_from_slice(b"MELA");
        assert!(matches!(rtf_body(&m), RtfBody::Rtf(_)));
    }

    #[test]
    fn synthesised_headers_from_mapi() {
        let m = msg(&[
            (tag::SUBJECT, 0x001F, Value::Str("Hello".into())),
            (tag::SENT_REPRESENTING_NAME, 0x001F, Value::Str("Ann".into())),
            (tag::SENT_REPRESENTING_SMTP, 0x001F, Value::Str("ann@example.com".into())),
            (tag::INTERNET_MESSAGE_ID, 0x001F, Value::Str("<abc@example.com>".into())),
            (tag::BODY, 0x001F, Value::Str("body text".into())),
            (tag::CLIENT_SUBMIT_TIME, 0x0040, Value::Time(130_000_000_000_000_000)),
        ]);
        let raw = to_mime(&m);
        let p = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(p.subject(), Some("Hello"));
        assert_eq!(p.message_id(), Some("abc@example.com"));
        assert_eq!(p.from().unwrap().first().unwrap().address(), Some("ann@example.com"));
        assert!(p.date().is_some());
        assert_eq!(p.body_text(0).as_deref(), Some("body text"));
        // Deterministic: no generated Message-ID or Date stamped "now".
        assert_eq!(raw, to_mime(&m));
    }

    #[test]
    fn transport_headers_are_kept_without_old_mime_headers() {
        let h = "Received: from x\r\n by y\r\nSubject: Kept\r\nContent-Type: multipart/mixed;\r\n boundary=\"old\"\r\nMIME-Version: 1.0\r\nX-Custom: 1\r\n";
        let m = msg(&[
            (tag::TRANSPORT_HEADERS, 0x001F, Value::Str(h.into())),
            (tag::BODY, 0x001F, Value::Str("hi".into())),
        ]);
        let raw = String::from_utf8(to_mime(&m)).unwrap();
        assert!(
            raw.starts_with(
                "Received: from x\r\n by y\r\nSubject: Kept\r\nX-Custom: 1\r\nMIME-Version: 1.0\r\n"
            ),
            "{raw}"
        );
        assert!(!raw.contains("old"), "{raw}");
        assert_eq!(raw.matches("MIME-Version").count(), 1);
    }
}
