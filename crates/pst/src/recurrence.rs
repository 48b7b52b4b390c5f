//! Outlook's recurrence blob (MS-OXOCAL 2.2.1.44: RecurrencePattern and
//! AppointmentRecurrencePattern, in PidLidAppointmentRecur) and its
//! translation to an iCalendar `RRULE`, deleted instances (`EXDATE`) and
//! modified instances (exceptions, written as `RECURRENCE-ID` overrides).
//!
//! Every count in the blob is bounded by the bytes actually present, and
//! every read is checked: bad input is an `Err` naming the offset, never a
//! panic or a huge allocation. Patterns that have no RRULE equivalent
//! (Hijri calendars) are an `Err` too, which the caller reports as a finding.

use chrono::{Datelike, NaiveDateTime};

use crate::timezone::weekday_code;

/// RecurFrequency values.
pub const FREQ_DAILY: u16 = 0x200A;
pub const FREQ_WEEKLY: u16 = 0x200B;
pub const FREQ_MONTHLY: u16 = 0x200C;
pub const FREQ_YEARLY: u16 = 0x200D;
/// EndType values.
pub const END_AFTER_DATE: u32 = 0x2021;
pub const END_AFTER_N: u32 = 0x2022;

/// One modified instance (ExceptionInfo, with its ExtendedException's
/// Unicode subject and location when present). Times are local, in minutes
/// since 1601-01-01.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exception {
    pub start: u32,
    pub end: u32,
    pub original_start: u32,
    pub override_flags: u16,
    pub subject: Option<String>,
    pub location: Option<String>,
    pub meeting_type: Option<u32>,
    pub reminder_delta: Option<u32>,
    pub reminder_set: Option<bool>,
    pub busy_status: Option<u32>,
    pub subtype: Option<u32>,
}

/// The parsed blob.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recurrence {
    pub frequency: u16,
    pub pattern_type: u16,
    pub calendar_type: u16,
    pub first_date_time: u32,
    pub period: u32,
    pub sliding: u32,
    /// Day mask (bit 0 = Sunday) for week and month-nth patterns.
    pub day_mask: u32,
    /// Day of the month (month patterns) or week number 1-5 (month-nth, 5 = last).
    pub day_or_nth: u32,
    pub end_type: u32,
    pub occurrence_count: u32,
    pub first_dow: u32,
    /// Local midnight (minutes since 1601) of each deleted or modified instance.
    pub deleted: Vec<u32>,
    /// Local midnight of each modified instance.
    pub modified: Vec<u32>,
    pub start_date: u32,
    pub end_date: u32,
    /// From the appointment part: minutes after midnight of start and end.
    pub start_offset: Option<u32>,
    pub end_offset: Option<u32>,
    pub exceptions: Vec<Exception>,
}

struct Cur<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len()).ok_or_else(|| {
            format!("recurrence blob ends at byte {} while reading {what} ({n} bytes)", self.b.len())
        })?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u16(&mut self, what: &str) -> Result<u16, String> {
        let s = self.take(2, what)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let s = self.take(4, what)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn left(&self) -> usize {
        self.b.len().saturating_sub(self.at)
    }

    /// A count of items of `size` bytes each, refused when the blob cannot hold them.
    fn count(&mut self, size: usize, what: &str, wide: bool) -> Result<usize, String> {
        let at = self.at;
        let n = if wide { self.u32(what)? as usize } else { usize::from(self.u16(what)?) };
        if n.saturating_mul(size) > self.left() {
            return Err(format!("{what} at byte {at} is {n}, more than the blob can hold"));
        }
        Ok(n)
    }
}

