//! Round trips: messages written as mboxrd read back with identical bytes,
//! flags and dates (property tests over the traps), and the testkit
//! generator's mboxes (every variant it writes) read back as generated.

use chrono::TimeZone as _;
use mailshift_mbox::{write_message, MboxReadOptions, MboxReader};
use mailshift_model::{Envelope, Flags, Item, Message};
use mailshift_testkit::gen::{self, FlagStyle, Profile, Variant};
use proptest::prelude::*;

fn read_all(bytes: &[u8], opts: MboxReadOptions) -> (Vec<Message>, Vec<mailshift_model::Finding>) {
    let mut messages = Vec::new();
    let mut other = Vec::new();
    for item in MboxReader::new(std::io::BufReader::with_capacity(64, bytes), opts) {
        match item.unwrap() {
            Item::Message(m) => messages.push(m),
            Item::Skipped(f) | Item::Finding(f) => other.push(f),
        }
    }
    (messages, other)
}

fn line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"From here on".to_vec()),
        Just(b">From there".to_vec()),
        Just(b">>>From deep".to_vec()),
        Just(b"From a@b Sat Jan  3 01:05:34 1996".to_vec()),
        Just(b"From -".to_vec()),
        Just(b"Status: RO".to_vec()),
        Just(Vec::new()),
        "[ -~]{0,60}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>().prop_filter("no line end", |b| *b != b'\n'), 0..40),
        (1usize..4).prop_map(|k| vec![b'x'; k * 40_000]),
    ]
}

fn message() -> impl Strategy<Value = (Vec<u8>, bool)> {
    (
        proptest::collection::vec(line(), 0..12),
        any::<bool>(), // CRLF
        any::<bool>(), // final newline
        "[A-Za-z0-9 ]{0,20}",
    )
        .prop_map(|(body, crlf, final_nl, subject)| {
            let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            let mut raw = Vec::new();
            for h in [format!("Subject: {subject}"), "Message-ID: <x@y>".to_owned()] {
                raw.extend_from_slice(h.as_bytes());
                raw.extend_from_slice(eol);
            }
            raw.extend_from_slice(eol);
            for (i, l) in body.iter().enumerate() {
                raw.extend_from_slice(l);
                if i + 1 < body.len() || final_nl {
                    raw.extend_from_slice(eol);
                }
            }
            (raw, crlf)
        })
}

fn flags() -> impl Strategy<Value = Flags> {
    (any::<[bool; 6]>(), proptest::collection::btree_set("[a-z$][a-z0-9]{0,8}", 0..3)).prop_map(
        |(b, keywords)| {
            let mut f = Flags {
                seen: b[0],
                answered: b[1],
                flagged: b[2],
                deleted: b[3],
                draft: b[4],
                forwarded: b[5],
                ..Flags::default()
            };
            for k in keywords {
                f.add_keyword(&k);
            }
            f
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn mboxrd_round_trip(msgs in proptest::collection::vec((message(), flags(), 0i64..4_000_000_000, "[a-z]{1,8}@[a-z]{1,8}"), 1..5)) {
        let originals: Vec<Message> = msgs
            .into_iter()
            .map(|((raw, _), flags, secs, sender)| {
                let received = chrono::FixedOffset::east_opt(3600).unwrap().timestamp_opt(secs, 0).single();
                Message::new(raw, Envelope { flags, received, sender: Some(sender), ..Envelope::default() })
            })
            .collect();
        let mut mbox = Vec::new();
        for m in &originals {
            write_message(&mut mbox, m);
        }
        let (read, findings) = read_all(&mbox, MboxReadOptions::default());
        prop_assert!(findings.is_empty(), "{:?}", findings);
        prop_assert_eq!(read.len(), originals.len());
        for (got, want) in read.iter().zip(&originals) {
            prop_assert_eq!(&got.raw, &want.raw);
            prop_assert_eq!(&got.envelope.flags, &want.envelope.flags);
            prop_assert_eq!(got.envelope.received, want.envelope.received);
            prop_assert_eq!(&got.envelope.sender, &want.envelope.sender);
        }
        // and a second generation is byte-identical to the first
        let mut again = Vec::new();
        for m in &read {
            write_message(&mut again, m);
        }
        prop_assert_eq!(again, mbox);
    }
}

fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    for &b in raw {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

#[test]
fn generated_mboxes_read_back_as_generated() {
    for variant in [Variant::Mboxrd, Variant::Mboxcl2, Variant::Crlf] {
        for style in [FlagStyle::Status, FlagStyle::Mozilla] {
            let mut generator = gen::Generator::new(11, Profile::Small).with_flag_style(style);
            let wanted: Vec<_> = (&mut generator).take(300).collect();
            let mut w = gen::MboxWriter::new(Vec::new(), variant);
            for m in &wanted {
                w.write(m).unwrap();
            }
            let (bytes, stats) = w.into_inner().unwrap();
            let (read, findings) = read_all(&bytes, MboxReadOptions::default());
            assert!(findings.is_empty(), "{variant:?} {style:?}: {findings:?}");
            assert_eq!(read.len(), wanted.len(), "{variant:?} {style:?}");
            for (i, (got, want)) in read.iter().zip(&wanted).enumerate() {
                // The generator leaves `X-Keywords` in its messages; the reader
                // removes it as bookkeeping (its keywords are in the flags).
                let mut raw = want.raw.clone();
                mailshift_mbox::meta::strip(&mut raw);
                if !raw.ends_with(b"\n") {
                    raw.push(b'\n');
                }
                let raw = if variant == Variant::Crlf { crlf(&raw) } else { raw };
                if got.raw != raw {
                    let at = got
                        .raw
                        .iter()
                        .zip(&raw)
                        .position(|(a, b)| a != b)
                        .unwrap_or(raw.len().min(got.raw.len()));
                    panic!(
                        "{variant:?} {style:?} message {i} differs at byte {at}: got {:?} want {:?}",
                        String::from_utf8_lossy(
                            &got.raw[at.saturating_sub(80)..(at + 80).min(got.raw.len())]
                        ),
                        String::from_utf8_lossy(&raw[at.saturating_sub(80)..(at + 80).min(raw.len())])
                    );
                }
                if !want.recent {
                    assert_eq!(got.envelope.flags, want.flags, "{variant:?} {style:?} message {i}");
                }
                assert_eq!(got.envelope.received, Some(want.received), "{variant:?} message {i}");
                // Thunderbird's `From - ` names no sender
                let sender = Some(want.sender.as_str()).filter(|s| *s != "-");
                assert_eq!(got.envelope.sender.as_deref(), sender);
            }
            if variant != Variant::Mboxcl2 {
                assert!(stats.quoted_lines > 0, "the sample exercises From_ quoting");
            }
        }
    }
}
