//! Verified mail backups: a maildir inside a pax tar compressed with zstd,
//! with a manifest that proves, message by message, what is inside.
//!
//! An archive `NAME.tar.zst` holds:
//!
//! ```text
//! NAME/maildir/...          the store as a Maildir++ maildir (any source format,
//!                           converted on the fly): flags in file names, mtime =
//!                           received date, dovecot-keywords per folder
//! NAME/original/...         with --original: the source files as they were
//! NAME/manifest.jsonl       the manifest, always the last entry
//! ```
//!
//! and beside it `NAME.manifest.jsonl`: the same manifest plus a last line
//! with the BLAKE3 and size of the whole `.tar.zst` file. The manifest is
//! JSON lines ([`manifest::Record`]): a header, one record per tar entry
//! (path, size, BLAKE3 of its bytes) and per message (folder, exact and
//! logical fingerprints, flags, dates), one per folder (its keyword
//! letters), then an end record with the counts.
//!
//! Standard tools alone get the mail back: `tar --zstd -xf NAME.tar.zst`
//! (or `zstd -dc NAME.tar.zst | tar -x`) gives `NAME/maildir`, which
//! Dovecot serves as it is.
//!
//! Encrypted (`--encrypt-to`, see [`crypt`]): `NAME.tar.zst.age` is the
//! same zstd stream inside age, the full manifest is beside it as
//! `NAME.manifest.jsonl.age`, and `NAME.manifest.jsonl` keeps in clear only
//! names, sizes and the BLAKE3 of both encrypted files.
//!
//! Incremental backups are snapshots (manifest version 2): the newest
//! manifest lists every message present, pointing into earlier archives of
//! the chain for bytes it does not store again; [`restore::restore_chain`]
//! restores the mailbox as that manifest lists it.
//!
//! - [`backup()`]: a [`Source`](mailshift_model::Source) into an archive,
//!   written as `NAME.tar.zst.partial`, fsynced, renamed; never overwrites.
//! - [`verify()`]: every entry against the manifest and the whole-file hash;
//!   [`verify::against`] proves every message of a live store is inside.
//! - [`restore()`]: crash-safe, idempotent restore of the maildir, refusing
//!   entries that would leave the destination.
//! - [`drill()`]: verify, restore into scratch space, check every message
//!   against the manifest, measure the restore rate.
//!
//! This crate never prints: the `mailshift` binary does.

pub mod backup;
mod budget;
pub mod crypt;
pub use crypt::{Identities, Recipients};
pub mod drill;
mod hash_reader;
pub use drill::{drill, DrillOptions, DrillResult};
pub mod manifest;
mod pipe;
pub mod restore;
pub use restore::{restore, RestoreOptions};
mod tarfmt;
pub mod verify;
pub use verify::{verify, Verification};

pub use backup::{backup, BackupOptions, BackupSummary};

pub use manifest::{Manifest, Record};

/// The archive file's extension.
pub const ARCHIVE_EXT: &str = ".tar.zst";
/// The extension of the manifest beside an archive.
pub const MANIFEST_EXT: &str = ".manifest.jsonl";
/// The directory inside `NAME/` that holds the maildir.
pub const MAILDIR_DIR: &str = "maildir";
/// The directory inside `NAME/` that holds the original source files.
pub const ORIGINAL_DIR: &str = "original";
/// The manifest's file name inside `NAME/`.
pub const MANIFEST_ENTRY: &str = "manifest.jsonl";

/// The manifest that belongs beside `archive`: `X.tar.zst` or
/// `X.tar.zst.age` → `X.manifest.jsonl` (any other name gets the extension
/// appended).
pub fn manifest_path(archive: &std::path::Path) -> std::path::PathBuf {
    let name = archive.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name = name.strip_suffix(crypt::AGE_EXT).unwrap_or(&name);
    let stem = name.strip_suffix(ARCHIVE_EXT).unwrap_or(name);
    archive.with_file_name(format!("{stem}{MANIFEST_EXT}"))
}
