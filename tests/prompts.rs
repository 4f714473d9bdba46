//! Prompts: the worked-example index matches the tasks, example choice never leaks a
//! task's own solution, refinement prompts show the failing pair, and the rendered
//! prompts are snapshots (`UPDATE_EXPECT=1 cargo test --test prompts` rewrites them, so
//! a template change shows up as a reviewed diff).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use arcsynth::evaluate;
use arcsynth::prompt::{self, Features, Library, Prompter, Templates};
use arcsynth::sandbox::{Limits, Sandbox};
use arcsynth::task;
use common::*;

#[test]
fn solution_features_match_their_tasks() {
    let dir = training_dir();
    let mut want = BTreeMap::new();
    for (id, _) in Library::reference_solutions() {
        let t = task::load_one(&dir, id).unwrap();
        want.insert(id.to_string(), Features::of(&t));
    }
    let text = serde_json::to_string_pretty(&want).unwrap() + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dsl/solutions/features.json");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    assert!(
        prompt::SOLUTION_FEATURES == text,
        "dsl/solutions/features.json is stale: run `UPDATE_EXPECT=1 cargo test --test prompts` and rebuild"
    );
    assert_eq!(arcsynth::library::worked_examples(None).unwrap().entries.len(), Library::reference_solutions().len());
}

#[test]
fn examples_are_alike_and_never_the_task_itself() {
    let lib = arcsynth::library::worked_examples(None).unwrap();
    let set = task::load(&training_dir()).unwrap();
    let mut same_shape = 0;
    let mut checked = 0;
    for (id, _) in Library::reference_solutions() {
        let t = set.get(id).unwrap();
        let chosen = lib.choose(t, 3);
        assert_eq!(chosen.len(), 3);
        assert!(chosen.iter().all(|e| e.task != t.id), "{id} got its own solution as an example");
        let f = Features::of(t);
        same_shape += chosen.iter().filter(|e| e.features.shape == f.shape).count();
        checked += 3;
    }
    // Most tasks have reference solutions of the same shape relation to show.
    assert!(same_shape * 10 > checked * 7, "{same_shape} of {checked}");
}

#[test]
fn refinement_prompts_show_the_failing_pair() {
    let sandbox = Sandbox::new(Limits::default());
    let t = task::load_one(&training_dir(), "3c9b0459").unwrap().without_test_outputs(); // rotate by 2
    let wrong = "fn solve(g) { g.flip_h() }";
    let e = &evaluate::evaluate(&sandbox, &[wrong], &t)[0];
    let p = Prompter::new(Templates::builtin(), arcsynth::library::worked_examples(None).unwrap(), 2);
    let m = p.refine(&p.first(&t, &sandbox), &t, wrong, &e.train);
    assert_eq!(m.iter().map(|m| m.role.as_str()).collect::<Vec<_>>(), ["system", "user", "assistant", "user"]);
    assert!(m[2].content.contains(wrong));
    let last = &m[3].content;
    for (pair, got) in t.train.iter().zip(&e.train) {
        let got = got.as_ref().unwrap();
        if got != &pair.output {
            assert!(last.contains(&pair.output.to_text()), "expected grid missing");
            assert!(last.contains(&got.to_text()), "actual grid missing");
        }
    }
    assert!(last.contains("cells wrong (marked x)"));
    // Runtime errors are shown with their message.
    let bad = "fn solve(g) { g.crop(0, 0) }";
    let e = &evaluate::evaluate(&sandbox, &[bad], &t)[0];
    let m = p.refine(&p.first(&t, &sandbox), &t, bad, &e.train);
    let text = &m[3].content;
    assert!(text.contains("runtime error") || text.contains("parse error"), "{text}");
}

