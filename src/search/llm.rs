//! The LLM proposer: sample programs for a task, run them in the sandbox while the next
//! batch is generated, refine near-misses chosen by a bandit, and keep every completion
//! for `completions.jsonl`.
//!
//! Rounds: round 0 asks for `samples` completions of the task prompt, `batch` per
//! request. While no program reproduces every training output, refinement rounds
//! 1..=`refine_rounds` each ask for `samples` more, `batch` per request, each request
//! refining one earlier program picked by REx (Thompson sampling from
//! Beta(1 + C·h, 1 + C·(1 − h) + n): h its pixel accuracy, n how often it was refined).
//! A task stops early at `enough` distinct solutions or after `task_timeout`.

use std::collections::{BTreeMap, HashSet};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution};
use serde::{Deserialize, Serialize};

use super::hygiene::{self, Rejection};
use super::{Candidate, ProgramRecord};
use crate::evaluate::{self, Evaluation};
use crate::llm::{Backend, Finish, LlmError, Request, Sampling};
use crate::prompt::{self, Features, Prompter};
use crate::sandbox::{Category, Sandbox};
use crate::task::Task;

/// Budgets and sampling of the LLM proposer.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// Completions per round.
    pub samples: usize,
    /// Completions per request (sampled in parallel from one decoded prompt).
    pub batch: usize,
    pub refine_rounds: usize,
    pub task_timeout: Duration,
    /// Stop once this many distinct programs solve the training pairs.
    pub enough: usize,
    /// Sampling settings; its seed is varied per request.
    pub sampling: Sampling,
    pub grammar: Option<String>,
    /// The start of every answer, written for the model (see [`CODE_FIRST`]); empty:
    /// the model starts its answer itself.
    pub prefill: String,
    /// The start of refinement answers; empty: `prefill`. Code-first refinements start
    /// with [`CODE_FIRST_REFINE`]: under the plain start the model copied the program it
    /// was shown.
    pub refine_prefill: String,
    /// The sampling temperature of refinement requests; `None`: `sampling`'s.
    pub refine_temperature: Option<f32>,
    /// Mend the Rust habits of programs before compiling them (`dsl::mend`).
    pub mend: bool,
    /// REx exploration constant C.
    pub rex_c: f64,
}

/// The answer start of `--answer code-first` (the default): the code block is open and its first line is a
/// comment, where the model states the rule as the worked examples do; generation stops
/// when the block closes ([`CODE_FIRST_STOP`]).
pub const CODE_FIRST: &str = "```rhai\n//";
pub const CODE_FIRST_STOP: &str = "\n```";
/// The answer start of a code-first refinement: the comment line first says what the
/// last program got wrong.
pub const CODE_FIRST_REFINE: &str = "```rhai\n// What the last program got wrong:";

impl Default for LlmConfig {
    fn default() -> LlmConfig {
        LlmConfig {
            samples: 32,
            batch: 8,
            refine_rounds: 2,
            task_timeout: Duration::from_secs(600),
            enough: 100,
            sampling: Sampling::default(),
            grammar: None,
            prefill: String::new(),
            refine_prefill: String::new(),
            refine_temperature: None,
            mend: true,
            rex_c: 20.0,
        }
    }
}

/// One line of `completions.jsonl`: what the model wrote and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionRecord {
    /// Type tag of the line.
    pub kind: String,
    pub task: String,
    pub round: usize,
    /// `task/round`: the key the replay backend serves this completion under.
    pub label: String,
    pub model: String,
    /// Index (within this task's completions) of the program this one refines.
    pub parent: Option<usize>,
    pub text: String,
    pub tokens: usize,
    pub finish: Finish,
    pub outcome: Outcome,
    /// The Rust habits mended before the program was compiled (`dsl::mend`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mended: Vec<String>,
    /// The first error the program met (compile error, else the first failed run), on
    /// one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub train_correct: usize,
    pub pixel_accuracy: f64,
}

