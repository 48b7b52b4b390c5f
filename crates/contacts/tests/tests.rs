//! Integration tests of mailshift-contacts: the shared corpus, a second
//! parser (Python vobject), bad input, and a real CardDAV/CalDAV server.
#![allow(clippy::print_stderr)]

#[path = "it/common.rs"]
mod common;

#[path = "it/bad_input.rs"]
mod bad_input;
#[path = "it/calendar.rs"]
mod calendar;
#[path = "it/corpus.rs"]
mod corpus;
#[path = "it/fields.rs"]
mod fields;
#[path = "it/golden.rs"]
mod golden;
#[path = "it/radicale.rs"]
mod radicale;
#[path = "it/second_parser.rs"]
mod second_parser;
