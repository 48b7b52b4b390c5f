use crate::{Finding, Unit};

/// What a long run tells whoever watches it. Libraries call it; the binary
/// draws progress bars; tests pass [`NoProgress`]. Every method has a
/// default that does nothing.
pub trait Progress: Sync {
    /// The run starts: this many units holding this many bytes.
    fn begin(&self, _units: u64, _bytes: u64) {}
    /// A message of `bytes` bytes was handled.
    fn message(&self, _bytes: u64) {}
    /// A unit (folder or file) is done.
    fn unit_done(&self, _unit: &Unit) {}
    /// Something worth telling happened.
    fn finding(&self, _finding: &Finding) {}
    /// The run is over.
    fn end(&self) {}
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
