//! A deterministic generator of realistic mail, for tests and benchmarks.
//!
//! The same seed gives the same bytes on every run and machine (ChaCha8).
//! [`messages`] yields [`GeneratedMessage`]s (the bytes a reader should give
//! back, with the flags and date the mbox claims); [`write_mbox`] frames them
//! as an mbox in any [`Variant`]; [`write_maildir`] writes a maildir; and
//! [`write_thunderbird_sample`] writes the small profile tree in `corpus/sample`.
//!
//! ```
//! use mailshift_testkit::gen::{self, Amount, Profile, Variant};
//! let mut mbox = Vec::new();
//! let stats = gen::write_mbox(&mut mbox, 7, Amount::Messages(3), Profile::Small, Variant::Mboxrd).unwrap();
//! assert_eq!(stats.messages, 3);
//! assert!(mbox.starts_with(b"From "));
//! ```
//!
//! Profiles: [`Profile::Realistic`] (about 9,000 messages per GiB, attachments
//! up to several MB), [`Profile::Dense`] (about 60,000 per GiB) and
//! [`Profile::Small`] (a few KB each, for fixtures and quick tests).

mod compose;
mod encode;
mod maildir;
mod mbox;
mod sample;
mod words;

use std::collections::VecDeque;

use chrono::{Duration, TimeZone as _, Utc};
use mailshift_model::{Flags, Timestamp};
use rand::rngs::ChaCha8Rng;
use rand::{Rng as _, RngExt as _, SeedableRng as _};
use serde::Serialize;

pub use maildir::{floor, write_maildir};
pub use mbox::{write_mbox, MboxWriter};
pub use sample::{write_thunderbird_sample, SampleFolder, SAMPLE_SEED};

/// What kind of mailbox to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Office mail: threads, lists, HTML, about 16% with attachments from a
    /// few KB to several MB. About 9,000 messages per GiB.
    #[default]
    Realistic,
    /// Many small messages (lists, notifications). About 60,000 per GiB.
    Dense,
    /// Tiny messages for fixtures and fast tests.
    Small,
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "realistic" => Ok(Profile::Realistic),
            "dense" => Ok(Profile::Dense),
            "small" => Ok(Profile::Small),
            _ => Err(format!("unknown profile {s:?} (realistic, dense, small)")),
        }
    }
}

/// How the messages are framed in the mbox file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Variant {
    /// Lines matching `^>*From ` get one more `>` (reversible).
    #[default]
    Mboxrd,
    /// Only `^From ` lines get a `>` (so `>From ` in a body is ambiguous).
    Mboxo,
    /// No quoting; a `Content-Length:` header gives the body length.
    Mboxcl2,
    /// mboxrd with every line ending in CRLF (the From_ lines too).
    Crlf,
}

impl std::str::FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mboxrd" => Ok(Variant::Mboxrd),
            "mboxo" => Ok(Variant::Mboxo),
            "mboxcl2" => Ok(Variant::Mboxcl2),
            "crlf" => Ok(Variant::Crlf),
            _ => Err(format!("unknown variant {s:?} (mboxrd, mboxo, mboxcl2, crlf)")),
        }
    }
}

/// Which headers carry the flags in an mbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlagStyle {
    /// mutt / UW-IMAP: `Status: RO` and `X-Status: AFTD` at the end of the
    /// header, keywords in `X-Keywords`, sender on the From_ line. Flags:
    /// seen, answered, flagged, draft, deleted, keywords.
    #[default]
    Status,
    /// Thunderbird: `X-Mozilla-Status`, `X-Mozilla-Status2` and
    /// `X-Mozilla-Keys` (keywords, padded to 80 columns) first in the header,
    /// `From - ` separators. Flags: seen, answered, flagged, forwarded, keywords.
    Mozilla,
}

/// How much to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    Messages(u64),
    /// Stop once this many bytes are written (the file or maildir size).
    Bytes(u64),
}

