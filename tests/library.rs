//! Coverage reports and the program library, on real ARC tasks and hand-made program
//! sets whose right numbers are known.

mod common;

use std::path::{Path, PathBuf};

use common::{arcsynth, stderr, stdout, temp_dir, training_dir};
use serde_json::{json, Value};

/// A task folder holding copies of these training tasks.
fn tasks(ids: &[&str]) -> PathBuf {
    let d = temp_dir("tasks");
    for id in ids {
        std::fs::copy(training_dir().join(format!("{id}.json")), d.join(format!("{id}.json"))).unwrap();
    }
    d
}

fn record(task: &str, program: &str, source: &str) -> String {
    json!({"task": task, "program": program, "source": source, "round": 0, "run": format!("run-{source}"), "date": "2026-11-01T00:00:00Z"}).to_string() + "\n"
}

fn run_ok(args: &[&str]) -> String {
    let o = arcsynth(args);
    assert!(o.status.success(), "arcsynth {args:?} failed: {}", stderr(&o));
    stdout(&o)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn coverage_counts_exactly_and_flags_stale_programs() {
    let tasks = tasks(&["6150a2bd", "3c9b0459", "68b16354", "74dd1130"]);
    let progs = temp_dir("rhai");
    std::fs::write(progs.join("6150a2bd.rhai"), "fn solve(g) { g.rotate(2) }").unwrap();
    std::fs::write(
        progs.join("3c9b0459.rhai"),
        "fn solve(g) {\n    // a half turn, in two flips\n    let h = g.flip_h();\n    h.flip_v()\n}\n",
    )
    .unwrap();
    // 68b16354 is a top-bottom mirror: this program is stale.
    std::fs::write(progs.join("68b16354.rhai"), "fn solve(g) { g.flip_h() }").unwrap();
    let lib = temp_dir("lib").join("lib.jsonl");
    std::fs::write(
        &lib,
        [
            record("6150a2bd", "fn solve(g) { g.flip_v().flip_h() }", "llm-x"),
            record("ffffffff", "fn solve(g) { g }", "llm-x"),
        ]
        .concat(),
    )
    .unwrap();

    let out =
        run_ok(&["coverage", "--programs", s(&progs), "--programs", s(&lib), "--tasks", s(&tasks), "--format", "json"]);
    let c: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (c["programs"].as_u64(), c["verified"].as_u64(), c["tasks"].as_u64(), c["tasks_covered"].as_u64()),
        (Some(5), Some(3), Some(4), Some(2))
    );
    assert_eq!(c["tasks_by_source"], json!({"file": 2, "llm-x": 1}));
    assert_eq!(c["per_task"], json!({"3c9b0459": ["file"], "6150a2bd": ["file", "llm-x"]}));
    assert_eq!(c["uncovered"], json!(["68b16354", "74dd1130"]));
    // The stale program's flip_h does not count.
    assert_eq!(
        c["primitives"],
        json!([
            {"name": "flip_h", "programs": 2, "tasks": 2},
            {"name": "flip_v", "programs": 2, "tasks": 2},
            {"name": "rotate", "programs": 1, "tasks": 1},
        ])
    );
    let unused: Vec<&str> = c["unused"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(unused.contains(&"transpose") && !unused.contains(&"rotate") && !unused.contains(&"flip_h"));
    assert_eq!(c["lengths"]["min"], 1);
    assert_eq!(c["lengths"]["median"], 1);
    assert_eq!(c["lengths"]["max"], 4);
    assert_eq!(c["lengths"]["mean"], 2.0);
    assert_eq!(c["lengths"]["histogram"][0], json!(["1", 2]));
    assert_eq!(c["lengths"]["histogram"][3], json!(["4-5", 1]));
    assert_eq!(c["always_together"], json!([{"a": "flip_h", "b": "flip_v", "programs": 2, "b_programs": 2}]));
    let stale = c["stale"].as_array().unwrap();
    assert_eq!(stale.len(), 2);
    assert_eq!(stale[0]["task"], "68b16354");
    assert_eq!(stale[0]["reason"], "train 0: wrong output");
    assert_eq!(stale[1]["task"], "ffffffff");
    assert!(stale[1]["origin"].as_str().unwrap().ends_with("lib.jsonl:2"));

    // The text summary says the same.
    let text = run_ok(&["coverage", "--programs", s(&progs), "--programs", s(&lib), "--tasks", s(&tasks)]);
    assert!(text.starts_with("programs: 5 read, 3 verified, 2 stale\ntasks: 2 of 4 covered (50.0%)\n"), "{text}");
}

#[test]
fn the_reference_solutions_all_verify() {
    let out = run_ok(&["coverage", "--tasks", s(&training_dir()), "--format", "json"]);
    let c: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(c["stale"], json!([]));
    assert_eq!(c["verified"], c["programs"]);
    assert!(c["verified"].as_u64().unwrap() >= 120);
    assert_eq!(c["tasks_by_source"]["reference"], c["tasks_covered"]);
}

#[test]
fn merge_dedups_by_text_and_behaviour_and_keeps_the_shortest() {
    let d = temp_dir("merge");
    // A task of our own whose test output is unknown, so that two programs can agree on
    // the training pair and differ on the test input.
    let own = d.join("tasks");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::copy(training_dir().join("6150a2bd.json"), own.join("6150a2bd.json")).unwrap();
    std::fs::write(
        own.join("swap01.json"),
        r#"{"train": [{"input": [[1, 0]], "output": [[0, 1]]}], "test": [{"input": [[1, 2]]}]}"#,
    )
    .unwrap();
    let a = d.join("a.jsonl");
    std::fs::write(
        &a,
        [
            record("6150a2bd", "fn solve(g) { g.flip_v().flip_h() }", "m1"),
            record("6150a2bd", "fn solve(g) { g.rotate(2) }", "m1"),
            record("6150a2bd", "fn solve(g) { g.flip_h() }", "m1"),
            record("swap01", "fn solve(g) { g.flip_h() }", "m1"),
        ]
        .concat(),
    )
    .unwrap();
    let b = d.join("b.jsonl");
    std::fs::write(
        &b,
        [
            record("6150a2bd", "// the same, spaced out\nfn solve(g) {\n    g.rotate(2)\n}", "m2"),
            record("6150a2bd", "fn solve(g) { g.flip_h().flip_v() }", "m2"),
            record("swap01", "fn solve(g) { g.replace(1, 9).replace(0, 1).replace(9, 0) }", "m2"),
        ]
        .concat(),
    )
    .unwrap();
    let out = d.join("merged.jsonl");
    let said = run_ok(&["library", "merge", s(&out), s(&a), s(&b), "--tasks", s(&own)]);
    assert!(said.starts_with("read 7: 1 stale, 0 of unknown tasks, 1 duplicate texts, 2 duplicate behaviours; kept 3 programs for 2 tasks"), "{said}");
    let kept: Vec<Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary: Vec<(&str, &str, &str)> = kept
        .iter()
        .map(|k| (k["task"].as_str().unwrap(), k["program"].as_str().unwrap(), k["source"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("6150a2bd", "fn solve(g) { g.rotate(2) }", "m1"),
            ("swap01", "fn solve(g) { g.flip_h() }", "m1"),
            ("swap01", "fn solve(g) { g.replace(1, 9).replace(0, 1).replace(9, 0) }", "m2"),
        ]
    );
    // Provenance is kept, and features are filled in for few-shot retrieval.
    assert_eq!((kept[0]["run"].as_str(), kept[0]["date"].as_str()), (Some("run-m1"), Some("2026-11-01T00:00:00Z")));
    assert_eq!(kept[0]["features"]["shape"], "same");
    let lib = arcsynth::library::worked_examples(Some(&out)).unwrap();
    assert_eq!(lib.entries.len(), 2, "one worked example per task");

    // Merging the merged library again changes nothing.
    let again = d.join("again.jsonl");
    run_ok(&["library", "merge", s(&again), s(&out), "--tasks", s(&own)]);
    assert_eq!(std::fs::read_to_string(&again).unwrap(), std::fs::read_to_string(&out).unwrap());

    let rhai = run_ok(&["library", "export", s(&out), "--format", "rhai"]);
    assert!(rhai.starts_with("// arcsynth program library: 3 programs\n"));
    assert!(
        rhai.contains(
            "\n// ---- task 6150a2bd (source m1, run run-m1, date 2026-11-01T00:00:00Z)\nfn solve(g) { g.rotate(2) }\n"
        ),
        "{rhai}"
    );
}

#[test]
fn a_search_run_feeds_the_library_with_provenance() {
    let tasks = tasks(&["6150a2bd", "68b16354"]);
    let run = temp_dir("run").join("my-run");
    run_ok(&["search", "--tasks", s(&tasks), "--out", s(&run), "--time-per-task", "2"]);
    let out = run.parent().unwrap().join("lib.jsonl");
    let said = run_ok(&["library", "merge", s(&out), s(&run), "reference", "--tasks", s(&tasks)]);
    // The reference solutions of other tasks are dropped as unknown; both tasks are kept.
    assert!(said.contains(" of unknown tasks") && said.contains("for 2 tasks"), "{said}");
    let kept: Vec<Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let from_run: Vec<&Value> = kept.iter().filter(|k| k["source"] == "enum").collect();
    for k in &from_run {
        assert_eq!(k["run"], "my-run");
        assert!(k["date"].as_str().unwrap().starts_with("20"), "{k}");
    }
}

#[test]
fn bad_program_sources_are_one_line_errors() {
    let d = temp_dir("bad");
    let junk = d.join("junk.jsonl");
    std::fs::write(&junk, "{\"task\": \"x\"}\n").unwrap();
    for (spec, want) in [
        (s(&junk).to_string(), "junk.jsonl: line 1: not a program record"),
        (s(&d.join("nope.txt")).to_string(), "nope.txt: not a program source"),
    ] {
        let o = arcsynth(&["coverage", "--programs", &spec, "--tasks", s(&training_dir())]);
        assert_eq!(o.status.code(), Some(2));
        let err = stderr(&o);
        assert!(err.contains(want) && err.trim().lines().count() == 1, "{err}");
    }
    let o = arcsynth(&["report", s(&d)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a run directory"), "{}", stderr(&o));
}
