//! `arcsynth search`: runs the proposers on each task, verifies their programs in the
//! sandbox, votes the test answers, and keeps a crash-safe, resumable run directory.
//!
//! Run directory layout:
//! - `results/<task_id>.json`: one [`TaskResult`] per finished task (atomic write). A
//!   rerun skips tasks that have one: this is the resume mechanism.
//! - `completions.jsonl`: every LLM completion of finished tasks, appended (one write
//!   and fsync per task) just before the task's result is written. Opening a run drops
//!   lines of tasks without a result and a truncated last line, so after a crash it
//!   holds exactly the finished tasks' completions.
//! - `run.json`: the task source, proposers and model ([`RunInfo`]).
//! - `submission.json`, `programs.jsonl`, `report.json`: rebuilt atomically from all
//!   results after every task, so they are always complete and consistent.
//!
//! **Invariant:** proposers only ever see tasks without test outputs
//! ([`Task::without_test_outputs`]); test outputs are read only to score the report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

pub mod hygiene;
pub mod llm;

use crate::enumerate::{self, Budget};
use crate::fsio;
use crate::grid::Grid;
use crate::prompt::Features;
use crate::sandbox::Sandbox;
use crate::submission::{self, Attempts, Submission};
use crate::task::Task;

pub use llm::{CompletionRecord, LlmConfig, LlmStats};

/// A verified program that reproduces every training output of its task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgramRecord {
    pub task: String,
    pub program: String,
    /// Which proposer wrote it (`enum`, or the model's name).
    pub source: String,
    /// Composition depth (enumerator) or refinement round (LLM).
    pub round: usize,
    /// Completion tokens of the completion that held it (0 for the enumerator).
    #[serde(default)]
    pub tokens: usize,
    /// The task's features, so `--library` can choose this program as a worked example.
    #[serde(default)]
    pub features: Features,
    /// Provenance: the run directory's name (or the file it was read from) ...
    #[serde(default)]
    pub run: String,
    /// ... and when it was found (RFC 3339, UTC).
    #[serde(default)]
    pub date: String,
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
    pub answer_source: AnswerSource,
    pub programs: Vec<ProgramRecord>,
    pub near_miss: Option<NearMiss>,
    pub seconds: f64,
    /// What each proposer that ran did (in the same JSON object, as before the chain).
    #[serde(flatten)]
    pub proposers: ProposerStats,
}

/// Where a task's attempts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerSource {
    /// Programs that reproduce every training output, voted.
    Program,
    /// Programs that reproduce every training output only through a learned table that
    /// does not hold out across the pairs (no trusted program solved the task).
    UntrustedFit,
    /// The best programs that do not (no program solved the task).
    NearMiss,
    /// No program ran on the test inputs: each input is its own answer.
    Identity,
    /// The grid-token model's answers.
    Ttt,
}

impl AnswerSource {
    /// The name in result files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerSource::Program => "program",
            AnswerSource::UntrustedFit => "untrusted_fit",
            AnswerSource::NearMiss => "near_miss",
            AnswerSource::Identity => "identity",
            AnswerSource::Ttt => "ttt",
        }
    }
}

impl std::fmt::Display for AnswerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What each proposer of the chain did on one task (zero or `None` where it did not run).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProposerStats {
    /// Enumerator: candidate programs tried ...
    pub candidates: u64,
    /// ... the composition depth it finished ...
    pub depth_done: usize,
    /// ... and whether its budget ran out.
    pub timed_out: bool,
    /// The LLM.
    #[serde(default)]
    pub llm: Option<LlmStats>,
    /// The transduction fallback.
    #[serde(default)]
    pub ttt: Option<crate::ttt::TttStats>,
}

/// How a run was started, in `run.json`: lets `arcsynth report` find the tasks again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The task source, as an absolute path when it could be resolved.
    pub tasks: PathBuf,
    pub proposers: Vec<String>,
    pub model: Option<String>,
    /// The arcsynth version that wrote it.
    pub arcsynth: String,
    /// `K/N` when the run searched one shard of the task set (`--shard`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
}

