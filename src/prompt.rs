//! Prompts for the LLM proposer, from the plain-text templates in `prompts/` (named
//! `{{placeholders}}`; no prompt text lives in Rust), and program extraction from the
//! completions.
//!
//! A first-round conversation is `system` (DSL reference + worked examples) then `user`
//! (the task). A refinement appends the earlier program as the assistant's turn and a
//! `user` turn with its outcome per training pair, so the system + task prefix is the
//! same for every call on a task and its KV cache is reused.
//!
//! **Invariant:** prompts show training pairs and test *inputs* only.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::evaluate::Evaluation;
use crate::grid::{fnv1a, Grid};
use crate::llm::Message;
use crate::sandbox::{RunResult, Sandbox};
use crate::task::{Example, Task};

mod facts;
pub use facts::{facts, whole_task_calls};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/solutions.rs"));
}

/// The template files, their placeholders, and the built-in text of each.
const TEMPLATES: &[(&str, &[&str], &str)] = &[
    ("system", &["dsl_reference", "examples"], include_str!("../prompts/system.txt")),
    ("example", &["task", "program"], include_str!("../prompts/example.txt")),
    ("task", &["train_pairs", "test_inputs", "facts"], include_str!("../prompts/task.txt")),
    (
        "train_pair",
        &["index", "input_shape", "input", "output_shape", "output"],
        include_str!("../prompts/train_pair.txt"),
    ),
    ("test_input", &["index", "input_shape", "input"], include_str!("../prompts/test_input.txt")),
    ("refine", &["outcomes"], include_str!("../prompts/refine.txt")),
    ("outcome_ok", &["index"], include_str!("../prompts/outcome_ok.txt")),
    ("outcome_error", &["index", "category", "message", "hint"], include_str!("../prompts/outcome_error.txt")),
    ("hints", &[], include_str!("../prompts/hints.txt")),
    (
        "outcome_wrong",
        &["index", "wrong_cells", "expected_shape", "expected", "actual_shape", "actual", "marks", "advice"],
        include_str!("../prompts/outcome_wrong.txt"),
    ),
    ("advice_keep", &["cells"], include_str!("../prompts/advice_keep.txt")),
];

/// A template that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct PromptError {
    pub file: String,
    pub problem: String,
}

/// The prompt templates, checked: each uses only its own placeholders.
#[derive(Debug, Clone)]
pub struct Templates {
    text: BTreeMap<&'static str, String>,
}

impl Templates {
    /// The templates compiled into the binary (the repository's `prompts/`).
    pub fn builtin() -> Templates {
        let text = TEMPLATES.iter().map(|(name, _, t)| (*name, t.to_string())).collect();
        Templates::checked(text, Path::new("prompts")).expect("the built-in templates are valid")
    }

    /// Templates from a directory holding every `<name>.txt` of `prompts/`.
    pub fn load(dir: &Path) -> Result<Templates, PromptError> {
        let mut text = BTreeMap::new();
        for (name, _, _) in TEMPLATES {
            let path = dir.join(format!("{name}.txt"));
            let t = std::fs::read_to_string(&path).map_err(|e| PromptError {
                file: path.display().to_string(),
                problem: format!("cannot read the template: {e}"),
            })?;
            text.insert(*name, t);
        }
        Templates::checked(text, dir)
    }

    fn checked(text: BTreeMap<&'static str, String>, dir: &Path) -> Result<Templates, PromptError> {
        for (name, allowed, _) in TEMPLATES {
            let t = &text[name];
            for p in placeholders(t) {
                if !allowed.contains(&p) {
                    return Err(PromptError {
                        file: dir.join(format!("{name}.txt")).display().to_string(),
                        problem: format!(
                            "unknown placeholder {{{{{p}}}}} (this template knows: {})",
                            allowed.join(", ")
                        ),
                    });
                }
            }
        }
        Ok(Templates { text })
    }