/// Parses PidLidAppointmentRecur (or a task's PidLidTaskRecurrence, which
/// holds only the RecurrencePattern part).
pub fn parse(b: &[u8]) -> Result<Recurrence, String> {
    let mut c = Cur { b, at: 0 };
    let mut r = Recurrence::default();
    let reader = c.u16("ReaderVersion")?;
    let _writer = c.u16("WriterVersion")?;
    if reader != 0x3004 {
        return Err(format!("unknown recurrence blob version {reader:#06x}"));
    }
    r.frequency = c.u16("RecurFrequency")?;
    r.pattern_type = c.u16("PatternType")?;
    r.calendar_type = c.u16("CalendarType")?;
    r.first_date_time = c.u32("FirstDateTime")?;
    r.period = c.u32("Period")?;
    r.sliding = c.u32("SlidingFlag")?;
    match r.pattern_type {
        0 => {}
        1 => r.day_mask = c.u32("PatternTypeSpecific")?,
        2 | 3 | 0xA | 0xC => r.day_or_nth = c.u32("PatternTypeSpecific")?,
        4 | 0xB => {
            r.day_mask = c.u32("PatternTypeSpecific")?;
            r.day_or_nth = c.u32("PatternTypeSpecific")?;
        }
        p => return Err(format!("unknown recurrence pattern type {p:#x}")),
    }
    r.end_type = c.u32("EndType")?;
    r.occurrence_count = c.u32("OccurrenceCount")?;
    r.first_dow = c.u32("FirstDOW")?;
    let n = c.count(4, "DeletedInstanceCount", true)?;
    for _ in 0..n {
        r.deleted.push(c.u32("DeletedInstanceDates")?);
    }
    let n = c.count(4, "ModifiedInstanceCount", true)?;
    for _ in 0..n {
        r.modified.push(c.u32("ModifiedInstanceDates")?);
    }
    r.start_date = c.u32("StartDate")?;
    r.end_date = c.u32("EndDate")?;
    if c.left() == 0 {
        return Ok(r);
    }
    // AppointmentRecurrencePattern.
    let _reader2 = c.u32("ReaderVersion2")?;
    let writer2 = c.u32("WriterVersion2")?;
    r.start_offset = Some(c.u32("StartTimeOffset")?);
    r.end_offset = Some(c.u32("EndTimeOffset")?);
    let n = c.count(14, "ExceptionCount", false)?;
    for _ in 0..n {
        r.exceptions.push(exception_info(&mut c)?);
    }
    let reserved = c.u32("ReservedBlock1Size")? as usize;
    c.take(reserved, "ReservedBlock1")?;
    if writer2 >= 0x3009 {
        for e in &mut r.exceptions {
            extended_exception(&mut c, e, writer2)?;
        }
    }
    Ok(r)
}

/// A counted 8-bit string of ExceptionInfo (length + 1, length, bytes).
fn ansi_string(c: &mut Cur<'_>, what: &str) -> Result<String, String> {
    let _len1 = c.u16(what)?;
    let len = usize::from(c.u16(what)?);
    Ok(crate::value::decode_8bit(c.take(len, what)?, 0))
}

fn exception_info(c: &mut Cur<'_>) -> Result<Exception, String> {
    let mut e = Exception {
        start: c.u32("ExceptionInfo.StartDateTime")?,
        end: c.u32("ExceptionInfo.EndDateTime")?,
        original_start: c.u32("ExceptionInfo.OriginalStartDate")?,
        override_flags: c.u16("ExceptionInfo.OverrideFlags")?,
        ..Exception::default()
    };
    let f = e.override_flags;
    if f & 0x0001 != 0 {
        e.subject = Some(ansi_string(c, "ExceptionInfo.Subject")?);
    }
    if f & 0x0002 != 0 {
        e.meeting_type = Some(c.u32("ExceptionInfo.MeetingType")?);
    }
    if f & 0x0004 != 0 {
        e.reminder_delta = Some(c.u32("ExceptionInfo.ReminderDelta")?);
    }
    if f & 0x0008 != 0 {
        e.reminder_set = Some(c.u32("ExceptionInfo.ReminderSet")? != 0);
    }
    if f & 0x0010 != 0 {
        e.location = Some(ansi_string(c, "ExceptionInfo.Location")?);
    }
    if f & 0x0020 != 0 {
        e.busy_status = Some(c.u32("ExceptionInfo.BusyStatus")?);
    }
    if f & 0x0040 != 0 {
        c.u32("ExceptionInfo.Attachment")?;
    }
    if f & 0x0080 != 0 {
        e.subtype = Some(c.u32("ExceptionInfo.SubType")?);
    }
    if f & 0x0100 != 0 {
        c.u32("ExceptionInfo.AppointmentColor")?;
    }
    Ok(e)
}