impl RunInfo {
    /// The info of a run started now by this arcsynth (`tasks` made absolute when it can
    /// be, so the report finds them from any folder).
    pub fn new(tasks: &Path, proposers: Vec<String>, model: Option<String>) -> RunInfo {
        let tasks = std::fs::canonicalize(tasks).unwrap_or_else(|_| tasks.to_path_buf());
        RunInfo { tasks, proposers, model, arcsynth: env!("CARGO_PKG_VERSION").into(), shard: None }
    }

    pub fn read(dir: &Path) -> Option<RunInfo> {
        serde_json::from_slice(&std::fs::read(dir.join("run.json")).ok()?).ok()
    }

    /// Whether a run over `self.tasks` may resume in `dir`: not when the directory holds
    /// a run over another task source (the two sets would mix in one submission), unless
    /// `force`. The error says what to do, in words meant to follow the directory's name.
    pub fn check_resume(&self, dir: &Path, force: bool) -> Result<(), String> {
        match RunInfo::read(dir) {
            Some(old) if old.tasks != self.tasks && !force => Err(format!(
                "holds a run over {}, not {}; give another --out, or --force to search these tasks in it (results of tasks outside this set are then ignored)",
                old.tasks.display(),
                self.tasks.display()
            )),
            _ => Ok(()),
        }
    }
}

/// Test inputs per task id, for [`trust`].
fn test_counts(tasks: &[Task]) -> BTreeMap<&str, usize> {
    tasks.iter().map(|t| (t.id.as_str(), t.test.len())).collect()
}

/// Why a stored result may not stand for task `id` of a task set (`tests`, from
/// [`test_counts`]): a task outside the set, or not one attempt pair per test input.
fn trust(tests: &BTreeMap<&str, usize>, id: &str, r: &TaskResult) -> Result<(), String> {
    match tests.get(id) {
        None => Err(format!("task {id} is not in this task set")),
        Some(&n) if r.attempts.len() != n => {
            Err(format!("task {id} has {} attempt pairs for {n} test inputs", r.attempts.len()))
        }
        Some(_) => Ok(()),
    }
}

/// Which of `n` shards (1-based) a task belongs to: a hash of its id, so the split is
/// the same on every machine and for every subset of the tasks.
pub fn shard_of(task_id: &str, n: usize) -> usize {
    // FNV-1a's low bits follow few input bits; a multiplicative mix spreads them.
    let h = crate::grid::fnv1a(task_id.bytes()).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    (h % n.max(1) as u64) as usize + 1
}