/// What the LLM did on one task, for the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmStats {
    pub completions: usize,
    pub completion_tokens: usize,
    pub prompt_tokens: usize,
    /// Prompt tokens whose KV was reused from an earlier request.
    #[serde(default)]
    pub cached_prompt_tokens: usize,
    /// Seconds spent decoding prompts.
    #[serde(default)]
    pub prompt_seconds: f64,
    pub generation_seconds: f64,
    /// Completions holding a `fn solve` program.
    pub programs: usize,
    /// Programs that compile.
    #[serde(default)]
    pub valid_code: usize,
    /// Programs that needed a Rust habit mended before compiling (`dsl::mend`).
    #[serde(default)]
    pub mended: usize,
    /// Programs that return a valid grid for every training input.
    pub valid: usize,
    /// Programs calling at least one DSL primitive.
    pub dsl_using: usize,
    /// Distinct training behaviours among valid programs.
    pub unique_valid: usize,
    /// Distinct programs (canonical text) that reproduce every training output and pass
    /// hygiene.
    pub solutions: usize,
    pub rejected_nondeterministic: usize,
    pub rejected_hard_coded: usize,
    pub refine_requests: usize,
    /// Completions per outcome.
    pub outcomes: BTreeMap<Outcome, usize>,
    /// Why the proposer stopped early, if it did.
    pub stopped: Option<Stopped>,
}

/// What became of one completion: no program in it, or how its program's runs ended.
/// Written as `no program` or the category's name (`ok`, `parse error`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Outcome {
    NoProgram,
    Ran(Category),
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::NoProgram => "no program",
            Outcome::Ran(c) => c.as_str(),
        }
    }
}

impl From<Outcome> for String {
    fn from(o: Outcome) -> String {
        o.as_str().to_string()
    }
}

impl TryFrom<String> for Outcome {
    type Error = String;
    fn try_from(s: String) -> Result<Outcome, String> {
        if s == Outcome::NoProgram.as_str() {
            return Ok(Outcome::NoProgram);
        }
        Category::from_name(&s).map(Outcome::Ran).ok_or_else(|| format!("unknown outcome {s:?}"))
    }
}

/// Why the LLM proposer stopped a task before its last round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stopped {
    /// `--enough` distinct solutions were found.
    Enough,
    /// The task's time (`--task-timeout`) ran out.
    Timeout,
    /// The next prompt would not fit the model's context.
    Context,
    /// A whole batch of a refinement round behaved like earlier programs.
    Repeats,
}

/// The LLM proposer's findings on one task.
pub struct LlmOutcome {
    pub programs: Vec<ProgramRecord>,
    /// Every evaluated program with its test predictions, for voting.
    pub candidates: Vec<Candidate>,
    pub completions: Vec<CompletionRecord>,
    pub stats: LlmStats,
}

/// A program waiting for, or back from, the sandbox.
struct Evaluated {
    /// Index in this task's completions; `None` for a seed program given by the caller.
    completion: Option<usize>,
    program: String,
    eval: Evaluation,
    round: usize,
    tokens: usize,
}