/// A program that started from a blank grid where the output is mostly its input
/// (d511f180 swaps 5 and 8; every other cell stays) is told to start from the input; one
/// that got the unchanged cells right is not.
#[test]
fn refinement_says_when_unchanged_cells_were_lost() {
    let sandbox = Sandbox::new(Limits::default());
    let t = task::load_one(&training_dir(), "d511f180").unwrap().without_test_outputs();
    let p = Prompter::new(Templates::builtin(), arcsynth::library::worked_examples(None).unwrap(), 2);
    let first = p.first(&t, &sandbox);
    let refine = |program: &str| {
        let e = &evaluate::evaluate(&sandbox, &[program], &t)[0];
        p.refine(&first, &t, program, &e.train)[3].content.clone()
    };
    // Written by the model in the last benchmark run: the swap on a blank grid.
    let blank = "fn solve(g) {\n    let out = grid(g.rows(), g.cols());\n    for i in 0..g.rows() {\n        \
                 for j in 0..g.cols() {\n            if g.get(i, j) == 5 { out.set(i, j, 8); } \
                 else if g.get(i, j) == 8 { out.set(i, j, 5); }\n        }\n    }\n    out\n}";
    let text = refine(blank);
    assert!(text.contains("of the wrong cells should keep the colour they have in the input"), "{text}");
    assert!(text.contains("`let out = g;`"), "{text}");
    assert_eq!(text.matches("should keep").count(), 1, "said once: {text}");
    // Half the swap: the wrong cells are the ones that change.
    let text = refine("fn solve(g) { g.replace(5, 8) }");
    assert!(text.contains("cells wrong (marked x)") && !text.contains("should keep"), "{text}");
}

#[test]
fn prompt_snapshots() {
    let sandbox = Sandbox::new(Limits::default());
    let t = task::load_one(&training_dir(), "6150a2bd").unwrap().without_test_outputs();
    let p = Prompter::new(Templates::builtin(), arcsynth::library::worked_examples(None).unwrap(), 2);
    let first = p.first(&t, &sandbox);
    // The DSL reference has its own test; keep it out of the snapshot.
    let system = first[0].content.replace(p.reference.trim_end(), "<DSL reference>");
    let wrong = "fn solve(g) {\n    g.rotate(1)\n}";
    let e = &evaluate::evaluate(&sandbox, &[wrong], &t)[0];
    let refine = p.refine(&first, &t, wrong, &e.train);
    let text = format!("=== system\n{system}=== user\n{}=== refinement\n{}", first[1].content, refine[3].content);
    expect_test::expect_file!["snapshots/prompt_6150a2bd.txt"].assert_eq(&text);
}

#[test]
fn examples_by_fit_come_close_but_never_solve_the_task() {
    let sandbox = Sandbox::new(Limits::default());
    let lib = arcsynth::library::worked_examples(None).unwrap();
    let set = task::load(&training_dir()).unwrap();
    // 3c9b0459 turns the grid half round; 6150a2bd's solution (`g.rotate(2)`) solves it
    // too and must not be shown, while another quarter-turn or mirror program should.
    let t = set.get("3c9b0459").unwrap().without_test_outputs();
    let chosen = lib.choose_by_fit(&t, 3, &sandbox);
    assert_eq!(chosen.len(), 3);
    for e in &chosen {
        let eval = &evaluate::evaluate(&sandbox, &[e.program.as_str()], &t)[0];
        assert!(!eval.solves_train(), "{} solves 3c9b0459 and was shown", e.task);
        assert_ne!(e.task, t.id);
    }
    let geometry = ["rotate", "flip_h", "flip_v", "transpose"];
    assert!(geometry.iter().any(|g| chosen[0].program.contains(g)), "best example: {}", chosen[0].program);
    // The best fit scores at least as high as the examples the features alone pick.
    let fit_of = |p: &str| prompt::fit(&evaluate::evaluate(&sandbox, &[p], &t)[0], &t).unwrap_or(1.0);
    let by_features = lib.choose(&t, 3);
    assert!(fit_of(&chosen[0].program) >= by_features.iter().map(|e| fit_of(&e.program)).fold(0.0, f64::max));
}

