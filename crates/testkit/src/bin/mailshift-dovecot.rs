//! Starts a private Dovecot (the test harness's, see
//! `mailshift_testkit::dovecot`) for scripts such as `benches/upload.py`:
//! prints one JSON line with how to reach it, then runs until its standard
//! input closes, and stops the server.
//!
//! ```text
//! mailshift-dovecot [--layout fs] [--quota BYTES] [--append-limit BYTES] [--no-special-use]
//!                   [--extra-config "mail_fsync = never"]...
//! ```
#![allow(clippy::print_stdout)] // its output is the connection info

use std::io::Read as _;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use mailshift_testkit::dovecot::{Dovecot, Layout, Options};

#[derive(Parser, Debug)]
#[command(about = "Run a private Dovecot until stdin closes; prints JSON connection info")]
struct Args {
    /// Folder layout: `maildir++` (delimiter `.`) or `fs` (delimiter `/`).
    #[arg(long, default_value = "maildir++")]
    layout: String,
    /// Storage quota in bytes.
    #[arg(long)]
    quota: Option<u64>,
    /// Largest message accepted (APPENDLIMIT).
    #[arg(long)]
    append_limit: Option<u64>,
    /// Do not create the SPECIAL-USE folders.
    #[arg(long)]
    no_special_use: bool,
    /// Raw dovecot.conf lines appended (e.g. "mail_fsync = never").
    #[arg(long, value_name = "CONF")]
    extra_config: Vec<String>,
    /// Lifetime of the XOAUTH2 token printed, in seconds.
    #[arg(long, default_value_t = 3600)]
    token_ttl: u64,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let layout = match a.layout.as_str() {
        "fs" => Layout::Fs,
        "maildir++" | "maildir" => Layout::MaildirPlusPlus,
        other => anyhow::bail!("unknown layout {other:?} (maildir++ or fs)"),
    };
    let opts = Options {
        layout,
        quota_bytes: a.quota,
        append_limit: a.append_limit,
        special_use: !a.no_special_use,
        extra_config: a.extra_config.join("\n"),
        ..Options::default()
    };
    let d = Dovecot::start(opts).context("starting the private Dovecot")?;
    let info = serde_json::json!({
        "host": d.host(),
        "imap_port": d.imap_port(),
        "imaps_port": d.imaps_port(),
        "ca_cert": d.ca_cert_path(),
        "user": d.user(),
        "password": d.password(),
        "password_file": d.password_file(),
        "token": d.mint_token(Duration::from_secs(a.token_ttl)),
        "mail_root": d.mail_root(),
        "config": d.config_path(),
        "delimiter": d.delimiter().to_string(),
        "log": d.dir().join("dovecot.log"),
    });
    println!("{info}");
    // Run until the caller closes our stdin (or dies).
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(d);
    Ok(())
}
