//! The facts line: what a task's training pairs show at a glance, computed from them,
//! for the model to read before it writes a program. Where a single DSL call makes every
//! training output from its input, the line names that call first (the 1.5B model copies
//! a call that leads the line and overlooks one at its end).

use super::{shape, Features};
use std::collections::BTreeMap;

use crate::grid::Grid;
use crate::task::{Example, Task};

/// What the training pairs show at a glance, in words: how output shapes follow from
/// input shapes, and which colours appear or vanish.
pub fn facts(task: &Task) -> String {
    let f = Features::of(task);
    let first = task.train.first();
    let ratio =
        first.map(|e| (e.output.rows() as f64 / e.input.rows() as f64, e.output.cols() as f64 / e.input.cols() as f64));
    let shape = match f.shape.as_str() {
        "same" => "Every output has the same shape as its input.".to_string(),
        "transposed" => "Every output has its input's shape turned sideways (rows and columns swapped).".to_string(),
        // Outputs of one shape smaller than their inputs (a 1x1 answer): the shape says more than a ratio.
        "scaled_down" if task.train.windows(2).all(|w| w[0].output.shape() == w[1].output.shape()) => {
            format!("Every output is {}.", first.map_or(String::new(), |e| shape(&e.output)))
        }
        "scaled_up" | "scaled_down" => match ratio {
            Some((r, c))
                if task.train.iter().all(|e| {
                    (e.output.rows() as f64 / e.input.rows() as f64, e.output.cols() as f64 / e.input.cols() as f64)
                        == (r, c)
                }) =>
            {
                let times = |x: f64| if x >= 1.0 { format!("{x}") } else { format!("1/{}", (1.0 / x).round()) };
                format!("Every output is {} times its input's rows and {} times its columns.", times(r), times(c))
            }
            _ => format!(
                "Every output is {} its input by a whole factor.",
                if f.shape == "scaled_up" { "larger than" } else { "smaller than" }
            ),
        },
        "fixed" => format!("Every output is {}.", first.map_or(String::new(), |e| shape(&e.output))),
        "smaller" => "Every output is smaller than its input.".to_string(),
        "larger" => "Every output is larger than its input.".to_string(),
        _ => "Output shapes differ from input shapes in different ways.".to_string(),
    };
    let shape = shape + sizes(task).as_str();
    let colours = |pick: &dyn Fn(&Grid, &Grid) -> Vec<usize>| {
        let mut all: Vec<usize> = task.train.iter().flat_map(|e| pick(&e.input, &e.output)).collect();
        all.sort_unstable();
        all.dedup();
        all.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
    };
    let absent = |present: &Grid, missing: &Grid| -> Vec<usize> {
        let (p, m) = (present.histogram(), missing.histogram());
        (0..10).filter(|&c| p[c] > 0 && m[c] == 0).collect()
    };
    let added = colours(&|i, o| absent(o, i));
    let removed = colours(&|i, o| absent(i, o));
    let mut out = String::new();
    // A DSL call that makes every output from its input comes first: the 1.5B model
    // writes it when it leads, and overlooked it at the end of a long line.
    let (lead, rest): (Vec<Fact>, Vec<Fact>) = sentences(task).into_iter().partition(|f| f.call.is_some());
    for f in &lead {
        out.push_str(&f.text);
        out.push(' ');
    }
    out.push_str(&shape);
    if !added.is_empty() {
        out.push_str(&format!(" Outputs use colours their inputs lack: {added}."));
    }
    if !removed.is_empty() {
        out.push_str(&format!(" Outputs lose colours their inputs have: {removed}."));
    }
    if added.is_empty() && removed.is_empty() {
        out.push_str(" Each output has the same colours as its input.");
    }
    // A one-colour grid's call says its colour already.
    if filled(task).is_none() {
        out.push_str(&one_colour(task));
    }
    out.push_str(&uniform_lines(task));
    for f in &rest {
        out.push(' ');
        out.push_str(&f.text);
    }
    out
}

/// The DSL calls the facts line names as making every training output from its input.
pub fn whole_task_calls(task: &Task) -> Vec<String> {
    sentences(task).into_iter().filter_map(|f| f.call).collect()
}

