//! Writing to stdout and files: a closed pipe ends the program quietly,
//! reports are written crash-safely.

use std::io::{self, Write};
use std::path::Path;

use anyhow::Context;
use mailshift_model::durable;
use serde_json::Value;

/// Writes `text` to stdout. A reader that went away (`| head`) is not an
/// error worth a message: the caller's error is recognised by
/// [`is_broken_pipe`] and the program exits quietly.
pub fn stdout(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Whether an error is a closed stdout pipe.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe))
}

/// Writes a JSON report to `path` atomically (temp file, fsync, rename).
pub fn write_json(path: &Path, value: &Value) -> anyhow::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    durable::write_file_atomic(path, &bytes)
        .with_context(|| format!("cannot write report {}", path.display()))
}
