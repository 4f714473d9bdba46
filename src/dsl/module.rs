//! The Rhai surface of the DSL: one plugin module whose `///` comments are the reference
//! that `arcsynth dsl docs` prints and prompts include.
//!
//! **Boundary:** programs in the library call these names. Renaming or removing a
//! function, or changing its arguments, breaks stored programs.
//!
//! Doc comment convention: the first line is the one-line doc shown in the reference;
//! the section headers (`# Geometry` ...) come from `dsl::SECTIONS`.

use rhai::plugin::*;
use rhai::{Array, FnPtr, INT};

use super::objects::{self, Obj, ObjectOptions};
use super::ops::{self, DslError};
use super::rules;
use crate::grid::Grid;

impl From<DslError> for Box<EvalAltResult> {
    fn from(e: DslError) -> Self {
        match e.stop() {
            // What the progress callback stops a run with, so the sandbox reports alike.
            Some(stop) => Box::new(EvalAltResult::ErrorTerminated(stop.token().into(), rhai::Position::NONE)),
            None => e.0.into(),
        }
    }
}

type Res<T> = Result<T, Box<EvalAltResult>>;

fn grids(v: Vec<Grid>) -> Array {
    v.into_iter().map(Dynamic::from).collect()
}

fn ints(v: Vec<i64>) -> Array {
    v.into_iter().map(Dynamic::from).collect()
}

fn int_of(d: &Dynamic, what: &str) -> Res<i64> {
    d.as_int().map_err(|t| format!("{what}: expected an integer, got {t}").into())
}

fn int_list(a: &Array, what: &str) -> Res<Vec<i64>> {
    a.iter().map(|d| int_of(d, what)).collect()
}

fn parse_options(g: &Grid, opts: &rhai::Map) -> Res<ObjectOptions> {
    let mut o = ObjectOptions::defaults(g);
    for (k, v) in opts {
        let flag = || v.as_bool().map_err(|_| format!("objects: option {k} must be true or false"));
        match k.as_str() {
            "diagonal" => o.diagonal = flag()?,
            "multicolor" | "multicolour" => o.multicolour = flag()?,
            "background" => {
                let b = int_of(v, "objects: background")?;
                o.background = if b < 0 { None } else { Some(ops::colour(b)?) };
            }
            _ => return Err(format!("objects: unknown option {k} (options: diagonal, multicolor, background)").into()),
        }
    }
    Ok(o)
}

#[export_module]
pub mod dsl_api {
    use super::*;

    // ---------------- Grid: construction and access ----------------

