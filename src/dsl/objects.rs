//! Objects: sets of coloured cells found as connected components of a grid.

use super::ops::{self, colour, DslError, R};
use crate::grid::{Dihedral, Grid, COLOURS};
use std::collections::HashSet;

/// A set of cells with colours, at absolute grid positions (may lie partly outside a
/// grid after a shift). Cells are kept sorted in reading order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Obj {
    cells: Vec<(i64, i64, u8)>,
}

/// How `objects` cuts a grid into components.
#[derive(Debug, Clone, Copy)]
pub struct ObjectOptions {
    /// 8-connectivity instead of 4.
    pub diagonal: bool,
    /// Components may mix colours (any non-background cells that touch).
    pub multicolour: bool,
    /// The colour that is not part of any object; `None` keeps every cell.
    pub background: Option<u8>,
}

impl ObjectOptions {
    /// The DSL's default for `g.objects()`: single-colour, 4-connected, the guessed
    /// background excluded. The enumerator's native transforms use the same.
    pub fn defaults(g: &Grid) -> ObjectOptions {
        ObjectOptions { diagonal: false, multicolour: false, background: Some(ops::background(g)) }
    }
}

/// Connected components in reading order of their first cell.
pub fn objects(g: &Grid, opt: ObjectOptions) -> Vec<Obj> {
    let (h, w) = g.shape();
    let mut seen = vec![false; h * w];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..h * w {
        let v0 = g.cells()[start];
        if seen[start] || Some(v0) == opt.background {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut cells = Vec::new();
        while let Some(k) = stack.pop() {
            let (i, j) = (k / w, k % w);
            let v = g.cells()[k];
            cells.push((i as i64, j as i64, v));
            for &(di, dj) in ops::neighbours(opt.diagonal) {
                let (ni, nj) = (i as i64 + di, j as i64 + dj);
                let Some(nv) = g.at(ni, nj) else { continue };
                let nk = ni as usize * w + nj as usize;
                let joins = if opt.multicolour { Some(nv) != opt.background } else { nv == v0 };
                if joins && !seen[nk] {
                    seen[nk] = true;
                    stack.push(nk);
                }
            }
        }
        out.push(Obj::new(cells));
    }
    out
}

impl Obj {
    pub fn new(mut cells: Vec<(i64, i64, u8)>) -> Obj {
        cells.sort_unstable();
        cells.dedup_by_key(|c| (c.0, c.1));
        Obj { cells }
    }

    /// The non-`bg` cells of a grid as one object.
    pub fn from_grid(g: &Grid, bg: Option<u8>) -> Obj {
        let mut cells = Vec::new();
        for i in 0..g.rows() {
            for j in 0..g.cols() {
                let v = g.get(i, j);
                if Some(v) != bg {
                    cells.push((i as i64, j as i64, v));
                }
            }
        }
        Obj { cells }
    }

    /// The cells of colour `c` as one object (empty when there are none).
    pub fn of_colour(g: &Grid, c: u8) -> Obj {
        let cells = (0..g.rows()).flat_map(|i| (0..g.cols()).map(move |j| (i, j))).filter(|&(i, j)| g.get(i, j) == c);
        Obj { cells: cells.map(|(i, j)| (i as i64, j as i64, c)).collect() }
    }

    pub fn cells(&self) -> &[(i64, i64, u8)] {
        &self.cells
    }
    pub fn size(&self) -> i64 {
        self.cells.len() as i64
    }
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    fn need(&self, what: &str) -> R<()> {
        if self.cells.is_empty() {
            return Err(DslError(format!("{what}: the object is empty")));
        }
        Ok(())
    }

    pub fn top(&self) -> i64 {
        self.cells.first().map_or(0, |c| c.0)
    }
    pub fn bottom(&self) -> i64 {
        self.cells.last().map_or(0, |c| c.0)
    }
    pub fn left(&self) -> i64 {
        self.cells.iter().map(|c| c.1).min().unwrap_or(0)
    }
    pub fn right(&self) -> i64 {
        self.cells.iter().map(|c| c.1).max().unwrap_or(0)
    }
    pub fn height(&self) -> i64 {
        if self.is_empty() {
            0
        } else {
            self.bottom().saturating_sub(self.top()).saturating_add(1)
        }
    }
    pub fn width(&self) -> i64 {
        if self.is_empty() {
            0
        } else {
            self.right().saturating_sub(self.left()).saturating_add(1)
        }
    }

    /// The most common colour (ties: lower colour); -1 when empty.
    pub fn colour(&self) -> i64 {
        let mut h = [0usize; 10];
        self.cells.iter().for_each(|c| h[c.2 as usize] += 1);
        if self.is_empty() {
            return -1;
        }
        (0..10).max_by_key(|&c| (h[c], std::cmp::Reverse(c))).unwrap() as i64
    }

    /// Number of cells of colour `c`.
    pub fn count(&self, c: i64) -> i64 {
        self.cells.iter().filter(|cell| i64::from(cell.2) == c).count() as i64
    }

    pub fn colours(&self) -> Vec<i64> {
        let mut h = [false; 10];
        self.cells.iter().for_each(|c| h[c.2 as usize] = true);
        (0..10).filter(|&c| h[c]).map(|c| c as i64).collect()
    }

    pub fn shifted(&self, dr: i64, dc: i64) -> Obj {
        Obj::new(self.cells.iter().map(|&(r, c, v)| (r.saturating_add(dr), c.saturating_add(dc), v)).collect())
    }

    /// Moved so its bounding box starts at (0, 0).
    pub fn normalized(&self) -> Obj {
        self.shifted(-self.top(), -self.left())
    }

    pub fn recoloured(&self, v: i64) -> R<Obj> {
        let v = colour(v)?;
        Ok(Obj { cells: self.cells.iter().map(|&(r, c, _)| (r, c, v)).collect() })
    }

    /// Same cells up to translation, colours ignored.
    pub fn same_shape(&self, other: &Obj) -> bool {
        // Cells are sorted by position, and a translation keeps that order: compare them
        // in place, each relative to its object's corner.
        let (at, al, bt, bl) = (self.top(), self.left(), other.top(), other.left());
        self.cells.len() == other.cells.len()
            && self.cells.iter().zip(&other.cells).all(|(x, y)| {
                (x.0.wrapping_sub(at), x.1.wrapping_sub(al)) == (y.0.wrapping_sub(bt), y.1.wrapping_sub(bl))
            })
    }

    /// Whether the object fills its bounding box.
    pub fn is_rect(&self) -> bool {
        !self.is_empty() && Some(self.size()) == self.height().checked_mul(self.width())
    }

    /// How many areas of other cells the object encloses: areas inside its bounding
    /// box, 4-connected, that do not reach the box's edge.
    pub fn holes(&self) -> usize {
        // The box with the object's cells 1, the rest 0: the enclosed 0s, cut into areas.
        let Ok(mut shape) = Grid::filled(self.height() as usize, self.width() as usize, 0) else { return 0 };
        let (top, left) = (self.top(), self.left());
        let mut cells = shape.edit();
        self.cells.iter().for_each(|&(r, c, _)| cells.set((r - top) as usize, (c - left) as usize, 1));
        let inside = ops::enclosed(&shape, 0);
        let enclosed = Grid::from_fn(shape.rows(), shape.cols(), |r, c| u8::from(inside[r * shape.cols() + c]));
        objects(&enclosed, ObjectOptions { diagonal: false, multicolour: false, background: Some(0) }).len()
    }

    pub fn contains(&self, r: i64, c: i64) -> bool {
        self.cells.binary_search_by(|x| (x.0, x.1).cmp(&(r, c))).is_ok()
    }

    /// The object drawn on a grid of its bounding box, other cells `bg`.
    pub fn to_grid(&self, bg: i64) -> R<Grid> {
        self.need("to_grid")?;
        let bg = colour(bg)?;
        let (h, w) = ops::shape(self.height(), self.width())?;
        let mut g = Grid::filled(h, w, bg).expect("checked");
        let mut cells = g.edit();
        let (t, l) = (self.top(), self.left());
        for &(r, c, v) in &self.cells {
            cells.set((r - t) as usize, (c - l) as usize, v);
        }
        Ok(g)
    }

    /// Whether any cell lies on the border of a rows x cols grid.
    pub fn touches_border(&self, rows: usize, cols: usize) -> bool {
        self.cells.iter().any(|&(r, c, _)| r == 0 || c == 0 || r == rows as i64 - 1 || c == cols as i64 - 1)
    }
}

/// Paints an object's cells (in its own colours, or `v`), clipped to the grid.
pub fn paint(g: &Grid, o: &Obj, v: Option<u8>) -> Grid {
    let mut out = g.clone();
    let mut cells = out.edit();
    for &(r, c, own) in o.cells() {
        cells.set_at(r, c, v.unwrap_or(own));
    }
    out
}

/// Each object (8-connected, of any colours) without a cell of colour `c` slides
/// straight toward the cells of colour `c` (the shortest of the four ways that meets
/// them, or of the eight with `diagonal`; ties to the first of down, up, right, left,
/// then the diagonals) and stops next to them; an object no way meets stays where it is.
pub fn attract(g: &Grid, c: i64, diagonal: bool) -> R<Grid> {
    let c = colour(c)?;
    let bg = ops::background(g);
    if c == bg || !g.cells().contains(&c) {
        return Err(DslError(format!("attract: no cells of colour {c} to move toward")));
    }
    let mut out = Grid::from_fn(g.rows(), g.cols(), |r, col| if g.get(r, col) == c { c } else { bg });
    let opt = ObjectOptions { diagonal: true, multicolour: true, background: Some(bg) };
    for o in objects(g, opt) {
        if o.count(i64::from(c)) > 0 {
            continue;
        }
        let ways = if diagonal { &WAYS[..] } else { &WAYS[..4] };
        let (s, dr, dc) = slide(g, &o, ways, |r, col| g.at(r, col) == Some(c)).unwrap_or((0, 0, 0));
        out = paint(&out, &o.shifted(dr * s, dc * s), None);
    }
    Ok(out)
}

/// Down, up, right, left, then the diagonals: the ways [`slide`] tries, in order.
const WAYS: [(i64, i64); 8] = [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)];

