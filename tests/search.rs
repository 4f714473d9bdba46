//! The enumerator and `arcsynth search`: native transforms agree with their Rhai
//! rendering, known compositions are found, runs resume and survive a kill, and test
//! outputs never influence the answers.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arcsynth::enumerate::{self, Budget};
use arcsynth::evaluate::cell_accuracy;
use arcsynth::grid::Grid;
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
    let mut variants = std::collections::BTreeSet::new();
    let mut mismatches = Vec::new();
    for (i, t) in set.tasks.iter().enumerate() {
        // Every task's transforms (some exist only for tasks of a certain shape), on
        // one of its inputs; every 16th task on two.
        for op in enumerate::transforms(t) {
            let program = sandbox
                .compile(&enumerate::program(std::slice::from_ref(&op)))
                .unwrap_or_else(|e| panic!("{op:?}: {e}"));
            for e in t.train.iter().take(if i % 16 == 0 { 2 } else { 1 }) {
                let native = op.apply(&e.input).filter(|g| g.is_task_sized());
                let rhai = sandbox.run(&program, &e.input).ok();
                if native != rhai {
                    mismatches.push(format!(
                        "{}: {op:?}: native {:?} vs rhai {:?}",
                        t.id,
                        native.is_some(),
                        rhai.is_some()
                    ));
                }
                checked += 1;
            }
            variants.insert(format!("{op:?}").split(['(', ' ']).next().unwrap().to_string());
        }
    }
    assert!(checked > 20_000, "{checked}");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // Every kind of transform was among them (learned rules are checked in tests/rules.rs).
    for v in [
        "Pick",
        "PickPart",
        "CropColour",
        "CropAt",
        "Part",
        "Fractal",
        "Pinwheel",
        "ReplaceNotMostCommon",
        "RecolorTable",
        "Combine",
        "Swap",
        "SwapColours",
        "ScaleDown",
        "Connect",
        "Rays",
        "ScaleByColours",
        "ColourList",
        "Hollow",
        "Attract",
        "RecolorBySize",
        "Unmask",
        "RecolorHoled",
        "ExtendEnds",
        "CopyTo",
        "CompleteCopies",
        "AttractOwn",
        "RingColours",
        "RepeatPart",
        "MirrorAcross",
        "MirrorAround",
        "RepeatBand",
        "AlignTo",
        "Elbow",
        "Hull",
        "FloodFrom",
        "MirrorTile",
        "ReflectTile",
    ] {
        assert!(variants.contains(v), "{v} never checked: {variants:?}");
    }
}

#[test]
fn known_compositions_are_found_and_verified() {
    let sandbox = Sandbox::new(Limits::default());
    let budget = Budget { time: Duration::from_secs(20), ..Budget::default() };
    // (task, depth of the shortest known composition)
    // Fractal, corner window, equal part, pinwheel and keep-the-majority each solve one.
    for (id, depth) in [
        ("3c9b0459", 1),
        ("0520fde7", 1),
        ("1c786137", 2),
        ("6d0aefbc", 1),
        ("007bbfb7", 1),
        ("5bd6f4ac", 1),
        ("2dee498d", 1),
        ("7fe24cdd", 1),
        ("9565186b", 1),
    ] {
        let t = task::load_one(&training_dir(), id).unwrap().without_test_outputs();
        let r = arcsynth::search::solve_with_enumerator(&sandbox, &t, budget);
        assert!(r.solved_train, "{id} not solved");
        assert_eq!(r.proposers.depth_done, depth, "{id}");
        let full = task::load_one(&training_dir(), id).unwrap();
        for (a, t) in r.attempts.iter().zip(&full.test) {
            let want = t.output.as_ref().unwrap();
            assert!(&a.attempt_1 == want || &a.attempt_2 == want, "{id}: wrong test answer");
        }
    }
}

/// The enumerator solves training task `id` with a program that contains `call`, and
/// its first attempt is right on every test input.
fn assert_solved_by(sandbox: &Sandbox, budget: Budget, id: &str, call: &str) {
    let full = task::load_one(&training_dir(), id).unwrap();
    let r = arcsynth::search::solve_with_enumerator(sandbox, &full.without_test_outputs(), budget);
    assert!(r.solved_train, "{id} not solved");
    assert!(r.programs.iter().any(|p| p.program.contains(call)), "{id}: {:?}", r.programs);
    for (a, t) in r.attempts.iter().zip(&full.test) {
        assert_eq!(&a.attempt_1, t.output.as_ref().unwrap(), "{id}: wrong test answer");
    }
}

/// Tasks no composition solves within a short budget, solved by the facts line's
/// whole-task call run as a program (a part picked by the input's shape, a grid sized
/// by a count, an output picked by the number of objects), right on test.
#[test]
fn the_facts_calls_solve_what_compositions_miss() {
    let sandbox = Sandbox::new(Limits::default());
    let budget = Budget { max_depth: 2, time: Duration::from_secs(2), ..Budget::default() };
    for (id, call) in [
        ("7b7f7511", "if g.cols() > g.rows()"),
        ("d631b094", "grid(1, g.rows() * g.cols() - g.count(0)"),
        ("27a28665", "g.objects().len()"),
    ] {
        assert_solved_by(&sandbox, budget, id, call);
    }
}

