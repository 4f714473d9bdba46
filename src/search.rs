//! `arcsynth search`: runs the proposers on each task, verifies their programs in the
//! sandbox, votes the test answers, and keeps a crash-safe, resumable run directory.
//!
//! Run directory layout:
//! - `results/<task_id>.json`: one [`TaskResult`] per finished task (atomic write). A
//!   rerun skips tasks that have one: this is the resume mechanism.
//! - `submission.json`, `programs.jsonl`, `report.json`: rebuilt atomically from all
//!   results after every task, so they are always complete and consistent.
//!
//! **Invariant:** proposers only ever see tasks without test outputs
//! ([`Task::without_test_outputs`]); test outputs are read only to score the report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::enumerate::{self, Budget};
use crate::fsio;
use crate::grid::Grid;
use crate::sandbox::Sandbox;
use crate::submission::{self, Attempts, Submission};
use crate::task::Task;

/// A verified program that reproduces every training output of its task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgramRecord {
    pub task: String,
    pub program: String,
    /// Which proposer wrote it (`enum`, or the model's name).
    pub source: String,
    /// Composition depth (enumerator) or refinement round (LLM).
    pub round: usize,
}

/// The best program that does not solve the task, kept for refinement and fallback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NearMiss {
    pub program: String,
    pub pixel_accuracy: f64,
}

/// Everything known about one finished task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    pub task: String,
    /// Some verified program reproduces every training output.
    pub solved_train: bool,
    /// Attempts per test input, in order.
    pub attempts: Vec<Attempts>,
    /// Where the attempts came from: `program`, `near_miss` or `identity`.
    pub answer_source: String,
    pub programs: Vec<ProgramRecord>,
    pub near_miss: Option<NearMiss>,
    pub candidates: u64,
    pub seconds: f64,
    pub depth_done: usize,
    pub timed_out: bool,
}

/// Search settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub out: PathBuf,
    pub budget: Budget,
}

/// The run directory: finished results, loaded for resuming.
pub struct Run {
    dir: PathBuf,
    pub results: BTreeMap<String, TaskResult>,
}