/// The fewest steps `o` can take one of `ways` (the first of equals) before its next step
/// would put a cell where `meets`, with that way; `None` where every way leaves the grid
/// first.
fn slide(g: &Grid, o: &Obj, ways: &[(i64, i64)], meets: impl Fn(i64, i64) -> bool) -> Option<(i64, i64, i64)> {
    let mut best: Option<(i64, i64, i64)> = None;
    for &(dr, dc) in ways {
        let mut s = 0;
        let met = loop {
            let next = |&(r, c, _): &(i64, i64, u8)| (r + dr * (s + 1), c + dc * (s + 1));
            if o.cells().iter().map(next).any(|(r, c)| g.at(r, c).is_none()) {
                break false;
            }
            if o.cells().iter().map(next).any(|(r, c)| meets(r, c)) {
                break true;
            }
            s += 1;
        };
        if met && best.is_none_or(|b| s < b.0) {
            best = Some((s, dr, dc));
        }
    }
    best
}

/// Every object (8-connected, one colour) slid straight up, down or sideways to the
/// largest object of its own colour, stopping next to it (the shortest way; through
/// other colours); objects that cannot reach it, or whose colour has no largest object of
/// two or more cells, are erased. An error where no colour has one.
pub fn attract_own(g: &Grid) -> R<Grid> {
    let bg = ops::background(g);
    let opt = ObjectOptions { diagonal: true, multicolour: false, background: Some(bg) };
    let objs = objects(g, opt);
    // Per colour, the index of its one largest object.
    let mut anchors: [Option<usize>; COLOURS] = [None; COLOURS];
    for (v, anchor) in anchors.iter_mut().enumerate() {
        let mut sizes: Vec<(i64, usize)> =
            objs.iter().enumerate().filter(|(_, o)| o.colour() == v as i64).map(|(i, o)| (o.size(), i)).collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        if sizes.first().is_some_and(|&(n, _)| n >= 2 && sizes.get(1).is_none_or(|&(m, _)| m < n)) {
            *anchor = Some(sizes[0].1);
        }
    }
    if anchors.iter().all(Option::is_none) {
        return Err(DslError("attract_own: no colour has one largest object".into()));
    }
    let mut out = Grid::from_fn(g.rows(), g.cols(), |_, _| bg);
    for (i, o) in objs.iter().enumerate() {
        let Some(a) = anchors[o.colour() as usize] else { continue };
        if a == i {
            out = paint(&out, o, None);
            continue;
        }
        if let Some((s, dr, dc)) = slide(g, o, &WAYS[..4], |r, c| objs[a].contains(r, c)) {
            out = paint(&out, &o.shifted(dr * s, dc * s), None);
        }
    }
    Ok(out)
}