/// Joins run directories (say, the shards of one task set searched on several
/// machines) into a new one at `out`: every result and its completions, then the
/// submission, programs and report of the whole. Refuses a result for a task outside
/// `tasks`, one with the wrong number of attempts, a task found in two runs, and an
/// `out` that already holds results. Returns the merged run.
pub fn merge_runs(out: &Path, runs: &[PathBuf], tasks: &[Task], info: &RunInfo) -> Result<Run, String> {
    let tests = test_counts(tasks);
    let mut merged: BTreeMap<String, (TaskResult, &Path)> = BTreeMap::new();
    let mut completions: BTreeMap<String, Vec<CompletionRecord>> = BTreeMap::new();
    for dir in runs {
        let results = read_results(dir).map_err(|e| format!("{}: cannot read its results: {e}", dir.display()))?;
        if results.is_empty() {
            return Err(format!("{}: no results (is it a run directory?)", dir.display()));
        }
        for (id, r) in results {
            trust(&tests, &id, &r).map_err(|e| format!("{}: {e} ({})", dir.display(), info.tasks.display()))?;
            if let Some((_, other)) = merged.get(&id) {
                return Err(format!("task {id} is in both {} and {}", other.display(), dir.display()));
            }
            merged.insert(id, (r, dir.as_path()));
        }
        let path = dir.join("completions.jsonl");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
        };
        let records: Vec<CompletionRecord> =
            fsio::parse_jsonl(&text).map_err(|(line, e)| format!("{}: line {line}: {e}", path.display()))?;
        for c in records {
            completions.entry(c.task.clone()).or_default().push(c);
        }
    }
    if read_results(out).is_ok_and(|r| !r.is_empty()) {
        return Err(format!("{}: already holds results; merge into a new directory", out.display()));
    }
    let mut run =
        Run::open(out, tasks).map_err(|e| format!("{}: cannot write the run directory: {e}", out.display()))?;
    run.write_info(info).map_err(|e| format!("{}: cannot write the run directory: {e}", out.display()))?;
    let cannot_write = |e: std::io::Error| format!("{}: cannot write results: {e}", out.display());
    for (id, (r, _)) in merged {
        let c = completions.remove(&id).unwrap_or_default();
        run.store(r, &c).map_err(cannot_write)?;
    }
    run.write_outputs(tasks).map_err(cannot_write)?;
    Ok(run)
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
    /// Opens (creating if needed) a run directory and loads the finished results of
    /// `tasks`. Fails early if the directory cannot be written. A result is trusted only
    /// if it names a task of `tasks` and has one pair of attempts per test input; any
    /// other is left out with a warning (a search recomputes it), so nothing from outside
    /// the set reaches the submission.
    pub fn open(dir: &Path, tasks: &[Task]) -> std::io::Result<Run> {
        std::fs::create_dir_all(dir.join("results"))?;
        fsio::write_atomic(&dir.join(".write-test"), b"ok")?;
        std::fs::remove_file(dir.join(".write-test"))?;
        let tests = test_counts(tasks);
        let mut results = read_results(dir)?;
        results.retain(|id, r| match trust(&tests, id, r) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(
                    "{}: {e}; left out (a search recomputes the tasks of this set)",
                    dir.join("results").join(format!("{id}.json")).display()
                );
                false
            }
        });
        clean_completions(&dir.join("completions.jsonl"), &results)?;
        Ok(Run { dir: dir.to_path_buf(), results })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `run.json` (at every start: a resumed run may read tasks from a new path).
    pub fn write_info(&self, info: &RunInfo) -> std::io::Result<()> {
        fsio::write_json_atomic(&self.dir.join("run.json"), info)
    }

    /// Records a finished task (its completions first, then its result) and rewrites
    /// the derived files.
    pub fn record(
        &mut self,
        result: TaskResult,
        completions: &[CompletionRecord],
        tasks: &[Task],
    ) -> std::io::Result<()> {
        self.store(result, completions)?;
        self.write_outputs(tasks)
    }

    /// Records a finished task (its completions first, then its result) without
    /// rewriting the derived files: for callers storing many at once.
    fn store(&mut self, result: TaskResult, completions: &[CompletionRecord]) -> std::io::Result<()> {
        if !completions.is_empty() {
            let mut lines = String::new();
            for c in completions {
                lines.push_str(&serde_json::to_string(c).map_err(std::io::Error::other)?);
                lines.push('\n');
            }
            fsio::append_durably(&self.dir.join("completions.jsonl"), lines.as_bytes())?;
        }
        let mut result = result;
        let run =
            self.dir.file_name().map_or_else(|| self.dir.display().to_string(), |n| n.to_string_lossy().into_owned());
        let date = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        for p in result.programs.iter_mut().filter(|p| p.run.is_empty()) {
            (p.run, p.date) = (run.clone(), date.clone());
        }
        fsio::write_json_atomic(&self.dir.join("results").join(format!("{}.json", result.task)), &result)?;
        self.results.insert(result.task.clone(), result);
        Ok(())
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
        let candidates: u64 = self.results.values().map(|r| r.proposers.candidates).sum();
        let seconds: f64 = times.iter().sum();
        let per_task = self
            .results
            .values()
            .map(|r| TaskLine {
                task: r.task.clone(),
                solved_train: r.solved_train,
                correct: score.as_ref().and_then(|s| s.tasks.get(&r.task).copied()),
                answer_source: r.answer_source,
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
            llm: LlmReport::of(self.results.values().filter_map(|r| r.proposers.llm.as_ref())),
            answer_sources: self.results.values().fold(BTreeMap::new(), |mut m, r| {
                *m.entry(r.answer_source).or_default() += 1;
                m
            }),
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
    pub answer_source: AnswerSource,
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
    /// LLM figures over the tasks it ran on; absent when it ran on none.
    pub llm: Option<LlmReport>,
    /// Tasks per answer source.
    pub answer_sources: BTreeMap<AnswerSource, usize>,
    pub per_task: Vec<TaskLine>,
}

/// What the LLM proposer did over a run: the figures that tell whether more samples or
/// a bigger model would help.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LlmReport {
    pub tasks: usize,
    pub completions: usize,
    pub completion_tokens: usize,
    pub prompt_tokens: usize,
    /// Prompt tokens whose KV was reused from an earlier request.
    pub cached_prompt_tokens: usize,
    /// Seconds spent decoding prompts (the tokens not reused).
    pub prompt_seconds: f64,
    pub generation_seconds: f64,
    pub tokens_per_second: f64,
    /// Completions whose program compiles.
    pub valid_code_rate: f64,
    /// Programs that needed a Rust habit mended before compiling, of programs extracted.
    pub mended_rate: f64,
    /// Completions whose program returns a valid grid for every training input.
    pub valid_output_rate: f64,
    /// Programs calling at least one DSL primitive, of programs extracted.
    pub dsl_usage_rate: f64,
    /// Distinct training behaviours among valid programs, of valid programs.
    pub unique_output_rate: f64,
    pub unique_per_1000_tokens: f64,
    pub solutions: usize,
    pub rejected_nondeterministic: usize,
    pub rejected_hard_coded: usize,
    pub refine_requests: usize,
    /// Completions per outcome.
    pub outcomes: BTreeMap<llm::Outcome, usize>,
}

impl LlmReport {
    fn of<'a>(stats: impl Iterator<Item = &'a LlmStats>) -> Option<LlmReport> {
        let mut r = LlmReport::default();
        let (mut programs, mut valid, mut dsl, mut unique, mut valid_code, mut mended) = (0, 0, 0, 0, 0, 0);
        for s in stats {
            r.tasks += 1;
            r.completions += s.completions;
            r.completion_tokens += s.completion_tokens;
            r.prompt_tokens += s.prompt_tokens;
            r.cached_prompt_tokens += s.cached_prompt_tokens;
            r.prompt_seconds += s.prompt_seconds;
            r.generation_seconds += s.generation_seconds;
            valid_code += s.valid_code;
            mended += s.mended;
            r.solutions += s.solutions;
            r.rejected_nondeterministic += s.rejected_nondeterministic;
            r.rejected_hard_coded += s.rejected_hard_coded;
            r.refine_requests += s.refine_requests;
            programs += s.programs;
            valid += s.valid;
            dsl += s.dsl_using;
            unique += s.unique_valid;
            for (k, v) in &s.outcomes {
                *r.outcomes.entry(*k).or_default() += v;
            }
        }
        if r.tasks == 0 {
            return None;
        }
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        r.tokens_per_second =
            if r.generation_seconds > 0.0 { r.completion_tokens as f64 / r.generation_seconds } else { 0.0 };
        r.valid_code_rate = ratio(valid_code, r.completions);
        r.mended_rate = ratio(mended, programs);
        r.valid_output_rate = ratio(valid, r.completions);
        r.dsl_usage_rate = ratio(dsl, programs);
        r.unique_output_rate = ratio(unique, valid);
        r.unique_per_1000_tokens = 1000.0 * ratio(unique, r.completion_tokens);
        Some(r)
    }
}

