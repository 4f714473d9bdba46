//! Grid primitives as plain Rust functions. The Rhai surface (`dsl::module`) wraps these
//! one-to-one; the enumerator and the native benchmarks call them directly.
//!
//! **Invariant:** every function is total: any argument gives a result or a [`DslError`],
//! never a panic, and no function allocates more than `MAX_WORK_SIDE`² cells per grid
//! before checking the size. Recursion is never used (flood fills use explicit stacks).

use crate::grid::{Grid, COLOURS, MAX_WORK_SIDE};

/// A primitive refused its arguments; the message says which and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DslError(pub String);

pub type R<T> = Result<T, DslError>;

impl DslError {
    /// Why a primitive stopped a run from the outside ([`crate::watchdog`]): the
    /// deadline passed or the memory budget ran out, not a refused argument.
    pub fn stop(&self) -> Option<crate::watchdog::Stop> {
        use crate::watchdog::Stop;
        [Stop::Deadline, Stop::Memory].into_iter().find(|s| self.0 == stop_message(*s))
    }
}

fn stop_message(s: crate::watchdog::Stop) -> String {
    format!("the run's {} ran out", s.token())
}

/// Fails once the running program must stop ([`crate::watchdog`]); the primitives that
/// loop long call it as they go.
fn in_time() -> R<()> {
    crate::watchdog::check().map_err(|s| DslError(stop_message(s)))
}

macro_rules! fail {
    ($($t:tt)*) => { return Err(DslError(format!($($t)*))) };
}

/// Checks a colour argument.
pub fn colour(c: i64) -> R<u8> {
    if (0..COLOURS as i64).contains(&c) {
        Ok(c as u8)
    } else {
        fail!("colour {c} is not in 0..=9")
    }
}

/// Checks a grid shape argument.
pub fn shape(rows: i64, cols: i64) -> R<(usize, usize)> {
    let max = MAX_WORK_SIDE as i64;
    if rows < 1 || cols < 1 || rows > max || cols > max {
        fail!("a {rows}x{cols} grid is not allowed (sides must be 1..={max})")
    }
    Ok((rows as usize, cols as usize))
}

/// Checks that a product of sides stays within limits without overflowing.
fn scaled(n: usize, k: i64, what: &str) -> R<usize> {
    if k < 1 || k > MAX_WORK_SIDE as i64 || n * k as usize > MAX_WORK_SIDE {
        fail!("{what} by {k} gives a side over {MAX_WORK_SIDE} (or factor < 1)")
    }
    Ok(n * k as usize)
}

fn same_shape(a: &Grid, b: &Grid, what: &str) -> R<()> {
    if a.shape() != b.shape() {
        fail!("{what}: shapes differ ({}x{} vs {}x{})", a.rows(), a.cols(), b.rows(), b.cols())
    }
    Ok(())
}

// ---- construction and access ----

pub fn new_grid(rows: i64, cols: i64, c: i64) -> R<Grid> {
    let (r, k) = shape(rows, cols)?;
    Ok(Grid::filled(r, k, colour(c)?).expect("checked shape and colour"))
}

pub fn from_rows(rows: &[Vec<i64>]) -> R<Grid> {
    Grid::from_rows_max(rows, MAX_WORK_SIDE).map_err(|e| DslError(format!("grid_from: {e}")))
}

/// The colour at (r, c), or -1 outside the grid.
pub fn get(g: &Grid, r: i64, c: i64) -> i64 {
    g.at(r, c).map_or(-1, |v| v as i64)
}

/// Sets (r, c) in place; outside the grid it does nothing, as drawing primitives clip,
/// and so does colour -1, what `get` reads outside the grid (`out.set(r, c, g.get(r - 1, c))`).
pub fn set(g: &mut Grid, r: i64, c: i64, v: i64) -> R<()> {
    if v == -1 {
        return Ok(());
    }
    let v = colour(v)?;
    if g.at(r, c).is_some() {
        g.set(r as usize, c as usize, v);
    }
    Ok(())
}

// ---- geometry ----

pub fn rotate(g: &Grid, k: i64) -> Grid {
    use crate::grid::Dihedral::*;
    g.transform([Identity, Rot90, Rot180, Rot270][k.rem_euclid(4) as usize])
}
pub fn flip_h(g: &Grid) -> Grid {
    g.transform(crate::grid::Dihedral::FlipH)
}
pub fn flip_v(g: &Grid) -> Grid {
    g.transform(crate::grid::Dihedral::FlipV)
}
pub fn transpose(g: &Grid) -> Grid {
    g.transform(crate::grid::Dihedral::Transpose)
}

/// Moves the contents by (dr, dc); vacated cells get `fill`, cells pushed out are lost.
pub fn shift(g: &Grid, dr: i64, dc: i64, fill: i64) -> R<Grid> {
    let fill = colour(fill)?;
    Ok(Grid::from_fn(g.rows(), g.cols(), |r, c| {
        g.at((r as i64).saturating_sub(dr), (c as i64).saturating_sub(dc)).unwrap_or(fill)
    }))
}

/// Moves the contents by (dr, dc) with wrap-around.
pub fn roll(g: &Grid, dr: i64, dc: i64) -> Grid {
    let (h, w) = (g.rows() as i64, g.cols() as i64);
    let (dr, dc) = (dr.rem_euclid(h), dc.rem_euclid(w));
    Grid::from_fn(g.rows(), g.cols(), |r, c| {
        g.get((r as i64 - dr).rem_euclid(h) as usize, (c as i64 - dc).rem_euclid(w) as usize)
    })
}

// ---- size ----

/// The h x w window at (r, c), clipped to the grid; empty after clipping is an error.
pub fn crop(g: &Grid, r: i64, c: i64, h: i64, w: i64) -> R<Grid> {
    let r0 = r.max(0);
    let c0 = c.max(0);
    let r1 = r.saturating_add(h).min(g.rows() as i64);
    let c1 = c.saturating_add(w).min(g.cols() as i64);
    if r1 <= r0 || c1 <= c0 {
        fail!("crop: {h}x{w} at ({r},{c}) has no cells inside the {}x{} grid", g.rows(), g.cols())
    }
    Ok(Grid::from_fn((r1 - r0) as usize, (c1 - c0) as usize, |i, j| g.get(r0 as usize + i, c0 as usize + j)))
}

/// Bounding box [top, left, height, width] of the cells that are not `bg`, if any.
pub fn bbox_not(g: &Grid, bg: u8) -> Option<[usize; 4]> {
    let (mut t, mut l, mut b, mut r) = (usize::MAX, usize::MAX, 0, 0);
    for i in 0..g.rows() {
        for (j, &v) in g.row(i).iter().enumerate() {
            if v != bg {
                t = t.min(i);
                l = l.min(j);
                b = b.max(i);
                r = r.max(j);
            }
        }
    }
    (t != usize::MAX).then(|| [t, l, b - t + 1, r - l + 1])
}

/// Crops to the bounding box of the cells that are not `bg`.
pub fn trim(g: &Grid, bg: i64) -> R<Grid> {
    let bg = colour(bg)?;
    match bbox_not(g, bg) {
        Some([t, l, h, w]) => Ok(Grid::from_fn(h, w, |i, j| g.get(t + i, l + j))),
        None => fail!("trim: the grid is all background colour {bg}"),
    }
}

/// Adds `n` cells of colour `c` on every side.
pub fn pad(g: &Grid, n: i64, c: i64) -> R<Grid> {
    let c = colour(c)?;
    if !(0..=MAX_WORK_SIDE as i64).contains(&n) {
        fail!("pad: n must be in 0..={MAX_WORK_SIDE}, got {n}")
    }
    let (h, w) = shape(g.rows() as i64 + 2 * n, g.cols() as i64 + 2 * n)?;
    Ok(Grid::from_fn(h, w, |i, j| g.at(i as i64 - n, j as i64 - n).unwrap_or(c)))
}

/// Grows or shrinks to rows x cols, keeping the top-left corner; new cells get `c`.
pub fn resize(g: &Grid, rows: i64, cols: i64, c: i64) -> R<Grid> {
    let (h, w) = shape(rows, cols)?;
    let c = colour(c)?;
    Ok(Grid::from_fn(h, w, |i, j| g.at(i as i64, j as i64).unwrap_or(c)))
}

/// Each cell becomes a kr x kc block.
pub fn scale_up(g: &Grid, kr: i64, kc: i64) -> R<Grid> {
    let h = scaled(g.rows(), kr, "scale_up")?;
    let w = scaled(g.cols(), kc, "scale_up")?;
    Ok(Grid::from_fn(h, w, |i, j| g.get(i / kr as usize, j / kc as usize)))
}

/// Keeps every kr-th row and kc-th column (the inverse of `scale_up`).
pub fn scale_down(g: &Grid, kr: i64, kc: i64) -> R<Grid> {
    if kr < 1 || kc < 1 || kr as usize > g.rows() || kc as usize > g.cols() {
        fail!("scale_down: factors {kr}x{kc} do not fit a {}x{} grid", g.rows(), g.cols())
    }
    let (kr, kc) = (kr as usize, kc as usize);
    Ok(Grid::from_fn(g.rows() / kr, g.cols() / kc, |i, j| g.get(i * kr, j * kc)))
}

