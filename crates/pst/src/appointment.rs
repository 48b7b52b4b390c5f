//! Outlook calendar items as [`mailshift_contacts::Event`]s (MS-OXOCAL,
//! MS-OXOTASK): appointments become VEVENTs (times, zone, all-day dates,
//! organiser and attendees, reminders, busy status, class, recurrence with
//! deleted and modified instances), tasks VTODOs, notes and journal entries
//! VJOURNALs.
//!
//! Times: Outlook stores UTC instants (PidLidAppointmentStartWhole/EndWhole)
//! and, separately, the zone the item was made in. With a zone, times are
//! written as local times with a `TZID` and a `VTIMEZONE` built from the
//! item's own rule (named after the IANA zone where the Windows name maps to
//! one), so recurrences keep their wall-clock time across DST changes.
//! Without one they are written in UTC.

use mailshift_contacts::{Event, ObjectKind, Participant, When};
use mailshift_model::{Finding, FindingKind, Location};

use crate::contact::{origin, uid_of, NamedIds, View, PSETID_APPOINTMENT, PSETID_COMMON, PSETID_TASK};
use crate::messaging::tag;
use crate::recurrence::{self, Recurrence};
use crate::source::PstItem;
use crate::timezone::{self, TzRule};
use crate::value::{filetime, filetime_secs, minutes_1601_secs, Value};

/// PSETID_Meeting {6ED8DA90-450B-101B-98DA-00AA003F1305}, as stored.
pub const PSETID_MEETING: [u8; 16] =
    [0x90, 0xDA, 0xD8, 0x6E, 0x0B, 0x45, 0x1B, 0x10, 0x98, 0xDA, 0x00, 0xAA, 0x00, 0x3F, 0x13, 0x05];

fn fmt_utc(secs: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(secs, 0).map(|d| d.format("%Y%m%dT%H%M%SZ").to_string())
}

fn fmt_local(secs: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(secs, 0).map(|d| d.format("%Y%m%dT%H%M%S").to_string())
}

fn fmt_date(secs: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(secs, 0).map(|d| d.format("%Y%m%d").to_string())
}

/// The item's zone: a name (IANA where known) and its rule.
#[derive(Debug, Clone)]
struct Zone {
    tzid: String,
    rule: TzRule,
}

impl Zone {
    fn local(&self, utc: i64) -> i64 {
        utc + i64::from(self.rule.offset_at_utc(utc)) * 60
    }

    fn utc(&self, local: i64) -> i64 {
        local - i64::from(self.rule.offset_at_local(local)) * 60
    }
}

fn zone_of(v: &View<'_>) -> Option<Zone> {
    let def = [0x825E, 0x8260]
        .into_iter()
        .find_map(|lid| v.named(PSETID_APPOINTMENT, lid).and_then(|id| v.item.properties.bytes(id)))
        .and_then(timezone::from_definition);
    let (name, rule) = match def {
        Some((k, r)) => (k, r),
        None => {
            let s = v.named(PSETID_APPOINTMENT, 0x8233).and_then(|id| v.item.properties.bytes(id))?;
            let rule = timezone::from_struct(s)?;
            (v.named_text(PSETID_APPOINTMENT, 0x8234).unwrap_or_default(), rule)
        }
    };
    // An unknown zone keeps its Windows name, without the `:`, `,` and `;`
    // of display names ("(UTC+05:00) Islamabad, Karachi"), which would need
    // quoting in TZID parameters and escaping in TZID values.
    let cleaned: String = name
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '/' | '_' | '-' | '+' | '(' | ')' | '.'))
        .collect();
    let tzid = match timezone::windows_to_iana(&name) {
        Some(i) => i.to_owned(),
        None if !cleaned.trim().is_empty() => cleaned.trim().to_owned(),
        None => format!("Outlook {}", timezone::offset_text(rule.standard_offset())),
    };
    Some(Zone { tzid, rule })
}

/// What a recipient's address is, preferring SMTP.
fn smtp_of(r: &crate::ltp::Props, cp: u32) -> Option<String> {
    let smtp = r.string(tag::SMTP_ADDRESS, cp).filter(|s| s.contains('@'));
    smtp.or_else(|| {
        let ty = r.string(tag::ADDRTYPE, cp).unwrap_or_default();
        r.string(tag::EMAIL_ADDRESS, cp).filter(|a| ty.eq_ignore_ascii_case("SMTP") || a.contains('@'))
    })
}