/// The finished results of a run directory, read only. A result that cannot be read is
/// left out with a warning (a search recomputes it).
pub fn read_results(dir: &Path) -> std::io::Result<BTreeMap<String, TaskResult>> {
    let mut results = BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("results"))? {
        let path = entry?.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        match std::fs::read(&path).ok().and_then(|b| serde_json::from_slice::<TaskResult>(&b).ok()) {
            // A result is filed under its task's name; one that is not was not written here.
            Some(r) if path.file_stem().is_some_and(|s| s == r.task.as_str()) => {
                results.insert(r.task.clone(), r);
            }
            Some(r) => tracing::warn!("{}: holds the result of task {:?}, left out", path.display(), r.task),
            None => tracing::warn!("{}: unreadable result, left out (a search recomputes it)", path.display()),
        }
    }
    Ok(results)
}

/// Keeps the lines of `completions.jsonl` whose task has a result; drops the rest (a
/// task interrupted after its append) and a truncated last line.
fn clean_completions(path: &Path, results: &BTreeMap<String, TaskResult>) -> std::io::Result<()> {
    #[derive(Deserialize)]
    struct TaskOf {
        task: String,
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut kept = String::with_capacity(text.len());
    let mut dropped = 0;
    for line in text.split_inclusive('\n') {
        let finished =
            line.ends_with('\n') && serde_json::from_str::<TaskOf>(line).is_ok_and(|t| results.contains_key(&t.task));
        if finished {
            kept.push_str(line);
        } else {
            dropped += 1;
        }
    }
    if dropped > 0 {
        tracing::info!("{}: dropped {dropped} completion lines of unfinished tasks", path.display());
        fsio::write_atomic(path, kept.as_bytes())?;
    }
    Ok(())
}

/// A program's answers on the test inputs, with how well it did on the training pairs.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub program: String,
    /// One output per test input.
    pub answers: Vec<Grid>,
    /// Fraction of training pairs reproduced exactly.
    pub train_accuracy: f64,
    pub pixel_accuracy: f64,
    /// It reproduces every training output only through a learned table that does not
    /// hold out across the pairs (`enumerate::Found::untrusted`): it answers, but a
    /// trusted program of the same training accuracy ranks first.
    pub untrusted: bool,
}

