//! A plain calendar item that a reader without iCalendar text (the PST
//! reader: appointments, tasks, notes) fills field by field;
//! [`Event::to_object`] turns it into a [`CalendarObject`] through the same
//! parser as `.ics` files, so both paths write identical output.

use mailshift_model::{Finding, Location};

use crate::calendar::{CalendarObject, ObjectKind};
use crate::vcard_write::{escape_text, push_folded};

/// A date or date-time as iCalendar writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// `YYYYMMDD` (all-day).
    Date(String),
    /// `YYYYMMDDTHHMMSSZ`.
    Utc(String),
    /// `YYYYMMDDTHHMMSS` in the zone `tzid` (define it in [`Event::timezones`]).
    Local { value: String, tzid: String },
}

/// A participant: organiser or attendee.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Participant {
    pub email: String,
    pub name: Option<String>,
    /// `REQ-PARTICIPANT`, `OPT-PARTICIPANT`, `NON-PARTICIPANT`, `CHAIR`.
    pub role: Option<String>,
    /// `ACCEPTED`, `DECLINED`, `TENTATIVE`, `NEEDS-ACTION`.
    pub partstat: Option<String>,
}

/// One VEVENT, VTODO or VJOURNAL with the fields Outlook items have.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// `Event` when `None`.
    pub kind: Option<ObjectKind>,
    pub uid: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub start: Option<When>,
    pub end: Option<When>,
    /// VTODO `DUE`.
    pub due: Option<When>,
    /// `FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=...` (without `RRULE:`).
    pub rrule: Option<String>,
    pub exdates: Vec<When>,
    /// Set on an exception of a recurring series (same `uid`).
    pub recurrence_id: Option<When>,
    pub organizer: Option<Participant>,
    pub attendees: Vec<Participant>,
    /// Reminders, minutes before the start.
    pub alarms_minutes_before: Vec<i64>,
    pub categories: Vec<String>,
    /// `PUBLIC`, `PRIVATE`, `CONFIDENTIAL`.
    pub class: Option<String>,
    /// `CONFIRMED`, `TENTATIVE`, `CANCELLED`, `COMPLETED`, ...
    pub status: Option<String>,
    /// `OPAQUE` (busy) or `TRANSPARENT` (free).
    pub transp: Option<String>,
    /// UTC stamps `YYYYMMDDTHHMMSSZ`.
    pub created: Option<String>,
    pub last_modified: Option<String>,
    /// Complete `BEGIN:VTIMEZONE ... END:VTIMEZONE` blocks for the TZIDs used.
    pub timezones: Vec<String>,
    /// Anything else, as complete content lines without folding
    /// (`X-MICROSOFT-CDO-BUSYSTATUS:BUSY`).
    pub extra_lines: Vec<String>,
}

fn when_line(out: &mut String, name: &str, w: &When) {
    let line = match w {
        When::Date(d) => format!("{name};VALUE=DATE:{d}"),
        When::Utc(t) => format!("{name}:{t}"),
        When::Local { value, tzid } => format!("{name};TZID={}:{value}", param(tzid)),
    };
    push_folded(out, &line);
}

fn param(s: &str) -> String {
    let v: String = s.chars().filter(|c| !c.is_control() && *c != '"').collect();
    if v.contains([':', ';', ',']) {
        format!("\"{v}\"")
    } else {
        v
    }
}

fn participant(out: &mut String, name: &str, p: &Participant) {
    let mut l = String::from(name);
    if let Some(n) = &p.name {
        l.push_str(&format!(";CN={}", param(n)));
    }
    if let Some(r) = &p.role {
        l.push_str(&format!(";ROLE={}", param(r)));
    }
    if let Some(s) = &p.partstat {
        l.push_str(&format!(";PARTSTAT={}", param(s)));
    }
    l.push_str(&format!(":mailto:{}", p.email.trim()));
    push_folded(out, &l);
}