/// Repeats the grid nr times down and nc times across.
pub fn tile(g: &Grid, nr: i64, nc: i64) -> R<Grid> {
    let h = scaled(g.rows(), nr, "tile")?;
    let w = scaled(g.cols(), nc, "tile")?;
    Ok(Grid::from_fn(h, w, |i, j| g.get(i % g.rows(), j % g.cols())))
}

/// `nr` x `nc` copies of the grid, each row of copies flipped by `rows` ("h", "v" or ""
/// for none) from the row above it, each column by `cols` from the column on its left.
pub fn mirror_tile(g: &Grid, nr: i64, nc: i64, rows: &str, cols: &str) -> R<Grid> {
    let flip = |f: &str| -> R<(bool, bool)> {
        Ok(match f {
            "" => (false, false),
            "h" => (true, false),
            "v" => (false, true),
            _ => fail!("mirror_tile: a flip is \"h\", \"v\" or \"\", not {f:?}"),
        })
    };
    let ((rh, rv), (ch, cv)) = (flip(rows)?, flip(cols)?);
    let (h, w) = (g.rows(), g.cols());
    let (oh, ow) = (scaled(h, nr, "mirror_tile")?, scaled(w, nc, "mirror_tile")?);
    Ok(Grid::from_fn(oh, ow, |i, j| {
        let (ti, tj) = (i / h, j / w);
        // How often the copy at (ti, tj) is flipped each way.
        let across = (rh as usize * ti + ch as usize * tj) % 2 == 1;
        let down = (rv as usize * ti + cv as usize * tj) % 2 == 1;
        let (r, c) = (i % h, j % w);
        g.get(if down { h - 1 - r } else { r }, if across { w - 1 - c } else { c })
    }))
}

/// `nr` copies down and `nc` across, each the mirror image of the one before it and
/// sharing its edge row or column with it: `nr * (rows - 1) + 1` rows.
pub fn reflect_tile(g: &Grid, nr: i64, nc: i64) -> R<Grid> {
    // Position `i` of a side `n` long reflected `k` times, the edges shared.
    let side = |n: usize, k: i64| -> R<usize> {
        if k < 1 || (n < 2 && k > 1) {
            fail!("reflect_tile: {k} copies of a side {n} long (a side of one cannot share its edge)")
        }
        let len = (n - 1) * k as usize + 1;
        if len > MAX_WORK_SIDE {
            fail!("reflect_tile by {k} gives a side over {MAX_WORK_SIDE}")
        }
        Ok(len)
    };
    let at = |i: usize, n: usize| -> usize {
        if n < 2 {
            return 0;
        }
        let k = i % (2 * n - 2);
        if k < n {
            k
        } else {
            2 * n - 2 - k
        }
    };
    let (oh, ow) = (side(g.rows(), nr)?, side(g.cols(), nc)?);
    Ok(Grid::from_fn(oh, ow, |i, j| g.get(at(i, g.rows()), at(j, g.cols()))))
}

/// Repeats the grid's pattern to fill rows x cols (cropping the last repeat).
pub fn tile_to(g: &Grid, rows: i64, cols: i64) -> R<Grid> {
    let (h, w) = shape(rows, cols)?;
    Ok(Grid::from_fn(h, w, |i, j| g.get(i % g.rows(), j % g.cols())))
}

/// Side by side (same number of rows).
pub fn hcat(a: &Grid, b: &Grid) -> R<Grid> {
    if a.rows() != b.rows() {
        fail!("hcat: {} rows vs {} rows", a.rows(), b.rows())
    }
    let (_, w) = shape(a.rows() as i64, (a.cols() + b.cols()) as i64)?;
    Ok(Grid::from_fn(a.rows(), w, |i, j| if j < a.cols() { a.get(i, j) } else { b.get(i, j - a.cols()) }))
}

/// One above the other (same number of columns).
pub fn vcat(a: &Grid, b: &Grid) -> R<Grid> {
    if a.cols() != b.cols() {
        fail!("vcat: {} columns vs {} columns", a.cols(), b.cols())
    }
    let (h, _) = shape((a.rows() + b.rows()) as i64, a.cols() as i64)?;
    Ok(Grid::from_fn(h, a.cols(), |i, j| if i < a.rows() { a.get(i, j) } else { b.get(i - a.rows(), j) }))
}

/// Splits into n equal parts side by side; one separator column between parts is
/// dropped when the width is n*k + (n-1).
pub fn split_cols(g: &Grid, n: i64) -> R<Vec<Grid>> {
    split(&transpose(g), n).map(|v| v.iter().map(transpose).collect())
}

/// Splits into n equal parts top to bottom (separator rows dropped as in `split_cols`).
pub fn split_rows(g: &Grid, n: i64) -> R<Vec<Grid>> {
    split(g, n)
}

fn split(g: &Grid, n: i64) -> R<Vec<Grid>> {
    let rows = g.rows() as i64;
    if n < 1 || n > rows {
        fail!("split: cannot split {rows} rows into {n} parts")
    }
    let (k, gap) = if rows % n == 0 {
        (rows / n, 0)
    } else if (rows + 1) % n == 0 {
        ((rows + 1) / n - 1, 1)
    } else {
        fail!("split: {rows} rows do not split into {n} equal parts")
    };
    if k < 1 {
        fail!("split: parts would be empty")
    }
    (0..n).map(|i| crop(g, i * (k + gap), 0, k, g.cols() as i64)).collect()
}

/// Each row's colour where the row (or, transposed, column) is one colour across the
/// whole grid and that colour is not the background; no row at all when every row is.
fn full_rows(g: &Grid) -> Vec<Option<u8>> {
    let bg = background(g);
    let full: Vec<Option<u8>> = (0..g.rows())
        .map(|i| {
            let row = g.row(i);
            (row.iter().all(|&v| v == row[0]) && (row[0] != bg || g.rows() == 1)).then_some(row[0])
        })
        .collect();
    // Every row the same colour means no structure, not all separators.
    if full.iter().all(Option::is_some) {
        vec![None; g.rows()]
    } else {
        full
    }
}

/// Separator rows and columns: full lines of one colour, the colour with the most of
/// them (ties: the lower), so that a shape's full edge in another colour does not cut.
fn separators(g: &Grid) -> (Vec<bool>, Vec<bool>) {
    let (rows, cols) = (full_rows(g), full_rows(&transpose(g)));
    let mut lines = [0usize; COLOURS];
    rows.iter().chain(&cols).flatten().for_each(|&c| lines[c as usize] += 1);
    let best = (0..COLOURS).max_by_key(|&c| (lines[c], std::cmp::Reverse(c))).unwrap_or(0) as u8;
    let keep = |v: Vec<Option<u8>>| v.into_iter().map(|c| c == Some(best)).collect();
    (keep(rows), keep(cols))
}

