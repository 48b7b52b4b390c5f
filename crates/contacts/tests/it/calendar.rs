//! Every `.ics` of the corpus round-trips: as many objects, the same UIDs,
//! and the same DTSTART, DTEND, RRULE (with their TZID) as the source.

use calcard::icalendar::ICalendarProperty;
use mailshift_contacts::{read_calendar, write_calendar, CalendarObject};
use mailshift_model::Report;

use crate::common::corpus;

/// VEVENT/VTODO/VJOURNAL starts, counted without the parser.
fn object_count(bytes: &[u8]) -> usize {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| {
            let l = l.trim().to_ascii_uppercase();
            l == "BEGIN:VEVENT" || l == "BEGIN:VTODO" || l == "BEGIN:VJOURNAL"
        })
        .count()
}

fn key_props(o: &CalendarObject) -> Vec<Option<calcard::icalendar::ICalendarEntry>> {
    let c = o.component().expect("component");
    [ICalendarProperty::Dtstart, ICalendarProperty::Dtend, ICalendarProperty::Rrule, ICalendarProperty::Due]
        .iter()
        .map(|p| c.property(p).cloned())
        .collect()
}

#[test]
fn every_ics_round_trips() {
    let Some(corpus) = corpus("every_ics_round_trips") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let files = mailshift_testkit::corpus_files(&corpus, "ical", &["ics"]);
    assert!(files.len() >= 10);
    let mut total = 0;
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut findings = Vec::new();
        let objs = read_calendar(&path, &mut findings).unwrap();
        assert_eq!(objs.len(), object_count(&std::fs::read(&path).unwrap()), "{name}: objects read");
        total += objs.len();
        for split in [false, true] {
            let out = tmp.path().join(format!("{name}.{split}"));
            let mut report = Report::new("calendar");
            write_calendar(&objs, &out, split, &mut report).unwrap();
            report.check_balance().unwrap();
            assert_eq!(report.written as usize, objs.len());
            let outs: Vec<_> = if split {
                let mut v: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).collect();
                v.sort();
                v
            } else {
                vec![out.clone()]
            };
            let mut back = Vec::new();
            for o in &outs {
                let text = std::fs::read_to_string(o).unwrap();
                assert!(
                    text.starts_with("BEGIN:VCALENDAR\r\nPRODID:") && text.contains("\r\nVERSION:2.0\r\n")
                );
                assert!(text.split("\r\n").all(|l| l.len() <= 75), "{name}: long line");
                let mut f = Vec::new();
                back.extend(read_calendar(o, &mut f).unwrap());
                assert!(f.is_empty(), "{name}: re-reading gave findings {f:?}");
            }
            assert_eq!(back.len(), objs.len(), "{name} split={split}: objects out == objects in");
            let mut uids_in: Vec<_> = objs.iter().map(|o| o.uid.clone()).collect();
            let mut uids_out: Vec<_> = back.iter().map(|o| o.uid.clone()).collect();
            uids_in.sort();
            uids_out.sort();
            assert_eq!(uids_in, uids_out, "{name}: UIDs");
            if !split {
                for (a, b) in objs.iter().zip(&back) {
                    assert_eq!(a.kind, b.kind);
                    assert_eq!(key_props(a), key_props(b), "{name}: DTSTART/DTEND/RRULE of {:?}", a.uid);
                }
            }
        }
    }
    eprintln!("{total} calendar objects round-tripped");
}

#[test]
fn latin1_calendar_is_read_as_latin1() {
    let Some(corpus) = corpus("latin1_calendar_is_read_as_latin1") else { return };
    let path = corpus.join("ical/comm-central__importLatin1.ics");
    let raw = std::fs::read(&path).unwrap();
    assert!(std::str::from_utf8(&raw).is_err(), "the fixture is not UTF-8");
    let mut f = Vec::new();
    let objs = read_calendar(&path, &mut f).unwrap();
    let summary = objs[0].property_text(&ICalendarProperty::Summary).unwrap();
    let want: String = raw
        .split(|&b| b == b'\n')
        .find(|l| l.starts_with(b"SUMMARY"))
        .map(|l| l[8..].iter().map(|&b| b as char).collect::<String>())
        .unwrap();
    assert_eq!(summary, want.trim_end());
    assert!(!summary.contains('\u{fffd}'));
}

/// Unfolded `NAME...:value` lines of a text whose name is one of `names`.
fn lines_named(text: &str, names: &[&str]) -> Vec<String> {
    let unfolded = text.replace("\r\n ", "").replace("\n ", "").replace("\r\n\t", "").replace("\n\t", "");
    unfolded
        .lines()
        .map(str::trim_end)
        .filter(|l| {
            let name = l.split([':', ';']).next().unwrap_or("").to_ascii_uppercase();
            names.contains(&name.as_str())
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn start_end_zone_and_recurrence_lines_are_kept_verbatim() {
    let Some(corpus) = corpus("start_end_zone_and_recurrence_lines_are_kept_verbatim") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for path in mailshift_testkit::corpus_files(&corpus, "ical", &["ics"]) {
        let raw = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let objs = read_calendar(&path, &mut Vec::new()).unwrap();
        let out = tmp.path().join("out.ics");
        write_calendar(&objs, &out, false, &mut Report::new("calendar")).unwrap();
        let written = std::fs::read_to_string(&out).unwrap();
        let names = ["DTSTART", "DTEND", "RRULE", "TZID", "RECURRENCE-ID", "EXDATE"];
        let got = lines_named(&written, &names);
        for line in lines_named(&raw, &names) {
            assert!(got.contains(&line), "{}: {line:?} not in the output", path.display());
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} lines checked");
}
