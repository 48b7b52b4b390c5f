//! Progress bars on a terminal (indicatif), nothing elsewhere.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use mailshift_model::{NoProgress, Progress, Unit};

/// A byte bar with the number of units done.
#[derive(Debug)]
pub struct Bar {
    bar: ProgressBar,
    units: AtomicU64,
    done: AtomicU64,
}

/// A bar when stderr is a terminal, otherwise silence (logs stay clean).
pub fn for_stderr(what: &str) -> Box<dyn Progress> {
    if !std::io::stderr().is_terminal() {
        return Box::new(NoProgress);
    }
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template(
        "{prefix} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    Box::new(Bar { bar, units: AtomicU64::new(0), done: AtomicU64::new(0) })
}

impl Progress for Bar {
    fn begin(&self, units: u64, bytes: u64) {
        self.units.store(units, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        self.bar.set_length(bytes);
        self.bar.set_position(0);
    }

    fn message(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn unit_done(&self, _unit: &Unit) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        self.bar.set_message(format!("{done}/{} files", self.units.load(Ordering::Relaxed)));
    }

    fn end(&self) {
        self.bar.finish_and_clear();
    }
}