fn runs(sep: &[bool]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &s) in sep.iter().chain(std::iter::once(&true)).enumerate() {
        match (s, start) {
            (false, None) => start = Some(i),
            (true, Some(s0)) => {
                out.push((s0, i - s0));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// The cells between separator lines (full rows/columns of one non-background colour),
/// in reading order. A grid without separators is one cell.
pub fn split_by_lines(g: &Grid) -> Vec<Grid> {
    let (rows, cols) = separators(g);
    parts_between(g, &rows, &cols)
}

/// The cells between full rows and columns of the background, in reading order (the
/// empty margins dropped). A grid without such gaps is one part.
pub fn split_by_gaps(g: &Grid) -> Vec<Grid> {
    let bg = background(g);
    parts_between(g, &gap_rows(g, bg), &gap_rows(&transpose(g), bg))
}

/// The blocks between the rows and the columns marked as cuts, in reading order.
fn parts_between(g: &Grid, row_cuts: &[bool], col_cuts: &[bool]) -> Vec<Grid> {
    let (row_runs, col_runs) = (runs(row_cuts), runs(col_cuts));
    let mut out = Vec::with_capacity(row_runs.len() * col_runs.len());
    for &(r, h) in &row_runs {
        for &(c, w) in &col_runs {
            out.push(Grid::from_fn(h, w, |i, j| g.get(r + i, c + j)));
        }
    }
    out
}

/// Each part of the grid as one cell of its most common colour other than the
/// background (ties: the lower colour; the background where it has none), laid out as
/// the parts are. The parts are those between separator lines (`"lines"`, as
/// `split_by_lines` cuts) or between full rows and columns of the background (`"gaps"`);
/// a grid they do not cut is an error.
pub fn part_colours(g: &Grid, by: &str) -> R<Grid> {
    let bg = background(g);
    let (rows, cols) = match by {
        "lines" => separators(g),
        "gaps" => (gap_rows(g, bg), gap_rows(&transpose(g), bg)),
        _ => fail!("part_colours: parts must be \"lines\" or \"gaps\", not {by:?}"),
    };
    let (row_runs, col_runs) = (runs(&rows), runs(&cols));
    // One part would be the grid's most common colour, which other primitives name.
    if row_runs.len() * col_runs.len() < 2 {
        fail!("part_colours: no {by} cut the grid into parts")
    }
    Ok(Grid::from_fn(row_runs.len(), col_runs.len(), |i, j| {
        let ((r, h), (c, w)) = (row_runs[i], col_runs[j]);
        let mut counts = [0usize; COLOURS];
        for a in r..r + h {
            for b in c..c + w {
                counts[g.get(a, b) as usize] += 1;
            }
        }
        counts[bg as usize] = 0;
        let best = (0..COLOURS).max_by_key(|&k| (counts[k], std::cmp::Reverse(k))).unwrap_or(0);
        if counts[best] == 0 {
            bg
        } else {
            best as u8
        }
    }))
}

/// Where a part lies among the parts along one axis, as `fill_parts` names it.
pub const PLACES: [&str; 4] = ["first", "middle", "last", "other"];

/// The index in [`PLACES`] of part `i` of `n`: the first, the last, the middle one of an
/// odd number, or another.
fn place(i: usize, n: usize) -> usize {
    if i == 0 {
        0
    } else if i + 1 == n {
        2
    } else if n % 2 == 1 && i == n / 2 {
        1
    } else {
        3
    }
}

/// The colour painted over the background of the parts at each (row place, column
/// place) of [`PLACES`]; `None` leaves those parts as they are.
pub type PartFills = [[Option<u8>; 4]; 4];

/// The parts between separator lines (as `split_by_lines` cuts) with their places:
/// (row place, column place, top, left, height, width); `None` where the lines cut the
/// grid into fewer than two parts.
pub fn part_places(g: &Grid) -> Option<Vec<(usize, usize, [usize; 4])>> {
    let (rows, cols) = separators(g);
    let (row_runs, col_runs) = (runs(&rows), runs(&cols));
    if row_runs.len() * col_runs.len() < 2 {
        return None;
    }
    let mut out = Vec::with_capacity(row_runs.len() * col_runs.len());
    for (i, &(r, h)) in row_runs.iter().enumerate() {
        for (j, &(c, w)) in col_runs.iter().enumerate() {
            out.push((place(i, row_runs.len()), place(j, col_runs.len()), [r, c, h, w]));
        }
    }
    Some(out)
}

/// The background cells of each part between separator lines take the colour `fills`
/// gives the part's place (first, middle, last or other row of parts, and column); an
/// error where the lines cut the grid into fewer than two parts.
pub fn fill_parts(g: &Grid, fills: &PartFills) -> R<Grid> {
    let Some(parts) = part_places(g) else { fail!("fill_parts: no separator lines cut the grid into parts") };
    let bg = background(g);
    let mut out = g.clone();
    let mut edit = out.edit();
    for (pr, pc, [r, c, h, w]) in parts {
        if let Some(v) = fills[pr][pc] {
            for i in r..r + h {
                (c..c + w).filter(|&j| g.get(i, j) == bg).for_each(|j| edit.set(i, j, v));
            }
        }
    }
    Ok(out)
}

/// The part between separator lines (as `split_by_lines` cuts, all of one size) with the
/// most non-background cells (ties: the first in reading order) repeated into every
/// other part, on its background cells only: in the part's own colours (`"own"`) or in
/// the lines' colour (`"lines"`). An error where the lines cut fewer than two parts,
/// the parts differ in size, or every part is empty.
pub fn repeat_part(g: &Grid, paint: &str) -> R<Grid> {
    if paint != "own" && paint != "lines" {
        fail!("repeat_part: paint must be \"own\" or \"lines\", not {paint:?}")
    }
    let Some(parts) = part_places(g) else { fail!("repeat_part: no separator lines cut the grid into parts") };
    let [_, _, h, w] = parts[0].2;
    if parts.iter().any(|&(_, _, [_, _, ph, pw])| (ph, pw) != (h, w)) {
        fail!("repeat_part: the parts differ in size")
    }
    let bg = background(g);
    let filled = |&[r, c, _, _]: &[usize; 4]| {
        (r..r + h).flat_map(|i| (c..c + w).map(move |j| (i, j))).filter(|&(i, j)| g.get(i, j) != bg).count()
    };
    let best = (0..parts.len()).max_by_key(|&k| (filled(&parts[k].2), std::cmp::Reverse(k))).unwrap_or(0);
    if filled(&parts[best].2) == 0 {
        fail!("repeat_part: every part is empty")
    }
    let [tr, tc, _, _] = parts[best].2;
    // The lines' colour: the first cell outside every part.
    let inside = |i: usize, j: usize| {
        parts.iter().any(|&(_, _, [r, c, _, _])| (r..r + h).contains(&i) && (c..c + w).contains(&j))
    };
    let line = (0..g.rows())
        .flat_map(|i| (0..g.cols()).map(move |j| (i, j)))
        .find(|&(i, j)| !inside(i, j))
        .map(|(i, j)| g.get(i, j));
    let mut out = g.clone();
    let mut edit = out.edit();
    for &(_, _, [r, c, _, _]) in &parts {
        for i in 0..h {
            for j in 0..w {
                let t = g.get(tr + i, tc + j);
                if t != bg && g.get(r + i, c + j) == bg {
                    edit.set(r + i, c + j, if paint == "own" { t } else { line.unwrap_or(t) });
                }
            }
        }
    }
    Ok(out)
}

/// Which rows are all background; none when every row is.
fn gap_rows(g: &Grid, bg: u8) -> Vec<bool> {
    let gaps: Vec<bool> = (0..g.rows()).map(|i| g.row(i).iter().all(|&v| v == bg)).collect();
    if gaps.iter().all(|&s| s) {
        vec![false; g.rows()]
    } else {
        gaps
    }
}

/// Removes separator lines (full rows/columns of one non-background colour).
pub fn remove_lines(g: &Grid) -> R<Grid> {
    let (rows, cols) = separators(g);
    let keep_r: Vec<usize> = rows.iter().enumerate().filter(|(_, s)| !**s).map(|(i, _)| i).collect();
    let keep_c: Vec<usize> = cols.iter().enumerate().filter(|(_, s)| !**s).map(|(i, _)| i).collect();
    if keep_r.is_empty() || keep_c.is_empty() {
        fail!("remove_lines: nothing left")
    }
    Ok(Grid::from_fn(keep_r.len(), keep_c.len(), |i, j| g.get(keep_r[i], keep_c[j])))
}

pub fn left_half(g: &Grid) -> R<Grid> {
    crop(g, 0, 0, g.rows() as i64, (g.cols() / 2) as i64)
}
pub fn right_half(g: &Grid) -> R<Grid> {
    let w = g.cols() / 2;
    crop(g, 0, (g.cols() - w) as i64, g.rows() as i64, w as i64)
}
pub fn top_half(g: &Grid) -> R<Grid> {
    crop(g, 0, 0, (g.rows() / 2) as i64, g.cols() as i64)
}
pub fn bottom_half(g: &Grid) -> R<Grid> {
    let h = g.rows() / 2;
    crop(g, (g.rows() - h) as i64, 0, h as i64, g.cols() as i64)
}

/// Drops each row equal to the row above it.
pub fn dedup_rows(g: &Grid) -> Grid {
    let keep: Vec<usize> = (0..g.rows()).filter(|&i| i == 0 || g.row(i) != g.row(i - 1)).collect();
    Grid::from_fn(keep.len(), g.cols(), |i, j| g.get(keep[i], j))
}

/// Drops each column equal to the column to its left.
pub fn dedup_cols(g: &Grid) -> Grid {
    transpose(&dedup_rows(&transpose(g)))
}

// ---- colour ----

pub fn replace(g: &Grid, from: i64, to: i64) -> R<Grid> {
    let (a, b) = (colour(from)?, colour(to)?);
    let mut out = g.clone();
    out.cells_mut().iter_mut().filter(|v| **v == a).for_each(|v| *v = b);
    Ok(out)
}

/// Every cell that is not `keep` becomes `to`.
pub fn replace_not(g: &Grid, keep: i64, to: i64) -> R<Grid> {
    let (a, b) = (colour(keep)?, colour(to)?);
    let mut out = g.clone();
    out.cells_mut().iter_mut().filter(|v| **v != a).for_each(|v| *v = b);
    Ok(out)
}

pub fn swap(g: &Grid, a: i64, b: i64) -> R<Grid> {
    let (a, b) = (colour(a)?, colour(b)?);
    let mut out = g.clone();
    out.cells_mut().iter_mut().for_each(|v| {
        *v = if *v == a {
            b
        } else if *v == b {
            a
        } else {
            *v
        }
    });
    Ok(out)
}

/// Recolours through a table: `table[c]` is the new colour of `c` (a 10-entry array),
/// or a list of [from, to] pairs (colours not listed stay).
pub fn map_colours(g: &Grid, table: &[u8; COLOURS]) -> Grid {
    let mut out = g.clone();
    out.cells_mut().iter_mut().for_each(|v| *v = table[*v as usize]);
    out
}

/// The colours present, ranked: the background guess first, then the others by cell
/// count (most first; ties: the one met first in reading order, a place where a colour's
/// number would be arbitrary).
pub fn colour_ranks(g: &Grid) -> Vec<u8> {
    let h = g.histogram();
    let bg = background(g);
    let first = |c: u8| g.cells().iter().position(|&v| v == c);
    let mut others: Vec<u8> = (0..COLOURS as u8).filter(|&c| c != bg && h[c as usize] > 0).collect();
    others.sort_by_key(|&c| (std::cmp::Reverse(h[c as usize]), first(c)));
    std::iter::once(bg).chain(others).collect()
}

/// The values ranks take where the colours `keep` stand for themselves: rank k is the
/// k-th colour not in `keep`, and [`colour_ranks`] without `keep`.
fn rank_slots(g: &Grid, keep: &[i64]) -> R<(Vec<u8>, Vec<u8>)> {
    for &c in keep {
        colour(c)?;
    }
    let kept = |c: u8| keep.contains(&(c as i64));
    let slots: Vec<u8> = (0..COLOURS as u8).filter(|&c| !kept(c)).collect();
    let ranks: Vec<u8> = colour_ranks(g).into_iter().filter(|&c| !kept(c)).collect();
    if ranks.len() > slots.len() {
        fail!("rank_colours: {} colours to rank in {} values", ranks.len(), slots.len())
    }
    Ok((ranks, slots))
}

/// Each colour replaced by its rank ([`colour_ranks`]): 0 the background, 1 the most
/// common other colour, and so on, skipping the colours `keep`, which stay. Pairs that
/// differ only in their colours look alike this way.
pub fn rank_colours(g: &Grid, keep: &[i64]) -> R<Grid> {
    let table = rank_table(g, keep)?;
    Ok(map_colours(g, &table.map(|v| v.unwrap_or(0))))
}

/// What [`rank_colours`] makes of each colour: its rank, itself for the colours `keep`,
/// `None` for the other colours `g` lacks.
pub fn rank_table(g: &Grid, keep: &[i64]) -> R<[Option<u8>; COLOURS]> {
    let (ranks, slots) = rank_slots(g, keep)?;
    let mut table = [None; COLOURS];
    for &c in keep {
        table[c as usize] = Some(c as u8);
    }
    for (&c, &v) in ranks.iter().zip(&slots) {
        table[c as usize] = Some(v);
    }
    Ok(table)
}

/// The inverse of [`rank_colours`] for the grid `of`: rank k becomes `of`'s k-th colour,
/// the colours `keep` stay.
pub fn unrank_colours(g: &Grid, of: &Grid, keep: &[i64]) -> R<Grid> {
    let (ranks, slots) = rank_slots(of, keep)?;
    let mut table = [u8::MAX; COLOURS];
    for &c in keep {
        table[c as usize] = c as u8;
    }
    for (&c, &v) in ranks.iter().zip(&slots) {
        table[v as usize] = c;
    }
    if let Some(v) = g.cells().iter().find(|&&v| table[v as usize] == u8::MAX) {
        fail!("unrank_colours: no colour of rank {v} in the grid ({} colours)", ranks.len())
    }
    Ok(map_colours(g, &table))
}

/// Cells not of colour `c` become `bg`.
pub fn keep(g: &Grid, c: i64, bg: i64) -> R<Grid> {
    let (c, bg) = (colour(c)?, colour(bg)?);
    Ok(Grid::from_fn(g.rows(), g.cols(), |i, j| if g.get(i, j) == c { c } else { bg }))
}

/// The most common colour (ties go to the lower colour).
pub fn most_common(g: &Grid) -> i64 {
    let h = g.histogram();
    (0..COLOURS).max_by_key(|&c| (h[c], std::cmp::Reverse(c))).unwrap() as i64
}

/// The least common colour present (ties go to the lower colour).
pub fn least_common(g: &Grid) -> i64 {
    let h = g.histogram();
    (0..COLOURS).filter(|&c| h[c] > 0).min_by_key(|&c| (h[c], c)).unwrap() as i64
}

/// The background guess: 0 when present on at least a quarter of the grid (ARC's
/// convention), otherwise the most common colour.
pub fn background(g: &Grid) -> u8 {
    let h = g.histogram();
    if h[0] * 4 >= g.rows() * g.cols() {
        0
    } else {
        most_common(g) as u8
    }
}

/// Colours present other than the background guess, ascending (the DSL's `g.colors()`).
pub fn colors(g: &Grid) -> Vec<i64> {
    let bg = background(g) as i64;
    palette(g).into_iter().filter(|&c| c != bg).collect()
}

/// Colours present, ascending.
pub fn palette(g: &Grid) -> Vec<i64> {
    let h = g.histogram();
    (0..COLOURS).filter(|&c| h[c] > 0).map(|c| c as i64).collect()
}

pub fn count(g: &Grid, c: i64) -> i64 {
    g.cells().iter().filter(|&&v| v as i64 == c).count() as i64
}

// ---- painting ----

/// Fills the h x w rectangle at (r, c) (clipped to the grid).
pub fn fill_rect(g: &Grid, r: i64, c: i64, h: i64, w: i64, v: i64) -> R<Grid> {
    let v = colour(v)?;
    let mut out = g.clone();
    let mut cells = out.edit();
    let (r0, c0) = (r.max(0), c.max(0));
    let (r1, c1) = (r.saturating_add(h).min(g.rows() as i64), c.saturating_add(w).min(g.cols() as i64));
    for i in r0..r1 {
        for j in c0..c1 {
            cells.set(i as usize, j as usize, v);
        }
    }
    Ok(out)
}

/// Cells 4-connected to (r, c) through its own colour (the cell included).
pub fn region(g: &Grid, r: i64, c: i64, diagonal: bool) -> Vec<(usize, usize)> {
    let Some(v) = g.at(r, c) else { return Vec::new() };
    let mut seen = vec![false; g.rows() * g.cols()];
    let mut stack = vec![(r as usize, c as usize)];
    let mut out = Vec::new();
    seen[r as usize * g.cols() + c as usize] = true;
    while let Some((i, j)) = stack.pop() {
        out.push((i, j));
        for (di, dj) in neighbours(diagonal) {
            let (ni, nj) = (i as i64 + di, j as i64 + dj);
            if g.at(ni, nj) == Some(v) && !std::mem::replace(&mut seen[ni as usize * g.cols() + nj as usize], true) {
                stack.push((ni as usize, nj as usize));
            }
        }
    }
    out
}

pub fn neighbours(diagonal: bool) -> &'static [(i64, i64)] {
    const FOUR: [(i64, i64); 4] = [(-1, 0), (1, 0), (0, -1), (0, 1)];
    const EIGHT: [(i64, i64); 8] = [(-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)];
    if diagonal {
        &EIGHT
    } else {
        &FOUR
    }
}

/// Recolours the same-colour region containing (r, c).
pub fn flood_fill(g: &Grid, r: i64, c: i64, v: i64) -> R<Grid> {
    let v = colour(v)?;
    if g.at(r, c).is_none() {
        fail!("flood_fill: ({r},{c}) is outside the {}x{} grid", g.rows(), g.cols())
    }
    let mut out = g.clone();
    let mut cells = out.edit();
    for (i, j) in region(g, r, c, false) {
        cells.set(i, j, v);
    }
    Ok(out)
}

/// The background areas (4-connected) that touch a cell of colour `c` painted `c`: paint
/// poured from every cell of that colour.
pub fn flood_from(g: &Grid, c: i64) -> R<Grid> {
    let c = colour(c)?;
    let bg = background(g);
    if c == bg {
        fail!("flood_from: colour {c} is the background")
    }
    let (h, w) = g.shape();
    let mut out = g.clone();
    let mut cells = out.edit();
    let mut stack: Vec<(usize, usize)> =
        (0..h).flat_map(|i| (0..w).map(move |j| (i, j))).filter(|&(i, j)| g.get(i, j) == c).collect();
    while let Some((i, j)) = stack.pop() {
        for &(di, dj) in neighbours(false) {
            let (ni, nj) = (i as i64 + di, j as i64 + dj);
            if cells.at(ni, nj) == Some(bg) {
                cells.set(ni as usize, nj as usize, c);
                stack.push((ni as usize, nj as usize));
            }
        }
    }
    Ok(out)
}

/// For each colour present, the bounding box of its cells: (top, bottom, left, right).
pub fn colour_boxes(g: &Grid) -> [Option<(usize, usize, usize, usize)>; COLOURS] {
    let mut boxes = [None; COLOURS];
    for i in 0..g.rows() {
        for j in 0..g.cols() {
            let b = &mut boxes[g.get(i, j) as usize];
            let (t, bo, l, r) = b.unwrap_or((i, i, j, j));
            *b = Some((t.min(i), bo.max(i), l.min(j), r.max(j)));
        }
    }
    boxes
}

/// The colours of concentric rings permuted. Ring k is the cells k steps from the
/// nearest edge; its colours, taken from the outside in, each first met once, are
/// `"reverse"`d (the outermost colour swaps with the innermost) or moved `"inward"` (each
/// colour becomes the one met after it, the innermost the outermost). An error where a
/// ring has two colours, where there is one colour, or for another `how`.
pub fn ring_colours(g: &Grid, how: &str) -> R<Grid> {
    let (h, w) = g.shape();
    let ring = |r: usize, c: usize| r.min(c).min(h - 1 - r).min(w - 1 - c);
    let mut of_ring: Vec<Option<u8>> = vec![None; h.min(w).div_ceil(2)];
    for r in 0..h {
        for c in 0..w {
            let (k, v) = (ring(r, c), g.get(r, c));
            match of_ring[k] {
                Some(u) if u != v => fail!("ring_colours: ring {k} has colours {u} and {v}"),
                _ => of_ring[k] = Some(v),
            }
        }
    }
    let mut order: Vec<u8> = Vec::new();
    for v in of_ring.into_iter().flatten() {
        if !order.contains(&v) {
            order.push(v);
        }
    }
    if order.len() < 2 {
        fail!("ring_colours: the rings have one colour")
    }
    let new: Vec<u8> = match how {
        "reverse" => order.iter().rev().copied().collect(),
        "inward" => order.iter().cycle().skip(order.len() - 1).take(order.len()).copied().collect(),
        _ => fail!("ring_colours: how is \"reverse\" or \"inward\", not {how:?}"),
    };
    let mut table: [u8; COLOURS] = std::array::from_fn(|c| c as u8);
    order.iter().zip(&new).for_each(|(&a, &b)| table[a as usize] = b);
    Ok(map_colours(g, &table))
}

/// Each colour's bounding box filled with it, over the background only (a hull).
pub fn hull(g: &Grid) -> Grid {
    let bg = background(g);
    let boxes = colour_boxes(g);
    let mut out = g.clone();
    let mut cells = out.edit();
    for (c, b) in boxes.iter().enumerate().filter(|&(c, _)| c != bg as usize) {
        let Some((t, bo, l, r)) = *b else { continue };
        for i in t..=bo {
            for j in l..=r {
                if g.get(i, j) == bg {
                    cells.set(i, j, c as u8);
                }
            }
        }
    }
    out
}

/// Per cell (reading order): a `bg` cell that cannot reach the border through `bg` cells
/// (4-connected).
pub fn enclosed(g: &Grid, bg: u8) -> Vec<bool> {
    let (h, w) = g.shape();
    let mut outside = vec![false; h * w];
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for i in 0..h {
        for j in 0..w {
            if (i == 0 || j == 0 || i == h - 1 || j == w - 1) && g.get(i, j) == bg {
                outside[i * w + j] = true;
                stack.push((i, j));
            }
        }
    }
    while let Some((i, j)) = stack.pop() {
        for &(di, dj) in neighbours(false) {
            let (ni, nj) = (i as i64 + di, j as i64 + dj);
            if g.at(ni, nj) == Some(bg) && !std::mem::replace(&mut outside[ni as usize * w + nj as usize], true) {
                stack.push((ni as usize, nj as usize));
            }
        }
    }
    g.cells().iter().zip(outside).map(|(&v, out)| v == bg && !out).collect()
}

/// Background cells that cannot reach the border through background cells (4-connected)
/// become `v`.
pub fn fill_enclosed(g: &Grid, bg: u8, v: i64) -> R<Grid> {
    let v = colour(v)?;
    let inside = enclosed(g, bg);
    let mut out = g.clone();
    out.cells_mut().iter_mut().zip(inside).filter(|(_, inside)| *inside).for_each(|(c, _)| *c = v);
    Ok(out)
}

/// Draws a horizontal, vertical or diagonal segment between two cells (clipped).
pub fn line(g: &Grid, r1: i64, c1: i64, r2: i64, c2: i64, v: i64) -> R<Grid> {
    let v = colour(v)?;
    let far = 4 * MAX_WORK_SIDE as i64;
    if [r1, c1, r2, c2].iter().any(|v| v.abs() > far) {
        fail!("line: coordinates must be within -{far}..={far}")
    }
    let (dr, dc) = (r2 - r1, c2 - c1);
    if dr != 0 && dc != 0 && dr.abs() != dc.abs() {
        fail!("line: ({r1},{c1})-({r2},{c2}) is neither straight nor diagonal")
    }
    let n = dr.abs().max(dc.abs());
    let mut out = g.clone();
    let mut cells = out.edit();
    for k in 0..=n {
        cells.set_at(r1 + k * dr.signum(), c1 + k * dc.signum(), v);
    }
    Ok(out)
}

/// Paints from (r, c) stepping (dr, dc) to the edge; with `stop_at_obstacle` it stops
/// before the first cell that is not `bg`. The start cell itself is not painted.
pub fn ray(g: &Grid, r: i64, c: i64, dr: i64, dc: i64, v: i64, stop: Option<u8>) -> R<Grid> {
    let v = colour(v)?;
    if (dr, dc) == (0, 0) || dr.abs() > 1 || dc.abs() > 1 {
        fail!("ray: direction ({dr},{dc}) must be one step (each of dr, dc in -1..=1, not both 0)")
    }
    let mut out = g.clone();
    let mut cells = out.edit();
    let (mut i, mut j) = (r.saturating_add(dr), c.saturating_add(dc));
    while let Some(cur) = cells.at(i, j) {
        if stop.is_some_and(|bg| cur != bg) {
            break;
        }
        cells.set(i as usize, j as usize, v);
        i += dr;
        j += dc;
    }
    Ok(out)
}

/// A path of colour `v` from the one cell of colour `a` along its row to the column of
/// the one cell of colour `b`, then along that column to it (an elbow), painting only
/// the background. An error unless `a` and `b` each have exactly one cell.
pub fn elbow(g: &Grid, a: i64, b: i64, v: i64) -> R<Grid> {
    let v = colour(v)?;
    let only_cell = |c: i64| -> R<(usize, usize)> {
        let c = colour(c)?;
        let mut at =
            (0..g.rows()).flat_map(|r| (0..g.cols()).map(move |col| (r, col))).filter(|&(r, col)| g.get(r, col) == c);
        match (at.next(), at.next()) {
            (Some(p), None) => Ok(p),
            _ => fail!("elbow: colour {c} must have exactly one cell"),
        }
    };
    let ((ra, ca), (rb, cb)) = (only_cell(a)?, only_cell(b)?);
    let bg = background(g);
    let mut out = g.clone();
    let mut cells = out.edit();
    let path = (ca.min(cb)..=ca.max(cb)).map(|col| (ra, col)).chain((ra.min(rb)..=ra.max(rb)).map(|r| (r, cb)));
    for (r, col) in path {
        if g.get(r, col) == bg {
            cells.set(r, col, v);
        }
    }
    Ok(out)
}

/// The steps a direction word names: "h" (left and right), "v" (up and down),
/// "orthogonal" (both), "diagonal" or "all" (the eight neighbours).
fn directions(dirs: &str) -> R<&'static [(i64, i64)]> {
    Ok(match dirs {
        "h" => &[(0, -1), (0, 1)],
        "v" => &[(-1, 0), (1, 0)],
        "orthogonal" => neighbours(false),
        "diagonal" => &[(-1, -1), (-1, 1), (1, -1), (1, 1)],
        "all" => neighbours(true),
        _ => fail!("rays: directions must be \"h\", \"v\", \"orthogonal\", \"diagonal\" or \"all\", not {dirs:?}"),
    })
}

/// Joins each two nearest cells of one colour in a row ("h"), a column ("v"), both
/// ("hv"), a diagonal ("diagonal") or any of these ("all"): the background cells between
/// them become `v` (-1: their colour). Cells of other colours between them are left as
/// they are.
pub fn connect(g: &Grid, dirs: &str, v: i64) -> R<Grid> {
    // The step along each kind of line.
    let steps: &[(i64, i64)] = match dirs {
        "h" => &[(0, 1)],
        "v" => &[(1, 0)],
        "hv" => &[(0, 1), (1, 0)],
        "diagonal" => &[(1, 1), (1, -1)],
        "all" => &[(0, 1), (1, 0), (1, 1), (1, -1)],
        _ => fail!("connect: directions must be \"h\", \"v\", \"hv\", \"diagonal\" or \"all\", not {dirs:?}"),
    };
    let fixed = if v == -1 { None } else { Some(colour(v)?) };
    let bg = background(g);
    let mut out = g.clone();
    let (rows, cols) = (g.rows() as i64, g.cols() as i64);
    let inside = |r: i64, c: i64| r >= 0 && c >= 0 && r < rows && c < cols;
    for &(dr, dc) in steps {
        // Every line starts at a cell whose predecessor along the step is off the grid.
        for r in 0..rows {
            for c in 0..cols {
                if inside(r - dr, c - dc) {
                    continue;
                }
                let mut last = [None::<(i64, i64)>; COLOURS];
                let (mut i, mut j) = (r, c);
                while inside(i, j) {
                    let cur = g.get(i as usize, j as usize);
                    if cur != bg {
                        if let Some((mut a, mut b)) = last[cur as usize] {
                            (a, b) = (a + dr, b + dc);
                            while (a, b) != (i, j) {
                                if g.get(a as usize, b as usize) == bg {
                                    out.set(a as usize, b as usize, fixed.unwrap_or(cur));
                                }
                                (a, b) = (a + dr, b + dc);
                            }
                        }
                        last[cur as usize] = Some((i, j));
                    }
                    (i, j) = (i + dr, j + dc);
                }
            }
        }
    }
    Ok(out)
}

/// Cells whose four neighbours all have their colour (the inside of a shape, not its
/// edge) become `v` (-1: the background); the background's own cells stay.
pub fn hollow(g: &Grid, v: i64) -> R<Grid> {
    let bg = background(g);
    let v = if v == -1 { bg } else { colour(v)? };
    Ok(Grid::from_fn(g.rows(), g.cols(), |r, c| {
        let own = g.get(r, c);
        let (r, c) = (r as i64, c as i64);
        let inside = own != bg && neighbours(false).iter().all(|&(dr, dc)| g.at(r + dr, c + dc) == Some(own));
        if inside {
            v
        } else {
            own
        }
    }))
}

/// Every non-background cell paints its colour over the background in each direction
/// of `dirs` ("h", "v", "orthogonal", "diagonal" or "all"), up to the first cell
/// that was not background in `g` or the edge; where rays cross, the later cell in
/// reading order wins.
pub fn rays(g: &Grid, dirs: &str) -> R<Grid> {
    let steps = directions(dirs)?;
    let bg = background(g);
    let mut out = g.clone();
    let (rows, cols) = (g.rows() as i64, g.cols() as i64);
    for r in 0..rows {
        in_time()?;
        for c in 0..cols {
            let v = g.get(r as usize, c as usize);
            if v == bg {
                continue;
            }
            for &(dr, dc) in steps {
                let (mut i, mut j) = (r + dr, c + dc);
                while i >= 0 && j >= 0 && i < rows && j < cols && g.get(i as usize, j as usize) == bg {
                    out.set(i as usize, j as usize, v);
                    i += dr;
                    j += dc;
                }
            }
        }
    }
    Ok(out)
}

/// The free ends of lines continued: every non-background cell with exactly one
/// non-background cell among its eight neighbours paints its colour away from that
/// neighbour, over the background, up to the first cell that was not background in `g`
/// or the edge.
pub fn extend_ends(g: &Grid) -> Grid {
    let bg = background(g);
    let mut out = g.clone();
    let drawn = |r: i64, c: i64| g.at(r, c).is_some_and(|v| v != bg);
    for r in 0..g.rows() as i64 {
        for c in 0..g.cols() as i64 {
            if !drawn(r, c) {
                continue;
            }
            let mut next = neighbours(true).iter().filter(|&&(dr, dc)| drawn(r + dr, c + dc));
            let (Some(&(dr, dc)), None) = (next.next(), next.next()) else { continue };
            let v = g.get(r as usize, c as usize);
            let (mut i, mut j) = (r - dr, c - dc);
            while g.at(i, j) == Some(bg) {
                out.set(i as usize, j as usize, v);
                (i, j) = (i - dr, j - dc);
            }
        }
    }
    out
}

/// Every cell that is neither the background nor colour `c` paints its colour over the
/// background along each row or column direction whose first other cell has colour `c`
/// (a line drawn to it); where lines cross, the later cell in reading order wins.
pub fn rays_to(g: &Grid, c: i64) -> R<Grid> {
    let target = colour(c)?;
    let bg = background(g);
    let mut out = g.clone();
    for r in 0..g.rows() as i64 {
        in_time()?;
        for col in 0..g.cols() as i64 {
            let v = g.get(r as usize, col as usize);
            if v == bg || v == target {
                continue;
            }
            for &(dr, dc) in neighbours(false) {
                let mut k = 1;
                while g.at(r + k * dr, col + k * dc) == Some(bg) {
                    k += 1;
                }
                if g.at(r + k * dr, col + k * dc) == Some(target) {
                    let mut edit = out.edit();
                    (1..k).for_each(|i| edit.set((r + i * dr) as usize, (col + i * dc) as usize, v));
                }
            }
        }
    }
    Ok(out)
}

/// Keeps the cells that lie in some k x k block of one colour other than the background;
/// every other cell becomes the background (noise around solid shapes removed).
pub fn keep_solid(g: &Grid, k: i64) -> R<Grid> {
    if k < 1 {
        fail!("keep_solid: the block side must be at least 1, not {k}")
    }
    let bg = background(g);
    let (rows, cols) = (g.rows(), g.cols());
    let mut keep = vec![false; rows * cols];
    let k = usize::try_from(k).unwrap_or(usize::MAX);
    if k <= rows && k <= cols {
        for r in 0..=rows - k {
            in_time()?;
            for c in 0..=cols - k {
                let v = g.get(r, c);
                if v != bg && (r..r + k).all(|i| (c..c + k).all(|j| g.get(i, j) == v)) {
                    (r..r + k).for_each(|i| (c..c + k).for_each(|j| keep[i * cols + j] = true));
                }
            }
        }
    }
    Ok(Grid::from_fn(rows, cols, |r, c| if keep[r * cols + c] { g.get(r, c) } else { bg }))
}

/// The cells (row, column) of one area of a grid.
pub type Area = Vec<(usize, usize)>;

/// The 4-connected areas of one colour whose colour `take` accepts, each as its cells in
/// the order found (every cell is labelled once, so a grid costs one pass).
pub fn areas(g: &Grid, take: impl Fn(u8) -> bool) -> Vec<Area> {
    let (rows, cols) = g.shape();
    let mut seen = vec![false; rows * cols];
    let mut out = Vec::new();
    for r in 0..rows {
        for c in 0..cols {
            let v = g.get(r, c);
            if seen[r * cols + c] || !take(v) {
                continue;
            }
            seen[r * cols + c] = true;
            let mut stack = vec![(r, c)];
            let mut cells = Vec::new();
            while let Some((i, j)) = stack.pop() {
                cells.push((i, j));
                for &(di, dj) in neighbours(false) {
                    let (ni, nj) = (i as i64 + di, j as i64 + dj);
                    if g.at(ni, nj) == Some(v) && !std::mem::replace(&mut seen[ni as usize * cols + nj as usize], true)
                    {
                        stack.push((ni as usize, nj as usize));
                    }
                }
            }
            out.push(cells);
        }
    }
    out
}

/// Each cell of colour `c` ("cells"), or each 4-connected area of it ("objects"), takes
/// the colour of the nearest cell, counted in steps along rows and columns, that is
/// neither `c` nor the background (for an area: nearest to any of its cells). An error
/// where two colours are equally near or no such cell exists: the rule does not decide.
pub fn recolor_nearest(g: &Grid, c: i64, by: &str) -> R<Grid> {
    let target = colour(c)?;
    let objects = match by {
        "cells" => false,
        "objects" => true,
        _ => fail!("recolor_nearest: by must be \"cells\" or \"objects\", not {by:?}"),
    };
    let bg = background(g);
    let (rows, cols) = g.shape();
    // Breadth-first from every source cell at once: each cell's distance to its nearest
    // sources and the set of their colours (a bit per colour). On an open grid the
    // nearest sources of a cell are those of its neighbours one step nearer.
    let mut dist = vec![u32::MAX; rows * cols];
    let mut near = vec![0u16; rows * cols];
    let mut frontier = Vec::new();
    for r in 0..rows {
        for col in 0..cols {
            let v = g.get(r, col);
            if v != bg && v != target {
                dist[r * cols + col] = 0;
                near[r * cols + col] = 1 << v;
                frontier.push((r, col));
            }
        }
    }
    if frontier.is_empty() {
        fail!("recolor_nearest: no cell other than colour {c} and the background to take a colour from")
    }
    let mut d = 0;
    while !frontier.is_empty() {
        in_time()?;
        d += 1;
        let mut next = Vec::new();
        for &(i, j) in &frontier {
            let from = near[i * cols + j];
            for &(di, dj) in neighbours(false) {
                let (ni, nj) = (i as i64 + di, j as i64 + dj);
                if g.at(ni, nj).is_none() {
                    continue;
                }
                let k = ni as usize * cols + nj as usize;
                if dist[k] == u32::MAX {
                    dist[k] = d;
                    next.push((ni as usize, nj as usize));
                }
                if dist[k] == d {
                    near[k] |= from;
                }
            }
        }
        frontier = next;
    }
    let groups = if objects {
        areas(g, |v| v == target)
    } else {
        (0..rows * cols).filter(|&k| g.cells()[k] == target).map(|k| vec![(k / cols, k % cols)]).collect()
    };
    let mut out = g.clone();
    for cells in groups {
        let best = cells.iter().map(|&(i, j)| dist[i * cols + j]).min().unwrap_or(u32::MAX);
        let colours =
            cells.iter().filter(|&&(i, j)| dist[i * cols + j] == best).fold(0u16, |m, &(i, j)| m | near[i * cols + j]);
        if colours.count_ones() != 1 {
            let (i, j) = cells[0];
            fail!("recolor_nearest: the cell at ({i},{j}) is equally near two colours")
        }
        let v = colours.trailing_zeros() as u8;
        let mut edit = out.edit();
        cells.iter().for_each(|&(i, j)| edit.set(i, j, v));
    }
    Ok(out)
}

/// Each background area (4-connected) of `g` with its size classes: 0 the largest, 1 the
/// smallest, 2 the rest; an area that is both (all the same size) is in both. What
/// [`fill_regions`] paints by, and what the enumerator learns its colours from.
pub fn region_classes(g: &Grid) -> Vec<(&'static [usize], Area)> {
    let bg = background(g);
    let regions = areas(g, |v| v == bg);
    let most = regions.iter().map(Vec::len).max().unwrap_or(0);
    let least = regions.iter().map(Vec::len).min().unwrap_or(0);
    regions
        .into_iter()
        .map(|cells| {
            let n = cells.len();
            let classes: &'static [usize] = match (n == most, n == least) {
                (true, true) => &[0, 1],
                (true, false) => &[0],
                (false, true) => &[1],
                (false, false) => &[2],
            };
            (classes, cells)
        })
        .collect()
}