impl Run {
    /// Opens (creating if needed) a run directory and loads finished results. Fails
    /// early if the directory cannot be written.
    pub fn open(dir: &Path) -> std::io::Result<Run> {
        std::fs::create_dir_all(dir.join("results"))?;
        fsio::write_atomic(&dir.join(".write-test"), b"ok")?;
        std::fs::remove_file(dir.join(".write-test"))?;
        let mut results = BTreeMap::new();
        for entry in std::fs::read_dir(dir.join("results"))? {
            let path = entry?.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            // A result that cannot be read is recomputed rather than trusted.
            match std::fs::read(&path).ok().and_then(|b| serde_json::from_slice::<TaskResult>(&b).ok()) {
                Some(r) => {
                    results.insert(r.task.clone(), r);
                }
                None => tracing::warn!("{}: unreadable result, the task will be searched again", path.display()),
            }
        }
        Ok(Run { dir: dir.to_path_buf(), results })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records a finished task and rewrites the derived files.
    pub fn record(&mut self, result: TaskResult, tasks: &[Task]) -> std::io::Result<()> {
        fsio::write_json_atomic(&self.dir.join("results").join(format!("{}.json", result.task)), &result)?;
        self.results.insert(result.task.clone(), result);
        self.write_outputs(tasks)
    }

    /// Rewrites `submission.json`, `programs.jsonl` and `report.json` from the results.
    pub fn write_outputs(&self, tasks: &[Task]) -> std::io::Result<()> {
        let sub = self.submission();
        submission::write(&self.dir.join("submission.json"), &sub)?;
        let mut lines = String::new();
        for r in self.results.values() {
            for p in &r.programs {
                lines.push_str(&serde_json::to_string(p).map_err(std::io::Error::other)?);
                lines.push('\n');
            }
        }
        fsio::write_atomic(&self.dir.join("programs.jsonl"), lines.as_bytes())?;
        fsio::write_json_atomic(&self.dir.join("report.json"), &self.report_for(&sub, tasks))
    }

    /// The attempts of every finished task.
    pub fn submission(&self) -> Submission {
        self.results.values().map(|r| (r.task.clone(), r.attempts.clone())).collect()
    }

    /// Figures for the whole run; pass@2 only over tasks whose test outputs are known.
    pub fn report(&self, tasks: &[Task]) -> Report {
        self.report_for(&self.submission(), tasks)
    }

    fn report_for(&self, sub: &Submission, tasks: &[Task]) -> Report {
        let done: Vec<&Task> = tasks.iter().filter(|t| self.results.contains_key(&t.id)).collect();
        let scored: Vec<Task> = done.iter().filter(|t| t.has_test_outputs()).map(|t| (*t).clone()).collect();
        let score = (!scored.is_empty()).then(|| {
            let v = serde_json::to_value(sub).expect("submission serialises");
            submission::score(&v, &scored).expect("submission is an object")
        });
        let mut times: Vec<f64> = self.results.values().map(|r| r.seconds).collect();
        times.sort_by(f64::total_cmp);
        let pct = |p: f64| if times.is_empty() { 0.0 } else { times[((times.len() - 1) as f64 * p).round() as usize] };
        let candidates: u64 = self.results.values().map(|r| r.candidates).sum();
        let seconds: f64 = times.iter().sum();
        let per_task = self
            .results
            .values()
            .map(|r| TaskLine {
                task: r.task.clone(),
                solved_train: r.solved_train,
                correct: score.as_ref().and_then(|s| s.tasks.get(&r.task).copied()),
                answer_source: r.answer_source.clone(),
                seconds: r.seconds,
                program: r.programs.first().map(|p| p.program.clone()),
            })
            .collect::<Vec<_>>();
        let false_positives = per_task.iter().filter(|l| l.solved_train && l.correct.is_some_and(|c| c < 1.0)).count();
        Report {
            tasks: self.results.len(),
            solved_train: self.results.values().filter(|r| r.solved_train).count(),
            pass_at_2: score.as_ref().map(|s| s.total),
            scored_tasks: score.as_ref().map(|s| s.max),
            solved_train_but_wrong_on_test: false_positives,
            median_seconds: pct(0.5),
            p90_seconds: pct(0.9),
            candidates,
            candidates_per_second: if seconds > 0.0 { candidates as f64 / seconds } else { 0.0 },
            per_task,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskLine {
    pub task: String,
    pub solved_train: bool,
    /// Fraction of test inputs answered right (when test outputs are known).
    pub correct: Option<f64>,
    pub answer_source: String,
    pub seconds: f64,
    pub program: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tasks: usize,
    pub solved_train: usize,
    pub pass_at_2: Option<f64>,
    pub scored_tasks: Option<usize>,
    /// Tasks whose voted program reproduces the training pairs but not the test output.
    pub solved_train_but_wrong_on_test: usize,
    pub median_seconds: f64,
    pub p90_seconds: f64,
    pub candidates: u64,
    pub candidates_per_second: f64,
    pub per_task: Vec<TaskLine>,
}

/// Runs a program on every test input; `None` if any run fails.
fn predict(sandbox: &Sandbox, program: &str, task: &Task) -> Option<Vec<Grid>> {
    let p = sandbox.compile(program).ok()?;
    task.test.iter().map(|t| sandbox.run(&p, &t.input).ok()).collect()
}

/// Whether a program reproduces every training output in the sandbox.
fn verifies(sandbox: &Sandbox, program: &str, task: &Task) -> bool {
    let Ok(p) = sandbox.compile(program) else { return false };
    task.train.iter().all(|e| sandbox.run(&p, &e.input).is_ok_and(|g| g == e.output))
}

/// Votes the test answers of verified programs: the most common answer first, shorter
/// programs breaking ties; the two best distinct answers become the attempts.
pub fn vote(candidates: &[(String, Vec<Grid>)]) -> Option<Vec<Attempts>> {
    let mut groups: Vec<(&Vec<Grid>, usize, usize)> = Vec::new(); // answer, votes, shortest program
    for (program, answer) in candidates {
        match groups.iter_mut().find(|(a, _, _)| *a == answer) {
            Some(g) => {
                g.1 += 1;
                g.2 = g.2.min(program.len());
            }
            None => groups.push((answer, 1, program.len())),
        }
    }
    groups.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    let first = groups.first()?.0;
    let second = groups.get(1).map_or(first, |g| g.0);
    Some(first.iter().zip(second).map(|(a, b)| Attempts { attempt_1: a.clone(), attempt_2: b.clone() }).collect())
}

/// Solves one task with the enumerator. `task` must not carry test outputs.
pub fn solve_with_enumerator(sandbox: &Sandbox, task: &Task, budget: Budget) -> TaskResult {
    debug_assert!(task.test.iter().all(|t| t.output.is_none()), "the search must not see test outputs");
    let start = Instant::now();
    let found = enumerate::search(task, budget);
    let mut programs = Vec::new();
    let mut answers = Vec::new();
    for steps in &found.solutions {
        let text = enumerate::program(steps);
        if !verifies(sandbox, &text, task) {
            tracing::debug!("{}: enumerated program failed re-verification:\n{text}", task.id);
            continue;
        }
        if let Some(outs) = predict(sandbox, &text, task) {
            answers.push((text.clone(), outs));
            programs.push(ProgramRecord { task: task.id.clone(), program: text, source: "enum".into(), round: steps.len() });
        }
    }
    let near_miss = found.best_near_miss.as_ref().map(|(steps, acc)| NearMiss { program: enumerate::program(steps), pixel_accuracy: *acc });
    let (attempts, answer_source) = match vote(&answers) {
        Some(a) => (a, "program"),
        None => match near_miss.as_ref().and_then(|n| predict(sandbox, &n.program, task)) {
            Some(outs) => (outs.into_iter().map(|g| Attempts { attempt_1: g.clone(), attempt_2: g }).collect(), "near_miss"),
            None => (task.test.iter().map(|t| Attempts { attempt_1: t.input.clone(), attempt_2: t.input.clone() }).collect(), "identity"),
        },
    };
    TaskResult {
        task: task.id.clone(),
        solved_train: !programs.is_empty(),
        attempts,
        answer_source: answer_source.into(),
        programs,
        near_miss,
        candidates: found.candidates,
        seconds: start.elapsed().as_secs_f64(),
        depth_done: found.depth_done,
        timed_out: found.timed_out,
    }
}
