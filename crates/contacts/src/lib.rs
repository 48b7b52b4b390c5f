//! Address books to vCard, calendars to iCalendar.
//!
//! Every address-book reader fills the same [`Contact`]: vCard 2.1/3.0/4.0
//! through `calcard`, jCard and xCard, CSV exports of Outlook, Google and
//! Thunderbird through `csv`, and LDIF. [`read_address_book`] detects the
//! format and the encoding; [`write_vcards`] writes clean vCard 3.0 or 4.0.
//! Calendars go through `calcard` too: [`read_calendar`] turns `.ics` files
//! into [`CalendarObject`]s and [`write_calendar`] writes them back as one
//! valid `VCALENDAR` (or one file per object).
//!
//! A PST reader (another crate) fills [`Contact`] (contacts and
//! distribution lists: `kind: Group` + `members`) and [`Event`]
//! (appointments, tasks, notes; [`Event::to_object`]), or hands iCalendar
//! text to [`CalendarObject::from_ics`]; nothing here depends on it.
//!
//! ```
//! use mailshift_contacts::{write_vcard_string, Contact, Typed, VcardVersion};
//! let c = Contact {
//!     formatted_name: Some("Ana Pérez".into()),
//!     emails: vec![Typed::new("ana@example.org").with_type("work")],
//!     ..Contact::default()
//! };
//! let text = write_vcard_string(&[c], VcardVersion::V4);
//! assert!(text.contains("EMAIL;TYPE=work:ana@example.org\r\n"));
//! ```

mod calendar;
mod contact;
mod csv_map;
mod csv_read;
mod event;
mod jcard;
mod ldif;
mod merge;
mod text;
mod vcard_read;
mod vcard_write;
mod xcard;

use std::path::Path;

use mailshift_model::{durable, Error, Finding, FindingKind, Location, Report, Result};

/// The iCalendar/vCard types [`CalendarObject`] exposes.
pub use calcard;
pub use calendar::{
    merge_objects, read_calendar, read_calendar_bytes, write_calendar, CalendarObject, ObjectKind,
};
pub use contact::{Address, Contact, ContactKind, ExtraProperty, Organization, Photo, StructuredName, Typed};
pub use csv_read::read_csv;
pub use event::{Event, Participant, When};
pub use ldif::read_ldif;
pub use vcard_write::{escape_text, write_vcard};

/// Which vCard version to write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum VcardVersion {
    /// vCard 3.0 (RFC 2426): what Outlook, older phones and most servers take.
    #[default]
    V3,
    /// vCard 4.0 (RFC 6350).
    V4,
}

/// How [`write_vcards`] writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContactsOptions {
    pub vcard_version: VcardVersion,
    /// One `.vcf` per contact in the output directory.
    pub split: bool,
    /// Merge duplicate contacts (same UID, or same name and e-mail addresses).
    pub merge: bool,
}

impl ContactsOptions {
    pub fn new(vcard_version: VcardVersion, split: bool, merge: bool) -> Self {
        ContactsOptions { vcard_version, split, merge }
    }
}

/// The address-book formats [`read_address_book`] recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookFormat {
    Vcard,
    Csv,
    Ldif,
    /// Thunderbird's legacy Mork `.mab`: recognised, not read.
    Mork,
    /// jCard (RFC 7095), the JSON form of vCard 4.0.
    Jcard,
    /// xCard (RFC 6351), the XML form of vCard 4.0.
    Xcard,
    Binary,
    Empty,
}

/// Guesses the format of an address book from its first bytes.
pub fn detect_format(bytes: &[u8]) -> BookFormat {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return BookFormat::Empty;
    }
    if text::looks_binary(bytes) {
        return BookFormat::Binary;
    }
    let head = text::decode(&bytes[..bytes.len().min(64 * 1024)]).text;
    let trimmed = head.trim_start_matches('\u{feff}').trim_start();
    let lower = trimmed.to_ascii_lowercase();
    if lower.starts_with("// <!-- <mdb:mork") {
        return BookFormat::Mork;
    }
    if lower.starts_with('[') && lower.contains("\"vcard\"") {
        return BookFormat::Jcard;
    }
    if lower.starts_with("<?xml") || lower.starts_with("<vcards") {
        return BookFormat::Xcard;
    }
    if lower.lines().any(|l| l.trim().eq_ignore_ascii_case("begin:vcard")) {
        return BookFormat::Vcard;
    }
    let first = lower.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or("");
    if first.starts_with("dn:") || first.starts_with("dn::") || first.starts_with("version:") {
        return BookFormat::Ldif;
    }
    BookFormat::Csv
}

/// Reads an address book of any supported format (detected from the
/// content, not the name). Damage becomes findings with line numbers; only
/// a file that cannot be opened is an error. Binary junk and Mork `.mab`
/// give one `unreadable`/`unsupported` finding and no contacts.
pub fn read_address_book(path: &Path, findings: &mut Vec<Finding>) -> Result<Vec<Contact>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(Location::path(path), e))?;
    Ok(read_address_book_bytes(&bytes, &Location::path(path), findings))
}

