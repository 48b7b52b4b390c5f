//! The From_ line: `From SENDER DATE [remote from HOST]`.
//!
//! The date is "asctime" in theory (`Sat Jan  3 01:05:34 1996`) and many
//! things in practice: without seconds, with a time zone name or offset
//! before or after the year (`+0100`, `GMT`, `MET DST`), with the year
//! before the time, with a comma, with RFC 2822 order (`3 Jan 1996`).
//! Rather than one pattern per writer, the tokens are classified (weekday,
//! month, day, year, time, zone) in any order; a date needs a month, a day,
//! a year and a time, and any unknown word makes it unparseable.

use chrono::{FixedOffset, NaiveDate, TimeZone};
use mailshift_model::Timestamp;

/// What a From_ line says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FromLine {
    /// The envelope sender; `None` for Thunderbird's `-` or a missing one.
    pub sender: Option<String>,
    /// The date, where it parses.
    pub date: Option<Timestamp>,
    /// Whether there was anything after the sender (a date that did not parse).
    pub has_date_text: bool,
}

const MONTHS: [&str; 12] =
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Parses a From_ line (with or without its line ending). `line` must start
/// with `From `.
pub fn parse(line: &[u8]) -> FromLine {
    let text = String::from_utf8_lossy(line);
    let rest = text.strip_prefix("From ").unwrap_or(&text);
    let rest = rest.trim_end_matches(['\r', '\n']);
    let mut tokens: Vec<&str> = rest.split_ascii_whitespace().collect();
    if let Some(i) = tokens.iter().position(|t| t.eq_ignore_ascii_case("remote")) {
        if tokens.get(i + 1).is_some_and(|t| t.eq_ignore_ascii_case("from")) {
            tokens.truncate(i);
        }
    }
    if tokens.is_empty() {
        return FromLine::default();
    }
    // Usually the first token is the sender; a line without one starts
    // straight with the date.
    if let Some(date) = parse_date(&tokens[1..]) {
        return FromLine { sender: sender(tokens[0]), date: Some(date), has_date_text: true };
    }
    if let Some(date) = parse_date(&tokens) {
        return FromLine { sender: None, date: Some(date), has_date_text: true };
    }
    FromLine { sender: sender(tokens[0]), date: None, has_date_text: tokens.len() > 1 }
}

fn sender(token: &str) -> Option<String> {
    (token != "-" && !token.is_empty()).then(|| token.to_owned())
}

/// Whether `line` is a From_ line with a date that parses: such a line is a
/// separator even without a blank line before it.
pub fn is_strict(line: &[u8]) -> bool {
    line.starts_with(b"From ") && line.len() < 1024 && parse(line).date.is_some()
}

/// Parses the date tokens of a From_ line; `None` unless they form a date.
pub fn parse_date(tokens: &[&str]) -> Option<Timestamp> {
    let (mut month, mut day, mut year, mut time, mut zone) = (None, None, None, None, None::<i32>);
    for raw in tokens {
        let t = raw.trim_matches(',');
        if t.is_empty() {
            continue;
        }
        let lower = t.to_ascii_lowercase();
        if t.contains(':') && t.bytes().next().is_some_and(|b| b.is_ascii_digit()) && time.is_none() {
            time = Some(parse_time(t)?);
        } else if t.bytes().all(|b| b.is_ascii_digit()) {
            let n: u32 = t.parse().ok()?;
            if t.len() <= 2 && day.is_none() && (1..=31).contains(&n) {
                day = Some(n);
            } else if t.len() == 4 && year.is_none() {
                year = Some(i32::try_from(n).ok()?);
            } else if t.len() == 2 && year.is_none() {
                year = Some(if n < 70 { 2000 } else { 1900 } + i32::try_from(n).ok()?);
            } else {
                return None;
            }
        } else if (t.starts_with('+') || t.starts_with('-')) && zone.is_none() {
            zone = Some(parse_offset(t)?);
        } else if month.is_none() && is_name(&lower, &MONTHS) {
            month = Some(MONTHS.iter().position(|m| lower.starts_with(m))? + 1);
        } else if is_name(&lower, &DAYS) {
            // the weekday says nothing the date does not
        } else if let Some(off) = zone_name(&lower) {
            // `MET DST`: a summer-time marker after a zone adds an hour
            zone = Some(zone.unwrap_or(0) + off);
        } else {
            return None;
        }
    }
    let (h, m, s) = time?;
    let date = NaiveDate::from_ymd_opt(year?, u32::try_from(month?).ok()?, day?)?;
    let naive = date.and_hms_opt(h, m, s)?;
    // asctime has no zone: it is the writer's local time, which we cannot
    // know, so it is read as UTC.
    let offset = FixedOffset::east_opt(zone.unwrap_or(0))?;
    offset.from_local_datetime(&naive).single()
}