/// Each object of the other colours (8-connected, of any colours, colour `c`'s cells
/// left out) moved so that the centre of its bounding box lines up with the centre of
/// colour `c`'s cells: on both axes (`along` "centre"), or only up or down ("rows") or
/// only sideways ("cols"). An error where `c` is absent or where an object would have
/// to move by half a cell.
pub fn align_to(g: &Grid, c: i64, along: &str) -> R<Grid> {
    let (rows, cols) = match along {
        "centre" => (true, true),
        "rows" => (true, false),
        "cols" => (false, true),
        _ => return Err(DslError(format!("align_to: along must be \"centre\", \"rows\" or \"cols\", not {along:?}"))),
    };
    let c = colour(c)?;
    let bg = ops::background(g);
    let Some((r2, c2)) = doubled_centres(g)[c as usize].filter(|_| c != bg) else {
        return Err(DslError(format!("align_to: no cells of colour {c} to line up with")));
    };
    let mut out = Grid::from_fn(g.rows(), g.cols(), |r, col| if g.get(r, col) == c { c } else { bg });
    let others = Grid::from_fn(g.rows(), g.cols(), |r, col| if g.get(r, col) == c { bg } else { g.get(r, col) });
    let opt = ObjectOptions { diagonal: true, multicolour: true, background: Some(bg) };
    for o in objects(&others, opt) {
        let dr = if rows { r2 - o.top() - o.bottom() } else { 0 };
        let dc = if cols { c2 - o.left() - o.right() } else { 0 };
        if dr % 2 != 0 || dc % 2 != 0 {
            return Err(DslError(format!("align_to: an object would move half a cell to line up with colour {c}")));
        }
        out = paint(&out, &o.shifted(dr / 2, dc / 2), None);
    }
    Ok(out)
}