fn when_of(t: i64, all_day: bool, zone: Option<&Zone>) -> Option<When> {
    if all_day {
        // Midnight local; without a zone, rounding to the nearest day gives
        // the right date for any offset under 12 hours.
        let local = zone.map_or(t + 12 * 3600, |z| z.local(t));
        return fmt_date(local).map(When::Date);
    }
    match zone {
        Some(z) => fmt_local(z.local(t)).map(|value| When::Local { value, tzid: z.tzid.clone() }),
        None => fmt_utc(t).map(When::Utc),
    }
}

/// A local time (seconds, read as local) as a When of the same kind as DTSTART.
fn when_local(local: i64, all_day: bool, zone: Option<&Zone>, fixed_offset: i64) -> Option<When> {
    if all_day {
        return fmt_date(local).map(When::Date);
    }
    match zone {
        Some(z) => fmt_local(local).map(|value| When::Local { value, tzid: z.tzid.clone() }),
        None => fmt_utc(local - fixed_offset).map(When::Utc),
    }
}

/// A stable UID: Outlook's clean global object id (what Exchange uses as
/// the iCalendar UID), else the search key, else the node in this file.
fn event_uid(v: &View<'_>, pst: &Location) -> String {
    for lid in [0x0023, 0x0003] {
        if let Some(b) = v.named(PSETID_MEETING, lid).and_then(|id| v.item.properties.bytes(id)) {
            if !b.is_empty() {
                return b.iter().map(|x| format!("{x:02X}")).collect();
            }
        }
    }
    uid_of(v.item).unwrap_or_else(|| {
        let file = pst.path.as_ref().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned());
        format!(
            "pst-{:x}-{:08x}@mailshift",
            v.item.node,
            crc32fast::hash(file.unwrap_or_default().as_bytes())
        )
    })
}

fn stamp(v: &View<'_>, t: u16) -> Option<String> {
    v.item.properties.time(t).and_then(filetime_secs).and_then(fmt_utc)
}

/// Common fields: text, categories, class, stamps, priority.
fn common(v: &View<'_>, e: &mut Event) {
    e.summary = v.text(tag::SUBJECT);
    e.description = v.text(tag::BODY).map(|b| b.trim_end().to_owned());
    e.categories = v.categories();
    e.class = v.item.properties.i32(0x0036).map(|s| {
        match s {
            0 => "PUBLIC",
            3 => "CONFIDENTIAL",
            _ => "PRIVATE",
        }
        .to_owned()
    });
    e.created = stamp(v, 0x3007);
    e.last_modified = stamp(v, 0x3008);
    match v.item.properties.i32(0x0017) {
        Some(0) => e.extra_lines.push("PRIORITY:9".into()),
        Some(2) => e.extra_lines.push("PRIORITY:1".into()),
        _ => {}
    }
}

fn reminder(v: &View<'_>, e: &mut Event) {
    let set = v.named(PSETID_COMMON, 0x8503).and_then(|id| v.item.properties.bool(id)).unwrap_or(false);
    if set {
        let delta = v.named(PSETID_COMMON, 0x8501).and_then(|id| v.item.properties.i32(id)).unwrap_or(15);
        e.alarms_minutes_before.push(i64::from(delta));
    }
}