/// Background areas (4-connected) by size: the largest take `largest`, the smallest
/// `smallest`, the others `other`; -1 leaves them as they are. An error where an area
/// is both (all the same size) and the two colours differ.
pub fn fill_regions(g: &Grid, largest: i64, smallest: i64, other: i64) -> R<Grid> {
    let pick = |v: i64| if v == -1 { Ok(None) } else { colour(v).map(Some) };
    let fills = [pick(largest)?, pick(smallest)?, pick(other)?];
    let mut out = g.clone();
    for (classes, cells) in region_classes(g) {
        if classes.len() > 1 && fills[0] != fills[1] {
            fail!("fill_regions: every background area has {} cells, so the largest are also the smallest", cells.len())
        }
        if let Some(v) = fills[classes[0]] {
            let mut edit = out.edit();
            cells.iter().for_each(|&(i, j)| edit.set(i, j, v));
        }
    }
    Ok(out)
}

/// What [`stamp`] paints around each cell of a colour: the colours of the 3 x 3 block
/// centred on it in reading order (the centre unused), `None` where it paints nothing.
pub type Stamps = [[Option<u8>; 9]; COLOURS];

/// Around every cell of a colour with a pattern in `stamps`, the background cells of the
/// 3 x 3 block take the pattern's colours, all cells at once (where patterns overlap, the
/// later source cell in reading order wins).
pub fn stamp(g: &Grid, stamps: &Stamps) -> Grid {
    let bg = background(g);
    let mut out = g.clone();
    for r in 0..g.rows() {
        for c in 0..g.cols() {
            let pattern = &stamps[g.get(r, c) as usize];
            for (k, i, j) in around(g, r, c) {
                if let (Some(v), true) = (pattern[k], g.get(i, j) == bg) {
                    out.set(i, j, v);
                }
            }
        }
    }
    out
}