/// The largest object (8-connected, of any colours) that is not all of colour `m`,
/// copied onto each object that is: centred on it (a marker cell, or a placeholder of the
/// template's size), the marker's own cells cleared first; clipped at the edges. An error
/// where there is no marker or no template, or where a copy cannot be centred (a marker
/// and a template whose sides differ by an odd number).
pub fn copy_to(g: &Grid, m: i64) -> R<Grid> {
    let m = colour(m)?;
    let bg = ops::background(g);
    let opt = ObjectOptions { diagonal: true, multicolour: true, background: Some(bg) };
    let (markers, others): (Vec<Obj>, Vec<Obj>) =
        objects(g, opt).into_iter().partition(|o| o.cells().iter().all(|&(_, _, v)| v == m));
    let Some(template) = others.iter().rev().max_by_key(|o| o.size()) else {
        return Err(DslError(format!("copy_to: no object other than colour {m} to copy")));
    };
    if markers.is_empty() {
        return Err(DslError(format!("copy_to: no object of colour {m} to copy onto")));
    }
    let mut out = g.clone();
    for marker in &markers {
        let (dh, dw) = (marker.height() - template.height(), marker.width() - template.width());
        if dh % 2 != 0 || dw % 2 != 0 {
            return Err(DslError(format!(
                "copy_to: a {}x{} copy cannot be centred on a {}x{} marker",
                template.height(),
                template.width(),
                marker.height(),
                marker.width()
            )));
        }
        out = paint(&out, marker, Some(bg));
        let at = template.shifted(marker.top() + dh / 2 - template.top(), marker.left() + dw / 2 - template.left());
        out = paint(&out, &at, None);
    }
    Ok(out)
}

