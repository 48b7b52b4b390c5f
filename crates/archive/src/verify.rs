//! `verify`: read the whole archive, hash every entry, compare with the
//! manifest and the whole-file hash, and name what is damaged, missing or
//! extra. Damage is a finding, never an error: [`verify`] fails only when the
//! archive cannot be opened at all.
//!
//! The manifest used is the one beside the archive; when it is missing (or
//! unreadable) the copy inside the archive is used and that is reported.
//! When both exist they must agree line for line.
//!
//! An encrypted archive (`.tar.zst.age`) is checked without a key as far as
//! a key is not needed: the BLAKE3 and size of the archive and of the
//! encrypted manifest against the clear manifest beside them. With
//! [`Identities`] the manifest and the stream are decrypted and every entry
//! is checked as usual; a key that opens neither is an error, not damage.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, BufRead, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use mailshift_model::{Error, ExactHash, Finding, FindingKind, Item, Location, Progress, Result, Source};
use serde::Serialize;

use crate::crypt::{is_encrypted, Identities};
use crate::manifest::{ArchiveRecord, EntryKind, Manifest, Record};
use crate::pipe::{pipe, pump, read_hashed, ChunkReader};
use crate::{manifest_path, MANIFEST_ENTRY};

/// Damaged, missing and extra entries named one finding each up to this
/// many per kind; the rest are counted in one more finding.
const LIST_FIRST: usize = 100;

/// What [`verify`] found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verification {
    pub archive: PathBuf,
    /// `beside`, `inside` or `none`: which manifest the entries were checked against.
    pub manifest_used: String,
    /// Entries read from the archive.
    pub entries: u64,
    /// Entries whose size and BLAKE3 match the manifest.
    pub entries_ok: u64,
    /// Messages listed in the manifest whose entry is intact.
    pub messages_ok: u64,
    /// Messages stored in this archive, per the manifest.
    pub messages: u64,
    /// Messages the manifest lists as stored in an earlier archive of the
    /// chain (checked when that archive is verified).
    pub listed_elsewhere: u64,
    /// The archive is encrypted.
    pub encrypted: bool,
    /// Whether the entries were read and checked (false: an encrypted
    /// archive without a key; only the whole-file hashes were checked).
    pub entries_checked: bool,
    /// Bytes of entry data read (uncompressed).
    pub bytes: u64,
    /// Size and BLAKE3 of the archive file.
    pub archive_bytes: u64,
    pub archive_blake3: String,
    /// Whether the archive's hash matches the manifest beside it (`None`
    /// when there is no manifest beside it).
    pub archive_hash_ok: Option<bool>,
    pub damaged: Vec<String>,
    pub missing: Vec<String>,
    pub extra: Vec<String>,
    pub findings: Vec<Finding>,
    pub elapsed_seconds: f64,
    /// The manifest checked against (for `--against` and drills).
    #[serde(skip)]
    pub manifest: Option<Manifest>,
}

impl Verification {
    /// No finding at error level.
    pub fn is_clean(&self) -> bool {
        !self.findings.iter().any(|f| f.level == mailshift_model::Level::Error)
    }
}

/// One entry as read from the archive.
struct Seen {
    path: String,
    kind: EntryKind,
    size: u64,
    hash: Option<blake3::Hash>,
}

fn norm(path: &str) -> &str {
    path.trim_end_matches('/')
}

/// Whether `path` is the manifest inside the archive: `NAME/manifest.jsonl`.
fn is_inner_manifest(path: &str) -> bool {
    let mut parts = norm(path).split('/');
    parts.next().is_some() && parts.next() == Some(MANIFEST_ENTRY) && parts.next().is_none()
}

