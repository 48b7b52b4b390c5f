//! Writing tar entries the way every tar reads them: ustar headers, with a
//! pax extended header in front where a path is too long for ustar or a
//! date lies before 1970.

use std::io::{self, Read, Write};

use tar::{Builder, EntryType, Header};

/// File mode of messages and other files: mail is private.
pub const FILE_MODE: u32 = 0o600;
/// Mode of directories.
pub const DIR_MODE: u32 = 0o700;

/// Appends one entry: `data` must yield exactly `size` bytes.
pub fn append<W: Write>(
    builder: &mut Builder<W>,
    path: &str,
    kind: EntryType,
    size: u64,
    mtime: i64,
    data: impl Read,
) -> io::Result<()> {
    let mut h = Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(if kind == EntryType::Directory { DIR_MODE } else { FILE_MODE });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(u64::try_from(mtime).unwrap_or(0));
    let mut pax: Vec<(&str, Vec<u8>)> = Vec::new();
    if mtime < 0 {
        pax.push(("mtime", mtime.to_string().into_bytes()));
    }
    if h.set_path(path).is_err() {
        // Too long for ustar's name + prefix: the pax `path` record holds
        // it; the ustar name keeps a readable, truncated stand-in.
        pax.push(("path", path.as_bytes().to_vec()));
        let base = path.trim_end_matches('/').rsplit('/').next().unwrap_or("entry");
        let mut cut = base.len().min(99);
        while !base.is_char_boundary(cut) {
            cut -= 1;
        }
        h.set_path(&base[..cut]).or_else(|_| h.set_path("long-name"))?;
    }
    if !pax.is_empty() {
        builder.append_pax_extensions(pax.iter().map(|(k, v)| (*k, v.as_slice())))?;
    }
    h.set_cksum();
    builder.append(&h, data)
}

/// The mtime of an entry: the pax `mtime` record if there is one (it can be
/// negative or fractional), else the ustar field.
pub fn entry_mtime<R: Read>(entry: &mut tar::Entry<'_, R>) -> i64 {
    if let Ok(Some(exts)) = entry.pax_extensions() {
        for ext in exts.flatten() {
            if ext.key_bytes() == b"mtime" {
                if let Some(t) = ext.value().ok().and_then(|v| v.parse::<f64>().ok()) {
                    return t.floor() as i64;
                }
            }
        }
    }
    entry.header().mtime().map_or(0, |t| i64::try_from(t).unwrap_or(i64::MAX))
}
