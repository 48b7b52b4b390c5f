//! `drill`: prove that archives can be restored. Each archive is verified,
//! then the chain is restored into scratch space, every restored message is
//! read back and matched with the manifests (folder, exact fingerprint,
//! flags, date), and the restore rate is measured. The scratch directory is
//! handed back to the caller (to compare it with a live store) and removed
//! when dropped.

use std::collections::{HashMap, VecDeque};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mailshift_maildir::MaildirSource;
use mailshift_model::{
    Error, ExactHash, Finding, FindingKind, Flags, Item, Level, Location, Progress, Report, Result, Source,
};
use serde::Serialize;

use crate::restore::{restore_chain, RestoreOptions};
use crate::verify::{verify, Verification};

/// How to run [`drill`].
#[derive(Debug, Clone, Default)]
pub struct DrillOptions {
    /// Where to make the scratch directory (default: the system's temp dir).
    pub scratch_in: Option<PathBuf>,
    /// Open encrypted archives.
    pub identities: Option<std::sync::Arc<crate::crypt::Identities>>,
}

/// What a drill checked and found: the auditor's report.
#[derive(Debug, Clone, Serialize)]
pub struct DrillResult {
    /// When the drill started and ended (RFC 3339, UTC).
    pub started: String,
    pub finished: String,
    pub tool: String,
    /// Each archive's verification, in restore order.
    pub archives: Vec<Verification>,
    /// Where the archives were restored (removed after the drill).
    pub scratch: PathBuf,
    pub restore: Report,
    pub restore_seconds: f64,
    /// Restored message bytes per second, in MB/s (10^6).
    pub restore_mb_per_s: f64,
    pub restore_messages_per_s: f64,
    /// Messages the manifests list.
    pub expected: u64,
    /// Messages read back from the restored maildir.
    pub restored: u64,
    /// Restored messages matching the manifest exactly (folder, bytes,
    /// flags, date).
    pub matched: u64,
    pub missing: u64,
    pub extra: u64,
    pub mismatched: u64,
    pub findings: Vec<Finding>,
    pub elapsed_seconds: f64,
    /// No finding at error level anywhere.
    pub passed: bool,
}

/// Runs the drill (see the module docs). The returned directory holds the
/// restored maildir in `maildir/`.
pub fn drill(
    archives: &[PathBuf],
    opts: &DrillOptions,
    progress: &dyn Progress,
) -> Result<(DrillResult, tempfile::TempDir)> {
    let started = Instant::now();
    let started_at = now();
    let scratch = match &opts.scratch_in {
        Some(d) => tempfile::Builder::new().prefix("mailshift-drill.").tempdir_in(d),
        None => tempfile::Builder::new().prefix("mailshift-drill.").tempdir(),
    }
    .map_err(|e| Error::io(Location::path(opts.scratch_in.clone().unwrap_or_else(std::env::temp_dir)), e))?;
    let maildir = scratch.path().join("maildir");
    let mut findings = Vec::new();
    let mut verifications = Vec::new();
    let mut expected: HashMap<(String, ExactHash), VecDeque<(Flags, i64)>> = HashMap::new();
    let mut n_expected = 0;
    let keys = opts.identities.as_deref();
    let n_archives = archives.len();
    for (i, a) in archives.iter().enumerate() {
        let mut v = verify(a, keys, progress)?;
        findings.extend(v.findings.iter().cloned());
        if let Some(m) = v.manifest.take() {
            if let Some(p) = m.header.as_ref().and_then(|h| h.parent.as_ref()) {
                let listed = archives.iter().any(|x| {
                    crate::manifest_path(x).file_name().is_some_and(|n| n.to_string_lossy() == p.manifest)
                });
                if !listed {
                    findings.push(Finding::warning(
                        FindingKind::Missing,
                        Location::path(a),
                        format!("incremental archive: its parent {} is not part of this drill", p.manifest),
                    ));
                }
            }
            // A snapshot increment lists the whole mailbox: the newest one
            // alone says what a restore must give.
            let newest = i + 1 == n_archives;
            if m.is_snapshot_increment() && newest {
                expected.clear();
                n_expected = 0;
            }
            for msg in m.messages().filter(|r| r.stored_in.is_none() || newest) {
                n_expected += 1;
                expected
                    .entry((msg.folder.clone(), msg.exact))
                    .or_default()
                    .push_back((msg.flags(), msg.mtime));
            }
        }
        verifications.push(v);
    }

    let t = Instant::now();
    let mut restored_report = Report::new("restore");
    let ropts = RestoreOptions { folder: None, identities: opts.identities.clone() };
    restored_report.merge(restore_chain(archives, &maildir, &ropts, progress)?);
    let restore_seconds = t.elapsed().as_secs_f64();
    findings.extend(restored_report.findings.iter().cloned());

    let (mut restored, mut matched, mut extra, mut mismatched) = (0u64, 0u64, 0u64, 0u64);
    let source = MaildirSource::open(&maildir)?;
    let units = source.units(&mut findings)?;
    for unit in &units {
        let key = unit.folder.key();
        let r = source.read_unit(unit, &mut |item| {
            if let Item::Message(m) = item {
                restored += 1;
                let exact = m.fingerprint().exact;
                match expected.get_mut(&(key.clone(), exact)).and_then(VecDeque::pop_front) {
                    None => {
                        extra += 1;
                        findings.push(Finding::error(
                            FindingKind::Extra,
                            m.envelope.origin.clone(),
                            "restored message is not listed in any manifest",
                        ));
                    }
                    Some((flags, mtime)) => {
                        let got = m.envelope.received.map(|t| t.timestamp());
                        if m.envelope.flags == flags && got == Some(mtime) {
                            matched += 1;
                        } else {
                            mismatched += 1;
                            findings.push(Finding::error(
                                FindingKind::Mismatch,
                                m.envelope.origin.clone(),
                                format!(
                                    "restored with flags {:?} and date {got:?}; the manifest says {:?} and {mtime}",
                                    m.envelope.flags.imap_list(),
                                    flags.imap_list()
                                ),
                            ));
                        }
                    }
                }
            }
            ControlFlow::Continue(())
        });
        if let Err(e) = r {
            findings.push(Finding::error(FindingKind::Unreadable, e.location.clone(), e.kind.to_string()));
        }
    }
    let mut missing = 0u64;
    for ((folder, exact), left) in &expected {
        for _ in left {
            missing += 1;
            findings.push(Finding::error(
                FindingKind::Missing,
                Location::default().with_folder(folder.clone()).with_item(exact.to_hex()),
                "listed in the manifest, not restored",
            ));
        }
    }
    let bytes = restored_report.bytes_written as f64;
    let passed = !findings.iter().any(|f| f.level == Level::Error);
    let result = DrillResult {
        started: started_at,
        finished: now(),
        tool: format!("mailshift {}", env!("CARGO_PKG_VERSION")),
        archives: verifications,
        scratch: scratch.path().to_path_buf(),
        restore: restored_report,
        restore_seconds,
        restore_mb_per_s: if restore_seconds > 0.0 { bytes / 1e6 / restore_seconds } else { 0.0 },
        restore_messages_per_s: if restore_seconds > 0.0 { restored as f64 / restore_seconds } else { 0.0 },
        expected: n_expected,
        restored,
        matched,
        missing,
        extra,
        mismatched,
        findings,
        elapsed_seconds: started.elapsed().as_secs_f64(),
        passed,
    };
    Ok((result, scratch))
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The path of the restored maildir inside a drill's scratch directory.
pub fn restored_maildir(scratch: &Path) -> PathBuf {
    scratch.join("maildir")
}
