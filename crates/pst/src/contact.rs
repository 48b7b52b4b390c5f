//! Outlook contacts (`IPM.Contact`) and distribution lists (`IPM.DistList`)
//! as [`mailshift_contacts::Contact`] (MS-OXOCNTC). Direction of the
//! dependency: this crate fills the address-book crate's model, which knows
//! nothing of PST; the binary only wires them together.
//!
//! Every field Outlook has goes somewhere: the vCard fields it has a home
//! for, the rest into `X-` properties ([`ExtraProperty`]). What cannot be
//! carried over (an Exchange-only address with no SMTP form, a list member
//! that names nothing readable) becomes a finding.

use std::collections::HashMap;

use mailshift_contacts::{
    Address, Contact, ContactKind, ExtraProperty, Organization, Photo, StructuredName, Typed,
};
use mailshift_model::{Finding, FindingKind, Location};

use crate::entryid::{self, EntryId};
use crate::named::{NameKind, NamedProperty, PS_PUBLIC_STRINGS};
use crate::source::PstItem;
use crate::value::Value;

/// PSETID_Address {00062004-0000-0000-C000-000000000046}, as stored.
pub const PSETID_ADDRESS: [u8; 16] = guid(0x0006_2004);
/// PSETID_Appointment {00062002-...}.
pub const PSETID_APPOINTMENT: [u8; 16] = guid(0x0006_2002);
/// PSETID_Task {00062003-...}.
pub const PSETID_TASK: [u8; 16] = guid(0x0006_2003);
/// PSETID_Common {00062008-...}.
pub const PSETID_COMMON: [u8; 16] = guid(0x0006_2008);

/// `{XXXXXXXX-0000-0000-C000-000000000046}` in its stored (little-endian) form.
const fn guid(d1: u32) -> [u8; 16] {
    let a = d1.to_le_bytes();
    [a[0], a[1], a[2], a[3], 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46]
}

/// The store's named properties looked up the other way: (set, LID) or
/// (set, name) → the property id items use.
#[derive(Debug, Clone, Default)]
pub struct NamedIds {
    by_lid: HashMap<([u8; 16], u32), u16>,
    by_name: HashMap<([u8; 16], String), u16>,
}

impl NamedIds {
    pub fn new(map: &HashMap<u16, NamedProperty>) -> Self {
        let mut n = NamedIds::default();
        for (id, p) in map {
            match &p.kind {
                NameKind::Id(lid) => n.by_lid.insert((p.guid, *lid), *id),
                NameKind::Name(s) => n.by_name.insert((p.guid, s.to_ascii_lowercase()), *id),
            };
        }
        n
    }

    pub fn lid(&self, set: [u8; 16], lid: u32) -> Option<u16> {
        self.by_lid.get(&(set, lid)).copied()
    }

    pub fn name(&self, set: [u8; 16], name: &str) -> Option<u16> {
        self.by_name.get(&(set, name.to_ascii_lowercase())).copied()
    }

    /// Outlook's categories (PS_PUBLIC_STRINGS "Keywords").
    pub fn keywords(&self) -> Option<u16> {
        self.name(PS_PUBLIC_STRINGS, "Keywords")
    }
}

/// An item with its named-property lookup, for short accessors.
pub(crate) struct View<'a> {
    pub item: &'a PstItem,
    pub names: &'a NamedIds,
}

