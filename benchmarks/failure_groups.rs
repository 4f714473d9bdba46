//! What the enumerator misses, grouped by what a task needs: every training task is put
//! in one group by how its training outputs relate to their inputs (shape, which cells
//! change and how), and each group is counted, solved and unsolved, against the last
//! `enumerate_training` run (`benchmarks/results/enumerate_training.json`, its list of
//! tasks right on test). The groups are read off the grids, not judged by hand, so the
//! table can be made again after every change; `benchmarks/FAILURES.md` reads it.
//!
//! Run: `cargo bench --bench failure_groups` (after `enumerate_training`).

#[path = "common.rs"]
mod common;

use std::collections::{BTreeMap, HashSet};

use arcsynth::dsl::ops;
use arcsynth::grid::Grid;
use arcsynth::task::{Example, Task};

/// How a same-shape pair's changed cells changed.
#[derive(Default, Clone, Copy)]
struct Edits {
    added: bool,
    deleted: bool,
    recoloured: bool,
}

fn edits(e: &Example) -> Edits {
    let bg = ops::background(&e.input);
    let mut k = Edits::default();
    for (&a, &b) in e.input.cells().iter().zip(e.output.cells()) {
        match (a == b, a == bg, b == bg) {
            (true, _, _) => {}
            (false, true, _) => k.added = true,
            (false, _, true) => k.deleted = true,
            _ => k.recoloured = true,
        }
    }
    k
}

/// Whether `small` appears somewhere inside `big`.
fn inside(small: &Grid, big: &Grid) -> bool {
    let (h, w) = small.shape();
    if h > big.rows() || w > big.cols() {
        return false;
    }
    (0..=big.rows() - h)
        .any(|r| (0..=big.cols() - w).any(|c| (0..h).all(|i| (0..w).all(|j| big.get(r + i, c + j) == small.get(i, j)))))
}

fn symmetric(g: &Grid) -> bool {
    ops::is_symmetric_h(g) || ops::is_symmetric_v(g)
}

/// A 2-D repeat smaller than half the grid.
fn periodic(g: &Grid) -> bool {
    let (h, w) = g.shape();
    (1..=h).any(|pr| {
        (1..=w).any(|pc| 2 * pr * pc < h * w && (0..h).all(|r| (0..w).all(|c| g.get(r, c) == g.get(r % pr, c % pc))))
    })
}

/// Where cells are only added: what the added cells have in common.
fn added_kind(task: &Task) -> &'static str {
    let all = |f: &dyn Fn(&Example, usize, usize) -> bool| {
        task.train.iter().all(|e| {
            (0..e.input.rows())
                .all(|r| (0..e.input.cols()).all(|c| e.input.get(r, c) == e.output.get(r, c) || f(e, r, c)))
        })
    };
    let enclosed =
        |e: &Example, r: usize, c: usize| ops::enclosed(&e.input, ops::background(&e.input))[r * e.input.cols() + c];
    let near = |e: &Example, r: usize, c: usize| {
        let bg = ops::background(&e.input);
        ops::neighbours(true).iter().any(|&(dr, dc)| {
            let (i, j) = (r as i64 + dr, c as i64 + dc);
            i >= 0 && j >= 0 && ops::get(&e.input, i, j) >= 0 && ops::get(&e.input, i, j) != i64::from(bg)
        })
    };
    // An added cell in a row, column or diagonal with an input cell of its colour.
    let in_line = |e: &Example, r: usize, c: usize| {
        let v = e.output.get(r, c);
        (0..e.input.rows()).any(|i| {
            (0..e.input.cols()).any(|j| {
                e.input.get(i, j) == v
                    && (i == r || j == c || (i as i64 - r as i64).abs() == (j as i64 - c as i64).abs())
            })
        })
    };
    let new_colour = |e: &Example, r: usize, c: usize| e.input.histogram()[e.output.get(r, c) as usize] == 0;
    if task.train.iter().all(|e| symmetric(&e.output) && !symmetric(&e.input)) {
        "same shape, cells added: symmetry completed"
    } else if all(&enclosed) {
        "same shape, cells added: enclosed areas filled"
    } else if task.train.iter().all(|e| periodic(&e.output)) {
        "same shape, cells added: a pattern continued"
    } else if all(&near) {
        "same shape, cells added: next to objects (outlines, marks)"
    } else if all(&in_line) {
        "same shape, cells added: lines and rays from cells"
    } else if all(&new_colour) {
        "same shape, cells added: in a colour the input lacks (regions, marks)"
    } else {
        "same shape, cells added: other (copies of shapes, paths)"
    }
}

