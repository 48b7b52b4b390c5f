//! The exact vCard 3.0 and 4.0 text of one contact with every field, kept
//! as golden files (`MAILSHIFT_BLESS=1` rewrites them after a reviewed change).

use mailshift_contacts::{
    write_vcard_string, Address, Contact, ContactKind, ExtraProperty, Organization, Photo, StructuredName,
    Typed, VcardVersion,
};

fn everything() -> Vec<Contact> {
    let person = Contact {
        uid: Some("6c2f5a4e-0d1b-4f7e-9a55-000000000001".into()),
        formatted_name: Some("Dr. Zoë Ångström-Müller, PhD".into()),
        name: StructuredName {
            family: vec!["Ångström-Müller".into()],
            given: vec!["Zoë".into()],
            additional: vec!["Maria".into(), "Jo".into()],
            prefixes: vec!["Dr.".into()],
            suffixes: vec!["PhD".into()],
        },
        nicknames: vec!["Zo".into()],
        emails: vec![
            Typed::new("zoe@work.example").with_type("work").with_pref(1),
            Typed::new("zoe@home.example").with_type("home"),
            Typed::new("z.a@old.example"),
        ],
        phones: vec![Typed::new("+46 8 123 45 67").with_type("work").with_type("voice"), Typed::new("+46 70 765 43 21").with_type("cell")],
        addresses: vec![Address {
            street: "Drottninggatan 1\nPlan 3".into(),
            locality: "Stockholm".into(),
            postal_code: "111 51".into(),
            country: "Sverige".into(),
            types: vec!["work".into()],
            label: Some("Drottninggatan 1, Plan 3\n111 51 Stockholm".into()),
            ..Address::default()
        }],
        org: Some(Organization { name: "Acme; Nordic AB".into(), units: vec!["R&D".into(), "Mail, Calendar".into()] }),
        title: Some("Chief \\ Engineer".into()),
        role: Some("Migration lead".into()),
        birthday: Some("1980-02-29".into()),
        anniversary: Some("--06-21".into()),
        urls: vec![Typed::new("https://zoe.example/a,b;c").with_type("home")],
        impps: vec![Typed::new("xmpp:zoe@chat.example")],
        notes: vec!["Line one\r\nLine two, with comma; and semicolon. 日本語のメモがここに長く続きます、折り返しの確認のために。".into()],
        categories: vec!["Friends".into(), "VIP, gold".into()],
        photo: Some(Photo::Inline { bytes: (0u8..=255).collect(), media_type: Some("image/png".into()) }),
        extra: vec![ExtraProperty::text("X-ASSISTANT-S-NAME", "Bob"), ExtraProperty::text("X-CUSTOM1", "a;b")],
        ..Contact::default()
    };
    let list = Contact {
        kind: ContactKind::Group,
        uid: Some("6c2f5a4e-0d1b-4f7e-9a55-000000000002".into()),
        formatted_name: Some("Team".into()),
        members: vec![
            "urn:uuid:6c2f5a4e-0d1b-4f7e-9a55-000000000001".into(),
            "mailto:other@x.example".into(),
        ],
        ..Contact::default()
    };
    vec![person, list]
}

#[test]
fn everything_survives_a_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let contacts = everything();
    for v in [VcardVersion::V3, VcardVersion::V4] {
        let (back, _) = crate::common::write_and_reread(&contacts, &tmp.path().join("e.vcf"), v);
        for (a, b) in contacts.iter().zip(&back) {
            crate::common::assert_same(a, b, &format!("{v:?}"));
        }
    }
}

#[test]
fn golden_vcard_3_and_4() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for (v, file) in [(VcardVersion::V3, "everything-v3.vcf"), (VcardVersion::V4, "everything-v4.vcf")] {
        mailshift_testkit::golden(&dir.join(file), &write_vcard_string(&everything(), v));
    }
}
