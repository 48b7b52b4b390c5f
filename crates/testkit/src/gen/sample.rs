//! The small Thunderbird profile tree committed under
//! `corpus/sample/thunderbird`: what the README's first command converts.
//!
//! Thunderbird keeps each folder as an mbox file named like the folder, its
//! subfolders in `Name.sbd/`, and an index `Name.msf` (Mork) beside it that a
//! converter must ignore.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{FlagStyle, Generator, MboxWriter, Profile, Stats, Variant};

/// The seed `corpus/sample` was generated with.
pub const SAMPLE_SEED: u64 = 20_231_128;

/// One folder of the sample tree.
#[derive(Debug, Clone, Serialize)]
pub struct SampleFolder {
    /// The mbox file, relative to the tree's root.
    pub file: PathBuf,
    pub stats: Stats,
}

/// Folder file, message count. Parents such as `Archives` are empty mbox
/// files, as Thunderbird leaves them.
const TREE: &[(&str, u64)] = &[
    ("Inbox", 40),
    ("Sent", 18),
    ("Drafts", 4),
    ("Trash", 10),
    ("Archives", 0),
    ("Archives.sbd/2023", 24),
    ("Projekte", 6),
    ("Projekte.sbd/Ünïcode", 10),
    ("Projekte.sbd/Release v1.2", 6),
];

const MSF: &[&str] = &["Inbox.msf", "Sent.msf", "Projekte.sbd/Ünïcode.msf"];

/// Writes the sample tree into `dir` (created if needed) and returns what
/// each folder holds. The same seed always gives the same bytes.
pub fn write_thunderbird_sample(dir: &Path, seed: u64) -> io::Result<Vec<SampleFolder>> {
    let mut out = Vec::new();
    for (i, (name, n)) in TREE.iter().enumerate() {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut w = MboxWriter::new(fs::File::create(&path)?, Variant::Mboxrd);
        let gen =
            Generator::new(seed.wrapping_add(i as u64), Profile::Small).with_flag_style(FlagStyle::Mozilla);
        for m in gen.take(*n as usize) {
            w.write(&m)?;
        }
        out.push(SampleFolder { file: PathBuf::from(name), stats: w.finish()? });
    }
    for name in MSF {
        // A Mork index header and nothing a converter should read.
        fs::write(
            dir.join(name),
            "// <!-- <mdb:mork:z v=\"1.4\"/> -->\n< <(a=c)> // (f=iso-8859-1)\n  (B8=flags)(B9=folderName)>\n<(80=0)>\n",
        )?;
    }
    Ok(out)
}