fn group(task: &Task) -> &'static str {
    let pairs = &task.train;
    if pairs.iter().all(|e| e.input.shape() == e.output.shape()) {
        let k = pairs.iter().map(edits).fold(Edits::default(), |a, b| Edits {
            added: a.added || b.added,
            deleted: a.deleted || b.deleted,
            recoloured: a.recoloured || b.recoloured,
        });
        let kept_counts = pairs.iter().all(|e| e.input.histogram() == e.output.histogram());
        return match (k.added, k.deleted, k.recoloured) {
            _ if kept_counts => "same shape: cells moved (colour counts kept)",
            (true, false, false) => added_kind(task),
            (false, false, true) => "same shape: cells recoloured",
            (false, true, false) => "same shape: cells deleted (noise, filters)",
            (true, false, true) => "same shape: cells added and recoloured",
            _ => "same shape: cells added, deleted and recoloured",
        };
    }
    let cells = |g: &Grid| g.rows() * g.cols();
    if pairs.iter().all(|e| cells(&e.output) < cells(&e.input)) {
        if pairs.iter().all(|e| inside(&e.output, &e.input)) {
            "smaller: a part of the input"
        } else if pairs.iter().all(|e| cells(&e.output) <= 4) {
            "smaller: a tiny answer (a count, a colour, a class)"
        } else {
            "smaller: a summary or composition of parts"
        }
    } else if pairs.iter().all(|e| cells(&e.output) > cells(&e.input)) {
        if pairs.iter().all(|e| inside(&e.input, &e.output)) {
            "larger: the input kept inside (extended, tiled)"
        } else {
            "larger: built from the input (scaled, arranged)"
        }
    } else {
        "output shape varies against the input"
    }
}

fn main() {
    let results = common::root().join("benchmarks/results/enumerate_training.json");
    let run: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let solved: HashSet<String> =
        run["solved"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    let set = arcsynth::task::load(&common::training_dir()).unwrap();
    let mut groups: BTreeMap<&str, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for t in &set.tasks {
        let g = groups.entry(group(t)).or_default();
        if solved.contains(&t.id) { &mut g.0 } else { &mut g.1 }.push(t.id.clone());
    }
    let mut rows: Vec<_> = groups.iter().collect();
    rows.sort_by_key(|(name, (_, unsolved))| (std::cmp::Reverse(unsolved.len()), *name));
    println!("| group | tasks | solved | unsolved | unsolved, e.g. |\n|---|---|---|---|---|");
    for (name, (s, u)) in &rows {
        let eg: Vec<&str> = u.iter().take(5).map(String::as_str).collect();
        println!("| {name} | {} | {} | {} | {} |", s.len() + u.len(), s.len(), u.len(), eg.join(" "));
    }
    let json = serde_json::json!({
        "enumerate_training_pass_at_2": run["pass_at_2"],
        "groups": rows.iter().map(|(name, (s, u))| serde_json::json!({
            "group": name, "solved": s, "unsolved": u,
        })).collect::<Vec<_>>(),
    });
    let unsolved: usize = rows.iter().map(|(_, (_, u))| u.len()).sum();
    let (top, (_, top_u)) = rows[0];
    let summary = format!(
        "{} training tasks the last enumerate_training run missed, in {} groups; largest: {top} ({})",
        unsolved,
        rows.len(),
        top_u.len()
    );
    common::record("failure_groups", "cargo bench --bench failure_groups", &json, &summary);
}
