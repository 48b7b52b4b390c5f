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

/// The property id of the string-named property `name` in property set
/// `guid` (PS_MAPI, PS_PUBLIC_STRINGS or one of the map's own GUIDs), the
/// same answer as looking it up in [`read_map`], without building the
/// whole map: opening a store needs one name (Outlook's categories,
/// `Keywords`), and decoding and hashing every name of the map was a
/// fixed cost of every run.
pub fn find_name(ndb: &Ndb, guid: &[u8; 16], name: &str) -> Option<u16> {
    let (props, _) = node_props(ndb, NID_NAME_TO_ID_MAP).ok()?;
    let guids = props.bytes(0x0002).unwrap_or(&[]);
    let entries = props.bytes(0x0003).unwrap_or(&[]);
    let strings = props.bytes(0x0004).unwrap_or(&[]);
    let wanted: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
    // Whether each id's last entry (the one the map keeps) is the name.
    let mut last: HashMap<u16, bool> = HashMap::new();
    for e in entries.chunks_exact(8) {
        let (id, guid_field, prop_idx) = (
            u32::from_le_bytes([e[0], e[1], e[2], e[3]]),
            u16::from_le_bytes([e[4], e[5]]),
            u16::from_le_bytes([e[6], e[7]]),
        );
        let set: [u8; 16] = match guid_field >> 1 {
            1 => PS_MAPI,
            2 => PS_PUBLIC_STRINGS,
            n @ 3.. => {
                let at = usize::from(n - 3) * 16;
                match guids.get(at..at + 16).and_then(|g| <[u8; 16]>::try_from(g).ok()) {
                    Some(g) => g,
                    // Skipped by `read_map` too.
                    None => continue,
                }
            }
            0 => [0; 16],
        };
        let pid = 0x8000u16.wrapping_add(prop_idx);
        if guid_field & 1 == 0 || &set != guid {
            last.insert(pid, false);
            continue;
        }
        // An entry `read_map` skips (a GUID index or string out of range)
        // leaves the id's earlier entry in place, as here.
        let at = id as usize;
        let Some(len) = u32_at(strings, at) else { continue };
        let Some(stored) = strings.get(at + 4..(at + 4).saturating_add(len as usize)) else { continue };
        // As `read_map` decodes it: whole UTF-16 units, trailing NULs not
        // part of the name.
        let mut stored = &stored[..stored.len() / 2 * 2];
        while let Some(rest) = stored.strip_suffix(&[0, 0]) {
            stored = rest;
        }
        last.insert(pid, stored == wanted.as_slice());
    }
    // Several ids for one name (a damaged map): the lowest.
    last.into_iter().filter(|(_, is)| *is).map(|(pid, _)| pid).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same id as a search of the whole map, for every string name of
    /// every corpus file.
    #[test]
    fn find_name_agrees_with_the_map() {
        let Some(corpus) = mailshift_testkit::shared_corpus("find_name_agrees_with_the_map") else { return };
        let mut checked = 0;
        for f in mailshift_testkit::corpus_files(&corpus, "pst", &["pst", "ost"]) {
            let Ok(src) = crate::PstSource::open(&f, Default::default()) else { continue };
            let ndb = src.ndb().unwrap();
            let map = read_map(&ndb);
            let mut names: Vec<_> = map.values().collect();
            names.sort_by_key(|n| format!("{n:?}"));
            names.dedup();
            for n in names {
                let NameKind::Name(name) = &n.kind else { continue };
                let by_map: Vec<u16> = map.iter().filter(|(_, v)| *v == n).map(|(id, _)| *id).collect();
                let found = find_name(&ndb, &n.guid, name);
                assert!(found.is_some_and(|id| by_map.contains(&id)), "{f:?} {n:?}: {found:?} vs {by_map:?}");
                checked += 1;
            }
            assert_eq!(find_name(&ndb, &PS_PUBLIC_STRINGS, "no such name, surely"), None);
        }
        assert!(checked > 100, "{checked} names checked");
    }
}