    /// The hint for an error message (`hints.txt`), with `{name}` and `{signatures}`
    /// filled in from the DSL's primitives; empty when no line matches.
    fn hint(&self, message: &str, primitives: &[crate::dsl::Primitive]) -> String {
        let lines = self.text["hints"].lines().filter(|l| !l.starts_with('#'));
        let Some((_, hint)) =
            lines.filter_map(|l| l.split_once(" | ")).find(|(fragment, _)| message.contains(fragment.trim()))
        else {
            return String::new();
        };
        let name = message.split("Function not found: ").nth(1).and_then(|r| r.split([' ', '(']).next()).unwrap_or("");
        let mut signatures =
            nearest(name, primitives).iter().map(|p| format!("`{}`", p.signature)).collect::<Vec<_>>().join(", ");
        if signatures.is_empty() {
            signatures = "nothing by that name or a similar one (see the reference)".into();
        }
        format!("{}\n", hint.trim().replace("{name}", name).replace("{signatures}", &signatures))
    }

    /// Fills template `name`; placeholders without a value are left empty.
    fn fill(&self, name: &str, vars: &[(&str, &str)]) -> String {
        let t = &self.text[name];
        let mut out = String::with_capacity(t.len() + vars.iter().map(|(_, v)| v.len()).sum::<usize>());
        let mut rest = t.as_str();
        while let Some(start) = rest.find("{{") {
            let Some(len) = rest[start + 2..].find("}}") else { break };
            out.push_str(&rest[..start]);
            let key = &rest[start + 2..start + 2 + len];
            out.push_str(vars.iter().find(|(k, _)| *k == key).map_or("", |(_, v)| v));
            rest = &rest[start + 2 + len + 2..];
        }
        out.push_str(rest);
        out
    }
}

/// The primitives named `name`, else the three whose names are nearest (sharing a word
/// of a snake_case name, or within a third of its length in edits).
fn nearest<'a>(name: &str, primitives: &'a [crate::dsl::Primitive]) -> Vec<&'a crate::dsl::Primitive> {
    let exact: Vec<_> = primitives.iter().filter(|p| p.name == name).collect();
    if !exact.is_empty() || name.is_empty() {
        return exact;
    }
    let words: Vec<&str> = name.split('_').filter(|w| w.len() > 2).collect();
    let mut scored: Vec<(usize, &crate::dsl::Primitive)> = primitives
        .iter()
        .map(|p| {
            let shared = p.name.split('_').any(|w| words.contains(&w));
            (if shared { 0 } else { edit_distance(name, &p.name) }, p)
        })
        .filter(|(d, _)| *d <= (name.len() / 3).max(1))
        .collect();
    scored.sort_by_key(|(d, p)| (*d, p.name.clone()));
    let mut out: Vec<&crate::dsl::Primitive> = Vec::new();
    for (_, p) in scored {
        if out.len() < 3 && !out.iter().any(|o| o.name == p.name) {
            out.push(p);
        }
    }
    out
}

/// Levenshtein distance between two short names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + (ca != *cb) as usize).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn placeholders(t: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else { break };
        out.push(&rest[start + 2..start + 2 + len]);
        rest = &rest[start + 2 + len + 2..];
    }
    out
}

/// What a task looks like from its training pairs, for choosing similar worked examples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Features {
    /// How output shapes relate to input shapes: `same`, `transposed`, `scaled_up`,
    /// `scaled_down`, `fixed` (one output shape), `smaller`, `larger` or `mixed`.
    pub shape: String,
    /// Some output has a colour its input lacks.
    pub adds_colours: bool,
    /// Some input colour is missing from its output.
    pub removes_colours: bool,
}

impl Default for Features {
    /// Unknown: matches nothing in particular.
    fn default() -> Features {
        Features { shape: "mixed".into(), adds_colours: false, removes_colours: false }
    }
}

