//! `mailshift convert SRC DEST`: one store into another format.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use clap::ValueEnum;
use mailshift_convert::{
    convert, open_sink, open_source, ConvertError, ConvertOptions, DryRunSink, Format, Layout,
    MaildirWriteOptions, MboxReadOptions, MboxVariant, PstOptions, SinkOptions, SourceOptions,
};
use mailshift_model::{ErrorKind, Level, Report, Sink};

use crate::{output, progress, summary, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The store to read (format detected): an mbox file or tree, a
    /// Thunderbird Mail folder, a maildir, a folder of .eml files.
    pub src: PathBuf,
    /// Where to write (created if missing).
    pub dest: PathBuf,
    /// Read SRC as this format instead of detecting it.
    #[arg(long, value_enum)]
    pub from: Option<ToArg>,
    /// The format to write.
    #[arg(long, value_enum, default_value_t = ToArg::Maildir)]
    pub to: ToArg,
    /// Maildir folder layout: Maildir++ (Dovecot, Courier) or nested `fs`.
    #[arg(long, value_enum)]
    pub layout: Option<LayoutArg>,
    /// Write maildir folder names in UTF-8 rather than modified UTF-7.
    #[arg(long)]
    pub utf8_names: bool,
    /// Folders converted at once (0 = one per core).
    #[arg(long, short = 'j', default_value_t = 0)]
    pub jobs: usize,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
    /// Read everything and count, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Read mbox files as this variant instead of detecting it per file.
    #[arg(long, value_enum)]
    pub mbox_variant: Option<VariantArg>,
    /// Also convert messages marked deleted (expunged, not yet compacted).
    #[arg(long)]
    pub include_deleted: bool,
    /// Keep mbox bookkeeping headers (Status, X-Mozilla-Status, ...).
    #[arg(long)]
    pub keep_mbox_headers: bool,
    /// Drop exact duplicates within a folder.
    #[arg(long)]
    pub dedupe: bool,
    /// PST/OST: read on despite a bad header checksum or a short file, and
    /// export items no folder lists into a `Recovered` folder.
    #[arg(long)]
    pub recover: bool,
}

/// A store format on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ToArg {
    Maildir,
    Mbox,
    Eml,
}

impl ToArg {
    pub fn format(self) -> Format {
        match self {
            ToArg::Maildir => Format::Maildir,
            ToArg::Mbox => Format::Mbox,
            ToArg::Eml => Format::Eml,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LayoutArg {
    #[value(name = "maildir++")]
    MaildirPlusPlus,
    Fs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VariantArg {
    Mboxo,
    Mboxrd,
    Mboxcl,
    Mboxcl2,
}

impl Args {
    fn source_options(&self) -> SourceOptions {
        let variant = self.mbox_variant.map(|v| match v {
            VariantArg::Mboxo => MboxVariant::MboxO,
            VariantArg::Mboxrd => MboxVariant::MboxRd,
            VariantArg::Mboxcl => MboxVariant::MboxCl,
            VariantArg::Mboxcl2 => MboxVariant::MboxCl2,
        });
        SourceOptions {
            format: self.from.map(ToArg::format),
            mbox: MboxReadOptions {
                variant,
                include_deleted: self.include_deleted,
                keep_mbox_headers: self.keep_mbox_headers,
            },
            pst: PstOptions { recover: self.recover },
        }
    }

    fn sink_options(&self) -> SinkOptions {
        let format = self.to.format();
        let layout = match self.layout {
            Some(LayoutArg::Fs) => Layout::Fs,
            Some(LayoutArg::MaildirPlusPlus) | None => Layout::MaildirPlusPlus,
        };
        SinkOptions { format, maildir: MaildirWriteOptions { layout, utf8_names: self.utf8_names } }
    }
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let source = open_source(&args.src, &args.source_options())
        .with_context(|| format!("cannot open source {}", args.src.display()))?;
    let sink_opts = args.sink_options();
    let sink: Box<dyn Sink> = if args.dry_run {
        Box::new(DryRunSink::new(&args.dest, &sink_opts))
    } else {
        open_sink(&args.dest, &sink_opts)
            .with_context(|| format!("cannot open destination {}", args.dest.display()))?
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    // Ctrl-C: stop reading, commit what was written, report. Without a
    // handler (another one is set), Ctrl-C kills, which is safe too.
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed));
    let opts =
        ConvertOptions { jobs: args.jobs, dedupe: args.dedupe, dry_run: args.dry_run, cancel: Some(cancel) };
    let bar = progress::for_stderr("convert");
    match convert(source.as_ref(), sink.as_ref(), &opts, bar.as_ref()) {
        Ok(report) => {
            finish(&report, args.report.as_deref())?;
            Ok(outcome(&report))
        }
        Err(ConvertError::Source(e)) => {
            Err(anyhow::Error::new(*e).context(format!("cannot read source {}", args.src.display())))
        }
        Err(ConvertError::Unbalanced { error, report }) => {
            finish(&report, args.report.as_deref())?;
            eprintln!("mailshift: error: {error}");
            Ok(Outcome::Findings)
        }
        Err(ConvertError::Aborted { error, report }) => {
            finish(&report, args.report.as_deref())?;
            if matches!(error.kind, ErrorKind::Cancelled) {
                anyhow::bail!(
                    "interrupted: what was written is durable; run the same command again to finish \
                     (messages already written are not written twice)"
                );
            }
            Err(anyhow::Error::new(*error)
                .context("the run stopped: the destination cannot take more writes"))
        }
    }
}

/// Prints the summary and writes the JSON report when asked.
fn finish(report: &Report, path: Option<&std::path::Path>) -> anyhow::Result<()> {
    summary::print_report(report);
    if let Some(path) = path {
        output::write_json(path, &serde_json::to_value(report)?)?;
    }
    Ok(())
}

/// Exit 1 when anything is at error level or the counts do not add up.
pub fn outcome(report: &Report) -> Outcome {
    if report.count_at_least(Level::Error) > 0 || report.check_balance().is_err() {
        Outcome::Findings
    } else {
        Outcome::Clean
    }
}
