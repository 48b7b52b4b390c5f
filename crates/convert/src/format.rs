//! Which format a path holds, and opening it as a source or a sink.
//!
//! Adding a format (PST next) means one [`Format`] variant and one arm in
//! each match below; the pipeline does not change.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use mailshift_model::{Error, FolderPath, FolderWriter, Location, Result, Sink, Source};

pub use mailshift_maildir::{Layout, MaildirWriteOptions};
pub use mailshift_mbox::{MboxReadOptions, MboxVariant};
pub use mailshift_pst::PstOptions;

/// A store format mailshift reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Maildir or Maildir++ (also the `fs` layout).
    Maildir,
    /// One mbox file, a directory tree of them, or a Thunderbird profile.
    Mbox,
    /// A folder tree of `.eml` files, one message each.
    Eml,
    /// An Outlook PST or OST file (read only).
    Pst,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Maildir => "maildir",
            Format::Mbox => "mbox",
            Format::Eml => "eml",
            Format::Pst => "pst",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "maildir" => Ok(Format::Maildir),
            "mbox" => Ok(Format::Mbox),
            "eml" => Ok(Format::Eml),
            "pst" | "ost" => Ok(Format::Pst),
            other => Err(format!("unknown format {other:?} (expected maildir, mbox, eml or pst)")),
        }
    }
}

/// How to open a source.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// Skip detection and read the path as this format.
    pub format: Option<Format>,
    pub mbox: MboxReadOptions,
    pub pst: PstOptions,
}

/// How to open a sink.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    pub format: Format,
    pub maildir: MaildirWriteOptions,
}

impl Default for SinkOptions {
    fn default() -> Self {
        SinkOptions { format: Format::Maildir, maildir: MaildirWriteOptions::default() }
    }
}

/// Tells the format of the store at `path` by looking at it: a maildir
/// first (its `cur`/`new`/`tmp`), then mbox files, then `.eml` files.
pub fn detect(path: &Path) -> Result<Format> {
    let location = Location::path(path);
    let meta = std::fs::metadata(path).map_err(|e| Error::io(location.clone(), e))?;
    if meta.is_file() && mailshift_pst::sniff(path) {
        return Ok(Format::Pst);
    }
    if meta.is_dir() && mailshift_maildir::sniff(path) {
        return Ok(Format::Maildir);
    }
    if mailshift_mbox::sniff(path) {
        return Ok(Format::Mbox);
    }
    if mailshift_eml::sniff(path) {
        return Ok(Format::Eml);
    }
    Err(Error::unsupported(
        location,
        "cannot tell the format: not a PST/OST, maildir, mbox or folder of .eml files",
    ))
}

/// Opens the store at `path` for reading, detecting its format unless
/// `opts.format` says it.
pub fn open_source(path: &Path, opts: &SourceOptions) -> Result<Box<dyn Source>> {
    let format = match opts.format {
        Some(f) => f,
        None => detect(path)?,
    };
    Ok(match format {
        Format::Maildir => Box::new(mailshift_maildir::MaildirSource::open(path)?),
        Format::Mbox => Box::new(mailshift_mbox::MboxSource::open(path, opts.mbox.clone())?),
        Format::Eml => Box::new(mailshift_eml::EmlSource::open(path)?),
        Format::Pst => Box::new(mailshift_pst::PstSource::open(path, opts.pst.clone())?),
    })
}

/// Whether an mbox destination is one file rather than a tree: it ends in
/// `.mbox` or is an existing file.
pub fn is_single_mbox(path: &Path) -> bool {
    path.is_file() || path.extension().is_some_and(|e| e.eq_ignore_ascii_case("mbox"))
}