/// The transforms added from the failure analysis (benchmarks/FAILURES.md), each on a
/// task of the group it serves: found at depth 1, right on every test input.
#[test]
fn transforms_from_the_failure_analysis_solve_their_tasks() {
    let sandbox = Sandbox::new(Limits::default());
    let budget = Budget { max_depth: 1, time: Duration::from_secs(5), ..Budget::default() };
    for (id, call) in [
        ("22eb0ac0", "g.connect(\"h\", -1)"),
        ("40853293", "g.connect(\"hv\", -1)"),
        ("623ea044", "g.rays(\"diagonal\")"),
        ("b91ae062", "g.scale_up(g.colors().len())"),
        ("f8ff0b80", "cs.map(|c| [c])"),
        ("8efcae92", "o.size() - o.count(o.color())"),
        ("08ed6ac7", "sizes.index_of(o.size())"),
        ("4347f46a", "g.hollow(-1)"),
        ("42a50994", "g.objects(#{diagonal: true, multicolor: true})"),
        ("05f2a901", "g.attract(8)"),
        // Grey cells pulled to the red block, corner to corner where the diagonal is
        // the shortest way.
        ("a48eeaf7", "g.attract(2, \"all\")"),
        ("1f876c06", "g.connect(\"diagonal\", -1)"),
        ("7f4411dc", "g.keep_solid(2)"),
        ("1190e5a7", "g.part_colours(\"lines\")"),
        ("780d0b14", "g.part_colours(\"gaps\")"),
        (
            "0ca9ddb6",
            "g.stamp(#{\"1\": [[-1, 7, -1], [7, -1, 7], [-1, 7, -1]], \"2\": [[4, -1, 4], [-1, -1, -1], [4, -1, 4]]})",
        ),
        // Its 6s once sat next to a 2's pattern; only the 2s' pattern is needed.
        ("dc1df850", "g.stamp(#{\"2\": [[1, 1, 1], [1, -1, 1], [1, 1, 1]]})"),
        // Three parts between red lines laid on one another: yellow over maroon over blue.
        ("cf98881b", "g.split_by_lines().overlay_all([4, 9, 1], g.background())"),
        ("75b8110e", "g.corners(4, 4).overlay_all([5, 6, 9, 4], g.background())"),
        // Overlapping 3x3 corners of a 5x7 grid; one colour, so no order is needed.
        ("bc1d5164", "g.corners(3, 3).overlay_all([], g.background())"),
        // The part (between empty bands) whose colour no other part has.
        (
            "0b148d64",
            "g.split_by_gaps(); let all = parts; parts.min_by(|p| all.filter(|q| q.palette() == p.palette()).len())",
        ),
        // The third that is not its own mirror image.
        ("662c240a", "parts.min_by(|p| if p == p.flip_h() || p == p.flip_v() || p == p.transpose() { 1 } else { 0 })"),
        // Objects cut 4-connected fit its pairs too, but split a test shape in two.
        ("b230c067", "g.objects(#{diagonal: true, multicolor: false}); let sizes"),
        // Grey cells take the colour of the marker in their row; grey shapes that of the
        // marker above them.
        ("c9f8e694", "g.recolor_nearest(5, \"cells\")"),
        ("ddf7fa4f", "g.recolor_nearest(5, \"objects\")"),
        // The largest background areas blue, the smallest cyan.
        ("6455b5f5", "g.fill_regions(1, 8, -1)"),
        // The background of the parts at the corners and the centre, by place.
        ("941d9a10", "g.fill_parts(#{\"first,first\": 1, \"middle,middle\": 2, \"last,last\": 3})"),
        // Loose cells drawn to the big shape they line up with.
        ("2c608aff", "g.rays_to(g.objects().largest().color())"),
        // What the green square hides in a symmetric pattern.
        ("dc0a314f", "g.complete_symmetry(3).crop_to(g.color_object(3))"),
        // What the maroon blocks hide in a pattern symmetric about lines off the grid's
        // centre (its first rows and columns have no mirror images inside the grid).
        ("3631a71a", "g.complete_symmetry(9)"),
        // A shape symmetric about a line off the centre, masked by a rectangle of a colour
        // of its own in every grid (maroon, green; light blue in the test).
        ("3345333e", "g.complete_symmetry(g.mask_colour())"),
        // Cells touching a block only at its corners continue away from it to the edge.
        ("7ddcd7ec", "g.extend_ends()"),
        // Blue shapes that enclose a hole turn light blue; the others stay.
        ("b2862040", "if o.holes() > 0 { out = out.paint(o, 8); }"),
        // What the black square hides in a repeating pattern.
        ("f9012d9b", "g.complete_pattern(0).crop_to(g.color_object(0))"),
        // The coloured shape copied onto the grey placeholders of its size, and centred
        // on a grey marker cell.
        ("e76a88a6", "g.copy_to(5)"),
        ("88a10436", "g.copy_to(5)"),
        // The one drawn cell of a layout copied into the empty ones; the top-left cell's
        // shape drawn into the others in the lines' colour.
        ("c444b776", "g.repeat_part(\"own\")"),
        ("1e32b0e9", "g.repeat_part(\"lines\")"),
        // Grey marks turned over the bars of red brackets: outside in, and inside out.
        ("6855a6e4", "g.mirror_across(5)"),
        ("f8a8fe49", "g.mirror_across(5)"),
        // A figure turned both ways around a symmetric marker (an X, a square).
        ("4c5c2cf0", "g.mirror_around(g.symmetric_colour())"),
        ("4938f0c2", "g.mirror_around(g.symmetric_colour())"),
        // A border pattern drawn part of the way continued by its period; a band of rows
        // repeated whole over the grid.
        ("d8c310e9", "g.repeat_band(\"cols\", \"period\")"),
        ("8eb1be9a", "g.repeat_band(\"rows\", \"band\")"),
        // Shapes brought level with the blue one; a shape into the middle of corner marks.
        ("1caeab9d", "g.align_to(1, \"rows\")"),
        ("a1570a43", "g.align_to(3, \"centre\")"),
        // A path from the red cell along its row, then down or up to the green one.
        ("a2fd1cf0", "g.elbow(2, 3, 8)"),
        ("d4a91cb9", "g.elbow(2, 8, 4)"),
        // Each colour's box filled between its two corner cells; the empty areas around
        // a blue cell turned blue.
        ("56ff96f3", "g.hull()"),
        ("9edfc990", "g.flood_from(1)"),
        // Colours repeating along diagonals: a tiling with a shift from row to row.
        ("05269061", "g.complete_pattern(0)"),
        // Copies down, each mirroring the one before and sharing its edge row.
        ("eb281b96", "g.reflect_tile(4, 1)"),
        // Partial copies of the four-colour shape completed, turned as they lie; and
        // copies scaled twice and three times from their marks.
        ("36d67576", "g.complete_copies()"),
        ("6aa20dc0", "g.complete_copies()"),
        // Loose cells slide to the line of their colour, through other lines; those of a
        // colour with no line go.
        ("1a07d186", "g.attract_own()"),
        // Concentric rings: their colours reversed; moved one ring inward.
        ("85c4e7cd", "g.ring_colours(\"reverse\")"),
        ("bda2d7a6", "g.ring_colours(\"inward\")"),
    ] {
        assert_solved_by(&sandbox, budget, id, call);
    }
}

