//! The name-to-id map (MS-PST 2.4.7): what property ids 0x8000 and up mean
//! in this store (contact e-mail addresses, appointment times, ...).

use std::collections::HashMap;

use crate::ltp::u32_at;
use crate::messaging::node_props;
use crate::ndb::Ndb;

const NID_NAME_TO_ID_MAP: u32 = 0x61;

/// PS_MAPI {00020328-0000-0000-C000-000000000046}, as stored (little-endian fields).
pub const PS_MAPI: [u8; 16] = [0x28, 0x03, 0x02, 0, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46];
/// PS_PUBLIC_STRINGS {00020329-0000-0000-C000-000000000046}.
pub const PS_PUBLIC_STRINGS: [u8; 16] = [0x29, 0x03, 0x02, 0, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46];

/// What a named property is: a property set and a number or a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamedProperty {
    /// The property set GUID, as stored.
    pub guid: [u8; 16],
    pub kind: NameKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NameKind {
    /// A numeric id (LID), e.g. 0x8083 for a contact's first e-mail address.
    Id(u32),
    Name(String),
}

/// Reads the map: property id → name. A missing or damaged map gives what
/// could be read (possibly nothing).
pub fn read_map(ndb: &Ndb) -> HashMap<u16, NamedProperty> {
    let mut out = HashMap::new();
    let Ok((props, _)) = node_props(ndb, NID_NAME_TO_ID_MAP) else { return out };
    let guids = props.bytes(0x0002).unwrap_or(&[]);
    let entries = props.bytes(0x0003).unwrap_or(&[]);
    let strings = props.bytes(0x0004).unwrap_or(&[]);
    for e in entries.chunks_exact(8) {
        let (Some(id), guid_field, prop_idx) =
            (u32_at(e, 0), u16::from_le_bytes([e[4], e[5]]), u16::from_le_bytes([e[6], e[7]]))
        else {
            continue;
        };
        let guid = match guid_field >> 1 {
            1 => PS_MAPI,
            2 => PS_PUBLIC_STRINGS,
            n @ 3.. => {
                let at = usize::from(n - 3) * 16;
                let Some(g) = guids.get(at..at + 16).and_then(|g| <[u8; 16]>::try_from(g).ok()) else {
                    continue;
                };
                g
            }
            0 => [0; 16],
        };
        let kind = if guid_field & 1 == 0 {
            NameKind::Id(id)
        } else {
            let at = id as usize;
            let Some(len) = u32_at(strings, at) else { continue };
            let Some(name) = strings.get(at + 4..(at + 4).saturating_add(len as usize)) else { continue };
            NameKind::Name(crate::value::utf16(name))
        };
        out.insert(0x8000u16.wrapping_add(prop_idx), NamedProperty { guid, kind });
    }
    out
}