/// The facts line's sentences about what makes the outputs: where they lie in the
/// inputs, colour changes, one-colour grids, outputs picked by a reading of the input.
fn sentences(task: &Task) -> Vec<Fact> {
    let places = containment(task);
    // Where the output is the input turned or moved (the only calls for outputs of their
    // inputs' shape), which colours "change" is noise.
    let turned = places.as_ref().is_some_and(|p| p.call.is_some());
    let changes = colour_changes(task).filter(|_| !turned);
    [places, changes, filled(task), picked(task)].into_iter().flatten().collect()
}

/// One sentence of the facts line.
struct Fact {
    text: String,
    /// The DSL expression that makes every training output from its input, where the
    /// sentence ends by naming one (such sentences lead the line).
    call: Option<String>,
}

impl Fact {
    fn says(text: String) -> Fact {
        Fact { text, call: None }
    }

    /// "{words}: `{call}`."
    fn makes(words: &str, call: String) -> Fact {
        Fact { text: format!("{words}: `{call}`."), call: Some(call) }
    }
}

/// Where each output lies inside its input (a crop), or each input inside its output (a
/// tiling, a border, a mirror added), when it does so in every training pair, at one or
/// two places, and is at least 4 cells: "(row, column)" of its top-left cell per pair.
/// Where outputs are halves or the trimmed content of their inputs, are made of turned
/// or mirrored copies of them, or are them turned or mirrored, it names each part or
/// copy by the DSL call that makes it.
fn containment(task: &Task) -> Option<Fact> {
    let places = |big: &Grid, small: &Grid| -> Vec<(usize, usize)> {
        let ((bh, bw), (sh, sw)) = (big.shape(), small.shape());
        if sh > bh || sw > bw {
            return Vec::new();
        }
        let fits = |r: usize, c: usize| (0..sh).all(|i| big.row(r + i)[c..c + sw] == *small.row(i));
        (0..=bh - sh).flat_map(|r| (0..=bw - sw).map(move |c| (r, c))).filter(|&(r, c)| fits(r, c)).take(3).collect()
    };
    let describe = |found: &[Vec<(usize, usize)>]| -> String {
        let per_pair: Vec<String> = found
            .iter()
            .map(|p| p.iter().map(|(r, c)| format!("({r}, {c})")).collect::<Vec<_>>().join(" or "))
            .collect();
        per_pair.join(", ")
    };
    let all_found = |found: &[Vec<(usize, usize)>]| found.iter().all(|p| (1..=2).contains(&p.len()));
    let smaller =
        task.train.iter().all(|e| e.output.cells().len() < e.input.cells().len() && e.output.cells().len() >= 4);
    let larger =
        task.train.iter().all(|e| e.input.cells().len() < e.output.cells().len() && e.input.cells().len() >= 4);
    if smaller {
        // A part the DSL names (a half, the trimmed content), per pair.
        let named: Option<Vec<&str>> = task
            .train
            .iter()
            .map(|e| parts(&e.input).into_iter().find(|(_, p)| *p == e.output).map(|(name, _)| name))
            .collect();
        if let Some(named) = named {
            // Which part may follow from the input's shape: say it where the parts differ,
            // as one part per orientation where that holds.
            let differ = named.windows(2).any(|w| w[0] != w[1]);
            if differ {
                if let Some((by_shape, call)) = by_orientation(task, &named) {
                    return Some(Fact::makes(&format!("Each output is a part of its input ({by_shape})"), call));
                }
            }
            if !differ {
                return Some(Fact::makes("Each output is a part of its input", named[0].to_string()));
            }
            let named: Vec<String> = named
                .iter()
                .zip(&task.train)
                .map(|(n, e)| format!("`{n}` of a {} ({}) input", orientation(&e.input), shape(&e.input)))
                .collect();
            return Some(Fact::says(format!("Each output is a part of its input: {}.", same_or_per_pair(&named))));
        }
        let found: Vec<_> = task.train.iter().map(|e| places(&e.input, &e.output)).collect();
        if all_found(&found) {
            return Some(Fact::says(format!(
                "Each output is a piece of its input, whose top-left cell is at (row, column) {}.",
                describe(&found)
            )));
        }
    } else if larger {
        // Copies turned or mirrored (a mirror added, a kaleidoscope) that make up the
        // whole output: every view of the input found in it, named as the DSL call that
        // makes it. Else where the input appears unchanged.
        let copies = |e: &Example| -> Vec<String> {
            let mut seen: Vec<Grid> = Vec::new();
            let mut out = Vec::new();
            for (name, view) in views(&e.input) {
                if seen.contains(&view) {
                    continue;
                }
                out.extend(places(&e.output, &view).into_iter().map(|(r, c)| format!("{name} at ({r}, {c})")));
                seen.push(view);
            }
            out
        };
        let found: Vec<Vec<String>> = task.train.iter().map(copies).collect();
        let covered =
            task.train.iter().zip(&found).all(|(e, f)| {
                !f.is_empty() && f.len() <= 4 && f.len() * e.input.cells().len() >= e.output.cells().len()
            });
        if covered && found.iter().any(|f| f.iter().any(|p| !p.starts_with("g at"))) {
            let layouts: Option<Vec<String>> = task.train.iter().map(|e| layout(&e.input, &e.output)).collect();
            if let Some(layouts) = layouts {
                let words = "Each output is copies of its input side by side, turned or mirrored";
                if layouts.iter().all(|l| *l == layouts[0]) {
                    return Some(Fact::makes(words, layouts[0].clone()));
                }
                let quoted: Vec<String> = layouts.iter().map(|l| format!("`{l}`")).collect();
                return Some(Fact::says(format!("{words}: {}.", same_or_per_pair(&quoted))));
            }
            let found: Vec<String> = found.iter().map(|f| f.join(", ")).collect();
            return Some(Fact::says(format!(
                "Each output is made of copies of its input, with their top-left cells: {}.",
                same_or_per_pair(&found)
            )));
        }
        let found: Vec<_> = task.train.iter().map(|e| places(&e.output, &e.input)).collect();
        if all_found(&found) {
            return Some(Fact::says(format!(
                "Each input appears unchanged in its output, with its top-left cell at (row, column) {}.",
                describe(&found)
            )));
        }
    } else if task.train.iter().all(|e| e.input.cells().len() == e.output.cells().len()) {
        // Same size: the output may be the input turned or mirrored, the same way in
        // every pair.
        let turns: Vec<Vec<&str>> = task
            .train
            .iter()
            .map(|e| {
                views(&e.input).into_iter().skip(1).filter(|(_, v)| *v == e.output).map(|(name, _)| name).collect()
            })
            .collect();
        let same = turns.first()?.iter().find(|name| turns.iter().all(|t| t.contains(name)));
        if let Some(name) = same {
            return Some(Fact::makes("Each output is its input turned or mirrored", name.to_string()));
        }
        // Or the input moved a few cells, the same way in every pair, onto its background.
        // One background for every pair, and some of each input left in view.
        let bg = crate::dsl::ops::background(&task.train[0].input);
        let moved = |dr: i64, dc: i64| {
            task.train.iter().all(|e| {
                let (h, w) = (e.input.rows() as i64, e.input.cols() as i64);
                crate::dsl::ops::background(&e.input) == bg
                    && dr.abs() < h
                    && dc.abs() < w
                    && e.output.cells().iter().any(|&v| v != bg)
                    && crate::dsl::ops::shift(&e.input, dr, dc, bg as i64).is_ok_and(|m| m == e.output)
            })
        };
        let mut steps: Vec<(i64, i64)> =
            (-3i64..=3).flat_map(|dr| (-3i64..=3).map(move |dc| (dr, dc))).filter(|&s| s != (0, 0)).collect();
        steps.sort_by_key(|(dr, dc)| dr.abs() + dc.abs());
        let (dr, dc) = steps.into_iter().find(|&(dr, dc)| moved(dr, dc))?;
        return Some(Fact::makes(
            &format!("Each output is its input moved by ({dr}, {dc}) rows and columns"),
            format!("g.shift({dr}, {dc}, {bg})"),
        ));
    }
    None
}

