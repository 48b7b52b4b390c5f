//! Running the binary and looking at what it wrote.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use mailshift_testkit::gen::{self, Amount, Profile, Variant};
use serde_json::Value;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mailshift")
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The arguments of one run: strings and paths mixed.
pub type Args<'a> = &'a [&'a dyn AsRef<OsStr>];

/// Runs `mailshift ARGS...` to completion.
pub fn mailshift(args: Args<'_>) -> Run {
    let out = Command::new(bin()).args(args.iter().map(|a| a.as_ref())).output().expect("run mailshift");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs it and insists on an exit code, showing stderr when it differs.
pub fn expect(code: i32, args: Args<'_>) -> Run {
    let shown: Vec<String> = args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect();
    let run = mailshift(args);
    assert_eq!(
        run.code,
        code,
        "mailshift {}\nstdout:\n{}\nstderr:\n{}",
        shown.join(" "),
        run.stdout,
        run.stderr
    );
    run
}

/// Reads a JSON report and checks what every report must hold: the counts,
/// their balance, and findings with level, kind, location and message.
pub fn report(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).expect("report is JSON");
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("report lacks {k}: {v}"));
    assert_eq!(n("read"), n("written") + n("skipped") + n("duplicates"), "report does not balance: {text}");
    for f in v["findings"].as_array().expect("findings array") {
        for key in ["level", "kind", "location", "message"] {
            assert!(f.get(key).is_some(), "finding without {key}: {f}");
        }
    }
    v
}

/// A generated mboxrd file of `n` small messages.
pub fn gen_mbox(path: &Path, seed: u64, n: usize) -> gen::Stats {
    let mut f = std::io::BufWriter::new(fs::File::create(path).expect("create mbox"));
    gen::write_mbox(&mut f, seed, Amount::Messages(n as u64), Profile::Small, Variant::Mboxrd)
        .expect("write mbox")
}

/// Whether a file is a writer's temp file: anything in a maildir `tmp/`
/// folder, or a dot-named `*.tmp` beside a final file (mbox, EML).
pub fn is_temp(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.parent().and_then(Path::file_name) == Some(OsStr::new("tmp"))
        || (name.starts_with('.') && name.ends_with(".tmp"))
}

/// Every file under `dir` (relative path → bytes), leaving out temp files
/// (see [`is_temp`]).
pub fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if !is_temp(&p) {
                let rel = p.strip_prefix(dir).expect("inside").to_path_buf();
                out.insert(rel, fs::read(&p).expect("read file"));
            }
        }
    }
    out
}

/// The temp files under `dir` (see [`is_temp`]).
pub fn tmp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if is_temp(&p) {
                out.push(p);
            }
        }
    }
    out
}