fn wide_string(c: &mut Cur<'_>, what: &str) -> Result<String, String> {
    let n = usize::from(c.u16(what)?);
    Ok(crate::value::utf16(c.take(n.saturating_mul(2), what)?))
}

fn extended_exception(c: &mut Cur<'_>, e: &mut Exception, writer2: u32) -> Result<(), String> {
    if writer2 >= 0x3009 {
        let size = c.u32("ChangeHighlightSize")? as usize;
        c.take(size, "ChangeHighlight")?;
    }
    let size = c.u32("ReservedBlockEE1Size")? as usize;
    c.take(size, "ReservedBlockEE1")?;
    if e.override_flags & 0x0011 != 0 {
        c.u32("ExtendedException.StartDateTime")?;
        c.u32("ExtendedException.EndDateTime")?;
        c.u32("ExtendedException.OriginalStartDate")?;
        if e.override_flags & 0x0001 != 0 {
            e.subject = Some(wide_string(c, "ExtendedException.Subject")?);
        }
        if e.override_flags & 0x0010 != 0 {
            e.location = Some(wide_string(c, "ExtendedException.Location")?);
        }
        let size = c.u32("ReservedBlockEE2Size")? as usize;
        c.take(size, "ReservedBlockEE2")?;
    }
    Ok(())
}

/// Minutes since 1601-01-01 (local) as a date-time.
pub fn minutes_to_datetime(minutes: u32) -> Option<NaiveDateTime> {
    chrono::DateTime::from_timestamp(crate::value::minutes_1601_secs(minutes), 0).map(|d| d.naive_utc())
}

fn days(mask: u32) -> String {
    (0..7u16).filter(|d| mask & (1 << d) != 0).map(weekday_code).collect::<Vec<_>>().join(",")
}

impl Recurrence {
    /// The `RRULE` value (without `RRULE:`). `until` is the formatted UNTIL
    /// value for an end-by-date series (a DATE for all-day events, else a
    /// UTC date-time), computed by the caller who knows the time zone.
    pub fn rrule(&self, until: Option<&str>) -> Result<String, String> {
        if !matches!(self.calendar_type, 0 | 1) || self.pattern_type >= 0xA {
            return Err(format!(
                "recurrence in calendar type {} (pattern {:#x}) has no iCalendar equivalent",
                self.calendar_type, self.pattern_type
            ));
        }
        let nth = |n: u32| if n >= 5 { -1 } else { n.max(1) as i32 };
        let mut parts = Vec::new();
        match (self.frequency, self.pattern_type) {
            (FREQ_DAILY, 0) => {
                parts.push("FREQ=DAILY".to_owned());
                let interval = (self.period / 1440).max(1);
                if interval > 1 {
                    parts.push(format!("INTERVAL={interval}"));
                }
            }
            // "Every weekday" is a daily series with a week pattern.
            (FREQ_DAILY | FREQ_WEEKLY, 1) => {
                parts.push("FREQ=WEEKLY".to_owned());
                let interval = if self.frequency == FREQ_WEEKLY { self.period.max(1) } else { 1 };
                if interval > 1 {
                    parts.push(format!("INTERVAL={interval}"));
                }
                if self.day_mask & 0x7F == 0 {
                    return Err("weekly recurrence with no days".into());
                }
                parts.push(format!("BYDAY={}", days(self.day_mask)));
                parts.push(format!("WKST={}", weekday_code((self.first_dow % 7) as u16)));
            }
            (FREQ_MONTHLY | FREQ_YEARLY, p @ 2..=4) => {
                let yearly = self.frequency == FREQ_YEARLY;
                if yearly {
                    parts.push("FREQ=YEARLY".to_owned());
                    let interval = (self.period / 12).max(1);
                    if interval > 1 {
                        parts.push(format!("INTERVAL={interval}"));
                    }
                    let month = minutes_to_datetime(self.start_date).map_or(1, |d| d.month());
                    parts.push(format!("BYMONTH={month}"));
                } else {
                    parts.push("FREQ=MONTHLY".to_owned());
                    if self.period > 1 {
                        parts.push(format!("INTERVAL={}", self.period));
                    }
                }
                match p {
                    // Outlook's "day 31" means the last day in shorter months.
                    2 if self.day_or_nth < 31 => parts.push(format!("BYMONTHDAY={}", self.day_or_nth.max(1))),
                    2 | 3 => parts.push("BYMONTHDAY=-1".to_owned()),
                    _ => {
                        if self.day_mask & 0x7F == 0 {
                            return Err("month-nth recurrence with no days".into());
                        }
                        parts.push(format!("BYDAY={}", days(self.day_mask)));
                        parts.push(format!("BYSETPOS={}", nth(self.day_or_nth)));
                    }
                }
            }
            (f, p) => return Err(format!("unknown recurrence frequency {f:#06x} with pattern {p:#x}")),
        }
        match self.end_type {
            END_AFTER_DATE => {
                if let Some(u) = until {
                    parts.push(format!("UNTIL={u}"));
                }
            }
            END_AFTER_N => parts.push(format!("COUNT={}", self.occurrence_count.max(1))),
            _ => {}
        }
        Ok(parts.join(";"))
    }