/// Opens (creating where needed) the store at `path` for writing.
pub fn open_sink(path: &Path, opts: &SinkOptions) -> Result<Box<dyn Sink>> {
    Ok(match opts.format {
        // Durability deferred to the end of the run: `convert` calls `finish`.
        Format::Maildir => {
            Box::new(mailshift_maildir::MaildirSink::create_deferred(path, opts.maildir.clone())?)
        }
        Format::Mbox if is_single_mbox(path) => Box::new(mailshift_mbox::MboxSink::file(path)?),
        Format::Mbox => Box::new(mailshift_mbox::MboxSink::tree(path)?),
        Format::Eml => Box::new(mailshift_eml::EmlSink::create(path)?),
        Format::Pst => {
            return Err(Error::unsupported(
                Location::path(path),
                "mailshift reads PST/OST but does not write it",
            ))
        }
    })
}

/// A sink for `--dry-run`: it names the destination and is never written
/// to (the pipeline does not open folders in a dry run), so nothing is
/// created on disk.
#[derive(Debug, Clone)]
pub struct DryRunSink {
    pub description: String,
}

impl DryRunSink {
    pub fn new(path: &Path, opts: &SinkOptions) -> Self {
        DryRunSink { description: format!("{} at {}", opts.format, path.display()) }
    }
}

impl Sink for DryRunSink {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn open_folder(&self, folder: &FolderPath) -> Result<Box<dyn FolderWriter + '_>> {
        Err(Error::refused(Location::default().with_folder(folder.key()), "dry run: nothing is written"))
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    const MSG: &[u8] = b"From: a@b\nSubject: x\n\nbody\n";

    #[test]
    fn detects_each_format_and_refuses_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let md = dir.path().join("md");
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(md.join(sub)).unwrap();
        }
        fs::write(md.join("cur/1.M1P1.h:2,S"), MSG).unwrap();
        let mbox = dir.path().join("inbox.mbox");
        fs::write(&mbox, [b"From a@b Mon Jan  1 00:00:00 2024\n".as_slice(), MSG, b"\n"].concat()).unwrap();
        let eml = dir.path().join("eml");
        fs::create_dir_all(eml.join("INBOX")).unwrap();
        fs::write(eml.join("INBOX/1.eml"), MSG).unwrap();
        let other = dir.path().join("notes.txt");
        fs::write(&other, b"hello\n").unwrap();
        assert_eq!(detect(&md).unwrap(), Format::Maildir);
        assert_eq!(detect(&mbox).unwrap(), Format::Mbox);
        assert_eq!(detect(&eml).unwrap(), Format::Eml);
        let e = detect(&other).unwrap_err();
        assert!(e.to_string().contains("cannot tell the format"), "{e}");
        assert!(detect(&dir.path().join("missing")).is_err());
        for (path, format) in [(&md, "maildir"), (&mbox, "mbox"), (&eml, "eml")] {
            let source = open_source(path, &SourceOptions::default()).unwrap();
            assert_eq!(source.info().format, format);
        }
        let forced = SourceOptions { format: Some(Format::Mbox), ..SourceOptions::default() };
        assert_eq!(open_source(&mbox, &forced).unwrap().info().format, "mbox");
    }

    #[test]
    fn an_mbox_destination_is_one_file_or_a_tree() {
        let dir = tempfile::tempdir().unwrap();
        assert!(is_single_mbox(&dir.path().join("all.mbox")));
        assert!(is_single_mbox(&dir.path().join("ALL.MBOX")));
        assert!(!is_single_mbox(&dir.path().join("tree")));
        let existing = dir.path().join("Inbox");
        fs::write(&existing, b"").unwrap();
        assert!(is_single_mbox(&existing));
        assert_eq!("MBOX".parse::<Format>().unwrap(), Format::Mbox);
        assert!("pdf".parse::<Format>().is_err());
        let opts = SinkOptions { format: Format::Eml, ..SinkOptions::default() };
        let dry = DryRunSink::new(&dir.path().join("out"), &opts);
        assert!(dry.describe().starts_with("eml at "));
        assert!(dry.open_folder(&FolderPath::inbox()).is_err());
        assert!(!dir.path().join("out").exists());
    }
}
