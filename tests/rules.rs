//! Local rewrite rules (`dsl::rules`): keys and rewrites mean what the reference says,
//! the Rhai surface agrees with the Rust one, and rules learned from real training pairs
//! predict the held-out test outputs.

mod common;

use std::time::Duration;

use arcsynth::dsl::rules::{self, Feature, LearnLimits};
use arcsynth::enumerate::{self, Budget};
use arcsynth::grid::Grid;
use arcsynth::sandbox::{Category, Limits, Sandbox};
use arcsynth::task;
use common::*;

fn grid(rows: &[&[i64]]) -> Grid {
    Grid::from_rows(&rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>()).unwrap()
}

#[test]
fn keys_follow_the_reference() {
    // 0 is the background (it covers a quarter of the grid).
    let g = grid(&[&[0, 2, 0, 5], &[0, 0, 0, 0], &[1, 0, 0, 3]]);
    let key = |r, c, f: &str| rules::cell_key(&g, r, c, &Feature::parse_list(f).unwrap());
    assert_eq!(key(0, 1, "n,ray_e").as_deref(), Some("2,x,5"), "the reference's example");
    assert_eq!(key(1, 1, "n,e,s,w").as_deref(), Some("0,2,0,0,0"));
    assert_eq!(key(1, 0, "ray_ne,ray_s,count8").as_deref(), Some("0,2,1,2"));
    assert_eq!(key(2, 3, "row,col,border").as_deref(), Some("3,13,35,1"));
    assert_eq!(key(0, 0, "").as_deref(), Some("0"), "no features: the colour alone");
    assert_eq!(key(1, 1, "sides,corners,around").as_deref(), Some("0,2,1,12"));
    assert_eq!(key(1, 1, "row_mod2_up,col_mod2_left").as_deref(), Some("0,1,0"));
    assert_eq!(key(3, 0, "n"), None, "outside the grid");
    let ring = grid(&[&[4, 4, 4, 0], &[4, 0, 4, 0], &[4, 4, 4, 0], &[0, 0, 0, 0]]);
    let keys = rules::cell_keys(&ring, &[Feature::Enclosed, Feature::Size]);
    assert_eq!(keys[5], "0,1,x", "the hole is enclosed background");
    assert_eq!(keys[0], "4,0,8", "the ring is one 8-cell region");
    assert_eq!(keys[3], "0,0,x");
    let keys = rules::cell_keys(&ring, &Feature::parse_list("between_h,between_v,touches,rect").unwrap());
    assert_eq!(keys[5], "0,1,1,x,x", "the hole sees the ring both ways; it is no region");
    assert_eq!(keys[0], "4,0,0,1,0", "the ring touches the border and does not fill its box");
    assert_eq!(keys[3], "0,0,0,x,x", "the ring is only to the left");
}

