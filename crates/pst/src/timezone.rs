//! Outlook time zones (MS-OXOCAL 2.2.1.39 PidLidTimeZoneStruct and 2.2.1.41
//! TZDEFINITION) as iCalendar: a `VTIMEZONE` with yearly rules, the UTC
//! offset at any instant (to write local times next to a `TZID`), and the
//! IANA name of a Windows zone id where CLDR's table knows it, so calendar
//! servers and clients recognise the zone.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Weekday};

/// A Windows SYSTEMTIME used as a transition rule: month, week of the
/// month (1-4, 5 = last), day of the week, time of day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transition {
    pub year: u16,
    pub month: u16,
    pub day_of_week: u16,
    pub day: u16,
    pub hour: u16,
    pub minute: u16,
}

/// One rule: the bias (minutes west of UTC, as Windows stores it) and the
/// transitions. `standard.month == 0` means no daylight saving time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TzRule {
    pub bias: i32,
    pub standard_bias: i32,
    pub daylight_bias: i32,
    pub standard: Transition,
    pub daylight: Transition,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

fn i32_at(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_le_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

fn systemtime(b: &[u8], at: usize) -> Option<Transition> {
    Some(Transition {
        year: u16_at(b, at)?,
        month: u16_at(b, at + 2)?,
        day_of_week: u16_at(b, at + 4)?,
        day: u16_at(b, at + 6)?,
        hour: u16_at(b, at + 8)?,
        minute: u16_at(b, at + 10)?,
    })
}

/// Parses PidLidTimeZoneStruct (48 bytes).
pub fn from_struct(b: &[u8]) -> Option<TzRule> {
    if b.len() < 48 {
        return None;
    }
    Some(TzRule {
        bias: i32_at(b, 0)?,
        standard_bias: i32_at(b, 4)?,
        daylight_bias: i32_at(b, 8)?,
        standard: systemtime(b, 14)?,
        daylight: systemtime(b, 32)?,
    })
}

/// Parses a TZDEFINITION (PidLidAppointmentTimeZoneDefinitionStartDisplay
/// and friends): the Windows zone id and its effective rule (flag 0x2, else
/// the last one).
pub fn from_definition(b: &[u8]) -> Option<(String, TzRule)> {
    let header = usize::from(u16_at(b, 2)?);
    let cch = usize::from(u16_at(b, 6)?);
    let key = crate::value::utf16(b.get(8..8usize.checked_add(cch * 2)?)?);
    let count = usize::from(u16_at(b, 8 + cch * 2)?);
    let mut at = 4usize.checked_add(header)?;
    let mut chosen = None;
    for _ in 0..count.min(1024) {
        let Some(r) = b.get(at..at + 66) else { break };
        let flags = u16_at(r, 4)?;
        let rule = TzRule {
            bias: i32_at(r, 22)?,
            standard_bias: i32_at(r, 26)?,
            daylight_bias: i32_at(r, 30)?,
            standard: systemtime(r, 34)?,
            daylight: systemtime(r, 50)?,
        };
        let effective = flags & 0x2 != 0;
        if effective || chosen.is_none_or(|(e, _): (bool, TzRule)| !e) {
            chosen = Some((effective, rule));
        }
        at += 66;
    }
    chosen.map(|(_, r)| (key, r))
}

impl TzRule {
    pub fn has_dst(&self) -> bool {
        self.standard.month != 0 && self.daylight.month != 0
    }

    /// UTC offset in minutes (east positive) in standard time.
    pub fn standard_offset(&self) -> i32 {
        self.bias.saturating_add(self.standard_bias).saturating_neg()
    }

    /// UTC offset in minutes in daylight saving time.
    pub fn daylight_offset(&self) -> i32 {
        self.bias.saturating_add(self.daylight_bias).saturating_neg()
    }

    /// The local date-time of a transition in `year`.
    fn transition_local(t: &Transition, year: i32) -> Option<NaiveDateTime> {
        let month = u32::from(t.month);
        let date = if t.year != 0 {
            NaiveDate::from_ymd_opt(year, month, u32::from(t.day))?
        } else {
            let dow = Weekday::try_from(u8::try_from(t.day_of_week % 7).ok()?).ok()?;
            // chrono's Weekday counts from Monday; Windows from Sunday.
            let dow = dow.pred();
            let n = u8::try_from(t.day.clamp(1, 5)).ok()?;
            (1..=n).rev().find_map(|k| NaiveDate::from_weekday_of_month_opt(year, month, dow, k))?
        };
        date.and_hms_opt(u32::from(t.hour.min(23)), u32::from(t.minute.min(59)), 0)
    }

    /// Whether DST is in force at UTC `secs`.
    fn dst_at_utc(&self, secs: i64) -> bool {
        if !self.has_dst() {
            return false;
        }
        let Some(utc) = chrono::DateTime::from_timestamp(secs, 0) else { return false };
        let year = utc.year();
        let (Some(start), Some(end)) =
            (Self::transition_local(&self.daylight, year), Self::transition_local(&self.standard, year))
        else {
            return false;
        };
        let start = start.and_utc().timestamp() - i64::from(self.standard_offset()) * 60;
        let end = end.and_utc().timestamp() - i64::from(self.daylight_offset()) * 60;
        if start < end {
            secs >= start && secs < end
        } else {
            secs >= start || secs < end
        }
    }

    /// The UTC offset in minutes at UTC `secs`.
    pub fn offset_at_utc(&self, secs: i64) -> i32 {
        if self.dst_at_utc(secs) {
            self.daylight_offset()
        } else {
            self.standard_offset()
        }
    }

    /// The UTC offset in minutes for a local time (seconds since the epoch
    /// read as if local were UTC): the standard guess, corrected once.
    pub fn offset_at_local(&self, local_secs: i64) -> i32 {
        let guess = local_secs - i64::from(self.standard_offset()) * 60;
        self.offset_at_utc(guess)
    }

    /// A complete VTIMEZONE block (lines joined with CRLF, no final break).
    pub fn vtimezone(&self, tzid: &str) -> String {
        let tzid: String = tzid.chars().filter(|c| !c.is_control()).collect();
        let mut o = format!("BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\n");
        let (std, dst) = (self.standard_offset(), self.daylight_offset());
        if !self.has_dst() {
            o.push_str(&format!(
                "BEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:{0}\r\nTZOFFSETTO:{0}\r\nEND:STANDARD\r\n",
                offset_text(std)
            ));
        } else {
            for (name, t, from, to) in
                [("STANDARD", &self.standard, dst, std), ("DAYLIGHT", &self.daylight, std, dst)]
            {
                let start = Self::transition_local(t, 1970)
                    .map(|d| d.format("%Y%m%dT%H%M%S").to_string())
                    .unwrap_or_else(|| "19700101T000000".into());
                let rule = if t.year != 0 {
                    format!("FREQ=YEARLY;BYMONTH={};BYMONTHDAY={}", t.month, t.day)
                } else {
                    let n = if t.day >= 5 { -1 } else { i32::from(t.day.max(1)) };
                    format!("FREQ=YEARLY;BYMONTH={};BYDAY={n}{}", t.month, weekday_code(t.day_of_week))
                };
                o.push_str(&format!(
                    "BEGIN:{name}\r\nDTSTART:{start}\r\nRRULE:{rule}\r\nTZOFFSETFROM:{}\r\nTZOFFSETTO:{}\r\nEND:{name}\r\n",
                    offset_text(from),
                    offset_text(to)
                ));
            }
        }
        o.push_str("END:VTIMEZONE");
        o
    }
}

/// `SU`..`SA` for a Windows day of the week (0 = Sunday).
pub fn weekday_code(d: u16) -> &'static str {
    ["SU", "MO", "TU", "WE", "TH", "FR", "SA"][usize::from(d % 7)]
}