    /// Original dates (local midnight, minutes) of deleted instances that
    /// were not modified: the `EXDATE`s.
    pub fn exdates(&self) -> Vec<u32> {
        let modified: Vec<u32> = self
            .exceptions
            .iter()
            .map(|e| e.original_start / 1440 * 1440)
            .chain(self.modified.iter().copied())
            .collect();
        self.deleted.iter().copied().filter(|d| !modified.contains(d)).collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a blob: the pattern part, then an appointment part with the given exceptions.
    pub(crate) struct Blob {
        pub freq: u16,
        pub pattern: u16,
        pub period: u32,
        pub specific: Vec<u32>,
        pub end_type: u32,
        pub count: u32,
        pub deleted: Vec<u32>,
        pub modified: Vec<u32>,
        pub start: u32,
        pub end: u32,
        pub exceptions: Vec<(u32, u32, u32, Option<&'static str>)>,
    }

    impl Blob {
        pub(crate) fn bytes(&self) -> Vec<u8> {
            let mut b = Vec::new();
            let u16s = |b: &mut Vec<u8>, v: u16| b.extend_from_slice(&v.to_le_bytes());
            let u32s = |b: &mut Vec<u8>, v: u32| b.extend_from_slice(&v.to_le_bytes());
            u16s(&mut b, 0x3004);
            u16s(&mut b, 0x3004);
            u16s(&mut b, self.freq);
            u16s(&mut b, self.pattern);
            u16s(&mut b, 0);
            u32s(&mut b, 0);
            u32s(&mut b, self.period);
            u32s(&mut b, 0);
            for s in &self.specific {
                u32s(&mut b, *s);
            }
            u32s(&mut b, self.end_type);
            u32s(&mut b, self.count);
            u32s(&mut b, 1);
            u32s(&mut b, self.deleted.len() as u32);
            for d in &self.deleted {
                u32s(&mut b, *d);
            }
            u32s(&mut b, self.modified.len() as u32);
            for d in &self.modified {
                u32s(&mut b, *d);
            }
            u32s(&mut b, self.start);
            u32s(&mut b, self.end);
            u32s(&mut b, 0x3006);
            u32s(&mut b, 0x3009);
            u32s(&mut b, 9 * 60);
            u32s(&mut b, 10 * 60);
            u16s(&mut b, self.exceptions.len() as u16);
            for (s, e, o, subj) in &self.exceptions {
                u32s(&mut b, *s);
                u32s(&mut b, *e);
                u32s(&mut b, *o);
                if let Some(t) = subj {
                    u16s(&mut b, 0x0001);
                    u16s(&mut b, t.len() as u16 + 1);
                    u16s(&mut b, t.len() as u16);
                    b.extend_from_slice(t.as_bytes());
                } else {
                    u16s(&mut b, 0);
                }
            }
            u32s(&mut b, 0);
            for (s, e, o, subj) in &self.exceptions {
                // ChangeHighlight: size 4, value; then an empty ReservedBlockEE1.
                u32s(&mut b, 4);
                u32s(&mut b, 0);
                u32s(&mut b, 0);
                if let Some(t) = subj {
                    u32s(&mut b, *s);
                    u32s(&mut b, *e);
                    u32s(&mut b, *o);
                    let wide: Vec<u16> = format!("{t} ✓").encode_utf16().collect();
                    u16s(&mut b, wide.len() as u16);
                    for w in wide {
                        u16s(&mut b, w);
                    }
                    u32s(&mut b, 0);
                }
            }
            u32s(&mut b, 0);
            b
        }
    }

    /// Minutes since 1601 of a local date (midnight).
    pub(crate) fn day(y: i32, m: u32, d: u32) -> u32 {
        let base = chrono::NaiveDate::from_ymd_opt(1601, 1, 1).unwrap();
        let t = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        ((t - base).num_minutes()) as u32
    }

    fn weekly() -> Blob {
        Blob {
            freq: FREQ_WEEKLY,
            pattern: 1,
            period: 2,
            specific: vec![0b0010_1010],
            end_type: END_AFTER_N,
            count: 10,
            deleted: vec![day(2024, 1, 10), day(2024, 1, 22)],
            modified: vec![day(2024, 1, 22)],
            start: day(2024, 1, 8),
            end: day(2024, 3, 1),
            exceptions: vec![(
                day(2024, 1, 22) + 11 * 60,
                day(2024, 1, 22) + 12 * 60,
                day(2024, 1, 22) + 9 * 60,
                Some("Moved"),
            )],
        }
    }

    #[test]
    fn weekly_with_exceptions() {
        let r = parse(&weekly().bytes()).unwrap();
        assert_eq!(r.rrule(None).unwrap(), "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,FR;WKST=MO;COUNT=10");
        assert_eq!(r.exdates(), vec![day(2024, 1, 10)]);
        assert_eq!(r.exceptions.len(), 1);
        assert_eq!(r.exceptions[0].subject.as_deref(), Some("Moved ✓"));
        assert_eq!((r.start_offset, r.end_offset), (Some(540), Some(600)));
        assert_eq!(minutes_to_datetime(r.start_date).unwrap().to_string(), "2024-01-08 00:00:00");
    }

    #[test]
    fn every_kind_of_pattern() {
        let mut b = weekly();
        b.exceptions.clear();
        type Case = (u16, u16, u32, Vec<u32>, u32, &'static str);
        let cases: Vec<Case> = vec![
            (FREQ_DAILY, 0, 2880, vec![], END_AFTER_DATE, "FREQ=DAILY;INTERVAL=2;UNTIL=20240301"),
            (FREQ_DAILY, 1, 1, vec![0x3E], 0x2023, "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;WKST=MO"),
            (FREQ_MONTHLY, 2, 1, vec![15], END_AFTER_N, "FREQ=MONTHLY;BYMONTHDAY=15;COUNT=10"),
            (FREQ_MONTHLY, 2, 3, vec![31], 0x2023, "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1"),
            (FREQ_MONTHLY, 4, 1, vec![0x10, 5], 0x2023, "FREQ=MONTHLY;BYDAY=TH;BYSETPOS=-1"),
            (FREQ_YEARLY, 2, 12, vec![8], 0x2023, "FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=8"),
            (
                FREQ_YEARLY,
                4,
                24,
                vec![0x02, 2],
                0x2023,
                "FREQ=YEARLY;INTERVAL=2;BYMONTH=1;BYDAY=MO;BYSETPOS=2",
            ),
        ];
        for (freq, pattern, period, specific, end_type, want) in cases {
            let blob = Blob { freq, pattern, period, specific, end_type, ..weekly() };
            let r = parse(&blob.bytes()).unwrap();
            assert_eq!(r.rrule(Some("20240301")).unwrap(), want);
        }
        let hijri = Blob { pattern: 0xA, specific: vec![1], freq: FREQ_MONTHLY, ..weekly() };
        assert!(parse(&hijri.bytes()).unwrap().rrule(None).is_err());
    }

    #[test]
    fn damaged_blobs_are_errors_not_panics() {
        let good = weekly().bytes();
        for n in 0..good.len() {
            let _ = parse(&good[..n]);
        }
        // A huge deleted-instance count is refused before any allocation.
        let mut bad = good.clone();
        let at = 22 + 4 + 12; // header, one specific value, end type, count, first dow
        bad[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let e = parse(&bad).unwrap_err();
        assert!(e.contains("DeletedInstanceCount"), "{e}");
        assert!(parse(&[0x04, 0x30, 0x04]).is_err());
    }
}
