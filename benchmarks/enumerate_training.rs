//! The model-free enumerator on the 400 ARC-AGI-1 training tasks at a fixed per-task
//! budget: tasks solved (pass@2 on the test outputs), time per task, candidates/s.
//!
//! Run: `cargo bench --bench enumerate_training` (budget: ARCSYNTH_BENCH_SECONDS, default
//! 5; depth: ARCSYNTH_BENCH_DEPTH, default 3). Uses every core rayon sees.
//!
//! `ARCSYNTH_BENCH_HELD_OUT=1` measures generalisation instead: on every task with three
//! or more training pairs, the last pair is held out and stands in for the test, so the
//! search fits the other pairs and is scored on a pair it never saw. The tasks' own test
//! outputs were seen while the enumerator was tuned; the held-out pairs are scored by
//! nothing else, so this is the training set's nearest stand-in for unseen tasks.
//!
//! `ARCSYNTH_BENCH_AUGMENTED=1` measures how much of the score is tied to how the tasks
//! happen to be drawn: every task is turned or flipped (one of the seven symmetries other
//! than the identity) and its colours 1-9 rotated (background 0 kept), both picked by the
//! task's place in the set, so a task solved as drawn and lost once turned or recoloured
//! points at a transform that only works one way round or for one colour.

#[path = "common.rs"]
mod common;

use std::time::Duration;

