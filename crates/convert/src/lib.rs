//! The mailshift pipeline: a [`Source`](mailshift_model::Source) read into a
//! [`Sink`](mailshift_model::Sink) in parallel over folders, with a report
//! that accounts for every message; plus [`inspect`] and [`compare`].
//!
//! - [`convert`]: units grouped by folder, folders on a pool of
//!   [`ConvertOptions::jobs`] threads (biggest first), each folder written
//!   in source order by one writer and committed at its end. A message that
//!   cannot be written is one finding; a target that cannot take more
//!   writes (disk full, read-only, I/O error) stops the run.
//! - [`inspect`]: what a store holds, folder by folder.
//! - [`compare`]: whether two stores hold the same messages, by fingerprint.
//!
//! This crate never prints: the `mailshift` binary does.

mod compare;
mod inspect;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
mod pipeline;
mod schedule;

pub use compare::{compare, CompareOptions, Comparison, FolderComparison, MessageRef};
pub use inspect::{inspect, FlagCounts, FolderInspection, Inspection, NonMailItems};
pub use pipeline::{convert, describe_source, is_fatal, ConvertError, ConvertOptions};
mod format;

pub use format::{
    detect, is_single_mbox, open_sink, open_source, DryRunSink, Format, Layout, MaildirWriteOptions,
    MboxReadOptions, MboxVariant, PstOptions, SinkOptions, SourceOptions,
};