/// Runs a program on every test input; `None` if any run fails.
fn predict(sandbox: &Sandbox, program: &str, task: &Task) -> Option<Vec<Grid>> {
    let p = sandbox.compile(program).ok()?;
    task.test.iter().map(|t| sandbox.run(&p, &t.input).ok()).collect()
}

/// Votes the test answers. Candidates giving the same answers form a group, ranked by
/// the best training accuracy in it, then whether a trusted candidate has it, then the
/// number of programs at that accuracy, then the best pixel accuracy, then the shortest
/// program. This is SOAR's count + 1000 x training accuracy with ties broken as the
/// issue asks. The two best groups become attempt_1 and attempt_2 (the best twice when
/// there is one).
pub fn vote(candidates: &[Candidate]) -> Option<Vote> {
    struct Group<'a> {
        answers: &'a Vec<Grid>,
        accuracy: f64,
        trusted: bool,
        count: usize,
        pixel: f64,
        shortest: usize,
    }
    let mut groups: Vec<Group> = Vec::new();
    for c in candidates {
        match groups.iter_mut().find(|g| g.answers == &c.answers) {
            Some(g) => {
                if c.train_accuracy > g.accuracy {
                    (g.accuracy, g.count, g.trusted) = (c.train_accuracy, 0, false);
                }
                if c.train_accuracy == g.accuracy {
                    g.count += 1;
                    g.trusted |= !c.untrusted;
                }
                g.pixel = g.pixel.max(c.pixel_accuracy);
                g.shortest = g.shortest.min(c.program.len());
            }
            None => groups.push(Group {
                answers: &c.answers,
                accuracy: c.train_accuracy,
                trusted: !c.untrusted,
                count: 1,
                pixel: c.pixel_accuracy,
                shortest: c.program.len(),
            }),
        }
    }
    groups.sort_by(|a, b| {
        b.accuracy
            .total_cmp(&a.accuracy)
            .then(b.trusted.cmp(&a.trusted))
            .then(b.count.cmp(&a.count))
            .then(b.pixel.total_cmp(&a.pixel))
            .then(a.shortest.cmp(&b.shortest))
    });
    let first = groups.first()?;
    let second = groups.get(1).unwrap_or(first);
    let attempts = first
        .answers
        .iter()
        .zip(second.answers)
        .map(|(a, b)| Attempts { attempt_1: a.clone(), attempt_2: b.clone() })
        .collect();
    Some(Vote { attempts, accuracy: first.accuracy, trusted: first.trusted })
}