/// `+0100`, `-0530`.
pub fn offset_text(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.unsigned_abs().min(24 * 60 - 1);
    format!("{sign}{:02}{:02}", m / 60, m % 60)
}

/// The IANA zone for a Windows zone id (CLDR windowsZones, territory
/// "001"), also matched against Outlook's display names ("(UTC+01:00)
/// Amsterdam, Berlin, ...") by their city lists.
pub fn windows_to_iana(name: &str) -> Option<&'static str> {
    let n = name.trim();
    for (win, iana, cities) in ZONES {
        if n.eq_ignore_ascii_case(win) {
            return Some(iana);
        }
        if !cities.is_empty() && n.contains(cities) {
            return Some(iana);
        }
    }
    None
}

/// (Windows id, IANA zone, a distinctive part of Outlook's display name).
const ZONES: &[(&str, &str, &str)] = &[
    ("Dateline Standard Time", "Etc/GMT+12", "International Date Line West"),
    ("Hawaiian Standard Time", "Pacific/Honolulu", "Hawaii"),
    ("Alaskan Standard Time", "America/Anchorage", "Alaska"),
    ("Pacific Standard Time", "America/Los_Angeles", "Pacific Time (US & Canada)"),
    ("US Mountain Standard Time", "America/Phoenix", "Arizona"),
    ("Mountain Standard Time", "America/Denver", "Mountain Time (US & Canada)"),
    ("Central Standard Time", "America/Chicago", "Central Time (US & Canada)"),
    ("Central America Standard Time", "America/Guatemala", "Central America"),
    ("Canada Central Standard Time", "America/Regina", "Saskatchewan"),
    ("Central Standard Time (Mexico)", "America/Mexico_City", "Guadalajara, Mexico City"),
    ("Eastern Standard Time", "America/New_York", "Eastern Time (US & Canada)"),
    ("US Eastern Standard Time", "America/Indianapolis", "Indiana (East)"),
    ("SA Pacific Standard Time", "America/Bogota", "Bogota, Lima, Quito"),
    ("Atlantic Standard Time", "America/Halifax", "Atlantic Time (Canada)"),
    ("Venezuela Standard Time", "America/Caracas", "Caracas"),
    ("SA Western Standard Time", "America/La_Paz", "Georgetown, La Paz"),
    ("Pacific SA Standard Time", "America/Santiago", "Santiago"),
    ("Newfoundland Standard Time", "America/St_Johns", "Newfoundland"),
    ("E. South America Standard Time", "America/Sao_Paulo", "Brasilia"),
    ("Argentina Standard Time", "America/Buenos_Aires", "Buenos Aires"),
    ("SA Eastern Standard Time", "America/Cayenne", "Cayenne, Fortaleza"),
    ("Greenland Standard Time", "America/Godthab", "Greenland"),
    ("UTC-02", "Etc/GMT+2", "Coordinated Universal Time-02"),
    ("Azores Standard Time", "Atlantic/Azores", "Azores"),
    ("Cape Verde Standard Time", "Atlantic/Cape_Verde", "Cabo Verde"),
    ("UTC", "Etc/UTC", "Coordinated Universal Time"),
    ("GMT Standard Time", "Europe/London", "Dublin, Edinburgh, Lisbon, London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik", "Monrovia, Reykjavik"),
    ("W. Europe Standard Time", "Europe/Berlin", "Amsterdam, Berlin"),
    ("Central Europe Standard Time", "Europe/Budapest", "Belgrade, Bratislava"),
    ("Romance Standard Time", "Europe/Paris", "Brussels, Copenhagen, Madrid, Paris"),
    ("Central European Standard Time", "Europe/Warsaw", "Sarajevo, Skopje, Warsaw"),
    ("W. Central Africa Standard Time", "Africa/Lagos", "West Central Africa"),
    ("GTB Standard Time", "Europe/Bucharest", "Athens, Bucharest"),
    ("E. Europe Standard Time", "Europe/Chisinau", "Chisinau"),
    ("Egypt Standard Time", "Africa/Cairo", "Cairo"),
    ("South Africa Standard Time", "Africa/Johannesburg", "Harare, Pretoria"),
    ("FLE Standard Time", "Europe/Kiev", "Helsinki, Kyiv"),
    ("Israel Standard Time", "Asia/Jerusalem", "Jerusalem"),
    ("Turkey Standard Time", "Europe/Istanbul", "Istanbul"),
    ("Arabic Standard Time", "Asia/Baghdad", "Baghdad"),
    ("Arab Standard Time", "Asia/Riyadh", "Kuwait, Riyadh"),
    ("Russian Standard Time", "Europe/Moscow", "Moscow, St. Petersburg"),
    ("E. Africa Standard Time", "Africa/Nairobi", "Nairobi"),
    ("Iran Standard Time", "Asia/Tehran", "Tehran"),
    ("Arabian Standard Time", "Asia/Dubai", "Abu Dhabi, Muscat"),
    ("Afghanistan Standard Time", "Asia/Kabul", "Kabul"),
    ("Pakistan Standard Time", "Asia/Karachi", "Islamabad, Karachi"),
    ("India Standard Time", "Asia/Calcutta", "Chennai, Kolkata, Mumbai, New Delhi"),
    ("Nepal Standard Time", "Asia/Katmandu", "Kathmandu"),
    ("Bangladesh Standard Time", "Asia/Dhaka", "Dhaka"),
    ("SE Asia Standard Time", "Asia/Bangkok", "Bangkok, Hanoi, Jakarta"),
    ("China Standard Time", "Asia/Shanghai", "Beijing, Chongqing, Hong Kong"),
    ("Singapore Standard Time", "Asia/Singapore", "Kuala Lumpur, Singapore"),
    ("Taipei Standard Time", "Asia/Taipei", "Taipei"),
    ("W. Australia Standard Time", "Australia/Perth", "Perth"),
    ("Tokyo Standard Time", "Asia/Tokyo", "Osaka, Sapporo, Tokyo"),
    ("Korea Standard Time", "Asia/Seoul", "Seoul"),
    ("Cen. Australia Standard Time", "Australia/Adelaide", "Adelaide"),
    ("AUS Central Standard Time", "Australia/Darwin", "Darwin"),
    ("E. Australia Standard Time", "Australia/Brisbane", "Brisbane"),
    ("AUS Eastern Standard Time", "Australia/Sydney", "Canberra, Melbourne, Sydney"),
    ("Tasmania Standard Time", "Australia/Hobart", "Hobart"),
    ("West Pacific Standard Time", "Pacific/Port_Moresby", "Guam, Port Moresby"),
    ("New Zealand Standard Time", "Pacific/Auckland", "Auckland, Wellington"),
    ("Tonga Standard Time", "Pacific/Tongatapu", "Nuku'alofa"),
];

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// W. Europe: bias -60, DST from the last Sunday of March 02:00 to the
    /// last Sunday of October 03:00, as Outlook writes it.
    pub(crate) fn berlin_struct() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&(-60i32).to_le_bytes());
        b.extend_from_slice(&0i32.to_le_bytes());
        b.extend_from_slice(&(-60i32).to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        for v in [0u16, 10, 0, 5, 3, 0, 0, 0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&0u16.to_le_bytes());
        for v in [0u16, 3, 0, 5, 2, 0, 0, 0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b
    }

    #[test]
    fn offsets_and_vtimezone() {
        let r = from_struct(&berlin_struct()).unwrap();
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp();
        assert_eq!(r.offset_at_utc(at("2024-01-15T12:00:00Z")), 60);
        assert_eq!(r.offset_at_utc(at("2024-07-15T12:00:00Z")), 120);
        assert_eq!(r.offset_at_utc(at("2024-03-31T00:59:00Z")), 60);
        assert_eq!(r.offset_at_utc(at("2024-03-31T01:00:00Z")), 120);
        assert_eq!(r.offset_at_utc(at("2024-10-27T00:59:00Z")), 120);
        assert_eq!(r.offset_at_utc(at("2024-10-27T01:00:00Z")), 60);
        let v = r.vtimezone("Europe/Berlin");
        assert!(v.contains("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"), "{v}");
        assert!(v.contains("DTSTART:19701025T030000") && v.contains("TZOFFSETTO:+0200"), "{v}");
        assert_eq!(windows_to_iana("W. Europe Standard Time"), Some("Europe/Berlin"));
        assert_eq!(windows_to_iana("(GMT-05:00) Eastern Time (US & Canada)"), Some("America/New_York"));
        assert!(from_struct(&[0; 47]).is_none());
    }

    #[test]
    fn definition_blob() {
        let key = "Tokyo Standard Time";
        let mut b = vec![2, 1];
        let header = 2 + 2 + key.len() * 2 + 2;
        b.extend_from_slice(&(header as u16).to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&(key.len() as u16).to_le_bytes());
        for u in key.encode_utf16() {
            b.extend_from_slice(&u.to_le_bytes());
        }
        b.extend_from_slice(&1u16.to_le_bytes());
        let mut rule = vec![2, 1, 0x3E, 0, 2, 0, 0xD8, 7];
        rule.extend_from_slice(&[0; 14]);
        rule.extend_from_slice(&(-540i32).to_le_bytes());
        rule.extend_from_slice(&[0; 8 + 32]);
        b.extend_from_slice(&rule);
        let (k, r) = from_definition(&b).unwrap();
        assert_eq!(k, key);
        assert_eq!((r.standard_offset(), r.has_dst()), (540, false));
        for n in 0..b.len() {
            let _ = from_definition(&b[..n]);
        }
    }
}
