//! Tasks, grids, submissions and scoring on the real ARC-AGI-1 training set.

mod common;

use std::path::Path;

use arcsynth::grid::{ColourPerm, Dihedral, Grid};
use arcsynth::submission::{self, Attempts, Submission};
use arcsynth::task::{self, Task};
use common::*;
use proptest::prelude::*;

fn all_tasks() -> Vec<Task> {
    let set = task::load(&training_dir()).unwrap();
    assert!(set.skipped.is_empty(), "skipped: {:?}", set.skipped);
    set.tasks
}

fn submission_from(tasks: &[Task], f: impl Fn(&Grid) -> (Grid, Grid)) -> Submission {
    tasks
        .iter()
        .map(|t| {
            let attempts = t
                .test
                .iter()
                .map(|p| {
                    let (a, b) = f(p.output.as_ref().unwrap());
                    Attempts { attempt_1: a, attempt_2: b }
                })
                .collect();
            (t.id.clone(), attempts)
        })
        .collect()
}

/// Changes every cell, so no altered grid can equal the original.
fn altered(g: &Grid) -> Grid {
    let cells = g.cells().iter().map(|v| (v + 1) % 10).collect();
    Grid::from_cells(g.rows(), g.cols(), cells).unwrap()
}

fn score_of(sub: &Submission, tasks: &[Task]) -> submission::Score {
    let dir = temp_dir("score");
    let path = dir.join("submission.json");
    submission::write(&path, sub).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    submission::score(&value, tasks).unwrap()
}

#[test]
fn all_400_training_tasks_load_with_test_outputs() {
    let tasks = all_tasks();
    assert_eq!(tasks.len(), 400);
    assert!(tasks.iter().all(|t| t.has_test_outputs()));
    assert!(tasks.iter().all(|t| !t.train.is_empty() && !t.test.is_empty()));
}

#[test]
fn own_test_outputs_score_400_either_attempt_and_altered_ones_score_0() {
    let tasks = all_tasks();
    let right = submission_from(&tasks, |g| (g.clone(), altered(g)));
    let swapped = submission_from(&tasks, |g| (altered(g), g.clone()));
    let wrong = submission_from(&tasks, |g| (altered(g), altered(&altered(g))));
    let s = score_of(&right, &tasks);
    assert_eq!((s.total, s.max), (400.0, 400));
    assert!(s.missing.is_empty());
    assert_eq!(score_of(&swapped, &tasks).total, 400.0);
    assert_eq!(score_of(&wrong, &tasks).total, 0.0);
}

#[test]
fn partial_tasks_score_fractions_and_missing_tasks_count_zero() {
    let tasks = all_tasks();
    let multi = tasks.iter().find(|t| t.test.len() == 2).expect("a task with two test inputs").clone();
    let single = tasks.iter().find(|t| t.test.len() == 1).unwrap().clone();
    let mut sub = submission_from(std::slice::from_ref(&multi), |g| (g.clone(), g.clone()));
    let second = &mut sub.get_mut(&multi.id).unwrap()[1];
    second.attempt_1 = altered(&second.attempt_1);
    second.attempt_2 = second.attempt_1.clone();
    let s = score_of(&sub, &[multi.clone(), single.clone()]);
    assert_eq!(s.tasks[&multi.id], 0.5);
    assert_eq!(s.missing, vec![single.id.clone()]);
    assert_eq!((s.total, s.max), (0.5, 2));
}

