//! The program library: verified programs from any source (the reference solutions,
//! runs' `programs.jsonl`, merged libraries, `.rhai` files), re-verified in the sandbox,
//! deduplicated, exported. A library file has the `programs.jsonl` format, one
//! [`ProgramRecord`] per line, so `search --library` reads either.
//!
//! **Invariant:** a program counts (in coverage, in a merged library) only after the
//! sandbox re-ran it on its task: every training output and every known test output
//! reproduced. Anything else is [`Status::Stale`] or [`Status::UnknownTask`].

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::dsl::syntax;
use crate::grid::Grid;
use crate::prompt::{Features, Library, LibraryEntry};
use crate::sandbox::Sandbox;
use crate::search::ProgramRecord;
use crate::task::Task;

#[derive(Debug, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct LibraryError {
    pub file: String,
    pub problem: String,
}

/// A program and where it was read from (`file`, or `file:line` for JSON Lines).
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub record: ProgramRecord,
    pub origin: String,
}

/// The built-in reference solutions (`dsl/solutions/`), with source `reference`.
pub fn reference() -> Vec<Loaded> {
    let features: BTreeMap<String, Features> =
        serde_json::from_str(crate::prompt::SOLUTION_FEATURES).expect("features.json is valid");
    Library::reference_solutions()
        .iter()
        .map(|(task, program)| Loaded {
            record: ProgramRecord {
                task: task.to_string(),
                program: program.trim().to_string(),
                source: "reference".into(),
                round: 0,
                tokens: 0,
                features: features.get(*task).cloned().unwrap_or_default(),
                run: "dsl/solutions".into(),
                date: String::new(),
            },
            origin: format!("dsl/solutions/{task}.rhai"),
        })
        .collect()
}

/// The worked examples of LLM prompts: the programs of `spec` (see [`load`]; `search
/// --library`), else the built-in reference solutions.
pub fn worked_examples(spec: Option<&Path>) -> Result<Library, LibraryError> {
    let loaded = match spec {
        Some(spec) => load(spec)?,
        None => reference(),
    };
    if loaded.is_empty() {
        let file = spec.map_or_else(|| "reference".to_string(), |p| p.display().to_string());
        return Err(LibraryError { file, problem: "the library holds no programs".into() });
    }
    Ok(Library::from_entries(loaded.into_iter().map(|l| LibraryEntry {
        task: l.record.task,
        program: l.record.program,
        features: l.record.features,
    })))
}

/// Loads programs from `spec`: `reference` (the built-in solutions), a `.jsonl` file
/// (a run's `programs.jsonl` or a library; any other file that is not `.rhai` is read
/// as one too), a run directory (its `programs.jsonl`), a
/// `.rhai` file (the task id is its file name) or a directory of `.rhai` files. Missing
/// provenance is filled in: the run from the file's folder, the date from its mtime.
pub fn load(spec: &Path) -> Result<Vec<Loaded>, LibraryError> {
    if spec == Path::new("reference") && !spec.exists() {
        return Ok(reference());
    }
    let err = |problem: String| LibraryError { file: spec.display().to_string(), problem };
    if spec.is_dir() {
        let jsonl = spec.join("programs.jsonl");
        if jsonl.is_file() {
            return load(&jsonl);
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(spec)
            .map_err(|e| err(format!("cannot read the directory: {e}")))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(err("holds neither programs.jsonl nor .rhai files".into()));
        }
        return files.iter().map(|f| load_rhai(f)).collect();
    }
    match spec.extension().and_then(|x| x.to_str()) {
        Some("rhai") => Ok(vec![load_rhai(spec)?]),
        // A library under another name (`--library lib.txt`) is read as JSON Lines too.
        Some("jsonl") => load_jsonl(spec),
        _ if spec.is_file() => load_jsonl(spec),
        _ => Err(err("not a program source: give a .jsonl library, a .rhai file, a directory, or `reference`".into())),
    }
}

fn load_rhai(path: &Path) -> Result<Loaded, LibraryError> {
    let err = |problem: String| LibraryError { file: path.display().to_string(), problem };
    let program =
        crate::fsio::read_input(path, crate::fsio::MAX_INPUT_BYTES).map_err(|e| err(format!("cannot read: {e}")))?;
    let task = path.file_stem().and_then(|s| s.to_str()).ok_or_else(|| err("the file name is not a task id".into()))?;
    let record = ProgramRecord {
        task: task.to_string(),
        program: program.trim().to_string(),
        source: "file".into(),
        round: 0,
        tokens: 0,
        features: Features::default(),
        run: path.parent().map_or_else(String::new, |p| p.display().to_string()),
        date: modified(path),
    };
    Ok(Loaded { record, origin: path.display().to_string() })
}

fn load_jsonl(path: &Path) -> Result<Vec<Loaded>, LibraryError> {
    let err = |problem: String| LibraryError { file: path.display().to_string(), problem };
    let text =
        crate::fsio::read_input(path, crate::fsio::MAX_INPUT_BYTES).map_err(|e| err(format!("cannot read: {e}")))?;
    let records: Vec<ProgramRecord> = crate::fsio::parse_jsonl(&text)
        .map_err(|(n, e)| err(format!("line {n}: not a program record (task, program, source, ...): {e}")))?;
    let run = path
        .parent()
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    let date = modified(path);
    Ok(records
        .into_iter()
        .enumerate()
        .map(|(i, mut record)| {
            if record.run.is_empty() {
                record.run = run.clone().unwrap_or_default();
            }
            if record.date.is_empty() {
                record.date = date.clone();
            }
            Loaded { record, origin: format!("{}:{}", path.display(), i + 1) }
        })
        .collect())
}

