//! MAPI property values (MS-OXCDATA 2.11.1) decoded from their on-disk bytes.
//! Unknown types are kept as raw bytes so nothing after them is lost.

/// One property value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    I16(i16),
    I32(i32),
    F64(f64),
    Bool(bool),
    I64(i64),
    /// A FILETIME: 100 ns ticks since 1601-01-01 UTC.
    Time(i64),
    Guid([u8; 16]),
    /// PtypString (UTF-16LE on disk).
    Str(String),
    /// PtypString8: bytes in the item's code page, decoded on use.
    Str8(Vec<u8>),
    Bin(Vec<u8>),
    /// PtypObject: the sub-node holding the object (embedded message, OLE).
    Object(u32),
    /// A multi-valued property.
    Multi(Vec<Value>),
    /// Any other type, as stored.
    Other(u16, Vec<u8>),
}

fn le<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    b.get(..N)?.try_into().ok()
}

/// Decodes a UTF-16LE string, dropping a trailing NUL.
pub fn utf16(b: &[u8]) -> String {
    let pairs = b.chunks_exact(2);
    // Most strings are ASCII: their low bytes are the text, without a
    // buffer of units and decoding char by char.
    let ascii = pairs.clone().all(|c| c[1] == 0 && c[0] < 0x80);
    let mut s = match ascii {
        true => String::from_utf8(pairs.map(|c| c[0]).collect()).unwrap_or_default(),
        false => {
            let units: Vec<u16> = pairs.map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
            String::from_utf16_lossy(&units)
        }
    };
    while s.ends_with('\0') {
        s.pop();
    }
    s
}

/// Decodes 8-bit text in Windows code page `cp` (UTF-8 when unknown).
pub fn decode_8bit(b: &[u8], cp: u32) -> String {
    let b = b.strip_suffix(&[0]).unwrap_or(b);
    let enc = u16::try_from(cp).ok().and_then(codepage::to_encoding).unwrap_or(encoding_rs::WINDOWS_1252);
    let enc = if std::str::from_utf8(b).is_ok() && cp == 0 { encoding_rs::UTF_8 } else { enc };
    enc.decode_without_bom_handling(b).0.into_owned()
}

/// Decodes the value of type `ty` from `b`.
pub fn decode_value(ty: u16, b: &[u8]) -> Value {
    if ty & 0x1000 != 0 {
        return decode_multi(ty & !0x1000, b);
    }
    let v = match ty {
        0x0002 => le::<2>(b).map(|a| Value::I16(i16::from_le_bytes(a))),
        0x0003 | 0x000A => le::<4>(b).map(|a| Value::I32(i32::from_le_bytes(a))),
        0x0004 => le::<4>(b).map(|a| Value::F64(f64::from(f32::from_le_bytes(a)))),
        0x0005 | 0x0007 => le::<8>(b).map(|a| Value::F64(f64::from_le_bytes(a))),
        0x0006 | 0x0014 => le::<8>(b).map(|a| Value::I64(i64::from_le_bytes(a))),
        0x000B => b.first().map(|x| Value::Bool(*x != 0)),
        0x0040 => le::<8>(b).map(|a| Value::Time(i64::from_le_bytes(a))),
        0x0048 => le::<16>(b).map(Value::Guid),
        0x001F => Some(Value::Str(utf16(b))),
        0x001E => Some(Value::Str8(b.to_vec())),
        0x0102 => Some(Value::Bin(b.to_vec())),
        _ => None,
    };
    v.unwrap_or_else(|| Value::Other(ty, b.to_vec()))
}

/// Multi-valued: fixed-size items packed, or a count, offsets and data for
/// variable-size ones. Counts are bounded by the bytes present.
fn decode_multi(ty: u16, b: &[u8]) -> Value {
    let fixed = match ty {
        0x0002 => Some(2),
        0x0003 | 0x0004 | 0x000A => Some(4),
        0x0005 | 0x0006 | 0x0007 | 0x0014 | 0x0040 => Some(8),
        0x0048 => Some(16),
        _ => None,
    };
    if let Some(size) = fixed {
        return Value::Multi(b.chunks_exact(size).map(|c| decode_value(ty, c)).collect());
    }
    let Some(count) = le::<4>(b).map(u32::from_le_bytes) else {
        return Value::Multi(Vec::new());
    };
    let count = (count as usize).min(b.len().saturating_sub(4) / 4);
    let offsets: Vec<usize> =
        (0..count).filter_map(|i| le::<4>(&b[4 + 4 * i..]).map(|a| u32::from_le_bytes(a) as usize)).collect();
    let mut out = Vec::new();
    for (i, &start) in offsets.iter().enumerate() {
        let end = offsets.get(i + 1).copied().unwrap_or(b.len());
        if let Some(item) = b.get(start..end.max(start)) {
            out.push(decode_value(ty, item));
        }
    }
    Value::Multi(out)
}

