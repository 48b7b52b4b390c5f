//! `mailshift`: convert, inspect and compare mail stores.
//!
//! A thin layer: it parses flags, opens stores through `mailshift-convert`,
//! draws progress bars and prints. Each subcommand is one file in `cmd/`;
//! adding one means a variant in [`Command`] and one line in [`main`].
//!
//! Exit codes: 0 clean, 1 when something was skipped for an error (or a
//! comparison differs), 2 when the command could not run.
#![allow(clippy::print_stderr, clippy::print_stdout)] // the binary is the output layer

mod cmd;
mod output;
mod progress;
mod summary;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "mailshift",
    version,
    about = "Convert, back up and move mail stores without losing a message"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Convert a mail store (mbox, maildir, EML folder) into another format.
    Convert(cmd::convert::Args),
    /// Show what a mail store holds: folders, counts, sizes, dates, flags.
    Inspect(cmd::inspect::Args),
    /// Check that two stores hold the same messages, folder by folder.
    Compare(cmd::compare::Args),
    /// Turn address books (CSV, LDIF, vCard) into clean vCard 3 or 4.
    Contacts(cmd::contacts::ContactsArgs),
    /// Turn iCalendar files into clean, valid iCalendar.
    Calendar(cmd::contacts::CalendarArgs),
    /// Back up stores into verified tar+zstd archives with a manifest.
    Backup(cmd::backup::Args),
    /// Check an archive against its manifest (and optionally a live store).
    Verify(cmd::verify::Args),
    /// Restore an archive into a maildir.
    Restore(cmd::restore::Args),
    /// Restore drill: restore into scratch space, check every message, report.
    Drill(cmd::drill::Args),
    /// Upload a store into an IMAP server, resumable and without duplicates.
    Upload(cmd::upload::Args),
}

/// How a command that ran ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything accounted for, nothing at error level: exit 0.
    Clean,
    /// Something was skipped for an error, or the stores differ: exit 1.
    Findings,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Convert(args) => cmd::convert::run(args),
        Command::Inspect(args) => cmd::inspect::run(args),
        Command::Compare(args) => cmd::compare::run(args),
        Command::Contacts(args) => cmd::contacts::run_contacts(args),
        Command::Calendar(args) => cmd::contacts::run_calendar(args),
        Command::Backup(args) => cmd::backup::run(args),
        Command::Verify(args) => cmd::verify::run(args),
        Command::Restore(args) => cmd::restore::run(args),
        Command::Drill(args) => cmd::drill::run(args),
        Command::Upload(args) => cmd::upload::run(args),
    };
    match result {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(1),
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailshift: error: {}", error_chain(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, leaving out a cause whose text
/// the previous one already showed (store errors embed their cause).
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    let mut last = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !last.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        last = text;
    }
    out
}