/// The outcome of [`vote`].
pub struct Vote {
    pub attempts: Vec<Attempts>,
    /// The winning group's training accuracy ...
    pub accuracy: f64,
    /// ... and whether a trusted candidate reached it.
    pub trusted: bool,
}

/// What the enumerator found on one task: verified programs and candidates for voting.
pub struct EnumOutcome {
    pub programs: Vec<ProgramRecord>,
    pub candidates: Vec<Candidate>,
    /// The best near-miss program, if any.
    pub near_miss: Option<NearMiss>,
    pub candidates_tried: u64,
    pub depth_done: usize,
    pub timed_out: bool,
}

/// Runs the enumerator on one task. `task` must not carry test outputs.
pub fn enumerate_task(sandbox: &Sandbox, task: &Task, budget: Budget) -> EnumOutcome {
    debug_assert!(task.test.iter().all(|t| t.output.is_none()), "the search must not see test outputs");
    let found = enumerate::find(task, budget);
    let features = Features::of(task);
    let mut programs = Vec::new();
    let mut candidates = Vec::new();
    // One sandbox pass over train and test inputs re-verifies a fit and predicts: its
    // program and test answers.
    let verified = |text: String| {
        let outputs =
            hygiene::outputs(sandbox, &text, task).filter(|o| o.iter().zip(&task.train).all(|(g, e)| g == &e.output));
        match outputs {
            Some(mut outputs) => Some((text, outputs.split_off(task.train.len()))),
            None => {
                tracing::debug!("{}: enumerated program failed re-verification or a test input:\n{text}", task.id);
                None
            }
        }
    };
    // Where the compositions found nothing, the facts line's whole-task calls
    // (`prompt::whole_task_calls`: a part picked by the input's shape, an output picked
    // by a count read off the input, ...), a few readings of the pairs that no
    // composition makes, run as programs; none holds an output as a literal.
    let facts: Vec<(String, usize)> = if found.solutions.is_empty() {
        crate::prompt::whole_task_calls(task)
            .into_iter()
            .map(|call| format!("fn solve(g) {{ {call} }}"))
            .filter(|text| !hygiene::hard_codes_an_output(text, task))
            .map(|text| (text, 1))
            .collect()
    } else {
        Vec::new()
    };
    let solutions = found.solutions.iter().map(|steps| (enumerate::program(steps), steps.len()));
    for (text, depth) in solutions.chain(facts) {
        let Some((text, answers)) = verified(text) else { continue };
        candidates.push(Candidate {
            program: text.clone(),
            answers,
            train_accuracy: 1.0,
            pixel_accuracy: 1.0,
            untrusted: false,
        });
        programs.push(ProgramRecord {
            task: task.id.clone(),
            program: text,
            source: "enum".into(),
            round: depth,
            tokens: 0,
            features: features.clone(),
            run: String::new(),
            date: String::new(),
        });
    }
    let near_miss = found
        .best_near_miss
        .as_ref()
        .map(|(steps, acc)| NearMiss { program: enumerate::program(steps), pixel_accuracy: *acc });
    if let Some(n) = &near_miss {
        if let Some(answers) = predict(sandbox, &n.program, task) {
            candidates.push(Candidate {
                program: n.program.clone(),
                answers,
                train_accuracy: 0.0,
                pixel_accuracy: n.pixel_accuracy,
                untrusted: false,
            });
        }
    }
    // Untrusted fits answer without counting as programs that solve the task.
    for steps in &found.untrusted {
        if let Some((text, answers)) = verified(enumerate::program(steps)) {
            candidates.push(Candidate {
                program: text,
                answers,
                train_accuracy: 1.0,
                pixel_accuracy: 1.0,
                untrusted: true,
            });
        }
    }
    EnumOutcome {
        programs,
        candidates,
        near_miss,
        candidates_tried: found.candidates,
        depth_done: found.depth_done,
        timed_out: found.timed_out,
    }
}

