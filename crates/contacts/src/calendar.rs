//! iCalendar (RFC 5545) in and out through Stalwart's `calcard`.
//!
//! A file is decoded (UTF-8, or a legacy code page such as Outlook's
//! Latin-1 exports), parsed, and cut into [`CalendarObject`]s: one per
//! VEVENT / VTODO / VJOURNAL / VFREEBUSY, each carrying its sub-components
//! (VALARM, ...) and the VTIMEZONEs it refers to. Writing puts them back in
//! one clean VCALENDAR (our PRODID, VERSION:2.0, each VTIMEZONE once, no
//! METHOD, folded CRLF lines), or one file per UID with `split`, which is
//! what a CalDAV server wants.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarParameterName, ICalendarProperty,
};
use calcard::{Entry, Parser};
use mailshift_model::{durable, Error, Finding, FindingKind, Location, Report, Result};

use crate::text;

/// What a calendar object is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ObjectKind {
    Event,
    Todo,
    Journal,
    FreeBusy,
    Other(String),
}

impl ObjectKind {
    fn of(t: &ICalendarComponentType) -> Option<Self> {
        Some(match t {
            ICalendarComponentType::VEvent => ObjectKind::Event,
            ICalendarComponentType::VTodo => ObjectKind::Todo,
            ICalendarComponentType::VJournal => ObjectKind::Journal,
            ICalendarComponentType::VFreebusy => ObjectKind::FreeBusy,
            ICalendarComponentType::VTimezone => return None,
            other => ObjectKind::Other(other.as_str().to_owned()),
        })
    }
}

/// One calendar item: a self-contained VCALENDAR holding the component,
/// its sub-components and the VTIMEZONEs it uses. A PST reader builds one
/// with [`CalendarObject::from_ics`] from the iCalendar text it generates.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarObject {
    pub kind: ObjectKind,
    pub uid: Option<String>,
    pub calendar: ICalendar,
    pub origin: Location,
}

const PRODID: &str = "-//mailshift//calendar//EN";

/// Copies component `id` of `src` and its sub-tree into `dst`; returns its new id.
fn copy_subtree(src: &ICalendar, id: u32, dst: &mut ICalendar) -> u32 {
    let Some(comp) = src.components.get(id as usize) else { return 0 };
    let new_id = dst.components.len() as u32;
    dst.components.push(ICalendarComponent {
        component_type: comp.component_type.clone(),
        entries: comp.entries.clone(),
        component_ids: Vec::new(),
    });
    let children: Vec<u32> = comp.component_ids.iter().map(|&c| copy_subtree(src, c, dst)).collect();
    dst.components[new_id as usize].component_ids = children;
    new_id
}

/// Every TZID parameter used in the sub-tree of `id`.
fn tzids_used(src: &ICalendar, id: u32, out: &mut BTreeSet<String>) {
    let Some(comp) = src.components.get(id as usize) else { return };
    for e in &comp.entries {
        for p in &e.params {
            if p.name == ICalendarParameterName::Tzid {
                if let Some(t) = p.value.as_text() {
                    out.insert(t.to_owned());
                }
            }
        }
    }
    for &c in &comp.component_ids {
        tzids_used(src, c, out);
    }
}

fn comp_text(comp: &ICalendarComponent, prop: &ICalendarProperty) -> Option<String> {
    comp.property(prop).and_then(|e| e.values.first()).and_then(|v| v.as_text()).map(str::to_owned)
}

/// A fresh VCALENDAR root with our PRODID and VERSION and the calendar-level
/// properties of `from` that still make sense (not PRODID, VERSION, METHOD).
fn root(from: Option<&ICalendarComponent>) -> ICalendar {
    let mut vcal = ICalendarComponent::new(ICalendarComponentType::VCalendar);
    vcal.add_property(ICalendarProperty::Prodid, PRODID);
    vcal.add_property(ICalendarProperty::Version, "2.0");
    if let Some(f) = from {
        for e in &f.entries {
            if !matches!(
                e.name,
                ICalendarProperty::Prodid | ICalendarProperty::Version | ICalendarProperty::Method
            ) {
                vcal.entries.push(e.clone());
            }
        }
    }
    ICalendar { components: vec![vcal] }
}