use arcsynth::enumerate::Budget;
use arcsynth::grid::{ColourPerm, Dihedral};
use arcsynth::sandbox::{Limits, Sandbox};
use arcsynth::search::{self, Run};
use arcsynth::task::{Task, TestPair};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let seconds: f64 = env_or("ARCSYNTH_BENCH_SECONDS", 5.0);
    let depth: usize = env_or("ARCSYNTH_BENCH_DEPTH", 3);
    let held_out = env_or("ARCSYNTH_BENCH_HELD_OUT", 0) == 1;
    let augmented = env_or("ARCSYNTH_BENCH_AUGMENTED", 0) == 1;
    let set = arcsynth::task::load(&common::training_dir()).unwrap();
    let mut tasks: Vec<Task> =
        if held_out { set.tasks.iter().filter_map(hold_out_last_pair).collect() } else { set.tasks };
    if augmented {
        tasks = tasks.iter().enumerate().map(|(i, t)| augment(t, i)).collect();
    }
    let name = match (held_out, augmented) {
        (false, false) => "enumerate_training",
        (true, false) => "enumerate_training_held_out_pair",
        (false, true) => "enumerate_training_augmented",
        (true, true) => "enumerate_training_held_out_pair_augmented",
    };
    let dir = common::root().join(format!("target/bench-{name}-run"));
    let _ = std::fs::remove_dir_all(&dir);
    let mut run = Run::open(&dir, &tasks).unwrap();
    let sandbox = Sandbox::new(Limits::default());
    let budget = Budget { max_depth: depth, time: Duration::from_secs_f64(seconds), ..Budget::default() };
    for (i, t) in tasks.iter().enumerate() {
        let r = search::solve_with_enumerator(&sandbox, &t.without_test_outputs(), budget);
        eprintln!(
            "{:3}/{} {} {} {:.2}s",
            i + 1,
            tasks.len(),
            t.id,
            if r.solved_train { "solved-train" } else { "-" },
            r.seconds
        );
        run.record(r, &[], &tasks).unwrap();
    }
    let report = run.report(&tasks);
    let solved_test = report.per_task.iter().filter(|l| l.correct == Some(1.0)).count();
    // Precision: of the tasks it says it solved, how many are right on test. Untrusted
    // fits (a learned table that does not hold out) answer without saying so.
    let precision = 1.0 - report.solved_train_but_wrong_on_test as f64 / report.solved_train.max(1) as f64;
    let untrusted: Vec<&arcsynth::search::TaskLine> =
        report.per_task.iter().filter(|l| l.answer_source == arcsynth::search::AnswerSource::UntrustedFit).collect();
    let untrusted_right = untrusted.iter().filter(|l| l.correct == Some(1.0)).count();
    // Depth reached per task, and the tasks whose budget ran out before depth 2 was done.
    let mut depths = std::collections::BTreeMap::<usize, usize>::new();
    for r in run.results.values() {
        *depths.entry(r.proposers.depth_done).or_default() += 1;
    }
    let short_of_2: Vec<&str> = run
        .results
        .values()
        .filter(|r| r.proposers.timed_out && r.proposers.depth_done < 2)
        .map(|r| r.task.as_str())
        .collect();
    let json = serde_json::json!({
        "tasks": report.tasks,
        "budget_seconds": seconds,
        "depth": depth,
        "threads": rayon::current_num_threads(),
        "pass_at_2": report.pass_at_2,
        "tasks_fully_solved_on_test": solved_test,
        "solved_train": report.solved_train,
        "solved_train_but_wrong_on_test": report.solved_train_but_wrong_on_test,
        "precision": precision,
        "untrusted_fits": untrusted.len(),
        "untrusted_fits_right_on_test": untrusted_right,
        "tasks_by_depth_done": depths,
        "depth_2_unfinished": short_of_2,
        "median_seconds": report.median_seconds,
        "p90_seconds": report.p90_seconds,
        "candidates": report.candidates,
        "candidates_per_second": report.candidates_per_second,
        "solved": report.per_task.iter().filter(|l| l.correct == Some(1.0)).map(|l| l.task.clone()).collect::<Vec<_>>(),
        "wrong_on_test": report
            .per_task
            .iter()
            .filter(|l| l.solved_train && l.correct.is_some_and(|c| c < 1.0))
            .map(|l| l.task.clone())
            .collect::<Vec<_>>(),
    });
    let pass = report.pass_at_2.unwrap_or(0.0);
    let summary = format!(
        "{}{}{} tasks, {seconds} s/task budget, depth {depth}: pass@2 {pass:.2}/{} ({:.1}%), {} fully solved; {} solved on train of which {} wrong on test (precision {:.1}%); {} untrusted fits answered, {} right on test; depth 2 unfinished on {} tasks; median {:.2} s, p90 {:.2} s per task; {:.2}M candidates/s",
        if held_out { "the last training pair held out as the test, " } else { "" },
        if augmented { "every task turned or flipped and its colours 1-9 rotated, " } else { "" },
        report.tasks,
        report.tasks,
        100.0 * pass / report.tasks as f64,
        solved_test,
        report.solved_train,
        report.solved_train_but_wrong_on_test,
        100.0 * precision,
        untrusted.len(),
        untrusted_right,
        short_of_2.len(),
        report.median_seconds,
        report.p90_seconds,
        report.candidates_per_second / 1e6
    );
    let mut command = format!("ARCSYNTH_BENCH_SECONDS={seconds}");
    if depth != 3 {
        command += &format!(" ARCSYNTH_BENCH_DEPTH={depth}");
    }
    if held_out {
        command += " ARCSYNTH_BENCH_HELD_OUT=1";
    }
    if augmented {
        command += " ARCSYNTH_BENCH_AUGMENTED=1";
    }
    common::record(name, &format!("{command} cargo bench --bench enumerate_training"), &json, &summary);
    println!("{summary}");
}

/// `task` with its last training pair as the only test, where two or more pairs remain
/// to fit.
fn hold_out_last_pair(task: &Task) -> Option<Task> {
    let (last, rest) = task.train.split_last()?;
    (rest.len() >= 2).then(|| Task {
        id: task.id.clone(),
        train: rest.to_vec(),
        test: vec![TestPair { input: last.input.clone(), output: Some(last.output.clone()) }],
    })
}

/// The `i`-th task of the set drawn another way: one of the seven symmetries other than
/// the identity, and colours 1-9 rotated by 1 to 8 places (0, the usual background, kept).
fn augment(task: &Task, i: usize) -> Task {
    let turn = Dihedral::ALL[1 + i % 7];
    let by = 1 + i % 8;
    let map: [u8; 10] = std::array::from_fn(|c| if c == 0 { 0 } else { (1 + (c - 1 + by) % 9) as u8 });
    task.augment(turn, &ColourPerm::new(map).expect("a rotation of 1-9 is a permutation"))
}