/// One generated message and what its mbox framing claims about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedMessage {
    /// The message as a reader must return it: LF line ends, no mbox
    /// bookkeeping headers (Status, X-Status, X-Keywords, X-Mozilla-*,
    /// Content-Length)
    /// and no From_ quoting. [`Variant::Crlf`] writes it with CRLF.
    pub raw: Vec<u8>,
    /// The flags the bookkeeping headers say.
    pub flags: Flags,
    /// The From_ line date, in UTC, whole seconds.
    pub received: Timestamp,
    /// The From_ line sender: an address, or `-` in [`FlagStyle::Mozilla`].
    pub sender: String,
    /// Never seen by a mail client: no `Status` header (mutt style) or the
    /// "new" bit (Thunderbird style); goes to maildir `new/`.
    pub recent: bool,
    /// The headers that carry `flags` in an mbox.
    pub style: FlagStyle,
    /// Number of attachment parts.
    pub attachments: usize,
    /// The subject, decoded (with `Re: ` for replies).
    pub subject: String,
}

/// What a writer produced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub messages: u64,
    /// Bytes written in all (mbox file or maildir files).
    pub bytes: u64,
    /// Sum of the messages' `raw` lengths.
    pub message_bytes: u64,
    /// Body lines that needed From_ quoting.
    pub quoted_lines: u64,
    pub attachments: u64,
    pub largest_message: u64,
}

impl Stats {
    fn add(&mut self, m: &GeneratedMessage) {
        self.messages += 1;
        self.message_bytes += m.raw.len() as u64;
        self.attachments += m.attachments as u64;
        self.largest_message = self.largest_message.max(m.raw.len() as u64);
    }
}

/// Bytes per line of the base64 payload pool (76 characters and LF).
const POOL_LINE: usize = 77;

/// Random payload made once and sliced for attachments and signatures, so
/// that megabytes of base64 cost a copy, not a random draw per byte.
#[derive(Debug)]
struct Pool(Vec<u8>);

impl Pool {
    fn new(rng: &mut ChaCha8Rng, encoded: usize) -> Pool {
        let mut raw = vec![0u8; encoded / POOL_LINE * 57];
        rng.fill_bytes(&mut raw);
        let mut out = Vec::with_capacity(encoded + POOL_LINE);
        encode::base64_lines(&raw, &mut out);
        Pool(out)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn lines(&self) -> usize {
        self.0.len() / POOL_LINE
    }
    fn line(&self, i: usize) -> &[u8] {
        &self.0[i * POOL_LINE..i * POOL_LINE + POOL_LINE - 1]
    }
    fn slice(&self, start: usize, n: usize) -> &[u8] {
        &self.0[start * POOL_LINE..(start + n) * POOL_LINE]
    }
}

/// A thread a later message may reply to: Message-ID, its References, and
/// its subject (decoded, as written).
type Thread = (String, Vec<String>, (String, String));

/// An endless, deterministic stream of messages.
#[derive(Debug)]
pub struct Generator {
    rng: ChaCha8Rng,
    profile: Profile,
    style: FlagStyle,
    pool: Pool,
    now: chrono::DateTime<Utc>,
    index: u64,
    threads: VecDeque<Thread>,
}

impl Generator {
    pub fn new(seed: u64, profile: Profile) -> Generator {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let pool = Pool::new(
            &mut rng,
            match profile {
                Profile::Realistic => 8 << 20,
                Profile::Dense => 256 << 10,
                Profile::Small => 16 << 10,
            },
        );
        let start = Utc.with_ymd_and_hms(2012, 1, 1, 0, 0, 0).single().unwrap_or_default();
        let now = start + Duration::seconds(rng.random_range(0..3 * 365 * 86_400));
        Generator { rng, profile, style: FlagStyle::Status, pool, now, index: 0, threads: VecDeque::new() }
    }

    /// Which headers will carry the flags (and so which flags occur).
    pub fn with_flag_style(mut self, style: FlagStyle) -> Generator {
        self.style = style;
        self
    }
}

impl Iterator for Generator {
    type Item = GeneratedMessage;
    fn next(&mut self) -> Option<GeneratedMessage> {
        Some(self.compose())
    }
}

/// The first `n` messages of the stream for `seed`, in mutt/UW-IMAP style.
pub fn messages(seed: u64, n: usize, profile: Profile) -> std::iter::Take<Generator> {
    Generator::new(seed, profile).take(n)
}

/// Parses a size such as `1G`, `512M`, `64k`, `1000` (binary units).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 1u64 << 10),
        (i, 'm' | 'M') => (&s[..i], 1 << 20),
        (i, 'g' | 'G') => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    let n: f64 = num.trim().parse().ok()?;
    (n >= 0.0).then_some((n * mult as f64) as u64)
}

#[cfg(test)]
mod tests;
