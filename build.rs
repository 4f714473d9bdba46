//! Embeds the reference solutions (`dsl/solutions/*.rhai`) in the binary: they are the
//! default worked examples of LLM prompts, so `arcsynth` must not depend on its working
//! directory to find them.

use std::fmt::Write;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dsl/solutions");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("dsl/solutions exists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".rhai"))
        .collect();
    names.sort();
    let mut out = String::from(
        "/// (task id, program) of every reference solution, by task id.\npub const SOLUTIONS: &[(&str, &str)] = &[\n",
    );
    for n in &names {
        let path = dir.join(n);
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(out, "    ({:?}, include_str!({:?})),", n.trim_end_matches(".rhai"), path.display().to_string())
            .unwrap();
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("solutions.rs");
    std::fs::write(dest, out).unwrap();
}
