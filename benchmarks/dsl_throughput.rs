//! Program evaluations per second (one evaluation = one program on one input grid) for
//! every reference solution on all its pairs, 1 thread and all threads, and the same
//! for native Rust versions of some of them (the interpretive overhead).
//!
//! Run: `cargo bench --bench dsl_throughput` (ARC data from data/ or ARC_DATA).
//! For comparing interpreter changes on a noisy machine, count instructions instead:
//! `cargo build --profile profiling --bench dsl_throughput`, then
//! `ARCSYNTH_BENCH_PASSES=5 valgrind --tool=callgrind target/profiling/deps/dsl_throughput-*`
//! runs 5 single-thread passes and exits (`ARCSYNTH_BENCH_NATIVE=1`: passes of the
//! native versions instead); `ARCSYNTH_BENCH_SHARE=1` prints each program's share of the
//! single-thread time and each native version's ratio; `ARCSYNTH_BENCH_ONLY=id,id` keeps
//! only those tasks. The native subset and its Rhai programs are timed in alternating
//! short rounds, each side's fastest round counting (see `fastest_alternating`).

#[path = "common.rs"]
mod common;

use std::time::{Duration, Instant};

use arcsynth::dsl::objects::{self, ObjectOptions};
use arcsynth::dsl::ops;
use arcsynth::grid::Grid;
use arcsynth::sandbox::{Limits, Program, Sandbox};
use rayon::prelude::*;

type Native = fn(&Grid) -> Grid;

/// Native Rust versions of reference solutions, calling the same primitives.
fn natives() -> Vec<(&'static str, Native)> {
    vec![
        ("3c9b0459", |g| ops::rotate(g, 2)),
        ("67a3c6ac", |g| ops::flip_h(g)),
        ("68b16354", |g| ops::flip_v(g)),
        ("74dd1130", |g| ops::transpose(g)),
        ("a416b8f3", |g| ops::hcat(g, g).unwrap()),
        ("b1948b0a", |g| ops::replace(g, 6, 2).unwrap()),
        ("d511f180", |g| ops::swap(g, 5, 8).unwrap()),
        ("6d0aefbc", |g| ops::hcat(g, &ops::flip_h(g)).unwrap()),
        ("4c4377d9", |g| ops::vcat(&ops::flip_v(g), g).unwrap()),
        ("746b3537", |g| ops::dedup_cols(&ops::dedup_rows(g))),
        ("9565186b", |g| ops::replace_not(g, ops::most_common(g), 5).unwrap()),
        ("fafffa47", |g| {
            let m =
                ops::mask_op(&ops::top_half(g).unwrap(), &ops::bottom_half(g).unwrap(), "or", |a, b| a || b).unwrap();
            ops::replace(&ops::invert(&m), 1, 2).unwrap()
        }),
        ("0520fde7", |g| {
            let h = ops::split_cols(g, 2).unwrap();
            ops::replace(&ops::mask_op(&h[0], &h[1], "and", |a, b| a && b).unwrap(), 1, 2).unwrap()
        }),
        ("aedd82e4", |g| {
            let opt = ObjectOptions::defaults(g);
            let mut out = g.clone();
            for o in objects::objects(g, opt) {
                if o.size() == 1 {
                    out = objects::paint(&out, &o, Some(1));
                }
            }
            out
        }),
        ("007bbfb7", |g| {
            let (h, w) = g.shape();
            let mut out = ops::new_grid((h * h) as i64, (w * w) as i64, 0).unwrap();
            for r in 0..h {
                for c in 0..w {
                    if g.get(r, c) != 0 {
                        out = ops::paste(&out, g, (r * h) as i64, (c * w) as i64, None);
                    }
                }
            }
            out
        }),
        ("d037b0a7", |g| {
            let mut out = g.clone();
            for r in 0..g.rows() {
                for c in 0..g.cols() {
                    let v = g.get(r, c);
                    if v != 0 {
                        out = ops::ray(&out, r as i64, c as i64, 1, 0, v as i64, None).unwrap();
                    }
                }
            }
            out
        }),
    ]
}

struct Job {
    id: String,
    program: Program,
    inputs: Vec<Grid>,
}

