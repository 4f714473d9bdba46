//! Kaggle submissions and ARC Prize scoring.
//!
//! Format: `{"<task_id>": [{"attempt_1": grid, "attempt_2": grid}, ...]}` with one
//! object per test input, in order, both keys always present.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::grid::Grid;
use crate::task::{parse_grid, Task};

/// The two answers for one test input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempts {
    pub attempt_1: Grid,
    pub attempt_2: Grid,
}

/// Task id -> attempts per test input. A `BTreeMap` so files are written in a stable order.
pub type Submission = BTreeMap<String, Vec<Attempts>>;

/// Writes a submission atomically.
pub fn write(path: &Path, sub: &Submission) -> std::io::Result<()> {
    crate::fsio::write_json_atomic(path, sub)
}

/// The result of scoring a submission.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// Sum of task scores.
    pub total: f64,
    /// Number of tasks scored (tasks whose test outputs are known).
    pub max: usize,
    /// Score per task, 0.0..=1.0: the fraction of its test inputs answered correctly.
    pub tasks: BTreeMap<String, f64>,
    /// Scored tasks absent from the submission (they count 0).
    pub missing: Vec<String>,
    /// Task ids in the submission that are not among the tasks (ignored).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

/// The report `arcsynth score` prints: a line per task, the missing tasks, the total.
impl std::fmt::Display for Score {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (id, v) in &self.tasks {
            let mark = if self.missing.contains(id) { "  (missing)" } else { "" };
            writeln!(f, "{id}  {v:.3}{mark}")?;
        }
        if !self.missing.is_empty() {
            writeln!(f, "missing: {} tasks ({})", self.missing.len(), self.missing.join(", "))?;
        }
        write!(f, "total: {:.3} / {} ({:.1}%)", self.total, self.max, 100.0 * self.total / self.max.max(1) as f64)
    }
}

/// Scores a parsed submission file against tasks with known test outputs.
///
/// A task scores the fraction of its test inputs where attempt_1 or attempt_2 equals
/// the expected grid. An attempt that is not a valid grid simply does not match.
/// Tasks without test outputs are not scored.
pub fn score(sub: &Value, tasks: &[Task]) -> Result<Score, String> {
    let map = sub.as_object().ok_or("submission must be a JSON object of task id -> attempts")?;
    let mut result = Score { total: 0.0, max: 0, tasks: BTreeMap::new(), missing: Vec::new(), unknown: Vec::new() };
    for task in tasks.iter().filter(|t| t.has_test_outputs()) {
        result.max += 1;
        let Some(entry) = map.get(&task.id) else {
            result.missing.push(task.id.clone());
            result.tasks.insert(task.id.clone(), 0.0);
            continue;
        };
        let answers = entry.as_array().map(Vec::as_slice).unwrap_or(&[]);
        let correct = task
            .test
            .iter()
            .enumerate()
            .filter(|(i, t)| {
                let expected = t.output.as_ref().expect("filtered on known outputs");
                answers.get(*i).is_some_and(|a| {
                    ["attempt_1", "attempt_2"]
                        .iter()
                        .any(|k| a.get(k).and_then(|g| parse_grid(g).ok()).as_ref() == Some(expected))
                })
            })
            .count();
        let s = correct as f64 / task.test.len() as f64;
        result.total += s;
        result.tasks.insert(task.id.clone(), s);
    }
    result.unknown = map.keys().filter(|id| !tasks.iter().any(|t| &t.id == *id)).cloned().collect();
    Ok(result)
}
