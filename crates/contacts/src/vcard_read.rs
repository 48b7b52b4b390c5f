//! vCard 2.1, 3.0 and 4.0 in, through Stalwart's `calcard` parser.
//!
//! `calcard` takes text, so the bytes are decoded first, line by line: a
//! line that is not UTF-8 is decoded with its own `CHARSET=` parameter
//! (vCard 2.1 Shift_JIS phones) or the encoding guessed for the file, and
//! quoted-printable values in a legacy charset are re-encoded as UTF-8.
//! Two vCard 2.1 habits are straightened out before parsing: cards nested
//! in cards, and values continued after a trailing backslash.

use base64::Engine as _;
use calcard::common::PartialDateTime;
use calcard::vcard::{VCard, VCardEntry, VCardKind, VCardParameterName, VCardProperty, VCardValue};
use calcard::{Entry, Parser};
use mailshift_model::{Finding, FindingKind, Location};

use crate::contact::{Address, Contact, ContactKind, ExtraProperty, Organization, Photo, Typed};
use crate::text;

/// Decodes vCard bytes to text, honouring per-line `CHARSET=` parameters.
pub fn decode_vcard_bytes(bytes: &[u8]) -> String {
    let whole = text::decode(bytes);
    if whole.encoding == encoding_rs::UTF_8
        || whole.encoding == encoding_rs::UTF_16LE
        || whole.encoding == encoding_rs::UTF_16BE
    {
        return fix_qp_charsets(&whole.text);
    }
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 2);
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if let Ok(s) = std::str::from_utf8(line) {
            out.push_str(s);
            continue;
        }
        let enc = line_charset(line).unwrap_or(whole.encoding);
        out.push_str(&enc.decode_without_bom_handling(line).0);
    }
    fix_qp_charsets(&out)
}

