//! Contacts out as vCard 3.0 (RFC 2426) or 4.0 (RFC 6350).
//!
//! Lines end in CRLF and fold at 75 octets, never inside a UTF-8 sequence;
//! text values escape `\`, `,`, `;` and newlines; a photo is base64 with
//! `ENCODING=b` in 3.0 and a `data:` URI in 4.0. Groups are `KIND:group` +
//! `MEMBER` in 4.0 and Apple's `X-ADDRESSBOOKSERVER-KIND`/`-MEMBER` in 3.0,
//! which CardDAV servers and clients understand.

use base64::Engine as _;

use crate::contact::{Contact, ContactKind, ExtraProperty, Photo, Typed};
use crate::VcardVersion;

/// Escapes a text value (RFC 6350 section 3.4).
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// A URI value: no escaping, but no line breaks or controls either.
fn clean_uri(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// A parameter value, quoted when it holds `:`, `;` or `,` (RFC 6350
/// section 3.3), with RFC 6868 caret escapes for `^`, newlines and `"`.
fn param_value(s: &str) -> String {
    let s = s.replace("\r\n", "\n");
    let mut v = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '^' => v.push_str("^^"),
            '\n' | '\r' => v.push_str("^n"),
            '"' => v.push_str("^'"),
            c if c.is_control() => {}
            c => v.push(c),
        }
    }
    if v.contains([':', ';', ',']) {
        format!("\"{v}\"")
    } else {
        v
    }
}

/// A property or parameter name: letters, digits and `-` only.
fn clean_name(s: &str) -> String {
    let n: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_uppercase() } else { '-' })
        .collect();
    if n.is_empty() {
        "X-UNNAMED".into()
    } else {
        n
    }
}

/// Appends one content line, folded at 75 octets on character boundaries.
pub fn push_folded(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

struct Card<'a> {
    out: &'a mut String,
    v4: bool,
}

impl Card<'_> {
    fn line(&mut self, name: &str, params: &[(String, String)], value: &str) {
        let mut l = String::from(name);
        for (k, v) in params {
            l.push(';');
            l.push_str(k);
            if !v.is_empty() {
                l.push('=');
                l.push_str(v);
            }
        }
        l.push(':');
        l.push_str(value);
        push_folded(self.out, &l);
    }

    /// TYPE and PREF parameters for a typed value, in this version's style.
    fn type_params(&self, types: &[String], pref: Option<u8>, drop: &[&str]) -> Vec<(String, String)> {
        let mut t: Vec<String> = types
            .iter()
            .filter(|t| !(t.is_empty() || self.v4 && drop.contains(&t.as_str())))
            .map(|t| if self.v4 { t.to_ascii_lowercase() } else { t.to_ascii_uppercase() })
            .map(|t| param_value(&t))
            .collect();
        let mut params = Vec::new();
        if !self.v4 && pref.is_some() {
            t.push("PREF".into());
        }
        if !t.is_empty() {
            params.push(("TYPE".to_owned(), t.join(",")));
        }
        if let (true, Some(p)) = (self.v4, pref) {
            params.push(("PREF".to_owned(), p.to_string()));
        }
        params
    }

    fn typed(&mut self, name: &str, t: &Typed, uri: bool, drop: &[&str]) {
        let params = self.type_params(&t.types, t.pref, drop);
        let value = if uri { clean_uri(&t.value) } else { escape_text(&t.value) };
        self.line(name, &params, &value);
    }

    /// A date: ISO 8601 extended in 3.0 (`1996-04-15`), basic in 4.0
    /// (`19960415`, `--0415`), and free text as `VALUE=text` in 4.0.
    fn date(&mut self, name: &str, value: &str) {
        if !self.v4 {
            // vCard 3 has no year-less date: Apple's marker year is what
            // CardDAV clients understand.
            let md: String =
                value.strip_prefix("--").unwrap_or("").chars().filter(char::is_ascii_digit).collect();
            if md.len() == 4 && value.len() <= 7 {
                let params = [("X-APPLE-OMIT-YEAR".to_owned(), "1604".to_owned())];
                self.line(name, &params, &format!("1604-{}-{}", &md[..2], &md[2..]));
            } else {
                self.line(name, &[], &escape_text(value));
            }
        } else if let Some(basic) = basic_date(value) {
            self.line(name, &[], &basic);
        } else {
            self.line(name, &[("VALUE".into(), "text".into())], &escape_text(value));
        }
    }

    fn extra(&mut self, e: &ExtraProperty) {
        let mut name = clean_name(&e.name);
        if let Some(g) = e.group.as_deref().filter(|g| !g.is_empty()) {
            name = format!("{}.{name}", clean_name(g));
        }
        let params: Vec<(String, String)> = e
            .params
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("ENCODING") && !k.eq_ignore_ascii_case("CHARSET"))
            .map(|(k, v)| (clean_name(k), v.iter().map(|v| param_value(v)).collect::<Vec<_>>().join(",")))
            .collect();
        let dated = self.v4 && matches!(e.name.as_str(), "REV" | "DEATHDATE" | "CREATED");
        let value = match (dated, e.values.as_slice()) {
            (true, [v]) => basic_date(v).unwrap_or_else(|| escape_text(v)),
            _ => e.values.iter().map(|v| escape_text(v)).collect::<Vec<_>>().join(";"),
        };
        self.line(&name, &params, &value);
    }
}