impl View<'_> {
    pub fn text(&self, tag: u16) -> Option<String> {
        let s = self.item.properties.string(tag, self.item.codepage)?;
        // PR_SUBJECT may start with 0x01 and a prefix length: drop them.
        let s = match (tag, s.as_bytes()) {
            (crate::messaging::tag::SUBJECT, [1, _, ..]) => s.chars().skip(2).collect(),
            _ => s,
        };
        Some(s.trim_end_matches('\0').to_owned()).filter(|s| !s.trim().is_empty())
    }

    pub fn named(&self, set: [u8; 16], lid: u32) -> Option<u16> {
        self.names.lid(set, lid)
    }

    pub fn named_text(&self, set: [u8; 16], lid: u32) -> Option<String> {
        self.text(self.named(set, lid)?)
    }

    pub fn named_value(&self, set: [u8; 16], lid: u32) -> Option<&Value> {
        self.item.properties.get(self.named(set, lid)?)
    }

    pub fn categories(&self) -> Vec<String> {
        let Some(Value::Multi(v)) = self.names.keywords().and_then(|id| self.item.properties.get(id)) else {
            return Vec::new();
        };
        v.iter()
            .filter_map(|c| match c {
                Value::Str(s) => Some(s.clone()),
                Value::Str8(b) => Some(crate::value::decode_8bit(b, self.item.codepage)),
                _ => None,
            })
            .filter(|s| !s.trim().is_empty())
            .collect()
    }

    /// A multi-valued binary property's values.
    pub fn binaries(&self, v: Option<&Value>) -> Vec<Vec<u8>> {
        match v {
            Some(Value::Multi(v)) => v
                .iter()
                .map(|x| match x {
                    Value::Bin(b) | Value::Other(_, b) => b.clone(),
                    _ => Vec::new(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Where an item is, for findings.
pub(crate) fn origin(pst: &Location, item: &PstItem) -> Location {
    pst.clone().with_folder(item.folder.key()).with_item(format!("node {:#x}", item.node))
}

/// The phone properties and their vCard TYPEs.
const PHONES: &[(u16, &[&str], Option<&str>)] = &[
    (0x3A1A, &["voice"], Some("primary")),
    (0x3A08, &["work", "voice"], None),
    (0x3A1B, &["work", "voice"], None),
    (0x3A57, &["work", "voice"], Some("company main")),
    (0x3A09, &["home", "voice"], None),
    (0x3A2F, &["home", "voice"], None),
    (0x3A1C, &["cell", "voice"], None),
    (0x3A1E, &["car", "voice"], None),
    (0x3A1F, &["voice"], Some("other")),
    (0x3A21, &["pager"], None),
    (0x3A24, &["work", "fax"], None),
    (0x3A25, &["home", "fax"], None),
    (0x3A23, &["fax"], Some("other fax")),
    (0x3A2E, &["voice"], Some("assistant")),
    (0x3A02, &["voice"], Some("callback")),
    (0x3A2D, &["isdn"], None),
    (0x3A1D, &["voice"], Some("radio")),
    (0x3A2C, &["voice"], Some("telex")),
    (0x3A4B, &["textphone"], Some("tty/tdd")),
];

/// Fields with no vCard property: kept as `X-` properties.
const EXTRAS: &[(u16, &str)] = &[
    (0x3A0A, "X-MS-INITIALS"),
    (0x3A19, "X-MS-OFFICE-LOCATION"),
    (0x3A46, "X-MS-PROFESSION"),
    (0x3A4E, "X-MS-MANAGER"),
    (0x3A30, "X-MS-ASSISTANT"),
    (0x3A48, "X-MS-SPOUSE"),
    (0x3A43, "X-MS-HOBBIES"),
    (0x3A0C, "X-MS-LANGUAGE"),
    (0x3A0D, "X-MS-LOCATION"),
    (0x3A00, "X-MS-ACCOUNT"),
    (0x3A49, "X-MS-COMPUTER-NETWORK-NAME"),
    (0x3A4A, "X-MS-CUSTOMER-ID"),
    (0x3A07, "X-MS-GOVERNMENT-ID"),
    (0x3A10, "X-MS-ORGANIZATIONAL-ID"),
    (0x3A47, "X-MS-REFERRED-BY"),
    (0x3A4C, "X-MS-FTP-SITE"),
];

fn date_of(ticks: i64) -> Option<String> {
    crate::value::filetime(ticks).map(|d| d.format("%Y-%m-%d").to_string())
}

/// A date-only property: the local value (PidLidBirthdayLocal and
/// friends, midnight as stored) when there is one, else the UTC value
/// moved by half a day, which lands on the right date whatever the zone of
/// the Outlook that wrote it.
fn day_value(v: &View<'_>, local_lid: u32, tag: u16) -> Option<String> {
    if let Some(Value::Time(t)) = v.named_value(PSETID_ADDRESS, local_lid) {
        if let Some(d) = date_of(*t) {
            return Some(d);
        }
    }
    let t = v.item.properties.time(tag)?;
    date_of(t.checked_add(12 * 3600 * 10_000_000)?)
}

fn media_type(att: &crate::Attachment, codepage: u32) -> Option<String> {
    if let Some(m) = att.props.string(crate::messaging::tag::ATTACH_MIME_TAG, codepage) {
        return Some(m);
    }
    let name = att
        .props
        .string(crate::messaging::tag::ATTACH_LONG_FILENAME, codepage)
        .or_else(|| att.props.string(crate::messaging::tag::ATTACH_EXTENSION, codepage))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let data = att.data.as_deref().unwrap_or(&[]);
    let by_magic = if data.starts_with(&[0xFF, 0xD8]) {
        Some("image/jpeg")
    } else if data.starts_with(b"\x89PNG") {
        Some("image/png")
    } else if data.starts_with(b"GIF8") {
        Some("image/gif")
    } else if data.starts_with(b"BM") {
        Some("image/bmp")
    } else {
        None
    };
    by_magic
        .or_else(|| {
            [
                ("jpg", "image/jpeg"),
                ("jpeg", "image/jpeg"),
                ("png", "image/png"),
                ("gif", "image/gif"),
                ("bmp", "image/bmp"),
            ]
            .iter()
            .find(|(ext, _)| name.ends_with(ext))
            .map(|(_, m)| *m)
        })
        .map(str::to_owned)
}

/// A stable UID from the item's search key (16 bytes, kept across copies
/// of the item), formatted as a UUID.
pub(crate) fn uid_of(item: &PstItem) -> Option<String> {
    let k = item.properties.bytes(0x300B).filter(|k| k.len() == 16)?;
    let h: String = k.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
}

/// One e-mail slot (Email1/2/3) of a contact.
fn email_slot(v: &View<'_>, n: u32, out: &mut Contact, findings: &mut Vec<Finding>, loc: &Location) {
    let base = 0x8080 + n * 0x10;
    let Some(addr) = v.named_text(PSETID_ADDRESS, base + 3) else { return };
    let ty = v.named_text(PSETID_ADDRESS, base + 2).unwrap_or_else(|| "SMTP".into());
    let display = v.named_text(PSETID_ADDRESS, base);
    let original = v.named_text(PSETID_ADDRESS, base + 4);
    let mut address = addr.clone();
    if !ty.eq_ignore_ascii_case("SMTP") {
        // An Exchange (EX) address: the SMTP form is in the original
        // display name or in a one-off original entry id, when Outlook kept it.
        let from_entry = v
            .named(PSETID_ADDRESS, base + 5)
            .and_then(|id| v.item.properties.bytes(id))
            .and_then(entryid::parse_one_off)
            .map(|o| o.address)
            .filter(|a| a.contains('@'));
        match original.clone().filter(|o| o.contains('@') && !o.contains(' ')).or(from_entry) {
            Some(smtp) => {
                address = smtp;
                out.extra.push(ExtraProperty {
                    name: "X-MS-EMAIL-ORIGINAL".into(),
                    params: vec![("TYPE".into(), vec![ty.clone()])],
                    values: vec![addr.clone()],
                    ..ExtraProperty::default()
                });
            }
            None => findings.push(Finding::warning(
                FindingKind::Unsupported,
                loc.clone(),
                format!(
                    "e-mail address {} is of type {ty} with no SMTP form in the item; kept as it is",
                    n + 1
                ),
            )),
        }
    }
    let mut t = Typed::new(address.clone()).with_type("internet");
    if n == 0 {
        t = t.with_pref(1);
    }
    if !ty.eq_ignore_ascii_case("SMTP") && !address.contains('@') {
        t.types = vec!["x400".into()];
    }
    out.emails.push(t);
    if let Some(d) = display.filter(|d| d.trim() != address) {
        out.extra.push(ExtraProperty {
            name: format!("X-MS-EMAIL{}-DISPLAYNAME", n + 1),
            values: vec![d],
            ..ExtraProperty::default()
        });
    }
}

fn address(fields: [Option<String>; 6], types: &[&str], label: Option<String>) -> Option<Address> {
    let [street, city, region, code, country, pobox] = fields;
    let a = Address {
        po_box: pobox.unwrap_or_default(),
        extended: String::new(),
        street: street.unwrap_or_default(),
        locality: city.unwrap_or_default(),
        region: region.unwrap_or_default(),
        postal_code: code.unwrap_or_default(),
        country: country.unwrap_or_default(),
        types: types.iter().map(|t| (*t).to_owned()).collect(),
        pref: None,
        label,
    };
    (!a.is_empty() || a.label.is_some()).then_some(a)
}

/// An `IPM.Contact` item as a contact.
pub fn to_contact(item: &PstItem, names: &NamedIds, pst: &Location, findings: &mut Vec<Finding>) -> Contact {
    let v = View { item, names };
    let loc = origin(pst, item);
    let mut c = Contact { origin: loc.clone(), uid: uid_of(item), ..Contact::default() };
    c.formatted_name = v.text(0x3001).or_else(|| v.text(0x0037));
    c.name = StructuredName {
        family: v.text(0x3A11).into_iter().collect(),
        given: v.text(0x3A06).into_iter().collect(),
        additional: v.text(0x3A44).into_iter().collect(),
        prefixes: v.text(0x3A45).into_iter().collect(),
        suffixes: v.text(0x3A05).into_iter().collect(),
    };
    c.nicknames = v.text(0x3A4F).into_iter().collect();
    for n in 0..3 {
        email_slot(&v, n, &mut c, findings, &loc);
    }
    for (tag, types, label) in PHONES {
        if let Some(num) = v.text(*tag) {
            let mut t = Typed::new(num);
            t.types = types.iter().map(|t| (*t).to_owned()).collect();
            if *tag == 0x3A1A {
                t.pref = Some(1);
            }
            c.phones.push(t);
            if let Some(l) = label {
                // No vCard TYPE says "assistant" or "radio": a label keeps it.
                c.extra.push(ExtraProperty {
                    name: "X-MS-TEL-LABEL".into(),
                    values: vec![format!("{l}: {}", c.phones.last().map(|p| p.value.as_str()).unwrap_or(""))],
                    ..ExtraProperty::default()
                });
            }
        }
    }
    let preferred = v.named_value(PSETID_ADDRESS, 0x8022).and_then(|x| match x {
        Value::I32(i) => Some(*i),
        _ => None,
    });
    let home = address(
        [0x3A5D, 0x3A59, 0x3A5C, 0x3A5B, 0x3A5A, 0x3A5E].map(|t| v.text(t)),
        &["home"],
        v.named_text(PSETID_ADDRESS, 0x801A),
    );
    let work = address(
        // PidLidWorkAddress*, else PidTagBusinessAddress* (the same ids as
        // the mailing address tags), which some writers use instead.
        [
            (0x8045, 0x3A29),
            (0x8046, 0x3A27),
            (0x8047, 0x3A28),
            (0x8048, 0x3A2A),
            (0x8049, 0x3A26),
            (0x804A, 0x3A2B),
        ]
        .map(|(l, t)| v.named_text(PSETID_ADDRESS, l).or_else(|| v.text(t))),
        &["work"],
        v.named_text(PSETID_ADDRESS, 0x801B),
    );
    let other = address(
        [0x3A63, 0x3A5F, 0x3A62, 0x3A61, 0x3A60, 0x3A64].map(|t| v.text(t)),
        &[],
        v.named_text(PSETID_ADDRESS, 0x801C),
    );
    for (i, a) in [home, work, other].into_iter().enumerate() {
        if let Some(mut a) = a {
            if preferred == Some(i as i32 + 1) {
                a.pref = Some(1);
            }
            c.addresses.push(a);
        }
    }
    let company = v.text(0x3A16);
    let department = v.text(0x3A18).or_else(|| v.named_text(PSETID_ADDRESS, 0x8010));
    if company.is_some() || department.is_some() {
        c.org =
            Some(Organization { name: company.unwrap_or_default(), units: department.into_iter().collect() });
    }
    c.title = v.text(0x3A17);
    c.birthday = day_value(&v, 0x80DE, 0x3A42);
    c.anniversary = day_value(&v, 0x80DF, 0x3A41);
    for (value, ty) in [
        (v.named_text(PSETID_ADDRESS, 0x802B), None),
        (v.text(0x3A50), Some("home")),
        (v.text(0x3A51), Some("work")),
    ] {
        if let Some(u) = value {
            if c.urls.iter().any(|x| x.value == u) {
                continue;
            }
            let mut t = Typed::new(u);
            if let Some(ty) = ty {
                t = t.with_type(ty);
            }
            c.urls.push(t);
        }
    }
    if let Some(im) = v.named_text(PSETID_ADDRESS, 0x8062) {
        let uri = if im.contains(':') { im } else { format!("im:{im}") };
        c.impps.push(Typed::new(uri));
    }
    if let Some(body) = v.text(crate::messaging::tag::BODY) {
        c.notes.push(body.trim_end().to_owned());
    }
    c.categories = v.categories();
    if let Some(file_as) = v.named_text(PSETID_ADDRESS, 0x8005) {
        c.extra.push(ExtraProperty::text("X-MS-FILE-AS", file_as));
    }
    if let Some(Value::Multi(kids)) = item.properties.get(0x3A58) {
        for k in kids {
            if let Value::Str(s) = k {
                c.extra.push(ExtraProperty::text("X-MS-CHILD", s.clone()));
            }
        }
    }
    if let Some(g) = item.properties.i32(0x3A4D).filter(|g| *g == 1 || *g == 2) {
        c.extra.push(ExtraProperty::text("X-MS-GENDER", if g == 1 { "F" } else { "M" }));
    }
    for (tag, name) in EXTRAS {
        if let Some(t) = v.text(*tag) {
            c.extra.push(ExtraProperty::text(*name, t));
        }
    }
    let photos: Vec<&crate::Attachment> =
        item.attachments.iter().filter(|a| a.props.bool(0x7FFF) == Some(true)).collect();
    if let Some(p) = photos.first() {
        match &p.data {
            Some(bytes) if !bytes.is_empty() => {
                c.photo =
                    Some(Photo::Inline { bytes: bytes.clone(), media_type: media_type(p, item.codepage) });
            }
            _ => findings.push(Finding::warning(
                FindingKind::Malformed,
                loc.clone(),
                "the contact picture attachment has no data",
            )),
        }
    }
    let others = item.attachments.len() - photos.len().min(1);
    if others > 0 {
        findings.push(Finding::warning(
            FindingKind::Unsupported,
            loc,
            format!("{others} attachment(s) of the contact besides its picture are not carried into vCard"),
        ));
    }
    c
}

/// An `IPM.DistList` item as a group. `uids` maps node ids of this store's
/// contacts and lists to their UIDs, for members that point at them.
pub fn to_group(
    item: &PstItem,
    names: &NamedIds,
    uids: &HashMap<u32, String>,
    pst: &Location,
    findings: &mut Vec<Finding>,
) -> Contact {
    let v = View { item, names };
    let loc = origin(pst, item);
    let mut c =
        Contact { kind: ContactKind::Group, origin: loc.clone(), uid: uid_of(item), ..Contact::default() };
    c.formatted_name =
        v.named_text(PSETID_ADDRESS, 0x8053).or_else(|| v.text(0x3001)).or_else(|| v.text(0x0037));
    if let Some(body) = v.text(crate::messaging::tag::BODY) {
        c.notes.push(body.trim_end().to_owned());
    }
    c.categories = v.categories();
    let members = v.binaries(v.named_value(PSETID_ADDRESS, 0x8055));
    let one_offs = v.binaries(v.named_value(PSETID_ADDRESS, 0x8054));
    let n = members.len().max(one_offs.len());
    for i in 0..n {
        let wrapped = members.get(i).and_then(|b| entryid::parse(b));
        let one_off = one_offs.get(i).and_then(|b| entryid::parse_one_off(b));
        let mut member = None;
        let mut name = None;
        if let Some(EntryId::Wrapped(w)) = &wrapped {
            if let Some(uid) = w.nid.and_then(|nid| uids.get(&nid)) {
                member = Some(format!("urn:uuid:{uid}"));
            }
            if let Some(o) = &w.one_off {
                name = Some(o.name.clone());
                if member.is_none() && o.address.contains('@') {
                    member = Some(format!("mailto:{}", o.address));
                }
            }
        }
        if let Some(EntryId::OneOff(o)) = &wrapped {
            name = Some(o.name.clone());
            if member.is_none() && o.address.contains('@') {
                member = Some(format!("mailto:{}", o.address));
            }
        }
        if let Some(o) = &one_off {
            name = name.or_else(|| Some(o.name.clone()));
            if member.is_none() && o.address.contains('@') {
                member = Some(format!("mailto:{}", o.address));
            }
        }
        match member {
            Some(m) => {
                if let Some(nm) = name.filter(|n| !n.is_empty()) {
                    // MEMBER has no room for a name: keep it next to it.
                    c.extra.push(ExtraProperty {
                        name: "X-MS-MEMBER-NAME".into(),
                        params: vec![("X-MEMBER".into(), vec![m.clone()])],
                        values: vec![nm],
                        ..ExtraProperty::default()
                    });
                }
                c.members.push(m);
            }
            None => findings.push(Finding::warning(
                FindingKind::Unsupported,
                loc.clone(),
                format!(
                    "member {} of distribution list {:?} has no SMTP address and is not a contact of this store; left out",
                    i + 1,
                    c.formatted_name.as_deref().unwrap_or("")
                ),
            )),
        }
    }
    if n == 0 && v.named_value(PSETID_ADDRESS, 0x8064).is_some() {
        findings.push(Finding::warning(
            FindingKind::Unsupported,
            loc,
            "the distribution list keeps its members in PidLidDistributionListStream, which is not read",
        ));
    }
    c
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ltp::Props;
    use crate::Attachment;
    use mailshift_model::FolderPath;

    /// Named ids for a test store: (set, lid) → 0x8000 + index.
    pub(crate) fn names(lids: &[([u8; 16], u32)]) -> (NamedIds, HashMap<([u8; 16], u32), u16>) {
        let mut map = HashMap::new();
        let mut ids = HashMap::new();
        for (i, (set, lid)) in lids.iter().enumerate() {
            let id = 0x8000 + i as u16;
            map.insert(id, NamedProperty { guid: *set, kind: NameKind::Id(*lid) });
            ids.insert((*set, *lid), id);
        }
        map.insert(
            0x8000 + lids.len() as u16,
            NamedProperty { guid: PS_PUBLIC_STRINGS, kind: NameKind::Name("Keywords".into()) },
        );
        ids.insert((PS_PUBLIC_STRINGS, 0), 0x8000 + lids.len() as u16);
        (NamedIds::new(&map), ids)
    }

    pub(crate) fn item(class: &str, props: Vec<(u16, Value)>) -> PstItem {
        let mut p = Props::default();
        for (id, v) in props {
            p.map.insert(id, (0, v));
        }
        PstItem {
            folder: FolderPath::new(["Contacts"]),
            node: 0x2024,
            class: class.into(),
            properties: p,
            recipients: Vec::new(),
            attachments: Vec::new(),
            codepage: 1252,
        }
    }

    #[test]
    fn every_kind_of_field() {
        let a = PSETID_ADDRESS;
        let (names, ids) = names(&[
            (a, 0x8083),
            (a, 0x8082),
            (a, 0x8080),
            (a, 0x8093),
            (a, 0x8092),
            (a, 0x8094),
            (a, 0x8045),
            (a, 0x8046),
            (a, 0x801B),
            (a, 0x8022),
            (a, 0x80DE),
            (a, 0x8062),
            (a, 0x8005),
        ]);
        let s = |t: &str| Value::Str(t.into());
        let mut it = item(
            "IPM.Contact",
            vec![
                (0x3001, s("Dr. Zoë Ng")),
                (0x3A06, s("Zoë")),
                (0x3A11, s("Ng")),
                (0x3A45, s("Dr.")),
                (0x3A4F, s("Zo")),
                (0x3A16, s("Acme")),
                (0x3A18, s("R&D")),
                (0x3A17, s("Chemist")),
                (0x3A1C, s("+1 555 0100")),
                (0x3A24, s("+1 555 0101")),
                (0x3A2E, s("+1 555 0102")),
                (0x3A5D, s("1 Home St")),
                (0x3A59, s("Hometown")),
                (0x3A51, s("https://acme.example")),
                (0x1000, s("Met at the fair.\r\n")),
                (ids[&(a, 0x8083)], s("zoe@acme.example")),
                (ids[&(a, 0x8082)], s("SMTP")),
                (ids[&(a, 0x8080)], s("Zoë (zoe@acme.example)")),
                (ids[&(a, 0x8093)], s("/o=Acme/ou=Exchange/cn=Recipients/cn=zng")),
                (ids[&(a, 0x8092)], s("EX")),
                (ids[&(a, 0x8094)], s("zng@acme.example")),
                (ids[&(a, 0x8045)], s("2 Work Rd")),
                (ids[&(a, 0x8046)], s("Worktown")),
                (ids[&(a, 0x801B)], s("2 Work Rd\r\nWorktown")),
                (ids[&(a, 0x8022)], Value::I32(2)),
                // 1990-05-17 00:00 as stored (local midnight).
                (ids[&(a, 0x80DE)], Value::Time(122_873_760_000_000_000)),
                (ids[&(a, 0x8062)], s("zoe@im.example")),
                (ids[&(a, 0x8005)], s("Ng, Zoë")),
                (ids[&(PS_PUBLIC_STRINGS, 0)], Value::Multi(vec![s("VIP"), s("Lab")])),
            ],
        );
        let jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
        let mut photo = Attachment { data: Some(jpeg.clone()), ..Attachment::default() };
        photo.props.map.insert(0x7FFF, (0x000B, Value::Bool(true)));
        photo.props.map.insert(0x3707, (0x001F, s("ContactPicture.jpg")));
        it.attachments.push(photo);
        let mut f = Vec::new();
        let c = to_contact(&it, &names, &Location::path("x.pst"), &mut f);
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(c.formatted_name.as_deref(), Some("Dr. Zoë Ng"));
        assert_eq!(
            (c.name.given[0].as_str(), c.name.family[0].as_str(), c.name.prefixes[0].as_str()),
            ("Zoë", "Ng", "Dr.")
        );
        assert_eq!(c.nicknames, ["Zo"]);
        let emails: Vec<&str> = c.emails.iter().map(|e| e.value.as_str()).collect();
        assert_eq!(emails, ["zoe@acme.example", "zng@acme.example"], "the EX address resolved to SMTP");
        assert_eq!(c.emails[0].pref, Some(1));
        assert!(c
            .extra
            .iter()
            .any(|x| x.name == "X-MS-EMAIL-ORIGINAL" && x.values[0].starts_with("/o=Acme")));
        let phones: Vec<String> =
            c.phones.iter().map(|p| format!("{}={}", p.types.join(","), p.value)).collect();
        assert_eq!(phones, ["cell,voice=+1 555 0100", "work,fax=+1 555 0101", "voice=+1 555 0102"]);
        assert!(c
            .extra
            .iter()
            .any(|x| x.name == "X-MS-TEL-LABEL" && x.values[0] == "assistant: +1 555 0102"));
        assert_eq!(c.addresses.len(), 2);
        assert_eq!((c.addresses[0].street.as_str(), c.addresses[0].types[0].as_str()), ("1 Home St", "home"));
        assert_eq!((c.addresses[1].locality.as_str(), c.addresses[1].pref), ("Worktown", Some(1)));
        assert_eq!(c.addresses[1].label.as_deref(), Some("2 Work Rd\r\nWorktown"));
        assert_eq!(c.org, Some(Organization { name: "Acme".into(), units: vec!["R&D".into()] }));
        assert_eq!(c.title.as_deref(), Some("Chemist"));
        assert_eq!(c.birthday.as_deref(), Some("1990-05-17"));
        assert_eq!(c.urls[0].value, "https://acme.example");
        assert_eq!(c.impps[0].value, "im:zoe@im.example");
        assert_eq!(c.notes, ["Met at the fair."]);
        assert_eq!(c.categories, ["VIP", "Lab"]);
        assert_eq!(c.photo, Some(Photo::Inline { bytes: jpeg, media_type: Some("image/jpeg".into()) }));
        assert!(c.extra.iter().any(|x| x.name == "X-MS-FILE-AS" && x.values == ["Ng, Zoë"]));
    }

    #[test]
    fn an_exchange_address_without_smtp_is_a_finding() {
        let a = PSETID_ADDRESS;
        let (names, ids) = names(&[(a, 0x8083), (a, 0x8082)]);
        let it = item(
            "IPM.Contact",
            vec![
                (0x3001, Value::Str("X".into())),
                (ids[&(a, 0x8083)], Value::Str("/o=Org/cn=x".into())),
                (ids[&(a, 0x8082)], Value::Str("EX".into())),
            ],
        );
        let mut f = Vec::new();
        let c = to_contact(&it, &names, &Location::path("x.pst"), &mut f);
        assert_eq!(c.emails[0].types, ["x400"]);
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("type EX"), "{}", f[0].message);
    }

    #[test]
    fn a_group_with_every_kind_of_member() {
        let a = PSETID_ADDRESS;
        let (names, ids) = names(&[(a, 0x8055), (a, 0x8054), (a, 0x8053)]);
        let one_off = crate::entryid::tests::one_off;
        let mut wrapped = vec![0, 0, 0, 0];
        wrapped.extend_from_slice(&crate::entryid::WRAPPED_UID);
        wrapped.push(0xC3);
        wrapped.extend_from_slice(&[0; 20]);
        wrapped.extend_from_slice(&0x2044u32.to_le_bytes());
        let members = vec![
            Value::Bin(wrapped),
            Value::Bin(one_off("Ann", "SMTP", "ann@x.org")),
            Value::Bin(vec![1, 2, 3]),
        ];
        let one_offs = vec![
            Value::Bin(one_off("Bob", "SMTP", "bob@x.org")),
            Value::Bin(one_off("Ann", "SMTP", "ann@x.org")),
            Value::Bin(one_off("Old", "EX", "/o=x/cn=old")),
        ];
        let it = item(
            "IPM.DistList",
            vec![
                (ids[&(a, 0x8053)], Value::Str("Team".into())),
                (ids[&(a, 0x8055)], Value::Multi(members)),
                (ids[&(a, 0x8054)], Value::Multi(one_offs)),
            ],
        );
        let uids = HashMap::from([(0x2044, "u-bob".to_owned())]);
        let mut f = Vec::new();
        let g = to_group(&it, &names, &uids, &Location::path("x.pst"), &mut f);
        assert_eq!(g.kind, ContactKind::Group);
        assert_eq!(g.formatted_name.as_deref(), Some("Team"));
        assert_eq!(g.members, ["urn:uuid:u-bob", "mailto:ann@x.org"]);
        assert_eq!(f.len(), 1, "the EX-only member is a finding: {f:?}");
    }
}
