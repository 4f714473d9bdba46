//! ARC tasks and their loading: a directory of per-task JSON files, one task file, or
//! Kaggle's combined `*_challenges.json` (with `*_solutions.json` beside it).
//!
//! Every problem in the input becomes a [`TaskError`] naming the file, the task, the
//! pair and what is wrong; nothing here panics on bad data.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::grid::{ColourPerm, Dihedral, Grid};

/// A training pair: both grids are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub input: Grid,
    pub output: Grid,
}

/// A test pair: the output is known only for evaluation sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPair {
    pub input: Grid,
    pub output: Option<Grid>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: String,
    pub train: Vec<Example>,
    pub test: Vec<TestPair>,
}

impl Task {
    /// Whether every test output is known (the task can be scored).
    pub fn has_test_outputs(&self) -> bool {
        self.test.iter().all(|t| t.output.is_some())
    }

    /// Every pair in order, training then test: (`train` or `test`, index within its
    /// kind, input, output when known).
    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, usize, &Grid, Option<&Grid>)> {
        let train = self.train.iter().enumerate().map(|(i, e)| ("train", i, &e.input, Some(&e.output)));
        train.chain(self.test.iter().enumerate().map(|(i, t)| ("test", i, &t.input, t.output.as_ref())))
    }

    /// The same task with test outputs removed, for checking that nothing reads them.
    pub fn without_test_outputs(&self) -> Task {
        let test = self.test.iter().map(|t| TestPair { input: t.input.clone(), output: None }).collect();
        Task { id: self.id.clone(), train: self.train.clone(), test }
    }

    /// Applies a dihedral transform and a colour permutation to every grid.
    pub fn augment(&self, t: Dihedral, p: &ColourPerm) -> Task {
        let f = |g: &Grid| g.transform(t).permute_colours(p);
        Task {
            id: self.id.clone(),
            train: self.train.iter().map(|e| Example { input: f(&e.input), output: f(&e.output) }).collect(),
            test: self.test.iter().map(|e| TestPair { input: f(&e.input), output: e.output.as_ref().map(f) }).collect(),
        }
    }
}

/// A bad task file, task or grid: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError {
    pub file: PathBuf,
    pub task: Option<String>,
    /// Which part of the task, e.g. `train pair 2 output`.
    pub at: Option<String>,
    pub problem: String,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(t) = &self.task {
            write!(f, ": task {t}")?;
        }
        if let Some(a) = &self.at {
            write!(f, ": {a}")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl std::error::Error for TaskError {}

/// The tasks found under a path, and the ones skipped because they were bad.
#[derive(Debug, Default)]
pub struct TaskSet {
    pub tasks: Vec<Task>,
    pub skipped: Vec<TaskError>,
}

impl TaskSet {
    pub fn get(&self, id: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }

    /// Turns skipped tasks into an error (for `--strict`).
    pub fn strict(self) -> Result<TaskSet, TaskError> {
        match self.skipped.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(TaskSet { tasks: self.tasks, skipped: Vec::new() }),
        }
    }
}

/// Loads tasks from a directory of task files, one task file, or a Kaggle
/// `*_challenges.json` file. Bad tasks are skipped and listed in the result;
/// an unreadable path is an error.
pub fn load(path: &Path) -> Result<TaskSet, TaskError> {
    let err = |problem: String| TaskError { file: path.to_path_buf(), task: None, at: None, problem };
    let meta = std::fs::metadata(path).map_err(|e| err(format!("cannot read: {e}")))?;
    if meta.is_dir() {
        return load_dir(path);
    }
    let value = read_json(path)?;
    let mut set = TaskSet::default();
    if !is_challenges_file(path) && !looks_combined(&value) {
        // A single task (or garbage that should be reported as one).
        let id = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        match parse_task(path, &id, &value) {
            Ok(t) => set.tasks.push(t),
            Err(e) => set.skipped.push(e),
        }
        return Ok(set);
    }
    load_combined(path, value)
}