fn participants(v: &View<'_>, e: &mut Event, loc: &Location, findings: &mut Vec<Finding>) {
    let cp = v.item.codepage;
    let p = &v.item.properties;
    let meeting = v.named(PSETID_APPOINTMENT, 0x8217).and_then(|id| p.i32(id)).unwrap_or(0) & 1 != 0;
    if !meeting && v.item.recipients.is_empty() {
        return;
    }
    let organizer_addr = p
        .string(tag::SENT_REPRESENTING_SMTP, cp)
        .or_else(|| p.string(tag::SENDER_SMTP, cp))
        .or_else(|| p.string(tag::SENT_REPRESENTING_EMAIL, cp).filter(|a| a.contains('@')))
        .or_else(|| p.string(tag::SENDER_EMAIL, cp).filter(|a| a.contains('@')));
    if let Some(a) = organizer_addr {
        e.organizer = Some(Participant {
            email: a,
            name: p.string(tag::SENT_REPRESENTING_NAME, cp).or_else(|| p.string(tag::SENDER_NAME, cp)),
            ..Participant::default()
        });
    }
    for (i, r) in v.item.recipients.iter().enumerate() {
        let name = r.string(tag::DISPLAY_NAME, cp);
        let Some(email) = smtp_of(r, cp) else {
            findings.push(Finding::warning(
                FindingKind::Unsupported,
                loc.clone(),
                format!("attendee {} ({}) has no SMTP address; left out", i + 1, name.unwrap_or_default()),
            ));
            continue;
        };
        let flags = r.i32(0x5FFD).unwrap_or(0);
        if flags & 0x2 != 0 {
            // The organiser's own row.
            if e.organizer.is_none() {
                e.organizer = Some(Participant { email, name, ..Participant::default() });
            }
            continue;
        }
        let role = match r.i32(tag::RECIPIENT_TYPE).unwrap_or(1) & 0xF {
            2 => "OPT-PARTICIPANT",
            3 => "NON-PARTICIPANT",
            _ => "REQ-PARTICIPANT",
        };
        let partstat = match r.i32(0x5FFF).unwrap_or(0) {
            2 => "TENTATIVE",
            3 => "ACCEPTED",
            4 => "DECLINED",
            _ => "NEEDS-ACTION",
        };
        e.attendees.push(Participant {
            email,
            name,
            role: Some(role.into()),
            partstat: Some(partstat.into()),
        });
    }
}

/// An `IPM.Appointment` as a VEVENT, plus one VEVENT per modified instance.
pub fn to_events(
    item: &PstItem,
    names: &NamedIds,
    pst: &Location,
    findings: &mut Vec<Finding>,
) -> Vec<Event> {
    let v = View { item, names };
    let loc = origin(pst, item);
    let p = &item.properties;
    let mut e = Event { uid: event_uid(&v, pst), ..Event::default() };
    common(&v, &mut e);
    e.location = v.named_text(PSETID_APPOINTMENT, 0x8208);
    let time = |set, lid| v.named(set, lid).and_then(|id| p.time(id)).and_then(filetime_secs);
    let start = time(PSETID_APPOINTMENT, 0x820D)
        .or_else(|| time(PSETID_COMMON, 0x8516))
        .or_else(|| p.time(0x0060).and_then(filetime_secs));
    let end = time(PSETID_APPOINTMENT, 0x820E)
        .or_else(|| time(PSETID_COMMON, 0x8517))
        .or_else(|| p.time(0x0061).and_then(filetime_secs));
    let all_day = v.named(PSETID_APPOINTMENT, 0x8215).and_then(|id| p.bool(id)).unwrap_or(false);
    let zone = zone_of(&v);
    let Some(start) = start else {
        findings.push(Finding::warning(
            FindingKind::Date,
            loc,
            format!("appointment {:?} has no start time; left out", e.summary.as_deref().unwrap_or("")),
        ));
        return Vec::new();
    };
    e.start = when_of(start, all_day, zone.as_ref());
    e.end = end.filter(|&x| x >= start).and_then(|x| when_of(x, all_day, zone.as_ref()));
    if let (Some(z), false) = (&zone, all_day) {
        e.timezones.push(z.rule.vtimezone(&z.tzid));
    }
    let busy = v.named(PSETID_APPOINTMENT, 0x8205).and_then(|id| p.i32(id));
    if let Some(b) = busy {
        let (name, transp) = match b {
            0 => ("FREE", "TRANSPARENT"),
            1 => ("TENTATIVE", "OPAQUE"),
            3 => ("OOF", "OPAQUE"),
            4 => ("WORKINGELSEWHERE", "OPAQUE"),
            _ => ("BUSY", "OPAQUE"),
        };
        e.transp = Some(transp.into());
        e.extra_lines.push(format!("X-MICROSOFT-CDO-BUSYSTATUS:{name}"));
    }
    let state = v.named(PSETID_APPOINTMENT, 0x8217).and_then(|id| p.i32(id)).unwrap_or(0);
    if state & 0x4 != 0 {
        e.status = Some("CANCELLED".into());
    } else if state & 0x1 != 0 {
        e.status = Some("CONFIRMED".into());
    }
    if all_day {
        e.extra_lines.push("X-MICROSOFT-CDO-ALLDAYEVENT:TRUE".into());
    }
    reminder(&v, &mut e);
    participants(&v, &mut e, &loc, findings);
    attachments(item, &mut e, &loc, findings);
    let mut out = Vec::new();
    let blob = v.named(PSETID_APPOINTMENT, 0x8216).and_then(|id| p.bytes(id));
    let recurring = v.named(PSETID_APPOINTMENT, 0x8223).and_then(|id| p.bool(id)).unwrap_or(false);
    match blob.map(recurrence::parse) {
        Some(Ok(r)) => {
            let overrides = recurring_parts(&r, &mut e, start, all_day, zone.as_ref(), &loc, findings);
            out.push(e);
            out.extend(overrides);
            return out;
        }
        Some(Err(why)) => findings.push(Finding::warning(
            FindingKind::Malformed,
            loc,
            format!("the recurrence pattern cannot be read ({why}); only the first instance was kept"),
        )),
        None if recurring => findings.push(Finding::warning(
            FindingKind::Malformed,
            loc,
            "the item is marked recurring but has no recurrence pattern; only the first instance was kept",
        )),
        None => {}
    }
    out.push(e);
    out
}