#[test]
fn score_command_prints_json_and_text() {
    let tasks = all_tasks();
    let sub = submission_from(&tasks[..3], |g| (g.clone(), g.clone()));
    let dir = temp_dir("score-cli");
    let path = dir.join("submission.json");
    submission::write(&path, &sub).unwrap();
    let out = arcsynth(&["score", path.to_str().unwrap(), "--tasks", training_dir().to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["total"], 3.0);
    assert_eq!(v["max"], 400);
    assert_eq!(v["missing"].as_array().unwrap().len(), 397);
    assert_eq!(v["tasks"][&tasks[0].id], 1.0);
    let text = arcsynth(&["score", path.to_str().unwrap(), "--tasks", training_dir().to_str().unwrap()]);
    assert!(stdout(&text).contains("total: 3.000 / 400"), "{}", stdout(&text));
}

#[test]
fn kaggle_combined_files_load_with_their_solutions() {
    let tasks = all_tasks();
    let dir = temp_dir("kaggle");
    let mut challenges = serde_json::Map::new();
    let mut solutions = serde_json::Map::new();
    for t in &tasks[..5] {
        let raw: serde_json::Value =
            serde_json::from_slice(&std::fs::read(training_dir().join(format!("{}.json", t.id))).unwrap()).unwrap();
        let mut raw = raw.clone();
        let outs: Vec<serde_json::Value> = raw["test"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .map(|p| p.as_object_mut().unwrap().remove("output").unwrap())
            .collect();
        challenges.insert(t.id.clone(), raw);
        solutions.insert(t.id.clone(), outs.into());
    }
    let ch = dir.join("arc-agi_training_challenges.json");
    std::fs::write(&ch, serde_json::to_vec(&challenges).unwrap()).unwrap();
    // Without solutions: test outputs are unknown.
    let set = task::load(&ch).unwrap();
    assert_eq!(set.tasks.len(), 5);
    assert!(set.tasks.iter().all(|t| !t.has_test_outputs()));
    // With solutions beside it: identical to the per-task files.
    std::fs::write(dir.join("arc-agi_training_solutions.json"), serde_json::to_vec(&solutions).unwrap()).unwrap();
    for source in [ch.as_path(), dir.as_path()] {
        let set = task::load(source).unwrap();
        for t in &set.tasks {
            assert_eq!(Some(t), tasks.iter().find(|x| x.id == t.id));
        }
        assert_eq!(set.tasks.len(), 5);
    }
}

#[test]
fn one_task_file_loads_with_its_stem_as_id() {
    let set = task::load(&training_dir().join("007bbfb7.json")).unwrap();
    assert_eq!(set.tasks.len(), 1);
    assert_eq!(set.tasks[0].id, "007bbfb7");
}

/// Bad inputs: (file content, words the error must contain).
const BAD: &[(&str, &str, &[&str])] = &[
    ("invalid_json", "{\"train\": [", &["invalid JSON"]),
    ("missing_train", r#"{"test": [{"input": [[1]]}]}"#, &["missing \"train\""]),
    (
        "ragged",
        r#"{"train": [{"input": [[1,2],[3]], "output": [[1]]}], "test": [{"input": [[1]]}]}"#,
        &["train pair 0 input", "row 1 has 1 cells"],
    ),
    (
        "non_integer",
        r#"{"train": [{"input": [[1,2.5]], "output": [[1]]}], "test": [{"input": [[1]]}]}"#,
        &["train pair 0 input", "not an integer"],
    ),
    (
        "string_cell",
        r#"{"train": [{"input": [[1]], "output": [["a"]]}], "test": [{"input": [[1]]}]}"#,
        &["train pair 0 output", "not an integer"],
    ),
    (
        "colour",
        r#"{"train": [{"input": [[1]], "output": [[1]]}], "test": [{"input": [[0,10]]}]}"#,
        &["test pair 0 input", "colour 10"],
    ),
    (
        "negative",
        r#"{"train": [{"input": [[-1]], "output": [[1]]}], "test": [{"input": [[1]]}]}"#,
        &["train pair 0 input", "colour -1"],
    ),
    (
        "empty_grid",
        r#"{"train": [{"input": [], "output": [[1]]}], "test": [{"input": [[1]]}]}"#,
        &["train pair 0 input", "empty"],
    ),
    (
        "empty_row",
        r#"{"train": [{"input": [[]], "output": [[1]]}], "test": [{"input": [[1]]}]}"#,
        &["train pair 0 input", "empty"],
    ),
    (
        "missing_output",
        r#"{"train": [{"input": [[1]]}], "test": [{"input": [[1]]}]}"#,
        &["train pair 0", "missing \"output\""],
    ),
    ("not_object", "[1, 2, 3]", &["expected a JSON object"]),
];

fn too_large() -> String {
    let row = format!("[{}]", vec!["0"; 31].join(","));
    format!(r#"{{"train": [{{"input": [{row}], "output": [[1]]}}], "test": [{{"input": [[1]]}}]}}"#)
}

#[test]
fn each_bad_task_file_gives_an_error_naming_file_and_problem() {
    let dir = temp_dir("bad");
    let mut cases: Vec<(String, String, Vec<&str>)> =
        BAD.iter().map(|(n, c, w)| (n.to_string(), c.to_string(), w.to_vec())).collect();
    cases.push(("too_large".into(), too_large(), vec!["train pair 0 input", "larger than 30x30"]));
    for (name, content, words) in &cases {
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, content).unwrap();
        let set = task::load(&file).unwrap_or_else(|e| task::TaskSet { tasks: vec![], skipped: vec![e] });
        assert!(set.tasks.is_empty(), "{name} loaded");
        let msg = set.skipped[0].to_string();
        assert!(msg.starts_with(&file.display().to_string()), "{name}: {msg}");
        for w in words {
            assert!(msg.contains(w), "{name}: {msg:?} lacks {w:?}");
        }
        // Through the binary: one line, exit code 2, no panic.
        let out = arcsynth(&["show", name, "--tasks", dir.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
        assert!(err.contains(&format!("{name}.json")) && err.contains(words[0]), "{name}: {err}");
        assert!(!err.contains("panicked"));
    }
}

#[test]
fn unreadable_paths_are_one_line_errors() {
    let missing = Path::new("/nonexistent/arcsynth/tasks");
    let e = task::load(missing).unwrap_err().to_string();
    assert!(e.contains("/nonexistent/arcsynth/tasks") && e.contains("cannot read"), "{e}");
    let out = arcsynth(&["score", "/nonexistent/sub.json", "--tasks", training_dir().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/sub.json: cannot read"), "{}", stderr(&out));
}

#[test]
fn only_regular_files_of_bounded_size_are_read() {
    // F5: /dev/zero was read to 4 GB; a FIFO blocked for good. Both are refused at once.
    let dir = temp_dir("irregular");
    let fifo = dir.join("fifo.json");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success());
    let mut paths = vec!["/dev/zero".to_string()];
    if made {
        paths.push(fifo.display().to_string());
    }
    for p in &paths {
        let start = std::time::Instant::now();
        let e = task::load(Path::new(p)).unwrap_err().to_string();
        assert!(e.starts_with(p.as_str()) && e.contains("not a regular file"), "{e}");
        let out = arcsynth(&["score", p, "--tasks", training_dir().to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{p}");
        assert!(stderr(&out).contains("not a regular file"), "{}", stderr(&out));
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "{p}: {:?}", start.elapsed());
    }
    // F6: a task with more pairs than any ARC task is skipped with a reason, not loaded.
    let pairs = vec![r#"{"input": [[1]], "output": [[2]]}"#; task::MAX_PAIRS + 1].join(",");
    let many = dir.join("many.json");
    std::fs::write(&many, format!(r#"{{"train": [{pairs}], "test": [{{"input": [[1]]}}]}}"#)).unwrap();
    let set = task::load(&many).unwrap();
    assert!(set.tasks.is_empty());
    assert!(set.skipped[0].to_string().contains("at most 100"), "{}", set.skipped[0]);
    // ...and a file over the size cap is not parsed at all (a 51 MB task took 2.4 GB).
    let big = dir.join("big.json");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(arcsynth::fsio::MAX_INPUT_BYTES + 1).unwrap();
    let e = task::load(&big).unwrap_err().to_string();
    assert!(e.contains("more than the"), "{e}");
}

#[test]
fn a_directory_skips_bad_tasks_unless_strict() {
    let dir = temp_dir("mixed");
    for id in ["007bbfb7", "00d62c1b"] {
        std::fs::copy(training_dir().join(format!("{id}.json")), dir.join(format!("{id}.json"))).unwrap();
    }
    std::fs::write(dir.join("broken.json"), "{").unwrap();
    let set = task::load(&dir).unwrap();
    assert_eq!(set.tasks.len(), 2);
    assert_eq!(set.skipped.len(), 1);
    assert_eq!(set.skipped[0].task.as_deref(), Some("broken"));

    let out = arcsynth(&["show", "--list", "--tasks", dir.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), "007bbfb7\n00d62c1b\n");
    assert!(stderr(&out).contains("skipped 1 bad ones"), "{}", stderr(&out));
    let strict = arcsynth(&["show", "--list", "--strict", "--tasks", dir.to_str().unwrap()]);
    assert_eq!(strict.status.code(), Some(2));
    assert!(stderr(&strict).contains("broken.json"));
}

#[test]
fn show_prints_plain_digits_when_piped() {
    let out = arcsynth(&["show", "007bbfb7", "--tasks", training_dir().to_str().unwrap()]);
    assert!(out.status.success());
    let s = stdout(&out);
    assert!(s.starts_with("task 007bbfb7 (5 train, 1 test)\n"));
    assert!(s.contains("077                 000077077"), "{s}");
    assert!(!s.contains('\x1b'));
}

fn arb_grid() -> impl Strategy<Value = Grid> {
    (1usize..=30, 1usize..=30).prop_flat_map(|(r, c)| {
        proptest::collection::vec(0u8..10, r * c).prop_map(move |cells| Grid::from_cells(r, c, cells).unwrap())
    })
}

fn arb_perm() -> impl Strategy<Value = ColourPerm> {
    Just((0u8..10).collect::<Vec<_>>()).prop_shuffle().prop_map(|v| ColourPerm::new(v.try_into().unwrap()).unwrap())
}

fn arb_dihedral() -> impl Strategy<Value = Dihedral> {
    proptest::sample::select(Dihedral::ALL.to_vec())
}

proptest! {
    #[test]
    fn dihedral_then_inverse_is_identity(g in arb_grid(), t in arb_dihedral()) {
        prop_assert_eq!(g.transform(t).transform(t.inverse()), g.clone());
        prop_assert_eq!(g.transform(t.inverse()).transform(t), g);
    }

    #[test]
    fn colour_perm_then_inverse_is_identity(g in arb_grid(), p in arb_perm()) {
        prop_assert_eq!(g.permute_colours(&p).permute_colours(&p.inverse()), g.clone());
        prop_assert_eq!(g.permute_colours(&p.inverse()).permute_colours(&p), g);
    }

    #[test]
    fn transforms_keep_histograms_and_swap_shapes_as_declared(g in arb_grid(), t in arb_dihedral()) {
        let h = g.transform(t);
        prop_assert_eq!(h.histogram(), g.histogram());
        let expect = if t.swaps_sides() { (g.cols(), g.rows()) } else { g.shape() };
        prop_assert_eq!(h.shape(), expect);
    }

    #[test]
    fn task_augmentation_keeps_shapes_consistent_and_inverts(idx in 0usize..400, t in arb_dihedral(), p in arb_perm()) {
        let tasks = TASKS.with(|c| c.clone());
        let task = &tasks[idx];
        let aug = task.augment(t, &p);
        for (a, e) in aug.train.iter().zip(&task.train) {
            let shape = |g: &Grid| if t.swaps_sides() { (g.cols(), g.rows()) } else { g.shape() };
            prop_assert_eq!(a.input.shape(), shape(&e.input));
            prop_assert_eq!(a.output.shape(), shape(&e.output));
            // Input/output shape relations (same shape, or not) survive augmentation.
            prop_assert_eq!(a.input.shape() == a.output.shape(), e.input.shape() == e.output.shape());
        }
        prop_assert_eq!(&aug.augment(t.inverse(), &ColourPerm::identity()).augment(Dihedral::Identity, &p.inverse()), task);
    }
}

thread_local! {
    static TASKS: std::rc::Rc<Vec<Task>> = std::rc::Rc::new(all_tasks());
}

/// JSON values shaped like tasks, with every kind of wrong part: missing keys, wrong
/// types, ragged or empty rows, out-of-range and non-integer cells, huge numbers.
fn arb_task_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{json, Value};
    let cell = prop_oneof![
        8 => (0i64..10).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(|f| json!(f)),
        1 => Just(json!("3")),
        1 => Just(Value::Null),
    ];
    let row = proptest::collection::vec(cell, 0..5).prop_map(Value::Array);
    let grid = prop_oneof![
        6 => proptest::collection::vec(row, 0..5).prop_map(Value::Array),
        1 => Just(json!([])),
        1 => Just(json!({"rows": 2})),
        1 => Just(json!(7)),
    ];
    // An object with each of two keys present or missing.
    let object = |(a, b): (&'static str, &'static str)| {
        move |(x, y, has_x, has_y): (Value, Value, bool, bool)| {
            let entries = [(a, x, has_x), (b, y, has_y)];
            Value::Object(entries.into_iter().filter(|e| e.2).map(|(k, v, _)| (k.to_string(), v)).collect())
        }
    };
    let pair = (grid.clone(), grid, any::<bool>(), any::<bool>()).prop_map(object(("input", "output")));
    let pairs =
        prop_oneof![4 => proptest::collection::vec(pair, 0..4).prop_map(Value::Array), 1 => Just(json!("pairs"))];
    (pairs.clone(), pairs, any::<bool>(), any::<bool>()).prop_map(object(("train", "test")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_task_json_loads_or_is_a_one_line_error(v in arb_task_json()) {
        // Fuzzing the task parser: no panic, and every refusal one line naming the file.
        match task::parse_task(Path::new("fuzz.json"), "fuzz", &v) {
            Ok(t) => prop_assert!(!t.train.is_empty() && !t.test.is_empty()),
            Err(e) => {
                let m = e.to_string();
                prop_assert!(m.starts_with("fuzz.json") && !m.contains('\n'), "{}", m);
            }
        }
    }

    #[test]
    fn mangled_task_files_load_or_are_one_line_errors(idx in 0usize..400, cuts in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        // Real task files with bytes overwritten: parsed or refused, never a panic.
        let tasks = TASKS.with(|c| c.clone());
        let path = training_dir().join(format!("{}.json", tasks[idx].id));
        let mut bytes = std::fs::read(&path).unwrap();
        for (at, b) in cuts {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let file = temp_dir("fuzz-tasks").join(format!("{}.json", tasks[idx].id));
        std::fs::write(&file, &bytes).unwrap();
        match task::load(&file) {
            Ok(set) => {
                for e in set.skipped {
                    prop_assert!(!e.to_string().contains('\n'), "{}", e);
                }
            }
            Err(e) => prop_assert!(!e.to_string().contains('\n'), "{}", e),
        }
    }
}