/// Partial copies of a template completed. The template is the object (8-connected, any
/// colours) with the most colours, then the most cells. A partial copy is a set of whole
/// objects elsewhere, two or more cells in two or more colours, every cell of which has
/// the colour a copy of the template would have there: turned or flipped any of the eight
/// ways, scaled up to 3 times (each template cell then a whole block), and lying inside
/// the grid. Each such copy is painted whole, the fullest first. An error where no one
/// object has the most colours and cells, where it has one colour, or where two copies
/// would paint one cell two colours.
pub fn complete_copies(g: &Grid) -> R<Grid> {
    let bg = ops::background(g);
    let opt = ObjectOptions { diagonal: true, multicolour: true, background: Some(bg) };
    let objs = objects(g, opt);
    let rank = |o: &Obj| (o.colours().len(), o.size());
    let Some(template) = objs.iter().max_by_key(|o| rank(o)) else {
        return Err(DslError("complete_copies: no object to copy".into()));
    };
    if objs.iter().filter(|o| rank(o) == rank(template)).count() > 1 {
        return Err(DslError("complete_copies: two objects have the most colours and cells".into()));
    }
    if template.colours().len() < 2 {
        return Err(DslError("complete_copies: the template has one colour".into()));
    }
    let (rows, cols) = (g.rows() as i64, g.cols() as i64);
    // Which object each cell belongs to (the template is 0), and each object's size.
    let mut owner = vec![usize::MAX; g.cells().len()];
    let others = objs.iter().filter(|o| *o != template);
    for (id, o) in std::iter::once(template).chain(others).enumerate() {
        o.cells().iter().for_each(|&(r, c, _)| owner[(r * cols + c) as usize] = id);
    }
    let mut size = vec![0usize; objs.len()];
    owner.iter().filter(|&&id| id != usize::MAX).for_each(|&id| size[id] += 1);
    // The eight orientations, each from the top-left of its bounding box.
    let drawn = template.to_grid(i64::from(bg))?;
    let mut shapes: Vec<Obj> = Vec::new();
    for d in Dihedral::ALL {
        let turned = Obj::from_grid(&drawn.transform(d), Some(bg));
        if !shapes.contains(&turned) {
            shapes.push(turned);
        }
    }
    // Copies as (cells present, top, left, scale, shape, the objects they cover).
    let mut copies: Vec<(usize, i64, i64, i64, usize, Vec<usize>)> = Vec::new();
    for (si, shape) in shapes.iter().enumerate() {
        let (th, tw, cells) = (shape.height(), shape.width(), shape.cells());
        for s in 1..=3i64 {
            if th * s > rows || tw * s > cols {
                continue;
            }
            // Where a copy could lie: a template cell's block over a cell of its colour.
            let mut tops = HashSet::new();
            for (k, &v) in g.cells().iter().enumerate() {
                let (gr, gc) = (k as i64 / cols, k as i64 % cols);
                if v == bg || owner[k] == 0 {
                    continue;
                }
                for &(r, c, _) in cells.iter().filter(|t| t.2 == v) {
                    let (top, left) = (gr - r * s, gc - c * s);
                    if (0..=rows - th * s).contains(&top) && (0..=cols - tw * s).contains(&left) {
                        tops.insert((top, left));
                    }
                }
            }
            let mut tops: Vec<(i64, i64)> = tops.into_iter().collect();
            tops.sort_unstable();
            'copy: for (top, left) in tops {
                let (mut present, mut colours, mut ids) = (0usize, 0u16, Vec::new());
                for &(r, c, v) in cells {
                    let mut in_block = 0;
                    for (dr, dc) in (0..s).flat_map(|dr| (0..s).map(move |dc| (dr, dc))) {
                        let k = ((top + r * s + dr) * cols + left + c * s + dc) as usize;
                        let gv = g.cells()[k];
                        if gv == bg {
                            continue;
                        }
                        if gv != v || owner[k] == 0 {
                            continue 'copy;
                        }
                        in_block += 1;
                        colours |= 1 << v;
                        if !ids.contains(&owner[k]) {
                            ids.push(owner[k]);
                        }
                    }
                    if in_block != 0 && in_block != s * s {
                        continue 'copy;
                    }
                    present += in_block as usize;
                }
                let whole = ids.iter().map(|&id| size[id]).sum::<usize>() == present;
                if present >= 2 && colours.count_ones() >= 2 && present < cells.len() * (s * s) as usize && whole {
                    ids.sort_unstable();
                    copies.push((present, top, left, s, si, ids));
                }
            }
        }
    }
    // Each object is part of one copy, the fullest; two fullest ways is an error.
    copies.sort_by_key(|c| std::cmp::Reverse(c.0));
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let mut out = g.clone();
    for (present, top, left, s, si, ids) in copies {
        if let Some(&(_, by)) = taken.iter().find(|(id, _)| ids.contains(id)) {
            if by == present {
                return Err(DslError("complete_copies: a partial copy fits the template two ways".into()));
            }
            continue;
        }
        taken.extend(ids.iter().map(|&id| (id, present)));
        for &(r, c, v) in shapes[si].cells() {
            for (dr, dc) in (0..s).flat_map(|dr| (0..s).map(move |dc| (dr, dc))) {
                let (i, j) = ((top + r * s + dr) as usize, (left + c * s + dc) as usize);
                let now = out.get(i, j);
                if now != bg && now != v {
                    return Err(DslError(format!("complete_copies: two copies paint ({i}, {j}) {now} and {v}")));
                }
                out.set(i, j, v);
            }
        }
    }
    Ok(out)
}