/// The cells of the 3 x 3 block centred on (r, c) that lie in the grid, the centre left
/// out: (index in the block in reading order, row, column). What [`stamp`] paints and
/// what its patterns are learned from.
pub fn around(g: &Grid, r: usize, c: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    let (rows, cols) = (g.rows(), g.cols());
    (0..9).filter(|&k| k != 4).filter_map(move |k| {
        let (i, j) = ((r + k / 3).checked_sub(1)?, (c + k % 3).checked_sub(1)?);
        (i < rows && j < cols).then_some((k, i, j))
    })
}

/// Copies `sub` onto `g` with its top-left at (r, c) (clipped); cells of colour
/// `transparent` (if any) are skipped.
pub fn paste(g: &Grid, sub: &Grid, r: i64, c: i64, transparent: Option<u8>) -> Grid {
    let mut out = g.clone();
    let mut cells = out.edit();
    for i in 0..sub.rows() {
        for j in 0..sub.cols() {
            let v = sub.get(i, j);
            if Some(v) != transparent {
                cells.set_at(r.saturating_add(i as i64), c.saturating_add(j as i64), v);
            }
        }
    }
    out
}

/// Same-shape overlay: cells of `top` that are not `transparent` replace `g`'s.
pub fn overlay(g: &Grid, top: &Grid, transparent: i64) -> R<Grid> {
    same_shape(g, top, "overlay")?;
    Ok(paste(g, top, 0, 0, Some(colour(transparent)?)))
}

