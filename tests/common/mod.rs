//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The ARC-AGI-1 training set the repository carries (`data/arc-agi-1/training`), or
/// `ARC_DATA` when set.
pub fn training_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("ARC_DATA") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/arc-agi-1/training");
    assert!(p.is_dir(), "ARC data not found at {}; set ARC_DATA", p.display());
    p
}

/// A fresh empty directory under the system temp dir, unique to this call.
pub fn temp_dir(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("arcsynth-test-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the built `arcsynth` binary.
pub fn arcsynth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_arcsynth"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
