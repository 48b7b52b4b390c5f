//! Field-by-field checks on chosen contacts of the corpus, against values
//! read from the source files by eye (and photo bytes decoded here).

use base64::Engine as _;
use mailshift_contacts::{Photo, VcardVersion};

use crate::common::{corpus, read, write_and_reread};

#[test]
fn shift_jis_vcard_and_csv_names() {
    let Some(corpus) = corpus("shift_jis_vcard_and_csv_names") else { return };
    let (c, _) = read(&corpus.join("vcard/android-vcard__v21_japanese_1.vcf"));
    assert_eq!(c[0].name.family, vec!["安藤ロイド"]);
    assert_eq!(c[0].phones[0].value, "0300000000");
    assert_eq!(c[0].phones[0].pref, Some(1));
    let (c, _) = read(&corpus.join("vcard/android-vcard__v21_japanese_2.vcf"));
    assert_eq!(c[0].formatted_name.as_deref(), Some("安藤 ロイド 1"));
    assert_eq!(c[0].addresses[0].extended, "東京都渋谷区桜丘町26-1セルリアンタワー6階");
    assert_eq!(c[0].notes, vec!["メモ"]);
    let (c, _) = read(&corpus.join("contacts/comm-central__import_shiftjis_addressbook.csv"));
    assert_eq!(c[0].formatted_name.as_deref(), Some("名無しの権兵衛"));
    assert_eq!(c[0].name.given, vec!["権兵衛"]);
    assert_eq!(c[0].emails[0].value, "名無しの権兵衛@host.invalid");
    let tmp = tempfile::tempdir().unwrap();
    let (back, _) = write_and_reread(&c, &tmp.path().join("sjis.vcf"), VcardVersion::V3);
    assert_eq!(back[0].formatted_name.as_deref(), Some("名無しの権兵衛"));
}

#[test]
fn utf16_csv() {
    let Some(corpus) = corpus("utf16_csv") else { return };
    let (c, _) = read(&corpus.join("contacts/comm-central__import_utf16_addressbook.csv"));
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].formatted_name.as_deref(), Some("John Doe"));
    assert_eq!(c[0].emails[0].value, "johndoe@host.invalid");
}

#[test]
fn outlook_csv_every_email_and_phone() {
    let Some(corpus) = corpus("outlook_csv_every_email_and_phone") else { return };
    for file in ["contact_csv__outlook_contacts.csv", "contact_csv__outlook_contacts_dos.csv"] {
        let path = corpus.join("contacts").join(file);
        let (c, _) = read(&path);
        // Independent check: every cell of the e-mail and phone columns
        // (read here with the csv crate) is on the contact of its row.
        let mut rd = csv::ReaderBuilder::new().flexible(true).from_path(&path).unwrap();
        let headers = rd.headers().unwrap().clone();
        for (row, rec) in rd.records().enumerate() {
            let rec = rec.unwrap();
            for (h, v) in headers.iter().zip(rec.iter()) {
                let hn = h.to_ascii_lowercase().replace([' ', '-'], "");
                let v = v.trim();
                if v.is_empty() {
                    continue;
                }
                if hn.contains("email") && hn.contains("address") {
                    assert!(c[row].emails.iter().any(|e| e.value == v), "{file} row {row}: {h}={v}");
                }
                if (hn.ends_with("phone") || hn.ends_with("fax") || hn == "pager") && !hn.contains("display")
                {
                    assert!(c[row].phones.iter().any(|p| p.value == v), "{file} row {row}: {h}={v}");
                }
            }
        }
        assert_eq!(c[1].name.given, vec!["Tom"]);
        assert_eq!(c[1].name.family, vec!["Jerry"]);
    }
}