/// Largest attachment carried inline into iCalendar (base64 `ATTACH`);
/// CalDAV servers commonly refuse objects much larger than this.
const MAX_INLINE_ATTACHMENT: usize = 10 << 20;

/// File attachments as inline `ATTACH` properties. Attachments flagged
/// afException (PidTagAttachmentFlags 0x2) or hidden hold the modified
/// instances, which come from the recurrence blob instead; embedded
/// messages and oversized files are findings.
fn attachments(item: &PstItem, e: &mut Event, loc: &Location, findings: &mut Vec<Finding>) {
    use base64::Engine as _;
    let cp = item.codepage;
    for (i, a) in item.attachments.iter().enumerate() {
        if a.props.i32(tag::ATTACH_FLAGS).unwrap_or(0) & 0x2 != 0
            || a.props.bool(tag::ATTACHMENT_HIDDEN) == Some(true)
        {
            continue;
        }
        let name = a
            .props
            .string(tag::ATTACH_LONG_FILENAME, cp)
            .or_else(|| a.props.string(tag::ATTACH_FILENAME, cp))
            .unwrap_or_else(|| format!("attachment-{}", i + 1));
        match &a.data {
            Some(d) if d.len() <= MAX_INLINE_ATTACHMENT => {
                let mime = a
                    .props
                    .string(tag::ATTACH_MIME_TAG, cp)
                    .filter(|m| m.contains('/') && !m.contains(['"', ';', ':', ',']))
                    .unwrap_or_else(|| "application/octet-stream".into());
                let fname: String = name.chars().filter(|c| !c.is_control() && *c != '"').collect();
                let b64 = base64::engine::general_purpose::STANDARD.encode(d);
                e.extra_lines.push(format!(
                    "ATTACH;FMTTYPE={mime};ENCODING=BASE64;VALUE=BINARY;X-FILENAME=\"{fname}\":{b64}"
                ));
            }
            _ => findings.push(Finding::warning(
                FindingKind::Unsupported,
                loc.clone(),
                format!(
                    "attachment {:?} of the appointment is {}; not carried into iCalendar",
                    name,
                    if a.embedded.is_some() {
                        "an embedded message"
                    } else {
                        "missing or larger than 10 MiB"
                    }
                ),
            )),
        }
    }
}