/// Reads and checks the archive at `archive`; `keys` open an encrypted one.
pub fn verify(archive: &Path, keys: Option<&Identities>, progress: &dyn Progress) -> Result<Verification> {
    let started = Instant::now();
    let loc = || Location::path(archive);
    let file = File::open(archive).map_err(|e| Error::io(loc(), e))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut v = Verification { archive: archive.to_path_buf(), ..Verification::default() };
    v.encrypted = is_encrypted(archive);

    // The manifest beside, and the hash of its lines without the last
    // (`archive`) one, which must equal the manifest inside.
    let beside_path = manifest_path(archive);
    let mut beside: Option<(Manifest, blake3::Hash)> = None;
    // The `archive` line beside (for an encrypted archive: the clear one).
    let mut archive_record: Option<Option<ArchiveRecord>> = None;
    // An identity opened the encrypted manifest: a stream it cannot open
    // is damaged, not encrypted to someone else.
    let mut keys_proven = false;
    match std::fs::read(&beside_path) {
        Ok(bytes) => {
            let body_end = last_line_start(&bytes);
            let m = Manifest::parse(&bytes[..]).map_err(|e| Error::io(Location::path(&beside_path), e))?;
            for (n, text) in &m.bad_lines {
                v.findings.push(Finding::error(
                    FindingKind::Malformed,
                    Location::path(&beside_path).with_item(format!("line {n}")),
                    format!("manifest line is damaged: {text}"),
                ));
            }
            archive_record = Some(m.archive.clone());
            match &m.sealed {
                None => beside = Some((m, blake3::hash(&bytes[..body_end]))),
                Some(sealed) => {
                    v.encrypted = true;
                    let enc_path = beside_path.with_file_name(&sealed.manifest);
                    match std::fs::read(&enc_path) {
                        Err(e) => v.findings.push(Finding::error(
                            FindingKind::Missing,
                            Location::path(&enc_path),
                            format!("cannot read the encrypted manifest: {e}"),
                        )),
                        Ok(enc) => {
                            let h = blake3::hash(&enc).to_hex().to_string();
                            if h != sealed.manifest_blake3 || enc.len() as u64 != sealed.manifest_size {
                                v.findings.push(Finding::error(
                                    FindingKind::Mismatch,
                                    Location::path(&enc_path),
                                    format!(
                                        "the encrypted manifest differs from the one the backup wrote: {} bytes, \
                                         BLAKE3 {h} here; {} bytes, BLAKE3 {} in {}",
                                        enc.len(),
                                        sealed.manifest_size,
                                        sealed.manifest_blake3,
                                        beside_path.display()
                                    ),
                                ));
                            }
                            if let Some(keys) = keys {
                                match decrypt_all(keys, &enc, &enc_path) {
                                    Ok(full) => {
                                        keys_proven = true;
                                        let body_end = last_line_start(&full);
                                        let fm = Manifest::parse(&full[..])
                                            .map_err(|e| Error::io(Location::path(&enc_path), e))?;
                                        if fm.archive != m.archive {
                                            v.findings.push(Finding::error(
                                                FindingKind::Mismatch,
                                                Location::path(&enc_path),
                                                "the encrypted manifest names another archive than the clear one",
                                            ));
                                        }
                                        beside = Some((fm, blake3::hash(&full[..body_end])));
                                    }
                                    Err(e) if is_refusal(&e) => return Err(e),
                                    Err(e) => v.findings.push(Finding::error(
                                        FindingKind::Malformed,
                                        Location::path(&enc_path),
                                        format!("the encrypted manifest is damaged: {e}"),
                                    )),
                                }
                            }
                        }
                    }
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => v.findings.push(Finding::error(
            FindingKind::Missing,
            Location::path(&beside_path),
            "the manifest beside the archive is missing; checking against the copy inside the archive",
        )),
        Err(e) => v.findings.push(Finding::error(
            FindingKind::Unreadable,
            Location::path(&beside_path),
            format!("cannot read the manifest beside the archive ({e}); checking against the copy inside"),
        )),
    }

    progress.begin(1, total);
    let keep_inner = beside.is_none();
    let stop = AtomicBool::new(false);
    let mut fatal = None;
    let mut seen = Vec::new();
    let mut inner = None;
    // Stages on threads of their own (see `pipe`): reading and hashing the
    // file, decrypting, decompressing; this thread parses the tar and
    // hashes every entry.
    let whole = std::thread::scope(|s| {
        let (file_out, file_in) = pipe();
        let stop = &stop;
        let reader = s.spawn(move || read_hashed(file, file_out, progress, stop));
        let compressed: Option<Box<dyn BufRead + Send>> = match (v.encrypted, keys) {
            (false, _) => Some(Box::new(file_in)),
            (true, Some(keys)) => match keys.decrypt(file_in, archive) {
                Ok(plain) => {
                    let (out, plain_in) = pipe();
                    s.spawn(move || pump(plain, out));
                    Some(Box::new(plain_in))
                }
                Err(e) if is_refusal(&e) && !keys_proven => {
                    fatal = Some(e);
                    None
                }
                Err(e) => {
                    v.findings.push(Finding::error(
                        FindingKind::Malformed,
                        loc(),
                        format!("the encrypted archive cannot be opened: {e}"),
                    ));
                    None
                }
            },
            (true, None) => {
                // Nothing reads the stream: the reader only hashes.
                drop(file_in);
                v.findings.push(Finding::warning(
                    FindingKind::Unsupported,
                    loc(),
                    "encrypted: only the BLAKE3 of the archive and of its encrypted manifest were checked; \
                     give --identity FILE to check every entry",
                ));
                None
            }
        };
        if let Some(compressed) = compressed {
            v.entries_checked = true;
            match zstd::stream::read::Decoder::with_buffer(compressed) {
                Err(e) => v.findings.push(Finding::error(
                    FindingKind::Malformed,
                    loc(),
                    format!("not a zstd stream: {e}"),
                )),
                Ok(dec) => {
                    let (out, tar_in) = pipe();
                    s.spawn(move || pump(dec, out));
                    (seen, inner) = read_entries(tar_in, archive, keep_inner, &mut v);
                }
            }
        }
        if fatal.is_some() {
            stop.store(true, Ordering::Relaxed);
        }
        reader.join()
    });
    if let Some(e) = fatal {
        return Err(e);
    }
    match whole {
        Ok((w, failed)) => {
            v.archive_bytes = w.bytes;
            v.archive_blake3 = w.blake3.to_hex().to_string();
            if let Some(e) = failed {
                v.findings.push(Finding::error(
                    FindingKind::Unreadable,
                    loc(),
                    format!("cannot read to the end: {e}"),
                ));
            }
        }
        Err(_) => v.findings.push(Finding::error(
            FindingKind::Unreadable,
            loc(),
            "the thread reading the archive panicked",
        )),
    }
    progress.end();

    match archive_record {
        Some(Some(a)) => {
            let ok = a.blake3 == v.archive_blake3 && a.size == v.archive_bytes;
            v.archive_hash_ok = Some(ok);
            if !ok {
                v.findings.push(Finding::error(
                    FindingKind::Mismatch,
                    loc(),
                    format!(
                        "the archive file differs from the one the manifest describes: {} bytes, \
                         BLAKE3 {} here; {} bytes, BLAKE3 {} in the manifest",
                        v.archive_bytes, v.archive_blake3, a.size, a.blake3
                    ),
                ));
            }
        }
        Some(None) => v.findings.push(Finding::error(
            FindingKind::Truncated,
            Location::path(&beside_path),
            "the manifest beside the archive has no final `archive` line (truncated?)",
        )),
        None => {}
    }
    if !v.entries_checked {
        v.manifest_used = if beside.is_some() { "beside" } else { "sealed" }.to_owned();
        v.manifest = beside.map(|(m, _)| m);
        v.elapsed_seconds = started.elapsed().as_secs_f64();
        return Ok(v);
    }
    let manifest = match (beside, inner) {
        (Some((m, body_hash)), inner) => {
            v.manifest_used = "beside".to_owned();
            match inner {
                Some((_, h)) if h == body_hash => v.entries_ok += 1,
                Some(_) => v.findings.push(Finding::error(
                    FindingKind::Mismatch,
                    loc().with_item(MANIFEST_ENTRY),
                    "the manifest inside the archive differs from the one beside it",
                )),
                None => v.findings.push(Finding::error(
                    FindingKind::Missing,
                    loc().with_item(MANIFEST_ENTRY),
                    "the archive holds no manifest (it is incomplete or damaged)",
                )),
            }
            Some(m)
        }
        (None, Some((bytes, _))) => {
            v.manifest_used = "inside".to_owned();
            let m = Manifest::parse(&bytes[..]).map_err(|e| Error::io(loc(), e))?;
            for (n, text) in &m.bad_lines {
                v.findings.push(Finding::error(
                    FindingKind::Malformed,
                    loc().with_item(format!("{MANIFEST_ENTRY} line {n}")),
                    format!("manifest line is damaged: {text}"),
                ));
            }
            v.entries_ok += 1;
            Some(m)
        }
        (None, None) => {
            v.manifest_used = "none".to_owned();
            v.findings.push(Finding::error(
                FindingKind::Missing,
                loc(),
                "no manifest beside the archive nor inside it: nothing can be verified",
            ));
            None
        }
    };
    if let Some(m) = &manifest {
        check_entries(m, &seen, archive, &mut v);
    }
    v.manifest = manifest;
    v.elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(v)
}

/// Whether `e` says the run cannot go on (a wrong key), not damage.
fn is_refusal(e: &Error) -> bool {
    matches!(e.kind, mailshift_model::ErrorKind::Refused(_))
}

/// Decrypts a whole (small) age file.
fn decrypt_all(keys: &Identities, enc: &[u8], what: &Path) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    keys.decrypt(enc, what)?.read_to_end(&mut out).map_err(|e| Error::io(Location::path(what), e))?;
    Ok(out)
}

/// Where the last non-empty line of `bytes` starts.
fn last_line_start(bytes: &[u8]) -> usize {
    let trimmed = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    trimmed.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
}

/// Parses the decompressed tar from `input`, hashing every entry as it
/// streams by: what was seen, and the manifest inside (its bytes when
/// `keep_inner`, and its hash). Damage is added to `v` as findings.
fn read_entries(
    input: ChunkReader,
    archive: &Path,
    keep_inner: bool,
    v: &mut Verification,
) -> (Vec<Seen>, Option<(Vec<u8>, blake3::Hash)>) {
    let loc = || Location::path(archive);
    let mut seen = Vec::new();
    let mut inner = None;
    let mut ar = tar::Archive::new(input);
    let mut buf = vec![0u8; 256 << 10];
    let mut last_ok = String::from("(start of archive)");
    match ar.entries() {
        Err(e) => {
            v.findings.push(Finding::error(FindingKind::Malformed, loc(), format!("not a tar stream: {e}")))
        }
        Ok(entries) => {
            for entry in entries {
                let mut entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        v.findings.push(Finding::error(
                            FindingKind::Malformed,
                            loc(),
                            format!("the archive is damaged after entry {last_ok}: {e}; nothing after it can be read"),
                        ));
                        break;
                    }
                };
                let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                let etype = entry.header().entry_type();
                let kind = if etype.is_dir() { EntryKind::Dir } else { EntryKind::File };
                let inner_manifest = is_inner_manifest(&path);
                let mut size = 0u64;
                let mut failed = None;
                let mut hasher = blake3::Hasher::new();
                let mut data = Vec::new();
                loop {
                    match entry.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            size += n as u64;
                            hasher.update(&buf[..n]);
                            if inner_manifest && keep_inner {
                                data.extend_from_slice(&buf[..n]);
                            }
                        }
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                v.entries += 1;
                v.bytes += size;
                if let Some(e) = failed {
                    v.damaged.push(path.clone());
                    v.findings.push(Finding::error(
                        FindingKind::Malformed,
                        loc().with_item(path.clone()),
                        format!(
                            "entry is damaged (cannot be read past byte {size}: {e}); nothing after it can be read"
                        ),
                    ));
                    return (seen, inner);
                }
                let hash = (kind == EntryKind::File).then(|| hasher.finalize());
                if inner_manifest {
                    if let Some(h) = hash {
                        inner = Some((data, h));
                    }
                } else {
                    seen.push(Seen { path: path.clone(), kind, size, hash });
                }
                last_ok = path;
            }
        }
    }
    // Read the compressed stream to its end: that checks zstd's own checksum.
    let mut rest = ar.into_inner();
    if let Err(e) = io::copy(&mut rest, &mut io::sink()) {
        v.findings.push(Finding::error(
            FindingKind::Malformed,
            loc(),
            format!("the compressed stream is damaged after entry {last_ok}: {e}"),
        ));
    }
    (seen, inner)
}