/// One description for every pair when they agree, else "pair 1: ..; pair 2: ..".
fn same_or_per_pair(per_pair: &[String]) -> String {
    if let [first, rest @ ..] = per_pair {
        if rest.iter().all(|p| p == first) {
            return first.clone();
        }
    }
    per_pair.iter().enumerate().map(|(i, p)| format!("pair {}: {p}", i + 1)).collect::<Vec<_>>().join("; ")
}

/// The parts of `g` that one DSL call cuts out, with the call.
fn parts(g: &Grid) -> Vec<(&'static str, Grid)> {
    use crate::dsl::ops;
    let cut = [
        ("g.left_half()", ops::left_half(g)),
        ("g.right_half()", ops::right_half(g)),
        ("g.top_half()", ops::top_half(g)),
        ("g.bottom_half()", ops::bottom_half(g)),
        ("g.trim()", ops::trim(g, ops::background(g) as i64)),
    ];
    cut.into_iter().filter_map(|(name, part)| Some((name, part.ok()?))).collect()
}

/// The eight turns and mirrors of `g`, each with the DSL call that makes it from `g`
/// (`Dihedral::ALL` in another order).
fn views(g: &Grid) -> Vec<(&'static str, Grid)> {
    use crate::grid::Dihedral;
    let call = |t: Dihedral| match t {
        Dihedral::Identity => "g",
        Dihedral::Rot90 => "g.rotate(1)",
        Dihedral::Rot180 => "g.rotate(2)",
        Dihedral::Rot270 => "g.rotate(3)",
        Dihedral::FlipH => "g.flip_h()",
        Dihedral::FlipV => "g.flip_v()",
        Dihedral::Transpose => "g.transpose()",
        Dihedral::AntiTranspose => "g.transpose().rotate(2)",
    };
    // Simplest first: where views coincide (a symmetric input), the first one names them.
    let order = [
        Dihedral::Identity,
        Dihedral::FlipH,
        Dihedral::FlipV,
        Dihedral::Rot180,
        Dihedral::Transpose,
        Dihedral::Rot90,
        Dihedral::Rot270,
        Dihedral::AntiTranspose,
    ];
    order.into_iter().map(|t| (call(t), g.transform(t))).collect()
}