#[test]
fn a_rewrite_is_simultaneous_and_the_rhai_surface_agrees() {
    let g = grid(&[&[1, 0, 0], &[0, 0, 0], &[0, 0, 0]]);
    // "A black cell with blue above turns blue": cascading would fill the whole column.
    let table = rules::table_from([("0,1".to_string(), 1)]).unwrap();
    let want = grid(&[&[1, 0, 0], &[1, 0, 0], &[0, 0, 0]]);
    assert_eq!(rules::rewrite(&g, &[Feature::Neighbour(0)], &table), want);
    let sandbox = Sandbox::new(Limits::default());
    let out = sandbox.run_source(r#"fn solve(g) { g.rewrite("n", #{"0,1": 1}) }"#, &g).unwrap();
    assert_eq!(out, want);
    // Copying: black cells take the colour above them, again all at once.
    let copied = sandbox.run_source(r#"fn solve(g) { g.copy_color("n", "", ["0"]) }"#, &g).unwrap();
    assert_eq!(copied, grid(&[&[1, 0, 0], &[1, 0, 0], &[0, 0, 0]]));
    let key = sandbox.run_source(
        r#"fn solve(g) { if g.cell_key(1, 0, "n") == "0,1" && g.cell_key(9, 9, "n") == "" { g } else { 0 } }"#,
        &g,
    );
    assert_eq!(key.unwrap(), g);
    for (program, needle) in [
        (r#"fn solve(g) { g.rewrite("north", #{}) }"#, "unknown cell feature \"north\""),
        (r#"fn solve(g) { g.rewrite("n", #{"0,1": 12}) }"#, "12"),
        (r#"fn solve(g) { g.rewrite("n", #{"0,1": "red"}) }"#, "expected an integer"),
        (r#"fn solve(g) { g.copy_color("size", "", ["0"]) }"#, "is not a colour"),
        (r#"fn solve(g) { g.copy_color("n,s", "", ["0"]) }"#, "one feature"),
    ] {
        let e = sandbox.run_source(program, &g).unwrap_err();
        assert_eq!(e.category, Category::RuntimeError, "{program}");
        assert!(e.message.contains(needle), "{program}: {}", e.message);
    }
}

#[test]
fn rules_learned_from_training_pairs_predict_the_test_outputs() {
    // Tasks whose rule is local: a cell's new colour follows from what is around it.
    let limits = LearnLimits { max_features: 3, max_rules: 4, deadline: None };
    for id in ["3618c87e", "6e82a1ae", "d037b0a7", "7b6016b9", "aedd82e4"] {
        let t = task::load_one(&training_dir(), id).unwrap();
        let inputs: Vec<Grid> = t.train.iter().map(|e| e.input.clone()).collect();
        let outputs: Vec<Grid> = t.train.iter().map(|e| e.output.clone()).collect();
        let tests: Vec<Grid> = t.test.iter().map(|e| e.input.clone()).collect();
        let learned = rules::learn(&inputs, &outputs, &tests, limits);
        assert!(!learned.is_empty(), "{id}: no rule");
        for rules::Learned { rule, coverage, .. } in &learned {
            assert!((0.0..=1.0).contains(coverage));
            for (i, o) in inputs.iter().zip(&outputs) {
                assert_eq!(&rule.apply(i), o, "{id}: {rule:?} does not reproduce a training pair");
            }
        }
        let rules::Learned { rule: best, coverage, .. } = &learned[0];
        assert!(*coverage > 0.5, "{id}: the best rule knows only {coverage} of the test cells");
        for e in &t.test {
            assert_eq!(&best.apply(&e.input), e.output.as_ref().unwrap(), "{id}: {best:?} is wrong on test");
        }
    }
}

#[test]
fn inconsistent_or_reshaping_pairs_give_no_rule() {
    let a = grid(&[&[1, 0], &[0, 0]]);
    let limits = LearnLimits { max_features: 1, max_rules: 4, deadline: None };
    // The same cell, the same surroundings, two different answers.
    let learned =
        rules::learn(&[a.clone(), a.clone()], &[grid(&[&[2, 0], &[0, 0]]), grid(&[&[3, 0], &[0, 0]])], &[], limits);
    assert!(learned.is_empty(), "{learned:?}");
    assert!(rules::learn(std::slice::from_ref(&a), &[grid(&[&[1]])], &[], limits).is_empty(), "shape changes");
    assert!(
        rules::learn(std::slice::from_ref(&a), std::slice::from_ref(&a), &[], limits).is_empty(),
        "nothing changes"
    );
}

#[test]
fn the_enumerator_finishes_with_a_rule_and_reports_a_verified_program() {
    let sandbox = Sandbox::new(Limits::default());
    let budget = Budget { max_depth: 1, time: Duration::from_secs(10), ..Budget::default() };
    let full = task::load_one(&training_dir(), "d037b0a7").unwrap();
    let r = arcsynth::search::solve_with_enumerator(&sandbox, &full.without_test_outputs(), budget);
    assert!(r.solved_train);
    let program = &r.programs[0].program;
    assert!(program.contains("g.rewrite(") || program.contains("g.copy_color("), "{program}");
    for (a, t) in r.attempts.iter().zip(&full.test) {
        assert_eq!(&a.attempt_1, t.output.as_ref().unwrap());
    }
    // Without rules the same budget does not solve it.
    let off = Budget { rule_depth: None, ..budget };
    assert!(!arcsynth::search::solve_with_enumerator(&sandbox, &full.without_test_outputs(), off).solved_train);
}

#[test]
fn learned_rules_render_as_programs_that_do_the_same() {
    let sandbox = Sandbox::new(Limits::default());
    let set = task::load(&training_dir()).unwrap();
    let limits = LearnLimits { max_features: 2, max_rules: 4, deadline: None };
    let (mut paints, mut copies) = (0, 0);
    for t in &set.tasks {
        let inputs: Vec<Grid> = t.train.iter().map(|e| e.input.clone()).collect();
        let outputs: Vec<Grid> = t.train.iter().map(|e| e.output.clone()).collect();
        let tests: Vec<Grid> = t.test.iter().map(|e| e.input.clone()).collect();
        for rules::Learned { rule, .. } in rules::learn(&inputs, &outputs, &tests, limits) {
            match rule.action {
                rules::Action::Paint(_) => paints += 1,
                rules::Action::Copy(..) => copies += 1,
            }
            let op = enumerate::Op::Rewrite(std::sync::Arc::new(rule.clone()));
            let text = enumerate::program(&[op]);
            let program = sandbox.compile(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", t.id));
            for g in inputs.iter().chain(&tests) {
                assert_eq!(sandbox.run(&program, g).as_ref(), Ok(&rule.apply(g)), "{}:\n{text}", t.id);
            }
        }
    }
    assert!(paints > 50 && copies > 0, "{paints} paint rules, {copies} copy rules");
}

/// A rule that holds out (learned again without each training pair, it still predicts
/// that pair) is far more often right on test than one that only fits: over every
/// training task, the best rule learned from its pairs, split by `holds_out`.
#[test]
fn rules_that_hold_out_are_right_on_test_far_more_often_than_rules_that_only_fit() {
    let limits = LearnLimits { max_features: 2, max_rules: 1, deadline: None };
    let set = task::load(&training_dir()).unwrap();
    // (holds out, right on test) -> tasks
    let mut counts = std::collections::BTreeMap::<(bool, bool), usize>::new();
    for t in &set.tasks {
        let inputs: Vec<Grid> = t.train.iter().map(|e| e.input.clone()).collect();
        let outputs: Vec<Grid> = t.train.iter().map(|e| e.output.clone()).collect();
        let tests: Vec<Grid> = t.test.iter().map(|e| e.input.clone()).collect();
        let Some(best) = rules::learn(&inputs, &outputs, &tests, limits).into_iter().next() else { continue };
        let right = t.test.iter().all(|e| Some(best.rule.apply(&e.input)) == e.output);
        *counts.entry((best.holds_out, right)).or_default() += 1;
    }
    let n = |k: (bool, bool)| counts.get(&k).copied().unwrap_or(0);
    let precision = |held: bool| n((held, true)) as f64 / (n((held, true)) + n((held, false))).max(1) as f64;
    eprintln!("{counts:?}: precision {:.2} holding out, {:.2} not", precision(true), precision(false));
    assert!(n((true, true)) >= 20, "{counts:?}");
    assert!(precision(true) >= 0.8 && precision(false) <= 0.5, "{counts:?}");
}