    /// New grid of `rows` x `cols` filled with colour `c`.
    #[rhai_fn(return_raw)]
    pub fn grid(rows: INT, cols: INT, c: INT) -> Res<Grid> {
        Ok(ops::new_grid(rows, cols, c)?)
    }
    /// New grid of `rows` x `cols` filled with colour 0.
    #[rhai_fn(name = "grid", return_raw)]
    pub fn grid_zeros(rows: INT, cols: INT) -> Res<Grid> {
        Ok(ops::new_grid(rows, cols, 0)?)
    }
    /// Grid from an array of rows of colours, e.g. `grid_from([[1, 0], [0, 1]])`.
    #[rhai_fn(return_raw)]
    pub fn grid_from(rows: Array) -> Res<Grid> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let row = row.try_cast::<Array>().ok_or("grid_from: each row must be an array")?;
            out.push(row.iter().map(|d| int_of(d, "grid_from")).collect::<Res<Vec<i64>>>()?);
        }
        Ok(ops::from_rows(&out)?)
    }
    /// New grid of `rows` x `cols` filled with colour 0, as `grid(rows, cols)` (a name models guess).
    #[rhai_fn(name = "grid_from", return_raw)]
    pub fn grid_from_size(rows: INT, cols: INT) -> Res<Grid> {
        grid_zeros(rows, cols)
    }
    /// Number of rows.
    #[rhai_fn(pure)]
    pub fn rows(g: &mut Grid) -> INT {
        g.rows() as INT
    }
    /// Number of columns.
    #[rhai_fn(pure)]
    pub fn cols(g: &mut Grid) -> INT {
        g.cols() as INT
    }
    /// Colour at (r, c); -1 outside the grid.
    #[rhai_fn(pure)]
    pub fn get(g: &mut Grid, r: INT, c: INT) -> INT {
        ops::get(g, r, c)
    }
    /// Set the cell (r, c) to colour `v`, in place (the only primitive that mutates; nothing outside the grid or for `v` = -1, what `get` reads outside); also returns the grid.
    #[rhai_fn(return_raw)]
    pub fn set(g: &mut Grid, r: INT, c: INT, v: INT) -> Res<Grid> {
        ops::set(g, r, c, v)?;
        Ok(g.clone())
    }
    /// Row `r` as an array of colours.
    #[rhai_fn(pure, return_raw)]
    pub fn row(g: &mut Grid, r: INT) -> Res<Array> {
        if r < 0 || r as usize >= g.rows() {
            return Err(format!("row: {r} is outside 0..{}", g.rows()).into());
        }
        Ok(g.row(r as usize).iter().map(|&v| Dynamic::from(v as INT)).collect())
    }
    /// Column `c` as an array of colours.
    #[rhai_fn(pure, return_raw)]
    pub fn col(g: &mut Grid, c: INT) -> Res<Array> {
        if c < 0 || c as usize >= g.cols() {
            return Err(format!("col: {c} is outside 0..{}", g.cols()).into());
        }
        Ok((0..g.rows()).map(|r| Dynamic::from(g.get(r, c as usize) as INT)).collect())
    }
    /// Rows as an array of arrays of colours.
    #[rhai_fn(pure)]
    pub fn to_array(g: &mut Grid) -> Array {
        (0..g.rows()).map(|r| Dynamic::from(ints(g.row(r).iter().map(|&v| v as i64).collect()))).collect()
    }
    #[rhai_fn(name = "==", pure)]
    pub fn grid_eq(a: &mut Grid, b: Grid) -> bool {
        *a == b
    }
    #[rhai_fn(name = "!=", pure)]
    pub fn grid_ne(a: &mut Grid, b: Grid) -> bool {
        *a != b
    }
    #[rhai_fn(name = "to_string", name = "to_debug", pure)]
    pub fn grid_to_string(g: &mut Grid) -> String {
        g.to_text()
    }

    // ---------------- Geometry ----------------

    /// Rotate by `k` quarter turns clockwise (negative: anticlockwise).
    #[rhai_fn(pure)]
    pub fn rotate(g: &mut Grid, k: INT) -> Grid {
        ops::rotate(g, k)
    }
    /// Mirror left-right.
    #[rhai_fn(pure)]
    pub fn flip_h(g: &mut Grid) -> Grid {
        ops::flip_h(g)
    }
    /// Mirror top-bottom.
    #[rhai_fn(pure)]
    pub fn flip_v(g: &mut Grid) -> Grid {
        ops::flip_v(g)
    }
    /// Mirror across the main diagonal (rows become columns).
    #[rhai_fn(pure)]
    pub fn transpose(g: &mut Grid) -> Grid {
        ops::transpose(g)
    }
    /// Move contents by (dr, dc); vacated cells become `fill`.
    #[rhai_fn(pure, return_raw)]
    pub fn shift(g: &mut Grid, dr: INT, dc: INT, fill: INT) -> Res<Grid> {
        Ok(ops::shift(g, dr, dc, fill)?)
    }
    /// Move contents by (dr, dc), wrapping around the edges.
    #[rhai_fn(pure)]
    pub fn roll(g: &mut Grid, dr: INT, dc: INT) -> Grid {
        ops::roll(g, dr, dc)
    }

    // ---------------- Size ----------------

    /// The h x w window with top-left (r, c), clipped to the grid.
    #[rhai_fn(pure, return_raw)]
    pub fn crop(g: &mut Grid, r: INT, c: INT, h: INT, w: INT) -> Res<Grid> {
        Ok(ops::crop(g, r, c, h, w)?)
    }
    /// Crop to the bounding box of the non-background cells.
    #[rhai_fn(pure, return_raw)]
    pub fn trim(g: &mut Grid) -> Res<Grid> {
        Ok(ops::trim(g, ops::background(g) as INT)?)
    }
    /// Crop to the bounding box of the cells that are not colour `bg`.
    #[rhai_fn(name = "trim", pure, return_raw)]
    pub fn trim_bg(g: &mut Grid, bg: INT) -> Res<Grid> {
        Ok(ops::trim(g, bg)?)
    }
    /// Add a border of `n` cells of colour `c` on every side.
    #[rhai_fn(pure, return_raw)]
    pub fn pad(g: &mut Grid, n: INT, c: INT) -> Res<Grid> {
        Ok(ops::pad(g, n, c)?)
    }
    /// Grow or shrink to rows x cols keeping the top-left; new cells get colour `c`.
    #[rhai_fn(pure, return_raw)]
    pub fn resize(g: &mut Grid, rows: INT, cols: INT, c: INT) -> Res<Grid> {
        Ok(ops::resize(g, rows, cols, c)?)
    }
    /// Each cell becomes a k x k block.
    #[rhai_fn(pure, return_raw)]
    pub fn scale_up(g: &mut Grid, k: INT) -> Res<Grid> {
        Ok(ops::scale_up(g, k, k)?)
    }
    /// Each cell becomes a kr x kc block.
    #[rhai_fn(name = "scale_up", pure, return_raw)]
    pub fn scale_up2(g: &mut Grid, kr: INT, kc: INT) -> Res<Grid> {
        Ok(ops::scale_up(g, kr, kc)?)
    }
    /// Keep every k-th row and column (undoes `scale_up(k)`).
    #[rhai_fn(pure, return_raw)]
    pub fn scale_down(g: &mut Grid, k: INT) -> Res<Grid> {
        Ok(ops::scale_down(g, k, k)?)
    }
    /// Keep every kr-th row and kc-th column.
    #[rhai_fn(name = "scale_down", pure, return_raw)]
    pub fn scale_down2(g: &mut Grid, kr: INT, kc: INT) -> Res<Grid> {
        Ok(ops::scale_down(g, kr, kc)?)
    }
    /// Repeat the grid nr times down and nc times across.
    #[rhai_fn(pure, return_raw)]
    pub fn tile(g: &mut Grid, nr: INT, nc: INT) -> Res<Grid> {
        Ok(ops::tile(g, nr, nc)?)
    }
    /// nr x nc copies, every other row of them flipped by `rows`, column by `cols` ("h"/"v"/"").
    #[rhai_fn(pure, return_raw)]
    pub fn mirror_tile(g: &mut Grid, nr: INT, nc: INT, rows: &str, cols: &str) -> Res<Grid> {
        Ok(ops::mirror_tile(g, nr, nc, rows, cols)?)
    }
    /// nr copies down, nc across, each mirroring the one before and sharing its edge.
    #[rhai_fn(pure, return_raw)]
    pub fn reflect_tile(g: &mut Grid, nr: INT, nc: INT) -> Res<Grid> {
        Ok(ops::reflect_tile(g, nr, nc)?)
    }
    /// Repeat the grid's pattern to fill rows x cols.
    #[rhai_fn(pure, return_raw)]
    pub fn tile_to(g: &mut Grid, rows: INT, cols: INT) -> Res<Grid> {
        Ok(ops::tile_to(g, rows, cols)?)
    }
    /// `other` joined on the right (same number of rows).
    #[rhai_fn(pure, return_raw)]
    pub fn hcat(g: &mut Grid, other: Grid) -> Res<Grid> {
        Ok(ops::hcat(g, &other)?)
    }
    /// `other` joined below (same number of columns).
    #[rhai_fn(pure, return_raw)]
    pub fn vcat(g: &mut Grid, other: Grid) -> Res<Grid> {
        Ok(ops::vcat(g, &other)?)
    }
    /// `n` equal parts left to right (a one-column separator between parts is dropped).
    #[rhai_fn(pure, return_raw)]
    pub fn split_cols(g: &mut Grid, n: INT) -> Res<Array> {
        Ok(grids(ops::split_cols(g, n)?))
    }
    /// `n` equal parts top to bottom (a one-row separator between parts is dropped).
    #[rhai_fn(pure, return_raw)]
    pub fn split_rows(g: &mut Grid, n: INT) -> Res<Array> {
        Ok(grids(ops::split_rows(g, n)?))
    }
    /// The cells between full separator lines of one non-background colour (the colour with the most such lines), in reading order.
    #[rhai_fn(pure)]
    pub fn split_by_lines(g: &mut Grid) -> Array {
        grids(ops::split_by_lines(g))
    }
    /// The cells between full rows and columns of the background, in reading order (empty margins dropped); a grid without such gaps is one part.
    #[rhai_fn(pure)]
    pub fn split_by_gaps(g: &mut Grid) -> Array {
        grids(ops::split_by_gaps(g))
    }
    /// The four h x w windows at the corners (top left, top right, bottom left, bottom right); an error unless they cover the grid between them, but for at most one middle row and column (they may overlap).
    #[rhai_fn(pure, return_raw)]
    pub fn corners(g: &mut Grid, h: INT, w: INT) -> Res<Array> {
        Ok(grids(ops::corners(g, h, w)?))
    }
    /// Same-shape grids laid on one another: each cell takes the colour listed first in `order` among those the parts have there, or the one colour there that is not `transparent`; an error where colours meet that `order` does not rank, e.g. `g.split_by_lines().overlay_all([4, 9, 1], 0)`.
    #[rhai_fn(pure, return_raw)]
    pub fn overlay_all(parts: &mut Array, order: Array, transparent: INT) -> Res<Grid> {
        let grids: Vec<Grid> = parts
            .iter()
            .map(|d| {
                d.clone()
                    .try_cast::<Grid>()
                    .ok_or_else(|| format!("overlay_all: parts must be grids, got {}", d.type_name()))
            })
            .collect::<Result<_, _>>()?;
        let mut colours = Vec::with_capacity(order.len());
        for d in &order {
            colours.push(ops::colour(int_of(d, "overlay_all: order")?)?);
        }
        Ok(ops::overlay_all(&grids, &colours, ops::colour(transparent)?)?)
    }
    /// Each part as one cell of its most common non-background colour (the background if it has none), laid out as the parts are; parts lie between separator lines ("lines", as `split_by_lines`) or between full background rows and columns ("gaps"); an error if they do not cut the grid.
    #[rhai_fn(pure, return_raw)]
    pub fn part_colours(g: &mut Grid, parts: &str) -> Res<Grid> {
        Ok(ops::part_colours(g, parts)?)
    }
    /// Remove full separator rows/columns of one non-background colour.
    #[rhai_fn(pure, return_raw)]
    pub fn remove_lines(g: &mut Grid) -> Res<Grid> {
        Ok(ops::remove_lines(g)?)
    }
    /// Left half (the middle column of an odd width is dropped).
    #[rhai_fn(pure, return_raw)]
    pub fn left_half(g: &mut Grid) -> Res<Grid> {
        Ok(ops::left_half(g)?)
    }
    /// Right half (the middle column of an odd width is dropped).
    #[rhai_fn(pure, return_raw)]
    pub fn right_half(g: &mut Grid) -> Res<Grid> {
        Ok(ops::right_half(g)?)
    }
    /// Top half (the middle row of an odd height is dropped).
    #[rhai_fn(pure, return_raw)]
    pub fn top_half(g: &mut Grid) -> Res<Grid> {
        Ok(ops::top_half(g)?)
    }
    /// Bottom half (the middle row of an odd height is dropped).
    #[rhai_fn(pure, return_raw)]
    pub fn bottom_half(g: &mut Grid) -> Res<Grid> {
        Ok(ops::bottom_half(g)?)
    }
    /// Drop each row equal to the row above it.
    #[rhai_fn(pure)]
    pub fn dedup_rows(g: &mut Grid) -> Grid {
        ops::dedup_rows(g)
    }
    /// Drop each column equal to the column to its left.
    #[rhai_fn(pure)]
    pub fn dedup_cols(g: &mut Grid) -> Grid {
        ops::dedup_cols(g)
    }

    // ---------------- Colour ----------------

    /// Colour `from` becomes `to`.
    #[rhai_fn(pure, return_raw)]
    pub fn replace(g: &mut Grid, from: INT, to: INT) -> Res<Grid> {
        Ok(ops::replace(g, from, to)?)
    }
    /// Every cell not of colour `keep` becomes `to`.
    #[rhai_fn(pure, return_raw)]
    pub fn replace_not(g: &mut Grid, keep: INT, to: INT) -> Res<Grid> {
        Ok(ops::replace_not(g, keep, to)?)
    }
    /// Exchange colours `a` and `b`.
    #[rhai_fn(pure, return_raw)]
    pub fn swap(g: &mut Grid, a: INT, b: INT) -> Res<Grid> {
        Ok(ops::swap(g, a, b)?)
    }
    /// Recolour by a map from colour to colour, e.g. `g.recolor(#{"1": 5, "2": 6})`; unlisted colours stay.
    #[rhai_fn(pure, return_raw)]
    pub fn recolor(g: &mut Grid, map: rhai::Map) -> Res<Grid> {
        let mut table: [u8; 10] = std::array::from_fn(|i| i as u8);
        for (k, v) in map {
            let from: i64 = k.parse().map_err(|_| format!("recolor: key {k:?} is not a colour"))?;
            table[ops::colour(from)? as usize] = ops::colour(int_of(&v, "recolor")?)?;
        }
        Ok(ops::map_colours(g, &table))
    }
    /// Each colour replaced by its rank: 0 the background, 1 the most common other colour, 2 the next, ... (ties: the colour met first, row by row).
    #[rhai_fn(name = "rank_colours", pure, return_raw)]
    pub fn rank_colours(g: &mut Grid) -> Res<Grid> {
        Ok(ops::rank_colours(g, &[])?)
    }
    /// Colours ranked as `g.rank_colours()`, but the colours `keep` stay and ranks skip them: `g.rank_colours([4])`.
    #[rhai_fn(name = "rank_colours", pure, return_raw)]
    pub fn rank_colours_keeping(g: &mut Grid, keep: Array) -> Res<Grid> {
        Ok(ops::rank_colours(g, &int_list(&keep, "rank_colours")?)?)
    }
    /// Undoes `of.rank_colours()`: rank k becomes the k-th colour of `of`, e.g. `g.rank_colours().flip_h().unrank_colours(g)`.
    #[rhai_fn(name = "unrank_colours", pure, return_raw)]
    pub fn unrank_colours(g: &mut Grid, of: Grid) -> Res<Grid> {
        Ok(ops::unrank_colours(g, &of, &[])?)
    }
    /// Undoes `of.rank_colours(keep)`.
    #[rhai_fn(name = "unrank_colours", pure, return_raw)]
    pub fn unrank_colours_keeping(g: &mut Grid, of: Grid, keep: Array) -> Res<Grid> {
        Ok(ops::unrank_colours(g, &of, &int_list(&keep, "unrank_colours")?)?)
    }
    /// Keep only colour `c`; every other cell becomes 0.
    #[rhai_fn(pure, return_raw)]
    pub fn keep(g: &mut Grid, c: INT) -> Res<Grid> {
        Ok(ops::keep(g, c, 0)?)
    }
    /// The most common colour.
    #[rhai_fn(pure)]
    pub fn most_common(g: &mut Grid) -> INT {
        ops::most_common(g)
    }
    /// The least common colour present.
    #[rhai_fn(pure)]
    pub fn least_common(g: &mut Grid) -> INT {
        ops::least_common(g)
    }
    /// Background guess: 0 if it covers a quarter of the grid, else the most common colour.
    #[rhai_fn(pure)]
    pub fn background(g: &mut Grid) -> INT {
        ops::background(g) as INT
    }
    /// Colours present, ascending.
    #[rhai_fn(pure)]
    pub fn palette(g: &mut Grid) -> Array {
        ints(ops::palette(g))
    }
    /// Colours present other than the background, ascending.
    #[rhai_fn(pure)]
    pub fn colors(g: &mut Grid) -> Array {
        ints(ops::colors(g))
    }
    /// Number of cells of colour `c`.
    #[rhai_fn(pure)]
    pub fn count(g: &mut Grid, c: INT) -> INT {
        ops::count(g, c)
    }
    /// Number of cells of each colour: an array of 10 counts indexed by colour, e.g. `g.counts()[5]`.
    #[rhai_fn(pure)]
    pub fn counts(g: &mut Grid) -> Array {
        g.histogram().iter().map(|&n| Dynamic::from(n as INT)).collect()
    }
    /// Positions [r, c] of the cells of colour `c`, in reading order.
    #[rhai_fn(pure)]
    pub fn positions(g: &mut Grid, c: INT) -> Array {
        let mut out = Array::new();
        for r in 0..g.rows() {
            for k in 0..g.cols() {
                if g.get(r, k) as INT == c {
                    out.push(Dynamic::from(ints(vec![r as i64, k as i64])));
                }
            }
        }
        out
    }

    // ---------------- Objects ----------------

    /// Single-colour 4-connected objects, background excluded, in reading order.
    #[rhai_fn(pure)]
    pub fn objects(g: &mut Grid) -> Array {
        let opt = ObjectOptions::defaults(g);
        objects::objects(g, opt).into_iter().map(Dynamic::from).collect()
    }
    /// Objects with options `#{diagonal: bool, multicolor: bool, background: colour or -1 for none}`.
    #[rhai_fn(name = "objects", pure, return_raw)]
    pub fn objects_with(g: &mut Grid, options: rhai::Map) -> Res<Array> {
        let opt = parse_options(g, &options)?;
        Ok(objects::objects(g, opt).into_iter().map(Dynamic::from).collect())
    }
    /// All non-background cells as one object.
    #[rhai_fn(pure)]
    pub fn as_object(g: &mut Grid) -> Obj {
        Obj::from_grid(g, Some(ops::background(g)))
    }
    /// The cells of colour `c` as one object (empty when there are none), e.g. `g.crop_to(g.color_object(2))`.
    #[rhai_fn(pure, return_raw)]
    pub fn color_object(g: &mut Grid, c: INT) -> Res<Obj> {
        Ok(Obj::of_colour(g, ops::colour(c)?))
    }
    /// Paint an object in its own colours (cells outside the grid are skipped).
    #[rhai_fn(pure)]
    pub fn paint(g: &mut Grid, o: Obj) -> Grid {
        objects::paint(g, &o, None)
    }
    /// Paint an object's cells in colour `c`.
    #[rhai_fn(name = "paint", pure, return_raw)]
    pub fn paint_colour(g: &mut Grid, o: Obj, c: INT) -> Res<Grid> {
        Ok(objects::paint(g, &o, Some(ops::colour(c)?)))
    }
    /// Paint an object's cells with the background colour.
    #[rhai_fn(pure)]
    pub fn erase(g: &mut Grid, o: Obj) -> Grid {
        let bg = ops::background(g);
        objects::paint(g, &o, Some(bg))
    }
    /// The part of the grid under an object's bounding box.
    #[rhai_fn(pure, return_raw)]
    pub fn crop_to(g: &mut Grid, o: Obj) -> Res<Grid> {
        Ok(objects::crop_to(g, &o)?)
    }
    /// Whether an object touches the grid's border.
    #[rhai_fn(pure)]
    pub fn touches_border(g: &mut Grid, o: Obj) -> bool {
        o.touches_border(g.rows(), g.cols())
    }
    /// Number of cells.
    #[rhai_fn(name = "size", pure)]
    pub fn obj_size(o: &mut Obj) -> INT {
        o.size()
    }
    /// Most common colour of the object.
    #[rhai_fn(name = "color", pure)]
    pub fn obj_color(o: &mut Obj) -> INT {
        o.colour()
    }
    /// Number of the object's cells of colour `c`.
    #[rhai_fn(name = "count", pure)]
    pub fn obj_count(o: &mut Obj, c: INT) -> INT {
        o.count(c)
    }
    /// Colours in the object, ascending.
    #[rhai_fn(name = "colors", pure)]
    pub fn obj_colors(o: &mut Obj) -> Array {
        ints(o.colours())
    }
    /// Top row of the bounding box.
    #[rhai_fn(name = "top", pure)]
    pub fn obj_top(o: &mut Obj) -> INT {
        o.top()
    }
    /// Left column of the bounding box.
    #[rhai_fn(name = "left", pure)]
    pub fn obj_left(o: &mut Obj) -> INT {
        o.left()
    }
    /// Bottom row of the bounding box.
    #[rhai_fn(name = "bottom", pure)]
    pub fn obj_bottom(o: &mut Obj) -> INT {
        o.bottom()
    }
    /// Right column of the bounding box.
    #[rhai_fn(name = "right", pure)]
    pub fn obj_right(o: &mut Obj) -> INT {
        o.right()
    }
    /// Bounding-box height.
    #[rhai_fn(name = "height", pure)]
    pub fn obj_height(o: &mut Obj) -> INT {
        o.height()
    }
    /// Bounding-box width.
    #[rhai_fn(name = "width", pure)]
    pub fn obj_width(o: &mut Obj) -> INT {
        o.width()
    }
    /// Cell positions [r, c] in reading order.
    #[rhai_fn(name = "cells", pure)]
    pub fn obj_cells(o: &mut Obj) -> Array {
        o.cells().iter().map(|&(r, c, _)| Dynamic::from(ints(vec![r, c]))).collect()
    }
    /// Whether the object has a cell at (r, c).
    #[rhai_fn(name = "contains", pure)]
    pub fn obj_contains(o: &mut Obj, r: INT, c: INT) -> bool {
        o.contains(r, c)
    }
    /// The object moved by (dr, dc).
    #[rhai_fn(name = "shift", pure)]
    pub fn obj_shift(o: &mut Obj, dr: INT, dc: INT) -> Obj {
        o.shifted(dr, dc)
    }
    /// The object with every cell in colour `c`.
    #[rhai_fn(name = "recolor", pure, return_raw)]
    pub fn obj_recolor(o: &mut Obj, c: INT) -> Res<Obj> {
        Ok(o.recoloured(c)?)
    }
    /// The object moved so its bounding box starts at (0, 0).
    #[rhai_fn(name = "normalize", pure)]
    pub fn obj_normalize(o: &mut Obj) -> Obj {
        o.normalized()
    }
    /// Same cells up to translation (colours ignored).
    #[rhai_fn(name = "same_shape", pure)]
    pub fn obj_same_shape(o: &mut Obj, other: Obj) -> bool {
        o.same_shape(&other)
    }
    /// Whether the object fills its bounding box.
    #[rhai_fn(name = "is_rect", pure)]
    pub fn obj_is_rect(o: &mut Obj) -> bool {
        o.is_rect()
    }
    /// How many areas of other cells the object encloses (holes that do not reach its bounding box's edge).
    #[rhai_fn(name = "holes", pure)]
    pub fn obj_holes(o: &mut Obj) -> INT {
        o.holes() as INT
    }
    /// The object on a grid of its bounding box, other cells 0.
    #[rhai_fn(name = "to_grid", pure, return_raw)]
    pub fn obj_to_grid(o: &mut Obj) -> Res<Grid> {
        Ok(o.to_grid(0)?)
    }
    /// The object on a grid of its bounding box, other cells colour `bg`.
    #[rhai_fn(name = "to_grid", pure, return_raw)]
    pub fn obj_to_grid_bg(o: &mut Obj, bg: INT) -> Res<Grid> {
        Ok(o.to_grid(bg)?)
    }
    #[rhai_fn(name = "==", pure)]
    pub fn obj_eq(a: &mut Obj, b: Obj) -> bool {
        *a == b
    }

    // ---------------- Painting ----------------

    /// Fill the h x w rectangle at (r, c) with colour `v` (clipped).
    #[rhai_fn(pure, return_raw)]
    pub fn fill_rect(g: &mut Grid, r: INT, c: INT, h: INT, w: INT, v: INT) -> Res<Grid> {
        Ok(ops::fill_rect(g, r, c, h, w, v)?)
    }
    /// Background areas (4-connected) touching colour `c` painted `c`.
    #[rhai_fn(pure, return_raw)]
    pub fn flood_from(g: &mut Grid, c: INT) -> Res<Grid> {
        Ok(ops::flood_from(g, c)?)
    }
    /// The colours of concentric rings (by steps from the nearest edge, each ring one colour), outside in, `"reverse"`d or moved `"inward"` by one.
    #[rhai_fn(pure, return_raw)]
    pub fn ring_colours(g: &mut Grid, how: &str) -> Res<Grid> {
        Ok(ops::ring_colours(g, how)?)
    }
    /// Each colour's bounding box filled with it, over the background.
    #[rhai_fn(pure)]
    pub fn hull(g: &mut Grid) -> Grid {
        ops::hull(g)
    }
    /// Recolour the same-colour 4-connected region containing (r, c).
    #[rhai_fn(pure, return_raw)]
    pub fn flood_fill(g: &mut Grid, r: INT, c: INT, v: INT) -> Res<Grid> {
        Ok(ops::flood_fill(g, r, c, v)?)
    }
    /// Background cells not 4-connected to the border through background become `v`.
    #[rhai_fn(pure, return_raw)]
    pub fn fill_enclosed(g: &mut Grid, v: INT) -> Res<Grid> {
        Ok(ops::fill_enclosed(g, ops::background(g), v)?)
    }
    /// Straight or diagonal segment from (r1, c1) to (r2, c2) in colour `v`.
    #[rhai_fn(pure, return_raw)]
    pub fn line(g: &mut Grid, r1: INT, c1: INT, r2: INT, c2: INT, v: INT) -> Res<Grid> {
        Ok(ops::line(g, r1, c1, r2, c2, v)?)
    }
    /// Paint from next to (r, c) in step (dr, dc) up to the edge.
    #[rhai_fn(pure, return_raw)]
    pub fn ray(g: &mut Grid, r: INT, c: INT, dr: INT, dc: INT, v: INT) -> Res<Grid> {
        Ok(ops::ray(g, r, c, dr, dc, v, None)?)
    }
    /// Like `ray` but stops before the first non-background cell.
    #[rhai_fn(pure, return_raw)]
    pub fn ray_until(g: &mut Grid, r: INT, c: INT, dr: INT, dc: INT, v: INT) -> Res<Grid> {
        let bg = ops::background(g);
        Ok(ops::ray(g, r, c, dr, dc, v, Some(bg))?)
    }
    /// Path of colour `v` from the lone cell of colour `a` along its row, then along the column of the lone cell of `b` to it (background only).
    #[rhai_fn(pure, return_raw)]
    pub fn elbow(g: &mut Grid, a: INT, b: INT, v: INT) -> Res<Grid> {
        Ok(ops::elbow(g, a, b, v)?)
    }
    /// Join each two nearest cells of one colour in a row ("h"), column ("v"), both ("hv"), a diagonal ("diagonal") or any ("all"): the background between them becomes `v` (-1: their colour).
    #[rhai_fn(pure, return_raw)]
    pub fn connect(g: &mut Grid, dirs: &str, v: INT) -> Res<Grid> {
        Ok(ops::connect(g, dirs, v)?)
    }
    /// Every non-background cell paints its colour over the background towards `dirs` ("h", "v", "orthogonal", "diagonal" or "all") up to the first non-background cell or the edge.
    #[rhai_fn(pure, return_raw)]
    pub fn rays(g: &mut Grid, dirs: &str) -> Res<Grid> {
        Ok(ops::rays(g, dirs)?)
    }
    /// The free ends of lines continued: a cell with exactly one drawn neighbour (of eight) paints its colour away from it over the background, up to the next drawn cell or the edge.
    #[rhai_fn(pure)]
    pub fn extend_ends(g: &mut Grid) -> Grid {
        ops::extend_ends(g)
    }
    /// Cells whose four neighbours all have their colour (a shape's inside) become `v` (-1: the background).
    #[rhai_fn(pure, return_raw)]
    pub fn hollow(g: &mut Grid, v: INT) -> Res<Grid> {
        Ok(ops::hollow(g, v)?)
    }
    /// Only cells in some k x k block of one non-background colour stay; the rest become the background (noise around solid shapes removed).
    #[rhai_fn(pure, return_raw)]
    pub fn keep_solid(g: &mut Grid, k: INT) -> Res<Grid> {
        Ok(ops::keep_solid(g, k)?)
    }
    /// Each cell of colour `c` (`by` "cells"), or each 4-connected area of it ("objects"), takes the colour of the nearest cell that is neither `c` nor the background, counted in steps along rows and columns; an error where two colours are equally near, e.g. `g.recolor_nearest(5, "objects")` paints each grey shape like the marker closest to it.
    #[rhai_fn(pure, return_raw)]
    pub fn recolor_nearest(g: &mut Grid, c: INT, by: &str) -> Res<Grid> {
        Ok(ops::recolor_nearest(g, c, by)?)
    }
    /// Every cell that is neither the background nor colour `c` draws a line of its colour over the background to the first cell along its row or column, in each direction where that cell has colour `c`, e.g. `g.rays_to(g.objects().largest().color())` joins loose cells to the big shape they line up with.
    #[rhai_fn(pure, return_raw)]
    pub fn rays_to(g: &mut Grid, c: INT) -> Res<Grid> {
        Ok(ops::rays_to(g, c)?)
    }
    /// The background cells of each part between separator lines (as `split_by_lines` cuts) take the colour `fills` gives its place, keyed "row,column" with places "first", "middle" (of an odd number), "last" or "other"; parts not named stay, e.g. `g.fill_parts(#{"first,first": 1, "middle,middle": 2, "last,last": 3})`.
    #[rhai_fn(pure, return_raw)]
    pub fn fill_parts(g: &mut Grid, fills: rhai::Map) -> Res<Grid> {
        let mut table: ops::PartFills = [[None; 4]; 4];
        let place = |name: &str| ops::PLACES.iter().position(|&p| p == name);
        for (k, v) in fills {
            let (r, c) =
                k.split_once(',').and_then(|(r, c)| Some((place(r.trim())?, place(c.trim())?))).ok_or_else(|| {
                    format!("fill_parts: keys must be \"row,column\" of first, middle, last or other, not {k:?}")
                })?;
            table[r][c] = Some(ops::colour(int_of(&v, "fill_parts: a colour")?)?);
        }
        Ok(ops::fill_parts(g, &table)?)
    }
    /// The part between separator lines (as `split_by_lines` cuts, all of one size) with the most non-background cells (ties: the first) repeated into the background of every other part, in its own colours (`"own"`) or the lines' colour (`"lines"`), e.g. `g.repeat_part("own")` copies the one drawn cell of a layout into the empty ones.
    #[rhai_fn(pure, return_raw)]
    pub fn repeat_part(g: &mut Grid, paint: &str) -> Res<Grid> {
        Ok(ops::repeat_part(g, paint)?)
    }
    /// Background areas (4-connected) by size: the largest become `largest`, the smallest `smallest`, the rest `other` (-1: unchanged); an error where all are the same size and the two colours differ.
    #[rhai_fn(pure, return_raw)]
    pub fn fill_regions(g: &mut Grid, largest: INT, smallest: INT, other: INT) -> Res<Grid> {
        Ok(ops::fill_regions(g, largest, smallest, other)?)
    }
    /// Around every cell of a colour in `patterns`, background cells of the 3x3 block take the pattern's colours (-1: unchanged; the centre is ignored), all at once, e.g. `g.stamp(#{"2": [[4, -1, 4], [-1, -1, -1], [4, -1, 4]]})` marks the corners around red cells yellow.
    #[rhai_fn(pure, return_raw)]
    pub fn stamp(g: &mut Grid, patterns: rhai::Map) -> Res<Grid> {
        const SHAPE: &str = "stamp: each pattern must be a 3x3 array of arrays";
        let three = |d: Dynamic| d.try_cast::<Array>().filter(|a| a.len() == 3).ok_or(SHAPE);
        let mut stamps: ops::Stamps = [[None; 9]; crate::grid::COLOURS];
        for (k, v) in patterns {
            let c = k.parse::<i64>().map_err(|_| format!("stamp: keys must be colours, got {k:?}"))?;
            let mut pattern = [None; 9];
            for (i, row) in three(v)?.into_iter().enumerate() {
                for (j, d) in three(row)?.iter().enumerate() {
                    let v = int_of(d, "stamp: pattern")?;
                    pattern[i * 3 + j] = if v == -1 { None } else { Some(ops::colour(v)?) };
                }
            }
            stamps[ops::colour(c)? as usize] = pattern;
        }
        Ok(ops::stamp(g, &stamps))
    }
    /// Each object (8-connected, any colours) without colour `c` slides straight toward the cells of colour `c`, the shortest way, and stops next to them.
    #[rhai_fn(pure, return_raw)]
    pub fn attract(g: &mut Grid, c: INT) -> Res<Grid> {
        Ok(objects::attract(g, c, false)?)
    }
    /// As `attract(c)`, along the ways `ways` names: "orthogonal" (the four) or "all" (the eight, diagonals too), e.g. `g.attract(2, "all")` pulls loose cells to a block, corner to corner where the diagonal is shorter.
    #[rhai_fn(name = "attract", pure, return_raw)]
    pub fn attract_along(g: &mut Grid, c: INT, ways: &str) -> Res<Grid> {
        let diagonal = match ways {
            "orthogonal" => false,
            "all" => true,
            _ => return Err(format!("attract: ways must be \"orthogonal\" or \"all\", not {ways:?}").into()),
        };
        Ok(objects::attract(g, c, diagonal)?)
    }
    /// Objects of the other colours moved so their centre lines up with colour `c`'s: `along` "centre", "rows" (up/down only) or "cols" (sideways only).
    #[rhai_fn(pure, return_raw)]
    pub fn align_to(g: &mut Grid, c: INT, along: &str) -> Res<Grid> {
        Ok(objects::align_to(g, c, along)?)
    }
    /// Every object (one colour) slid straight to the largest object of its own colour until it touches; objects that cannot, or whose colour has no largest object, are erased.
    #[rhai_fn(pure, return_raw)]
    pub fn attract_own(g: &mut Grid) -> Res<Grid> {
        Ok(objects::attract_own(g)?)
    }
    /// The largest object (8-connected, any colours) not all of colour `m` copied, centred, onto each object of colour `m` (marker cells, or placeholders of its size), the markers cleared first.
    #[rhai_fn(pure, return_raw)]
    pub fn copy_to(g: &mut Grid, m: INT) -> Res<Grid> {
        Ok(objects::copy_to(g, m)?)
    }
    /// Partial copies of the template (the object with the most colours, then cells) completed, turned, flipped or scaled as they lie.
    #[rhai_fn(pure, return_raw)]
    pub fn complete_copies(g: &mut Grid) -> Res<Grid> {
        Ok(objects::complete_copies(g)?)
    }
    /// Each object (8-connected) of colour `m` mirrored across the nearest of the rows, or columns, where the other colours have the most cells (a frame's bars), e.g. `g.mirror_across(5)` turns grey marks outside a bracket to the inside.
    #[rhai_fn(pure, return_raw)]
    pub fn mirror_across(g: &mut Grid, m: INT) -> Res<Grid> {
        Ok(objects::mirror_across(g, m)?)
    }
    /// Non-background cells mirrored left-right, top-bottom and both ways around the centre of colour `c`'s cells (background only), e.g. `g.mirror_around(g.symmetric_colour())`.
    #[rhai_fn(pure, return_raw)]
    pub fn mirror_around(g: &mut Grid, c: INT) -> Res<Grid> {
        Ok(objects::mirror_around(g, c)?)
    }
    /// The colour (not the background) whose cells are symmetric both ways; the fewest cells wins; -1 if none.
    #[rhai_fn(pure)]
    pub fn symmetric_colour(g: &mut Grid) -> INT {
        objects::symmetric_colour(g)
    }
    /// Copy `sub` onto the grid with its top-left at (r, c) (clipped).
    #[rhai_fn(pure)]
    pub fn paste(g: &mut Grid, sub: Grid, r: INT, c: INT) -> Grid {
        ops::paste(g, &sub, r, c, None)
    }
    /// Copy `sub` at (r, c), skipping its cells of colour `transparent`.
    #[rhai_fn(name = "paste", pure, return_raw)]
    pub fn paste_transparent(g: &mut Grid, sub: Grid, r: INT, c: INT, transparent: INT) -> Res<Grid> {
        Ok(ops::paste(g, &sub, r, c, Some(ops::colour(transparent)?)))
    }
    /// Same-shape `top` laid over the grid; its 0 cells are transparent.
    #[rhai_fn(pure, return_raw)]
    pub fn overlay(g: &mut Grid, top: Grid) -> Res<Grid> {
        Ok(ops::overlay(g, &top, 0)?)
    }
    /// Same-shape `top` laid over the grid; its cells of colour `transparent` are skipped.
    #[rhai_fn(name = "overlay", pure, return_raw)]
    pub fn overlay_transparent(g: &mut Grid, top: Grid, transparent: INT) -> Res<Grid> {
        Ok(ops::overlay(g, &top, transparent)?)
    }
    /// The grid's shape in the colours of same-shape `src`: cells other than the background take `src`'s colours.
    #[rhai_fn(pure, return_raw)]
    pub fn recolor_from(g: &mut Grid, src: Grid) -> Res<Grid> {
        Ok(ops::recolor_from(g, &src)?)
    }
    /// Non-background cells fall towards "up", "down", "left" or "right".
    #[rhai_fn(pure, return_raw)]
    pub fn gravity(g: &mut Grid, dir: &str) -> Res<Grid> {
        let bg = ops::background(g);
        Ok(ops::gravity(g, dir, bg)?)
    }

    // ---------------- Masks (0/1 grids; non-zero counts as set) ----------------

    /// 1 where the cell has colour `c`, else 0.
    #[rhai_fn(pure)]
    pub fn mask(g: &mut Grid, c: INT) -> Grid {
        ops::mask(g, c)
    }
    /// Cell-wise AND of two same-shape masks.
    #[rhai_fn(name = "and", pure, return_raw)]
    pub fn mask_and(a: &mut Grid, b: Grid) -> Res<Grid> {
        Ok(ops::mask_op(a, &b, "and", |x, y| x && y)?)
    }
    /// Cell-wise OR of two same-shape masks.
    #[rhai_fn(name = "or", pure, return_raw)]
    pub fn mask_or(a: &mut Grid, b: Grid) -> Res<Grid> {
        Ok(ops::mask_op(a, &b, "or", |x, y| x || y)?)
    }
    /// Cell-wise XOR of two same-shape masks.
    #[rhai_fn(name = "xor", pure, return_raw)]
    pub fn mask_xor(a: &mut Grid, b: Grid) -> Res<Grid> {
        Ok(ops::mask_op(a, &b, "xor", |x, y| x != y)?)
    }
    /// 1 where the cell is 0, else 0.
    #[rhai_fn(pure)]
    pub fn invert(a: &mut Grid) -> Grid {
        ops::invert(a)
    }
    /// Set colour `v` wherever the same-shape mask `m` is non-zero.
    #[rhai_fn(pure, return_raw)]
    pub fn select(g: &mut Grid, m: Grid, v: INT) -> Res<Grid> {
        Ok(ops::select(g, &m, v)?)
    }

    // ---------------- Patterns ----------------

    /// Whether the grid equals its left-right mirror.
    #[rhai_fn(pure)]
    pub fn is_symmetric_h(g: &mut Grid) -> bool {
        ops::is_symmetric_h(g)
    }
    /// Whether the grid equals its top-bottom mirror.
    #[rhai_fn(pure)]
    pub fn is_symmetric_v(g: &mut Grid) -> bool {
        ops::is_symmetric_v(g)
    }
    /// The colour whose cells fill a rectangle (the most cells where several do), or -1: what masks part of a picture.
    #[rhai_fn(pure)]
    pub fn mask_colour(g: &mut Grid) -> INT {
        ops::mask_colour(g)
    }
    /// Fill cells of colour `unknown` from mirror images under the symmetries the rest obeys.
    #[rhai_fn(pure, return_raw)]
    pub fn complete_symmetry(g: &mut Grid, unknown: INT) -> Res<Grid> {
        Ok(ops::complete_symmetry(g, unknown)?)
    }
    /// Fill cells of colour `unknown` by the smallest 2-D repeating tile (or diagonal repeat) the rest agrees with.
    #[rhai_fn(pure, return_raw)]
    pub fn complete_pattern(g: &mut Grid, unknown: INT) -> Res<Grid> {
        Ok(ops::complete_pattern(g, unknown)?)
    }
    /// The rows (`axis` "rows") or columns ("cols") holding the drawing repeated over the grid, as a whole (`unit` "band") or by their smallest period ("period").
    #[rhai_fn(pure, return_raw)]
    pub fn repeat_band(g: &mut Grid, axis: &str, unit: &str) -> Res<Grid> {
        Ok(ops::repeat_band(g, axis, unit)?)
    }
    /// Smallest vertical repeat period of the rows.
    #[rhai_fn(pure)]
    pub fn period_rows(g: &mut Grid) -> INT {
        ops::period_rows(g, -1)
    }
    /// Smallest horizontal repeat period of the columns.
    #[rhai_fn(pure)]
    pub fn period_cols(g: &mut Grid) -> INT {
        ops::period_cols(g, -1)
    }

    /// The key of cell (r, c) for `rewrite`: its colour and the comma-separated `features` of it, e.g. `g.cell_key(0, 1, "n,ray_e")` is "2,x,5" for a red cell in the top row whose first coloured cell to the right is grey; "" outside. Features: n ne e se s sw w nw (neighbour colours), ray_n .. ray_nw (first non-background colour that way), row, col, sides, corners, around (non-background colours in its row, column, edge/diagonal/all neighbours), size, touches, rect (of its same-colour region: cells, touches the border, fills its box), count8, count4 (non-background neighbours), border, enclosed, between_h, between_v (same colour seen both ways), row_mod2, col_mod2, row_mod3, col_mod3, row_mod2_up, col_mod2_left (counted from the bottom/right); x = outside or none.
    #[rhai_fn(pure, return_raw)]
    pub fn cell_key(g: &mut Grid, r: INT, c: INT, features: &str) -> Res<String> {
        Ok(rules::cell_key(g, r, c, &rules::Feature::parse_list(features)?).unwrap_or_default())
    }
    /// Each cell whose `cell_key(r, c, features)` is in `table` takes that colour, all cells at once, e.g. `g.rewrite("n", #{"0,1": 2})` turns black cells below blue ones red.
    #[rhai_fn(pure, return_raw)]
    pub fn rewrite(g: &mut Grid, features: &str, table: rhai::Map) -> Res<Grid> {
        let features = rules::Feature::parse_list(features)?;
        let pairs: Res<Vec<(String, i64)>> =
            table.into_iter().map(|(k, v)| Ok((k.to_string(), int_of(&v, "rewrite: table value")?))).collect();
        Ok(rules::rewrite(g, &features, &rules::table_from(pairs?)?))
    }
    /// Each cell whose `cell_key(r, c, features)` is in the array `keys` takes the colour of its `source` feature (a neighbour or ray) when it has one, e.g. `g.copy_color("ray_n", "", ["0"])` extends colours downwards.
    #[rhai_fn(pure, return_raw)]
    pub fn copy_color(g: &mut Grid, source: &str, features: &str, keys: Array) -> Res<Grid> {
        let source = match rules::Feature::parse_list(source)?.as_slice() {
            [one] => *one,
            _ => return Err(format!("copy_color: source must be one feature, got {source:?}").into()),
        };
        let features = rules::Feature::parse_list(features)?;
        let keys: Res<std::collections::HashSet<String>> = keys
            .into_iter()
            .map(|k| k.into_string().map_err(|t| format!("copy_color: keys must be strings, got {t}").into()))
            .collect();
        Ok(rules::copy_colour(g, source, &features, &keys?)?)
    }
    /// A new rows x cols grid with colour `f(r, c)` at each cell, e.g. `grid_fn(3, 3, |r, c| (r + c) % 2)`.
    #[rhai_fn(return_raw)]
    pub fn grid_fn(ctx: NativeCallContext, rows: INT, cols: INT, f: FnPtr) -> Res<Grid> {
        let (h, w) = ops::shape(rows, cols)?;
        let mut cells = Vec::with_capacity(h * w);
        for r in 0..h {
            for c in 0..w {
                let v: Dynamic = f.call_within_context(&ctx, (r as INT, c as INT))?;
                cells.push(ops::colour(int_of(&v, "grid_fn: f(r, c)")?)?);
            }
        }
        Ok(Grid::from_cells(h, w, cells).map_err(|e| e.to_string())?)
    }
    /// A new grid with `f(colour)` applied to every cell.
    #[rhai_fn(pure, return_raw)]
    pub fn map_cells(ctx: NativeCallContext, g: &mut Grid, f: FnPtr) -> Res<Grid> {
        let mut out = g.clone();
        for v in out.cells_mut() {
            let new: Dynamic = f.call_within_context(&ctx, (*v as INT,))?;
            *v = ops::colour(int_of(&new, "map_cells: f(colour)")?)?;
        }
        Ok(out)
    }

    // ---------------- Arrays ----------------

    /// The element with the largest `f(x)` (first on ties), e.g. `objs.max_by(|o| o.size())`.
    #[rhai_fn(pure, return_raw)]
    pub fn max_by(ctx: NativeCallContext, arr: &mut Array, f: FnPtr) -> Res<Dynamic> {
        arg_best(&ctx, arr, &f, |a, b| a > b)
    }
    /// The element with the smallest `f(x)` (first on ties).
    #[rhai_fn(pure, return_raw)]
    pub fn min_by(ctx: NativeCallContext, arr: &mut Array, f: FnPtr) -> Res<Dynamic> {
        arg_best(&ctx, arr, &f, |a, b| a < b)
    }
    /// Number of elements (Rust's `.count()` of an iterator).
    #[rhai_fn(name = "count", pure)]
    pub fn count_all(arr: &mut Array) -> INT {
        arr.len() as INT
    }
    /// Number of elements equal to colour `v`, e.g. `g.row(0).count(0)`.
    #[rhai_fn(name = "count", pure)]
    pub fn count_in(arr: &mut Array, v: INT) -> INT {
        arr.iter().filter(|d| d.as_int() == Ok(v)).count() as INT
    }
    /// Number of elements of each colour: 10 counts indexed by colour, e.g. `g.row(0).counts()[5]`.
    /// (As `g.counts()` for a grid; other elements are not counted.)
    #[rhai_fn(name = "counts", pure)]
    pub fn counts_in(arr: &mut Array) -> Array {
        let mut n = [0 as INT; 10];
        for c in arr.iter().filter_map(|d| d.as_int().ok()).filter(|c| (0..10).contains(c)) {
            n[c as usize] += 1;
        }
        n.into_iter().map(Dynamic::from).collect()
    }
    /// The most frequent element (first seen on ties), e.g. of colours or grids.
    #[rhai_fn(pure, return_raw)]
    pub fn most_frequent(ctx: NativeCallContext, arr: &mut Array) -> Res<Dynamic> {
        if arr.len() > 1000 {
            return Err(format!("most_frequent: {} elements is more than the 1000 it counts", arr.len()).into());
        }
        let mut best: Option<(usize, usize)> = None;
        for i in 0..arr.len() {
            let mut n = 0;
            for j in 0..arr.len() {
                let eq: bool = ctx.call_native_fn("==", (arr[i].clone(), arr[j].clone()))?;
                n += eq as usize;
            }
            if best.is_none_or(|(_, m)| n > m) {
                best = Some((i, n));
            }
        }
        best.map(|(i, _)| arr[i].clone()).ok_or_else(|| "most_frequent: empty array".into())
    }
}

fn arg_best(ctx: &NativeCallContext, arr: &Array, f: &FnPtr, better: fn(f64, f64) -> bool) -> Res<Dynamic> {
    let mut best: Option<(usize, f64)> = None;
    for (i, x) in arr.iter().enumerate() {
        let key: Dynamic = f.call_within_context(ctx, (x.clone(),))?;
        let k = match (key.as_int(), key.as_float()) {
            (Ok(n), _) => n as f64,
            (_, Ok(v)) => v,
            _ => match key.as_bool() {
                Ok(b) => b as i64 as f64,
                Err(t) => return Err(format!("max_by/min_by: the key must be a number, got {t}").into()),
            },
        };
        if best.is_none_or(|(_, b)| better(k, b)) {
            best = Some((i, k));
        }
    }
    best.map(|(i, _)| arr[i].clone()).ok_or_else(|| "max_by/min_by: empty array".into())
}
