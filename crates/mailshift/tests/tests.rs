//! Integration tests of the `mailshift` binary: every test runs the built
//! program as a user would and checks exit codes, reports and the stores it
//! writes.
#![allow(clippy::print_stderr)] // tests say what they measured

mod support;

mod archive;
mod cli;
mod corpus;
mod imap_upload;
mod kill;
mod pst_contacts;
mod roundtrip;