/// An entry the manifest lists: kind, size, BLAKE3, whether a message.
type Expected<'a> = (EntryKind, u64, Option<&'a str>, bool);

fn check_entries(m: &Manifest, seen: &[Seen], archive: &Path, v: &mut Verification) {
    let loc = |p: &str| Location::path(archive).with_item(p.to_owned());
    let mut expected: HashMap<&str, VecDeque<Expected<'_>>> = HashMap::new();
    for r in &m.records {
        match r {
            Record::Entry(e) => expected.entry(norm(&e.path)).or_default().push_back((
                e.kind,
                e.size,
                e.blake3.as_deref(),
                false,
            )),
            Record::Message(msg) if msg.stored_in.is_some() => v.listed_elsewhere += 1,
            Record::Message(msg) => {
                v.messages += 1;
                expected.entry(norm(&msg.path)).or_default().push_back((
                    EntryKind::File,
                    msg.size,
                    Some(&msg.blake3),
                    true,
                ));
            }
            _ => {}
        }
    }
    let mut damaged = Vec::new();
    let mut extra = Vec::new();
    for s in seen {
        let Some((kind, size, hash, is_msg)) = expected.get_mut(norm(&s.path)).and_then(VecDeque::pop_front)
        else {
            extra.push(s.path.clone());
            continue;
        };
        let same_hash = match (hash, s.hash) {
            (Some(want), Some(got)) => got.to_hex().as_str() == want,
            (None, None) => true,
            _ => false,
        };
        if kind == s.kind && size == s.size && same_hash {
            v.entries_ok += 1;
            if is_msg {
                v.messages_ok += 1;
            }
        } else {
            damaged.push((s.path.clone(), format!(
                "entry differs from the manifest: {} bytes, BLAKE3 {} here; {size} bytes, BLAKE3 {} in the manifest",
                s.size,
                s.hash.map_or_else(|| "-".to_owned(), |h| h.to_hex().to_string()),
                hash.unwrap_or("-")
            )));
        }
    }
    let mut missing: Vec<String> = Vec::new();
    for r in &m.records {
        let path = match r {
            Record::Entry(e) => &e.path,
            Record::Message(msg) if msg.stored_in.is_none() => &msg.path,
            _ => continue,
        };
        if let Some(q) = expected.get_mut(norm(path)) {
            if q.pop_front().is_some() {
                missing.push(path.clone());
            }
        }
    }
    if m.end.is_none() {
        v.findings.push(Finding::error(
            FindingKind::Truncated,
            Location::path(archive),
            format!("the {} manifest has no `end` line: it is incomplete", v.manifest_used),
        ));
    }
    for (p, why) in damaged.iter().take(LIST_FIRST) {
        v.findings.push(Finding::error(FindingKind::Mismatch, loc(p), why.clone()));
    }
    for p in missing.iter().take(LIST_FIRST) {
        v.findings.push(Finding::error(
            FindingKind::Missing,
            loc(p),
            "listed in the manifest, not in the archive",
        ));
    }
    for p in extra.iter().take(LIST_FIRST) {
        v.findings.push(Finding::error(
            FindingKind::Extra,
            loc(p),
            "in the archive, not listed in the manifest",
        ));
    }
    for (list, what) in [(damaged.len(), "damaged"), (missing.len(), "missing"), (extra.len(), "extra")] {
        if list > LIST_FIRST {
            v.findings.push(Finding::error(
                FindingKind::Mismatch,
                Location::path(archive),
                format!("... and {} more {what} entries (all listed in the JSON report)", list - LIST_FIRST),
            ));
        }
    }
    v.damaged.extend(damaged.into_iter().map(|(p, _)| p));
    v.missing.extend(missing);
    v.extra.extend(extra);
}

