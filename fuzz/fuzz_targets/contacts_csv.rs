//! The CSV address-book reader (and format detection) on arbitrary bytes:
//! must never panic, whatever the encoding, delimiter or quoting.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailshift_model::Location;

fuzz_target!(|data: &[u8]| {
    let origin = Location::path("fuzz.csv");
    let mut findings = Vec::new();
    let contacts = mailshift_contacts::read_csv(data, &origin, &mut findings);
    // What was read must also be writable.
    let _ = mailshift_contacts::write_vcard_string(&contacts, mailshift_contacts::VcardVersion::V4);
    let _ = mailshift_contacts::read_address_book_bytes(data, &origin, &mut findings);
});