impl Event {
    /// The item as an iCalendar text of its own.
    pub fn to_ics(&self) -> String {
        let comp = match self.kind.as_ref().unwrap_or(&ObjectKind::Event) {
            ObjectKind::Event => "VEVENT".to_owned(),
            ObjectKind::Todo => "VTODO".to_owned(),
            ObjectKind::Journal => "VJOURNAL".to_owned(),
            ObjectKind::FreeBusy => "VFREEBUSY".to_owned(),
            ObjectKind::Other(o) => o.to_ascii_uppercase(),
        };
        let mut o = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mailshift//calendar//EN\r\n");
        for tz in &self.timezones {
            for l in tz.lines().filter(|l| !l.trim().is_empty()) {
                o.push_str(l.trim_end());
                o.push_str("\r\n");
            }
        }
        o.push_str(&format!("BEGIN:{comp}\r\n"));
        push_folded(&mut o, &format!("UID:{}", self.uid));
        let stamp = self.last_modified.clone().or_else(|| self.created.clone());
        push_folded(&mut o, &format!("DTSTAMP:{}", stamp.as_deref().unwrap_or("19700101T000000Z")));
        for (name, v) in
            [("SUMMARY", &self.summary), ("DESCRIPTION", &self.description), ("LOCATION", &self.location)]
        {
            if let Some(v) = v {
                push_folded(&mut o, &format!("{name}:{}", escape_text(v)));
            }
        }
        for (name, w) in [("DTSTART", &self.start), ("DTEND", &self.end), ("DUE", &self.due)] {
            if let Some(w) = w {
                when_line(&mut o, name, w);
            }
        }
        if let Some(r) = &self.rrule {
            push_folded(&mut o, &format!("RRULE:{}", r.trim().trim_start_matches("RRULE:")));
        }
        for x in &self.exdates {
            when_line(&mut o, "EXDATE", x);
        }
        if let Some(r) = &self.recurrence_id {
            when_line(&mut o, "RECURRENCE-ID", r);
        }
        if let Some(p) = &self.organizer {
            participant(&mut o, "ORGANIZER", p);
        }
        for p in &self.attendees {
            participant(&mut o, "ATTENDEE", p);
        }
        if !self.categories.is_empty() {
            let c: Vec<String> = self.categories.iter().map(|c| escape_text(c)).collect();
            push_folded(&mut o, &format!("CATEGORIES:{}", c.join(",")));
        }
        for (name, v) in [
            ("CLASS", &self.class),
            ("STATUS", &self.status),
            ("TRANSP", &self.transp),
            ("CREATED", &self.created),
            ("LAST-MODIFIED", &self.last_modified),
        ] {
            if let Some(v) = v {
                push_folded(&mut o, &format!("{name}:{v}"));
            }
        }
        for l in &self.extra_lines {
            push_folded(&mut o, l.trim_end());
        }
        for m in &self.alarms_minutes_before {
            o.push_str("BEGIN:VALARM\r\nACTION:DISPLAY\r\n");
            push_folded(
                &mut o,
                &format!("DESCRIPTION:{}", escape_text(self.summary.as_deref().unwrap_or("Reminder"))),
            );
            let sign = if *m >= 0 { "-" } else { "" };
            o.push_str(&format!("TRIGGER:{sign}PT{}M\r\nEND:VALARM\r\n", m.abs()));
        }
        o.push_str(&format!("END:{comp}\r\nEND:VCALENDAR\r\n"));
        o
    }

    /// The item as a [`CalendarObject`] (parsed back, so it is checked).
    pub fn to_object(&self, origin: &Location, findings: &mut Vec<Finding>) -> Option<CalendarObject> {
        CalendarObject::from_ics(&self.to_ics(), origin, findings).into_iter().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calcard::icalendar::ICalendarProperty;

    #[test]
    fn an_appointment_with_zone_recurrence_and_attendees() {
        let e = Event {
            uid: "u1".into(),
            summary: Some("Weekly, team; sync".into()),
            start: Some(When::Local { value: "20240108T090000".into(), tzid: "Europe/Paris".into() }),
            end: Some(When::Local { value: "20240108T100000".into(), tzid: "Europe/Paris".into() }),
            rrule: Some("FREQ=WEEKLY;BYDAY=MO;COUNT=10".into()),
            organizer: Some(Participant { email: "boss@x.org".into(), name: Some("The Boss".into()), ..Default::default() }),
            attendees: vec![Participant { email: "a@x.org".into(), partstat: Some("ACCEPTED".into()), ..Default::default() }],
            alarms_minutes_before: vec![15],
            timezones: vec!["BEGIN:VTIMEZONE\nTZID:Europe/Paris\nBEGIN:STANDARD\nDTSTART:19701025T030000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nEND:STANDARD\nEND:VTIMEZONE".into()],
            ..Event::default()
        };
        let mut f = Vec::new();
        let o = e.to_object(&Location::path("pst"), &mut f).expect("object");
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(o.uid.as_deref(), Some("u1"));
        assert_eq!(o.property_text(&ICalendarProperty::Summary).as_deref(), Some("Weekly, team; sync"));
        let ics = o.to_ics();
        assert!(ics.contains("DTSTART;TZID=Europe/Paris:20240108T090000"), "{ics}");
        assert!(
            ics.contains("RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO")
                || ics.contains("RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10"),
            "{ics}"
        );
        assert!(ics.contains("BEGIN:VTIMEZONE") && ics.contains("TRIGGER:-PT15M"), "{ics}");
        assert!(ics.contains("mailto:a@x.org"), "{ics}");
    }
}