/// Seconds from 1601-01-01, the epoch of FILETIMEs and of the minutes in
/// recurrence blobs, to 1970-01-01.
pub const EPOCH_1601: i64 = 11_644_473_600;
/// FILETIME ticks (100 ns) per second.
pub const TICKS_PER_SEC: i64 = 10_000_000;

/// FILETIME ticks as whole seconds since 1970; `None` for zero (unset) and
/// negative values.
pub fn filetime_secs(ticks: i64) -> Option<i64> {
    (ticks > 0).then(|| ticks / TICKS_PER_SEC - EPOCH_1601)
}

/// Minutes since 1601-01-01 (recurrence blobs, exception dates) as seconds
/// since 1970 on the same clock: local minutes give local seconds, which
/// the caller places in the item's time zone. The one conversion
/// appointments and recurrences share.
pub fn minutes_1601_secs(minutes: u32) -> i64 {
    i64::from(minutes) * 60 - EPOCH_1601
}

/// FILETIME ticks to a UTC timestamp (`None` for zero or out of range).
pub fn filetime(ticks: i64) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let secs = filetime_secs(ticks)?;
    let nanos = u32::try_from((ticks % TICKS_PER_SEC) * 100).ok()?;
    chrono::DateTime::from_timestamp(secs, nanos).map(|d| d.fixed_offset())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_count_is_bounded_by_data() {
        // A count of 0xFFFFFFFF with 8 bytes of data must not allocate 4 G entries.
        let v = decode_value(0x101F, &[0xFF, 0xFF, 0xFF, 0xFF, 8, 0, 0, 0]);
        assert!(matches!(v, Value::Multi(ref m) if m.len() <= 1), "{v:?}");
        let v = decode_value(0x1048, &[1u8; 40]);
        assert!(matches!(v, Value::Multi(ref m) if m.len() == 2));
    }

    #[test]
    fn unknown_and_short_values_are_kept_raw() {
        assert_eq!(decode_value(0x00FB, &[1, 2]), Value::Other(0x00FB, vec![1, 2]));
        assert_eq!(decode_value(0x0040, &[1, 2]), Value::Other(0x0040, vec![1, 2]));
    }

    #[test]
    fn filetime_epoch() {
        let t = filetime(116_444_736_000_000_000).unwrap();
        assert_eq!(t.timestamp(), 0);
        assert!(filetime(0).is_none());
        assert_eq!(filetime_secs(116_444_736_000_000_000), Some(0));
        assert_eq!(filetime_secs(-5), None);
        // 1601-01-02 00:01 local is one day and a minute after the epoch.
        assert_eq!(minutes_1601_secs(24 * 60 + 1), 86_460 - EPOCH_1601);
    }

    #[test]
    fn code_pages() {
        assert_eq!(decode_8bit(b"caf\xe9\0", 1252), "café");
        assert_eq!(utf16(&[0x41, 0, 0x42, 0, 0, 0]), "AB");
    }

    /// The ASCII fast path gives what decoding every unit gives.
    #[test]
    fn utf16_matches_full_decoding() {
        use proptest::prelude::*;
        let full = |b: &[u8]| {
            let units: Vec<u16> = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
            String::from_utf16_lossy(&units).trim_end_matches('\0').to_owned()
        };
        let strategy = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            "[ -~\0]{0,40}".prop_map(|s| s.bytes().flat_map(|b| [b, 0]).collect::<Vec<u8>>()),
            ("[ -~]{0,20}", any::<u16>(), any::<bool>()).prop_map(|(s, u, odd)| {
                let mut b: Vec<u8> = s.bytes().flat_map(|b| [b, 0]).collect();
                b.extend_from_slice(&u.to_le_bytes());
                if odd {
                    b.push(0x41);
                }
                b
            }),
        ];
        proptest::test_runner::TestRunner::default()
            .run(&strategy, |b| {
                prop_assert_eq!(utf16(&b), full(&b));
                Ok(())
            })
            .unwrap();
        assert_eq!(utf16(&[0xE9, 0, 0x41, 0]), "éA");
    }
}
