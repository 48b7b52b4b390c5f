//! `mailshift-gen`: writes deterministic test and benchmark mail stores.
//!
//! ```text
//! mailshift-gen mbox OUT.mbox --size 1G [--profile realistic|dense|small] [--seed N] [--variant mboxrd|mboxo|mboxcl2|crlf]
//! mailshift-gen maildir OUTDIR --count 1000 [--profile ...] [--seed N]
//! mailshift-gen sample OUTDIR [--seed N]      # the Thunderbird tree in corpus/sample
//! mailshift-gen floor IN.mbox OUTDIR          # benchmark floor: naive split, one syncfs
//! ```
//! Each prints its counts as one JSON object on stdout.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use mailshift_testkit::gen::{self, Amount, Profile, Variant};

#[derive(Parser)]
#[command(about = "Writes deterministic mail stores for mailshift's tests and benchmarks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Writes one mbox file.
    Mbox {
        out: PathBuf,
        #[command(flatten)]
        what: What,
        /// mboxrd, mboxo, mboxcl2 or crlf (mboxrd with CRLF line ends).
        #[arg(long, default_value = "mboxrd")]
        variant: Variant,
    },
    /// Writes one maildir (tmp/, new/, cur/).
    Maildir {
        out: PathBuf,
        #[command(flatten)]
        what: What,
    },
    /// Writes the Thunderbird sample tree committed under corpus/sample/thunderbird.
    Sample {
        out: PathBuf,
        #[arg(long, default_value_t = gen::SAMPLE_SEED)]
        seed: u64,
    },
    /// Splits an mbox naively into one file per message in OUT/cur, then one syncfs.
    Floor { mbox: PathBuf, out: PathBuf },
}

#[derive(Args)]
struct What {
    /// Stop after this many bytes (1G, 512M, 64k).
    #[arg(long, conflicts_with = "count")]
    size: Option<String>,
    /// Stop after this many messages.
    #[arg(long)]
    count: Option<u64>,
    #[arg(long, default_value = "realistic")]
    profile: Profile,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

impl What {
    fn amount(&self) -> Result<Amount> {
        match (&self.size, self.count) {
            (Some(s), _) => Ok(Amount::Bytes(gen::parse_size(s).with_context(|| format!("bad size {s:?}"))?)),
            (None, Some(n)) => Ok(Amount::Messages(n)),
            (None, None) => bail!("give --size or --count"),
        }
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let json = match cli.cmd {
        Cmd::Mbox { out, what, variant } => {
            let f =
                std::fs::File::create(&out).with_context(|| format!("cannot create {}", out.display()))?;
            let stats = gen::write_mbox(f, what.seed, what.amount()?, what.profile, variant)
                .with_context(|| format!("cannot write {}", out.display()))?;
            serde_json::to_string(&stats)?
        }
        Cmd::Maildir { out, what } => {
            let stats = gen::write_maildir(&out, what.seed, what.amount()?, what.profile)
                .with_context(|| format!("cannot write {}", out.display()))?;
            serde_json::to_string(&stats)?
        }
        Cmd::Sample { out, seed } => {
            let folders = gen::write_thunderbird_sample(&out, seed)
                .with_context(|| format!("cannot write {}", out.display()))?;
            serde_json::to_string(&folders)?
        }
        Cmd::Floor { mbox, out } => {
            let stats = gen::floor(&mbox, &out)
                .with_context(|| format!("cannot split {} into {}", mbox.display(), out.display()))?;
            serde_json::to_string(&stats)?
        }
    };
    println!("{json}");
    Ok(())
}