/// `2008-12-03` → `20081203`, `--12-03` → `--1203`,
/// `2009-08-08T14:30:00-05:00` → `20090808T143000-0500`; `None` for text.
pub(crate) fn basic_date(v: &str) -> Option<String> {
    let v = v.trim();
    if v.is_empty() || !v.chars().all(|c| c.is_ascii_digit() || matches!(c, '-' | ':' | 'T' | 'Z' | '+')) {
        return None;
    }
    let (date, time) = match v.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (v, None),
    };
    let mut out = String::new();
    let date_digits = date.trim_start_matches('-');
    out.push_str(&date[..date.len() - date_digits.len()]);
    out.push_str(&date_digits.replace('-', ""));
    if let Some(t) = time {
        out.push('T');
        let split = t.find(['+', '-', 'Z']).unwrap_or(t.len());
        out.push_str(&t[..split].replace(':', ""));
        out.push_str(&t[split..].replace(':', ""));
    }
    let digits = out.chars().filter(char::is_ascii_digit).count();
    (digits >= 4 || out.starts_with("--")).then_some(out)
}

fn join_component(parts: &[String]) -> String {
    parts.iter().map(|p| escape_text(p)).collect::<Vec<_>>().join(",")
}

/// Writes one contact as a complete vCard (BEGIN to END, CRLF lines).
pub fn write_vcard(c: &Contact, version: VcardVersion, uid: &str, out: &mut String) {
    let v4 = version == VcardVersion::V4;
    let mut w = Card { out, v4 };
    w.out.push_str("BEGIN:VCARD\r\n");
    w.out.push_str(if v4 { "VERSION:4.0\r\n" } else { "VERSION:3.0\r\n" });
    w.out.push_str("PRODID:-//mailshift//contacts//EN\r\n");
    let kind = match &c.kind {
        ContactKind::Individual => None,
        ContactKind::Group => Some("group".to_owned()),
        ContactKind::Org => Some("org".to_owned()),
        ContactKind::Location => Some("location".to_owned()),
        ContactKind::Other(o) => Some(o.clone()),
    };
    if let Some(k) = kind {
        let name = if v4 { "KIND" } else { "X-ADDRESSBOOKSERVER-KIND" };
        w.line(name, &[], &escape_text(&k));
    }
    w.line("UID", &[], &clean_uri(uid));
    w.line("FN", &[], &escape_text(&c.display_name()));
    let n = &c.name;
    let n_value = [&n.family, &n.given, &n.additional, &n.prefixes, &n.suffixes]
        .iter()
        .map(|p| join_component(p))
        .collect::<Vec<_>>()
        .join(";");
    if !n.is_empty() || !v4 {
        w.line("N", &[], &n_value);
    }
    if !c.nicknames.is_empty() {
        w.line("NICKNAME", &[], &join_component(&c.nicknames));
    }
    for e in &c.emails {
        let mut e = e.clone();
        if !v4 && !e.types.iter().any(|t| t == "internet") {
            e.types.insert(0, "internet".into());
        }
        w.typed("EMAIL", &e, false, &["internet", "x400"]);
    }
    for t in &c.phones {
        w.typed("TEL", t, false, &["pref"]);
    }
    for a in &c.addresses {
        let mut params = w.type_params(&a.types, a.pref, &[]);
        if let (true, Some(l)) = (v4, &a.label) {
            params.push(("LABEL".into(), param_value(l)));
        }
        let value = [&a.po_box, &a.extended, &a.street, &a.locality, &a.region, &a.postal_code, &a.country]
            .iter()
            .map(|s| escape_text(s))
            .collect::<Vec<_>>()
            .join(";");
        w.line("ADR", &params, &value);
        if let (false, Some(l)) = (v4, &a.label) {
            let params = w.type_params(&a.types, None, &[]);
            w.line("LABEL", &params, &escape_text(l));
        }
    }
    if let Some(o) = &c.org {
        let mut parts = vec![escape_text(&o.name)];
        parts.extend(o.units.iter().map(|u| escape_text(u)));
        w.line("ORG", &[], &parts.join(";"));
    }
    if let Some(t) = &c.title {
        w.line("TITLE", &[], &escape_text(t));
    }
    if let Some(r) = &c.role {
        w.line("ROLE", &[], &escape_text(r));
    }
    if let Some(b) = &c.birthday {
        w.date("BDAY", b);
    }
    if let Some(a) = &c.anniversary {
        w.date(if v4 { "ANNIVERSARY" } else { "X-ANNIVERSARY" }, a);
    }
    for u in &c.urls {
        w.typed("URL", u, true, &[]);
    }
    for i in &c.impps {
        w.typed("IMPP", i, true, &[]);
    }
    for note in &c.notes {
        w.line("NOTE", &[], &escape_text(note));
    }
    if !c.categories.is_empty() {
        w.line("CATEGORIES", &[], &join_component(&c.categories));
    }
    match &c.photo {
        Some(Photo::Inline { bytes, media_type }) => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            if v4 {
                let mt = media_type.as_deref().unwrap_or("application/octet-stream");
                w.line("PHOTO", &[], &format!("data:{mt};base64,{b64}"));
            } else {
                let mut params = vec![("ENCODING".to_owned(), "b".to_owned())];
                if let Some(mt) = media_type {
                    let sub = mt.rsplit('/').next().unwrap_or(mt).to_ascii_uppercase();
                    params.push(("TYPE".to_owned(), param_value(&sub)));
                }
                w.line("PHOTO", &params, &b64);
            }
        }
        Some(Photo::Uri(u)) => {
            let params = if v4 { vec![] } else { vec![("VALUE".to_owned(), "uri".to_owned())] };
            w.line("PHOTO", &params, &clean_uri(u));
        }
        None => {}
    }
    for m in &c.members {
        w.line(if v4 { "MEMBER" } else { "X-ADDRESSBOOKSERVER-MEMBER" }, &[], &clean_uri(m));
    }
    for e in &c.extra {
        w.extra(e);
    }
    w.out.push_str("END:VCARD\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_keeps_utf8_sequences_whole() {
        let mut out = String::new();
        let line = format!("NOTE:{}", "日本語".repeat(20));
        push_folded(&mut out, &line);
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets: {l}", l.len());
        }
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(unfolded, format!("{line}\r\n"));
    }

    #[test]
    fn v4_dates_are_basic() {
        assert_eq!(basic_date("2008-12-03").as_deref(), Some("20081203"));
        assert_eq!(basic_date("--12-03").as_deref(), Some("--1203"));
        assert_eq!(basic_date("2009-08-08T14:30:00-05:00").as_deref(), Some("20090808T143000-0500"));
        assert_eq!(basic_date("next spring"), None);
    }

    #[test]
    fn escaping() {
        assert_eq!(escape_text("a,b;c\\d\r\ne"), "a\\,b\\;c\\\\d\\ne");
    }

    #[test]
    fn photo_styles_per_version() {
        let c = Contact {
            formatted_name: Some("P".into()),
            photo: Some(Photo::Inline { bytes: vec![1, 2, 3], media_type: Some("image/jpeg".into()) }),
            ..Contact::default()
        };
        let mut v3 = String::new();
        write_vcard(&c, VcardVersion::V3, "u", &mut v3);
        assert!(v3.contains("PHOTO;ENCODING=b;TYPE=JPEG:AQID\r\n"), "{v3}");
        let mut v4 = String::new();
        write_vcard(&c, VcardVersion::V4, "u", &mut v4);
        assert!(v4.contains("PHOTO:data:image/jpeg;base64,AQID\r\n"), "{v4}");
    }
}