impl CalendarObject {
    /// Cuts iCalendar text into objects; problems become findings.
    pub fn from_ics(text: &str, origin: &Location, findings: &mut Vec<Finding>) -> Vec<CalendarObject> {
        let mut parser = Parser::new(text);
        let mut garbage = text::Garbage::new(text, origin, "calendar");
        let mut out = Vec::new();
        loop {
            match parser.entry() {
                Entry::ICalendar(cal) => split_calendar(&cal, origin, &mut out, findings),
                Entry::VCard(_) => findings.push(Finding::warning(
                    FindingKind::Ignored,
                    origin.clone(),
                    "a vCard inside a calendar file was ignored",
                )),
                Entry::InvalidLine(l) => garbage.line(&l, findings),
                Entry::UnexpectedComponentEnd { expected, found } => findings.push(Finding::error(
                    FindingKind::Malformed,
                    origin.clone(),
                    format!(
                        "END:{} where END:{} was expected; the component was lost",
                        found.as_str(),
                        expected.as_str()
                    ),
                )),
                Entry::UnterminatedComponent(c) => findings.push(Finding::error(
                    FindingKind::Truncated,
                    origin.clone(),
                    format!("BEGIN:{c} is never ended; the component was lost"),
                )),
                Entry::TooManyComponents => {
                    findings.push(Finding::error(
                        FindingKind::Malformed,
                        origin.clone(),
                        "too many components; the rest of the file was not read",
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

    /// The object as a complete iCalendar text (CRLF, folded).
    pub fn to_ics(&self) -> String {
        self.calendar.to_string()
    }

    /// The object's main component (VEVENT, VTODO, ...).
    pub fn component(&self) -> Option<&ICalendarComponent> {
        let root = self.calendar.components.first()?;
        root.component_ids
            .iter()
            .filter_map(|&i| self.calendar.components.get(i as usize))
            .find(|c| c.component_type != ICalendarComponentType::VTimezone)
    }

    /// A property of the main component as text (e.g. `SUMMARY`).
    pub fn property_text(&self, prop: &ICalendarProperty) -> Option<String> {
        self.component().and_then(|c| comp_text(c, prop))
    }
}

fn split_calendar(
    cal: &ICalendar,
    origin: &Location,
    out: &mut Vec<CalendarObject>,
    findings: &mut Vec<Finding>,
) {
    let Some(top) = cal.components.first() else { return };
    // A bare VEVENT without VCALENDAR is accepted as a calendar of one.
    let (top_ids, top_comp): (Vec<u32>, Option<&ICalendarComponent>) =
        if top.component_type == ICalendarComponentType::VCalendar {
            (top.component_ids.clone(), Some(top))
        } else {
            (vec![0], None)
        };
    let mut timezones: BTreeMap<String, u32> = BTreeMap::new();
    for &id in &top_ids {
        let c = &cal.components[id as usize];
        if c.component_type == ICalendarComponentType::VTimezone {
            if let Some(tzid) = comp_text(c, &ICalendarProperty::Tzid) {
                timezones.insert(tzid, id);
            }
        }
    }
    let mut index = out.len();
    for &id in &top_ids {
        let c = &cal.components[id as usize];
        let Some(kind) = ObjectKind::of(&c.component_type) else { continue };
        index += 1;
        let mut obj = root(top_comp);
        let mut used = BTreeSet::new();
        tzids_used(cal, id, &mut used);
        let mut children = Vec::new();
        for tz in &used {
            if let Some(&tz_id) = timezones.get(tz) {
                children.push(copy_subtree(cal, tz_id, &mut obj));
            }
        }
        let new_id = copy_subtree(cal, id, &mut obj);
        children.push(new_id);
        obj.components[0].component_ids = children;
        let mut uid = comp_text(c, &ICalendarProperty::Uid);
        let loc = origin.clone().with_item(format!("{} {index}", c.component_type.as_str()));
        if uid.is_none() && matches!(kind, ObjectKind::Event | ObjectKind::Todo | ObjectKind::Journal) {
            // CalDAV needs a UID: make one from the content, stable across runs.
            let hash = blake3::hash(obj.to_string().as_bytes()).to_hex();
            let made = format!("mailshift-{}@generated", &hash[..32]);
            obj.components[new_id as usize].add_uid(&made);
            findings.push(Finding::info(
                FindingKind::Malformed,
                loc.clone(),
                format!("the object had no UID; it was given {made}"),
            ));
            uid = Some(made);
        }
        out.push(CalendarObject { kind, uid, calendar: obj, origin: loc });
    }
}

/// Reads an `.ics` file into objects.
pub fn read_calendar(path: &Path, findings: &mut Vec<Finding>) -> Result<Vec<CalendarObject>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(Location::path(path), e))?;
    Ok(read_calendar_bytes(&bytes, &Location::path(path), findings))
}

/// [`read_calendar`] on bytes already in memory.
pub fn read_calendar_bytes(
    bytes: &[u8],
    origin: &Location,
    findings: &mut Vec<Finding>,
) -> Vec<CalendarObject> {
    if text::looks_binary(bytes) {
        findings.push(Finding::error(
            FindingKind::Unreadable,
            origin.clone().with_offset(0),
            "this is binary data, not an iCalendar file",
        ));
        return Vec::new();
    }
    let decoded = text::decode(bytes);
    if decoded.encoding != encoding_rs::UTF_8 {
        findings.push(Finding::info(
            FindingKind::Malformed,
            origin.clone(),
            format!("the file is not UTF-8; it was read as {} and written as UTF-8", decoded.encoding.name()),
        ));
    }
    let text = decoded.text.trim_start_matches('\u{feff}');
    let mut open: Vec<(usize, String)> = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let u = l.trim().to_ascii_uppercase();
        if let Some(name) = u.strip_prefix("BEGIN:") {
            open.push((i + 1, name.to_owned()));
        } else if u.starts_with("END:") {
            open.pop();
        }
    }
    if let Some((line, name)) = open.first() {
        findings.push(Finding::warning(
            FindingKind::Truncated,
            origin.clone().with_item(format!("line {line}")),
            format!("line {line}: BEGIN:{name} is never ended (the file looks truncated); it was read as far as it goes"),
        ));
    }
    CalendarObject::from_ics(text, origin, findings)
}

/// Merges objects into one VCALENDAR: each VTIMEZONE once (by TZID).
pub fn merge_objects<'a>(objs: impl IntoIterator<Item = &'a CalendarObject>) -> ICalendar {
    let mut objs = objs.into_iter().peekable();
    let first_root = objs.peek().and_then(|o| o.calendar.components.first()).cloned();
    let mut out = root(None);
    if let Some(r) = &first_root {
        for e in &r.entries {
            if !matches!(
                e.name,
                ICalendarProperty::Prodid | ICalendarProperty::Version | ICalendarProperty::Method
            ) {
                out.components[0].entries.push(e.clone());
            }
        }
    }
    let mut seen_tz = HashSet::new();
    let mut tz_ids = Vec::new();
    let mut item_ids = Vec::new();
    for o in objs {
        let Some(r) = o.calendar.components.first() else { continue };
        for &id in &r.component_ids {
            let c = &o.calendar.components[id as usize];
            if c.component_type == ICalendarComponentType::VTimezone {
                let tzid = comp_text(c, &ICalendarProperty::Tzid).unwrap_or_default();
                if seen_tz.insert(tzid) {
                    tz_ids.push(copy_subtree(&o.calendar, id, &mut out));
                }
            } else {
                item_ids.push(copy_subtree(&o.calendar, id, &mut out));
            }
        }
    }
    tz_ids.extend(item_ids);
    out.components[0].component_ids = tz_ids;
    out
}

fn safe_file_name(uid: &str, taken: &mut HashSet<String>) -> String {
    let base: String = uid
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .take(100)
        .collect();
    let base = base.trim_start_matches('.');
    let base = if base.is_empty() { "object" } else { base };
    let mut name = format!("{base}.ics");
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}-{n}.ics");
        n += 1;
    }
    name
}

