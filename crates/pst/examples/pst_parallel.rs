//! Reads every mail folder of PST files with one worker, then with two
//! (each worker its own handle, split by folder), and prints both times.
#![allow(clippy::print_stdout)]
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use mailshift_model::{Item, Source};
use mailshift_pst::{PstOptions, PstSource};

fn read_all(sources: &[PstSource], workers: usize) -> usize {
    let jobs: Vec<(usize, mailshift_model::Unit)> = sources
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.units(&mut Vec::new()).unwrap_or_default().into_iter().map(move |u| (i, u)))
        .collect();
    let next = AtomicUsize::new(0);
    let count = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let j = next.fetch_add(1, Ordering::Relaxed);
                let Some((i, unit)) = jobs.get(j) else { break };
                let _ = sources[*i].read_unit(unit, &mut |item| {
                    if matches!(item, Item::Message(_)) {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    ControlFlow::Continue(())
                });
            });
        }
    });
    count.into_inner()
}

fn main() {
    let sources: Vec<PstSource> = std::env::args()
        .skip(1)
        .filter_map(|p| PstSource::open(p.as_ref(), PstOptions::default()).ok())
        .collect();
    for workers in [1, 2, 1, 2] {
        let t = Instant::now();
        let n = read_all(&sources, workers);
        println!("{workers} worker(s): {n} messages in {:?}", t.elapsed());
    }
}
