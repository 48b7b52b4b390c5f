//! Entry ids that name people (MS-OXCDATA 2.2.5): one-off entry ids (a
//! name and an address written out in full) and wrapped entry ids (a
//! pointer to a contact or distribution list, as Outlook stores the members
//! of a distribution list). Parsing is bounded by the bytes given and never
//! panics: anything odd is `None`.

use crate::value::{decode_8bit, utf16};

/// The provider UID of a one-off entry id, {812B1FA4-BEA3-1019-9D6E-00DD010F5402}.
pub const ONE_OFF_UID: [u8; 16] =
    [0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19, 0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54, 0x02];
/// The provider UID of a wrapped entry id, {C091ADD3-519D-CF11-A4A9-00AA0047FAA4}.
pub const WRAPPED_UID: [u8; 16] =
    [0xC0, 0x91, 0xAD, 0xD3, 0x51, 0x9D, 0xCF, 0x11, 0xA4, 0xA9, 0x00, 0xAA, 0x00, 0x47, 0xFA, 0xA4];

/// A one-off recipient: display name, address type (`SMTP`, `EX`, ...) and address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OneOff {
    pub name: String,
    pub addr_type: String,
    pub address: String,
}

/// What a wrapped entry id points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapped {
    /// The low nibble of the type byte: 3 a contact, 4 a personal
    /// distribution list, 5 a GAL user, 6 a GAL list, 0 a one-off.
    pub kind: u8,
    /// For a contact: which of its e-mail addresses (0 = Email1, ...),
    /// from bits 4-6 of the type byte.
    pub email_index: u8,
    /// The node id of the contact or list in this store, when the embedded
    /// entry id is a 24-byte PST entry id (flags, store UID, node id).
    pub nid: Option<u32>,
    /// The embedded one-off entry, when the wrapped id holds one.
    pub one_off: Option<OneOff>,
}

/// A member of a distribution list, however it was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryId {
    OneOff(OneOff),
    Wrapped(Wrapped),
    /// Any other entry id (an Exchange address book id, ...): its provider UID.
    Other([u8; 16]),
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

/// Parses any entry id that names a person or a list.
pub fn parse(b: &[u8]) -> Option<EntryId> {
    let uid: [u8; 16] = b.get(4..20)?.try_into().ok()?;
    Some(match uid {
        ONE_OFF_UID => EntryId::OneOff(parse_one_off(b)?),
        WRAPPED_UID => EntryId::Wrapped(parse_wrapped(b)?),
        other => EntryId::Other(other),
    })
}

/// Parses a one-off entry id (MS-OXCDATA 2.2.5.1): flags, provider UID,
/// version, flags (0x8000 = Unicode strings), then three NUL-terminated
/// strings.
pub fn parse_one_off(b: &[u8]) -> Option<OneOff> {
    if b.get(4..20)? != ONE_OFF_UID {
        return None;
    }
    let flags = u16_at(b, 22)?;
    let mut rest = b.get(24..)?;
    let unicode = flags & 0x8000 != 0;
    let mut next = || -> Option<String> {
        if unicode {
            let end = rest.chunks_exact(2).position(|c| c == [0, 0])?;
            let s = utf16(&rest[..end * 2]);
            rest = &rest[end * 2 + 2..];
            Some(s)
        } else {
            let end = rest.iter().position(|&c| c == 0)?;
            let s = decode_8bit(&rest[..end], 0);
            rest = &rest[end + 1..];
            Some(s)
        }
    };
    let name = next()?;
    let addr_type = next()?;
    // Some writers leave out the final NUL: take what is left.
    let address = next().unwrap_or_default();
    Some(OneOff { name, addr_type, address })
}

/// Parses a wrapped entry id (MS-OXCDATA 2.2.5.3).
pub fn parse_wrapped(b: &[u8]) -> Option<Wrapped> {
    if b.get(4..20)? != WRAPPED_UID {
        return None;
    }
    let ty = *b.get(20)?;
    let inner = b.get(21..)?;
    let mut w = Wrapped { kind: ty & 0x0F, email_index: (ty >> 4) & 0x07, nid: None, one_off: None };
    if inner.get(4..20) == Some(&ONE_OFF_UID[..]) {
        w.one_off = parse_one_off(inner);
    } else if inner.len() >= 24 {
        // A PST message entry id: flags, the store's record key, node id.
        w.nid = u32_at(inner, 20);
    }
    Some(w)
}

/// The entry ids of a multi-valued binary property such as
/// PidLidDistributionListMembers, in order; unreadable ones are `None`, so
/// the list stays parallel to PidLidDistributionListOneOffMembers.
pub fn parse_all(values: &[&[u8]]) -> Vec<Option<EntryId>> {
    values.iter().map(|b| parse(b)).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn one_off(name: &str, ty: &str, addr: &str) -> Vec<u8> {
        let mut b = vec![0, 0, 0, 0];
        b.extend_from_slice(&ONE_OFF_UID);
        b.extend_from_slice(&[0, 0, 0x00, 0x90]);
        for s in [name, ty, addr] {
            for u in s.encode_utf16() {
                b.extend_from_slice(&u.to_le_bytes());
            }
            b.extend_from_slice(&[0, 0]);
        }
        b
    }

    #[test]
    fn one_off_unicode_and_ansi() {
        let b = one_off("Zoë Ng", "SMTP", "zoe@example.org");
        let EntryId::OneOff(o) = parse(&b).unwrap() else { panic!() };
        assert_eq!(
            (o.name.as_str(), o.addr_type.as_str(), o.address.as_str()),
            ("Zoë Ng", "SMTP", "zoe@example.org")
        );
        let mut a = vec![0, 0, 0, 0];
        a.extend_from_slice(&ONE_OFF_UID);
        a.extend_from_slice(&[0, 0, 0, 0]);
        a.extend_from_slice(b"Bob\0SMTP\0bob@x.org\0");
        assert_eq!(parse_one_off(&a).unwrap().address, "bob@x.org");
        // Cut anywhere: never a panic, and no address made up.
        for n in 0..b.len() {
            let _ = parse(&b[..n]);
        }
        assert!(parse_one_off(&b[..30]).is_none());
    }

    #[test]
    fn wrapped_contact_and_embedded_one_off() {
        let mut b = vec![0, 0, 0, 0];
        b.extend_from_slice(&WRAPPED_UID);
        b.push(0xB3);
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&[7; 16]);
        b.extend_from_slice(&0x0020_0024u32.to_le_bytes());
        let EntryId::Wrapped(w) = parse(&b).unwrap() else { panic!() };
        assert_eq!((w.kind, w.email_index, w.nid), (3, 3, Some(0x0020_0024)));
        let mut b = vec![0, 0, 0, 0];
        b.extend_from_slice(&WRAPPED_UID);
        b.push(0x00);
        b.extend_from_slice(&one_off("A", "SMTP", "a@b.c"));
        let EntryId::Wrapped(w) = parse(&b).unwrap() else { panic!() };
        assert_eq!(w.one_off.unwrap().address, "a@b.c");
        assert!(matches!(parse(&[0u8; 24]), Some(EntryId::Other(_))));
        assert!(parse(&[1, 2, 3]).is_none());
    }
}
