//! The executor: many programs x many input grids in parallel (rayon), each program
//! compiled once, scored against the training pairs.
//!
//! **Invariant:** test outputs are never read here. Programs are scored on training
//! pairs only; test inputs are run to get predictions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use crate::grid::Grid;
use crate::sandbox::{Category, RunError, RunResult, Sandbox};
use crate::task::Task;

/// One program's results on one task.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Compile failure, if any (then `train` and `test` are empty).
    pub compile_error: Option<RunError>,
    /// Result per training pair, in order.
    pub train: Vec<RunResult>,
    /// Result per test input, in order.
    pub test: Vec<RunResult>,
    /// Training pairs reproduced exactly.
    pub train_correct: usize,
    /// Mean over training pairs of the fraction of cells right (0 for a wrong shape or a
    /// failed run). 1.0 exactly when every training output is reproduced.
    pub pixel_accuracy: f64,
}

impl Evaluation {
    /// Whether the program reproduces every training output.
    pub fn solves_train(&self) -> bool {
        self.compile_error.is_none() && !self.train.is_empty() && self.train_correct == self.train.len()
    }

    /// The category that best describes the whole evaluation: the compile error, the
    /// first failed run, or `Ok`.
    pub fn category(&self) -> Category {
        if let Some(e) = &self.compile_error {
            return e.category;
        }
        self.train.iter().chain(&self.test).find_map(|r| r.as_ref().err().map(|e| e.category)).unwrap_or(Category::Ok)
    }

    /// The compile error, else the first failed run's error.
    pub fn first_error(&self) -> Option<&RunError> {
        self.compile_error.as_ref().or_else(|| self.train.iter().chain(&self.test).find_map(|r| r.as_ref().err()))
    }

    /// A fingerprint of the training behaviour (outputs or failure categories), for
    /// deduplicating programs that act the same.
    pub fn behaviour(&self) -> u64 {
        let failed = |e: &crate::sandbox::RunError| e.category as u64 + 1;
        let compile = self.compile_error.iter().map(failed);
        let train = self.train.iter().map(|r| r.as_ref().map_or_else(failed, Grid::fingerprint));
        crate::grid::fnv1a_words(compile.chain(train))
    }
}

/// Fraction of cells equal when shapes match, else 0.
pub fn cell_accuracy(got: &Grid, want: &Grid) -> f64 {
    if got.shape() != want.shape() {
        return 0.0;
    }
    let same = got.cells().iter().zip(want.cells()).filter(|(a, b)| a == b).count();
    same as f64 / want.cells().len() as f64
}

/// Runs every program on every train and test input of `task`, in parallel.
pub fn evaluate(sandbox: &Sandbox, sources: &[&str], task: &Task) -> Vec<Evaluation> {
    evaluate_until(sandbox, sources, task, None)
}

/// [`evaluate`] within a time budget: no run starts after `until`, and a program that
/// ran past its deadline on one input is not run on its other inputs (it cannot solve
/// the task). Either way the run not made is a timeout. So one evaluation ends at most
/// about one run's deadline after `until`, and a slow program costs one deadline, not
/// one per input.
pub fn evaluate_until(sandbox: &Sandbox, sources: &[&str], task: &Task, until: Option<Instant>) -> Vec<Evaluation> {
    let compiled: Vec<_> = sources.par_iter().map(|s| sandbox.compile(s)).collect();
    let inputs: Vec<&Grid> = task.train.iter().map(|e| &e.input).chain(task.test.iter().map(|t| &t.input)).collect();
    let n = inputs.len();
    let timed_out: Vec<AtomicBool> = compiled.iter().map(|_| AtomicBool::new(false)).collect();
    let runs: Vec<Option<RunResult>> = (0..compiled.len() * n)
        .into_par_iter()
        .map(|k| {
            let p = compiled[k / n].as_ref().ok()?;
            if until.is_some_and(|t| Instant::now() >= t) {
                return Some(Err(RunError::new(Category::Timeout, "not run: the task's time budget was spent")));
            }
            if timed_out[k / n].load(Ordering::Relaxed) {
                return Some(Err(RunError::new(
                    Category::Timeout,
                    "not run: the program ran past its deadline on another input",
                )));
            }
            let r = sandbox.run(p, inputs[k % n]);
            if r.as_ref().is_err_and(|e| e.category == Category::Timeout) {
                timed_out[k / n].store(true, Ordering::Relaxed);
            }
            Some(r)
        })
        .collect();
    let mut runs = runs.into_iter();
    compiled
        .into_iter()
        .map(|c| {
            let mine: Vec<Option<RunResult>> = runs.by_ref().take(n).collect();
            match c {
                Err(e) => Evaluation {
                    compile_error: Some(e),
                    train: vec![],
                    test: vec![],
                    train_correct: 0,
                    pixel_accuracy: 0.0,
                },
                Ok(_) => {
                    let mut results: Vec<RunResult> =
                        mine.into_iter().map(|r| r.expect("compiled programs run")).collect();
                    let test = results.split_off(task.train.len());
                    score(task, results, test)
                }
            }
        })
        .collect()
}

fn score(task: &Task, train: Vec<RunResult>, test: Vec<RunResult>) -> Evaluation {
    let mut correct = 0;
    let mut acc = 0.0;
    for (r, e) in train.iter().zip(&task.train) {
        if let Ok(g) = r {
            correct += (g == &e.output) as usize;
            acc += cell_accuracy(g, &e.output);
        }
    }
    let pixel_accuracy = if train.is_empty() { 0.0 } else { acc / train.len() as f64 };
    Evaluation { compile_error: None, train, test, train_correct: correct, pixel_accuracy }
}

/// Indices of the first program of each distinct training behaviour, in input order.
pub fn distinct_behaviours(evals: &[Evaluation]) -> Vec<usize> {
    let mut seen: HashMap<u64, usize> = HashMap::new();
    (0..evals.len()).filter(|&i| seen.insert(evals[i].behaviour(), i).is_none()).collect()
}