/// Runs the LLM proposer on `task` (which must not carry test outputs). `seed` lets the
/// caller add programs already known (e.g. the enumerator's near-miss) to the
/// refinement pool. Only backend failures other than an oversized prompt are errors.
pub fn solve(
    backend: &mut dyn Backend,
    sandbox: &Sandbox,
    prompter: &Prompter,
    task: &Task,
    cfg: &LlmConfig,
    seed_programs: &[String],
) -> Result<LlmOutcome, LlmError> {
    debug_assert!(task.test.iter().all(|t| t.output.is_none()), "the search must not see test outputs");
    let start = Instant::now();
    let model = backend.name().to_string();
    let mut state = State::new(task, sandbox, &model);
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.sampling.seed as u64 ^ crate::grid::fnv1a(task.id.bytes()));
    let first = prompter.first(task, sandbox);
    let mut requests = 0u32;

    std::thread::scope(|s| -> Result<(), LlmError> {
        let (to_sandbox, jobs) = mpsc::channel::<Vec<(Option<usize>, String, usize, usize)>>();
        let (done, back) = mpsc::channel::<Vec<Evaluated>>();
        // The sandbox runs one batch while the model writes the next.
        s.spawn(move || {
            for batch in jobs {
                let texts: Vec<&str> = batch.iter().map(|(_, p, _, _)| p.as_str()).collect();
                let evals = evaluate::evaluate_until(sandbox, &texts, task, Some(start + cfg.task_timeout));
                let out = batch
                    .into_iter()
                    .zip(evals)
                    .map(|((completion, program, round, tokens), eval)| Evaluated {
                        completion,
                        program,
                        eval,
                        round,
                        tokens,
                    })
                    .collect();
                if done.send(out).is_err() {
                    return;
                }
            }
        });
        let mut pending = 0usize;
        if !seed_programs.is_empty() {
            to_sandbox
                .send(seed_programs.iter().map(|p| (None, p.clone(), 0, 0)).collect())
                .expect("sandbox thread alive");
            pending += 1;
        }
        let mut round = 0;
        let mut asked_in_round = 0;
        loop {
            for b in back.try_iter() {
                pending -= 1;
                state.absorb(b);
            }
            if state.repeated {
                // A whole batch brought no behaviour not seen before: more of the same
                // prompt will not either. Round 0 moves on to refinement; a refinement
                // round ends the task.
                state.repeated = false;
                if round == 0 && cfg.refine_rounds > 0 {
                    asked_in_round = cfg.samples;
                } else {
                    state.stats.stopped = Some(Stopped::Repeats);
                    break;
                }
            }
            if state.solution_texts.len() >= cfg.enough {
                state.stats.stopped = Some(Stopped::Enough);
                break;
            }
            if start.elapsed() >= cfg.task_timeout {
                state.stats.stopped = Some(Stopped::Timeout);
                break;
            }
            if asked_in_round >= cfg.samples {
                round += 1;
                asked_in_round = 0;
                if round > cfg.refine_rounds {
                    break;
                }
                // Refine only while unsolved: wait for the sandbox to know.
                while pending > 0 {
                    state.absorb(back.recv().expect("sandbox thread alive"));
                    pending -= 1;
                }
                if !state.solution_texts.is_empty() {
                    break;
                }
                // A new round asks new prompts: the last round's repeats say nothing of it.
                state.repeated = false;
            }
            let n = cfg.batch.min(cfg.samples - asked_in_round).max(1);
            let (messages, parent) = if round == 0 {
                (first.clone(), None)
            } else {
                if state.pool.is_empty() && pending > 0 {
                    state.absorb(back.recv().expect("sandbox thread alive"));
                    pending -= 1;
                }
                let Some(p) = state.pick_parent(&mut rng, cfg.rex_c) else { break };
                state.stats.refine_requests += 1;
                let e = &state.evaluated[p];
                (prompter.refine(&first, task, &e.program, &e.eval.train), e.completion)
            };
            let request = Request {
                messages,
                n,
                sampling: Sampling {
                    seed: cfg.sampling.seed.wrapping_add(requests),
                    temperature: if round > 0 {
                        cfg.refine_temperature.unwrap_or(cfg.sampling.temperature)
                    } else {
                        cfg.sampling.temperature
                    },
                    ..cfg.sampling.clone()
                },
                grammar: cfg.grammar.clone(),
                label: format!("{}/{round}", task.id),
                prefill: if round > 0 && !cfg.refine_prefill.is_empty() {
                    cfg.refine_prefill.clone()
                } else {
                    cfg.prefill.clone()
                },
            };
            requests += 1;
            asked_in_round += n;
            let g = match backend.generate(&request) {
                Ok(g) => g,
                Err(LlmError::ContextTooSmall { .. }) if round == 0 => {
                    state.stats.stopped = Some(Stopped::Context);
                    tracing::warn!(
                        "{}: the prompt does not fit the model's context; raise --ctx (task skipped by the LLM)",
                        task.id
                    );
                    break;
                }
                Err(LlmError::ContextTooSmall { .. }) => continue, // a longer refinement prompt; try another parent
                Err(e) => return Err(e),
            };
            state.stats.prompt_tokens += g.prompt_tokens;
            state.stats.cached_prompt_tokens += g.cached_prompt_tokens;
            state.stats.prompt_seconds += g.prompt_time.as_secs_f64();
            state.stats.generation_seconds += g.generation_time.as_secs_f64();
            if g.completions.is_empty() {
                // A replay recording ran out for this round.
                asked_in_round = cfg.samples;
                continue;
            }
            let mut jobs = Vec::new();
            for c in g.completions {
                let index = state.completions.len();
                state.stats.completions += 1;
                state.stats.completion_tokens += c.tokens;
                let text = c.text;
                let answer = crate::llm::strip_thinking(&text);
                let program = match (prompt::extract_program(&answer), cfg.mend) {
                    (Some(p), true) => Some(crate::dsl::mend::mend(&p)),
                    (Some(p), false) => Some(crate::dsl::mend::Mended { text: p, fixes: Vec::new() }),
                    // Only the body of `solve`, perhaps.
                    (None, true) => prompt::extract_script(&answer).map(|p| crate::dsl::mend::mend_script(&p)),
                    (None, false) => None,
                };
                state.completions.push(CompletionRecord {
                    kind: "completion".into(),
                    task: task.id.clone(),
                    round,
                    label: request.label.clone(),
                    model: model.clone(),
                    parent,
                    text,
                    tokens: c.tokens,
                    finish: c.finish,
                    outcome: Outcome::NoProgram,
                    mended: program.iter().flat_map(|p| &p.fixes).map(|f| f.to_string()).collect(),
                    error: None,
                    train_correct: 0,
                    pixel_accuracy: 0.0,
                });
                match program {
                    Some(p) => {
                        state.stats.mended += !p.fixes.is_empty() as usize;
                        jobs.push((Some(index), p.text, round, c.tokens));
                    }
                    None => *state.stats.outcomes.entry(Outcome::NoProgram).or_default() += 1,
                }
            }
            if !jobs.is_empty() {
                to_sandbox.send(jobs).expect("sandbox thread alive");
                pending += 1;
            }
        }
        drop(to_sandbox);
        for b in back.iter().take(pending) {
            state.absorb(b);
        }
        Ok(())
    })?;
    Ok(state.finish())
}