/// One proposer of a search's chain. [`solve_task`] runs the chain in order and stops at
/// the first proposer that solves the task on its training pairs.
pub enum Proposer<'a> {
    /// The model-free enumerator of DSL compositions, within its budget per task.
    Enumerate(Budget),
    /// A coder LLM writes programs; the best near miss found so far is refined first.
    Llm { backend: &'a mut dyn crate::llm::Backend, prompter: &'a crate::prompt::Prompter, config: &'a LlmConfig },
    /// The grid-token model answers the test inputs directly (transduction): its answers
    /// replace the attempts of programs that did not solve the task.
    Ttt {
        model: &'a mut dyn crate::llm::NextToken,
        trainer: Option<&'a crate::ttt::lora::Trainer>,
        config: &'a crate::ttt::TttConfig,
    },
}

impl Proposer<'_> {
    /// The name `--proposer` and `run.json` use.
    pub fn name(&self) -> &'static str {
        match self {
            Proposer::Enumerate(_) => "enum",
            Proposer::Llm { .. } => "llm",
            Proposer::Ttt { .. } => "ttt",
        }
    }
}

/// What a search tells its user as it goes (the CLI's progress bar or log lines).
pub trait Progress {
    /// A transient status line, e.g. a training step.
    fn message(&mut self, _text: &str) {}
    /// A task is finished and recorded; `solved` tasks of the run so far are solved on
    /// train.
    fn task_done(&mut self, _result: &TaskResult, _solved: usize) {}
}

/// A progress that shows nothing.
impl Progress for () {}

