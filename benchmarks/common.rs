//! Shared by the benchmark binaries: where data lives and how results are recorded.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// The checkout: `ARCSYNTH_BENCH_ROOT` where a benchmark binary runs away from the tree
/// it was built in (a GPU machine), else the tree it was built in.
pub fn root() -> &'static Path {
    static ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        std::env::var_os("ARCSYNTH_BENCH_ROOT").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
    })
}

pub fn training_dir() -> PathBuf {
    std::env::var_os("ARC_DATA").map(PathBuf::from).unwrap_or_else(|| root().join("data/arc-agi-1/training"))
}

/// "model name, N cores" from /proc/cpuinfo where available.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    format!("{cpu}, {} threads", std::thread::available_parallelism().map_or(1, |n| n.get()))
}

pub fn today() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The checkout's commit (short), with `+dirty` when tracked files have changes.
pub fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let Some(head) = git(&["rev-parse", "--short", "HEAD"]) else { return "unknown".into() };
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{head}+dirty")
    } else {
        head
    }
}

/// Writes `benchmarks/results/NAME.json` and appends a row to `benchmarks/RESULTS.md`.
pub fn record(name: &str, command: &str, json: &serde_json::Value, summary: &str) {
    let dir = root().join("benchmarks/results");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.json"));
    arcsynth::fsio::write_json_atomic(&path, json).unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(root().join("benchmarks/RESULTS.md")).unwrap();
    writeln!(f, "| {} | {} | `{command}` | {}: {summary} |", today(), machine(), commit()).unwrap();
    println!("wrote {}", path.display());
}