/// For tasks whose outputs keep their inputs' shapes: which cells change colour, over all
/// training pairs, as `a->b` with how many of colour `a`'s cells do so, most frequent
/// first (at most eight). What a person checks first on such a task: a colour map shows
/// as `a->b` on every cell of `a`, a local edit as few changed cells.
fn colour_changes(task: &Task) -> Option<Fact> {
    if task.train.is_empty() || task.train.iter().any(|e| e.input.shape() != e.output.shape()) {
        return None;
    }
    let mut moves = [[0usize; 10]; 10];
    let mut cells = 0;
    for e in &task.train {
        for (&a, &b) in e.input.cells().iter().zip(e.output.cells()) {
            moves[a as usize][b as usize] += 1;
        }
        cells += e.input.cells().len();
    }
    let mut changes: Vec<(usize, usize, usize)> = (0..10)
        .flat_map(|a| (0..10).map(move |b| (a, b)))
        .filter(|&(a, b)| a != b && moves[a][b] > 0)
        .map(|(a, b)| (a, b, moves[a][b]))
        .collect();
    let changed: usize = changes.iter().map(|c| c.2).sum();
    if changed == 0 {
        return Some(Fact::says("No cell changes colour.".into()));
    }
    // A map that differs per pair (a colour from the input picks the new colour): each
    // pair's own map, when every pair's is one colour to one.
    let one_to_many = changes.iter().any(|x| changes.iter().any(|y| x.0 == y.0 && x.1 != y.1));
    if one_to_many {
        if let Some(per_pair) = colour_maps_per_pair(task) {
            return Some(Fact::says(format!("{changed} of {cells} cells change colour, every cell of a colour the same way within each pair: {per_pair}.")));
        }
    }
    // One colour map for the whole task: every changed colour changes on all its cells, to one colour.
    if !one_to_many && changes.iter().all(|&(a, _, n)| n == moves[a].iter().sum::<usize>()) {
        let map: Vec<String> = changes.iter().map(|&(a, b, _)| format!("{a}->{b}")).collect();
        let words = format!(
            "Each output is its input recoloured, every cell of a colour the same way in every pair ({})",
            map.join(", ")
        );
        // A map is a call for the whole task only where it covers the test inputs: every
        // colour of theirs was seen in a training input (else it lists each pair's colours),
        // and where two or more colours change, some change shows in two pairs (6 -> 5 in
        // one pair and 9 -> 5 in the other is a colour each pair picks by something else).
        let seen = |c: usize| moves[c].iter().sum::<usize>() > 0;
        let covers = task.test.iter().all(|p| p.input.cells().iter().all(|&c| seen(c as usize)));
        let pairs_with = |c: usize| task.train.iter().filter(|e| e.input.cells().contains(&(c as u8))).count();
        let confirmed = changes.len() < 2 || changes.iter().any(|&(a, _, _)| pairs_with(a) >= 2);
        return Some(if covers && confirmed {
            Fact::makes(&words, colour_map_call(&changes))
        } else {
            Fact::says(format!("{words}."))
        });
    }
    // Every cell but those of the input's most common colour becomes one colour.
    if let Some(to) = all_but_most_common(task) {
        return Some(Fact::makes(
            &format!("Each output is its input with every cell not of its most common colour turned {to}"),
            format!("g.replace_not(g.most_common(), {to})"),
        ));
    }
    changes.sort_by(|x, y| y.2.cmp(&x.2).then((x.0, x.1).cmp(&(y.0, y.1))));
    let shown: Vec<String> = changes
        .iter()
        .take(8)
        .map(|&(a, b, n)| format!("{a}->{b} ({n} of {} cells of {a})", moves[a].iter().sum::<usize>()))
        .collect();
    let more = if changes.len() > 8 { format!(", and {} other changes", changes.len() - 8) } else { String::new() };
    Some(Fact::says(format!("{changed} of {cells} cells change colour: {}{more}.", shown.join(", "))))
}