impl Features {
    pub fn of(task: &Task) -> Features {
        let pairs: Vec<(&Grid, &Grid)> = task.train.iter().map(|e| (&e.input, &e.output)).collect();
        let all = |f: &dyn Fn(&Grid, &Grid) -> bool| !pairs.is_empty() && pairs.iter().all(|(i, o)| f(i, o));
        let ratio = |a: usize, b: usize| (b > 0 && a.is_multiple_of(b)).then(|| a / b);
        let scale = |i: &Grid, o: &Grid| Some((ratio(o.rows(), i.rows())?, ratio(o.cols(), i.cols())?));
        let shape = if all(&|i, o| i.shape() == o.shape()) {
            "same"
        } else if all(&|i, o| (i.cols(), i.rows()) == o.shape()) {
            "transposed"
        } else if all(&|i, o| scale(i, o).is_some_and(|(a, b)| a * b > 1)) {
            "scaled_up"
        } else if all(&|i, o| scale(o, i).is_some_and(|(a, b)| a * b > 1)) {
            "scaled_down"
        } else if pairs.windows(2).all(|w| w[0].1.shape() == w[1].1.shape()) {
            "fixed"
        } else if all(&|i, o| o.rows() <= i.rows() && o.cols() <= i.cols()) {
            "smaller"
        } else if all(&|i, o| o.rows() >= i.rows() && o.cols() >= i.cols()) {
            "larger"
        } else {
            "mixed"
        };
        let colours = |g: &Grid| g.histogram().map(|n| n > 0);
        let adds_colours = pairs.iter().any(|(i, o)| colours(o).iter().zip(colours(i)).any(|(&o, i)| o && !i));
        let removes_colours = pairs.iter().any(|(i, o)| colours(i).iter().zip(colours(o)).any(|(&i, o)| i && !o));
        Features { shape: shape.into(), adds_colours, removes_colours }
    }

    /// Higher is more alike: the shape relation counts most.
    pub fn similarity(&self, other: &Features) -> u32 {
        3 * (self.shape == other.shape) as u32
            + (self.adds_colours == other.adds_colours) as u32
            + (self.removes_colours == other.removes_colours) as u32
    }
}

/// A solved program that can serve as a worked example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LibraryEntry {
    pub task: String,
    pub program: String,
    pub features: Features,
}

/// Worked examples to choose from.
#[derive(Debug, Clone, Default)]
pub struct Library {
    pub entries: Vec<LibraryEntry>,
}

/// Features of every reference solution's task (`dsl/solutions/features.json`; a test
/// checks it against the tasks).
pub const SOLUTION_FEATURES: &str = include_str!("../dsl/solutions/features.json");

impl Library {
    /// Worked examples from solved programs (`library::worked_examples` reads them): one
    /// per task, the shortest.
    pub fn from_entries(entries: impl IntoIterator<Item = LibraryEntry>) -> Library {
        let mut best: BTreeMap<String, LibraryEntry> = BTreeMap::new();
        for e in entries {
            if best.get(&e.task).is_none_or(|b| e.program.len() < b.program.len()) {
                best.insert(e.task.clone(), e);
            }
        }
        Library { entries: best.into_values().collect() }
    }

    /// Every reference solution's (task id, program), from the binary.
    pub fn reference_solutions() -> &'static [(&'static str, &'static str)] {
        embedded::SOLUTIONS
    }

    /// The `k` entries most like `task` (never `task`'s own), with distinct programs;
    /// equals are ordered by a hash of both task ids, so different tasks see different
    /// examples but a task always sees the same ones.
    pub fn choose(&self, task: &Task, k: usize) -> Vec<&LibraryEntry> {
        self.choose_ranked(task, k, None)
    }

    /// Like [`Library::choose`], but ranked first by what each program does on `task`'s
    /// training inputs ([`fit`]): a program that gets the changed cells right is the
    /// example most worth showing. A program that already solves every training pair is
    /// never shown: the model would copy it, which measures the library, not the model.
    pub fn choose_by_fit(&self, task: &Task, k: usize, sandbox: &Sandbox) -> Vec<&LibraryEntry> {
        let programs: Vec<&str> = self.entries.iter().map(|e| e.program.as_str()).collect();
        let fits: Vec<Option<f64>> =
            crate::evaluate::evaluate(sandbox, &programs, task).iter().map(|e| fit(e, task)).collect();
        self.choose_ranked(task, k, Some(&fits))
    }

    fn choose_ranked(&self, task: &Task, k: usize, fits: Option<&[Option<f64>]>) -> Vec<&LibraryEntry> {
        let f = Features::of(task);
        // Fit in thousandths, so that equal fits fall back to the features.
        let fit_of = |i: usize| fits.map_or(Some(0), |fits| fits[i].map(|x| (x * 1000.0).round() as i64));
        let mut ranked: Vec<(i64, &LibraryEntry)> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.task != task.id)
            .filter_map(|(i, e)| Some((fit_of(i)?, e)))
            .collect();
        ranked.sort_by_key(|(fit, e)| {
            (
                std::cmp::Reverse(*fit),
                std::cmp::Reverse(f.similarity(&e.features)),
                fnv1a(format!("{}/{}", task.id, e.task).bytes()),
            )
        });
        let ranked: Vec<&LibraryEntry> = ranked.into_iter().map(|(_, e)| e).collect();
        let mut chosen: Vec<&LibraryEntry> = Vec::with_capacity(k);
        for e in ranked {
            if chosen.len() == k {
                break;
            }
            if !chosen.iter().any(|c| c.program == e.program) {
                chosen.push(e);
            }
        }
        chosen
    }
}

