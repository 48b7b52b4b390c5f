//! The LDIF address-book reader on arbitrary bytes: folding, base64,
//! comments and group members must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailshift_model::Location;

fuzz_target!(|data: &[u8]| {
    let origin = Location::path("fuzz.ldif");
    let mut findings = Vec::new();
    let contacts = mailshift_contacts::read_ldif(data, &origin, &mut findings);
    let _ = mailshift_contacts::write_vcard_string(&contacts, mailshift_contacts::VcardVersion::V3);
});