/// The one colour every cell not of its input's most common colour becomes, in every pair
/// (where that changes some cell of two colours or more).
fn all_but_most_common(task: &Task) -> Option<u8> {
    let mut to = None;
    let mut sources = [false; 10];
    for e in &task.train {
        let keep = crate::dsl::ops::most_common(&e.input) as u8;
        for (&a, &b) in e.input.cells().iter().zip(e.output.cells()) {
            if a == keep {
                if b != a {
                    return None;
                }
            } else {
                if *to.get_or_insert(b) != b {
                    return None;
                }
                sources[a as usize] |= a != b;
            }
        }
    }
    to.filter(|_| sources.iter().filter(|&&s| s).count() >= 2)
}

/// The DSL call that applies a colour map given as (from, to, cells) changes, in colour order.
fn colour_map_call(changes: &[(usize, usize, usize)]) -> String {
    match changes {
        [(a, b, _)] => format!("g.replace({a}, {b})"),
        [(a, b, _), (c, d, _)] if (a, b) == (d, c) => format!("g.swap({a}, {b})"),
        _ => {
            let map: Vec<String> = changes.iter().map(|(a, b, _)| format!("\"{a}\": {b}")).collect();
            format!("g.recolor(#{{{}}})", map.join(", "))
        }
    }
}

/// "wide inputs give their left half, tall inputs give their top half" where each
/// orientation of the inputs goes with one call, in every pair, and the call that picks
/// by orientation: `if g.cols() > g.rows() { g.left_half() } else { g.top_half() }`.
fn by_orientation(task: &Task, named: &[&str]) -> Option<(String, String)> {
    let mut groups: Vec<(&str, &str)> = Vec::new();
    for (e, &name) in task.train.iter().zip(named) {
        match groups.iter().find(|(w, _)| *w == orientation(&e.input)) {
            Some((_, n)) if *n != name => return None,
            Some(_) => {}
            None => groups.push((orientation(&e.input), name)),
        }
    }
    let part = |call: &str| call.trim_start_matches("g.").trim_end_matches("()").replace('_', " ");
    let said: Vec<String> = groups.iter().map(|(w, n)| format!("{w} inputs give their {}", part(n))).collect();
    let test = |w: &str| match w {
        "wide" => "g.cols() > g.rows()",
        "tall" => "g.rows() > g.cols()",
        _ => "g.rows() == g.cols()",
    };
    let (last, first) = groups.split_last()?;
    let branches: String = first.iter().map(|(w, n)| format!("if {} {{ {n} }} else ", test(w))).collect();
    Some((said.join(", "), format!("{branches}{{ {} }}", last.1)))
}