/// The grid's shape in the colours of same-shape `src`: its cells other than its
/// background take `src`'s colours there.
pub fn recolor_from(g: &Grid, src: &Grid) -> R<Grid> {
    same_shape(g, src, "recolor_from")?;
    let bg = background(g);
    let mut out = g.clone();
    for (v, &s) in out.cells_mut().iter_mut().zip(src.cells()) {
        if *v != bg {
            *v = s;
        }
    }
    Ok(out)
}

/// Same-shape `parts` laid on one another: each cell takes the colour of `order`
/// (highest first) that any part has there, the one colour there if only one is not
/// `transparent`, else `transparent`. Two or more colours meeting at a cell with one of
/// them not in `order` is an error: the order does not say which wins.
/// Which colours other than `transparent` the same-shape `parts` have at (i, j).
pub fn colours_at(parts: &[Grid], i: usize, j: usize, transparent: u8) -> [bool; COLOURS] {
    let mut here = [false; COLOURS];
    parts.iter().for_each(|p| here[p.get(i, j) as usize] = true);
    here[transparent as usize] = false;
    here
}

pub fn overlay_all(parts: &[Grid], order: &[u8], transparent: u8) -> R<Grid> {
    let Some(first) = parts.first() else { fail!("overlay_all: no parts") };
    for p in parts {
        same_shape(first, p, "overlay_all")?;
    }
    let mut out = Grid::from_fn(first.rows(), first.cols(), |_, _| transparent);
    for i in 0..first.rows() {
        for j in 0..first.cols() {
            let here = colours_at(parts, i, j, transparent);
            let present: Vec<u8> = (0..COLOURS as u8).filter(|&c| here[c as usize]).collect();
            let winner = match present[..] {
                [] => continue,
                [one] => one,
                _ => match order.iter().find(|c| here[**c as usize]) {
                    Some(&c) if present.iter().all(|p| order.contains(p)) => c,
                    _ => fail!(
                        "overlay_all: colours {present:?} meet at ({i}, {j}) and the order does not rank them all"
                    ),
                },
            };
            out.set(i, j, winner);
        }
    }
    Ok(out)
}

