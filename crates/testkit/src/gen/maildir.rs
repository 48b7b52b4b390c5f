//! Maildir output: the generated stream as one maildir (for later IMAP and
//! backup benchmarks), and the benchmark's "floor": an mbox's messages
//! written naively as one file each with a single final `syncfs`.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::time::SystemTime;

use super::{Amount, Generator, Profile, Stats};

/// Writes `amount` messages (`Bytes` counts message bytes) into the maildir
/// `dir` (`tmp/`, `new/`, `cur/`): flags as info letters, keywords as
/// lowercase letters listed in `dovecot-keywords`, mtime = received date.
/// Not durable: nothing is synced.
pub fn write_maildir(dir: &Path, seed: u64, amount: Amount, profile: Profile) -> io::Result<Stats> {
    for sub in ["tmp", "new", "cur"] {
        fs::create_dir_all(dir.join(sub))?;
    }
    let mut stats = Stats::default();
    let mut keywords: BTreeMap<String, usize> = BTreeMap::new();
    let mut gen = Generator::new(seed, profile);
    while !match amount {
        Amount::Messages(n) => stats.messages >= n,
        Amount::Bytes(b) => stats.message_bytes >= b,
    } {
        let m = gen.compose();
        let base = format!("{}.M{}P0.mailshift-gen", m.received.timestamp(), stats.messages);
        let path = if m.recent {
            dir.join("new").join(base)
        } else {
            let mut info = m.flags.maildir_letters();
            let mut kw: Vec<char> = Vec::new();
            for k in &m.flags.keywords {
                let next = keywords.len();
                let i = *keywords.entry(k.clone()).or_insert(next);
                if let Some(c) = char::from_digit((10 + i) as u32, 36) {
                    kw.push(c);
                }
            }
            kw.sort_unstable();
            info.extend(kw);
            dir.join("cur").join(format!("{base}:2,{info}"))
        };
        let mut f = File::create(&path)?;
        f.write_all(&m.raw)?;
        f.set_modified(SystemTime::from(m.received))?;
        stats.bytes += m.raw.len() as u64;
        stats.add(&m);
    }
    if !keywords.is_empty() {
        let mut list: Vec<(usize, &String)> = keywords.iter().map(|(k, &i)| (i, k)).collect();
        list.sort();
        let text: String = list.iter().map(|(i, k)| format!("{i} {k}\n")).collect();
        fs::write(dir.join("dovecot-keywords"), text)?;
    }
    Ok(stats)
}

/// The disk's floor for converting `mbox` into the maildir `dir`: splits
/// the file naively at From_ lines (no unquoting, no flags), writes each
/// message as one file in `dir/cur`, then makes all of it durable with one
/// `syncfs`. Anything smarter than this costs more.
pub fn floor(mbox: &Path, dir: &Path) -> io::Result<Stats> {
    let cur = dir.join("cur");
    for sub in ["tmp", "new", "cur"] {
        fs::create_dir_all(dir.join(sub))?;
    }
    let mut r = BufReader::with_capacity(1 << 20, File::open(mbox)?);
    let mut stats = Stats::default();
    let mut msg: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut line = Vec::with_capacity(1 << 16);
    let mut started = false;
    let mut prev_blank = true;
    let flush = |msg: &mut Vec<u8>, stats: &mut Stats| -> io::Result<()> {
        // The blank line before the next From_ line belongs to the separator.
        if msg.ends_with(b"\n\n") {
            msg.pop();
        }
        fs::write(cur.join(format!("{}:2,S", stats.messages)), &msg)?;
        stats.messages += 1;
        stats.bytes += msg.len() as u64;
        stats.message_bytes += msg.len() as u64;
        stats.largest_message = stats.largest_message.max(msg.len() as u64);
        msg.clear();
        Ok(())
    };
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if prev_blank && line.starts_with(b"From ") {
            if started {
                flush(&mut msg, &mut stats)?;
            }
            started = true;
        } else if started {
            msg.extend_from_slice(&line);
        }
        prev_blank = line == b"\n" || line == b"\r\n";
    }
    if started {
        flush(&mut msg, &mut stats)?;
    }
    mailshift_model::durable::sync_filesystem(dir)?;
    Ok(stats)
}