/// The base64 of the PHOTO in a vCard file, found without the parser.
fn source_photo_base64(text: &str) -> String {
    let unfolded = text.replace("\r\n ", "").replace("\n ", "").replace("\n\t", "");
    let line = unfolded.lines().find(|l| l.to_ascii_uppercase().starts_with("PHOTO")).expect("PHOTO line");
    let value = &line[line.find(':').unwrap() + 1..];
    let value = value.split_once(";base64,").map_or(value, |(_, b)| b);
    value.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn photo_bytes_are_identical_to_the_source() {
    let Some(corpus) = corpus("photo_bytes_are_identical_to_the_source") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for name in [
        "comm-central__addrbook_v3-binary-jpeg.vcf",
        "comm-central__addrbook_v3-uri-binary-png.vcf",
        "comm-central__addrbook_v4-uri-webp.vcf",
        "comm-central__addrbook_v3-uri-uri-jpeg.vcf",
        "android-vcard__v21_blackberry_photo.vcf",
        "ez-vcard__thunderbird-MoreFunctionsForAddressBook-extension.vcf",
    ] {
        let path = corpus.join("vcard").join(name);
        let lenient = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
        );
        let want = lenient
            .decode(source_photo_base64(&std::fs::read_to_string(&path).unwrap()))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (c, _) = read(&path);
        let Some(Photo::Inline { bytes, .. }) = &c[0].photo else { panic!("{name}: no inline photo") };
        assert_eq!(bytes, &want, "{name}: photo bytes read");
        for v in [VcardVersion::V3, VcardVersion::V4] {
            let out = tmp.path().join(format!("{name}.{v:?}.vcf"));
            let (back, _) = write_and_reread(&c, &out, v);
            let Some(Photo::Inline { bytes, .. }) = &back[0].photo else { panic!("{name}: photo lost") };
            assert_eq!(bytes, &want, "{name} {v:?}: photo bytes written");
            let text = std::fs::read_to_string(&out).unwrap();
            match v {
                VcardVersion::V3 => assert!(text.contains("PHOTO;ENCODING=b;TYPE="), "{name}"),
                VcardVersion::V4 => assert!(text.contains("PHOTO:data:image/"), "{name}"),
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 6);
}

#[test]
fn v21_complicated_keeps_every_email_and_phone() {
    let Some(corpus) = corpus("v21_complicated_keeps_every_email_and_phone") else { return };
    let path = corpus.join("vcard/android-vcard__v21_complicated.vcf");
    let (c, _) = read(&path);
    let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
    let count = |prop: &str| text.lines().filter(|l| l.to_ascii_uppercase().starts_with(prop)).count();
    assert_eq!(c[0].emails.len(), count("EMAIL"));
    assert_eq!(c[0].phones.len(), count("TEL"));
    assert_eq!(c[0].name.family, vec!["Gump"]);
    assert_eq!(c[0].emails[0].value, "forrestgump@walladalla.com");
}

#[test]
fn ldif_groups_become_group_cards_with_members() {
    let Some(corpus) = corpus("ldif_groups_become_group_cards_with_members") else { return };
    let (c, _) = read(&corpus.join("contacts/comm-central__addrbook_export.ldif"));
    let group = c.iter().find(|c| c.kind == mailshift_contacts::ContactKind::Group).expect("a group");
    assert_eq!(group.formatted_name.as_deref(), Some("new list"));
    assert_eq!(group.members.len(), 1);
    let member = c.iter().find(|c| c.emails.iter().any(|e| e.value == "contact1@invalid")).unwrap();
    assert_eq!(group.members[0], format!("urn:uuid:{}", member.uid.as_deref().unwrap()));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("g.vcf");
    write_and_reread(&c, &out, VcardVersion::V4);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("KIND:group\r\n") && text.contains("MEMBER:urn:uuid:"), "{text}");
    write_and_reread(&c, &out, VcardVersion::V3);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("X-ADDRESSBOOKSERVER-KIND:group\r\n")
            && text.contains("X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:")
    );
}

#[test]
fn utf16_vcard_with_a_non_ascii_name() {
    let text = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Zoë Ångström 山田\r\nN:Ångström;Zoë;;;\r\nEMAIL:zoe@x.org\r\nEND:VCARD\r\n";
    for bom in [true, false] {
        let mut bytes: Vec<u8> = if bom { vec![0xff, 0xfe] } else { Vec::new() };
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let mut f = Vec::new();
        let c = mailshift_contacts::read_address_book_bytes(
            &bytes,
            &mailshift_model::Location::path("u16.vcf"),
            &mut f,
        );
        assert_eq!(c.len(), 1, "bom={bom} {f:?}");
        assert_eq!(c[0].formatted_name.as_deref(), Some("Zoë Ångström 山田"));
        assert_eq!(c[0].name.family, vec!["Ångström"]);
        let out = mailshift_contacts::write_vcard_string(&c, VcardVersion::V4);
        assert!(out.contains("FN:Zoë Ångström 山田\r\n"), "{out}");
    }
}

#[test]
fn jcard_and_xcard_of_the_same_rfc_example_agree() {
    let Some(corpus) = corpus("jcard_and_xcard_of_the_same_rfc_example_agree") else { return };
    let (j, fj) = read(&corpus.join("vcard/ez-vcard__jcard-example.json"));
    let (x, fx) = read(&corpus.join("vcard/ez-vcard__rfc6351-example.xml"));
    assert!(fj.is_empty() && fx.is_empty(), "{fj:?} {fx:?}");
    let (j, x) = (&j[0], &x[0]);
    assert_eq!(j.name.family, vec!["Perreault"]);
    assert_eq!((&j.name, &x.name), (&x.name, &j.name));
    assert_eq!(j.formatted_name, x.formatted_name);
    assert_eq!(j.emails, x.emails);
    assert_eq!(
        j.phones.iter().map(|p| &p.value).collect::<Vec<_>>(),
        x.phones.iter().map(|p| &p.value).collect::<Vec<_>>()
    );
    // The two RFC examples differ in the street line, not elsewhere.
    assert_eq!(j.org, x.org);
    assert_eq!(j.birthday.as_deref(), Some("--02-03"));
    assert_eq!(j.birthday, x.birthday);
    assert_eq!(j.anniversary, x.anniversary);
}