/// `mon` or `monday`, `sep` or `sept` or `september`: a known name or a
/// prefix-extension of one, nothing else.
fn is_name(lower: &str, names: &[&str]) -> bool {
    const FULL: [&str; 19] = [
        "january",
        "february",
        "march",
        "april",
        "june",
        "july",
        "august",
        "september",
        "sept",
        "october",
        "november",
        "december",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    names.contains(&lower) || (FULL.contains(&lower) && names.iter().any(|n| lower.starts_with(n)))
}

fn parse_time(t: &str) -> Option<(u32, u32, u32)> {
    let mut parts = t.split(':');
    let h: u32 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let s: u32 = match parts.next() {
        Some(s) => s.split('.').next()?.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some((h, m, s.min(59)))
}

/// `+0100`, `-05:00`, `+01` into seconds east of UTC.
fn parse_offset(t: &str) -> Option<i32> {
    let sign = if t.starts_with('-') { -1 } else { 1 };
    let digits: String = t[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i32, i32) = match digits.len() {
        2 => (digits.parse().ok()?, 0),
        4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?),
        _ => return None,
    };
    if h > 14 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

/// Zone abbreviations seen in From_ lines, in seconds east of UTC.
fn zone_name(lower: &str) -> Option<i32> {
    let h = match lower {
        "gmt" | "ut" | "utc" | "z" | "wet" => 0,
        "dst" | "bst" | "cet" | "met" | "mez" | "west" => 1,
        "cest" | "mest" | "mesz" | "eet" | "sast" => 2,
        "eest" | "msk" => 3,
        "ist" => return Some(5 * 3600 + 1800),
        "jst" | "kst" => 9,
        "hkt" | "sgt" | "awst" => 8,
        "aest" => 10,
        "aedt" | "nzst" => 11,
        "nzdt" => 12,
        "est" | "cdt" => -5,
        "edt" => -4,
        "cst" | "mdt" => -6,
        "mst" | "pdt" => -7,
        "pst" => -8,
        "akst" => -9,
        "hst" => -10,
        _ => return None,
    };
    Some(h * 3600)
}

/// Formats a date as asctime for a From_ line: `Sat Jan  3 01:05:34 1996`,
/// in UTC, since asctime carries no offset and readers take it as UTC
/// (the instant survives a round trip, the original offset does not).
pub fn asctime(date: &Timestamp) -> String {
    date.with_timezone(&chrono::Utc).format("%a %b %e %H:%M:%S %Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(line: &str) -> Option<String> {
        parse(line.as_bytes()).date.map(|d| d.to_rfc3339())
    }

    #[test]
    fn asctime_variants() {
        assert_eq!(date("From a@b Sat Jan  3 01:05:34 1996").as_deref(), Some("1996-01-03T01:05:34+00:00"));
        assert_eq!(date("From a@b Sat Jan 3 01:05 1996\n").as_deref(), Some("1996-01-03T01:05:00+00:00"));
        assert_eq!(
            date("From a@b Sat Jan  3 01:05:34 1996 +0100").as_deref(),
            Some("1996-01-03T01:05:34+01:00")
        );
        assert_eq!(
            date("From a@b Sat Jan  3 01:05:34 GMT 1996").as_deref(),
            Some("1996-01-03T01:05:34+00:00")
        );
        assert_eq!(
            date("From a@b Sat Jan  3 01:05:34 MET DST 1996").as_deref(),
            Some("1996-01-03T01:05:34+02:00")
        );
        assert_eq!(date("From a@b Sat Jan  3 1996 01:05:34").as_deref(), Some("1996-01-03T01:05:34+00:00"));
        assert_eq!(
            date("From a@b Sat, 3 Jan 1996 01:05:34 -0500").as_deref(),
            Some("1996-01-03T01:05:34-05:00")
        );
        assert_eq!(
            date("From 1234@xxx Wed Jan 01 00:00:00 +0000 2020\r\n").as_deref(),
            Some("2020-01-01T00:00:00+00:00")
        );
        assert_eq!(
            date("From uucp Tue Jul  8 12:08:34 1986 remote from ihnp4").as_deref(),
            Some("1986-07-08T12:08:34+00:00")
        );
    }

    #[test]
    fn sender_and_missing_dates() {
        let f = parse(b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011\n");
        assert_eq!(f.sender.as_deref(), Some("MAILER-DAEMON"));
        assert!(f.date.is_some());
        let f = parse(b"From - Fri Aug 24 11:55:47 2018\n");
        assert_eq!(f.sender, None);
        assert!(f.date.is_some());
        let f = parse(b"From -\n");
        assert_eq!(f, FromLine { sender: None, date: None, has_date_text: false });
        let f = parse(b"From \n");
        assert_eq!(f, FromLine::default());
        let f = parse(b"From Russia with love\n");
        assert!(f.date.is_none() && f.has_date_text);
        assert!(!is_strict(b"From Russia with love\n"));
        assert!(!is_strict(b"From the 3 Jan 1996 meeting at 10:00 we agreed\n"));
        assert!(parse(b"From x Monday, 3 January 1996 10:00\n").date.is_some());
        // no sender at all
        assert!(parse(b"From Sat Jan  3 01:05:34 1996\n").date.is_some());
    }

    #[test]
    fn nonsense_never_panics() {
        for s in [
            "From ",
            "From 99:99 Jan 1 2000",
            "From a +99999",
            "From a Feb 30 10:00 2000",
            "From \u{e9}\u{e9}\u{e9}",
        ] {
            let _ = parse(s.as_bytes());
        }
        assert!(date("From a Feb 30 10:00 2000").is_none());
    }

    #[test]
    fn asctime_round_trips() {
        let d = parse(b"From a Sat Jan  3 01:05:34 1996 +0100").date.unwrap();
        assert_eq!(asctime(&d), "Wed Jan  3 00:05:34 1996");
        assert_eq!(parse(format!("From x {}", asctime(&d)).as_bytes()).date, Some(d));
    }
}