/// Quoted-printable values in a legacy charset (`CHARSET=SHIFT_JIS;
/// ENCODING=QUOTED-PRINTABLE`): decoded here with `encoding_rs` and
/// re-encoded as quoted-printable UTF-8, because the parser only knows a few
/// single-byte charsets.
fn fix_qp_charsets(text: &str) -> String {
    if !text.to_ascii_uppercase().contains("QUOTED-PRINTABLE") {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut lines = text.split_inclusive('\n');
    while let Some(line) = lines.next() {
        let Some(colon) = line.find(':') else {
            out.push_str(line);
            continue;
        };
        let head = &line[..colon];
        let upper = head.to_ascii_uppercase();
        let enc = line_charset(head.as_bytes()).filter(|e| *e != encoding_rs::UTF_8);
        let (true, Some(enc)) = (upper.contains("QUOTED-PRINTABLE"), enc) else {
            out.push_str(line);
            continue;
        };
        let mut value = line[colon + 1..].to_owned();
        while value.trim_end().ends_with('=') {
            let Some(next) = lines.next() else { break };
            let trimmed = value.trim_end().len();
            value.truncate(trimmed - 1);
            value.push_str(next);
        }
        let value = value.trim_end_matches(['\r', '\n']);
        let bytes = qp_decode(value);
        let decoded = enc.decode_without_bom_handling(&bytes).0;
        let at = upper.find("CHARSET=").map_or(0, |i| i + "CHARSET=".len());
        let end = head[at..].find([';', ':']).map_or(head.len(), |i| at + i);
        out.push_str(&head[..at]);
        out.push_str("UTF-8");
        out.push_str(&head[end..]);
        out.push(':');
        for b in decoded.bytes() {
            if (b' '..=b'~').contains(&b) && b != b'=' {
                out.push(b as char);
            } else {
                out.push_str(&format!("={b:02X}"));
            }
        }
        out.push_str("\r\n");
    }
    out
}

/// Decodes `=XX` escapes; anything else is taken as is.
fn qp_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The `CHARSET=` parameter of a content line, if any.
fn line_charset(line: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = &line[..line.iter().position(|&b| b == b':').unwrap_or(line.len())];
    let head = String::from_utf8_lossy(head).to_ascii_uppercase();
    let at = head.find("CHARSET=")? + "CHARSET=".len();
    let label: String = head[at..].chars().take_while(|c| !matches!(c, ';' | ':' | ',')).collect();
    encoding_rs::Encoding::for_label(label.trim().trim_matches('"').as_bytes())
}

/// vCard 2.1 writers that continue a value on the next line after a
/// trailing backslash (seen in Android's test cards): the break is part of
/// the value, so it becomes an escaped newline.
fn join_backslash_lines(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let looks_like_property = |l: &str| {
        let name_end = l.find([':', ';']).unwrap_or(0);
        name_end > 0 && l[..name_end].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    };
    let mut changed = false;
    let mut out = String::with_capacity(text.len());
    for (i, l) in lines.iter().enumerate() {
        let body = l.trim_end_matches(['\r', '\n']);
        let next_is_value = lines.get(i + 1).is_some_and(|n| {
            let n = n.trim_end();
            !n.is_empty() && !n.starts_with([' ', '\t']) && !looks_like_property(n)
        });
        if body.ends_with('\\') && !body.ends_with("\\\\") && next_is_value {
            out.push_str(body);
            out.push('n');
            changed = true;
        } else {
            out.push_str(l);
        }
    }
    changed.then_some(out)
}

/// A last card without `END:VCARD` is still read (as far as it goes), and said.
fn report_unterminated(text: &str, origin: &Location, findings: &mut Vec<Finding>) {
    let mut open: Option<usize> = None;
    for (i, l) in text.lines().enumerate() {
        let l = l.trim_start_matches('\u{feff}').trim();
        if l.eq_ignore_ascii_case("BEGIN:VCARD") {
            open = Some(i + 1);
        } else if l.eq_ignore_ascii_case("END:VCARD") {
            open = None;
        }
    }
    if let Some(line) = open {
        findings.push(Finding::warning(
            FindingKind::Truncated,
            origin.clone().with_item(format!("line {line}")),
            format!("line {line}: this vCard has no END:VCARD (the file looks truncated); it was read as far as it goes"),
        ));
    }
}

/// Moves vCards nested inside another (vCard 2.1 `AGENT`-style, some
/// phones' exports) out after their parent; `None` when nothing is nested.
fn unnest(text: &str) -> Option<String> {
    let is = |l: &str, what: &str| l.trim_start_matches('\u{feff}').trim().eq_ignore_ascii_case(what);
    let mut depth = 0usize;
    let mut nested = false;
    for l in text.lines() {
        if is(l, "BEGIN:VCARD") {
            depth += 1;
            nested |= depth > 1;
        } else if is(l, "END:VCARD") {
            depth = depth.saturating_sub(1);
        }
    }
    if !nested {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut stack: Vec<String> = Vec::new();
    for l in text.split_inclusive('\n') {
        if is(l, "BEGIN:VCARD") {
            stack.push(String::new());
        }
        match stack.last_mut() {
            Some(buf) => buf.push_str(l),
            None => out.push_str(l),
        }
        if is(l, "END:VCARD") {
            if let Some(done) = stack.pop() {
                out.push_str(&done);
                if !done.ends_with('\n') {
                    out.push_str("\r\n");
                }
            }
        }
    }
    for rest in stack {
        out.push_str(&rest);
    }
    Some(out)
}

/// 1-based line numbers where each `BEGIN:VCARD` starts, to name cards in findings.
fn card_start_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start_matches('\u{feff}').trim().eq_ignore_ascii_case("BEGIN:VCARD"))
        .map(|(i, _)| i + 1)
        .collect()
}