#[test]
fn facts_say_shape_and_colours() {
    let set = task::load(&training_dir()).unwrap();
    let facts = |id: &str| prompt::facts(set.get(id).unwrap());
    // 3c9b0459 (rotate by 180): the turn, not the 24 cells that "change colour" by it.
    assert_eq!(
        facts("3c9b0459"),
        "Each output is its input turned or mirrored: `g.rotate(2)`. \
         Every output has the same shape as its input. Each output has the same colours as its input."
    );
    // 007bbfb7: 3x3 -> 9x9.
    assert!(
        facts("007bbfb7").starts_with("Every output is 3 times its input's rows and 3 times its columns."),
        "{}",
        facts("007bbfb7")
    );
    // d631b094: a 1xN row of the input's one colour, N its cells.
    assert!(facts("d631b094").contains("Outputs lose colours their inputs have: 0."), "{}", facts("d631b094"));
    assert!(
        facts("d631b094")
            .contains("Every output is one row. Each output has as many cells as its input has cells that are not 0."),
        "{}",
        facts("d631b094")
    );
    // f76d97a5: within each pair 5 takes the other colour, which becomes 0.
    assert!(facts("f76d97a5").ends_with("every cell of a colour the same way within each pair: pair 1: 4->0, 5->4; pair 2: 5->6, 6->0; pair 3: 5->9, 9->0."), "{}", facts("f76d97a5"));
    assert!(!facts("f76d97a5").contains("as many cells"), "{}", facts("f76d97a5"));
    // c8f0f002: 7 becomes 5.
    let f = facts("c8f0f002");
    assert!(f.contains("use colours their inputs lack: 5") && f.contains("lose colours their inputs have: 7"), "{f}");
    // ...on every cell of 7, and nothing else changes.
    assert!(
        f.starts_with("Each output is its input recoloured, every cell of a colour the same way in every pair (7->5): `g.replace(7, 5)`."),
        "{f}"
    );
    // 0d3d703e: one map of eight colours for the whole task, as one `recolor`.
    assert!(
        facts("0d3d703e").starts_with(r#"Each output is its input recoloured, every cell of a colour the same way in every pair (1->5, 2->6, 3->4, 4->3, 5->1, 6->2, 8->9, 9->8): `g.recolor(#{"1": 5, "2": 6, "3": 4, "4": 3, "5": 1, "6": 2, "8": 9, "9": 8})`."#),
        "{}",
        facts("0d3d703e")
    );
    // e9afcf9a: 3 becomes 9 on half its cells only: a list, no map.
    assert!(!facts("e9afcf9a").contains("every pair"), "{}", facts("e9afcf9a"));
    // 25ff71a9: the input one row down, and no list of colour changes.
    assert!(
        facts("25ff71a9").starts_with("Each output is its input moved by (1, 0) rows and columns: `g.shift(1, 0, 0)`."),
        "{}",
        facts("25ff71a9")
    );
    assert!(!facts("25ff71a9").contains("change colour"), "{}", facts("25ff71a9"));
    // 44f52bb0: a 1x1 answer, said as such; d631b094's row is in its input's colour, as
    // long as its count of non-0 cells: a grid made to size.
    assert!(facts("44f52bb0").contains("Every output is 1x1."), "{}", facts("44f52bb0"));
    // ...picked by a symmetry: symmetric inputs give 1, the others 7.
    assert!(
        facts("44f52bb0").starts_with(
            "Each output is picked by whether its input is its own left-right mirror: \
             `if g.is_symmetric_h() { grid(1, 1, 1) } else { grid(1, 1, 7) }`."
        ),
        "{}",
        facts("44f52bb0")
    );
    // 9565186b: all but the most common colour becomes 5.
    assert!(facts("9565186b").starts_with("Each output is its input with every cell not of its most common colour turned 5: `g.replace_not(g.most_common(), 5)`."), "{}", facts("9565186b"));
    assert!(
        facts("d631b094")
            .starts_with("Each output is all one colour: `grid(1, g.rows() * g.cols() - g.count(0), g.colors()[0])`."),
        "{}",
        facts("d631b094")
    );
    // Outputs of another shape: no cell-by-cell comparison.
    assert!(!facts("007bbfb7").contains("change colour"), "{}", facts("007bbfb7"));
    // 662c240a: the output is one of three stacked 3x3 blocks of the input.
    assert!(facts("662c240a").ends_with("Each output is a piece of its input, whose top-left cell is at (row, column) (6, 0), (3, 0), (6, 0), (0, 0)."), "{}", facts("662c240a"));
    // 49d1d64f: the input gains a one-cell border.
    assert!(facts("49d1d64f").ends_with("Each input appears unchanged in its output, with its top-left cell at (row, column) (1, 1), (1, 1), (1, 1)."), "{}", facts("49d1d64f"));
    // 7b7f7511: the output is one half of a doubled input, left or top.
    assert!(
        facts("7b7f7511").starts_with(
            "Each output is a part of its input (wide inputs give their left half, tall inputs give their top half): \
             `if g.cols() > g.rows() { g.left_half() } else { g.top_half() }`."
        ),
        "{}",
        facts("7b7f7511")
    );
    // 8be77c9e: the input with its top-bottom mirror below it, as the DSL expression.
    assert!(
        facts("8be77c9e")
            .starts_with("Each output is copies of its input side by side, turned or mirrored: `g.vcat(g.flip_v())`."),
        "{}",
        facts("8be77c9e")
    );
    // 6150a2bd: the whole output is the input turned; 3c9b0459 (same rule) says the same.
    assert!(
        facts("6150a2bd").starts_with("Each output is its input turned or mirrored: `g.rotate(2)`."),
        "{}",
        facts("6150a2bd")
    );
    assert!(
        facts("3c9b0459").starts_with("Each output is its input turned or mirrored: `g.rotate(2)`."),
        "{}",
        facts("3c9b0459")
    );
    // A colour map is no turn: d511f180 says nothing of the kind.
    assert!(!facts("d511f180").contains("turned"), "{}", facts("d511f180"));
    // f9012d9b: a 2x2 patch found all over its input says nothing.
    assert!(!facts("f9012d9b").contains("piece of its input"), "{}", facts("f9012d9b"));
}

/// Every DSL call the facts line names for the whole task (a turn, a move, a half, a
/// layout of copies, a colour map, a one-colour fill, an output picked by a reading of
/// the input) leads the line and is true: run as the program, it reproduces every training
/// output of the task it was stated for, over all 400 training tasks.
#[test]
fn dsl_calls_in_facts_hold_on_their_tasks() {
    let sandbox = Sandbox::new(Limits::default());
    let set = task::load(&training_dir()).unwrap();
    let (mut checked, mut right_on_test) = (0, 0);
    for t in &set.tasks {
        let facts = prompt::facts(t);
        let calls = prompt::whole_task_calls(t);
        // Such a call leads the line: the first call it names is one of them.
        if let Some(first) = facts.split('`').nth(1) {
            assert!(
                calls.is_empty() || calls.iter().any(|c| c == first),
                "{}: the line leads with `{first}`: {facts}",
                t.id
            );
        }
        for call in calls {
            assert!(facts.contains(&format!("`{call}`.")), "{}: `{call}` is not in its facts: {facts}", t.id);
            let program = format!("fn solve(g) {{ {call} }}");
            let eval = &evaluate::evaluate(&sandbox, &[program.as_str()], t)[0];
            assert!(eval.solves_train(), "{}: facts name `{call}`, which does not solve it: {facts}", t.id);
            checked += 1;
            let right = eval.test.iter().zip(&t.test).all(|(r, p)| r.as_ref().ok() == p.output.as_ref());
            right_on_test += right as usize;
        }
    }
    // Turns, moves, halves, layouts, colour maps, one-colour fills and outputs picked by a
    // reading of the input, over the training set.
    assert!(checked >= 25, "only {checked} calls checked");
    // And they generalise: what they give for the test inputs is right.
    eprintln!("{right_on_test} of {checked} calls right on test");
    assert_eq!(right_on_test, checked, "{right_on_test} of {checked} calls right on test");
}