/// The four h x w windows at the grid's corners (top left, top right, bottom left, bottom
/// right), which must cover the grid between them but for at most one middle row and
/// one middle column (as `split_rows` drops a one-row separator); they may overlap.
pub fn corners(g: &Grid, h: i64, w: i64) -> R<Vec<Grid>> {
    let (rows, cols) = (g.rows() as i64, g.cols() as i64);
    if h < 1 || w < 1 || h > rows || w > cols || 2 * h + 1 < rows || 2 * w + 1 < cols {
        fail!("corners: four {h}x{w} windows do not cover a {rows}x{cols} grid")
    }
    let mut out = Vec::with_capacity(4);
    for r in [0, rows - h] {
        for c in [0, cols - w] {
            out.push(crop(g, r, c, h, w)?);
        }
    }
    Ok(out)
}

/// Moves every cell that is not `bg` as far as it goes in a direction ("up", "down",
/// "left", "right"), stacking against the edge and other cells.
pub fn gravity(g: &Grid, dir: &str, bg: u8) -> R<Grid> {
    let turns = match dir {
        "down" => 0,
        "left" => 1,
        "up" => 2,
        "right" => 3,
        _ => fail!("gravity: direction {dir:?} is not one of \"up\", \"down\", \"left\", \"right\""),
    };
    // Rotate so the direction is "down", settle each column, rotate back.
    let t = rotate(g, turns);
    let mut out = Grid::filled(t.rows(), t.cols(), bg).expect("same shape");
    let mut cells = out.edit();
    for j in 0..t.cols() {
        let mut dst = t.rows();
        for i in (0..t.rows()).rev() {
            let v = t.get(i, j);
            if v != bg {
                dst -= 1;
                cells.set(dst, j, v);
            }
        }
    }
    Ok(rotate(&out, -turns))
}

// ---- masks (0/1 grids; any non-zero cell counts as set) ----

/// 1 where the cell is colour `c`, else 0.
pub fn mask(g: &Grid, c: i64) -> Grid {
    Grid::from_fn(g.rows(), g.cols(), |i, j| (g.get(i, j) as i64 == c) as u8)
}

pub fn mask_op(a: &Grid, b: &Grid, what: &str, f: impl Fn(bool, bool) -> bool) -> R<Grid> {
    same_shape(a, b, what)?;
    Ok(Grid::from_fn(a.rows(), a.cols(), |i, j| f(a.get(i, j) != 0, b.get(i, j) != 0) as u8))
}

pub fn invert(a: &Grid) -> Grid {
    Grid::from_fn(a.rows(), a.cols(), |i, j| (a.get(i, j) == 0) as u8)
}

/// Sets colour `v` wherever `m` is non-zero.
pub fn select(g: &Grid, m: &Grid, v: i64) -> R<Grid> {
    same_shape(g, m, "select")?;
    let v = colour(v)?;
    Ok(Grid::from_fn(g.rows(), g.cols(), |i, j| if m.get(i, j) != 0 { v } else { g.get(i, j) }))
}

// ---- patterns ----

pub fn is_symmetric_h(g: &Grid) -> bool {
    flip_h(g) == *g
}
pub fn is_symmetric_v(g: &Grid) -> bool {
    flip_v(g) == *g
}

/// The colour that masks part of the grid: the one whose cells fill a rectangle (two or
/// more cells, not the whole grid), the one with the most cells where several do (a
/// picture's own small blocks fill rectangles too), the lower colour on a tie; -1 where
/// none does.
pub fn mask_colour(g: &Grid) -> i64 {
    let counts = g.histogram();
    let mut boxes = [(usize::MAX, usize::MAX, 0, 0); COLOURS];
    for r in 0..g.rows() {
        for (c, &v) in g.row(r).iter().enumerate() {
            let b = &mut boxes[v as usize];
            *b = (b.0.min(r), b.1.min(c), b.2.max(r), b.3.max(c));
        }
    }
    (0..COLOURS)
        .filter(|&v| {
            let (r0, c0, r1, c1) = boxes[v];
            let n = counts[v];
            n >= 2 && n < g.cells().len() && n == (r1 + 1 - r0) * (c1 + 1 - c0)
        })
        .min_by_key(|&v| (std::cmp::Reverse(counts[v]), v))
        .map_or(-1, |v| v as i64)
}