/// Reads every card of a vCard text. Cards that cannot be parsed become
/// findings; the rest become [`Contact`]s.
pub fn read_vcards(text: &str, origin: &Location, findings: &mut Vec<Finding>) -> Vec<Contact> {
    let joined = join_backslash_lines(text);
    let text = joined.as_deref().unwrap_or(text);
    let flat = unnest(text);
    let text = flat.as_deref().unwrap_or(text);
    report_unterminated(text, origin, findings);
    if flat.is_some() {
        findings.push(Finding::info(
            FindingKind::Malformed,
            origin.clone(),
            "vCards nested inside other vCards were taken out and read as contacts of their own",
        ));
    }
    let starts = card_start_lines(text);
    let mut garbage = text::Garbage::new(text, origin, "vCard");
    let mut parser = Parser::new(text);
    let mut out = Vec::new();
    let mut seen = 0usize;
    loop {
        match parser.entry() {
            Entry::VCard(card) => {
                let line = starts.get(seen).copied();
                seen += 1;
                let loc = card_location(origin, seen, line);
                out.push(contact_from_vcard(card, text, &loc, line, findings));
            }
            Entry::ICalendar(_) => findings.push(Finding::warning(
                FindingKind::Ignored,
                origin.clone(),
                "an iCalendar object inside an address book was ignored",
            )),
            Entry::InvalidLine(l) => garbage.line(&l, findings),
            Entry::UnexpectedComponentEnd { .. } | Entry::UnterminatedComponent(_) => {
                let line = starts.get(seen).map(|l| format!(" (line {l})")).unwrap_or_default();
                findings.push(Finding::error(
                    FindingKind::Truncated,
                    origin.clone().with_item(format!("card {}", seen + 1)),
                    format!("a vCard{line} is not terminated and was lost"),
                ));
                seen += 1;
            }
            Entry::TooManyComponents => {
                findings.push(Finding::error(
                    FindingKind::Malformed,
                    origin.clone(),
                    "too many nested components; the rest of the file was not read",
                ));
                break;
            }
            Entry::Eof => break,
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }
    garbage.finish(findings);
    out
}

fn card_location(origin: &Location, index: usize, line: Option<usize>) -> Location {
    let item = match line {
        Some(l) => format!("card {index} (line {l})"),
        None => format!("card {index}"),
    };
    origin.clone().with_item(item)
}

/// The text of one value, whatever its parsed type.
pub(crate) fn value_text(v: &VCardValue) -> String {
    match v {
        VCardValue::Text(s) => s.clone(),
        VCardValue::Component(c) => c.join(","),
        VCardValue::Integer(i) => i.to_string(),
        VCardValue::Float(f) => f.to_string(),
        VCardValue::Boolean(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        VCardValue::PartialDateTime(d) => format_date(d),
        VCardValue::Binary(d) => data_uri(d.content_type.as_deref(), &d.data),
        VCardValue::Sex(_) | VCardValue::GramGender(_) | VCardValue::Kind(_) => {
            v.as_text().unwrap_or_default().to_owned()
        }
    }
}

/// A `data:` URI for bytes (vCard 4 style).
pub(crate) fn data_uri(media_type: Option<&str>, bytes: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    format!("data:{};base64,{b64}", media_type.unwrap_or("application/octet-stream"))
}

/// `YYYY-MM-DD`, `--MM-DD`, with `THH:MM:SS` and a zone when present.
fn format_date(d: &PartialDateTime) -> String {
    let mut s = String::new();
    match (d.year, d.month, d.day) {
        (Some(y), Some(m), Some(day)) => s.push_str(&format!("{y:04}-{m:02}-{day:02}")),
        (None, Some(m), Some(day)) => s.push_str(&format!("--{m:02}-{day:02}")),
        (Some(y), Some(m), None) => s.push_str(&format!("{y:04}-{m:02}")),
        (Some(y), None, None) => s.push_str(&format!("{y:04}")),
        _ => {}
    }
    if let (Some(h), Some(mi)) = (d.hour, d.minute) {
        s.push_str(&format!("T{h:02}:{mi:02}:{:02}", d.second.unwrap_or(0)));
        if let Some(th) = d.tz_hour {
            let (tm, sign) = (d.tz_minute.unwrap_or(0), if d.tz_minus { '-' } else { '+' });
            if th == 0 && tm == 0 {
                s.push('Z');
            } else {
                s.push_str(&format!("{sign}{th:02}:{tm:02}"));
            }
        }
    }
    s
}

fn param_name(n: &VCardParameterName) -> String {
    n.as_str().to_ascii_uppercase()
}

/// TYPE values (lower case) and the preference of an entry; a bare or typed
/// `PREF` (vCard 2.1/3.0) counts as preference 1.
fn types_and_pref(e: &VCardEntry) -> (Vec<String>, Option<u8>) {
    let mut types = Vec::new();
    let mut pref = None;
    for p in &e.params {
        match &p.name {
            VCardParameterName::Type => {
                let t = p.value.clone().into_text().to_ascii_lowercase();
                for t in t.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    if t == "pref" {
                        pref = pref.or(Some(1));
                    } else if !types.iter().any(|x| x == t) {
                        types.push(t.to_owned());
                    }
                }
            }
            VCardParameterName::Pref => {
                let v = p.value.clone().into_text();
                pref = Some(v.trim().parse::<u8>().unwrap_or(1).clamp(1, 100));
            }
            VCardParameterName::Other(n) if n.eq_ignore_ascii_case("pref") => pref = pref.or(Some(1)),
            _ => {}
        }
    }
    (types, pref)
}

/// A date, with Apple's `X-APPLE-OMIT-YEAR` marker year turned back into `--MM-DD`.
fn date_text(e: &VCardEntry) -> String {
    let v = first_text(e);
    let omit = e.params.iter().find_map(|p| match &p.name {
        VCardParameterName::Other(n) if n.eq_ignore_ascii_case("X-APPLE-OMIT-YEAR") => {
            Some(p.value.clone().into_text().into_owned())
        }
        _ => None,
    });
    match omit.and_then(|y| v.strip_prefix(&format!("{y}-")).map(str::to_owned)) {
        Some(rest) => format!("--{rest}"),
        None => v,
    }
}

fn first_text(e: &VCardEntry) -> String {
    e.values.iter().map(value_text).collect::<Vec<_>>().join(",")
}

/// Component `i` of a structured value (N, ADR), as its comma-separated parts.
fn component(e: &VCardEntry, i: usize) -> Vec<String> {
    match e.values.get(i) {
        Some(VCardValue::Component(c)) => c.iter().filter(|s| !s.is_empty()).cloned().collect(),
        Some(v) => Some(value_text(v)).filter(|s| !s.is_empty()).into_iter().collect(),
        None => Vec::new(),
    }
}

/// RFC 6868 parameter escapes: `^n` newline, `^^` caret, `^'` double quote.
fn caret_decode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('^', Some('n' | 'N')) => {
                chars.next();
                out.push('\n');
            }
            ('^', Some('^')) => {
                chars.next();
                out.push('^');
            }
            ('^', Some('\'')) => {
                chars.next();
                out.push('"');
            }
            (c, _) => out.push(c),
        }
    }
    out
}

