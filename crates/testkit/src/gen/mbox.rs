//! Frames generated messages as an mbox: From_ line, the bookkeeping headers
//! that carry the flags, From_ quoting (mboxrd, mboxo) or `Content-Length`
//! (mboxcl2), and the blank line that separates messages.

use std::io::{self, BufWriter, Write};

use memchr::memmem;

use super::{Amount, FlagStyle, GeneratedMessage, Generator, Profile, Stats, Variant};

/// Writes messages to an mbox, counting what it wrote.
#[derive(Debug)]
pub struct MboxWriter<W: Write> {
    w: BufWriter<W>,
    variant: Variant,
    stats: Stats,
    scratch: Vec<u8>,
}

impl<W: Write> MboxWriter<W> {
    pub fn new(w: W, variant: Variant) -> Self {
        MboxWriter {
            w: BufWriter::with_capacity(1 << 20, w),
            variant,
            stats: Stats::default(),
            scratch: Vec::new(),
        }
    }

    /// What has been written so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn write(&mut self, m: &GeneratedMessage) -> io::Result<()> {
        let s = &mut self.scratch;
        s.clear();
        s.extend_from_slice(b"From ");
        s.extend_from_slice(m.sender.as_bytes());
        s.push(b' ');
        s.extend_from_slice(m.received.format("%a %b %e %H:%M:%S %Y\n").to_string().as_bytes());
        let split = memmem::find(&m.raw, b"\n\n").map_or(m.raw.len(), |p| p + 1);
        let (head, body) = m.raw.split_at(split);
        if m.style == FlagStyle::Mozilla {
            let f = &m.flags;
            let status = u32::from(f.seen)
                | u32::from(f.answered) << 1
                | u32::from(f.flagged) << 2
                | u32::from(f.forwarded) << 12;
            let status2: u32 = if m.recent { 0x0001_0000 } else { 0 };
            s.extend_from_slice(
                format!("X-Mozilla-Status: {status:04x}\nX-Mozilla-Status2: {status2:08x}\n").as_bytes(),
            );
            // Thunderbird pads the keys to 80 columns so it can rewrite them in place.
            let keys = keywords(f);
            s.extend_from_slice(format!("X-Mozilla-Keys: {keys:<80}\n").as_bytes());
        }
        let quoted = quote(head, self.variant, s);
        if self.variant == Variant::Mboxcl2 {
            // `body` starts with the blank line ending the header.
            s.extend_from_slice(format!("Content-Length: {}\n", body.len().saturating_sub(1)).as_bytes());
        }
        if m.style == FlagStyle::Status && !m.recent {
            let f = &m.flags;
            s.extend_from_slice(if f.seen { b"Status: RO\n" } else { b"Status: O\n" });
            let mut x = String::new();
            for (on, c) in [(f.answered, 'A'), (f.flagged, 'F'), (f.draft, 'T'), (f.deleted, 'D')] {
                if on {
                    x.push(c);
                }
            }
            if !x.is_empty() {
                s.extend_from_slice(format!("X-Status: {x}\n").as_bytes());
            }
            if !f.keywords.is_empty() {
                s.extend_from_slice(format!("X-Keywords: {}\n", keywords(f)).as_bytes());
            }
        }
        let quoted = quoted + quote(body, self.variant, s);
        if !s.ends_with(b"\n") {
            s.push(b'\n');
        }
        s.push(b'\n');
        if self.variant == Variant::Crlf {
            let mut last = 0;
            for p in memchr::memchr_iter(b'\n', s) {
                self.w.write_all(&s[last..p])?;
                self.w.write_all(b"\r\n")?;
                last = p + 1;
            }
            self.stats.bytes += s.len() as u64 + memchr::memchr_iter(b'\n', s).count() as u64;
        } else {
            self.w.write_all(s)?;
            self.stats.bytes += s.len() as u64;
        }
        self.stats.quoted_lines += quoted;
        self.stats.add(m);
        Ok(())
    }

    /// Flushes and returns the counts.
    pub fn finish(self) -> io::Result<Stats> {
        Ok(self.into_inner()?.1)
    }

    /// Flushes and returns the underlying writer and the counts.
    pub fn into_inner(self) -> io::Result<(W, Stats)> {
        let w = self.w.into_inner().map_err(|e| e.into_error())?;
        Ok((w, self.stats))
    }
}

fn keywords(f: &mailshift_model::Flags) -> String {
    f.keywords.iter().map(String::as_str).collect::<Vec<_>>().join(" ")
}

/// Appends `src` to `out` with From_ quoting for `variant`; returns how many
/// lines it quoted.
fn quote(src: &[u8], variant: Variant, out: &mut Vec<u8>) -> u64 {
    if variant == Variant::Mboxcl2 {
        out.extend_from_slice(src);
        return 0;
    }
    let mut n = 0;
    let mut last = 0;
    for p in memmem::find_iter(src, b"From ") {
        let mut q = p;
        while q > 0 && src[q - 1] == b'>' {
            q -= 1;
        }
        let at_line_start = q == 0 || src[q - 1] == b'\n';
        if at_line_start && (variant != Variant::Mboxo || q == p) {
            out.extend_from_slice(&src[last..q]);
            out.push(b'>');
            last = q;
            n += 1;
        }
    }
    out.extend_from_slice(&src[last..]);
    n
}

/// Writes `amount` messages of the stream for `seed` as an mbox to `w`.
pub fn write_mbox<W: Write>(
    w: W,
    seed: u64,
    amount: Amount,
    profile: Profile,
    variant: Variant,
) -> io::Result<Stats> {
    let mut out = MboxWriter::new(w, variant);
    let mut gen = Generator::new(seed, profile);
    while !match amount {
        Amount::Messages(n) => out.stats.messages >= n,
        Amount::Bytes(b) => out.stats.bytes >= b,
    } {
        out.write(&gen.compose())?;
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_rules_per_variant() {
        let src = b"From a\n>From b\nx From c\n>>From d\nFrom";
        let mut rd = Vec::new();
        assert_eq!(quote(src, Variant::Mboxrd, &mut rd), 3);
        assert_eq!(rd, b">From a\n>>From b\nx From c\n>>>From d\nFrom".to_vec());
        let mut o = Vec::new();
        assert_eq!(quote(src, Variant::Mboxo, &mut o), 1);
        assert_eq!(o, b">From a\n>From b\nx From c\n>>From d\nFrom".to_vec());
    }
}
