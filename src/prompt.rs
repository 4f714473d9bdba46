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
        &["index", "wrong_cells", "expected_shape", "expected", "actual_shape", "actual", "marks"],
        include_str!("../prompts/outcome_wrong.txt"),
    ),
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
        for (i, (r, e)) in train.iter().zip(&task.train).enumerate() {
            let index = (i + 1).to_string();
            outcomes.push_str(&match r {
                Ok(g) if g == &e.output => t.fill("outcome_ok", &[("index", &index)]),
                Ok(g) => {
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

/// What the training pairs show at a glance, in words: how output shapes follow from
/// input shapes, and which colours appear or vanish.
pub fn facts(task: &Task) -> String {
    let f = Features::of(task);
    let first = task.train.first();
    let ratio =
        first.map(|e| (e.output.rows() as f64 / e.input.rows() as f64, e.output.cols() as f64 / e.input.cols() as f64));
    let shape = match f.shape.as_str() {
        "same" => "Every output has the same shape as its input.".to_string(),
        "transposed" => "Every output has its input's shape turned sideways (rows and columns swapped).".to_string(),
        // Outputs of one shape smaller than their inputs (a 1x1 answer): the shape says more than a ratio.
        "scaled_down" if task.train.windows(2).all(|w| w[0].output.shape() == w[1].output.shape()) => {
            format!("Every output is {}.", first.map_or(String::new(), |e| shape(&e.output)))
        }
        "scaled_up" | "scaled_down" => match ratio {
            Some((r, c))
                if task.train.iter().all(|e| {
                    (e.output.rows() as f64 / e.input.rows() as f64, e.output.cols() as f64 / e.input.cols() as f64)
                        == (r, c)
                }) =>
            {
                let times = |x: f64| if x >= 1.0 { format!("{x}") } else { format!("1/{}", (1.0 / x).round()) };
                format!("Every output is {} times its input's rows and {} times its columns.", times(r), times(c))
            }
            _ => format!(
                "Every output is {} its input by a whole factor.",
                if f.shape == "scaled_up" { "larger than" } else { "smaller than" }
            ),
        },
        "fixed" => format!("Every output is {}.", first.map_or(String::new(), |e| shape(&e.output))),
        "smaller" => "Every output is smaller than its input.".to_string(),
        "larger" => "Every output is larger than its input.".to_string(),
        _ => "Output shapes differ from input shapes in different ways.".to_string(),
    };
    let shape = shape + sizes(task).as_str();
    let colours = |pick: &dyn Fn(&Grid, &Grid) -> Vec<usize>| {
        let mut all: Vec<usize> = task.train.iter().flat_map(|e| pick(&e.input, &e.output)).collect();
        all.sort_unstable();
        all.dedup();
        all.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
    };
    let absent = |present: &Grid, missing: &Grid| -> Vec<usize> {
        let (p, m) = (present.histogram(), missing.histogram());
        (0..10).filter(|&c| p[c] > 0 && m[c] == 0).collect()
    };
    let added = colours(&|i, o| absent(o, i));
    let removed = colours(&|i, o| absent(i, o));
    let mut out = String::new();
    let places = containment(task);
    // Where the output is the input turned or moved, which colours "change" is noise.
    let turned = places.as_deref().is_some_and(|p| p.starts_with(TURNED) || p.starts_with(MOVED));
    let changes = colour_changes(task).filter(|_| !turned);
    // A DSL call that makes every output from its input comes first: the 1.5B model
    // writes it when it leads, and overlooked it at the end of a long line.
    let whole = |s: &String| s.ends_with("`.") && !s.contains("pair 1:");
    let (lead, rest): (Vec<String>, Vec<String>) = [places, changes].into_iter().flatten().partition(whole);
    for s in &lead {
        out.push_str(s);
        out.push(' ');
    }
    out.push_str(&shape);
    if !added.is_empty() {
        out.push_str(&format!(" Outputs use colours their inputs lack: {added}."));
    }
    if !removed.is_empty() {
        out.push_str(&format!(" Outputs lose colours their inputs have: {removed}."));
    }
    if added.is_empty() && removed.is_empty() {
        out.push_str(" Each output has the same colours as its input.");
    }
    out.push_str(&one_colour(task));
    out.push_str(&uniform_lines(task));
    for s in &rest {
        out.push(' ');
        out.push_str(s);
    }
    out
}

const TURNED: &str = "Each output is its input turned or mirrored:";
const MOVED: &str = "Each output is its input moved by";

/// Where each output lies inside its input (a crop), or each input inside its output (a
/// tiling, a border, a mirror added), when it does so in every training pair, at one or
/// two places, and is at least 4 cells: "(row, column)" of its top-left cell per pair.
/// Where outputs are halves or the trimmed content of their inputs, are made of turned
/// or mirrored copies of them, or are them turned or mirrored, it names each part or
/// copy by the DSL call that makes it.
fn containment(task: &Task) -> Option<String> {
    let places = |big: &Grid, small: &Grid| -> Vec<(usize, usize)> {
        let ((bh, bw), (sh, sw)) = (big.shape(), small.shape());
        if sh > bh || sw > bw {
            return Vec::new();
        }
        let fits = |r: usize, c: usize| (0..sh).all(|i| big.row(r + i)[c..c + sw] == *small.row(i));
        (0..=bh - sh).flat_map(|r| (0..=bw - sw).map(move |c| (r, c))).filter(|&(r, c)| fits(r, c)).take(3).collect()
    };
    let describe = |found: &[Vec<(usize, usize)>]| -> String {
        let per_pair: Vec<String> = found
            .iter()
            .map(|p| p.iter().map(|(r, c)| format!("({r}, {c})")).collect::<Vec<_>>().join(" or "))
            .collect();
        per_pair.join(", ")
    };
    let all_found = |found: &[Vec<(usize, usize)>]| found.iter().all(|p| (1..=2).contains(&p.len()));
    let smaller =
        task.train.iter().all(|e| e.output.cells().len() < e.input.cells().len() && e.output.cells().len() >= 4);
    let larger =
        task.train.iter().all(|e| e.input.cells().len() < e.output.cells().len() && e.input.cells().len() >= 4);
    if smaller {
        // A part the DSL names (a half, the trimmed content), per pair.
        let named: Option<Vec<&str>> = task
            .train
            .iter()
            .map(|e| parts(&e.input).into_iter().find(|(_, p)| *p == e.output).map(|(name, _)| name))
            .collect();
        if let Some(named) = named {
            // Which part may follow from the input's shape: say it where the parts differ,
            // as one part per orientation where that holds.
            let differ = named.windows(2).any(|w| w[0] != w[1]);
            if differ {
                if let Some(by_shape) = by_orientation(task, &named) {
                    return Some(format!("Each output is a part of its input: {by_shape}."));
                }
            }
            let named: Vec<String> = named
                .iter()
                .zip(&task.train)
                .map(|(n, e)| {
                    if differ {
                        format!("`{n}` of a {} ({}) input", orientation(&e.input), shape(&e.input))
                    } else {
                        format!("`{n}`")
                    }
                })
                .collect();
            return Some(format!("Each output is a part of its input: {}.", same_or_per_pair(&named)));
        }
        let found: Vec<_> = task.train.iter().map(|e| places(&e.input, &e.output)).collect();
        if all_found(&found) {
            return Some(format!(
                "Each output is a piece of its input, whose top-left cell is at (row, column) {}.",
                describe(&found)
            ));
        }
    } else if larger {
        // Copies turned or mirrored (a mirror added, a kaleidoscope) that make up the
        // whole output: every view of the input found in it, named as the DSL call that
        // makes it. Else where the input appears unchanged.
        let copies = |e: &Example| -> Vec<String> {
            let mut seen: Vec<Grid> = Vec::new();
            let mut out = Vec::new();
            for (name, view) in views(&e.input) {
                if seen.contains(&view) {
                    continue;
                }
                out.extend(places(&e.output, &view).into_iter().map(|(r, c)| format!("{name} at ({r}, {c})")));
                seen.push(view);
            }
            out
        };
        let found: Vec<Vec<String>> = task.train.iter().map(copies).collect();
        let covered =
            task.train.iter().zip(&found).all(|(e, f)| {
                !f.is_empty() && f.len() <= 4 && f.len() * e.input.cells().len() >= e.output.cells().len()
            });
        if covered && found.iter().any(|f| f.iter().any(|p| !p.starts_with("g at"))) {
            let layouts: Option<Vec<String>> = task.train.iter().map(|e| layout(&e.input, &e.output)).collect();
            if let Some(layouts) = layouts {
                return Some(format!(
                    "Each output is copies of its input side by side, turned or mirrored: {}.",
                    same_or_per_pair(&layouts)
                ));
            }
            let found: Vec<String> = found.iter().map(|f| f.join(", ")).collect();
            return Some(format!(
                "Each output is made of copies of its input, with their top-left cells: {}.",
                same_or_per_pair(&found)
            ));
        }
        let found: Vec<_> = task.train.iter().map(|e| places(&e.output, &e.input)).collect();
        if all_found(&found) {
            return Some(format!(
                "Each input appears unchanged in its output, with its top-left cell at (row, column) {}.",
                describe(&found)
            ));
        }
    } else if task.train.iter().all(|e| e.input.cells().len() == e.output.cells().len()) {
        // Same size: the output may be the input turned or mirrored, the same way in
        // every pair.
        let turns: Vec<Vec<&str>> = task
            .train
            .iter()
            .map(|e| {
                views(&e.input).into_iter().skip(1).filter(|(_, v)| *v == e.output).map(|(name, _)| name).collect()
            })
            .collect();
        let same = turns.first()?.iter().find(|name| turns.iter().all(|t| t.contains(name)));
        if let Some(name) = same {
            return Some(format!("{TURNED} `{name}`."));
        }
        // Or the input moved a few cells, the same way in every pair, onto its background.
        // One background for every pair, and some of each input left in view.
        let bg = crate::dsl::ops::background(&task.train[0].input);
        let moved = |dr: i64, dc: i64| {
            task.train.iter().all(|e| {
                let (h, w) = (e.input.rows() as i64, e.input.cols() as i64);
                crate::dsl::ops::background(&e.input) == bg
                    && dr.abs() < h
                    && dc.abs() < w
                    && e.output.cells().iter().any(|&v| v != bg)
                    && crate::dsl::ops::shift(&e.input, dr, dc, bg as i64).is_ok_and(|m| m == e.output)
            })
        };
        let mut steps: Vec<(i64, i64)> =
            (-3i64..=3).flat_map(|dr| (-3i64..=3).map(move |dc| (dr, dc))).filter(|&s| s != (0, 0)).collect();
        steps.sort_by_key(|(dr, dc)| dr.abs() + dc.abs());
        let (dr, dc) = steps.into_iter().find(|&(dr, dc)| moved(dr, dc))?;
        return Some(format!("{MOVED} ({dr}, {dc}) rows and columns: `g.shift({dr}, {dc}, {bg})`."));
    }
    None
}

/// One description for every pair when they agree, else "pair 1: ..; pair 2: ..".
fn same_or_per_pair(per_pair: &[String]) -> String {
    if let [first, rest @ ..] = per_pair {
        if rest.iter().all(|p| p == first) {
            return first.clone();
        }
    }
    per_pair.iter().enumerate().map(|(i, p)| format!("pair {}: {p}", i + 1)).collect::<Vec<_>>().join("; ")
}

/// The parts of `g` that one DSL call cuts out, with the call.
fn parts(g: &Grid) -> Vec<(&'static str, Grid)> {
    use crate::dsl::ops;
    let cut = [
        ("g.left_half()", ops::left_half(g)),
        ("g.right_half()", ops::right_half(g)),
        ("g.top_half()", ops::top_half(g)),
        ("g.bottom_half()", ops::bottom_half(g)),
        ("g.trim()", ops::trim(g, ops::background(g) as i64)),
    ];
    cut.into_iter().filter_map(|(name, part)| Some((name, part.ok()?))).collect()
}

/// The eight turns and mirrors of `g`, each with the DSL call that makes it from `g`
/// (`Dihedral::ALL` in another order).
fn views(g: &Grid) -> Vec<(&'static str, Grid)> {
    use crate::grid::Dihedral;
    let call = |t: Dihedral| match t {
        Dihedral::Identity => "g",
        Dihedral::Rot90 => "g.rotate(1)",
        Dihedral::Rot180 => "g.rotate(2)",
        Dihedral::Rot270 => "g.rotate(3)",
        Dihedral::FlipH => "g.flip_h()",
        Dihedral::FlipV => "g.flip_v()",
        Dihedral::Transpose => "g.transpose()",
        Dihedral::AntiTranspose => "g.transpose().rotate(2)",
    };
    // Simplest first: where views coincide (a symmetric input), the first one names them.
    let order = [
        Dihedral::Identity,
        Dihedral::FlipH,
        Dihedral::FlipV,
        Dihedral::Rot180,
        Dihedral::Transpose,
        Dihedral::Rot90,
        Dihedral::Rot270,
        Dihedral::AntiTranspose,
    ];
    order.into_iter().map(|t| (call(t), g.transform(t))).collect()
}

/// For tasks whose outputs keep their inputs' shapes: which cells change colour, over all
/// training pairs, as `a->b` with how many of colour `a`'s cells do so, most frequent
/// first (at most eight). What a person checks first on such a task: a colour map shows
/// as `a->b` on every cell of `a`, a local edit as few changed cells.
fn colour_changes(task: &Task) -> Option<String> {
    if task.train.is_empty() || task.train.iter().any(|e| e.input.shape() != e.output.shape()) {
        return None;
    }
    let mut moves = [[0usize; 10]; 10];
    let mut cells = 0;
    for e in &task.train {
        for (&a, &b) in e.input.cells().iter().zip(e.output.cells()) {
            moves[a as usize][b as usize] += 1;
        }
        cells += e.input.cells().len();
    }
    let mut changes: Vec<(usize, usize, usize)> = (0..10)
        .flat_map(|a| (0..10).map(move |b| (a, b)))
        .filter(|&(a, b)| a != b && moves[a][b] > 0)
        .map(|(a, b)| (a, b, moves[a][b]))
        .collect();
    let changed: usize = changes.iter().map(|c| c.2).sum();
    if changed == 0 {
        return Some("No cell changes colour.".into());
    }
    // A map that differs per pair (a colour from the input picks the new colour): each
    // pair's own map, when every pair's is one colour to one.
    let one_to_many = changes.iter().any(|x| changes.iter().any(|y| x.0 == y.0 && x.1 != y.1));
    if one_to_many {
        if let Some(per_pair) = colour_maps_per_pair(task) {
            return Some(format!("{changed} of {cells} cells change colour, every cell of a colour the same way within each pair: {per_pair}."));
        }
    }
    // One colour map for the whole task: every changed colour changes on all its cells, to one colour.
    if !one_to_many && changes.iter().all(|&(a, _, n)| n == moves[a].iter().sum::<usize>()) {
        return Some(format!(
            "Each output is its input recoloured, every cell of a colour the same way in every pair ({}): {}.",
            changes.iter().map(|&(a, b, _)| format!("{a}->{b}")).collect::<Vec<_>>().join(", "),
            colour_map_call(&changes)
        ));
    }
    // Every cell but those of the input's most common colour becomes one colour.
    if let Some(to) = all_but_most_common(task) {
        return Some(format!(
            "Each output is its input with every cell not of its most common colour turned {to}: \
             `g.replace_not(g.most_common(), {to})`."
        ));
    }
    changes.sort_by(|x, y| y.2.cmp(&x.2).then((x.0, x.1).cmp(&(y.0, y.1))));
    let shown: Vec<String> = changes
        .iter()
        .take(8)
        .map(|&(a, b, n)| format!("{a}->{b} ({n} of {} cells of {a})", moves[a].iter().sum::<usize>()))
        .collect();
    let more = if changes.len() > 8 { format!(", and {} other changes", changes.len() - 8) } else { String::new() };
    Some(format!("{changed} of {cells} cells change colour: {}{more}.", shown.join(", ")))
}

/// The one colour every cell not of its input's most common colour becomes, in every pair
/// (where that changes some cell of two colours or more).
fn all_but_most_common(task: &Task) -> Option<u8> {
    let mut to = None;
    let mut sources = [false; 10];
    for e in &task.train {
        let keep = crate::dsl::ops::most_common(&e.input) as u8;
        for (&a, &b) in e.input.cells().iter().zip(e.output.cells()) {
            if a == keep {
                if b != a {
                    return None;
                }
            } else {
                if *to.get_or_insert(b) != b {
                    return None;
                }
                sources[a as usize] |= a != b;
            }
        }
    }
    to.filter(|_| sources.iter().filter(|&&s| s).count() >= 2)
}

/// The DSL call that applies a colour map given as (from, to, cells) changes, in colour order.
fn colour_map_call(changes: &[(usize, usize, usize)]) -> String {
    match changes {
        [(a, b, _)] => format!("`g.replace({a}, {b})`"),
        [(a, b, _), (c, d, _)] if (a, b) == (d, c) => format!("`g.swap({a}, {b})`"),
        _ => {
            let map: Vec<String> = changes.iter().map(|(a, b, _)| format!("\"{a}\": {b}")).collect();
            format!("`g.recolor(#{{{}}})`", map.join(", "))
        }
    }
}

/// "wide inputs give `g.left_half()`, tall inputs give `g.top_half()`" where each
/// orientation of the inputs goes with one call, in every pair.
fn by_orientation(task: &Task, named: &[&str]) -> Option<String> {
    let mut groups: Vec<(&str, &str)> = Vec::new();
    for (e, &name) in task.train.iter().zip(named) {
        match groups.iter().find(|(w, _)| *w == orientation(&e.input)) {
            Some((_, n)) if *n != name => return None,
            Some(_) => {}
            None => groups.push((orientation(&e.input), name)),
        }
    }
    let said: Vec<String> = groups.iter().map(|(w, n)| format!("{w} inputs give `{n}`")).collect();
    Some(said.join(", "))
}

/// "wide", "tall" or "square".
fn orientation(g: &Grid) -> &'static str {
    match g.rows().cmp(&g.cols()) {
        std::cmp::Ordering::Less => "wide",
        std::cmp::Ordering::Greater => "tall",
        std::cmp::Ordering::Equal => "square",
    }
}

/// The output as input-sized blocks, each a turn or mirror of the input, written as the
/// DSL expression that builds it (`g.vcat(g.flip_v())`, `g.tile(2, 2)`); `None` unless the
/// output is a grid of at least two such blocks.
fn layout(input: &Grid, output: &Grid) -> Option<String> {
    let ((h, w), (oh, ow)) = (input.shape(), output.shape());
    if h == 0 || w == 0 || oh % h != 0 || ow % w != 0 || oh * ow == h * w {
        return None;
    }
    let (down, across) = (oh / h, ow / w);
    let views = views(input);
    let block = |i: usize, j: usize| -> Option<&'static str> {
        let fits =
            |v: &Grid| v.shape() == (h, w) && (0..h).all(|r| v.row(r) == &output.row(i * h + r)[j * w..(j + 1) * w]);
        views.iter().find(|(_, v)| fits(v)).map(|(name, _)| *name)
    };
    let blocks: Vec<Vec<&str>> =
        (0..down).map(|i| (0..across).map(|j| block(i, j)).collect()).collect::<Option<_>>()?;
    if blocks.iter().flatten().all(|b| *b == "g") {
        return Some(format!("`g.tile({down}, {across})`"));
    }
    let rows: Vec<String> = blocks
        .iter()
        .map(|row| row.iter().skip(1).fold(row[0].to_string(), |acc, b| format!("{acc}.hcat({b})")))
        .collect();
    let whole = rows.iter().skip(1).fold(rows[0].clone(), |acc, r| format!("{acc}.vcat({r})"));
    Some(format!("`{whole}`"))
}

/// Where every output is filled with one colour and differs in shape from its input: that
/// colour, as the input's only colour other than 0 where it is that in every pair, else per pair.
fn one_colour(task: &Task) -> String {
    let colours: Option<Vec<usize>> = task.train.iter().map(|e| single_colour(&e.output)).collect();
    let Some(colours) = colours.filter(|_| every_pair(task, |e| e.input.shape() != e.output.shape())) else {
        return String::new();
    };
    let only = |e: &Example| {
        let h = e.input.histogram();
        let others: Vec<usize> = (1..10).filter(|&c| h[c] > 0).collect();
        (others.len() == 1).then(|| others[0])
    };
    if task.train.iter().zip(&colours).all(|(e, &c)| only(e) == Some(c)) {
        return " Each output is all one colour: its input's only colour other than 0.".into();
    }
    let per_pair: Vec<String> = colours.iter().map(|c| c.to_string()).collect();
    format!(" Each output is all one colour: {}.", same_or_per_pair(&per_pair))
}

/// The grid's colour when it has only one.
fn single_colour(g: &Grid) -> Option<usize> {
    let h = g.histogram();
    (h.iter().filter(|&&n| n > 0).count() == 1).then(|| h.iter().position(|&n| n > 0).unwrap())
}

/// Whether the task has training pairs and `f` holds for every one.
fn every_pair(task: &Task, f: impl Fn(&Example) -> bool) -> bool {
    !task.train.is_empty() && task.train.iter().all(f)
}

/// " Every row of every output is one colour." (or column) where that holds, outputs are
/// not one colour throughout, and inputs' rows (columns) are not all one colour already.
fn uniform_lines(task: &Task) -> String {
    let rows_uniform = |g: &Grid| (0..g.rows()).all(|r| g.row(r).iter().all(|&v| v == g.row(r)[0]));
    let cols_uniform = |g: &Grid| rows_uniform(&g.transform(crate::grid::Dihedral::Transpose));
    let all = |f: &dyn Fn(&Example) -> bool| every_pair(task, f);
    if all(&|e| single_colour(&e.output).is_some()) {
        return String::new();
    }
    if all(&|e| rows_uniform(&e.output) && e.output.cols() > 1) && !all(&|e| rows_uniform(&e.input)) {
        " Every row of every output is one colour.".into()
    } else if all(&|e| cols_uniform(&e.output) && e.output.rows() > 1) && !all(&|e| cols_uniform(&e.input)) {
        " Every column of every output is one colour.".into()
    } else {
        String::new()
    }
}

/// What output sizes share when they vary and differ from their inputs': one row or one column, or as many cells as
/// the input has cells that are not 0 (a count drawn as a bar). "" when none holds.
fn sizes(task: &Task) -> String {
    let all = |f: &dyn Fn(&Example) -> bool| every_pair(task, f);
    if all(&|e| e.output.shape() == task.train[0].output.shape())
        || all(&|e| e.output.cells().len() == e.input.cells().len())
    {
        return String::new();
    }
    let mut out = String::new();
    if all(&|e| e.output.rows() == 1) {
        out.push_str(" Every output is one row.");
    } else if all(&|e| e.output.cols() == 1) {
        out.push_str(" Every output is one column.");
    }
    if all(&|e| e.output.cells().len() == e.input.cells().iter().filter(|&&v| v != 0).count()) {
        out.push_str(" Each output has as many cells as its input has cells that are not 0.");
    }
    out
}

/// Each pair's colour map ("pair 1: 5->4, 4->0"), when in every pair each changed colour
/// changes on all its cells, to one colour; `None` otherwise.
fn colour_maps_per_pair(task: &Task) -> Option<String> {
    let mut out = Vec::new();
    for (i, e) in task.train.iter().enumerate() {
        let mut to: [Option<u8>; 10] = [None; 10];
        for (&a, &b) in e.input.cells().iter().zip(e.output.cells()) {
            match to[a as usize] {
                None => to[a as usize] = Some(b),
                Some(t) if t != b => return None,
                _ => {}
            }
        }
        let moves: Vec<String> =
            (0..10).filter_map(|a| to[a].filter(|&b| b as usize != a).map(|b| format!("{a}->{b}"))).collect();
        out.push(format!("pair {}: {}", i + 1, if moves.is_empty() { "none".to_string() } else { moves.join(", ") }));
    }
    Some(out.join("; "))
}

fn shape(g: &Grid) -> String {
    format!("{}x{}", g.rows(), g.cols())
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