/// "wide", "tall" or "square".
fn orientation(g: &Grid) -> &'static str {
    match g.rows().cmp(&g.cols()) {
        std::cmp::Ordering::Less => "wide",
        std::cmp::Ordering::Greater => "tall",
        std::cmp::Ordering::Equal => "square",
    }
}

/// The output as input-sized blocks, each a turn or mirror of the input, written as the
/// DSL expression that builds it (`g.vcat(g.flip_v())`, `g.tile(2, 2)`); `None` unless the
/// output is a grid of at least two such blocks.
fn layout(input: &Grid, output: &Grid) -> Option<String> {
    let ((h, w), (oh, ow)) = (input.shape(), output.shape());
    if h == 0 || w == 0 || oh % h != 0 || ow % w != 0 || oh * ow == h * w {
        return None;
    }
    let (down, across) = (oh / h, ow / w);
    let views = views(input);
    let block = |i: usize, j: usize| -> Option<&'static str> {
        let fits =
            |v: &Grid| v.shape() == (h, w) && (0..h).all(|r| v.row(r) == &output.row(i * h + r)[j * w..(j + 1) * w]);
        views.iter().find(|(_, v)| fits(v)).map(|(name, _)| *name)
    };
    let blocks: Vec<Vec<&str>> =
        (0..down).map(|i| (0..across).map(|j| block(i, j)).collect()).collect::<Option<_>>()?;
    if blocks.iter().flatten().all(|b| *b == "g") {
        return Some(format!("g.tile({down}, {across})"));
    }
    let rows: Vec<String> = blocks
        .iter()
        .map(|row| row.iter().skip(1).fold(row[0].to_string(), |acc, b| format!("{acc}.hcat({b})")))
        .collect();
    let whole = rows.iter().skip(1).fold(rows[0].clone(), |acc, r| format!("{acc}.vcat({r})"));
    Some(whole)
}

/// Where every output is one colour throughout, and its shape and colour each follow
/// from its input in one way for every pair: the `grid(rows, cols, colour)` call that
/// makes it, e.g. `grid(g.rows(), g.cols(), g.most_common())`.
fn filled(task: &Task) -> Option<Fact> {
    use crate::dsl::ops;
    let colours: Vec<usize> = task.train.iter().map(|e| single_colour(&e.output)).collect::<Option<_>>()?;
    // Each candidate is a DSL expression and its value on an input.
    type Expr<'a> = (String, &'a dyn Fn(&Grid) -> Option<usize>);
    let pick = |candidates: &[Expr], want: &dyn Fn(&Example, usize) -> usize| -> Option<String> {
        candidates.iter().find_map(|(call, value)| {
            task.train.iter().enumerate().all(|(i, e)| value(&e.input) == Some(want(e, i))).then(|| call.clone())
        })
    };
    let constant = |values: Vec<usize>| values.windows(2).all(|w| w[0] == w[1]).then(|| values[0]);
    let nonzero = |g: &Grid| Some(g.cells().iter().filter(|&&v| v != 0).count());
    let rows_of: Expr = ("g.rows()".into(), &|g: &Grid| Some(g.rows()));
    let cols_of: Expr = ("g.cols()".into(), &|g: &Grid| Some(g.cols()));
    let size = |of_output: fn(&Grid) -> usize, same: &Expr, other: &Expr| -> Option<String> {
        let fixed = constant(task.train.iter().map(|e| of_output(&e.output)).collect());
        let candidates: Vec<Expr> =
            vec![same.clone(), other.clone(), ("g.rows() * g.cols() - g.count(0)".into(), &nonzero)];
        let want = |e: &Example, _| of_output(&e.output);
        // The input's own size first: it says more than a constant that merely fits.
        pick(&candidates[..2], &want).or(fixed.map(|n| n.to_string())).or_else(|| pick(&candidates[2..], &want))
    };
    let rows = size(|g| g.rows(), &rows_of, &cols_of)?;
    let cols = size(|g| g.cols(), &cols_of, &rows_of)?;
    let only_colour = |g: &Grid| ops::colors(g).first().map(|&c| c as usize);
    let candidates: Vec<Expr> = vec![
        ("g.most_common()".into(), &|g: &Grid| Some(ops::most_common(g) as usize)),
        ("g.colors()[0]".into(), &only_colour),
        ("g.least_common()".into(), &|g: &Grid| Some(ops::least_common(g) as usize)),
    ];
    let colour = constant(colours.clone()).map(|c| c.to_string()).or_else(|| pick(&candidates, &|_, i| colours[i]))?;
    Some(Fact::makes("Each output is all one colour", format!("grid({rows}, {cols}, {colour})")))
}