/// Where no one composition fits, two compositions of the input laid one over the other,
/// or one's shape in the other's colours: found, verified as Rhai, right on test. With one training pair nothing can tell
/// whether such a pair holds out, so it only answers.
#[test]
fn layered_compositions_solve_what_one_composition_misses() {
    let sandbox = Sandbox::new(Limits::default());
    let budget = Budget { time: Duration::from_secs(20), ..Budget::default() };
    // The input under the grey shape's copies at the blue marks; vertical red rays
    // under horizontal rays of the other colours.
    for id in ["363442ee", "178fcbfb"] {
        assert_solved_by(&sandbox, budget, id, "base.overlay(top, top.background())");
    }
    // The part with one colour in the colours of the part with the most, scaled to it.
    assert_solved_by(&sandbox, budget, "7c008303", "top.recolor_from(base)");
    let layered = |steps: &Vec<enumerate::Op>| steps.iter().any(|op| matches!(op, enumerate::Op::Layered(_)));
    let mut one_pair = task::load_one(&training_dir(), "178fcbfb").unwrap().without_test_outputs();
    one_pair.train.truncate(1);
    // Without local rules, whose tables would fit one pair too and answer instead.
    let found = enumerate::find(&one_pair, Budget { rule_depth: None, ..budget });
    assert!(!found.solutions.iter().any(layered), "{:?}", found.solutions);
    assert!(found.untrusted.iter().any(layered), "{:?}", found.untrusted);
}

/// A composition that explains the pairs by colours of one pair only fits: it answers,
/// but the task does not count as solved and no deeper level is searched for it.
#[test]
fn fits_through_one_pairs_colours_are_not_trusted() {
    use enumerate::Op;
    let load = |id| task::load_one(&training_dir(), id).unwrap();
    // b94a9452: each pair's square in two colours of its own (2 and 4, 1 and 3, 4 and 6);
    // swapping 2 and 4 does nothing on the second pair, swapping its two colours does.
    let t = load("b94a9452");
    assert!(enumerate::fits_by_pair_colours(&[Op::CropLargest, Op::Swap(2, 4)], &t));
    assert!(!enumerate::fits_by_pair_colours(&[Op::CropLargest, Op::SwapColours], &t));
    // 496994bd: red is in every training input and not in the test input.
    let t = load("496994bd");
    assert!(enumerate::fits_by_pair_colours(&[Op::Replace(2, 5)], &t));
    assert!(!enumerate::fits_by_pair_colours(&[Op::Replace(0, 5)], &t));
    // 63613498 without its last pair: the shape like the corner's turns grey, 6 in one
    // pair and 9 in the other; a table of 6 -> 5 and 9 -> 5 has no change two pairs
    // show. 0d3d703e's table has (2 -> 6 in three pairs).
    let mut t = load("63613498");
    let last = t.train.pop().unwrap();
    t.test = vec![task::TestPair { input: last.input, output: None }];
    assert!(enumerate::fits_by_pair_colours(&[Op::RecolorTable([0, 1, 2, 3, 4, 5, 5, 7, 8, 5])], &t));
    let d = load("0d3d703e");
    assert!(!enumerate::fits_by_pair_colours(&[Op::RecolorTable([0, 5, 6, 4, 3, 1, 2, 7, 9, 8])], &d));
    // Nor does the facts line's colour map, the same table, make it a program that solves
    // the task: the facts line names no call for it.
    let sandbox = Sandbox::new(Limits::default());
    let budget = Budget { max_depth: 2, time: Duration::from_secs(5), ..Budget::default() };
    let found = arcsynth::search::enumerate_task(&sandbox, &t, budget);
    assert!(found.programs.is_empty(), "{:?}", found.programs.iter().map(|p| &p.program).collect::<Vec<_>>());
    assert!(found.candidates.iter().any(|c| c.untrusted && c.program.contains("g.recolor(#{\"6\": 5, \"9\": 5})")));
    let budget = Budget { max_depth: 2, time: Duration::from_secs(5), ..Budget::default() };
    assert_solved_by(&sandbox, budget, "b94a9452", "let cs = g.colors(); g.swap(cs[0], cs[1])");
}

/// Pairs alike but for their colours: nothing solves them as they are, and the search
/// on the task with every grid's colours ranked (background 0, then by cell count) does;
/// the program maps its result back to the input's colours, right on test.
#[test]
fn pairs_that_differ_only_in_colours_are_solved_on_ranked_colours() {
    let sandbox = Sandbox::new(Limits::default());
    let budget = Budget { max_depth: 2, time: Duration::from_secs(10), ..Budget::default() };
    // 7e0986d6: noise of a second colour over rectangles of a first, colours per pair.
    // fcb5c309: the largest frame cropped, in the colour of the loose cells.
    for (id, call) in
        [("7e0986d6", "g.recolor_nearest(2, \"cells\")"), ("fcb5c309", "g.paint(g.objects().largest(), 2)")]
    {
        let t = task::load_one(&training_dir(), id).unwrap().without_test_outputs();
        let found = enumerate::find(&t, budget);
        assert!(!found.solutions.is_empty(), "{id} not solved");
        assert!(
            found.solutions.iter().all(|s| matches!(s[0], enumerate::Op::RankColours(_))),
            "{id}: {:?}",
            found.solutions
        );
        assert_solved_by(&sandbox, budget, id, "g.unrank_colours(input)");
        assert_solved_by(&sandbox, budget, id, call);
    }
    // No ranked task where an output has a colour its input lacks (0d3d703e's colour
    // map), or where every grid ranks its colours alike (00d62c1b: green shapes on black in every grid).
    for id in ["0d3d703e", "00d62c1b"] {
        assert!(enumerate::ranked_task(&task::load_one(&training_dir(), id).unwrap()).is_none(), "{id}");
    }
}