/// Fills cells of colour `unknown` from their mirror images under every symmetry that
/// the known cells agree with: mirror left-right, top-bottom, half turn, and the
/// diagonals and quarter turns on square grids, all about the grid's centre; and mirrors
/// left-right, top-bottom and across either diagonal about any other line, where at
/// least half the known cells are seen mirrored (a drawing symmetric about a line off
/// the grid's centre, cut off by its edge). Where a cell has several images, those of
/// the centred symmetries come first.
pub fn complete_symmetry(g: &Grid, unknown: i64) -> R<Grid> {
    let u = colour(unknown)?;
    if !g.cells().contains(&u) {
        return Ok(g.clone());
    }
    let (h, w) = (g.rows() as i64, g.cols() as i64);
    let known: Vec<(i64, i64)> =
        (0..h).flat_map(|i| (0..w).map(move |j| (i, j))).filter(|&(i, j)| g.get(i as usize, j as usize) != u).collect();
    let inside = |(i, j): (i64, i64)| (0..h).contains(&i) && (0..w).contains(&j);
    // Of the known cells whose images are inside the grid: how many images are known
    // and the same, or None if one is known and different.
    let agreed = |m: &Mirror| -> Option<usize> {
        let mut same = 0;
        for &(i, j) in &known {
            let (a, b) = m.image_in(i, j, h, w);
            // A cell on the line is its own image: no evidence.
            if inside((a, b)) && (a, b) != (i, j) {
                let v = g.get(a as usize, b as usize);
                if v != u {
                    if v != g.get(i as usize, j as usize) {
                        return None;
                    }
                    same += 1;
                }
            }
        }
        Some(same)
    };
    // About the centre, where the known cells agree; in the order they are applied.
    let mut centred = vec![Mirror::Cols(w - 1), Mirror::Rows(h - 1), Mirror::HalfTurn];
    if h == w {
        centred.extend([
            Mirror::Diagonal(0),
            Mirror::AntiDiagonal(h - 1),
            Mirror::QuarterTurn,
            Mirror::ThreeQuarterTurn,
        ]);
    }
    let mut syms: Vec<Mirror> = centred.iter().copied().filter(|m| agreed(m).is_some()).collect();
    // About every other line, where half the known cells are seen mirrored.
    let lines = (0..2 * w - 1)
        .map(Mirror::Cols)
        .chain((0..2 * h - 1).map(Mirror::Rows))
        .chain((1 - h..w).map(Mirror::Diagonal))
        .chain((0..h + w - 1).map(Mirror::AntiDiagonal));
    for m in lines.filter(|m| !centred.contains(m)) {
        in_time()?;
        if agreed(&m).is_some_and(|same| 2 * same >= known.len()) {
            syms.push(m);
        }
    }
    let mut out = g.clone();
    // Images of an unknown cell may themselves be unknown: repeat until stable.
    for _ in 0..4 {
        let mut changed = false;
        for m in &syms {
            for i in 0..h {
                for j in 0..w {
                    if out.get(i as usize, j as usize) != u {
                        continue;
                    }
                    let (a, b) = m.image_in(i, j, h, w);
                    if inside((a, b)) {
                        let v = out.get(a as usize, b as usize);
                        if v != u {
                            out.set(i as usize, j as usize, v);
                            changed = true;
                        }
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    Ok(out)
}

/// A symmetry of [`complete_symmetry`]: a mirror, columns `j` and `s - j` swapped, rows
/// `i` and `s - i`, across the diagonal through (0, `k`) ((i, j) and (j - k, i + k)), or
/// across the anti-diagonal where i + j = `k` ((i, j) and (k - j, k - i)); or a turn
/// about the grid's centre.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mirror {
    Cols(i64),
    Rows(i64),
    Diagonal(i64),
    AntiDiagonal(i64),
    HalfTurn,
    /// Quarter turns of a square grid, clockwise and anticlockwise.
    QuarterTurn,
    ThreeQuarterTurn,
}

impl Mirror {
    /// The image of (i, j) in an `h` x `w` grid (for a turn, where the cell comes from).
    fn image_in(&self, i: i64, j: i64, h: i64, w: i64) -> (i64, i64) {
        match *self {
            Mirror::Cols(s) => (i, s - j),
            Mirror::Rows(s) => (s - i, j),
            Mirror::Diagonal(k) => (j - k, i + k),
            Mirror::AntiDiagonal(k) => (k - j, k - i),
            Mirror::HalfTurn => (h - 1 - i, w - 1 - j),
            Mirror::QuarterTurn => (w - 1 - j, i),
            Mirror::ThreeQuarterTurn => (j, h - 1 - i),
        }
    }
}

/// Smallest p >= 1 such that every row equals the row p below it, ignoring cells of
/// colour `unknown` (-1: none ignored).
pub fn period_rows(g: &Grid, unknown: i64) -> i64 {
    let agree = |a: u8, b: u8| a == b || a as i64 == unknown || b as i64 == unknown;
    (1..=g.rows())
        .find(|&p| (0..g.rows() - p).all(|i| (0..g.cols()).all(|j| agree(g.get(i, j), g.get(i + p, j)))))
        .unwrap_or(g.rows()) as i64
}

pub fn period_cols(g: &Grid, unknown: i64) -> i64 {
    period_rows(&transpose(g), unknown)
}

/// The band of rows holding every cell not of the background repeated up and down over
/// the whole grid (`axis` "rows"), or the band of columns left and right ("cols"). The
/// unit repeated is the whole band (`unit` "band") or its smallest period ("period": a
/// pattern drawn part of the way continued). A grid of background only is given back.
pub fn repeat_band(g: &Grid, axis: &str, unit: &str) -> R<Grid> {
    let whole = match unit {
        "band" => true,
        "period" => false,
        _ => return Err(DslError(format!("repeat_band: unit must be \"band\" or \"period\", not {unit:?}"))),
    };
    match axis {
        "rows" => Ok(repeat_rows(g, whole)),
        "cols" => Ok(transpose(&repeat_rows(&transpose(g), whole))),
        _ => Err(DslError(format!("repeat_band: axis must be \"rows\" or \"cols\", not {axis:?}"))),
    }
}

fn repeat_rows(g: &Grid, whole: bool) -> Grid {
    let bg = background(g);
    let drawn: Vec<usize> = (0..g.rows()).filter(|&r| g.row(r).iter().any(|&v| v != bg)).collect();
    let (Some(&top), Some(&bottom)) = (drawn.first(), drawn.last()) else { return g.clone() };
    let n = bottom + 1 - top;
    let period =
        if whole { n } else { (1..=n).find(|&p| (top..top + n - p).all(|r| g.row(r) == g.row(r + p))).unwrap_or(n) };
    // Row r shows the band's row at (r - top) mod period, rows above the band too.
    let phase = |r: usize| (r as i64 - top as i64).rem_euclid(period as i64) as usize;
    Grid::from_fn(g.rows(), g.cols(), |r, c| g.get(top + phase(r), c))
}

/// Fills cells of colour `unknown` by repeating the smallest 2-D tiling that the known
/// cells agree with: a tile of `pr` rows and `pc` columns repeated along rows and
/// columns, or else (where none fits) a row of `pc` cells repeated down with a shift of
/// `s` columns from row to row, so that colours repeating along diagonals (colour by
/// `(row + column) % 3`) are completed too.
pub fn complete_pattern(g: &Grid, unknown: i64) -> R<Grid> {
    let u = colour(unknown)?;
    if !g.cells().contains(&u) {
        // Nothing to fill: the grid's own smallest period gives the grid back.
        return Ok(g.clone());
    }
    let (h, w) = g.shape();
    // Candidate lattices (pr, pc, s) in order of tile area, then the shifted rows; the
    // first consistent one with every class known wins, so none has more classes than
    // there are known cells.
    let known = g.cells().iter().filter(|&&v| v != u).count();
    let mut tiles: Vec<(usize, usize, usize)> = (1..=h).flat_map(|pr| (1..=w).map(move |pc| (pr, pc, 0))).collect();
    tiles.sort_by_key(|&(pr, pc, _)| (pr * pc, pr, pc));
    let shifted = (2..=w).flat_map(|pc| (1..pc).map(move |s| (1, pc, s)));
    let lattices = tiles.into_iter().chain(shifted).filter(|&(pr, pc, _)| pr * pc <= known);
    // Cell (i, j) lies in the class of (i % pr, (j - (i / pr) * s) % pc), with s < pc.
    let class = |i: usize, j: usize, (pr, pc, s): (usize, usize, usize)| (i % pr) * pc + (j + (pc - s) * (i / pr)) % pc;
    let mut tile = vec![u; h * w];
    for l in lattices {
        in_time()?;
        let tile = &mut tile[..l.0 * l.1];
        tile.fill(u);
        let ok = (0..h).all(|i| {
            (0..w).all(|j| {
                let v = g.get(i, j);
                let t = &mut tile[class(i, j, l)];
                if v == u {
                    true
                } else if *t == u {
                    *t = v;
                    true
                } else {
                    *t == v
                }
            })
        });
        if ok && !tile.contains(&u) {
            return Ok(Grid::from_fn(h, w, |i, j| tile[class(i, j, l)]));
        }
    }
    Ok(g.clone())
}