/// How close a program's training outputs come to the expected ones, in 0..1; `None`
/// when it reproduces every one of them. Per pair: 0 for a failed run or a wrong
/// shape; where the output has its input's shape, mostly the share of changed cells
/// (input != output) it gets right, so leaving the grid alone scores low; else 0.3 plus
/// 0.7 of the share of cells right. The mean over pairs.
pub fn fit(eval: &Evaluation, task: &Task) -> Option<f64> {
    if eval.solves_train() {
        return None;
    }
    let mut total = 0.0;
    for (r, e) in eval.train.iter().zip(&task.train) {
        let Ok(got) = r else { continue };
        if got.shape() != e.output.shape() {
            continue;
        }
        let right = crate::evaluate::cell_accuracy(got, &e.output);
        total += if e.input.shape() == e.output.shape() {
            let changed: Vec<usize> =
                (0..e.output.cells().len()).filter(|&i| e.input.cells()[i] != e.output.cells()[i]).collect();
            let changed_right = if changed.is_empty() {
                right
            } else {
                changed.iter().filter(|&&i| got.cells()[i] == e.output.cells()[i]).count() as f64 / changed.len() as f64
            };
            0.8 * changed_right + 0.2 * right
        } else {
            0.3 + 0.7 * right
        };
    }
    Some(total / task.train.len().max(1) as f64)
}

/// Builds the conversations for one search.
#[derive(Debug, Clone)]
pub struct Prompter {
    pub templates: Templates,
    pub library: Library,
    /// The DSL reference (`arcsynth dsl docs`).
    pub reference: String,
    /// Worked examples per prompt.
    pub examples: usize,
    /// The DSL's primitives, for the hints of refinement prompts.
    pub primitives: Vec<crate::dsl::Primitive>,
    /// Whether worked examples are ranked by what they do on the task
    /// ([`Library::choose_by_fit`]) rather than by its features alone.
    pub rank_by_fit: bool,
}

impl Prompter {
    pub fn new(templates: Templates, library: Library, examples: usize) -> Prompter {
        Prompter {
            templates,
            library,
            reference: crate::dsl::reference_markdown(),
            examples,
            primitives: crate::dsl::primitives(),
            rank_by_fit: true,
        }
    }

    /// The system message: the DSL reference and worked examples for `task`.
    pub fn system(&self, task: &Task, sandbox: &Sandbox) -> String {
        let chosen = if self.rank_by_fit {
            self.library.choose_by_fit(task, self.examples, sandbox)
        } else {
            self.library.choose(task, self.examples)
        };
        let examples: String = chosen
            .iter()
            .map(|e| self.templates.fill("example", &[("task", &e.task), ("program", &e.program)]))
            .collect();
        self.templates.fill("system", &[("dsl_reference", self.reference.trim_end()), ("examples", &examples)])
    }

    pub fn task(&self, task: &Task) -> String {
        let t = &self.templates;
        let train: String = task
            .train
            .iter()
            .enumerate()
            .map(|(i, e)| {
                t.fill(
                    "train_pair",
                    &[
                        ("index", &(i + 1).to_string()),
                        ("input_shape", &shape(&e.input)),
                        ("input", &e.input.to_text()),
                        ("output_shape", &shape(&e.output)),
                        ("output", &e.output.to_text()),
                    ],
                )
            })
            .collect();
        let test: String = task
            .test
            .iter()
            .enumerate()
            .map(|(i, p)| {
                t.fill(
                    "test_input",
                    &[
                        ("index", &(i + 1).to_string()),
                        ("input_shape", &shape(&p.input)),
                        ("input", &p.input.to_text()),
                    ],
                )
            })
            .collect();
        t.fill("task", &[("train_pairs", &train), ("test_inputs", &test), ("facts", &facts(task))])
    }

