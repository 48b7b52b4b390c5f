//! `mailshift upload SRC imap[s]://USER@HOST[:PORT]`: a store into an IMAP
//! server, resumable and duplicate-free, then proven folder by folder.
//! Exit 0 when everything is there, 1 when anything was not uploaded or is
//! missing on the server, 2 when the run could not go on.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::ValueEnum;
use mailshift_convert::{compare, open_source, CompareOptions, Format, SourceOptions};
use mailshift_imap::auth::{Credentials, Mechanism, Secret, TokenCommand};
use mailshift_imap::connection::{ConnectOptions, Connector};
use mailshift_imap::source::ImapSource;
use mailshift_imap::target::{Security, Target};
use mailshift_imap::upload::{upload, UploadOptions};
use mailshift_model::{Finding, FindingKind, Location, NoProgress, Report, Source};

use crate::{output, summary, Outcome};

/// How to reach and log in to an IMAP server (shared with `compare`).
#[derive(Debug, Clone, clap::Args)]
pub struct ImapArgs {
    /// With an imap:// URL: upgrade with STARTTLS (the default for imap://).
    #[arg(long)]
    pub starttls: bool,
    /// Allow imap:// without any TLS (loopback tests only).
    #[arg(long)]
    pub insecure_plaintext: bool,
    /// Trust the certificates in this PEM file instead of the system roots.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// SASL mechanism (default: PLAIN when offered, else LOGIN; XOAUTH2
    /// with --oauth2-token-cmd).
    #[arg(long, value_enum)]
    pub auth: Option<AuthArg>,
    /// Read the password from the first line of this file (otherwise
    /// MAILSHIFT_PASSWORD, otherwise a prompt on a terminal).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// A shell command printing an OAuth2 access token (XOAUTH2): the token
    /// alone, or JSON with `access_token` and `expires_in` / `expires_on`
    /// (az, oauth2l, MSAL scripts). Run again a few minutes before the
    /// token expires (from the JSON or the JWT's `exp`), or when rejected.
    #[arg(long, value_name = "CMD")]
    pub oauth2_token_cmd: Option<String>,
    /// Seconds after which the token command is run again, for a token
    /// whose expiry is unknown (neither JSON nor a JWT).
    #[arg(long, default_value_t = 2700, value_name = "SECS")]
    pub oauth2_refresh: u64,
    /// Seconds to wait for the server before reconnecting.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    pub timeout: u64,
    /// Seconds of silence after which a waiting connection sends NOOP, so
    /// NAT, firewalls and Microsoft 365's idle timeout keep it.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub keepalive: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthArg {
    Plain,
    Login,
    Xoauth2,
}

impl ImapArgs {
    /// A connector for `url`, with credentials from the file, the
    /// environment, a prompt or the token command (never argv).
    pub fn connector(&self, url: &str) -> anyhow::Result<Connector> {
        let mut target = Target::parse(url)?;
        if self.starttls && target.security == Security::Tls {
            anyhow::bail!("--starttls goes with imap://, not imaps:// (which is TLS from the start)");
        }
        if self.insecure_plaintext {
            if target.security == Security::Tls {
                anyhow::bail!("--insecure-plaintext goes with imap://");
            }
            target.security = Security::Plain;
        }
        let mechanism = self.auth.map(|a| match a {
            AuthArg::Plain => Mechanism::Plain,
            AuthArg::Login => Mechanism::Login,
            AuthArg::Xoauth2 => Mechanism::XOAuth2,
        });
        let secret = match (&self.oauth2_token_cmd, mechanism) {
            (Some(cmd), None | Some(Mechanism::XOAuth2)) => {
                Secret::Token(TokenCommand::new(cmd.clone(), Duration::from_secs(self.oauth2_refresh)))
            }
            (Some(_), Some(_)) => anyhow::bail!("--oauth2-token-cmd needs --auth xoauth2"),
            (None, Some(Mechanism::XOAuth2)) => anyhow::bail!("--auth xoauth2 needs --oauth2-token-cmd"),
            (None, _) => Secret::Password(password(self.password_file.as_deref(), &target)?),
        };
        let creds = Arc::new(Credentials { user: target.user.clone(), secret, mechanism });
        let opts = ConnectOptions {
            ca_file: self.ca_file.clone(),
            timeout: Duration::from_secs(self.timeout.max(1)),
            allow_plaintext: self.insecure_plaintext,
            keepalive: Duration::from_secs(self.keepalive.max(1)),
        };
        Ok(Connector::new(target, opts, creds)?)
    }
}

fn password(file: Option<&Path>, target: &Target) -> anyhow::Result<String> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("cannot read password file {}", f.display()))?;
        return Ok(text.lines().next().unwrap_or_default().to_owned());
    }
    if let Ok(p) = std::env::var("MAILSHIFT_PASSWORD") {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(format!("IMAP password for {target}: "))
            .context("cannot read the password");
    }
    anyhow::bail!(
        "no password: give --password-file, set MAILSHIFT_PASSWORD, or run on a terminal to be asked"
    )
}