/// Evaluations per second over `jobs`, repeating until `min_time` has passed.
fn throughput<F: Fn() -> usize>(min_time: Duration, f: F) -> (f64, usize) {
    f(); // warm-up
    let start = Instant::now();
    let mut evals = 0;
    while start.elapsed() < min_time {
        evals += f();
    }
    (evals as f64 / start.elapsed().as_secs_f64(), evals)
}

/// Evaluations per second of `a` and of `b` (each making `evals` evaluations per call),
/// from the fastest of rounds of about 20 ms that alternate between the two for `total`.
/// On a shared machine a neighbour's load slows whichever side runs beside it; the two
/// sides meet the same conditions in turn, and each one's least disturbed round counts.
fn fastest_alternating(total: Duration, evals: usize, a: impl Fn(), b: impl Fn()) -> (f64, f64) {
    let calls_per_round = |f: &dyn Fn()| {
        f(); // warm-up
        let t = Instant::now();
        f();
        (0.02 / t.elapsed().as_secs_f64().max(1e-7)).ceil().max(1.0) as usize
    };
    let (na, nb) = (calls_per_round(&a), calls_per_round(&b));
    let round = |f: &dyn Fn(), n: usize| {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        t.elapsed().as_secs_f64() / n as f64
    };
    let (mut best_a, mut best_b) = (f64::MAX, f64::MAX);
    let start = Instant::now();
    while start.elapsed() < total {
        best_a = best_a.min(round(&a, na));
        best_b = best_b.min(round(&b, nb));
    }
    (evals as f64 / best_a, evals as f64 / best_b)
}