/// Why a proposer could not go on (the task's run is lost; finished tasks are kept).
#[derive(Debug, thiserror::Error)]
pub enum ProposerError {
    #[error("the LLM failed: {0}")]
    Llm(#[from] crate::llm::LlmError),
    #[error("the grid model failed: {0}")]
    Ttt(#[from] crate::ttt::TttError),
}

/// Why a search stopped before its last task.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("{task}: {error}")]
    Proposer { task: String, error: ProposerError },
    #[error("cannot write results: {0}")]
    Write(#[from] std::io::Error),
}

/// Searches every task of `tasks` that `run` has no result for yet, one after another
/// through `chain`, recording each result as it finishes (so a crash loses at most the
/// task in progress) and the run's derived files at the end. Returns how many tasks
/// were searched.
pub fn search_tasks(
    run: &mut Run,
    tasks: &[Task],
    sandbox: &Sandbox,
    chain: &mut [Proposer],
    progress: &mut dyn Progress,
) -> Result<usize, SearchError> {
    let todo: Vec<&Task> = tasks.iter().filter(|t| !run.results.contains_key(&t.id)).collect();
    let mut solved = run.results.values().filter(|r| r.solved_train).count();
    for t in &todo {
        let (result, completions) = solve_task(sandbox, &t.without_test_outputs(), chain, progress)
            .map_err(|error| SearchError::Proposer { task: t.id.clone(), error })?;
        solved += result.solved_train as usize;
        progress.task_done(&result, solved);
        run.record(result, &completions, tasks)?;
    }
    run.write_outputs(tasks)?;
    Ok(todo.len())
}

/// Solves one task with the proposers of `chain`, in order until one solves it on its
/// training pairs, and votes its answers. `task` must not carry test outputs. Returns
/// the result and the LLM's completions.
pub fn solve_task(
    sandbox: &Sandbox,
    task: &Task,
    chain: &mut [Proposer],
    progress: &mut dyn Progress,
) -> Result<(TaskResult, Vec<CompletionRecord>), ProposerError> {
    debug_assert!(task.test.iter().all(|t| t.output.is_none()), "the search must not see test outputs");
    let start = Instant::now();
    let mut programs = Vec::new();
    let mut candidates = Vec::new();
    let mut near_miss: Option<NearMiss> = None;
    let mut completions = Vec::new();
    let mut stats = ProposerStats::default();
    let mut transduced = None;
    for proposer in chain.iter_mut() {
        if !programs.is_empty() {
            break;
        }
        match proposer {
            Proposer::Enumerate(budget) => {
                let e = enumerate_task(sandbox, task, *budget);
                programs.extend(e.programs);
                candidates.extend(e.candidates);
                near_miss = e.near_miss.or(near_miss);
                (stats.candidates, stats.depth_done, stats.timed_out) = (e.candidates_tried, e.depth_done, e.timed_out);
            }
            Proposer::Llm { backend, prompter, config } => {
                let seeds: Vec<String> = near_miss.iter().map(|n| n.program.clone()).collect();
                let out = llm::solve(&mut **backend, sandbox, prompter, task, config, &seeds)?;
                programs.extend(out.programs);
                candidates.extend(out.candidates);
                completions = out.completions;
                stats.llm = Some(out.stats);
            }
            Proposer::Ttt { model, trainer, config } => {
                let (attempts, s) = crate::ttt::solve_task(&mut **model, *trainer, task, config, |k, n| {
                    progress.message(&format!("{}: training step {k}/{n}", task.id))
                })?;
                transduced = Some(attempts);
                stats.ttt = Some(s);
                // The grid model answers; it never solves the training pairs.
                break;
            }
        }
    }
    if near_miss.is_none() || programs.is_empty() {
        let best = candidates
            .iter()
            .filter(|c| c.train_accuracy < 1.0)
            .max_by(|a, b| a.pixel_accuracy.total_cmp(&b.pixel_accuracy));
        if let Some(b) = best {
            if near_miss.as_ref().is_none_or(|n| b.pixel_accuracy > n.pixel_accuracy) {
                near_miss = Some(NearMiss { program: b.program.clone(), pixel_accuracy: b.pixel_accuracy });
            }
        }
    }
    let (attempts, answer_source) = match (transduced, vote(&candidates)) {
        (Some(a), _) => (a, AnswerSource::Ttt),
        (None, Some(v)) if v.accuracy >= 1.0 && v.trusted => (v.attempts, AnswerSource::Program),
        (None, Some(v)) if v.accuracy >= 1.0 => (v.attempts, AnswerSource::UntrustedFit),
        (None, Some(v)) => (v.attempts, AnswerSource::NearMiss),
        (None, None) => (
            task.test.iter().map(|t| Attempts { attempt_1: t.input.clone(), attempt_2: t.input.clone() }).collect(),
            AnswerSource::Identity,
        ),
    };
    let result = TaskResult {
        task: task.id.clone(),
        solved_train: !programs.is_empty(),
        attempts,
        answer_source,
        programs,
        near_miss,
        seconds: start.elapsed().as_secs_f64(),
        proposers: stats,
    };
    Ok((result, completions))
}

/// Solves one task with the enumerator alone. `task` must not carry test outputs.
pub fn solve_with_enumerator(sandbox: &Sandbox, task: &Task, budget: Budget) -> TaskResult {
    solve_task(sandbox, task, &mut [Proposer::Enumerate(budget)], &mut ()).expect("the enumerator does not fail").0
}