/// Where outputs repeat (fewer distinct outputs than pairs) and one number read off the
/// input picks each (its number of objects, of colours, a symmetry), with every test
/// input's number seen in training: the call that picks, e.g. `if g.is_symmetric_h() {
/// grid(1, 1, 1) } else { grid(1, 1, 7) }`. The reading with the fewest values wins. Not
/// where the call would hold a training output the search counts as hard-coded.
fn picked(task: &Task) -> Option<Fact> {
    use crate::dsl::{objects, ops};
    let n = task.train.len();
    let mut outputs: Vec<&Grid> = task.train.iter().map(|e| &e.output).collect();
    outputs.sort_by_key(|g| (g.shape(), g.cells().to_vec()));
    outputs.dedup();
    if outputs.len() < 2 || outputs.len() >= n {
        return None;
    }
    type Reading = (&'static str, &'static str, fn(&Grid) -> usize);
    let readings: [Reading; 7] = [
        ("g.is_symmetric_h()", "whether its input is its own left-right mirror", |g| ops::is_symmetric_h(g) as usize),
        ("g.is_symmetric_v()", "whether its input is its own top-bottom mirror", |g| ops::is_symmetric_v(g) as usize),
        ("g.palette().len()", "its input's number of colours", |g| ops::palette(g).len()),
        ("g.colors().len()", "its input's number of colours other than the background", |g| ops::colors(g).len()),
        ("g.objects().len()", "its input's number of objects", |g| {
            objects::objects(g, objects::ObjectOptions::defaults(g)).len()
        }),
        ("g.count(0)", "its input's number of 0 cells", |g| ops::count(g, 0) as usize),
        ("g.most_common()", "its input's most common colour", |g| ops::most_common(g) as usize),
    ];
    let table = |read: fn(&Grid) -> usize| -> Option<BTreeMap<usize, &Grid>> {
        let mut table = BTreeMap::new();
        for e in &task.train {
            if **table.entry(read(&e.input)).or_insert(&e.output) != e.output {
                return None;
            }
        }
        let seen = task.test.iter().all(|p| table.contains_key(&read(&p.input)));
        (seen && table.len() < n).then_some(table)
    };
    let (call, words, table) = readings
        .iter()
        .filter_map(|&(call, words, read)| Some((call, words, table(read)?)))
        .min_by_key(|(_, _, t)| t.len())?;
    let make = |g: &Grid| match single_colour(g) {
        Some(c) => format!("grid({}, {}, {c})", g.rows(), g.cols()),
        None => {
            let rows: Vec<String> = (0..g.rows())
                .map(|r| format!("[{}]", g.row(r).iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")))
                .collect();
            format!("grid_from([{}])", rows.join(", "))
        }
    };
    let entries: Vec<(usize, String)> = table.iter().map(|(&k, g)| (k, make(g))).collect();
    let (last, first) = entries.split_last()?;
    let code = if call.starts_with("g.is_") {
        // Two values: true (1) and false (0).
        format!("if {call} {{ {} }} else {{ {} }}", last.1, first[0].1)
    } else {
        let branches: String = first.iter().map(|(k, g)| format!("if n == {k} {{ {g} }} else ")).collect();
        format!("let n = {call}; {branches}{{ {} }}", last.1)
    };
    // The search does not let a program that holds a training output as a literal vote
    // (a memorised answer): such a call is not worth the model's copying.
    if crate::search::hygiene::hard_codes_an_output(&code, task) {
        return None;
    }
    Some(Fact::makes(&format!("Each output is picked by {words}"), code))
}

/// Where every output is filled with one colour and differs in shape from its input: that
/// colour, as the input's only colour other than 0 where it is that in every pair, else per pair.
fn one_colour(task: &Task) -> String {
    let colours: Option<Vec<usize>> = task.train.iter().map(|e| single_colour(&e.output)).collect();
    let Some(colours) = colours.filter(|_| every_pair(task, |e| e.input.shape() != e.output.shape())) else {
        return String::new();
    };
    let only = |e: &Example| {
        let h = e.input.histogram();
        let others: Vec<usize> = (1..10).filter(|&c| h[c] > 0).collect();
        (others.len() == 1).then(|| others[0])
    };
    if task.train.iter().zip(&colours).all(|(e, &c)| only(e) == Some(c)) {
        return " Each output is all one colour: its input's only colour other than 0.".into();
    }
    let per_pair: Vec<String> = colours.iter().map(|c| c.to_string()).collect();
    format!(" Each output is all one colour: {}.", same_or_per_pair(&per_pair))
}

/// The grid's colour when it has only one.
fn single_colour(g: &Grid) -> Option<usize> {
    let h = g.histogram();
    (h.iter().filter(|&&n| n > 0).count() == 1).then(|| h.iter().position(|&n| n > 0).unwrap())
}

/// Whether the task has training pairs and `f` holds for every one.
fn every_pair(task: &Task, f: impl Fn(&Example) -> bool) -> bool {
    !task.train.is_empty() && task.train.iter().all(f)
}

/// " Every row of every output is one colour." (or column) where that holds, outputs are
/// not one colour throughout, and inputs' rows (columns) are not all one colour already.
fn uniform_lines(task: &Task) -> String {
    let rows_uniform = |g: &Grid| (0..g.rows()).all(|r| g.row(r).iter().all(|&v| v == g.row(r)[0]));
    let cols_uniform = |g: &Grid| rows_uniform(&g.transform(crate::grid::Dihedral::Transpose));
    let all = |f: &dyn Fn(&Example) -> bool| every_pair(task, f);
    if all(&|e| single_colour(&e.output).is_some()) {
        return String::new();
    }
    if all(&|e| rows_uniform(&e.output) && e.output.cols() > 1) && !all(&|e| rows_uniform(&e.input)) {
        " Every row of every output is one colour.".into()
    } else if all(&|e| cols_uniform(&e.output) && e.output.rows() > 1) && !all(&|e| cols_uniform(&e.input)) {
        " Every column of every output is one colour.".into()
    } else {
        String::new()
    }
}

/// What output sizes share when they vary and differ from their inputs': one row or one column, or as many cells as
/// the input has cells that are not 0 (a count drawn as a bar). "" when none holds.
fn sizes(task: &Task) -> String {
    let all = |f: &dyn Fn(&Example) -> bool| every_pair(task, f);
    if all(&|e| e.output.shape() == task.train[0].output.shape())
        || all(&|e| e.output.cells().len() == e.input.cells().len())
    {
        return String::new();
    }
    let mut out = String::new();
    if all(&|e| e.output.rows() == 1) {
        out.push_str(" Every output is one row.");
    } else if all(&|e| e.output.cols() == 1) {
        out.push_str(" Every output is one column.");
    }
    if all(&|e| e.output.cells().len() == e.input.cells().iter().filter(|&&v| v != 0).count()) {
        out.push_str(" Each output has as many cells as its input has cells that are not 0.");
    }
    out
}

/// Each pair's colour map ("pair 1: 5->4, 4->0"), when in every pair each changed colour
/// changes on all its cells, to one colour; `None` otherwise.
fn colour_maps_per_pair(task: &Task) -> Option<String> {
    let mut out = Vec::new();
    for (i, e) in task.train.iter().enumerate() {
        let mut to: [Option<u8>; 10] = [None; 10];
        for (&a, &b) in e.input.cells().iter().zip(e.output.cells()) {
            match to[a as usize] {
                None => to[a as usize] = Some(b),
                Some(t) if t != b => return None,
                _ => {}
            }
        }
        let moves: Vec<String> =
            (0..10).filter_map(|a| to[a].filter(|&b| b as usize != a).map(|b| format!("{a}->{b}"))).collect();
        out.push(format!("pair {}: {}", i + 1, if moves.is_empty() { "none".to_string() } else { moves.join(", ") }));
    }
    Some(out.join("; "))
}