/// Loads one task by id from `path` (a directory, task file or Kaggle file).
pub fn load_one(path: &Path, id: &str) -> Result<Task, TaskError> {
    if path.is_dir() {
        let file = path.join(format!("{id}.json"));
        if file.is_file() {
            return parse_task(&file, id, &read_json(&file)?);
        }
    }
    let mut set = load(path)?;
    if let Some(i) = set.tasks.iter().position(|t| t.id == id) {
        return Ok(set.tasks.swap_remove(i));
    }
    if let Some(e) = set.skipped.into_iter().find(|e| e.task.as_deref() == Some(id)) {
        return Err(e);
    }
    Err(TaskError {
        file: path.to_path_buf(),
        task: Some(id.to_string()),
        at: None,
        problem: "no such task here; `arcsynth show` lists task ids with --list".into(),
    })
}

fn load_dir(dir: &Path) -> Result<TaskSet, TaskError> {
    let err = |problem: String| TaskError { file: dir.to_path_buf(), task: None, at: None, problem };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| err(format!("cannot list directory: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .collect();
    files.sort();
    // A directory holding Kaggle combined files is loaded through them.
    let challenges: Vec<&PathBuf> = files.iter().filter(|p| is_challenges_file(p)).collect();
    let mut set = TaskSet::default();
    if !challenges.is_empty() {
        for file in challenges {
            let part = load_combined(file, read_json(file)?)?;
            set.tasks.extend(part.tasks);
            set.skipped.extend(part.skipped);
        }
        return Ok(set);
    }
    if files.is_empty() {
        return Err(err("no .json task files in this directory".into()));
    }
    for file in &files {
        let id = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        match read_json(file).and_then(|v| parse_task(file, &id, &v)) {
            Ok(t) => set.tasks.push(t),
            Err(e) => set.skipped.push(TaskError { task: Some(id), ..e }),
        }
    }
    Ok(set)
}

/// A Kaggle combined file is an object whose values are all task objects.
fn looks_combined(v: &Value) -> bool {
    v.as_object().is_some_and(|m| !m.is_empty() && m.values().all(|t| t.get("train").is_some()))
}

fn is_challenges_file(p: &Path) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with("_challenges.json"))
}

/// Kaggle combined format: `{"<id>": {"train": [...], "test": [{"input": ...}]}}`, with
/// test outputs in `<prefix>_solutions.json` (`{"<id>": [grid, ...]}`) when present.
fn load_combined(path: &Path, value: Value) -> Result<TaskSet, TaskError> {
    let Value::Object(map) = value else {
        return Err(TaskError {
            file: path.into(),
            task: None,
            at: None,
            problem: "expected a JSON object of tasks".into(),
        });
    };
    let solutions_path = path
        .to_str()
        .filter(|s| s.ends_with("_challenges.json"))
        .map(|s| PathBuf::from(s.replace("_challenges.json", "_solutions.json")))
        .filter(|p| p.is_file());
    let solutions = match &solutions_path {
        Some(p) => Some(read_json(p)?),
        None => None,
    };
    let mut set = TaskSet::default();
    for (id, task_value) in &map {
        let result = parse_task(path, id, task_value).and_then(|mut task| {
            if let (Some(sol), Some(sp)) = (&solutions, &solutions_path) {
                attach_solutions(sp, &mut task, sol.get(id))?;
            }
            Ok(task)
        });
        match result {
            Ok(t) => set.tasks.push(t),
            Err(e) => set.skipped.push(e),
        }
    }
    Ok(set)
}

fn attach_solutions(file: &Path, task: &mut Task, sol: Option<&Value>) -> Result<(), TaskError> {
    let err =
        |at: Option<String>, problem: String| TaskError { file: file.into(), task: Some(task.id.clone()), at, problem };
    let Some(sol) = sol else { return Ok(()) };
    let outs = sol.as_array().ok_or_else(|| err(None, "expected a list of test output grids".into()))?;
    if outs.len() != task.test.len() {
        return Err(err(None, format!("{} solutions for {} test inputs", outs.len(), task.test.len())));
    }
    for (i, v) in outs.iter().enumerate() {
        let at = format!("test pair {i} output");
        let g = parse_grid(v).map_err(|p| err(Some(at), p))?;
        task.test[i].output = Some(g);
    }
    Ok(())
}