/// RRULE, EXDATEs and the overrides of a recurring appointment.
fn recurring_parts(
    r: &Recurrence,
    e: &mut Event,
    start: i64,
    all_day: bool,
    zone: Option<&Zone>,
    loc: &Location,
    findings: &mut Vec<Finding>,
) -> Vec<Event> {
    let start_offset = i64::from(r.start_offset.unwrap_or(0));
    // Local = UTC + this, from the first instance, for items with no zone.
    let first_local = minutes_1601_secs(r.start_date) + start_offset * 60;
    let fixed_offset = match zone {
        Some(z) => z.local(start) - start,
        None => {
            let d = first_local - start;
            if d.abs() <= 14 * 3600 {
                d
            } else {
                0
            }
        }
    };
    let until_local = minutes_1601_secs(r.end_date) + start_offset * 60;
    let until = if all_day {
        fmt_date(until_local)
    } else {
        let utc = zone.map_or(until_local - fixed_offset, |z| z.utc(until_local));
        fmt_utc(utc)
    };
    match r.rrule(until.as_deref()) {
        Ok(rule) => e.rrule = Some(rule),
        Err(why) => {
            findings.push(Finding::warning(
                FindingKind::Unsupported,
                loc.clone(),
                format!("{why}; only the first instance was kept"),
            ));
            return Vec::new();
        }
    }
    for d in r.exdates() {
        let local = minutes_1601_secs(d) + start_offset * 60;
        if let Some(w) = when_local(local, all_day, zone, fixed_offset) {
            e.exdates.push(w);
        }
    }
    let mut overrides = Vec::new();
    for x in &r.exceptions {
        let mut o = Event {
            uid: e.uid.clone(),
            summary: x.subject.clone().or_else(|| e.summary.clone()),
            description: e.description.clone(),
            location: x.location.clone().or_else(|| e.location.clone()),
            organizer: e.organizer.clone(),
            attendees: e.attendees.clone(),
            categories: e.categories.clone(),
            class: e.class.clone(),
            transp: e.transp.clone(),
            status: e.status.clone(),
            created: e.created.clone(),
            last_modified: e.last_modified.clone(),
            timezones: e.timezones.clone(),
            ..Event::default()
        };
        // The original start is stored at its local time of day.
        let original = minutes_1601_secs(x.original_start);
        let x_all_day = x.subtype.map_or(all_day, |s| s != 0);
        o.recurrence_id = when_local(original, all_day, zone, fixed_offset);
        o.start = when_local(minutes_1601_secs(x.start), x_all_day, zone, fixed_offset);
        o.end = when_local(minutes_1601_secs(x.end), x_all_day, zone, fixed_offset);
        if x_all_day != all_day && zone.is_none() {
            o.timezones.clear();
        }
        match (x.reminder_set, x.reminder_delta) {
            (Some(false), _) => {}
            (Some(true), d) => o.alarms_minutes_before.push(i64::from(d.unwrap_or(15))),
            (None, Some(d)) => o.alarms_minutes_before.push(i64::from(d)),
            (None, None) => o.alarms_minutes_before = e.alarms_minutes_before.clone(),
        }
        if o.recurrence_id.is_none() || o.start.is_none() {
            findings.push(Finding::warning(
                FindingKind::Date,
                loc.clone(),
                "a modified instance of the series has a date out of range; left out",
            ));
            continue;
        }
        overrides.push(o);
    }
    overrides
}