/// Each object (8-connected) of colour `m` mirrored across the nearest of the lines
/// where the other colours are densest: the rows, or the columns, holding the most cells
/// of colours other than `m` and the background (a frame's bars); the originals are
/// cleared first, and copies are clipped at the edges. An error where there is no
/// object of colour `m` or nothing else, where the densest row and column hold as many
/// cells, or where an object lies as near to two of those lines.
pub fn mirror_across(g: &Grid, m: i64) -> R<Grid> {
    let m = colour(m)?;
    let bg = ops::background(g);
    let other = |v: u8| v != bg && v != m;
    let in_rows: Vec<usize> = (0..g.rows()).map(|r| g.row(r).iter().filter(|&&v| other(v)).count()).collect();
    let in_cols: Vec<usize> = (0..g.cols()).map(|c| (0..g.rows()).filter(|&r| other(g.get(r, c))).count()).collect();
    let (most_r, most_c) = (in_rows.iter().max().copied().unwrap_or(0), in_cols.iter().max().copied().unwrap_or(0));
    if most_r == most_c {
        return Err(DslError("mirror_across: the densest rows and columns tie (or there is no frame)".into()));
    }
    // Each line as (is a row, index).
    let lines: Vec<(bool, i64)> = if most_r > most_c {
        (0..in_rows.len()).filter(|&r| in_rows[r] == most_r).map(|r| (true, r as i64)).collect()
    } else {
        (0..in_cols.len()).filter(|&c| in_cols[c] == most_c).map(|c| (false, c as i64)).collect()
    };
    let opt = ObjectOptions { diagonal: true, multicolour: false, background: Some(bg) };
    let movers: Vec<Obj> = objects(g, opt).into_iter().filter(|o| o.colour() == i64::from(m)).collect();
    if movers.is_empty() {
        return Err(DslError(format!("mirror_across: no object of colour {m}")));
    }
    let mut out = g.clone();
    movers.iter().for_each(|o| out = paint(&out, o, Some(bg)));
    for o in &movers {
        let distance = |&(row, at): &(bool, i64)| {
            let (lo, hi) = if row { (o.top(), o.bottom()) } else { (o.left(), o.right()) };
            (lo - at).max(at - hi).max(0)
        };
        let mut by_distance: Vec<i64> = lines.iter().map(distance).collect();
        by_distance.sort_unstable();
        if by_distance.len() > 1 && by_distance[0] == by_distance[1] {
            return Err(DslError(format!("mirror_across: an object of colour {m} lies as near to two lines")));
        }
        let Some(&(row, at)) = lines.iter().min_by_key(|l| distance(l)) else { continue };
        let mirrored = Obj::new(
            o.cells().iter().map(|&(r, c, v)| if row { (2 * at - r, c, v) } else { (r, 2 * at - c, v) }).collect(),
        );
        out = paint(&out, &mirrored, None);
    }
    Ok(out)
}