fn read_json(path: &Path) -> Result<Value, TaskError> {
    let err = |problem: String| TaskError { file: path.to_path_buf(), task: None, at: None, problem };
    let text =
        crate::fsio::read_input(path, crate::fsio::MAX_INPUT_BYTES).map_err(|e| err(format!("cannot read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| err(format!("invalid JSON: {e}")))
}

/// The most training pairs, and the most test inputs, a task may have (ARC tasks have at
/// most 10 and 4). A task with more is skipped with an error, so a huge file cannot take
/// gigabytes of memory in every search thread.
pub const MAX_PAIRS: usize = 100;

/// Parses one task object.
pub fn parse_task(file: &Path, id: &str, v: &Value) -> Result<Task, TaskError> {
    let err = |at: Option<String>, problem: String| TaskError { file: file.into(), task: Some(id.into()), at, problem };
    let obj = v.as_object().ok_or_else(|| err(None, "expected a JSON object with \"train\" and \"test\"".into()))?;
    let pairs = |key: &str| -> Result<&Vec<Value>, TaskError> {
        obj.get(key)
            .ok_or_else(|| err(None, format!("missing \"{key}\"")))?
            .as_array()
            .ok_or_else(|| err(None, format!("\"{key}\" must be a list of pairs")))
    };
    let grid_at = |pair: &Value, kind: &str, i: usize, key: &str| -> Result<Option<Grid>, TaskError> {
        let at = || Some(format!("{kind} pair {i} {key}"));
        match pair.get(key) {
            None => Ok(None),
            Some(g) => parse_grid(g).map(Some).map_err(|p| err(at(), p)),
        }
    };
    let mut train = Vec::new();
    let train_values = pairs("train")?;
    if train_values.is_empty() {
        return Err(err(None, "\"train\" has no pairs".into()));
    }
    if train_values.len() > MAX_PAIRS {
        return Err(err(None, format!("\"train\" has {} pairs; at most {MAX_PAIRS} are read", train_values.len())));
    }
    for (i, p) in train_values.iter().enumerate() {
        let input = grid_at(p, "train", i, "input")?
            .ok_or_else(|| err(Some(format!("train pair {i}")), "missing \"input\"".into()))?;
        let output = grid_at(p, "train", i, "output")?
            .ok_or_else(|| err(Some(format!("train pair {i}")), "missing \"output\"".into()))?;
        train.push(Example { input, output });
    }
    let mut test = Vec::new();
    let test_values = pairs("test")?;
    if test_values.is_empty() {
        return Err(err(None, "\"test\" has no inputs".into()));
    }
    if test_values.len() > MAX_PAIRS {
        return Err(err(None, format!("\"test\" has {} inputs; at most {MAX_PAIRS} are read", test_values.len())));
    }
    for (i, p) in test_values.iter().enumerate() {
        let input = grid_at(p, "test", i, "input")?
            .ok_or_else(|| err(Some(format!("test pair {i}")), "missing \"input\"".into()))?;
        let output = grid_at(p, "test", i, "output")?;
        test.push(TestPair { input, output });
    }
    Ok(Task { id: id.into(), train, test })
}

/// Parses a JSON grid, describing the first problem found.
pub fn parse_grid(v: &Value) -> Result<Grid, String> {
    let rows = v.as_array().ok_or("grid must be a list of rows")?;
    let mut out: Vec<Vec<i64>> = Vec::with_capacity(rows.len());
    for (r, row) in rows.iter().enumerate() {
        let row = row.as_array().ok_or_else(|| format!("row {r} is not a list"))?;
        let mut cells = Vec::with_capacity(row.len());
        for (c, cell) in row.iter().enumerate() {
            let n = cell.as_i64().ok_or_else(|| format!("cell ({r},{c}) is {cell}, not an integer"))?;
            cells.push(n);
        }
        out.push(cells);
    }
    Grid::from_rows(&out).map_err(|e| e.to_string())
}