/// Where the training outputs hold too little to tell a fit from a coincidence (a few
/// 1x1 answers against two steps chosen from hundreds of transforms), the fits only
/// answer: the task is not claimed as solved, and no deeper level is searched.
#[test]
fn fits_the_outputs_cannot_tell_from_chance_are_not_trusted() {
    let full = task::load_one(&training_dir(), "de1cd16c").unwrap();
    let t = full.without_test_outputs();
    let found = enumerate::find(&t, Budget { max_depth: 3, time: Duration::from_secs(20), ..Budget::default() });
    assert!(found.solutions.is_empty(), "{:?}", found.solutions);
    assert!(!found.untrusted.is_empty());
    assert_eq!(found.depth_done, found.untrusted[0].len(), "the search went on past its first fits");
    // Larger outputs tell: b94a9452's fits at depth 2 are solutions.
    let t = task::load_one(&training_dir(), "b94a9452").unwrap().without_test_outputs();
    let found = enumerate::find(&t, Budget { max_depth: 2, time: Duration::from_secs(20), ..Budget::default() });
    assert!(!found.solutions.is_empty());
}

/// On the last level a candidate stops early (at an output of the wrong shape, or once it
/// can no longer beat the near miss found so far), which must not change what is found.
/// At depth 2 the near miss `find` reports is the first composition of the best mean
/// cell accuracy, as applying every transform to every distinct one-step result finds it
/// (results that repeat the inputs or an earlier result are not built on, as the search
/// drops them). Tasks whose best is a second step built on a late one-step result, so
/// that earlier chunks have set a near miss to beat; on 5ad4f10b a later composition
/// ties the first best but for rounding, and the rounding decides as a full sum would.
#[test]
fn the_last_level_finds_the_near_miss_a_full_evaluation_finds() {
    type Outputs = Vec<((usize, usize), Vec<u8>)>;
    let key = |gs: &[Grid]| -> Outputs { gs.iter().map(|g| (g.shape(), g.cells().to_vec())).collect() };
    for id in ["5ad4f10b", "137eaa0f", "228f6490", "63613498", "09629e4f"] {
        let t = task::load_one(&training_dir(), id).unwrap().without_test_outputs();
        let ops = enumerate::transforms(&t);
        let apply = |op: &enumerate::Op, gs: &[Grid]| -> Option<Vec<Grid>> {
            gs.iter().map(|g| op.apply(g).filter(|o| o.rows() <= 30 && o.cols() <= 30)).collect()
        };
        let mut best: Option<(Vec<enumerate::Op>, f64)> = None;
        let mut consider = |steps: Vec<enumerate::Op>, outs: &[Grid]| {
            if outs.iter().zip(&t.train).any(|(o, e)| o.shape() != e.output.shape()) {
                return;
            }
            let acc =
                outs.iter().zip(&t.train).map(|(o, e)| cell_accuracy(o, &e.output)).sum::<f64>() / t.train.len() as f64;
            if best.as_ref().is_none_or(|(_, b)| acc > *b) {
                best = Some((steps, acc));
            }
        };
        let inputs: Vec<Grid> = t.train.iter().map(|e| e.input.clone()).collect();
        let mut seen: HashSet<Outputs> = HashSet::from([key(&inputs)]);
        let mut states = Vec::new();
        for op in &ops {
            let Some(outs) = apply(op, &inputs) else { continue };
            if seen.insert(key(&outs)) {
                consider(vec![op.clone()], &outs);
                states.push((op.clone(), outs));
            }
        }
        for (first, outs) in &states {
            for op in &ops {
                let Some(next) = apply(op, outs) else { continue };
                if !seen.contains(&key(&next)) {
                    consider(vec![first.clone(), op.clone()], &next);
                }
            }
        }
        let budget = Budget { max_depth: 2, time: Duration::from_secs(120), rule_depth: None, ..Budget::default() };
        let found = enumerate::find(&t, budget);
        assert!(found.solutions.is_empty() && !found.timed_out, "{id}");
        assert!(best.is_some(), "{id}: no composition keeps the outputs' shape");
        assert_eq!(found.best_near_miss, best, "{id}");
    }
}

/// An overlay order is offered only when the training pairs decide it. On 75b8110e the
/// four quadrants' colours meet in every pair and fix 5 > 6 > 9 > 4; without its last
/// pair, 9 and 4 never meet and nothing says which wins, so no order is guessed.
#[test]
fn overlay_orders_are_offered_only_when_the_pairs_decide_them() {
    let orders = |t: &task::Task| -> Vec<Vec<u8>> {
        enumerate::transforms(t)
            .into_iter()
            .filter_map(|o| match o {
                enumerate::Op::OverlayParts(_, order) => Some(order),
                _ => None,
            })
            .collect()
    };
    let mut t = task::load_one(&training_dir(), "75b8110e").unwrap().without_test_outputs();
    assert_eq!(orders(&t), vec![vec![5, 6, 9, 4]]);
    t.train.pop();
    assert!(orders(&t).is_empty(), "{:?}", orders(&t));
}