/// What [`against`] found: whether every message of a live store is in
/// the archive (or the chain it ends).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Against {
    pub source: String,
    /// Messages read from the live store.
    pub checked: u64,
    pub found: u64,
    pub missing: u64,
    pub findings: Vec<Finding>,
}

/// Reads every message of `source` and checks that the archive holds it:
/// the same folder and exact fingerprint, as many copies as the store has.
/// `known` counts the copies the manifests of the chain list.
pub fn against(
    source: &dyn Source,
    mut known: HashMap<(String, ExactHash), u32>,
    progress: &dyn Progress,
) -> Result<Against> {
    let info = source.info();
    let mut a =
        Against { source: format!("{} at {}", info.format, info.path.display()), ..Against::default() };
    let units = source.units(&mut a.findings)?;
    progress.begin(units.len() as u64, units.iter().map(|u| u.bytes).sum());
    for unit in &units {
        let key = unit.folder.key();
        let r = source.read_unit(unit, &mut |item| {
            match item {
                Item::Message(m) => {
                    a.checked += 1;
                    progress.message(m.size());
                    let exact = m.fingerprint().exact;
                    match known.get_mut(&(key.clone(), exact)) {
                        Some(n) if *n > 0 => {
                            *n -= 1;
                            a.found += 1;
                        }
                        _ => {
                            a.missing += 1;
                            if a.missing <= LIST_FIRST as u64 {
                                a.findings.push(Finding::error(
                                    FindingKind::Missing,
                                    m.envelope.origin.clone(),
                                    format!("message of folder {key:?} is not in the archive"),
                                ));
                            }
                        }
                    }
                }
                Item::Skipped(f) | Item::Finding(f) => a.findings.push(f),
            }
            ControlFlow::Continue(())
        });
        if let Err(e) = r {
            a.findings.push(Finding::error(FindingKind::Unreadable, e.location.clone(), e.kind.to_string()));
        }
        progress.unit_done(unit);
    }
    progress.end();
    if a.missing > LIST_FIRST as u64 {
        a.findings.push(Finding::error(
            FindingKind::Missing,
            Location::path(&info.path),
            format!("... and {} more messages not in the archive", a.missing - LIST_FIRST as u64),
        ));
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The thread that reads the file hits an I/O error (a directory where
    /// the archive should be): the run still ends with findings that name
    /// the archive and the error, not with a hang or a panic.
    #[test]
    fn a_read_error_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("x.tar.zst");
        std::fs::create_dir(&a).unwrap();
        let v = verify(&a, None, &mailshift_model::NoProgress).unwrap();
        assert!(!v.is_clean());
        let unreadable: Vec<_> = v
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::Unreadable && f.message.starts_with("cannot read to the end"))
            .collect();
        assert_eq!(unreadable.len(), 1, "{:#?}", v.findings);
        assert!(
            unreadable[0].message.contains(&io::Error::from_raw_os_error(21).to_string()),
            "{:#?}",
            v.findings
        );
        // The decoder saw the same error.
        assert!(
            v.findings.iter().any(|f| f.kind == FindingKind::Malformed
                && f.message.contains(&io::Error::from_raw_os_error(21).to_string())),
            "{:#?}",
            v.findings
        );
        assert_eq!(v.archive_bytes, 0);
    }

    /// Without a key nothing reads the decrypted stream: the file is still
    /// read and hashed to its end, however big (a stream nobody drains
    /// must not stall the reading thread).
    #[test]
    fn an_encrypted_archive_without_key_is_hashed_to_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("x.tar.zst.age");
        let data: Vec<u8> =
            (0..(crate::pipe::DEPTH * 3 + 1) * crate::pipe::CHUNK).map(|i| (i % 253) as u8).collect();
        std::fs::write(&a, &data).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let a2 = a.clone();
        std::thread::spawn(move || {
            let _ = tx.send(verify(&a2, None, &mailshift_model::NoProgress));
        });
        let v = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("verify hangs").unwrap();
        assert!(v.encrypted && !v.entries_checked);
        assert_eq!(v.archive_bytes, data.len() as u64);
        assert_eq!(v.archive_blake3, blake3::hash(&data).to_hex().to_string());
    }
}