/// Every cell not of the background mirrored left-right, top-bottom and both ways
/// across the two lines through the centre of colour `c`'s bounding box (a marker the
/// figure turns around), painting only background cells; copies are clipped at the
/// edges. An error where `c` is absent.
pub fn mirror_around(g: &Grid, c: i64) -> R<Grid> {
    let c = colour(c)?;
    let bg = ops::background(g);
    let Some((r2, c2)) = doubled_centres(g)[c as usize] else {
        return Err(DslError(format!("mirror_around: no cell of colour {c}")));
    };
    let mut out = g.clone();
    let mut e = out.edit();
    for (r, col) in places(g) {
        let v = g.get(r as usize, col as usize);
        if v == bg {
            continue;
        }
        for (rr, cc) in [(r, c2 - col), (r2 - r, col), (r2 - r, c2 - col)] {
            if e.at(rr, cc) == Some(bg) {
                e.set_at(rr, cc, v);
            }
        }
    }
    Ok(out)
}

/// The colour, other than the background, whose cells look the same mirrored left-right
/// and top-bottom within their bounding box (a marker); the one with the fewest cells
/// where several do, ties to the lower colour; -1 where none does.
pub fn symmetric_colour(g: &Grid) -> i64 {
    let bg = ops::background(g);
    let centres = doubled_centres(g);
    let mut symmetric = centres.map(|c| c.is_some());
    for (r, c) in places(g) {
        let v = g.get(r as usize, c as usize);
        if let Some((r2, c2)) = centres[v as usize] {
            symmetric[v as usize] &= g.at(r2 - r, c) == Some(v) && g.at(r, c2 - c) == Some(v);
        }
    }
    let h = g.histogram();
    (0..COLOURS).filter(|&c| c != bg as usize && symmetric[c]).min_by_key(|&c| (h[c], c)).map_or(-1, |c| c as i64)
}

/// For each colour present, twice the centre of its cells' bounding box (so that a
/// centre between two cells stays whole): (r, c) mirrors to (r2 - r, c2 - c).
fn doubled_centres(g: &Grid) -> [Option<(i64, i64)>; COLOURS] {
    ops::colour_boxes(g).map(|b| b.map(|(t, bo, l, r)| ((t + bo) as i64, (l + r) as i64)))
}

/// Every place of the grid, row by row.
fn places(g: &Grid) -> impl Iterator<Item = (i64, i64)> {
    let cols = g.cols() as i64;
    (0..g.rows() as i64).flat_map(move |r| (0..cols).map(move |c| (r, c)))
}

/// The part of `g` under an object's bounding box.
pub fn crop_to(g: &Grid, o: &Obj) -> R<Grid> {
    o.need("crop_to")?;
    ops::crop(g, o.top(), o.left(), o.height(), o.width())
}
