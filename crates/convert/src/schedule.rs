//! Units grouped into folders, and folders run in parallel, biggest first.
//!
//! Writers of one folder must be serialised and see messages in source
//! order, so the unit of parallelism is the folder (all units whose
//! [`FolderPath::key`] is the same), not the unit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use mailshift_model::{Finding, FindingKind, FolderPath, Item, Source, Unit};

/// The units of one folder, in source order.
#[derive(Debug, Clone)]
pub(crate) struct FolderGroup {
    pub key: String,
    pub folder: FolderPath,
    pub units: Vec<Unit>,
    pub bytes: u64,
}

/// Groups units by folder key, keeping the order in which folders first
/// appear and the order of units inside each folder.
pub(crate) fn group_units(units: Vec<Unit>) -> Vec<FolderGroup> {
    let mut groups: Vec<FolderGroup> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for unit in units {
        let key = unit.folder.key();
        let i = *index.entry(key.clone()).or_insert_with(|| {
            groups.push(FolderGroup { key, folder: unit.folder.clone(), units: Vec::new(), bytes: 0 });
            groups.len() - 1
        });
        groups[i].bytes += unit.bytes;
        groups[i].units.push(unit);
    }
    groups
}

/// The number of worker threads for `jobs` (0 means one per core).
pub(crate) fn threads(jobs: usize) -> usize {
    if jobs > 0 {
        jobs
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// Runs `work` on every group on a pool of `jobs` threads, the biggest
/// groups first (so one huge folder does not start last and leave the other
/// threads idle), and returns the results in the groups' order.
pub(crate) fn run_biggest_first<R, F>(jobs: usize, groups: &[FolderGroup], work: F) -> Vec<R>
where
    R: Send,
    F: Fn(&FolderGroup) -> R + Sync,
{
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by(|&a, &b| groups[b].bytes.cmp(&groups[a].bytes).then(a.cmp(&b)));
    let results: Vec<Mutex<Option<R>>> = groups.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let worker = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(&g) = order.get(i) else { break };
        let r = work(&groups[g]);
        *results[g].lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(r);
    };
    let n = threads(jobs).min(groups.len()).max(1);
    match rayon::ThreadPoolBuilder::new().num_threads(n).build() {
        Ok(pool) => pool.scope(|s| {
            for _ in 0..n {
                s.spawn(|_| worker());
            }
        }),
        // No threads to be had: do the work here, in the same order.
        Err(_) => worker(),
    }
    results
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner))
        .map(|r| r.expect("every group was run"))
        .collect()
}

/// Reads every unit of a group in order, handing each item to `on_item`;
/// a unit that cannot be read on becomes an error finding in `findings`.
pub(crate) fn read_group(
    source: &dyn Source,
    group: &FolderGroup,
    findings: &mut Vec<Finding>,
    on_item: &mut dyn FnMut(Item),
) {
    for unit in &group.units {
        let result = source.read_unit(unit, &mut |item| {
            on_item(item);
            std::ops::ControlFlow::Continue(())
        });
        if let Err(e) = result {
            let mut location = e.location.clone();
            location.folder.get_or_insert_with(|| group.key.clone());
            findings.push(Finding::error(FindingKind::Unreadable, location, cannot_read_further(unit, &e)));
        }
    }
}

/// The sentence of an `unreadable` finding for a unit that could not be
/// read on. The unit is named only when the error's location does not
/// already name its file (an mbox unit's id is its path: naming both printed
/// the path twice).
pub(crate) fn cannot_read_further(unit: &Unit, e: &mailshift_model::Error) -> String {
    let named = e
        .location
        .path
        .as_ref()
        .is_some_and(|p| Some(p) == unit.path.as_ref() || p.display().to_string() == unit.id);
    if named {
        format!("cannot read any further: {}", e.kind)
    } else {
        format!("cannot read {} any further: {}", unit.id, e.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(folder: &[&str], id: &str, bytes: u64) -> Unit {
        Unit { folder: FolderPath::new(folder.iter().copied()), id: id.into(), path: None, bytes }
    }

    #[test]
    fn unreadable_names_the_file_once() {
        let u =
            Unit { folder: FolderPath::inbox(), id: "/m/box".into(), path: Some("/m/box".into()), bytes: 1 };
        let e = mailshift_model::Error::format(mailshift_model::Location::path("/m/box"), "bad");
        let text = format!("{}: {}", e.location, cannot_read_further(&u, &e));
        assert_eq!(text.matches("/m/box").count(), 1, "{text}");
        let e = mailshift_model::Error::format(mailshift_model::Location::default(), "bad");
        assert!(cannot_read_further(&u, &e).contains("/m/box"));
    }

    #[test]
    fn groups_by_key_in_first_seen_order() {
        let g = group_units(vec![
            unit(&["b"], "1", 1),
            unit(&["Inbox"], "2", 2),
            unit(&["b"], "3", 3),
            unit(&["INBOX"], "4", 4),
        ]);
        let keys: Vec<&str> = g.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["b", "INBOX"]);
        assert_eq!(g[0].units.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), ["1", "3"]);
        assert_eq!(g[0].bytes, 4);
        assert_eq!(g[1].bytes, 6);
    }

    #[test]
    fn biggest_start_first_and_results_keep_order() {
        let groups = group_units(vec![unit(&["a"], "a", 1), unit(&["b"], "b", 100), unit(&["c"], "c", 10)]);
        let started = Mutex::new(Vec::new());
        let out = run_biggest_first(1, &groups, |g| {
            started.lock().unwrap().push(g.key.clone());
            g.key.clone()
        });
        assert_eq!(out, ["a", "b", "c"]);
        assert_eq!(*started.lock().unwrap(), ["b", "c", "a"]);
        let out = run_biggest_first(3, &groups, |g| g.bytes);
        assert_eq!(out, [1, 100, 10]);
        assert!(run_biggest_first(2, &[], |g| g.bytes).is_empty());
    }
}
