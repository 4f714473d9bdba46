//! `arcsynth coverage` on the reference solutions over the 400 ARC-AGI-1 training tasks,
//! end to end as the command does it: load the tasks, re-verify every program in the
//! sandbox, compute and render the summary. Target (issue #7): under 5 s.
//!
//! Run: `cargo bench --bench coverage`.

#[path = "common.rs"]
mod common;

use std::time::Instant;

use arcsynth::sandbox::{Limits, Sandbox};

fn main() {
    let mut runs = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let start = Instant::now();
        let set = arcsynth::task::load(&common::training_dir()).unwrap();
        let checked =
            arcsynth::library::verify(&Sandbox::new(Limits::default()), arcsynth::library::reference(), &set.tasks);
        let ids: Vec<String> = set.tasks.iter().map(|t| t.id.clone()).collect();
        let names = arcsynth::dsl::syntax::primitive_names().iter().cloned().collect();
        let cov = arcsynth::coverage::compute(&checked, &ids, &names);
        let text = cov.render(false);
        runs.push(start.elapsed().as_secs_f64());
        last = Some((cov, text.len()));
    }
    let (cov, chars) = last.unwrap();
    runs.sort_by(f64::total_cmp);
    let median = runs[runs.len() / 2];
    let json = serde_json::json!({
        "programs": cov.programs,
        "verified": cov.verified,
        "tasks": cov.tasks,
        "summary_chars": chars,
        "seconds_runs": runs,
        "seconds_median": median,
        "target_seconds": 5.0,
    });
    let summary = format!(
        "{} reference programs re-verified on {} tasks, summary computed and rendered: median {:.3} s over 5 runs (target < 5 s)",
        cov.programs, cov.tasks, median
    );
    println!("{summary}");
    common::record("coverage", "cargo bench --bench coverage", &json, &summary);
}