/// Everything learnt so far on one task.
struct State<'a> {
    task: &'a Task,
    sandbox: &'a Sandbox,
    model: &'a str,
    completions: Vec<CompletionRecord>,
    evaluated: Vec<Evaluated>,
    /// Indices into `evaluated`: one per distinct behaviour of compiled non-solutions,
    /// with how often each was refined.
    pool: Vec<(usize, usize)>,
    behaviours: HashSet<u64>,
    valid_behaviours: HashSet<u64>,
    solution_texts: HashSet<String>,
    programs: Vec<ProgramRecord>,
    candidates: Vec<Candidate>,
    stats: LlmStats,
    features: Features,
    /// The pool slot of the caller's seed program (the enumerator's near miss) until it
    /// is first refined.
    seed_slot: Option<usize>,
    /// The last batch from the model brought nothing new (see `absorb`).
    repeated: bool,
}

impl<'a> State<'a> {
    fn new(task: &'a Task, sandbox: &'a Sandbox, model: &'a str) -> State<'a> {
        State {
            task,
            sandbox,
            model,
            completions: Vec::new(),
            evaluated: Vec::new(),
            pool: Vec::new(),
            behaviours: HashSet::new(),
            valid_behaviours: HashSet::new(),
            solution_texts: HashSet::new(),
            programs: Vec::new(),
            candidates: Vec::new(),
            stats: LlmStats::default(),
            features: Features::of(task),
            seed_slot: None,
            repeated: false,
        }
    }

    /// Takes in a batch of evaluated programs; sets `repeated` when the model wrote it
    /// and none of its programs behaved in a way not seen before.
    fn absorb(&mut self, batch: Vec<Evaluated>) {
        let from_model = batch.iter().any(|e| e.completion.is_some());
        let mut fresh = false;
        for e in batch {
            let seeded = e.completion.is_none();
            let category = e.eval.category();
            let valid = e.eval.compile_error.is_none() && e.eval.train.iter().all(|r| r.is_ok());
            if let Some(index) = e.completion {
                self.stats.programs += 1;
                *self.stats.outcomes.entry(Outcome::Ran(category)).or_default() += 1;
                self.stats.valid += valid as usize;
                self.stats.dsl_using += !crate::dsl::syntax::primitives_called(&e.program).is_empty() as usize;
                let rec = &mut self.completions[index];
                rec.outcome = Outcome::Ran(category);
                rec.error = e.eval.first_error().map(|err| one_line(&err.message));
                self.stats.valid_code += e.eval.compile_error.is_none() as usize;
                rec.train_correct = e.eval.train_correct;
                rec.pixel_accuracy = e.eval.pixel_accuracy;
            }
            let behaviour = e.eval.behaviour();
            if valid && self.valid_behaviours.insert(behaviour) && !seeded {
                self.stats.unique_valid += 1;
            }
            let outputs: Option<Vec<_>> = match &e.eval.compile_error {
                None => e.eval.train.iter().chain(&e.eval.test).map(|r| r.as_ref().ok().cloned()).collect(),
                Some(_) => None,
            };
            if e.eval.solves_train() {
                let Some(outputs) = outputs else { continue }; // fails on a test input
                match hygiene::check(self.sandbox, &e.program, self.task, &outputs) {
                    Err(Rejection::HardCoded) => self.stats.rejected_hard_coded += 1,
                    Err(Rejection::Nondeterministic) => self.stats.rejected_nondeterministic += 1,
                    Ok(()) => {
                        let text = hygiene::canonicalise(self.sandbox, &e.program, self.task, &outputs);
                        if self.solution_texts.insert(text.clone()) {
                            fresh = true;
                            let test = outputs[self.task.train.len()..].to_vec();
                            self.candidates.push(Candidate {
                                program: text.clone(),
                                answers: test,
                                train_accuracy: 1.0,
                                pixel_accuracy: 1.0,
                                untrusted: false,
                            });
                            self.programs.push(ProgramRecord {
                                task: self.task.id.clone(),
                                program: text,
                                source: if seeded { "enum".into() } else { self.model.to_string() },
                                round: e.round,
                                tokens: e.tokens,
                                features: self.features.clone(),
                                run: String::new(),
                                date: String::new(),
                            });
                        }
                    }
                }
                continue;
            }
            if let Some(outputs) = outputs {
                let test = outputs[self.task.train.len()..].to_vec();
                let train_accuracy = e.eval.train_correct as f64 / self.task.train.len().max(1) as f64;
                self.candidates.push(Candidate {
                    program: e.program.clone(),
                    answers: test,
                    train_accuracy,
                    pixel_accuracy: e.eval.pixel_accuracy,
                    untrusted: false,
                });
            }
            if category != Category::ParseError && self.behaviours.insert(behaviour) {
                fresh = true;
                // The caller's seed (the enumerator's near miss) is refined first.
                self.pool.push((self.evaluated.len(), 0));
                if seeded {
                    self.seed_slot = Some(self.pool.len() - 1);
                }
            }
            self.evaluated.push(e);
        }
        self.repeated = from_model && !fresh;
    }

    /// REx: Thompson-sample each pooled program's Beta(1 + C·h, 1 + C·(1 − h) + n) and
    /// take the highest draw.
    fn pick_parent(&mut self, rng: &mut impl Rng, c: f64) -> Option<usize> {
        if let Some(slot) = self.seed_slot.take() {
            self.pool[slot].1 += 1;
            return Some(self.pool[slot].0);
        }
        let (best, _) = self
            .pool
            .iter()
            .enumerate()
            .map(|(slot, &(i, n))| {
                let h = self.evaluated[i].eval.pixel_accuracy.clamp(0.0, 1.0);
                let draw = Beta::new(1.0 + c * h, 1.0 + c * (1.0 - h) + n as f64).map(|b| b.sample(rng)).unwrap_or(0.0);
                (slot, draw)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        self.pool[best].1 += 1;
        // Seeded programs have no completion; refine them by their own text.
        Some(self.pool[best].0)
    }

    fn finish(self) -> LlmOutcome {
        let mut stats = self.stats;
        stats.solutions = self.solution_texts.len();
        LlmOutcome { programs: self.programs, candidates: self.candidates, completions: self.completions, stats }
    }
}

/// An error message on one line, at most 200 characters.
fn one_line(message: &str) -> String {
    let line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line,
    }
}