/// [`read_address_book`] on bytes already in memory.
pub fn read_address_book_bytes(bytes: &[u8], origin: &Location, findings: &mut Vec<Finding>) -> Vec<Contact> {
    match detect_format(bytes) {
        BookFormat::Vcard => {
            let text = vcard_read::decode_vcard_bytes(bytes);
            vcard_read::read_vcards(&text, origin, findings)
        }
        BookFormat::Csv => read_csv(bytes, origin, findings),
        BookFormat::Ldif => read_ldif(bytes, origin, findings),
        BookFormat::Empty => {
            findings.push(Finding::info(FindingKind::Empty, origin.clone(), "the address book is empty"));
            Vec::new()
        }
        BookFormat::Mork => {
            findings.push(Finding::error(
                FindingKind::Unsupported,
                origin.clone(),
                "Thunderbird Mork address books (.mab) are not read; hint: export it from Thunderbird as LDIF or vCard",
            ));
            Vec::new()
        }
        BookFormat::Jcard => jcard::read_jcard(&text::decode(bytes).text, origin, findings),
        BookFormat::Xcard => xcard::read_xcard(&text::decode(bytes).text, origin, findings),
        BookFormat::Binary => {
            findings.push(Finding::error(
                FindingKind::Unreadable,
                origin.clone().with_offset(0),
                "this is binary data, not an address book (vCard, CSV or LDIF)",
            ));
            Vec::new()
        }
    }
}

/// A UID for a contact that has none, stable across runs (a hash of its
/// content), formatted as a UUID.
pub fn stable_uid(c: &Contact) -> String {
    if let Some(u) = c.uid.as_deref().filter(|u| !u.trim().is_empty()) {
        return u.trim().to_owned();
    }
    let mut h = blake3::Hasher::new();
    h.update(c.label().as_bytes());
    for e in &c.emails {
        h.update(b"\0e");
        h.update(e.value.as_bytes());
    }
    for p in &c.phones {
        h.update(b"\0p");
        h.update(p.value.as_bytes());
    }
    h.update(format!("{:?}", c.origin).as_bytes());
    let x = h.finalize().to_hex();
    format!("{}-{}-{}-{}-{}", &x[0..8], &x[8..12], &x[12..16], &x[16..20], &x[20..32])
}

/// The vCard text of contacts (what [`write_vcards`] writes to one file).
pub fn write_vcard_string(contacts: &[Contact], version: VcardVersion) -> String {
    let mut out = String::new();
    for c in contacts {
        write_vcard(c, version, &stable_uid(c), &mut out);
    }
    out
}

/// A file name for one contact in a `--split` directory: its UID, made safe.
fn split_name(uid: &str, taken: &mut std::collections::HashSet<String>) -> String {
    let base: String = uid
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .take(100)
        .collect();
    let base = base.trim_start_matches('.').to_owned();
    let base = if base.is_empty() { "contact".to_owned() } else { base };
    let mut name = format!("{base}.vcf");
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}-{n}.vcf");
        n += 1;
    }
    name
}

/// Writes contacts as vCard: one file at `out`, or with `split` a directory
/// of one `.vcf` per contact (named after its UID). Every file is written
/// crash-safely. `report.read` grows by `contacts.len()`, `written` by the
/// cards written and, with `merge`, `duplicates` by the contacts merged
/// away (each with a `duplicate` finding); the balance is checked. Contacts
/// lost while reading are not in `contacts`: their findings say so.
pub fn write_vcards(
    contacts: &[Contact],
    out: &Path,
    opts: &ContactsOptions,
    report: &mut Report,
) -> Result<()> {
    let loc = || Location::path(out);
    report.read += contacts.len() as u64;
    let merged;
    let contacts = if opts.merge {
        let (m, dups) = merge::merge_duplicates(contacts, &mut report.findings);
        report.duplicates += dups;
        merged = m;
        &merged[..]
    } else {
        contacts
    };
    if opts.split {
        std::fs::create_dir_all(out).map_err(|e| Error::io(loc(), e))?;
        let mut taken = std::collections::HashSet::new();
        for c in contacts {
            let uid = stable_uid(c);
            let mut text = String::new();
            write_vcard(c, opts.vcard_version, &uid, &mut text);
            let path = out.join(split_name(&uid, &mut taken));
            durable::write_file_atomic(&path, text.as_bytes())
                .map_err(|e| Error::io(Location::path(&path), e))?;
            report.written += 1;
            report.bytes_written += text.len() as u64;
        }
    } else {
        let text = write_vcard_string(contacts, opts.vcard_version);
        durable::write_file_atomic(out, text.as_bytes()).map_err(|e| Error::io(loc(), e))?;
        report.written += contacts.len() as u64;
        report.bytes_written += text.len() as u64;
    }
    report.check_balance().map_err(|e| Error::format(loc(), e))
}