fn modified(path: &Path) -> String {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(|t| humantime::format_rfc3339_seconds(t).to_string())
        .unwrap_or_default()
}

/// What re-running a program on its task showed.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Every training output and every known test output reproduced; the outputs on
    /// the training then test inputs.
    Verified(Vec<Grid>),
    /// It no longer reproduces its task: why.
    Stale(String),
    /// Its task is not among the tasks given.
    UnknownTask,
}

#[derive(Debug, Clone)]
pub struct Checked {
    pub loaded: Loaded,
    pub status: Status,
}

impl Checked {
    pub fn verified(&self) -> bool {
        matches!(self.status, Status::Verified(_))
    }

    /// Why it does not count; `None` when it is verified.
    pub fn problem(&self) -> Option<String> {
        match &self.status {
            Status::Verified(_) => None,
            Status::Stale(r) => Some(r.clone()),
            Status::UnknownTask => Some(format!("task {} not found among the tasks given", self.loaded.record.task)),
        }
    }
}

/// Re-runs every program on its task, in parallel. Verified records get their task's
/// features (so a merged library can serve as `--library`).
pub fn verify(sandbox: &Sandbox, programs: Vec<Loaded>, tasks: &[Task]) -> Vec<Checked> {
    let by_id: HashMap<&str, &Task> = tasks.iter().map(|t| (t.id.as_str(), t)).collect();
    programs
        .into_par_iter()
        .map(|mut loaded| {
            let status = match by_id.get(loaded.record.task.as_str()) {
                None => Status::UnknownTask,
                Some(task) => {
                    let status = check(sandbox, &loaded.record.program, task);
                    if matches!(status, Status::Verified(_)) {
                        loaded.record.features = Features::of(task);
                    }
                    status
                }
            };
            Checked { loaded, status }
        })
        .collect()
}

fn check(sandbox: &Sandbox, program: &str, task: &Task) -> Status {
    let compiled = match sandbox.compile(program) {
        Ok(p) => p,
        Err(e) => return Status::Stale(e.to_string()),
    };
    let mut outputs = Vec::new();
    for (kind, index, input, expected) in task.pairs() {
        match sandbox.run(&compiled, input) {
            Err(e) => return Status::Stale(format!("{kind} {index}: {e}")),
            Ok(got) if expected.is_some_and(|want| want != &got) => {
                return Status::Stale(format!("{kind} {index}: wrong output"))
            }
            Ok(got) => outputs.push(got),
        }
    }
    Status::Verified(outputs)
}

/// What `merge` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MergeStats {
    pub read: usize,
    pub stale: usize,
    pub unknown_task: usize,
    /// Dropped: the same normalised text as a kept program of the same task.
    pub same_text: usize,
    /// Dropped: the same outputs on every input of the task as a shorter program.
    pub same_behaviour: usize,
    pub kept: usize,
}

/// Keeps the verified programs, one per task and behaviour (outputs on all the task's
/// inputs) and never two with the same normalised text: the shortest (in normalised
/// characters; the first read on ties) with its provenance. Sorted by task, then length.
pub fn merge(checked: Vec<Checked>) -> (Vec<ProgramRecord>, MergeStats) {
    let mut stats = MergeStats { read: checked.len(), ..MergeStats::default() };
    let mut verified: Vec<(ProgramRecord, Vec<Grid>, String)> = Vec::new();
    for c in checked {
        match c.status {
            Status::Verified(out) => {
                let norm = syntax::normalised(&c.loaded.record.program);
                verified.push((c.loaded.record, out, norm));
            }
            Status::Stale(_) => stats.stale += 1,
            Status::UnknownTask => stats.unknown_task += 1,
        }
    }
    // A stable sort: equal lengths keep the order they were read in.
    verified.sort_by(|a, b| a.0.task.cmp(&b.0.task).then(a.2.len().cmp(&b.2.len())));
    let mut kept: Vec<(ProgramRecord, Vec<Grid>, String)> = Vec::new();
    for v in verified {
        // The kept program of the same task it repeats, if any: is the text the same?
        let twin = kept
            .iter()
            .rev()
            .take_while(|k| k.0.task == v.0.task)
            .find(|k| k.2 == v.2 || k.1 == v.1)
            .map(|k| k.2 == v.2);
        match twin {
            Some(true) => stats.same_text += 1,
            Some(false) => stats.same_behaviour += 1,
            None => kept.push(v),
        }
    }
    stats.kept = kept.len();
    (kept.into_iter().map(|k| k.0).collect(), stats)
}

/// The library as JSON Lines.
pub fn to_jsonl(records: &[ProgramRecord]) -> String {
    records.iter().map(|r| serde_json::to_string(r).expect("a record serialises") + "\n").collect()
}

/// All programs as one readable Rhai file: each program under a comment naming its task
/// and provenance. It is for reading and copying: the programs all define `solve`, so
/// the file is not one runnable program.
pub fn export_rhai(records: &[ProgramRecord]) -> String {
    let mut out = format!("// arcsynth program library: {} programs\n", records.len());
    for r in records {
        let mut about = format!("source {}", r.source);
        for (k, v) in [("run", &r.run), ("date", &r.date)] {
            if !v.is_empty() {
                about.push_str(&format!(", {k} {v}"));
            }
        }
        out.push_str(&format!("\n// ---- task {} ({about})\n{}\n", r.task, r.program.trim()));
    }
    out
}
