//! `mailshift contacts` and `mailshift calendar`: address books to vCard,
//! calendars to clean iCalendar. The work is in `mailshift-contacts`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::ValueEnum;
use mailshift_contacts::{ContactsOptions, VcardVersion};
use mailshift_model::{Level, Report};

use crate::{output, summary, Outcome};

/// vCard version on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VersionArg {
    #[value(name = "3")]
    V3,
    #[value(name = "4")]
    V4,
}

#[derive(Debug, clap::Args)]
pub struct ContactsArgs {
    /// Address books: vCard (2.1/3.0/4.0, jCard, xCard), CSV (Outlook, Google, Thunderbird), LDIF,
    /// and PST/OST files (contacts and distribution lists of every folder).
    #[arg(required = true)]
    pub sources: Vec<PathBuf>,
    /// One .vcf file, or a directory of one .vcf per contact with --split.
    #[arg(short = 'o', long = "out")]
    pub out: PathBuf,
    /// vCard version to write.
    #[arg(long, value_enum, default_value_t = VersionArg::V3)]
    pub vcard: VersionArg,
    /// Write one .vcf per contact into the directory OUT.
    #[arg(long)]
    pub split: bool,
    /// Merge duplicate contacts across sources (reported as duplicates).
    #[arg(long)]
    pub merge: bool,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct CalendarArgs {
    /// iCalendar files, and PST/OST files (appointments, tasks, notes and journal of every folder).
    #[arg(required = true)]
    pub sources: Vec<PathBuf>,
    /// One .ics file, or a directory of one .ics per UID with --split.
    #[arg(short = 'o', long = "out")]
    pub out: PathBuf,
    /// Write one .ics per UID into the directory OUT.
    #[arg(long)]
    pub split: bool,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
}

pub fn run_contacts(args: ContactsArgs) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let mut report = Report::new("contacts");
    report.source = Some(describe(&args.sources));
    report.destination = Some(args.out.display().to_string());
    let mut contacts = Vec::new();
    for src in &args.sources {
        let read = if mailshift_pst::sniff(src) {
            open_pst(src)?
                .contacts(&mut report.findings)
                .with_context(|| format!("cannot read the contacts of {}", src.display()))?
        } else {
            mailshift_contacts::read_address_book(src, &mut report.findings)
                .with_context(|| format!("cannot read address book {}", src.display()))?
        };
        contacts.extend(read);
    }
    let version = match args.vcard {
        VersionArg::V3 => VcardVersion::V3,
        VersionArg::V4 => VcardVersion::V4,
    };
    let opts = ContactsOptions::new(version, args.split, args.merge);
    mailshift_contacts::write_vcards(&contacts, &args.out, &opts, &mut report)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    finish(report, started, args.report.as_deref())
}

pub fn run_calendar(args: CalendarArgs) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let mut report = Report::new("calendar");
    report.source = Some(describe(&args.sources));
    report.destination = Some(args.out.display().to_string());
    let mut objects = Vec::new();
    for src in &args.sources {
        let read = if mailshift_pst::sniff(src) {
            pst_calendar(src, &mut report.findings)?
        } else {
            mailshift_contacts::read_calendar(src, &mut report.findings)
                .with_context(|| format!("cannot read calendar {}", src.display()))?
        };
        objects.extend(read);
    }
    mailshift_contacts::write_calendar(&objects, &args.out, args.split, &mut report)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    finish(report, started, args.report.as_deref())
}

/// Opens a PST/OST (detected by its magic, whatever its name).
fn open_pst(src: &std::path::Path) -> anyhow::Result<mailshift_pst::PstSource> {
    mailshift_pst::PstSource::open(src, mailshift_pst::PstOptions::default())
        .with_context(|| format!("cannot open PST {}", src.display()))
}

/// The calendar items of a PST as calendar objects: each item is written
/// as iCalendar and parsed back (the same path as `.ics` files take), so
/// an item that does not parse is a finding, not bad output.
fn pst_calendar(
    src: &std::path::Path,
    findings: &mut Vec<mailshift_model::Finding>,
) -> anyhow::Result<Vec<mailshift_contacts::CalendarObject>> {
    let pst = open_pst(src)?;
    let events =
        pst.calendar(findings).with_context(|| format!("cannot read the calendar of {}", src.display()))?;
    let origin = mailshift_model::Location::path(src);
    let mut objects = Vec::new();
    for e in &events {
        match e.to_object(&origin, findings) {
            Some(o) => objects.push(o),
            None => findings.push(mailshift_model::Finding::error(
                mailshift_model::FindingKind::Malformed,
                origin.clone().with_item(e.uid.clone()),
                "a calendar item could not be written as iCalendar",
            )),
        }
    }
    Ok(objects)
}

fn describe(sources: &[PathBuf]) -> String {
    sources.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

fn finish(mut report: Report, started: Instant, json: Option<&std::path::Path>) -> anyhow::Result<Outcome> {
    report.elapsed_seconds = started.elapsed().as_secs_f64();
    summary::print_report(&report);
    if let Some(path) = json {
        output::write_json(path, &serde_json::to_value(&report)?)?;
    }
    let balanced = report.check_balance().is_ok();
    Ok(if balanced && report.count_at_least(Level::Error) == 0 { Outcome::Clean } else { Outcome::Findings })
}