/// Whether a command-line store is an IMAP URL.
pub fn is_imap_url(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.starts_with("imap://") || l.starts_with("imaps://")
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The store to upload (format detected): maildir, mbox, PST/OST, EML.
    pub src: PathBuf,
    /// imaps://USER@HOST[:PORT] (TLS) or imap://USER@HOST[:PORT] (STARTTLS).
    pub dest: String,
    #[command(flatten)]
    pub imap: ImapArgs,
    /// Read SRC as this format instead of detecting it.
    #[arg(long, value_enum)]
    pub from: Option<FromArg>,
    /// Connections in parallel; each uploads whole folders (see
    /// --split-folders-above).
    #[arg(long, short = 'j', default_value_t = 4)]
    pub jobs: usize,
    /// A map file: `SOURCE = SERVER` per line (`/` between levels).
    #[arg(long, value_name = "FILE")]
    pub folder_map: Option<PathBuf>,
    /// Messages larger than this are reported and not uploaded.
    #[arg(long, value_name = "BYTES")]
    pub max_size: Option<u64>,
    /// At most R messages a second over all connections (to stay under a
    /// provider's limits, e.g. Microsoft 365's per-mailbox throttling).
    #[arg(long, value_name = "R")]
    pub max_msgs_per_sec: Option<f64>,
    /// At most R bytes a second over all connections (to spare a shared
    /// uplink during working hours).
    #[arg(long, value_name = "R")]
    pub max_bytes_per_sec: Option<f64>,
    /// The journal (default ~/.local/state/mailshift/upload.sqlite).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Connect, read and decide; upload nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Split a folder of at least BYTES that holds a 1/jobs share of the
    /// mailbox over all connections (default: never). Helps against
    /// servers that limit each connection (Microsoft 365 throttling); on
    /// Dovecot with maildir it is slower, as every connection re-reads the
    /// folder after the others' appends. UIDs of a split folder do not
    /// follow the source order.
    #[arg(long, value_name = "BYTES")]
    pub split_folders_above: Option<u64>,
    /// Skip the proof (the folder-by-folder comparison after the upload).
    #[arg(long)]
    pub no_verify: bool,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FromArg {
    Maildir,
    Mbox,
    Eml,
    Pst,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let connector = args.imap.connector(&args.dest)?;
    let source_opts = SourceOptions {
        format: args.from.map(|f| match f {
            FromArg::Maildir => Format::Maildir,
            FromArg::Mbox => Format::Mbox,
            FromArg::Eml => Format::Eml,
            FromArg::Pst => Format::Pst,
        }),
        ..SourceOptions::default()
    };
    let source: Arc<dyn Source> = Arc::from(
        open_source(&args.src, &source_opts)
            .with_context(|| format!("cannot open source {}", args.src.display()))?,
    );
    let journal = match &args.state {
        Some(p) => p.clone(),
        None => mailshift_imap::journal::Journal::default_path()
            .context("no HOME for the state directory: give --state FILE")?,
    };
    let folder_map = match &args.folder_map {
        Some(p) => mailshift_imap::folders::read_map(p)?,
        None => Default::default(),
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed));
    let opts = UploadOptions {
        jobs: args.jobs.max(1),
        max_size: args.max_size,
        max_msgs_per_sec: args.max_msgs_per_sec,
        max_bytes_per_sec: args.max_bytes_per_sec,
        journal,
        dry_run: args.dry_run,
        folder_map,
        split_min_bytes: args.split_folders_above.unwrap_or(u64::MAX),
        cancel: Some(cancel),
        ..UploadOptions::default()
    };
    let bar = crate::progress::for_stderr("upload");
    let done = upload(Arc::clone(&source), connector.clone(), opts, bar.as_ref())
        .with_context(|| format!("upload to {} stopped", connector.target))?;
    let mut report = done.report;
    if done.cancelled {
        report.elapsed_seconds = started.elapsed().as_secs_f64();
        finish(&report, args.report.as_deref())?;
        anyhow::bail!(
            "interrupted: what the server confirmed is journaled; run the same command again to finish"
        );
    }
    if !args.dry_run && !args.no_verify {
        prove(source.as_ref(), connector, done.folders, args.jobs, &mut report)?;
    }
    report.elapsed_seconds = started.elapsed().as_secs_f64();
    finish(&report, args.report.as_deref())?;
    Ok(crate::cmd::convert::outcome(&report))
}

/// Compares source and server folder by folder by logical fingerprint
/// (headers only from the server); what is missing is an error finding.
fn prove(
    source: &dyn Source,
    connector: Connector,
    folders: std::collections::HashMap<String, mailshift_model::FolderPath>,
    jobs: usize,
    report: &mut Report,
) -> anyhow::Result<()> {
    let server = ImapSource::new(connector, folders, true, true)?;
    let opts = CompareOptions { logical: true, jobs: jobs.max(1), ignore_flags: false };
    let c =
        compare(source, &server, &opts, &NoProgress).context("cannot read the server back for the proof")?;
    let missing_or_mismatched: Vec<Finding> = c
        .findings
        .into_iter()
        .filter(|f| matches!(f.kind, FindingKind::Missing | FindingKind::Mismatch))
        .collect();
    let what = format!(
        "proof: {} source messages, {} on the server in these folders, {} matched by logical fingerprint, {} missing, {} flag/date mismatches",
        c.messages_a, c.messages_b, c.matched, c.missing, c.mismatched
    );
    if c.missing == 0 && c.mismatched == 0 {
        // All there: said on stderr, not as a finding (nothing to look at).
        eprintln!("upload: {what}");
    } else {
        report.findings.push(Finding::error(FindingKind::Missing, Location::path(c.b.path.clone()), what));
    }
    report.findings.extend(missing_or_mismatched);
    Ok(())
}

fn finish(report: &Report, path: Option<&Path>) -> anyhow::Result<()> {
    summary::print_report(report);
    if let Some(path) = path {
        output::write_json(path, &serde_json::to_value(report)?)?;
    }
    Ok(())
}
