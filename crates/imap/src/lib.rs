//! IMAP for mailshift: upload any store into an IMAP server (Dovecot,
//! Microsoft 365) without loss or duplicates, and read a server back as a
//! [`mailshift_model::Source`] to prove it.
//!
//! - [`target`]: `imaps://` or `imap://USER@HOST[:PORT]` URLs.
//! - [`protocol`]: the wire (responses parsed by `imap-proto`).
//! - [`connection`], [`auth`]: TLS/STARTTLS, PLAIN/LOGIN/XOAUTH2.
//! - [`folders`]: source folders to server names and back.
//! - [`journal`]: what was uploaded, in SQLite.
//! - [`upload`]: the pipelined, resumable upload.
//! - [`source`]: an IMAP account as a source, for `compare`.
//!
//! This crate never prints.

pub mod auth;
pub mod connection;
mod error;
pub mod folders;
pub mod journal;
pub mod protocol;
pub mod source;
pub mod target;
pub mod upload;

pub use error::{ImapError, Result};