/// An `IPM.Task` as a VTODO.
pub fn to_todo(item: &PstItem, names: &NamedIds, pst: &Location, findings: &mut Vec<Finding>) -> Event {
    let v = View { item, names };
    let loc = origin(pst, item);
    let p = &item.properties;
    let mut e = Event { kind: Some(ObjectKind::Todo), uid: event_uid(&v, pst), ..Event::default() };
    common(&v, &mut e);
    // Task dates are dates (local midnight stored as is).
    let date = |lid| {
        v.named(PSETID_TASK, lid)
            .and_then(|id| p.time(id))
            .and_then(filetime)
            .map(|d| d.format("%Y%m%d").to_string())
    };
    e.start = date(0x8104).map(When::Date);
    e.due = date(0x8105).map(When::Date);
    if let (Some(When::Date(s)), Some(When::Date(d))) = (&e.start, &e.due) {
        if d < s {
            e.due = None;
        }
    }
    let status = v.named(PSETID_TASK, 0x8101).and_then(|id| p.i32(id)).unwrap_or(0);
    e.status = Some(
        match status {
            1 => "IN-PROCESS",
            2 => "COMPLETED",
            4 => "CANCELLED",
            _ => "NEEDS-ACTION",
        }
        .into(),
    );
    if let Some(Value::F64(f)) = v.named(PSETID_TASK, 0x8102).and_then(|id| p.get(id)) {
        let pct = (f * 100.0).round().clamp(0.0, 100.0) as u8;
        e.extra_lines.push(format!("PERCENT-COMPLETE:{pct}"));
    }
    if let Some(done) =
        v.named(PSETID_TASK, 0x810F).and_then(|id| p.time(id)).and_then(filetime_secs).and_then(fmt_utc)
    {
        e.extra_lines.push(format!("COMPLETED:{done}"));
    }
    reminder(&v, &mut e);
    if v.named(PSETID_TASK, 0x8126).and_then(|id| p.bool(id)) == Some(true) {
        // PidLidTaskRecurrence holds only the RecurrencePattern part; a
        // VTODO's RRULE needs a DTSTART, so the start date is required.
        let blob = v.named(PSETID_TASK, 0x8116).and_then(|id| p.bytes(id));
        let rule = match (blob.map(recurrence::parse), &e.start) {
            (Some(Ok(r)), Some(_)) => {
                let until = fmt_date(minutes_1601_secs(r.end_date));
                r.rrule(until.as_deref())
            }
            (Some(Ok(_)), None) => Err("the recurring task has no start date".to_owned()),
            (Some(Err(why)), _) => Err(format!("the task's recurrence pattern cannot be read ({why})")),
            (None, _) => Err("the task is marked recurring but has no recurrence pattern".to_owned()),
        };
        match rule {
            Ok(r) => e.rrule = Some(r),
            Err(why) => findings.push(Finding::warning(
                FindingKind::Unsupported,
                loc,
                format!("{why}; only the current instance was kept"),
            )),
        }
    }
    e
}

