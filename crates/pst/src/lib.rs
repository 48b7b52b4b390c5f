//! Reading Outlook PST and OST files as a mailshift [`mailshift_model::Source`].
//!
//! [`PstSource::open`] checks the header itself (clear errors for a file that
//! is not a PST, is truncated or has a bad checksum; OST files accepted) and
//! reads the folder tree; every mail folder is a unit, and
//! [`mailshift_model::Source::read_unit`] turns its messages into MIME
//! ([`mime`]). Contacts, calendar items and the like are not mail: they are
//! counted by [`PstSource::inventory`] and handed out as property bags by
//! [`PstSource::items_of_class`].
//!
//! [`PstSource::contacts`] and [`PstSource::calendar`] turn them into the
//! models of `mailshift-contacts` (this crate depends on that one, never the
//! reverse): contacts and distribution lists ([`contact`], members from
//! one-off and wrapped entry ids, [`entryid`]), appointments with their time
//! zone ([`timezone`]) and recurrence ([`recurrence`], MS-OXOCAL
//! 2.2.1.44), tasks, notes and journal entries ([`appointment`]).
//!
//! Layers (MS-PST): the header ([`header`]) is checked here, for clear
//! errors and because `outlook-pst` 1.2 refuses OST files (client signature
//! `SO`, other client versions): it is shown a normalised copy. The node
//! database ([`ndb`]) uses `outlook-pst`'s page, block and decoding types
//! (it reads every corpus file right), with our own bounded B-tree descent
//! and size checks before each block read (the crate asserts on some bad
//! sizes); 4 KiB-page OSTs (wVer 36) are refused with a clear error. The
//! file is opened once and every handle reads it through one bounded cache
//! of 64 KiB chunks (`cache`); each handle keeps the B-tree pages it parsed
//! and memoises its block B-tree lookups (B-tree descents were most of the
//! NDB's reads). Data blocks, where most bytes pass, are read by us straight
//! from that cache, with the crate's checks (trailer size and block id, CRC
//! through `crc32fast`, the same CRC) and its permute decoding table; only
//! cyclic ("high") encryption leaves them to the crate. Compressed RTF
//! (MS-OXRTFCP) is decoded by us too (`rtf`), tested against the
//! `compressed-rtf` crate it replaced. The lists,
//! tables and properties layer ([`ltp`]) and the messaging layer
//! ([`messaging`]) are ours, because the crate's refuse messages without a
//! sub-node tree, fail on odd column sizes, stop at unknown property types,
//! look embedded messages up in the wrong sub-node tree and size allocations
//! from file values.
//!
//! ```no_run
//! use mailshift_model::Source;
//! let pst = mailshift_pst::PstSource::open("archive.pst".as_ref(), Default::default())?;
//! let mut findings = Vec::new();
//! for unit in pst.units(&mut findings)? {
//!     pst.read_unit(&unit, &mut |item| { let _ = item; std::ops::ControlFlow::Continue(()) })?;
//! }
//! # Ok::<(), mailshift_model::Error>(())
//! ```
mod address_book;
pub mod appointment;
mod cache;
pub mod contact;
pub mod entryid;
pub mod header;
pub mod ltp;
pub mod messaging;
pub mod mime;
pub mod named;
pub mod ndb;
pub mod recurrence;
mod rtf;
mod source;
pub mod timezone;
pub mod value;

pub use ltp::Props;
pub use messaging::Attachment;
pub use named::{NameKind, NamedProperty};
pub use source::{sniff, Inventory, PstItem, PstOptions, PstSource};
pub use value::Value;

#[cfg(test)]
mod tests {
    /// The `Source` trait needs it; the NDB handles (which are not) are
    /// opened per call instead of stored.
    #[test]
    fn source_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<crate::PstSource>();
    }
}
