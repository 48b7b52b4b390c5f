//! Test helpers shared by every mailshift crate (dev-only).
//!
//! - [`shared_corpus`]: the real-world corpus in `../shared/corpus`. Without it
//!   a test says loudly that it skipped; under CI (`CI=true`) it fails instead,
//!   because corpus tests must run there.
//! - [`require_tool`]: the same for external tools (`readpst`, `zstd`, ...).
//! - [`golden`]: compare against an expected file, writing the actual output
//!   beside it on a mismatch so a person can diff.
#![allow(clippy::print_stderr)] // tests explain why they skipped

pub mod dovecot;
pub mod gen;
pub mod proxy;
pub mod radicale;

use std::path::{Path, PathBuf};

/// The workspace root (the folder holding the top `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).unwrap_or(here).to_path_buf()
}

/// The project's own fixtures: `corpus/` at the workspace root.
pub fn fixtures() -> PathBuf {
    workspace_root().join("corpus")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The shared real-world corpus (`$MAILSHIFT_CORPUS`, else `../shared/corpus`
/// beside the workspace). `None`, with a SKIPPED line on stderr, when it is
/// missing; panics under CI, where it must be present.
pub fn shared_corpus(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("MAILSHIFT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/corpus"));
    if dir.join("manifest.jsonl").is_file() {
        return Some(dir);
    }
    assert!(
        !in_ci(),
        "{test}: the shared corpus is missing at {} and CI must run corpus tests",
        dir.display()
    );
    eprintln!("SKIPPED {test}: no shared corpus at {} (set MAILSHIFT_CORPUS)", dir.display());
    None
}

/// The files directly inside `sub` of the shared corpus, sorted, optionally
/// only those whose name ends with one of `exts` (e.g. `&["mbox", "box"]`).
pub fn corpus_files(corpus: &Path, sub: &str, exts: &[&str]) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(corpus.join(sub))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| {
        p.is_file()
            && (exts.is_empty() || p.extension().and_then(|e| e.to_str()).is_some_and(|e| exts.contains(&e)))
    });
    v.sort();
    v
}

/// Whether an external tool is on PATH; if not, a SKIPPED line (or a panic
/// under CI, where `scripts/test` installs it).
pub fn require_tool(test: &str, tool: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()));
    if !found {
        assert!(!in_ci(), "{test}: {tool} is not installed and CI must run this test");
        eprintln!("SKIPPED {test}: {tool} is not installed");
    }
    found
}

/// Compares `actual` with the golden file at `expected`. On a mismatch,
/// writes `actual` to `<expected>.actual` and panics naming both files. With
/// `MAILSHIFT_BLESS=1`, (re)writes the golden file instead.
pub fn golden(expected: &Path, actual: &str) {
    if std::env::var_os("MAILSHIFT_BLESS").is_some() {
        if let Some(dir) = expected.parent() {
            std::fs::create_dir_all(dir).expect("create golden dir");
        }
        std::fs::write(expected, actual).expect("write golden file");
        return;
    }
    let want = std::fs::read_to_string(expected).unwrap_or_else(|e| {
        panic!("golden file {} unreadable ({e}); run with MAILSHIFT_BLESS=1 to create it", expected.display())
    });
    if want != actual {
        let out = expected.with_extension(format!(
            "{}.actual",
            expected.extension().and_then(|e| e.to_str()).unwrap_or("txt")
        ));
        std::fs::write(&out, actual).expect("write actual file");
        panic!("output differs from {}; actual written to {}", expected.display(), out.display());
    }
}