fn main() {
    let sandbox = Sandbox::new(Limits::default());
    let dir = common::root().join("dsl/solutions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .collect();
    files.sort();
    if let Ok(only) = std::env::var("ARCSYNTH_BENCH_ONLY") {
        files.retain(|f| only.split(',').any(|id| f.file_stem().is_some_and(|s| s == id)));
    }
    let jobs: Vec<Job> = files
        .iter()
        .map(|f| {
            let id = f.file_stem().unwrap().to_string_lossy().into_owned();
            let task = arcsynth::task::load_one(&common::training_dir(), &id).unwrap();
            let program = sandbox.compile(&std::fs::read_to_string(f).unwrap()).unwrap();
            let inputs =
                task.train.iter().map(|e| e.input.clone()).chain(task.test.iter().map(|t| t.input.clone())).collect();
            Job { id, program, inputs }
        })
        .collect();
    let pairs: Vec<(&Program, &Grid)> =
        jobs.iter().flat_map(|j| j.inputs.iter().map(move |g| (&j.program, g))).collect();
    let min_time = Duration::from_secs(3);
    let threads = rayon::current_num_threads();

    // The natively implemented subset, in both forms.
    let natives = natives();
    let subset: Vec<(&Job, Native)> =
        natives.iter().filter_map(|(id, f)| Some((jobs.iter().find(|j| j.id == *id)?, *f))).collect();

    // A fixed amount of work and nothing else, for `perf stat` instruction counts.
    if let Some(passes) = std::env::var("ARCSYNTH_BENCH_PASSES").ok().and_then(|v| v.parse::<usize>().ok()) {
        if std::env::var_os("ARCSYNTH_BENCH_NATIVE").is_some() {
            for _ in 0..passes {
                subset.iter().for_each(|(j, f)| j.inputs.iter().for_each(|g| drop(std::hint::black_box(f(g)))));
            }
            return;
        }
        for _ in 0..passes {
            pairs.iter().for_each(|(p, g)| drop(std::hint::black_box(sandbox.run(p, g))));
        }
        return;
    }

    // Per-evaluation times, for the median and the slowest programs.
    let mut per_eval: Vec<(f64, &str)> = Vec::new();
    for j in &jobs {
        for g in &j.inputs {
            let reps = 20;
            let t = Instant::now();
            for _ in 0..reps {
                sandbox.run(&j.program, g).unwrap();
            }
            per_eval.push((t.elapsed().as_secs_f64() * 1e6 / reps as f64, &j.id));
        }
    }
    if std::env::var_os("ARCSYNTH_BENCH_SHARE").is_some() {
        let mut share: std::collections::BTreeMap<&str, f64> = Default::default();
        for (us, id) in &per_eval {
            *share.entry(id).or_default() += us;
        }
        let total: f64 = share.values().sum();
        let mut v: Vec<_> = share.into_iter().collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (id, us) in v.iter().take(25) {
            eprintln!("{id} {:.1} us total, {:.1}%", us, 100.0 * us / total);
        }
    }
    per_eval.sort_by(|a, b| a.0.total_cmp(&b.0));
    let median_us = per_eval[per_eval.len() / 2].0;

    let (rhai_1, _) = throughput(min_time, || {
        pairs.iter().for_each(|(p, g)| {
            sandbox.run(p, g).unwrap();
        });
        pairs.len()
    });
    let (rhai_n, _) = throughput(min_time, || {
        pairs.par_iter().for_each(|(p, g)| {
            sandbox.run(p, g).unwrap();
        });
        pairs.len()
    });

    for (j, f) in &subset {
        for g in &j.inputs {
            assert_eq!(f(g), sandbox.run(&j.program, g).unwrap(), "native {} disagrees with its Rhai program", j.id);
        }
    }
    let n_subset: usize = subset.iter().map(|(j, _)| j.inputs.len()).sum();
    let (native_1, subset_rhai_1) = fastest_alternating(
        2 * min_time,
        n_subset,
        || subset.iter().for_each(|(j, f)| j.inputs.iter().for_each(|g| drop(std::hint::black_box(f(g))))),
        || {
            subset
                .iter()
                .for_each(|(j, _)| j.inputs.iter().for_each(|g| drop(std::hint::black_box(sandbox.run(&j.program, g)))))
        },
    );
    let ratio = native_1 / subset_rhai_1;
    if std::env::var_os("ARCSYNTH_BENCH_SHARE").is_some() {
        for (j, f) in &subset {
            let reps = 2000;
            let t = Instant::now();
            for _ in 0..reps {
                j.inputs.iter().for_each(|g| drop(std::hint::black_box(f(g))));
            }
            let native = t.elapsed().as_secs_f64();
            let t = Instant::now();
            for _ in 0..reps {
                j.inputs.iter().for_each(|g| drop(std::hint::black_box(sandbox.run(&j.program, g))));
            }
            let rhai = t.elapsed().as_secs_f64();
            let per = 1e6 / (reps * j.inputs.len()) as f64;
            eprintln!(
                "{} native {:.2} us, script {:.2} us per eval: {:.1}x",
                j.id,
                native * per,
                rhai * per,
                rhai / native
            );
        }
    }
    let python_in_process = 1500.0;

    let json = serde_json::json!({
        "programs": jobs.len(),
        "pairs": pairs.len(),
        "threads": threads,
        "rhai_evals_per_s_1_thread": rhai_1,
        "rhai_evals_per_s_all_threads": rhai_n,
        "median_us_per_eval": median_us,
        "slowest": per_eval.iter().rev().take(5).map(|(us, id)| serde_json::json!({"task": id, "us": us})).collect::<Vec<_>>(),
        "native_subset_programs": subset.len(),
        "native_evals_per_s_1_thread": native_1,
        "rhai_subset_evals_per_s_1_thread": subset_rhai_1,
        "interpretive_overhead_ratio": ratio,
        "subset_method": "fastest of alternating ~20 ms rounds over 6 s, native and Rhai in turn",
        "vs_python_arc_dsl_in_process_per_core": rhai_1 / python_in_process,
    });
    println!("{}", serde_json::to_string_pretty(&json).unwrap());
    let summary = format!(
        "{} programs / {} pairs: {:.0} evals/s on 1 thread, {:.0} on {threads}; median {:.1} us/eval; {:.0}x Python arc-dsl in-process; native subset ({} programs) {:.2}x faster than Rhai (fastest of alternating rounds)",
        jobs.len(),
        pairs.len(),
        rhai_1,
        rhai_n,
        median_us,
        rhai_1 / python_in_process,
        subset.len(),
        ratio
    );
    // A run on some of the tasks is for profiling, not a result.
    if std::env::var_os("ARCSYNTH_BENCH_ONLY").is_none() {
        common::record("dsl_throughput", "cargo bench --bench dsl_throughput", &json, &summary);
    }
    println!("{summary}");
}
