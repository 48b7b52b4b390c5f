//! `mailshift contacts`, `mailshift calendar` and `mailshift inspect` on PST files.

use crate::support::{expect, report};

fn dist_list_pst(test: &str) -> Option<std::path::PathBuf> {
    Some(mailshift_testkit::shared_corpus(test)?.join("pst/java-libpst__dist-list.pst"))
}

#[test]
fn contacts_and_calendar_from_a_pst() {
    let Some(pst) = dist_list_pst("contacts_and_calendar_from_a_pst") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let vcf = tmp.path().join("out.vcf");
    let json = tmp.path().join("report.json");
    expect(0, &[&"contacts", &pst, &"-o", &vcf, &"--vcard", &"4", &"--report", &json]);
    let text = std::fs::read_to_string(&vcf).unwrap();
    assert_eq!(text.matches("BEGIN:VCARD").count(), 2, "{text}");
    assert!(
        text.contains("KIND:group\r\n") && text.contains("MEMBER:mailto:dist1@rjohnson.id.au\r\n"),
        "{text}"
    );
    let r = report(&json);
    assert_eq!((r["read"].as_u64(), r["written"].as_u64()), (Some(2), Some(2)), "{r}");

    let ics = tmp.path().join("out.ics");
    expect(0, &[&"calendar", &pst, &"-o", &ics]);
    let text = std::fs::read_to_string(&ics).unwrap();
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 3, "{text}");
    assert!(text.contains("RRULE:FREQ=WEEKLY;BYDAY=TU;WKST=SU\r\n"), "{text}");
    assert!(text.contains("DTSTART;TZID=America/Los_Angeles:20160802T080000\r\n"), "{text}");
    assert_eq!(text.matches("RECURRENCE-ID").count(), 2, "{text}");

    // A PST and a vCard file together.
    let other = tmp.path().join("more.vcf");
    std::fs::write(&other, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Extra\r\nEMAIL:x@y.org\r\nEND:VCARD\r\n")
        .unwrap();
    let both = tmp.path().join("both.vcf");
    expect(0, &[&"contacts", &pst, &other, &"-o", &both]);
    assert_eq!(std::fs::read_to_string(&both).unwrap().matches("BEGIN:VCARD").count(), 3);
}

#[test]
fn inspect_counts_what_is_not_mail() {
    let Some(pst) = dist_list_pst("inspect_counts_what_is_not_mail") else { return };
    let run = expect(0, &[&"inspect", &pst]);
    assert!(run.stdout.contains("distribution lists"), "{}", run.stdout);
    let run = expect(0, &[&"inspect", &"--json", &pst]);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let items = &v["items"];
    assert_eq!(
        (items["contacts"].as_u64(), items["distribution_lists"].as_u64(), items["appointments"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "{v}"
    );
    assert_eq!(v["messages"].as_u64(), Some(0));
}
