//! The human summary every command prints on stderr at the end.

use std::collections::BTreeMap;
use std::fmt::Write;

use mailshift_model::{Finding, FindingKind, Level, Report};

/// How many findings of each kind are listed before "and N more".
const LIST_FIRST: usize = 3;

/// Prints the counts of a run report, its findings and the balance check.
pub fn print_report(report: &Report) {
    let mut s = String::new();
    let _ = writeln!(s, "{}: {}", report.command, report.source.as_deref().unwrap_or("?"));
    if let Some(d) = &report.destination {
        let _ = writeln!(s, "  into {d}");
    }
    let _ = writeln!(
        s,
        "  read {}, written {} ({} already present), skipped {}, duplicates {}",
        report.read, report.written, report.already_present, report.skipped, report.duplicates
    );
    let secs = report.elapsed_seconds;
    let mb = report.bytes_read as f64 / 1e6;
    let rate = if secs > 0.0 { mb / secs } else { 0.0 };
    let _ = writeln!(
        s,
        "  {mb:.1} MB read, {:.1} MB written, {} folders, {secs:.2} s, {rate:.1} MB/s",
        report.bytes_written as f64 / 1e6,
        report.folders.len()
    );
    s.push_str(&findings(&report.findings));
    match report.check_balance() {
        Ok(()) => s.push_str("  balance: ok (read = written + skipped + duplicates)\n"),
        Err(e) => {
            let _ = writeln!(s, "  balance: FAILED: {e}");
        }
    }
    eprint!("{s}");
}

/// The findings grouped by kind, the worst kinds first, each with its first
/// few entries and a count.
pub fn findings(findings: &[Finding]) -> String {
    let mut s = String::new();
    if findings.is_empty() {
        s.push_str("  findings: none\n");
        return s;
    }
    let count = |l: Level| findings.iter().filter(|f| f.level == l).count();
    let _ = writeln!(
        s,
        "  findings: {} error, {} warning, {} info",
        count(Level::Error),
        count(Level::Warning),
        count(Level::Info)
    );
    let mut by_kind: BTreeMap<FindingKind, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        by_kind.entry(f.kind).or_default().push(f);
    }
    let mut kinds: Vec<(FindingKind, Vec<&Finding>)> = by_kind.into_iter().collect();
    kinds.sort_by_key(|(k, v)| (std::cmp::Reverse(v.iter().map(|f| f.level).max()), *k));
    for (kind, list) in kinds {
        let _ = writeln!(s, "    {kind}: {}", list.len());
        for f in list.iter().take(LIST_FIRST) {
            let _ = writeln!(s, "      {f}");
        }
        if list.len() > LIST_FIRST {
            let _ = writeln!(s, "      ... and {} more (see --report)", list.len() - LIST_FIRST);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use mailshift_model::Location;

    use super::*;

    #[test]
    fn findings_are_grouped_worst_first_with_a_count() {
        let mut all = vec![Finding::info(FindingKind::Ignored, Location::path("a.msf"), "index")];
        for i in 0..5 {
            all.push(Finding::error(FindingKind::Unreadable, Location::path("x").with_offset(i), "bad"));
        }
        let s = findings(&all);
        assert!(s.contains("findings: 5 error, 0 warning, 1 info"), "{s}");
        let unreadable = s.find("unreadable: 5").expect("unreadable group");
        let ignored = s.find("ignored: 1").expect("ignored group");
        assert!(unreadable < ignored, "{s}");
        assert!(s.contains("... and 2 more"), "{s}");
        assert_eq!(s.matches("x: byte").count(), LIST_FIRST, "{s}");
        assert!(findings(&[]).contains("none"));
    }
}
