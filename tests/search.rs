//! The enumerator and `arcsynth search`: native transforms agree with their Rhai
//! rendering, known compositions are found, runs resume and survive a kill, and test
//! outputs never influence the answers.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arcsynth::enumerate::{self, Budget};
use arcsynth::sandbox::{Limits, Sandbox};
use arcsynth::task;
use common::*;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tasks")
}

#[test]
fn every_transform_matches_its_rhai_program_on_real_grids() {
    let sandbox = Sandbox::new(Limits::default());
    let set = task::load(&training_dir()).unwrap();
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for t in set.tasks.iter().step_by(16) {
        for op in enumerate::transforms(t) {
            let program = sandbox.compile(&enumerate::program(&[op])).unwrap_or_else(|e| panic!("{op:?}: {e}"));
            for e in t.train.iter().take(2) {
                let native = op.apply(&e.input).filter(|g| g.is_task_sized());
                let rhai = sandbox.run(&program, &e.input).ok();
                if native != rhai {
                    mismatches.push(format!("{}: {op:?}: native {:?} vs rhai {:?}", t.id, native.is_some(), rhai.is_some()));
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 2000, "{checked}");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn known_compositions_are_found_and_verified() {
    let sandbox = Sandbox::new(Limits::default());
    let budget = Budget { time: Duration::from_secs(20), ..Budget::default() };
    // (task, depth of the shortest known composition)
    for (id, depth) in [("3c9b0459", 1), ("0520fde7", 1), ("1c786137", 2), ("6d0aefbc", 1)] {
        let t = task::load_one(&training_dir(), id).unwrap().without_test_outputs();
        let r = arcsynth::search::solve_with_enumerator(&sandbox, &t, budget);
        assert!(r.solved_train, "{id} not solved");
        assert_eq!(r.depth_done, depth, "{id}");
        let full = task::load_one(&training_dir(), id).unwrap();
        for (a, t) in r.attempts.iter().zip(&full.test) {
            let want = t.output.as_ref().unwrap();
            assert!(&a.attempt_1 == want || &a.attempt_2 == want, "{id}: wrong test answer");
        }
    }
}

#[test]
fn unsolved_tasks_still_get_attempts_for_every_test_input() {
    let sandbox = Sandbox::new(Limits::default());
    let budget = Budget { max_depth: 1, time: Duration::from_secs(5), ..Budget::default() };
    // A task no single transform solves.
    let t = task::load_one(&training_dir(), "a64e4611").unwrap().without_test_outputs();
    let r = arcsynth::search::solve_with_enumerator(&sandbox, &t, budget);
    assert!(!r.solved_train);
    assert_eq!(r.attempts.len(), t.test.len());
    assert_ne!(r.answer_source, "program");
}

fn search(tasks: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["search", "--tasks", tasks.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    arcsynth(&args)
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

#[test]
fn search_on_the_examples_writes_all_outputs_and_resumes() {
    let out = temp_dir("search-examples").join("run");
    let first = search(&examples(), &out, &["--time-per-task", "5"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let s = stdout(&first);
    assert!(s.contains("tasks: 20 (0 resumed)"), "{s}");
    let sub = read_json(&out.join("submission.json"));
    assert_eq!(sub.as_object().unwrap().len(), 20);
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["tasks"], 20);
    // The report's score is the score command's score.
    let scored = arcsynth(&["score", out.join("submission.json").to_str().unwrap(), "--tasks", examples().to_str().unwrap(), "--json"]);
    assert_eq!(read_json_str(&stdout(&scored))["total"], report["pass_at_2"]);
    // Every program line is a verified program for its task.
    let sandbox = Sandbox::new(Limits::default());
    let programs = std::fs::read_to_string(out.join("programs.jsonl")).unwrap();
    assert!(programs.lines().count() >= 10, "{programs}");
    for line in programs.lines() {
        let rec: arcsynth::search::ProgramRecord = serde_json::from_str(line).unwrap();
        let t = task::load_one(&examples(), &rec.task).unwrap();
        let p = sandbox.compile(&rec.program).unwrap();
        assert!(t.train.iter().all(|e| sandbox.run(&p, &e.input).unwrap() == e.output), "{}", rec.task);
    }
    // Rerunning resumes: nothing is searched again and the outputs are unchanged.
    let again = search(&examples(), &out, &["--time-per-task", "5"]);
    assert!(again.status.success());
    assert!(stdout(&again).contains("tasks: 20 (20 resumed)"), "{}", stdout(&again));
    assert_eq!(read_json(&out.join("submission.json")), sub);
}

fn read_json_str(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap()
}

#[test]
fn a_killed_search_restarts_without_recomputing_finished_tasks() {
    let out = temp_dir("search-kill").join("run");
    let data = training_dir();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_arcsynth"))
        .args(["search", "--tasks", data.to_str().unwrap(), "--out", out.to_str().unwrap(), "--max-tasks", "12", "--time-per-task", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let results = out.join("results");
    let start = Instant::now();
    let count = |d: &Path| std::fs::read_dir(d).map(|r| r.filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json")).count()).unwrap_or(0);
    while count(&results) < 3 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done = count(&results);
    assert!(done >= 3, "only {done} results before the kill");
    // What was written before the kill is whole.
    let before: Vec<(PathBuf, std::time::SystemTime)> = std::fs::read_dir(&results)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            read_json(&p);
            let m = std::fs::metadata(&p).unwrap().modified().unwrap();
            (p, m)
        })
        .collect();
    read_json(&out.join("submission.json"));
    let again = search(&data, &out, &["--max-tasks", "12", "--time-per-task", "2"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains(&format!("tasks: 12 ({} resumed)", before.len())), "{}", stdout(&again));
    for (p, m) in before {
        assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), m, "{} was recomputed", p.display());
    }
    assert_eq!(read_json(&out.join("submission.json")).as_object().unwrap().len(), 12);
}

#[test]
fn test_outputs_do_not_change_the_submission() {
    // Tasks the enumerator finishes well inside its budget, so timing cannot matter.
    let ids = ["3c9b0459", "0520fde7", "6d0aefbc", "a416b8f3", "25ff71a9"];
    let dir = temp_dir("leak");
    let (with, without) = (dir.join("with"), dir.join("without"));
    std::fs::create_dir_all(&with).unwrap();
    std::fs::create_dir_all(&without).unwrap();
    for id in ids {
        let raw = std::fs::read(training_dir().join(format!("{id}.json"))).unwrap();
        std::fs::write(with.join(format!("{id}.json")), &raw).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        for t in v["test"].as_array_mut().unwrap() {
            t.as_object_mut().unwrap().remove("output");
        }
        std::fs::write(without.join(format!("{id}.json")), serde_json::to_vec(&v).unwrap()).unwrap();
    }
    let a = search(&with, &dir.join("run-with"), &["--time-per-task", "20"]);
    let b = search(&without, &dir.join("run-without"), &["--time-per-task", "20"]);
    assert!(a.status.success() && b.status.success());
    assert_eq!(read_json(&dir.join("run-with/submission.json")), read_json(&dir.join("run-without/submission.json")));
    assert!(!stdout(&b).contains("pass@2"), "no score without test outputs");
}

#[test]
fn search_refuses_what_it_cannot_do_with_one_line_errors() {
    let out = temp_dir("search-bad").join("run");
    let llm = search(&examples(), &out, &["--proposer", "llm"]);
    assert_eq!(llm.status.code(), Some(2));
    assert!(stderr(&llm).contains("not built yet"), "{}", stderr(&llm));
    let unwritable = search(&examples(), Path::new("/proc/arcsynth-run"), &[]);
    assert_eq!(unwritable.status.code(), Some(2));
    assert!(stderr(&unwritable).contains("/proc/arcsynth-run: cannot write the run directory"), "{}", stderr(&unwritable));
    let depth = search(&examples(), &out, &["--depth", "9"]);
    assert_eq!(depth.status.code(), Some(2));
}