/// Stamp patterns are offered only when they hold out. On d037b0a7 (colours run down
/// to the bottom) patterns learned from all three pairs reproduce them, but learned from
/// two they miss what the third needs: no stamp. On 0ca9ddb6 each pair's marks are
/// predicted by the other pairs: a stamp.
#[test]
fn stamps_are_offered_only_when_they_hold_out() {
    let has_stamp = |id: &str| {
        let t = task::load_one(&training_dir(), id).unwrap().without_test_outputs();
        enumerate::transforms(&t).iter().any(|o| matches!(o, enumerate::Op::Stamp(_)))
    };
    assert!(!has_stamp("d037b0a7"));
    assert!(has_stamp("0ca9ddb6"));
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
    assert_ne!(r.answer_source, arcsynth::search::AnswerSource::Program);
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
    let scored = arcsynth(&[
        "score",
        out.join("submission.json").to_str().unwrap(),
        "--tasks",
        examples().to_str().unwrap(),
        "--json",
    ]);
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
        .args([
            "search",
            "--tasks",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--max-tasks",
            "12",
            "--time-per-task",
            "2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let results = out.join("results");
    let start = Instant::now();
    let count = |d: &Path| {
        std::fs::read_dir(d)
            .map(|r| r.filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json")).count())
            .unwrap_or(0)
    };
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
    let (with, without) = (task_dir(&dir, &ids, true), task_dir(&dir, &ids, false));
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
    assert!(stderr(&llm).contains("--proposer llm needs a model"), "{}", stderr(&llm));
    // Bad model, completions, library and prompt files: one line naming the file.
    let dir = temp_dir("search-bad-inputs");
    let junk = dir.join("junk.txt");
    std::fs::write(&junk, "not json\n{\"label\": 1}\n").unwrap();
    let junk = junk.to_str().unwrap();
    for (args, want) in [
        (vec!["--model", "/nonexistent/coder.gguf"], "/nonexistent/coder.gguf"),
        (vec!["--completions", junk], "line 1"),
        (vec!["--completions", "/nonexistent/c.jsonl"], "/nonexistent/c.jsonl"),
        (vec!["--library", junk], "junk.txt: line 1"),
        (vec!["--prompts", "/nonexistent/prompts"], "/nonexistent/prompts/system.txt"),
    ] {
        let o = search(&examples(), &out, &args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert!(e.contains(want) && e.lines().count() == 1 && !e.contains("panicked"), "{args:?}: {e}");
    }
    let unwritable = search(&examples(), Path::new("/proc/arcsynth-run"), &[]);
    assert_eq!(unwritable.status.code(), Some(2));
    assert!(
        stderr(&unwritable).contains("/proc/arcsynth-run: cannot write the run directory"),
        "{}",
        stderr(&unwritable)
    );
    let depth = search(&examples(), &out, &["--depth", "9"]);
    assert_eq!(depth.status.code(), Some(2));
}

/// Five tasks with reference solutions: three answered in round 0, two only after a
/// refinement round.
const REPLAYED: [(&str, usize); 5] =
    [("3c9b0459", 0), ("0520fde7", 0), ("007bbfb7", 0), ("05269061", 1), ("6150a2bd", 1)];

/// A recording per task: junk, a wrong program, a syntax error, and the reference
/// solution in its round (with a dead line added, which canonicalisation must drop).
fn recording(dir: &Path) -> PathBuf {
    let mut lines = Vec::new();
    let mut push = |task: &str, round: usize, text: &str| {
        lines.push(
            serde_json::json!({"label": format!("{task}/{round}"), "text": text, "tokens": text.len() / 3}).to_string(),
        );
    };
    for (id, round) in REPLAYED {
        push(id, 0, "The rule is to make it blue.");
        push(id, 0, "Mirror it:\n```rhai\nfn solve(g) { g.flip_h() }\n```");
        push(id, 0, "```rhai\nfn solve(g) { g.rotate( }\n```");
        let reference =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("dsl/solutions/{id}.rhai")))
                .unwrap();
        let with_dead_line = reference.replacen("fn solve(g) {", "fn solve(g) {\n    let unused = g.rotate(1);", 1);
        push(id, round, &format!("Here it is.\n```rhai\n{with_dead_line}\n```\nDone."));
    }
    let path = dir.join("recorded.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// Copies training tasks `ids` into a directory under `dir`, with or without their test
/// outputs.
fn task_dir(dir: &Path, ids: &[&str], with_test_outputs: bool) -> PathBuf {
    let d = dir.join(if with_test_outputs { "tasks" } else { "tasks-no-test-outputs" });
    std::fs::create_dir_all(&d).unwrap();
    for id in ids {
        let raw = std::fs::read(training_dir().join(format!("{id}.json"))).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        if !with_test_outputs {
            for t in v["test"].as_array_mut().unwrap() {
                t.as_object_mut().unwrap().remove("output");
            }
        }
        std::fs::write(d.join(format!("{id}.json")), serde_json::to_vec(&v).unwrap()).unwrap();
    }
    d
}

fn replayed_ids() -> Vec<&'static str> {
    REPLAYED.iter().map(|(id, _)| *id).collect()
}

const REPLAY_ARGS: [&str; 6] = ["--proposer", "llm", "--samples", "4", "--refine-rounds", "2"];

#[test]
fn replayed_reference_solutions_solve_their_tasks() {
    let dir = temp_dir("replay");
    let recorded = recording(&dir);
    let tasks = task_dir(&dir, &replayed_ids(), true);
    let out = dir.join("run");
    let mut args = REPLAY_ARGS.to_vec();
    args.extend(["--completions", recorded.to_str().unwrap()]);
    let o = search(&tasks, &out, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("pass@2 on test outputs: 5.00 / 5"), "{}", stdout(&o));
    // The right answers, from the reference programs, canonicalised.
    let sub = read_json(&out.join("submission.json"));
    for (id, round) in REPLAYED {
        let t = task::load_one(&tasks, id).unwrap();
        for (a, want) in sub[id].as_array().unwrap().iter().zip(&t.test) {
            let want: Vec<Vec<u8>> = want.output.as_ref().unwrap().to_rows();
            assert_eq!(serde_json::from_value::<Vec<Vec<u8>>>(a["attempt_1"].clone()).unwrap(), want, "{id}");
        }
        let r = read_json(&out.join(format!("results/{id}.json")));
        assert_eq!(r["answer_source"], "program");
        assert_eq!(r["programs"][0]["round"], round, "{id}");
        let reference =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("dsl/solutions/{id}.rhai")))
                .unwrap();
        if reference.contains("fn solve(g) {\n") {
            // The dead line was a line of its own (one-line programs keep it: lines are the unit).
            assert!(!r["programs"][0]["program"].as_str().unwrap().contains("unused"), "{id}: dead line kept");
        }
        assert_eq!(r["llm"]["rejected_hard_coded"], 0);
    }
    // Every completion is recorded once, with its outcome; refinements name their parent.
    let completions: Vec<serde_json::Value> = std::fs::read_to_string(out.join("completions.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(completions.len(), 4 * REPLAYED.len());
    let refined: Vec<&serde_json::Value> = completions.iter().filter(|c| c["round"] == 1).collect();
    assert_eq!(refined.len(), 2);
    assert!(refined.iter().all(|c| c["parent"].is_u64() && c["outcome"] == "ok"));
    assert_eq!(completions.iter().filter(|c| c["outcome"] == "no program").count(), 5);
    assert_eq!(completions.iter().filter(|c| c["outcome"] == "parse error").count(), 5);
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["llm"]["completions"], 20);
    assert_eq!(report["llm"]["valid_output_rate"], 0.5, "flip_h and the reference, of 4 per task");
    assert_eq!(report["solved_train"], 5);
    // The run's own completions.jsonl replays to the same submission.
    let again = dir.join("run-again");
    let mut args = REPLAY_ARGS.to_vec();
    let own = out.join("completions.jsonl");
    args.extend(["--completions", own.to_str().unwrap()]);
    let o = search(&tasks, &again, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_json(&again.join("submission.json")), sub);
}

#[test]
fn replayed_search_never_reads_test_outputs() {
    let dir = temp_dir("replay-leak");
    // Without the last task's reference solution (the recording's last line), so that
    // its answer comes from the near-miss fallback.
    let full = std::fs::read_to_string(recording(&dir)).unwrap();
    let recorded = dir.join("partial.jsonl");
    std::fs::write(&recorded, full.lines().take(full.lines().count() - 1).collect::<Vec<_>>().join("\n") + "\n")
        .unwrap();
    let mut args = REPLAY_ARGS.to_vec();
    args.extend(["--completions", recorded.to_str().unwrap()]);
    let a = search(&task_dir(&dir, &replayed_ids(), true), &dir.join("with"), &args);
    let b = search(&task_dir(&dir, &replayed_ids(), false), &dir.join("without"), &args);
    assert!(a.status.success() && b.status.success(), "{}{}", stderr(&a), stderr(&b));
    assert_eq!(read_json(&dir.join("with/submission.json")), read_json(&dir.join("without/submission.json")));
    assert_eq!(read_json(&dir.join("with/results/6150a2bd.json"))["answer_source"], "near_miss");
    assert!(stdout(&a).contains("pass@2 on test outputs: 4.00 / 5"), "{}", stdout(&a));
}

#[test]
fn unfinished_tasks_completions_are_dropped_on_resume() {
    let dir = temp_dir("replay-resume");
    let recorded = recording(&dir);
    let tasks = task_dir(&dir, &replayed_ids(), true);
    let out = dir.join("run");
    let mut args = REPLAY_ARGS.to_vec();
    args.extend(["--completions", recorded.to_str().unwrap()]);
    assert!(search(&tasks, &out, &args).status.success());
    let full = std::fs::read_to_string(out.join("completions.jsonl")).unwrap();
    // Simulate a kill after a task's completions were appended but before its result
    // was written, with a half-written line at the end.
    std::fs::remove_file(out.join("results/6150a2bd.json")).unwrap();
    std::fs::write(out.join("completions.jsonl"), full.clone() + "{\"kind\":\"completion\",\"task\":\"6150").unwrap();
    let o = search(&tasks, &out, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("tasks: 5 (4 resumed)"), "{}", stdout(&o));
    assert_eq!(std::fs::read_to_string(out.join("completions.jsonl")).unwrap().lines().count(), full.lines().count());
}

#[test]
fn rust_habits_are_mended_and_code_first_answers_replay() {
    let dir = temp_dir("replay-mend");
    let tasks = task_dir(&dir, &["3c9b0459"], true);
    // A Rust-flavoured answer (types, `let mut`, `.clone()`, a ternary) that means a
    // half turn, and a code-first answer whose text starts with the prefill.
    let rusty = "```rhai\nfn solve(g: Grid) -> Grid {\n    let mut out = g.clone();\n    let k = out.rows() > 0 ? 2 : 0;\n    out.rotate(k)\n}\n```";
    let code_first = "```rhai\n// A half turn.\nfn solve(g) { g.rotate(2) }";
    let recorded = dir.join("recorded.jsonl");
    let line = |text: &str| serde_json::json!({"label": "3c9b0459/0", "text": text}).to_string();
    std::fs::write(&recorded, format!("{}\n", line(rusty))).unwrap();
    let out = dir.join("run");
    let o = search(
        &tasks,
        &out,
        &[
            "--proposer",
            "llm",
            "--samples",
            "1",
            "--refine-rounds",
            "0",
            "--answer",
            "free",
            "--completions",
            recorded.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let r = read_json(&out.join("results/3c9b0459.json"));
    assert_eq!(r["answer_source"], "program", "{r}");
    let c: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(out.join("completions.jsonl")).unwrap().lines().next().unwrap())
            .unwrap();
    assert_eq!(c["mended"], serde_json::json!(["let mut", "types", ".clone()", "?:"]));
    assert_eq!(c["outcome"], "ok");
    assert!(c.get("error").is_none());

    std::fs::write(&recorded, format!("{}\n", line(code_first))).unwrap();
    let out = dir.join("run-code-first");
    let o = search(
        &tasks,
        &out,
        &[
            "--proposer",
            "llm",
            "--samples",
            "1",
            "--refine-rounds",
            "0",
            "--answer",
            "code-first",
            "--completions",
            recorded.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_json(&out.join("results/3c9b0459.json"))["answer_source"], "program");
    // The record holds the whole answer (prefill included), as the backend gave it.
    let c: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(out.join("completions.jsonl")).unwrap().lines().next().unwrap())
            .unwrap();
    assert_eq!(c["text"], code_first);
}

#[test]
fn out_of_range_budgets_are_usage_errors_not_panics() {
    // F3: 1e20 seconds once panicked converting to a Duration, leaving a half-made run.
    let out = temp_dir("search-range").join("run");
    for args in [
        ["--time-per-task", "1e20"],
        ["--task-timeout", "1e20"],
        ["--time-per-task", "NaN"],
        ["--task-timeout", "-1"],
        ["--time-per-task", "0"],
    ] {
        let o = search(&examples(), &out, &args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert!((e.contains(args[0]) || e.contains(args[1])) && !e.contains("panicked"), "{args:?}: {e}");
        assert!(!out.join("run.json").exists(), "{args:?} started a run");
    }
}

#[test]
fn resume_trusts_only_whole_results_of_this_task_set() {
    // F7: result files of other tasks, with the wrong number of attempts, or filed under
    // another name, never reach the submission; another task source needs --force.
    let dir = temp_dir("resume-trust");
    let ids = ["3c9b0459", "6150a2bd", "25ff71a9"];
    let tasks = task_dir(&dir, &ids, true);
    let out = dir.join("run");
    let first = search(&tasks, &out, &["--time-per-task", "2"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let results = out.join("results");
    let mut planted: serde_json::Value = read_json(&results.join("3c9b0459.json"));
    for (file, task) in
        [("ffffffff.json", "ffffffff"), ("evil.json", "../../pwned"), ("6150a2bd-copy.json", "6150a2bd")]
    {
        planted["task"] = task.into();
        std::fs::write(results.join(file), planted.to_string()).unwrap();
    }
    // 25ff71a9 has two test inputs; give its result three attempt pairs.
    let mut three = read_json(&results.join("25ff71a9.json"));
    let pair = three["attempts"][0].clone();
    three["attempts"] = serde_json::json!([pair.clone(), pair.clone(), pair]);
    std::fs::write(results.join("25ff71a9.json"), three.to_string()).unwrap();
    let again = search(&tasks, &out, &["--time-per-task", "2"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains("tasks: 3 (2 resumed)"), "{}", stdout(&again));
    let sub = read_json(&out.join("submission.json"));
    let mut keys: Vec<&String> = sub.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["25ff71a9", "3c9b0459", "6150a2bd"]);
    assert_eq!(sub["25ff71a9"].as_array().unwrap().len(), 2);
    assert_eq!(read_json(&results.join("25ff71a9.json"))["attempts"].as_array().unwrap().len(), 2, "recomputed");
    // Another task source in the same run directory: refused, unless --force.
    let other = task_dir(&dir.join("other"), &["0520fde7"], true);
    let mixed = search(&other, &out, &["--time-per-task", "2"]);
    assert_eq!(mixed.status.code(), Some(2), "{}", stderr(&mixed));
    assert!(stderr(&mixed).contains("--force") && stderr(&mixed).lines().count() == 1, "{}", stderr(&mixed));
    let forced = search(&other, &out, &["--time-per-task", "2", "--force"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    let sub = read_json(&out.join("submission.json"));
    assert_eq!(sub.as_object().unwrap().keys().collect::<Vec<_>>(), ["0520fde7"]);
}

#[test]
fn two_shards_merged_give_the_unsharded_submission() {
    // Tasks the enumerator finishes well inside its budget, so timing cannot matter.
    let dir = temp_dir("shards");
    let ids = ["3c9b0459", "0520fde7", "6d0aefbc", "a416b8f3", "25ff71a9", "6150a2bd"];
    let tasks = task_dir(&dir, &ids, true);
    let run = |name: &str, extra: &[&str]| {
        let mut args = vec!["--time-per-task", "20"];
        args.extend_from_slice(extra);
        let o = search(&tasks, &dir.join(name), &args);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        read_json(&dir.join(name).join("submission.json"))
    };
    let whole = run("whole", &[]);
    let (one, two) = (run("s1", &["--shard", "1/2"]), run("s2", &["--shard", "2/2"]));
    let (n1, n2) = (one.as_object().unwrap().len(), two.as_object().unwrap().len());
    assert!(n1 > 0 && n2 > 0 && n1 + n2 == ids.len(), "shards of {n1} and {n2} tasks");
    assert_eq!(read_json(&dir.join("s1/run.json"))["shard"], "1/2");
    let d = |name: &str| dir.join(name).display().to_string();
    let merged = arcsynth(&["merge", &d("s1"), &d("s2"), "--out", &d("merged")]);
    assert!(merged.status.success(), "{}", stderr(&merged));
    assert!(stdout(&merged).contains(&format!("merged {} tasks", ids.len())), "{}", stdout(&merged));
    assert_eq!(read_json(&dir.join("merged/submission.json")), whole);
    assert_eq!(
        read_json(&dir.join("merged/report.json"))["pass_at_2"],
        read_json(&dir.join("whole/report.json"))["pass_at_2"]
    );
    // Refused, each in one line: a task in two runs, a merge into a directory holding
    // results, a run over other tasks, a shard that does not exist.
    let other = task_dir(&dir.join("other"), &["007bbfb7"], true);
    assert!(search(&other, &dir.join("foreign"), &["--time-per-task", "2"]).status.success());
    for (args, words) in [
        (vec!["merge".to_string(), d("s1"), d("whole"), "--out".into(), d("m2")], "is in both"),
        (vec!["merge".to_string(), d("s1"), "--out".into(), d("s2")], "already holds results"),
        (vec!["merge".to_string(), d("s1"), d("foreign"), "--out".into(), d("m3")], "a run over"),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = arcsynth(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(words) && stderr(&o).trim_end().lines().count() == 1, "{args:?}: {}", stderr(&o));
    }
    let bad = search(&tasks, &dir.join("bad"), &["--shard", "3/2"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn slow_replayed_programs_finish_their_task_within_its_budget() {
    // F1 through the search: eight programs that each call a ~0.85 s primitive in a loop.
    // Before, each ran to its 1 s deadline plus one call (about 1.7 s) on each of the
    // task's 5 inputs, some 30 s on 2 cores under `--task-timeout 1`; now the call stops
    // at the deadline, a
    // program that timed out runs on no other input, and no run starts past the budget.
    let dir = temp_dir("replay-slow");
    let tasks = task_dir(&dir, &["3c9b0459"], true);
    let slow = "```rhai\nfn solve(g) { let b = grid(120, 120, 0); loop { b.complete_pattern(0); } }\n```";
    let line = serde_json::json!({"label": "3c9b0459/0", "text": slow}).to_string();
    let recorded = dir.join("recorded.jsonl");
    std::fs::write(&recorded, format!("{}\n", vec![line; 8].join("\n"))).unwrap();
    let out = dir.join("run");
    let start = Instant::now();
    let o = search(
        &tasks,
        &out,
        &[
            "--proposer",
            "llm",
            "--samples",
            "8",
            "--refine-rounds",
            "0",
            "--task-timeout",
            "1",
            "--completions",
            recorded.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let r = read_json(&out.join("results/3c9b0459.json"));
    let seconds = r["seconds"].as_f64().unwrap();
    // The budget, one program's deadline (1 s), and slack for a loaded machine.
    assert!(seconds < 1.0 + 1.0 + 1.0, "{seconds} s");
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
    assert_eq!(r["llm"]["outcomes"]["timeout"], 8, "{r}");
}

/// A result file as arcsynth wrote it before the proposer chain and typed states (flat
/// enumerator figures, states as strings) still loads, and is written back unchanged,
/// so run directories of earlier versions resume.
#[test]
fn result_files_of_earlier_versions_load_and_keep_their_shape() {
    use arcsynth::search::llm::{Outcome, Stopped};
    use arcsynth::search::{AnswerSource, TaskResult};
    let old = serde_json::json!({
        "task": "0d3d703e",
        "solved_train": false,
        "attempts": [{"attempt_1": [[1, 2]], "attempt_2": [[2, 1]]}],
        "answer_source": "near_miss",
        "programs": [],
        "near_miss": {"program": "fn solve(g) { g }", "pixel_accuracy": 0.5},
        "candidates": 1234,
        "seconds": 1.5,
        "depth_done": 2,
        "timed_out": true,
        "llm": {
            "completions": 16, "completion_tokens": 900, "prompt_tokens": 4000, "cached_prompt_tokens": 3000,
            "prompt_seconds": 2.0, "generation_seconds": 60.0, "programs": 15, "valid_code": 14, "mended": 3,
            "valid": 10, "dsl_using": 15, "unique_valid": 6, "solutions": 0, "rejected_nondeterministic": 0,
            "rejected_hard_coded": 0, "refine_requests": 1,
            "outcomes": {"no program": 1, "ok": 10, "parse error": 1, "runtime error": 3, "wrong return type": 1},
            "stopped": "repeats"
        },
        "ttt": null
    });
    let r: TaskResult = serde_json::from_value(old.clone()).unwrap();
    assert_eq!(r.answer_source, AnswerSource::NearMiss);
    assert_eq!((r.proposers.candidates, r.proposers.depth_done, r.proposers.timed_out), (1234, 2, true));
    let llm = r.proposers.llm.as_ref().unwrap();
    assert_eq!(llm.stopped, Some(Stopped::Repeats));
    assert_eq!(llm.outcomes[&Outcome::NoProgram], 1);
    assert_eq!(llm.outcomes[&Outcome::Ran(arcsynth::sandbox::Category::RuntimeError)], 3);
    assert_eq!(serde_json::to_value(&r).unwrap(), old);
    // A state no version wrote is an error, not a silent default.
    let mut bad = old.clone();
    bad["llm"]["outcomes"]["exploded"] = 1.into();
    assert!(serde_json::from_value::<TaskResult>(bad).is_err());
}

/// A fit through a learned table that does not hold out across the training pairs
/// answers, but is not a solution: the task counts as unsolved and the next proposer
/// (here the LLM, replayed) still runs; its right program then wins the vote.
#[test]
fn an_untrusted_fit_answers_but_does_not_end_the_search() {
    let id = "e9afcf9a";
    let dir = temp_dir("untrusted");
    let tasks = task_dir(&dir, &[id], true);
    let enum_only = search(&tasks, &dir.join("enum"), &["--time-per-task", "3"]);
    assert!(enum_only.status.success(), "{}", stderr(&enum_only));
    let r = read_json(&dir.join(format!("enum/results/{id}.json")));
    assert_eq!(r["answer_source"], "untrusted_fit", "{r}");
    assert_eq!(r["solved_train"], false);
    assert!(r["programs"].as_array().unwrap().is_empty());
    assert!(stdout(&enum_only).contains("solved on train: 0"), "{}", stdout(&enum_only));

    let reference =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("dsl/solutions/{id}.rhai")))
            .unwrap();
    let recorded = dir.join("completions.jsonl");
    let line =
        serde_json::json!({"label": format!("{id}/0"), "text": format!("```rhai\n{reference}\n```"), "tokens": 50});
    std::fs::write(&recorded, format!("{line}\n")).unwrap();
    let args =
        ["--time-per-task", "3", "--samples", "1", "--refine-rounds", "0", "--completions", recorded.to_str().unwrap()];
    let with_llm = search(&tasks, &dir.join("llm"), &args);
    assert!(with_llm.status.success(), "{}", stderr(&with_llm));
    let r = read_json(&dir.join(format!("llm/results/{id}.json")));
    assert_eq!(r["llm"]["completions"], 1, "the LLM ran after the untrusted fit: {r}");
    assert_eq!(r["answer_source"], "program");
    assert!(stdout(&with_llm).contains("pass@2 on test outputs: 1.00 / 1"), "{}", stdout(&with_llm));
}

/// A colour table is trusted when every test colour has an entry or it holds out like
/// a learned rule: 0d3d703e's pairs each show part of one map that covers its test
/// input; aabf363d's pairs each bring colours of their own and so does its test input,
/// so its table only fits.
#[test]
fn a_colour_table_that_only_lists_each_pairs_colours_is_an_untrusted_fit() {
    use arcsynth::search::AnswerSource;
    let sandbox = Sandbox::new(Limits::default());
    let budget = Budget { max_depth: 1, time: Duration::from_secs(5), ..Budget::default() };
    let solve = |id: &str| {
        let t = task::load_one(&training_dir(), id).unwrap();
        arcsynth::search::solve_with_enumerator(&sandbox, &t.without_test_outputs(), budget)
    };
    let shared = solve("0d3d703e");
    assert!(shared.solved_train && shared.answer_source == AnswerSource::Program, "{shared:?}");
    let own = solve("aabf363d");
    assert!(!own.solved_train && own.programs.is_empty(), "{own:?}");
    assert_eq!(own.answer_source, AnswerSource::UntrustedFit);
}
