//! Outlook's recurrence blob, time-zone blobs and entry ids on arbitrary
//! bytes: parse, turn into RRULE/EXDATE/VTIMEZONE. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailshift_pst::{entryid, recurrence, timezone};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = recurrence::parse(data) {
        let _ = r.rrule(Some("20240101T000000Z"));
        let _ = r.exdates();
        for e in &r.exceptions {
            let _ = recurrence::minutes_to_datetime(e.start);
        }
    }
    let _ = entryid::parse(data);
    if let Some(t) = timezone::from_struct(data) {
        let _ = t.vtimezone("fuzz");
        let _ = t.offset_at_utc(1_700_000_000);
        let _ = t.offset_at_local(-1_700_000_000);
    }
    if let Some((_, t)) = timezone::from_definition(data) {
        let _ = t.vtimezone("fuzz");
        let _ = t.offset_at_utc(i64::MAX / 8);
    }
});
