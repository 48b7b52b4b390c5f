//! mbox reading and writing for mailshift.
//!
//! An mbox is messages laid end to end, each introduced by a "From_ line"
//! (`From SENDER DATE`) and followed by a blank line. Since a body line may
//! also start with `From `, writers disagree on how to protect such lines;
//! the variants (see <https://www.loc.gov/preservation/digital/formats/fdd/fdd000383.shtml>,
//! RFC 4155 and qmail's `mbox(5)`) are:
//!
//! - **mboxo**: `From ` at the start of a body line is written `>From `;
//!   `>From ` is written as is. Reading cannot tell the two apart (the
//!   "mboxo ambiguity"), so a forced mboxo read leaves every `>From ` line
//!   as it is.
//! - **mboxrd**: every line matching `^>*From ` gets one more `>`; reading
//!   removes exactly one `>` from every `^>+From ` line. Reversible.
//! - **mboxcl**: mboxo quoting plus a `Content-Length` header giving the
//!   body's length.
//! - **mboxcl2**: no quoting at all; `Content-Length` alone says where the
//!   body ends.
//!
//! # What [`MboxReader`] does
//!
//! - **Separators.** A line starting with `From ` separates messages when
//!   its date parses (asctime and its variants, see [`from_line`]), even
//!   without a blank line before it; a looser one (`From -`, `From `, as
//!   old Thunderbird and some exporters write) only when the next line is
//!   a header field and it has at most one word after `From ` (Netscape
//!   wrote `From - ` right after a body), or, after a blank line, starts
//!   with an address. So `From Russia with love` in the body of an
//!   unquoted file stays in the body, even before `Year: 1963`.
//! - **Content-Length** (auto, mboxcl, mboxcl2) is honoured only where it
//!   lands on a boundary: after that many body bytes comes the end of the
//!   file or a From_ line, after at most one blank line. Otherwise it is
//!   ignored with a `bad_content_length` finding, and the message is split
//!   on From_ lines: a liar can neither swallow the next message nor split
//!   this one.
//! - **The separator blank line.** The blank line before a From_ line (and
//!   before the end of the file) is the separator's; a message that ends
//!   in more blank lines keeps the others. A message whose Content-Length
//!   was honoured keeps exactly its bytes.
//! - **Variant detection** is per file and per message, with no look-ahead:
//!   a message whose Content-Length was honoured is mboxcl (if its body
//!   holds no bare `From ` line) or mboxcl2, and neither is un-quoted (mboxcl
//!   quotes the mboxo way); every other message is un-quoted the mboxrd way. mboxo is never guessed: when a file holds
//!   `>From ` but no `>>From ` lines nothing in it tells mboxo from mboxrd;
//!   reading it as mboxrd restores the `From ` lines every writer quoted and
//!   only costs a `>` on a body line that was `>From ` before an mboxo
//!   writer saw it (rare; `--mbox-variant mboxo` keeps every `>` instead).
//!   Forcing a variant: mboxo and mboxcl keep every `>`, mboxcl2 too,
//!   mboxrd un-quotes; mboxo and mboxrd ignore Content-Length.
//! - **Envelope.** The From_ line gives `sender` and `received` (a date that
//!   does not parse gives a `date` finding and no received date). Flags come
//!   from `Status`, `X-Status`, `X-Mozilla-Status(2)`, `X-Mozilla-Keys`,
//!   `X-Keywords` and `Keywords` ([`meta`]); those bookkeeping lines are then
//!   removed from the message unless `keep_mbox_headers` (not `Keywords`, a
//!   real RFC 5322 field). Every other byte stays, line endings included.
//! - **Skipped**: UW-IMAP's "FOLDER INTERNAL DATA" first message
//!   (`pseudo_message`), Thunderbird messages with the expunged bit
//!   (`deleted`, unless `include_deleted`). Garbage before the first From_
//!   line is a `garbage` finding; a file with no From_ line at all is an
//!   error-level `garbage` finding ("not an mbox"), an empty one `empty`.
//!
//! [`MboxSource`] lists the folders of a file or tree, [`MboxSink`] writes
//! mboxrd (see [`writer`] and [`names`] for the on-disk naming).

pub mod from_line;
mod input;
pub mod meta;
pub mod names;
mod reader;
mod source;
pub mod writer;

use std::fmt;
use std::str::FromStr;

pub use reader::{unquote_rd, MboxReader, ReadStats, MAX_BAD_CONTENT_LENGTHS, MAX_CONTENT_LENGTH};
pub use source::{read_all, sniff, sniff_file, MboxSource};
pub use writer::{write_file, write_message, MboxSink};

/// The mbox variants found in the wild (see the crate docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MboxVariant {
    MboxO,
    MboxRd,
    MboxCl,
    MboxCl2,
}

impl MboxVariant {
    pub fn name(self) -> &'static str {
        match self {
            MboxVariant::MboxO => "mboxo",
            MboxVariant::MboxRd => "mboxrd",
            MboxVariant::MboxCl => "mboxcl",
            MboxVariant::MboxCl2 => "mboxcl2",
        }
    }
}

impl fmt::Display for MboxVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MboxVariant {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "mboxo" => Ok(MboxVariant::MboxO),
            "mboxrd" => Ok(MboxVariant::MboxRd),
            "mboxcl" => Ok(MboxVariant::MboxCl),
            "mboxcl2" => Ok(MboxVariant::MboxCl2),
            other => {
                Err(format!("unknown mbox variant {other:?} (expected mboxo, mboxrd, mboxcl or mboxcl2)"))
            }
        }
    }
}

/// How to read mbox files.
#[derive(Debug, Clone, Default)]
pub struct MboxReadOptions {
    /// Read every file as this variant instead of detecting it.
    pub variant: Option<MboxVariant>,
    /// Keep Thunderbird messages marked expunged (flagged deleted).
    pub include_deleted: bool,
    /// Keep the bookkeeping header lines (Status, X-Mozilla-Status, ...).
    pub keep_mbox_headers: bool,
}

#[cfg(test)]
mod tests;