fn extra_from_entry(e: &VCardEntry) -> ExtraProperty {
    let mut params: Vec<(String, Vec<String>)> = Vec::new();
    for p in &e.params {
        let name = param_name(&p.name);
        let value = caret_decode(&p.value.clone().into_text());
        match params.last_mut() {
            Some((n, vals)) if *n == name => vals.push(value),
            _ => params.push((name, vec![value])),
        }
    }
    ExtraProperty {
        group: e.group.clone(),
        name: e
            .name
            .as_str()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_uppercase() } else { '-' })
            .collect(),
        params,
        values: e.values.iter().map(value_text).collect(),
    }
}

const URI_SCHEMES: &[&str] =
    &["http:", "https:", "ftp:", "file:", "cid:", "urn:", "content:", "ldap:", "mid:", "data:"];

/// Base64 as phones write it: padding optional, stray trailing bits allowed.
pub(crate) fn lenient_base64() -> base64::engine::GeneralPurpose {
    let cfg = base64::engine::GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent);
    base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, cfg)
}

/// The media type of common image formats, from their magic bytes.
pub(crate) fn sniff_image(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if b.starts_with(b"\x89PNG") {
        Some("image/png")
    } else if b.starts_with(b"GIF8") {
        Some("image/gif")
    } else if b.len() > 12 && b.starts_with(b"RIFF") && &b[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn photo_from_entry(
    e: &VCardEntry,
    loc: &Location,
    photo_line: Option<usize>,
    findings: &mut Vec<Finding>,
) -> Option<Photo> {
    let media_param = e.params.iter().find_map(|p| match &p.name {
        VCardParameterName::Type | VCardParameterName::Mediatype => {
            let t = p.value.clone().into_text().to_ascii_lowercase();
            Some(if t.contains('/') { t } else { format!("image/{t}") })
        }
        _ => None,
    });
    match e.values.first() {
        Some(VCardValue::Binary(d)) if !d.data.is_empty() => Some(Photo::Inline {
            bytes: d.data.clone(),
            media_type: d
                .content_type
                .clone()
                .or(media_param)
                .or_else(|| sniff_image(&d.data).map(str::to_owned)),
        }),
        Some(v) => {
            let s = value_text(v);
            let lower = s.to_ascii_lowercase();
            if URI_SCHEMES.iter().any(|p| lower.starts_with(p)) && !lower.starts_with("data:") {
                return Some(Photo::Uri(s));
            }
            // Base64 without ENCODING (Thunderbird writes such cards).
            let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            if let Ok(bytes) = lenient_base64().decode(clean.as_bytes()) {
                if !bytes.is_empty() {
                    let media_type = sniff_image(&bytes).map(str::to_owned).or(media_param);
                    return Some(Photo::Inline { bytes, media_type });
                }
            }
            let at = photo_line.map(|l| format!("line {l}: ")).unwrap_or_default();
            findings.push(Finding::warning(
                FindingKind::Malformed,
                loc.clone(),
                format!(
                    "{at}the PHOTO could not be decoded ({} characters of damaged base64) and was left out",
                    s.len()
                ),
            ));
            None
        }
        None => None,
    }
}

/// Maps one parsed card to a [`Contact`], keeping unknown properties as extras.
fn contact_from_vcard(
    card: VCard,
    text: &str,
    loc: &Location,
    line: Option<usize>,
    findings: &mut Vec<Finding>,
) -> Contact {
    let mut c = Contact { origin: loc.clone(), ..Contact::default() };
    let mut labels: Vec<(Vec<String>, String)> = Vec::new();
    for e in &card.entries {
        match &e.name {
            VCardProperty::Version | VCardProperty::Prodid | VCardProperty::Begin | VCardProperty::End => {}
            VCardProperty::Fn if c.formatted_name.is_none() => c.formatted_name = Some(first_text(e)),
            VCardProperty::N if c.name.is_empty() => {
                c.name.family = component(e, 0);
                c.name.given = component(e, 1);
                c.name.additional = component(e, 2);
                c.name.prefixes = component(e, 3);
                c.name.suffixes = component(e, 4);
            }
            VCardProperty::Nickname => c
                .nicknames
                .extend(e.values.iter().map(|v| value_text(v).trim().to_owned()).filter(|s| !s.is_empty())),
            VCardProperty::Photo if c.photo.is_none() => {
                let photo_line = line.and_then(|start| {
                    text.lines().enumerate().skip(start - 1).find_map(|(i, l)| {
                        let u = l.to_ascii_uppercase();
                        let name = u.split([':', ';']).next().unwrap_or("");
                        (name == "PHOTO" || name.ends_with(".PHOTO")).then_some(i + 1)
                    })
                });
                c.photo = photo_from_entry(e, loc, photo_line, findings);
            }
            VCardProperty::Bday if c.birthday.is_none() => c.birthday = Some(date_text(e)),
            VCardProperty::Anniversary if c.anniversary.is_none() => c.anniversary = Some(date_text(e)),
            VCardProperty::Adr => {
                let (types, pref) = types_and_pref(e);
                let comp = |i| component(e, i).join(",");
                let label = e.params.iter().find_map(|p| {
                    (p.name == VCardParameterName::Label).then(|| caret_decode(&p.value.clone().into_text()))
                });
                c.addresses.push(Address {
                    po_box: comp(0),
                    extended: comp(1),
                    street: comp(2),
                    locality: comp(3),
                    region: comp(4),
                    postal_code: comp(5),
                    country: comp(6),
                    types,
                    pref,
                    label,
                });
            }
            VCardProperty::Tel | VCardProperty::Email | VCardProperty::Url | VCardProperty::Impp => {
                let (types, pref) = types_and_pref(e);
                let t = Typed { value: first_text(e).trim().to_owned(), types, pref };
                if t.value.is_empty() {
                    continue;
                }
                match e.name {
                    VCardProperty::Tel => c.phones.push(t),
                    VCardProperty::Email => c.emails.push(t),
                    VCardProperty::Url => c.urls.push(t),
                    _ => c.impps.push(t),
                }
            }
            VCardProperty::Org if c.org.is_none() => {
                let mut parts: Vec<String> = e.values.iter().map(value_text).collect();
                let name = if parts.is_empty() { String::new() } else { parts.remove(0) };
                while parts.last().is_some_and(String::is_empty) {
                    parts.pop();
                }
                c.org = Some(Organization { name, units: parts });
            }
            VCardProperty::Title if c.title.is_none() => c.title = Some(first_text(e)),
            VCardProperty::Role if c.role.is_none() => c.role = Some(first_text(e)),
            VCardProperty::Note => c.notes.push(first_text(e)),
            VCardProperty::Categories => c
                .categories
                .extend(e.values.iter().map(|v| value_text(v).trim().to_owned()).filter(|s| !s.is_empty())),
            VCardProperty::Uid if c.uid.is_none() => c.uid = Some(first_text(e)),
            VCardProperty::Member => c.members.push(first_text(e)),
            VCardProperty::Kind => {
                c.kind = match e.values.first() {
                    Some(VCardValue::Kind(VCardKind::Group)) => ContactKind::Group,
                    Some(VCardValue::Kind(VCardKind::Individual)) => ContactKind::Individual,
                    Some(VCardValue::Kind(VCardKind::Org)) => ContactKind::Org,
                    Some(VCardValue::Kind(VCardKind::Location)) => ContactKind::Location,
                    Some(v) => kind_from_text(&value_text(v)),
                    None => ContactKind::Individual,
                }
            }
            VCardProperty::Other(n) if n.eq_ignore_ascii_case("X-ADDRESSBOOKSERVER-KIND") => {
                c.kind = kind_from_text(&first_text(e));
            }
            VCardProperty::Other(n) if n.eq_ignore_ascii_case("X-ADDRESSBOOKSERVER-MEMBER") => {
                c.members.push(first_text(e));
            }
            VCardProperty::Other(n) if n.eq_ignore_ascii_case("X-ANNIVERSARY") && c.anniversary.is_none() => {
                c.anniversary = Some(date_text(e));
            }
            VCardProperty::Other(n) if n.eq_ignore_ascii_case("LABEL") => {
                labels.push((types_and_pref(e).0, first_text(e)));
            }
            _ => c.extra.push(extra_from_entry(e)),
        }
    }
    // vCard 3 LABEL properties belong to the address of the same type.
    for (types, label) in labels {
        match c.addresses.iter_mut().find(|a| a.label.is_none() && a.types == types) {
            Some(a) => a.label = Some(label),
            None => c.extra.push(ExtraProperty {
                name: "LABEL".into(),
                params: if types.is_empty() { vec![] } else { vec![("TYPE".into(), types)] },
                values: vec![label],
                group: None,
            }),
        }
    }
    c
}

fn kind_from_text(s: &str) -> ContactKind {
    match s.trim().to_ascii_lowercase().as_str() {
        "group" => ContactKind::Group,
        "individual" | "" => ContactKind::Individual,
        "org" => ContactKind::Org,
        "location" => ContactKind::Location,
        other => ContactKind::Other(other.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> (Vec<Contact>, Vec<Finding>) {
        let mut f = Vec::new();
        let c = read_vcards(s, &Location::path("t.vcf"), &mut f);
        (c, f)
    }

    #[test]
    fn v21_types_pref_and_qp() {
        let (c, _) = read(
            "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Doe;John\r\nTEL;PREF;CELL:123\r\nTEL;HOME;VOICE:456\r\n\
             EMAIL;INTERNET:a@b.c\r\nNOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:caf=C3=A9\r\nX-FOO:bar\r\nEND:VCARD\r\n",
        );
        assert_eq!(c.len(), 1);
        let c = &c[0];
        assert_eq!(c.name.family, vec!["Doe"]);
        assert_eq!(c.phones[0].value, "123");
        assert_eq!(c.phones[0].pref, Some(1));
        assert!(c.phones[0].types.contains(&"cell".to_owned()), "{:?}", c.phones[0]);
        assert!(c.phones[1].types.contains(&"home".to_owned()));
        assert_eq!(c.notes, vec!["café"]);
        assert_eq!(c.extra[0].name, "X-FOO");
    }

    #[test]
    fn shift_jis_line_is_decoded_by_its_charset() {
        let (name, _, _) = encoding_rs::SHIFT_JIS.encode("安藤ロイド");
        let mut bytes = b"BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=SHIFT_JIS:".to_vec();
        bytes.extend_from_slice(&name);
        bytes.extend_from_slice(b";;;;\r\nEND:VCARD\r\n");
        let text = decode_vcard_bytes(&bytes);
        let (c, _) = read(&text);
        assert_eq!(c[0].name.family, vec!["安藤ロイド"]);
    }

    #[test]
    fn garbage_lines_are_named_then_summed_up() {
        let mut text = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:a\r\nEND:VCARD\r\n".to_owned();
        for i in 0..300 {
            text.push_str(&format!("junk {i}\r\n"));
        }
        let (c, f) = read(&text);
        assert_eq!(c.len(), 1);
        assert_eq!(f.len(), 101, "{:?}", f.last());
        assert!(f[0].message.starts_with("line 5:"), "{}", f[0].message);
        assert!(f[99].message.starts_with("line 104:"), "{}", f[99].message);
        assert!(f[100].message.starts_with("200 more lines"), "{}", f[100].message);
    }

    #[test]
    fn broken_photo_is_a_finding_not_a_crash() {
        let (c, f) = read(
            "BEGIN:VCARD\r\nVERSION:2.1\r\nN:n\r\nPHOTO;ENCODING=BASE64;TYPE=JPEG:qgEPAAIAAAAG:ASDF==\r\n\r\nEND:VCARD\r\n",
        );
        assert_eq!(c.len(), 1);
        assert!(c[0].photo.is_none());
        assert!(
            f.iter().any(|f| f.message.contains("PHOTO") && f.location.to_string().contains("line 1")),
            "{f:?}"
        );
    }
}