    /// The first-round conversation for a task.
    pub fn first(&self, task: &Task, sandbox: &Sandbox) -> Vec<Message> {
        vec![Message::new("system", &self.system(task, sandbox)), Message::new("user", &self.task(task))]
    }

    /// A refinement conversation: the first round's conversation (`first`, from
    /// [`Prompter::first`], so its examples are not chosen again), the earlier program as
    /// the model's answer, and what it did on each training pair (`train` holds its
    /// results).
    pub fn refine(&self, first: &[Message], task: &Task, program: &str, train: &[RunResult]) -> Vec<Message> {
        let t = &self.templates;
        let mut outcomes = String::new();
        let mut advised = false;
        for (i, (r, e)) in train.iter().zip(&task.train).enumerate() {
            let index = (i + 1).to_string();
            outcomes.push_str(&match r {
                Ok(g) if g == &e.output => t.fill("outcome_ok", &[("index", &index)]),
                Ok(g) => {
                    // Said once, under the first pair it fits.
                    let advice = match kept_cells_lost(g, e) {
                        n if n > 0 && !advised => {
                            advised = true;
                            t.fill("advice_keep", &[("cells", &n.to_string())])
                        }
                        _ => String::new(),
                    };
                    let (wrong_cells, marks) = if g.shape() == e.output.shape() {
                        let wrong = g.cells().iter().zip(e.output.cells()).filter(|(a, b)| a != b).count();
                        (format!("{wrong} of {} cells wrong (marked x)", g.cells().len()), marks(g, &e.output))
                    } else {
                        (format!("wrong shape ({} instead of {})", shape(g), shape(&e.output)), String::new())
                    };
                    t.fill(
                        "outcome_wrong",
                        &[
                            ("index", &index),
                            ("wrong_cells", &wrong_cells),
                            ("expected_shape", &shape(&e.output)),
                            ("expected", &e.output.to_text()),
                            ("actual_shape", &shape(g)),
                            ("actual", &g.to_text()),
                            ("marks", &marks),
                            ("advice", &advice),
                        ],
                    )
                }
                Err(err) => t.fill(
                    "outcome_error",
                    &[
                        ("index", &index),
                        ("category", err.category.as_str()),
                        ("message", &err.message),
                        ("hint", &t.hint(&err.message, &self.primitives)),
                    ],
                ),
            });
        }
        let mut m = first.to_vec();
        m.push(Message::new("assistant", &format!("```rhai\n{}\n```", program.trim())));
        m.push(Message::new("user", &t.fill("refine", &[("outcomes", &outcomes)])));
        m
    }
}

fn shape(g: &Grid) -> String {
    format!("{}x{}", g.rows(), g.cols())
}

/// How many of `got`'s wrong cells should have kept their input's colour, where those
/// are most of its wrong cells (a program that started from a blank grid rather than
/// the input); else 0.
fn kept_cells_lost(got: &Grid, e: &Example) -> usize {
    if got.shape() != e.output.shape() || e.input.shape() != e.output.shape() {
        return 0;
    }
    let cells = got.cells().iter().zip(e.output.cells()).zip(e.input.cells());
    let wrong: Vec<bool> = cells.filter(|((g, o), _)| g != o).map(|((_, o), i)| o == i).collect();
    let kept = wrong.iter().filter(|&&k| k).count();
    if 2 * kept >= wrong.len() {
        kept
    } else {
        0
    }
}

/// The wrong cells of `got` as a grid of `.` (right) and `x` (wrong).
fn marks(got: &Grid, want: &Grid) -> String {
    let mut s = String::from("Wrong cells:\n");
    for r in 0..got.rows() {
        s.extend((0..got.cols()).map(|c| if got.get(r, c) == want.get(r, c) { '.' } else { 'x' }));
        s.push('\n');
    }
    s
}

/// The program in a completion: the last fenced code block that defines `solve` (an
/// unclosed last fence counts: the completion may have hit its token limit), else the
/// text from `fn solve` on. `None` when there is no `fn solve`. A fence is three
/// backticks at the start of a line; backticks inside prose ("one ```rhai block```")
/// are text.
pub fn extract_program(completion: &str) -> Option<String> {
    let best = code_blocks(completion).into_iter().rev().find(|b| b.contains("fn solve"));
    best.map(|b| b.trim().to_string())
        .or_else(|| completion.find("fn solve").map(|i| completion[i..].trim().to_string()))
}