/// Writes objects as one `.ics` at `out`, or with `split` a directory with
/// one `.ics` per UID (an event and its recurrence exceptions together).
/// Counts every object in `report` and checks the balance.
pub fn write_calendar(objs: &[CalendarObject], out: &Path, split: bool, report: &mut Report) -> Result<()> {
    let loc = || Location::path(out);
    report.read += objs.len() as u64;
    if split {
        std::fs::create_dir_all(out).map_err(|e| Error::io(loc(), e))?;
        let mut groups: Vec<(String, Vec<&CalendarObject>)> = Vec::new();
        let mut by_uid: BTreeMap<String, usize> = BTreeMap::new();
        for (i, o) in objs.iter().enumerate() {
            let key = o.uid.clone().unwrap_or_else(|| format!("no-uid-{}", i + 1));
            match by_uid.get(&key) {
                Some(&g) => groups[g].1.push(o),
                None => {
                    by_uid.insert(key.clone(), groups.len());
                    groups.push((key, vec![o]));
                }
            }
        }
        let mut taken = HashSet::new();
        for (uid, members) in groups {
            let text = merge_objects(members.iter().copied()).to_string();
            let path = out.join(safe_file_name(&uid, &mut taken));
            durable::write_file_atomic(&path, text.as_bytes())
                .map_err(|e| Error::io(Location::path(&path), e))?;
            report.written += members.len() as u64;
            report.bytes_written += text.len() as u64;
        }
    } else {
        let text = merge_objects(objs).to_string();
        durable::write_file_atomic(out, text.as_bytes()).map_err(|e| Error::io(loc(), e))?;
        report.written += objs.len() as u64;
        report.bytes_written += text.len() as u64;
    }
    report.check_balance().map_err(|e| Error::format(loc(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ICS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:PUBLISH\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\n\
BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:a\r\nDTSTART;TZID=Europe/Paris:20240101T100000\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:x\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n\
BEGIN:VTODO\r\nUID:b\r\nSUMMARY:t\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";

    #[test]
    fn split_and_merge_keep_objects_and_timezones() {
        let mut f = Vec::new();
        let objs = CalendarObject::from_ics(ICS, &Location::path("t.ics"), &mut f);
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[0].kind, ObjectKind::Event);
        assert!(objs[0].to_ics().contains("TZID:Europe/Paris"));
        assert!(!objs[1].to_ics().contains("VTIMEZONE"));
        let merged = merge_objects(&objs).to_string();
        assert_eq!(merged.matches("BEGIN:VTIMEZONE").count(), 1);
        assert!(merged.contains("BEGIN:VALARM"));
        assert!(merged.contains("RRULE:FREQ=WEEKLY;COUNT=3"));
        assert!(!merged.contains("METHOD"));
        assert!(merged.contains(PRODID));
    }
}