/// A note (`IPM.StickyNote`) or journal entry (`IPM.Activity`) as a VJOURNAL.
pub fn to_journal(item: &PstItem, names: &NamedIds, pst: &Location) -> Event {
    let v = View { item, names };
    let mut e = Event { kind: Some(ObjectKind::Journal), uid: event_uid(&v, pst), ..Event::default() };
    common(&v, &mut e);
    if e.summary.is_none() {
        e.summary = e.description.as_deref().and_then(|d| d.lines().next()).map(str::to_owned);
    }
    e.start = item.properties.time(0x3007).and_then(filetime_secs).and_then(fmt_utc).map(When::Utc);
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::tests::{item, names};
    use crate::recurrence::tests::{day, Blob};
    use crate::recurrence::{END_AFTER_DATE, FREQ_WEEKLY};

    const FT_1970: i64 = crate::value::EPOCH_1601 * crate::value::TICKS_PER_SEC;

    fn ft(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp() * crate::value::TICKS_PER_SEC
            + FT_1970
    }

    #[test]
    fn a_weekly_series_in_berlin_with_attendees() {
        let ap = PSETID_APPOINTMENT;
        let (names, ids) = names(&[
            (ap, 0x820D),
            (ap, 0x820E),
            (ap, 0x8233),
            (ap, 0x8234),
            (ap, 0x8216),
            (ap, 0x8208),
            (ap, 0x8205),
            (ap, 0x8217),
            (PSETID_COMMON, 0x8503),
            (PSETID_COMMON, 0x8501),
        ]);
        let blob = Blob {
            freq: FREQ_WEEKLY,
            pattern: 1,
            period: 1,
            specific: vec![0b10],
            end_type: END_AFTER_DATE,
            count: 0,
            deleted: vec![day(2024, 3, 11), day(2024, 3, 18)],
            modified: vec![day(2024, 3, 18)],
            start: day(2024, 3, 4),
            end: day(2024, 4, 29),
            exceptions: vec![(
                day(2024, 3, 18) + 11 * 60,
                day(2024, 3, 18) + 12 * 60,
                day(2024, 3, 18) + 9 * 60,
                Some("Later"),
            )],
        };
        let mut it = item(
            "IPM.Appointment",
            vec![
                (tag::SUBJECT, Value::Str("\u{1}\u{1}Standup".into())),
                // Monday 2024-03-04 09:00 in Berlin (CET, +01:00).
                (ids[&(ap, 0x820D)], Value::Time(ft("2024-03-04T08:00:00Z"))),
                (ids[&(ap, 0x820E)], Value::Time(ft("2024-03-04T08:30:00Z"))),
                (ids[&(ap, 0x8233)], Value::Bin(crate::timezone::tests::berlin_struct())),
                (
                    ids[&(ap, 0x8234)],
                    Value::Str("(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna".into()),
                ),
                (ids[&(ap, 0x8216)], Value::Bin(blob.bytes())),
                (ids[&(ap, 0x8208)], Value::Str("Room 1".into())),
                (ids[&(ap, 0x8205)], Value::I32(2)),
                (ids[&(ap, 0x8217)], Value::I32(1)),
                (ids[&(PSETID_COMMON, 0x8503)], Value::Bool(true)),
                (ids[&(PSETID_COMMON, 0x8501)], Value::I32(10)),
                (tag::SENT_REPRESENTING_SMTP, Value::Str("boss@x.org".into())),
                (tag::SENT_REPRESENTING_NAME, Value::Str("Boss".into())),
                (0x0036, Value::I32(2)),
            ],
        );
        let mut r = crate::ltp::Props::default();
        r.map.insert(tag::DISPLAY_NAME, (0x1F, Value::Str("Ann".into())));
        r.map.insert(tag::SMTP_ADDRESS, (0x1F, Value::Str("ann@x.org".into())));
        r.map.insert(tag::RECIPIENT_TYPE, (3, Value::I32(2)));
        r.map.insert(0x5FFF, (3, Value::I32(3)));
        it.recipients.push(r);
        let mut f = Vec::new();
        let ev = to_events(&it, &names, &Location::path("x.pst"), &mut f);
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(ev.len(), 2);
        let m = &ev[0];
        let berlin = |v: &str| When::Local { value: v.into(), tzid: "Europe/Berlin".into() };
        assert_eq!(m.summary.as_deref(), Some("Standup"));
        assert_eq!(m.location.as_deref(), Some("Room 1"));
        assert_eq!(m.start, Some(berlin("20240304T090000")));
        assert_eq!(m.end, Some(berlin("20240304T093000")));
        // The last instance, Monday 2024-04-29 09:00 CEST, is 07:00 UTC.
        assert_eq!(m.rrule.as_deref(), Some("FREQ=WEEKLY;BYDAY=MO;WKST=MO;UNTIL=20240429T070000Z"));
        assert_eq!(m.exdates, vec![berlin("20240311T090000")]);
        assert_eq!(m.alarms_minutes_before, vec![10]);
        assert_eq!(m.class.as_deref(), Some("PRIVATE"));
        assert_eq!(m.organizer.as_ref().map(|o| o.email.as_str()), Some("boss@x.org"));
        assert_eq!(m.attendees[0].role.as_deref(), Some("OPT-PARTICIPANT"));
        assert_eq!(m.attendees[0].partstat.as_deref(), Some("ACCEPTED"));
        assert!(m.extra_lines.contains(&"X-MICROSOFT-CDO-BUSYSTATUS:BUSY".to_owned()));
        let x = &ev[1];
        assert_eq!(x.recurrence_id, Some(berlin("20240318T090000")));
        assert_eq!(x.start, Some(berlin("20240318T110000")));
        assert_eq!(x.summary.as_deref(), Some("Later ✓"));
        // Through calcard: parses, with the zone.
        let mut f = Vec::new();
        let ics = m.to_object(&Location::default(), &mut f).unwrap().to_ics();
        assert!(
            f.is_empty() && ics.contains("BEGIN:VTIMEZONE") && ics.contains("TZID:Europe/Berlin"),
            "{ics}"
        );
    }

    #[test]
    fn an_unknown_zone_keeps_a_clean_name() {
        let ap = PSETID_APPOINTMENT;
        let (names, ids) = names(&[(ap, 0x820D), (ap, 0x8233), (ap, 0x8234)]);
        let it = item(
            "IPM.Appointment",
            vec![
                (ids[&(ap, 0x820D)], Value::Time(ft("2024-07-01T08:00:00Z"))),
                (ids[&(ap, 0x8233)], Value::Bin(crate::timezone::tests::berlin_struct())),
                (ids[&(ap, 0x8234)], Value::Str("(UTC+01:00) Elsewhere, Nowhere; Land".into())),
            ],
        );
        let ev = to_events(&it, &names, &Location::path("x.pst"), &mut Vec::new());
        let tzid = "(UTC+0100) Elsewhere Nowhere Land";
        assert_eq!(ev[0].start, Some(When::Local { value: "20240701T100000".into(), tzid: tzid.into() }));
        let mut f = Vec::new();
        let ics = ev[0].to_object(&Location::default(), &mut f).unwrap().to_ics();
        assert!(f.is_empty() && ics.contains(&format!("TZID:{tzid}")), "{ics}");
    }

    #[test]
    fn an_all_day_event_without_a_zone_and_a_task() {
        let ap = PSETID_APPOINTMENT;
        let (names, ids) = names(&[
            (ap, 0x820D),
            (ap, 0x820E),
            (ap, 0x8215),
            (PSETID_TASK, 0x8105),
            (PSETID_TASK, 0x8101),
            (PSETID_TASK, 0x8104),
            (PSETID_TASK, 0x8126),
            (PSETID_TASK, 0x8116),
        ]);
        // Midnight in UTC+10 (Sydney) is 14:00 the day before in UTC.
        let it = item(
            "IPM.Appointment",
            vec![
                (tag::SUBJECT, Value::Str("Holiday".into())),
                (ids[&(ap, 0x820D)], Value::Time(ft("2024-01-25T14:00:00Z"))),
                (ids[&(ap, 0x820E)], Value::Time(ft("2024-01-26T14:00:00Z"))),
                (ids[&(ap, 0x8215)], Value::Bool(true)),
            ],
        );
        let mut f = Vec::new();
        let ev = to_events(&it, &names, &Location::path("x.pst"), &mut f);
        assert_eq!(ev[0].start, Some(When::Date("20240126".into())));
        assert_eq!(ev[0].end, Some(When::Date("20240127".into())));
        let t = item(
            "IPM.Task",
            vec![
                (tag::SUBJECT, Value::Str("File taxes".into())),
                (ids[&(PSETID_TASK, 0x8105)], Value::Time(ft("2024-04-15T00:00:00Z"))),
                (ids[&(PSETID_TASK, 0x8101)], Value::I32(2)),
            ],
        );
        let todo = to_todo(&t, &names, &Location::path("x.pst"), &mut f);
        assert_eq!(todo.kind, Some(ObjectKind::Todo));
        assert_eq!(todo.due, Some(When::Date("20240415".into())));
        assert_eq!(todo.status.as_deref(), Some("COMPLETED"));
        let ics = todo.to_ics();
        assert!(ics.contains("BEGIN:VTODO") && ics.contains("DUE;VALUE=DATE:20240415"), "{ics}");
        // A recurring task: every month on the 15th, from its start date.
        let blob = Blob {
            freq: crate::recurrence::FREQ_MONTHLY,
            pattern: 2,
            period: 1,
            specific: vec![15],
            end_type: crate::recurrence::END_AFTER_N,
            count: 12,
            deleted: vec![],
            modified: vec![],
            start: day(2024, 1, 15),
            end: day(2024, 12, 15),
            exceptions: vec![],
        };
        // Without the appointment part (26 bytes when there are no exceptions).
        let pattern_only = blob.bytes()[..blob.bytes().len() - 26].to_vec();
        let t = item(
            "IPM.Task",
            vec![
                (tag::SUBJECT, Value::Str("Pay rent".into())),
                (ids[&(PSETID_TASK, 0x8104)], Value::Time(ft("2024-01-15T00:00:00Z"))),
                (ids[&(PSETID_TASK, 0x8126)], Value::Bool(true)),
                (ids[&(PSETID_TASK, 0x8116)], Value::Bin(pattern_only)),
            ],
        );
        let mut f = Vec::new();
        let todo = to_todo(&t, &names, &Location::path("x.pst"), &mut f);
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(todo.rrule.as_deref(), Some("FREQ=MONTHLY;BYMONTHDAY=15;COUNT=12"));
        assert_eq!(todo.start, Some(When::Date("20240115".into())));
        // No start at all: a finding, not an event.
        let bare = item("IPM.Appointment", vec![(tag::SUBJECT, Value::Str("?".into()))]);
        assert!(to_events(&bare, &names, &Location::path("x.pst"), &mut f).is_empty());
        assert!(f.iter().any(|x| x.message.contains("no start time")));
    }
}