/// The last fenced code block of a completion that holds any code, for an answer that
/// wrote the body of `solve` without `fn solve(g) { .. }` around it (`dsl::mend` wraps
/// it). `None` when there is no code block.
pub fn extract_script(completion: &str) -> Option<String> {
    code_blocks(completion)
        .into_iter()
        .rev()
        .find(|b| crate::dsl::syntax::code_lines(b) > 0)
        .map(|b| b.trim().to_string())
}

/// The bodies of a completion's fenced code blocks, in order; an unclosed last one
/// runs to the end.
fn code_blocks(completion: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut rest = completion;
    while let Some(open) = line_fence(rest, 0) {
        let after = &rest[open + 3..];
        let body_start = after.find('\n').map_or(after.len(), |i| i + 1);
        let body = &after[body_start..];
        let (block, next) = match line_fence(body, 0) {
            Some(close) => (&body[..close], &body[close + 3..]),
            None => (body, ""),
        };
        blocks.push(block);
        rest = next;
    }
    blocks
}

/// The byte offset of the first "```" at or after `from` that starts a line (spaces
/// before it allowed).
fn line_fence(text: &str, from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(i) = text[at..].find("```") {
        let pos = at + i;
        let line_start = text[..pos].rfind('\n').map_or(0, |n| n + 1);
        if text[line_start..pos].trim().is_empty() {
            return Some(pos);
        }
        at = pos + 3;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_the_last_solving_block() {
        let c = "Idea.\n```rhai\nfn solve(g) { g }\n```\nBetter:\n```\nfn solve(g) { g.rotate(1) }\n```\nDone.";
        assert_eq!(extract_program(c).unwrap(), "fn solve(g) { g.rotate(1) }");
        assert_eq!(extract_program("```rhai\nlet x = 1;\n```").as_deref(), None);
        assert_eq!(extract_program("```rhai\nfn solve(g) {\n  g.flip_h()").unwrap(), "fn solve(g) {\n  g.flip_h()");
        assert_eq!(extract_program("sure: fn solve(g) { g }").unwrap(), "fn solve(g) { g }");
        assert_eq!(extract_program("no code"), None);
        // Backticks inside prose are not fences.
        let c = "The ```rhai block``` is:\n\n```rhai\nfn solve(g) {\n    g.flip_v()\n}\n```\nDone.";
        assert_eq!(extract_program(c).unwrap(), "fn solve(g) {\n    g.flip_v()\n}");
    }

    #[test]
    fn templates_check_their_placeholders() {
        let dir = std::env::temp_dir().join(format!("arcsynth-prompts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, _, text) in TEMPLATES {
            std::fs::write(dir.join(format!("{name}.txt")), text).unwrap();
        }
        assert!(Templates::load(&dir).is_ok());
        std::fs::write(dir.join("refine.txt"), "{{outcomes}} {{program_text}}").unwrap();
        let e = Templates::load(&dir).unwrap_err().to_string();
        assert!(e.contains("refine.txt") && e.contains("{{program_text}}"), "{e}");
        std::fs::remove_file(dir.join("task.txt")).unwrap();
        assert!(Templates::load(&dir).unwrap_err().to_string().contains("task.txt"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hints_name_the_fix() {
        let t = Templates::builtin();
        let prims = crate::dsl::primitives();
        let h = t.hint("Function not found: fill_rect (Grid, i64, i64, i64, i64) (line 3, position 5)", &prims);
        assert!(
            h.contains("`fill_rect` cannot be called with these arguments") && h.contains("`g.fill_rect(r, c, h, w, "),
            "{h}"
        );
        let h = t.hint("Function not found: flip_horizontal (Grid)", &prims);
        assert!(h.contains("`g.flip_h()`"), "{h}");
        let h = t.hint("Function not found: sum (array)", &prims);
        assert!(h.contains("nothing by that name"), "{h}");
        assert!(t.hint("Variable not found: r (line 2, position 39)", &prims).contains("Define every variable"));
        assert_eq!(t.hint("something new", &prims), "");
    }

    #[test]
    fn fill_replaces_every_placeholder() {
        let t = Templates::builtin();
        let s = t.fill("outcome_error", &[("index", "2"), ("category", "timeout"), ("message", "too slow")]);
        assert_eq!(s, "### Example 2: timeout\ntoo slow\n\n");
    }
}
