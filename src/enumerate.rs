//! Model-free program search: breadth-first enumeration of compositions of DSL
//! transforms (grid -> grid), with parameters drawn from the task.
//!
//! Candidates are evaluated by calling the Rust primitives directly on the training
//! inputs. A candidate whose training outputs equal an earlier candidate's is pruned
//! (the trick that let icecuber's ARC 2020 winner reach depth 4). Every solution is
//! rendered as an ordinary Rhai program; the caller re-verifies it in the sandbox.
//!
//! **Invariant:** only training pairs guide the search; test outputs are never read.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::dsl::objects::{self, ObjectOptions};
use crate::dsl::ops;
use crate::dsl::rules::{self, Rule};
use crate::grid::Grid;
use crate::task::{Example, Task, TestPair};

/// Which way a grid is cut into equal parts (`split_cols` or `split_rows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    Cols,
    Rows,
}

impl Split {
    /// The `n` parts, as the DSL method cuts them.
    fn cut(self, g: &Grid, n: i64) -> Option<Vec<Grid>> {
        match self {
            Split::Cols => ops::split_cols(g, n).ok(),
            Split::Rows => ops::split_rows(g, n).ok(),
        }
    }

    /// The DSL method's name.
    fn method(self) -> &'static str {
        match self {
            Split::Cols => "split_cols",
            Split::Rows => "split_rows",
        }
    }
}

/// The index of the first element with the highest (`most`) or lowest key: what the
/// DSL's `max_by` / `min_by` pick.
fn first_best<T>(items: &[T], most: bool, key: impl Fn(&T) -> i64) -> Option<usize> {
    let mut best: Option<(usize, i64)> = None;
    for (i, x) in items.iter().enumerate() {
        let k = key(x);
        if best.is_none_or(|(_, b)| if most { k > b } else { k < b }) {
            best = Some((i, k));
        }
    }
    best.map(|(i, _)| i)
}

/// Cell-wise logic for combining two masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Logic {
    And,
    Or,
    Xor,
    /// Neither: `a.or(b).invert()`.
    Nor,
}

/// Where a fixed-size window is cut from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Corner {
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
    Centre,
}

/// Which blocks of a fractal get a copy of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FractalBlocks {
    /// Where the grid's cell is not 0.
    NonZero,
    /// Where the grid's cell is 0.
    Zero,
    /// Where the grid's cell has its most common colour.
    MostCommon,
    /// Where the grid's cell has this colour.
    Colour(i64),
}

/// How a grid is cut into parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Parts {
    /// `split_by_lines`: the cells between separator lines.
    Lines,
    /// `split_by_gaps`: the cells between empty rows and columns.
    Gaps,
    /// `split_cols(n)` / `split_rows(n)`.
    Split(Split, i64),
}

/// Which same-shape parts of the grid [`Op::OverlayParts`] lays on one another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layers {
    /// `split_by_lines`.
    Lines,
    /// `corners(h, w)`: the four h x w corner windows.
    Corners(i64, i64),
}

impl Layers {
    fn cut(self, g: &Grid) -> Option<Vec<Grid>> {
        match self {
            Layers::Lines => Some(ops::split_by_lines(g)),
            Layers::Corners(h, w) => ops::corners(g, h, w).ok(),
        }
    }

    fn rhai(self) -> String {
        match self {
            Layers::Lines => "g.split_by_lines()".into(),
            Layers::Corners(h, w) => format!("g.corners({h}, {w})"),
        }
    }
}

/// What a part is ranked by when one is picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartRank {
    /// Non-background cells.
    Filled,
    /// Colours present.
    Colours,
    /// How many parts are equal to it.
    Same,
    /// How many parts have its shape (non-background cells, colours ignored).
    SameShape,
    /// How many parts have its colours (the odd one out by colour). Serves "smaller: a
    /// part of the input".
    SameColours,
    /// 1 when it is its own mirror image (left-right, top-bottom or across the main
    /// diagonal), else 0 (the one that is not). Serves "smaller: a part of the input".
    Symmetric,
}

impl PartRank {
    /// The (rank, highest?) pairs tried.
    const ALL: [(PartRank, bool); 8] = [
        (PartRank::Filled, true),
        (PartRank::Filled, false),
        (PartRank::Colours, true),
        (PartRank::Same, false),
        (PartRank::Same, true),
        (PartRank::SameShape, false),
        (PartRank::SameColours, false),
        (PartRank::Symmetric, false),
    ];
}

fn pick_part(g: &Grid, parts: Parts, rank: PartRank, most: bool) -> Option<Grid> {
    let all = match parts {
        Parts::Lines => ops::split_by_lines(g),
        Parts::Gaps => ops::split_by_gaps(g),
        Parts::Split(s, n) => s.cut(g, n)?,
    };
    let shape = |p: &Grid| objects::Obj::from_grid(p, Some(ops::background(p)));
    let key = |p: &Grid| -> i64 {
        match rank {
            PartRank::Filled => (p.rows() * p.cols()) as i64 - ops::count(p, i64::from(ops::background(p))),
            PartRank::Colours => ops::palette(p).len() as i64,
            PartRank::Same => all.iter().filter(|q| *q == p).count() as i64,
            PartRank::SameShape => {
                let s = shape(p);
                all.iter().filter(|q| shape(q).same_shape(&s)).count() as i64
            }
            PartRank::SameColours => {
                let colours = ops::palette(p);
                all.iter().filter(|q| ops::palette(q) == colours).count() as i64
            }
            PartRank::Symmetric => (*p == ops::flip_h(p) || *p == ops::flip_v(p) || *p == ops::transpose(p)) as i64,
        }
    };
    Some(all[first_best(&all, most, key)?].clone())
}

fn pick_part_rhai(parts: Parts, rank: PartRank, most: bool) -> String {
    let cut = match parts {
        Parts::Lines => "g.split_by_lines()".to_string(),
        Parts::Gaps => "g.split_by_gaps()".to_string(),
        Parts::Split(s, n) => format!("g.{}({n})", s.method()),
    };
    let key = match rank {
        PartRank::Filled => "p.rows() * p.cols() - p.count(p.background())",
        PartRank::Colours => "p.palette().len()",
        PartRank::Same => "all.filter(|q| q == p).len()",
        PartRank::SameShape => "all.filter(|q| q.as_object().same_shape(p.as_object())).len()",
        PartRank::SameColours => "all.filter(|q| q.palette() == p.palette()).len()",
        PartRank::Symmetric => "if p == p.flip_h() || p == p.flip_v() || p == p.transpose() { 1 } else { 0 }",
    };
    let best = if most { "max_by" } else { "min_by" };
    format!("{{ let parts = {cut}; let all = parts; parts.{best}(|p| {key}) }}")
}

/// What an object is ranked by when one is picked out of a grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rank {
    Size,
    /// Bounding-box area.
    Area,
    /// Number of colours in it.
    Colours,
    /// Cells not of its most common colour (the marks on a multicolour object).
    Minority,
    Top,
    Left,
    /// How many objects share its colour.
    SameColour,
    /// How many objects share its shape.
    SameShape,
}

impl Rank {
    /// The (rank, highest?) pairs tried.
    const ALL: [(Rank, bool); 13] = [
        (Rank::Size, true),
        (Rank::Size, false),
        (Rank::Area, true),
        (Rank::Area, false),
        (Rank::Colours, true),
        (Rank::Minority, true),
        (Rank::Top, true),
        (Rank::Top, false),
        (Rank::Left, true),
        (Rank::Left, false),
        (Rank::SameColour, false),
        (Rank::SameShape, true),
        (Rank::SameShape, false),
    ];
}

/// Whether every training output could be one of `n` equal parts of its input cut
/// along `s` (`split_cols`/`split_rows` allow a one-cell separator between parts).
fn parts_fit(task: &Task, s: Split, n: i64) -> bool {
    task.train.iter().all(|e| {
        let (across, along) = match s {
            Split::Cols => ((e.input.rows(), e.output.rows()), (e.input.cols() as i64, e.output.cols() as i64)),
            Split::Rows => ((e.input.cols(), e.output.cols()), (e.input.rows() as i64, e.output.rows() as i64)),
        };
        let (input, part) = along;
        across.0 == across.1 && n * part <= input && input < n * part + n
    })
}

/// Which object to pick and what to make of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pick {
    pub diagonal: bool,
    pub multicolour: bool,
    pub rank: Rank,
    /// The highest rank (first on ties), else the lowest.
    pub most: bool,
    /// The grid under its bounding box, else the object alone on 0.
    pub crop: bool,
}

/// The objects of `g` (the background its guess), remembered for the last grids each
/// thread cut: the pick transforms run one after another on the same grids (each
/// candidate's output for every pair), and cutting a grid into objects is most of what
/// a pick costs.
fn recent_objects(g: &Grid, diagonal: bool, multicolour: bool) -> Rc<Vec<objects::Obj>> {
    type Cut = (Grid, bool, bool, Rc<Vec<objects::Obj>>);
    thread_local! {
        static RECENT: RefCell<VecDeque<Cut>> = const { RefCell::new(VecDeque::new()) };
    }
    RECENT.with_borrow_mut(|recent| {
        if let Some((.., objs)) = recent.iter().find(|(h, d, m, _)| (*d, *m) == (diagonal, multicolour) && h == g) {
            return objs.clone();
        }
        let opt = ObjectOptions { diagonal, multicolour, background: Some(ops::background(g)) };
        let objs = Rc::new(objects::objects(g, opt));
        // More than the training pairs of a task, so that a run of picks over every
        // pair's grid finds each one.
        if recent.len() == 16 {
            recent.pop_back();
        }
        recent.push_front((g.clone(), diagonal, multicolour, objs.clone()));
        objs
    })
}

impl Pick {
    /// Each object's rank key, in the order of `objs`.
    fn keys(&self, objs: &[objects::Obj]) -> Vec<i64> {
        let each = |key: fn(&objects::Obj) -> i64| objs.iter().map(key).collect();
        match self.rank {
            Rank::Size => each(|o| o.size()),
            Rank::Area => each(|o| o.height() * o.width()),
            Rank::Colours => each(|o| o.colours().len() as i64),
            Rank::Minority => each(|o| o.size() - o.count(o.colour())),
            Rank::Top => each(|o| o.top()),
            Rank::Left => each(|o| o.left()),
            Rank::SameColour => {
                objs.iter().map(|o| objs.iter().filter(|p| p.colour() == o.colour()).count() as i64).collect()
            }
            // How many objects share each one's shape, counted once per shape rather
            // than by comparing every pair (noisy grids have hundreds of objects).
            Rank::SameShape => {
                let shape = |o: &objects::Obj| -> Vec<(i64, i64)> {
                    let (t, l) = (o.top(), o.left());
                    o.cells().iter().map(|&(r, c, _)| (r - t, c - l)).collect()
                };
                let shapes: Vec<Vec<(i64, i64)>> = objs.iter().map(shape).collect();
                let mut counts: HashMap<&[(i64, i64)], i64> = HashMap::new();
                shapes.iter().for_each(|s| *counts.entry(s).or_default() += 1);
                shapes.iter().map(|s| counts[s.as_slice()]).collect()
            }
        }
    }

    fn apply(&self, g: &Grid) -> Option<Grid> {
        let objs = recent_objects(g, self.diagonal, self.multicolour);
        let keys = self.keys(&objs);
        let o = &objs[first_best(&keys, self.most, |&k| k)?];
        if self.crop {
            objects::crop_to(g, o).ok()
        } else {
            o.to_grid(0).ok()
        }
    }

    fn rhai(&self) -> String {
        let key = match self.rank {
            Rank::Size => "o.size()",
            Rank::Area => "o.height() * o.width()",
            Rank::Colours => "o.colors().len()",
            Rank::Minority => "o.size() - o.count(o.color())",
            Rank::Top => "o.top()",
            Rank::Left => "o.left()",
            Rank::SameColour => "all.filter(|p| p.color() == o.color()).len()",
            Rank::SameShape => "all.filter(|p| p.same_shape(o)).len()",
        };
        let all = if matches!(self.rank, Rank::SameColour | Rank::SameShape) { " let all = objs;" } else { "" };
        let best = if self.most { "max_by" } else { "min_by" };
        let pick = format!("objs.{best}(|o| {key})");
        let out = if self.crop { format!("g.crop_to({pick})") } else { format!("{pick}.to_grid()") };
        format!(
            "{{ let objs = g.objects(#{{diagonal: {}, multicolor: {}}});{all} {out} }}",
            self.diagonal, self.multicolour
        )
    }
}

/// One grid -> grid transform with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Op {
    Rotate(i64),
    FlipH,
    FlipV,
    Transpose,
    Trim,
    CropLargest,
    CropSmallest,
    LargestToGrid,
    ScaleUp(i64, i64),
    ScaleDown(i64, i64),
    Tile(i64, i64),
    /// Copies with every other row of copies, and every other column, flipped
    /// (`ops::mirror_tile`). Serves "larger: the input kept inside (extended, tiled)".
    MirrorTile(i64, i64, &'static str, &'static str),
    /// Copies each mirroring the one before, sharing their edge rows and columns
    /// (`ops::reflect_tile`). Serves "larger: the input kept inside (extended, tiled)".
    ReflectTile(i64, i64),
    MirrorH,
    MirrorV,
    Kaleidoscope,
    LeftHalf,
    RightHalf,
    TopHalf,
    BottomHalf,
    Combine(Split, Logic, i64),
    OverlayHalves(Split, bool),
    Replace(i64, i64),
    Swap(i64, i64),
    /// The two lowest colours other than the background swapped, whichever they are: a
    /// swap that does not name the pairs' colours.
    SwapColours,
    /// Each colour replaced by its rank (background 0, then by cell count), but for the
    /// colours listed, which stay. Only ever the first step of a composition found on the
    /// task with its colours ranked ([`ranked_task`]); [`program`] maps the result back
    /// to the input's colours.
    RankColours(Vec<i64>),
    Keep(i64),
    ReplaceNot(i64, i64),
    Gravity(&'static str),
    DedupRows,
    DedupCols,
    RemoveLines,
    FillEnclosed(i64),
    /// The hidden cells filled from the grid's symmetries (see [`ops::complete_symmetry`]).
    CompleteSymmetry(Hidden),
    /// What the hidden cells hide, recovered from the grid's symmetries (or, with
    /// `true`, from the pattern it repeats) and cropped to where they were. Serves
    /// "smaller: a summary or composition of parts".
    Unmask(Hidden, bool),
    /// The largest object copied onto each object of a colour, centred on it (see
    /// [`objects::copy_to`]). Serves "same shape: cells added and recoloured".
    CopyTo(i64),
    /// Objects slid to the largest object of their own colour, the others erased (see
    /// [`objects::attract_own`]). Serves "same shape: cells added, deleted and recoloured".
    AttractOwn,
    /// The colours of concentric rings reversed or moved inward (see
    /// [`ops::ring_colours`]). Serves "same shape: cells added, deleted and recoloured".
    RingColours(&'static str),
    /// Partial copies of the template (the object with the most colours) completed,
    /// turned, flipped or scaled as they lie (see [`objects::complete_copies`]). Serves
    /// "same shape, cells added: other (copies of shapes, paths)".
    CompleteCopies,
    /// Objects of a colour mirrored across the nearest bar of a frame (see
    /// [`objects::mirror_across`]). Serves "same shape: cells moved".
    MirrorAcross(i64),
    /// A figure mirrored both ways around the centre of the colour whose own cells are
    /// symmetric (see [`objects::mirror_around`]). Serves "same shape, cells added: lines
    /// and rays; other".
    MirrorAround,
    /// A path in a new colour from a cell of one colour along its row, then along the
    /// column of a cell of another (see [`ops::elbow`]). Serves "same shape, cells added:
    /// in a colour the input lacks".
    Elbow(i64, i64, i64),
    /// Each colour's bounding box filled (see [`ops::hull`]). Serves "same shape, cells
    /// added: other".
    Hull,
    /// Background areas touching a colour painted with it (see [`ops::flood_from`]).
    /// Serves "same shape, cells added: other".
    FloodFrom(i64),
    /// Objects moved to line up with a colour's centre (see [`objects::align_to`]), on
    /// both axes or along one. Serves "same shape: cells moved".
    AlignTo(i64, &'static str),
    CompletePattern(i64),
    /// The band of rows or columns holding the drawing repeated over the grid, as a whole
    /// (`true`) or by its smallest period (see [`ops::repeat_band`]). Serves "same shape,
    /// cells added: a pattern continued".
    RepeatBand(&'static str, bool),
    Shift(i64, i64),
    /// The cell between separator lines with the most non-background cells.
    FullestCell,
    /// The cell between separator lines with the fewest non-background cells.
    EmptiestCell,
    /// Crop to the cells that are not colour 0 (when 0 is not the guessed background).
    Trim0,
    /// Only the largest object, on the background.
    KeepLargest,
    /// Single-cell objects (noise) erased; with `true`, cells touching no other
    /// non-background cell, diagonals included (serves "same shape: cells deleted").
    RemoveSingles(bool),
    RecolorLargest(i64),
    RecolorSmallest(i64),
    /// Objects that enclose a hole painted one colour (see [`objects::Obj::holes`]).
    /// Serves "same shape: cells recoloured".
    RecolorHoled(i64),
    /// A colour-to-colour table learned from same-shape training pairs (`table[c]` is the
    /// new colour of `c`).
    RecolorTable([u8; 10]),
    /// The bounding box of the cells of colour `c`.
    CropColour(i64),
    /// One part of the grid picked by a ranking (highest when true).
    PickPart(Parts, PartRank, bool),
    /// The h x w window at a corner or the centre.
    CropAt(Corner, i64, i64),
    /// Part `i` of `n` equal parts (as `split_cols`/`split_rows` cut them).
    Part(Split, i64, i64),
    /// A rows^2 x cols^2 grid with a copy of the grid in the chosen blocks, 0 elsewhere.
    Fractal(FractalBlocks),
    /// The grid and its rotations arranged clockwise in a 2x2 block.
    Pinwheel,
    /// Nearest same-colour cells in a row ("h"), column ("v") or both joined by lines of
    /// a colour (-1: theirs). Serves "same shape: cells added" (benchmarks/FAILURES.md).
    Connect(&'static str, i64),
    /// Rays from every non-background cell up to the next one. Serves "same shape: cells
    /// added".
    Rays(&'static str),
    /// The free ends of lines continued to the next drawn cell or the edge (see
    /// [`ops::extend_ends`]). Serves "same shape, cells added: lines and rays".
    ExtendEnds,
    /// Each cell becomes an n x n block, n the number of colours other than the
    /// background. Serves "larger: built from the input".
    ScaleByColours,
    /// The colours other than the background, most cells first (ties: ascending), as a
    /// column (or a row), without the first when `drop_first`. Serves "smaller: a tiny
    /// answer".
    ColourList {
        column: bool,
        drop_first: bool,
    },
    /// Objects ranked by size, largest first (equal sizes share a rank), each painted the
    /// colour `table[rank]` learned from the training pairs. Serves "same shape: cells
    /// recoloured".
    RecolorBySize {
        diagonal: bool,
        table: Vec<u8>,
    },
    /// A shape's inside (cells whose four neighbours share their colour) in a colour (-1:
    /// the background). Serves "same shape: cells deleted" and "cells recoloured".
    Hollow(i64),
    /// Objects slide toward the cells of a colour until they touch them, straight or (with
    /// `true`) diagonally too. Serves "same shape: cells moved".
    Attract(i64, bool),
    /// Only cells in a k x k block of one colour stay (noise removed). Serves "same
    /// shape: cells deleted".
    KeepSolid(i64),
    /// Each part (between separator lines, or between empty rows and columns) as one
    /// cell of its colour. Serves "smaller: a summary or composition of parts".
    PartColours(&'static str),
    /// Same-shape parts laid on one another, where colours meet the one first in a
    /// priority order learned from the training pairs (see [`overlay_order`]). Serves
    /// "smaller: a summary or composition of parts".
    OverlayParts(Layers, Vec<u8>),
    /// Patterns painted around the cells of each colour, learned from the training pairs
    /// and holding out (see [`stamp_patterns`]). Serves "same shape, cells added: next to
    /// objects".
    Stamp(Box<ops::Stamps>),
    /// Each cell ("cells") or 4-connected area ("objects") of a colour takes the colour of
    /// the nearest other non-background cell; offered for the one colour the pairs change.
    /// Serves "same shape: cells recoloured".
    RecolorNearest(i64, &'static str),
    /// Lines drawn from every loose cell to the largest object's colour where the two
    /// line up (see [`ops::rays_to`]). Serves "same shape, cells added: lines and rays".
    RaysToLargest,
    /// Background areas painted by size: the largest, the smallest, the rest (-1:
    /// unchanged), learned from the pairs and holding out (see [`region_colours`]).
    /// Serves "same shape, cells added: in a colour the input lacks".
    FillRegions([i64; 3]),
    /// The background of the parts between separator lines painted by their place (first,
    /// middle, last, other row and column of parts), learned and holding out (see
    /// [`part_fills`]). Serves "same shape, cells added: in a colour the input lacks".
    FillParts(Box<ops::PartFills>),
    /// The fullest part between separator lines repeated into the background of the
    /// others, in its own colours (`"own"`) or the lines' (`"lines"`; see
    /// [`ops::repeat_part`]). Serves "same shape, cells added: a pattern continued" and
    /// "lines and rays from cells" (a layout's template drawn into every cell).
    RepeatPart(&'static str),
    /// Every cell not of the most common colour becomes `t`.
    ReplaceNotMostCommon(i64),
    /// One object picked by a ranking, cropped or on its own.
    Pick(Pick),
    /// A local rewrite rule learned from the training pairs (see [`rules`]).
    Rewrite(Arc<Rule>),
    /// Two compositions of the same grid, one laid on the other (see [`Layered`]). Found
    /// after the search ([`find_layered`]), never offered as a step.
    Layered(Arc<Layered>),
}

/// The cells a completion ([`Op::CompleteSymmetry`], [`Op::Unmask`]) fills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hidden {
    /// The cells of one colour, the same in every grid.
    Colour(i64),
    /// The cells of each grid's own mask colour (see [`ops::mask_colour`]), which may
    /// differ from grid to grid.
    Mask,
}

impl Hidden {
    fn colour(self, g: &Grid) -> i64 {
        match self {
            Hidden::Colour(u) => u,
            Hidden::Mask => ops::mask_colour(g),
        }
    }

    fn rhai(self) -> String {
        match self {
            Hidden::Colour(u) => u.to_string(),
            Hidden::Mask => "g.mask_colour()".into(),
        }
    }
}

/// Two compositions of the same grid put together ([`Op::Layered`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Layered {
    pub base: Vec<Op>,
    pub top: Vec<Op>,
    pub how: Laying,
}

/// How [`Layered`] puts its two compositions together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Laying {
    /// The top laid over the base; the top's cells of its own background are skipped.
    Over,
    /// The top's shape in the base's colours: the top's cells other than its background
    /// take the base's colours there (`top.recolor_from(base)`).
    Inside,
}

/// A composition applied to `g`.
fn run_steps(steps: &[Op], g: &Grid) -> Option<Grid> {
    steps.iter().try_fold(g.clone(), |g, op| op.apply(&g))
}

/// A composition as one Rhai expression of `g`.
fn steps_rhai(steps: &[Op]) -> String {
    if steps.is_empty() {
        return "g".into();
    }
    let lets: String = steps.iter().map(|op| format!("let g = {}; ", op.rhai())).collect();
    format!("{{ {lets}g }}")
}

fn largest_object(g: &Grid) -> Option<objects::Obj> {
    // Reversed so ties keep the first object, as the DSL's max_by does.
    recent_objects(g, false, false).iter().rev().max_by_key(|o| o.size()).cloned()
}

fn smallest_object(g: &Grid) -> Option<objects::Obj> {
    // min_by_key keeps the first on ties, like the DSL's min_by.
    recent_objects(g, false, false).iter().min_by_key(|o| o.size()).cloned()
}

fn non_background(g: &Grid) -> usize {
    let bg = ops::background(g);
    g.cells().iter().filter(|&&v| v != bg).count()
}

impl Op {
    /// Whether the transform carries a table learned from the training pairs (a local
    /// rule, a colour table, stamps, fills, a priority order).
    pub fn is_learned(&self) -> bool {
        use Op::*;
        matches!(
            self,
            Rewrite(_)
                | RecolorTable(_)
                | RecolorBySize { .. }
                | Stamp(_)
                | FillRegions(_)
                | FillParts(_)
                | OverlayParts(..)
        )
    }

    /// Applies the transform; `None` when the primitive refuses its input.
    pub fn apply(&self, g: &Grid) -> Option<Grid> {
        use Op::*;
        let halves = |s: Split| s.cut(g, 2);
        match *self {
            Rotate(k) => Some(ops::rotate(g, k)),
            FlipH => Some(ops::flip_h(g)),
            FlipV => Some(ops::flip_v(g)),
            Transpose => Some(ops::transpose(g)),
            Trim => ops::trim(g, ops::background(g) as i64).ok(),
            CropLargest => objects::crop_to(g, &largest_object(g)?).ok(),
            CropSmallest => objects::crop_to(g, &smallest_object(g)?).ok(),
            LargestToGrid => largest_object(g)?.to_grid(0).ok(),
            ScaleUp(a, b) => ops::scale_up(g, a, b).ok(),
            ScaleDown(a, b) => ops::scale_down(g, a, b).ok(),
            Tile(a, b) => ops::tile(g, a, b).ok(),
            MirrorTile(a, b, rows, cols) => ops::mirror_tile(g, a, b, rows, cols).ok(),
            ReflectTile(a, b) => ops::reflect_tile(g, a, b).ok(),
            MirrorH => ops::hcat(g, &ops::flip_h(g)).ok(),
            MirrorV => ops::vcat(g, &ops::flip_v(g)).ok(),
            Kaleidoscope => {
                let top = ops::hcat(g, &ops::flip_h(g)).ok()?;
                ops::vcat(&top, &ops::flip_v(&top)).ok()
            }
            LeftHalf => ops::left_half(g).ok(),
            RightHalf => ops::right_half(g).ok(),
            TopHalf => ops::top_half(g).ok(),
            BottomHalf => ops::bottom_half(g).ok(),
            Combine(s, logic, c) => {
                let h = halves(s)?;
                let m = match logic {
                    Logic::And => ops::mask_op(&h[0], &h[1], "and", |a, b| a && b),
                    Logic::Or | Logic::Nor => ops::mask_op(&h[0], &h[1], "or", |a, b| a || b),
                    Logic::Xor => ops::mask_op(&h[0], &h[1], "xor", |a, b| a != b),
                }
                .ok()?;
                let m = if logic == Logic::Nor { ops::invert(&m) } else { m };
                ops::replace(&m, 1, c).ok()
            }
            OverlayHalves(s, second_on_top) => {
                let h = halves(s)?;
                if second_on_top {
                    ops::overlay(&h[0], &h[1], 0).ok()
                } else {
                    ops::overlay(&h[1], &h[0], 0).ok()
                }
            }
            Replace(a, b) => ops::replace(g, a, b).ok(),
            Swap(a, b) => ops::swap(g, a, b).ok(),
            RankColours(ref keep) => ops::rank_colours(g, keep).ok(),
            SwapColours => match ops::colors(g)[..] {
                [a, b, ..] => ops::swap(g, a, b).ok(),
                _ => None,
            },
            Keep(c) => ops::keep(g, c, 0).ok(),
            ReplaceNot(k, t) => ops::replace_not(g, k, t).ok(),
            Gravity(d) => ops::gravity(g, d, ops::background(g)).ok(),
            DedupRows => Some(ops::dedup_rows(g)),
            DedupCols => Some(ops::dedup_cols(g)),
            RemoveLines => ops::remove_lines(g).ok(),
            FillEnclosed(c) => ops::fill_enclosed(g, ops::background(g), c).ok(),
            CompleteSymmetry(u) => ops::complete_symmetry(g, u.colour(g)).ok(),
            Unmask(u, pattern) => {
                let u = u.colour(g);
                let mask = objects::Obj::of_colour(g, ops::colour(u).ok()?);
                let full = if pattern { ops::complete_pattern(g, u) } else { ops::complete_symmetry(g, u) };
                objects::crop_to(&full.ok()?, &mask).ok()
            }
            CompletePattern(u) => ops::complete_pattern(g, u).ok(),
            CopyTo(m) => objects::copy_to(g, m).ok(),
            CompleteCopies => objects::complete_copies(g).ok(),
            AttractOwn => objects::attract_own(g).ok(),
            RingColours(how) => ops::ring_colours(g, how).ok(),
            MirrorAcross(m) => objects::mirror_across(g, m).ok(),
            MirrorAround => objects::mirror_around(g, objects::symmetric_colour(g)).ok(),
            AlignTo(c, along) => objects::align_to(g, c, along).ok(),
            Elbow(a, b, v) => ops::elbow(g, a, b, v).ok(),
            Hull => Some(ops::hull(g)),
            FloodFrom(c) => ops::flood_from(g, c).ok(),
            RepeatBand(axis, whole) => ops::repeat_band(g, axis, if whole { "band" } else { "period" }).ok(),
            Shift(dr, dc) => ops::shift(g, dr, dc, 0).ok(),
            Trim0 => ops::trim(g, 0).ok(),
            KeepLargest => {
                let bg = ops::background(g);
                Some(objects::paint(&Grid::filled(g.rows(), g.cols(), bg).ok()?, &largest_object(g)?, None))
            }
            RemoveSingles(isolated) => {
                let bg = ops::background(g);
                let mut out = g.clone();
                for o in recent_objects(g, isolated, isolated).iter().filter(|o| o.size() == 1) {
                    out = objects::paint(&out, o, Some(bg));
                }
                Some(out)
            }
            RecolorLargest(c) => Some(objects::paint(g, &largest_object(g)?, Some(ops::colour(c).ok()?))),
            RecolorSmallest(c) => Some(objects::paint(g, &smallest_object(g)?, Some(ops::colour(c).ok()?))),
            RecolorHoled(c) => {
                let c = ops::colour(c).ok()?;
                let holed = recent_objects(g, false, false);
                Some(holed.iter().filter(|o| o.holes() > 0).fold(g.clone(), |out, o| objects::paint(&out, o, Some(c))))
            }
            RecolorTable(t) => Some(ops::map_colours(g, &t)),
            Rewrite(ref rule) => Some(rule.apply(g)),
            Layered(ref l) => {
                let (base, top) = (run_steps(&l.base, g)?, run_steps(&l.top, g)?);
                match l.how {
                    Laying::Over => ops::overlay(&base, &top, ops::background(&top) as i64).ok(),
                    Laying::Inside => ops::recolor_from(&top, &base).ok(),
                }
            }
            Pick(p) => p.apply(g),
            PickPart(parts, rank, most) => pick_part(g, parts, rank, most),
            CropColour(c) => objects::crop_to(g, &objects::Obj::of_colour(g, ops::colour(c).ok()?)).ok(),
            CropAt(corner, h, w) => {
                let (rows, cols) = (g.rows() as i64, g.cols() as i64);
                if h > rows || w > cols {
                    return None;
                }
                let (r, c) = match corner {
                    Corner::TopLeft => (0, 0),
                    Corner::TopRight => (0, cols - w),
                    Corner::BottomLeft => (rows - h, 0),
                    Corner::BottomRight => (rows - h, cols - w),
                    Corner::Centre => ((rows - h) / 2, (cols - w) / 2),
                };
                ops::crop(g, r, c, h, w).ok()
            }
            Part(s, n, i) => s.cut(g, n)?.into_iter().nth(i as usize),
            Fractal(mode) => {
                let (h, w) = (g.rows() as i64, g.cols() as i64);
                // Past a task's largest side the search drops the output anyway.
                if h * h > 30 || w * w > 30 {
                    return None;
                }
                let mut out = ops::new_grid(h * h, w * w, 0).ok()?;
                let most = ops::most_common(g) as u8;
                for r in 0..g.rows() {
                    for c in 0..g.cols() {
                        let v = g.get(r, c);
                        let on = match mode {
                            FractalBlocks::NonZero => v != 0,
                            FractalBlocks::Zero => v == 0,
                            FractalBlocks::MostCommon => v == most,
                            FractalBlocks::Colour(k) => i64::from(v) == k,
                        };
                        if on {
                            out = ops::paste(&out, g, r as i64 * h, c as i64 * w, None);
                        }
                    }
                }
                Some(out)
            }
            Pinwheel => {
                let top = ops::hcat(g, &ops::rotate(g, 1)).ok()?;
                ops::vcat(&top, &ops::hcat(&ops::rotate(g, 3), &ops::rotate(g, 2)).ok()?).ok()
            }
            ReplaceNotMostCommon(t) => ops::replace_not(g, ops::most_common(g), t).ok(),
            Connect(dirs, c) => ops::connect(g, dirs, c).ok(),
            Hollow(c) => ops::hollow(g, c).ok(),
            Attract(c, diagonal) => objects::attract(g, c, diagonal).ok(),
            RecolorBySize { diagonal, ref table } => {
                let mut out = g.clone();
                for (o, rank) in size_ranks(g, diagonal) {
                    out = objects::paint(&out, &o, Some(*table.get(rank)?));
                }
                Some(out)
            }
            KeepSolid(k) => ops::keep_solid(g, k).ok(),
            RecolorNearest(c, by) => ops::recolor_nearest(g, c, by).ok(),
            FillRegions([l, s, o]) => ops::fill_regions(g, l, s, o).ok(),
            RaysToLargest => ops::rays_to(g, largest_object(g)?.colour()).ok(),
            FillParts(ref fills) => ops::fill_parts(g, fills).ok(),
            RepeatPart(paint) => ops::repeat_part(g, paint).ok(),
            PartColours(by) => ops::part_colours(g, by).ok(),
            Stamp(ref stamps) => Some(ops::stamp(g, stamps)),
            OverlayParts(layers, ref order) => ops::overlay_all(&layers.cut(g)?, order, ops::background(g)).ok(),
            Rays(dirs) => ops::rays(g, dirs).ok(),
            ExtendEnds => Some(ops::extend_ends(g)),
            ScaleByColours => {
                let n = ops::colors(g).len() as i64;
                ops::scale_up(g, n, n).ok()
            }
            ColourList { column, drop_first } => {
                let mut cs = ops::colors(g);
                cs.sort_by_key(|&c| std::cmp::Reverse(ops::count(g, c)));
                if drop_first && !cs.is_empty() {
                    cs.remove(0);
                }
                let rows: Vec<Vec<i64>> = if column { cs.iter().map(|&c| vec![c]).collect() } else { vec![cs] };
                ops::from_rows(&rows).ok()
            }
            FullestCell | EmptiestCell => {
                let cells = ops::split_by_lines(g);
                let pick = if *self == FullestCell {
                    cells.iter().rev().max_by_key(|c| non_background(c))
                } else {
                    cells.iter().min_by_key(|c| non_background(c))
                };
                pick.cloned()
            }
        }
    }

    /// The same transform as a Rhai expression of `g`.
    pub fn rhai(&self) -> String {
        use Op::*;
        match *self {
            Rotate(k) => format!("g.rotate({k})"),
            FlipH => "g.flip_h()".into(),
            FlipV => "g.flip_v()".into(),
            Transpose => "g.transpose()".into(),
            Trim => "g.trim()".into(),
            CropLargest => "g.crop_to(g.objects().largest())".into(),
            CropSmallest => "g.crop_to(g.objects().smallest())".into(),
            LargestToGrid => "g.objects().largest().to_grid()".into(),
            ScaleUp(a, b) => format!("g.scale_up({a}, {b})"),
            ScaleDown(a, b) => format!("g.scale_down({a}, {b})"),
            Tile(a, b) => format!("g.tile({a}, {b})"),
            MirrorTile(a, b, rows, cols) => format!("g.mirror_tile({a}, {b}, \"{rows}\", \"{cols}\")"),
            ReflectTile(a, b) => format!("g.reflect_tile({a}, {b})"),
            MirrorH => "g.hcat(g.flip_h())".into(),
            MirrorV => "g.vcat(g.flip_v())".into(),
            Kaleidoscope => "{ let top = g.hcat(g.flip_h()); top.vcat(top.flip_v()) }".into(),
            LeftHalf => "g.left_half()".into(),
            RightHalf => "g.right_half()".into(),
            TopHalf => "g.top_half()".into(),
            BottomHalf => "g.bottom_half()".into(),
            Combine(s, logic, c) => {
                let expr = match logic {
                    Logic::And => "h[0].and(h[1])",
                    Logic::Or => "h[0].or(h[1])",
                    Logic::Xor => "h[0].xor(h[1])",
                    Logic::Nor => "h[0].or(h[1]).invert()",
                };
                format!("{{ let h = g.{}(2); {expr}.replace(1, {c}) }}", s.method())
            }
            OverlayHalves(s, second_on_top) => {
                let (bottom, top) = if second_on_top { (0, 1) } else { (1, 0) };
                format!("{{ let h = g.{}(2); h[{bottom}].overlay(h[{top}]) }}", s.method())
            }
            Replace(a, b) => format!("g.replace({a}, {b})"),
            Swap(a, b) => format!("g.swap({a}, {b})"),
            SwapColours => "{ let cs = g.colors(); g.swap(cs[0], cs[1]) }".into(),
            RankColours(ref keep) if keep.is_empty() => "g.rank_colours()".into(),
            RankColours(ref keep) => format!("g.rank_colours({keep:?})"),
            Keep(c) => format!("g.keep({c})"),
            ReplaceNot(k, t) => format!("g.replace_not({k}, {t})"),
            Gravity(d) => format!("g.gravity(\"{d}\")"),
            DedupRows => "g.dedup_rows()".into(),
            DedupCols => "g.dedup_cols()".into(),
            RemoveLines => "g.remove_lines()".into(),
            FillEnclosed(c) => format!("g.fill_enclosed({c})"),
            CompleteSymmetry(u) => format!("g.complete_symmetry({})", u.rhai()),
            Unmask(u, false) => format!("g.complete_symmetry({0}).crop_to(g.color_object({0}))", u.rhai()),
            Unmask(u, true) => format!("g.complete_pattern({0}).crop_to(g.color_object({0}))", u.rhai()),
            CompletePattern(u) => format!("g.complete_pattern({u})"),
            CopyTo(m) => format!("g.copy_to({m})"),
            CompleteCopies => "g.complete_copies()".into(),
            AttractOwn => "g.attract_own()".into(),
            RingColours(how) => format!("g.ring_colours(\"{how}\")"),
            MirrorAcross(m) => format!("g.mirror_across({m})"),
            MirrorAround => "g.mirror_around(g.symmetric_colour())".into(),
            AlignTo(c, along) => format!("g.align_to({c}, {along:?})"),
            Elbow(a, b, v) => format!("g.elbow({a}, {b}, {v})"),
            Hull => "g.hull()".into(),
            FloodFrom(c) => format!("g.flood_from({c})"),
            RepeatBand(axis, whole) => format!("g.repeat_band({axis:?}, {:?})", if whole { "band" } else { "period" }),
            Shift(dr, dc) => format!("g.shift({dr}, {dc}, 0)"),
            FullestCell => "g.split_by_lines().max_by(|c| c.rows() * c.cols() - c.count(c.background()))".into(),
            EmptiestCell => "g.split_by_lines().min_by(|c| c.rows() * c.cols() - c.count(c.background()))".into(),
            Trim0 => "g.trim(0)".into(),
            KeepLargest => "grid(g.rows(), g.cols(), g.background()).paint(g.objects().largest())".into(),
            RemoveSingles(isolated) => {
                let objs = if isolated { "g.objects(#{diagonal: true, multicolor: true})" } else { "g.objects()" };
                format!("{{ let out = g; for o in {objs} {{ if o.size() == 1 {{ out = out.erase(o); }} }} out }}")
            }
            RecolorLargest(c) => format!("g.paint(g.objects().largest(), {c})"),
            RecolorHoled(c) => {
                format!(
                    "{{ let out = g; for o in g.objects() {{ if o.holes() > 0 {{ out = out.paint(o, {c}); }} }} out }}"
                )
            }
            RecolorSmallest(c) => format!("g.paint(g.objects().smallest(), {c})"),
            RecolorTable(t) => {
                let pairs: Vec<String> =
                    (0..10).filter(|&c| t[c] as usize != c).map(|c| format!("\"{c}\": {}", t[c])).collect();
                format!("g.recolor(#{{{}}})", pairs.join(", "))
            }
            Pick(p) => p.rhai(),
            PickPart(parts, rank, most) => pick_part_rhai(parts, rank, most),
            CropColour(c) => format!("g.crop_to(g.color_object({c}))"),
            CropAt(corner, h, w) => {
                let (r, c) = match corner {
                    Corner::TopLeft => ("0".to_string(), "0".to_string()),
                    Corner::TopRight => ("0".into(), format!("g.cols() - {w}")),
                    Corner::BottomLeft => (format!("g.rows() - {h}"), "0".into()),
                    Corner::BottomRight => (format!("g.rows() - {h}"), format!("g.cols() - {w}")),
                    Corner::Centre => (format!("(g.rows() - {h}) / 2"), format!("(g.cols() - {w}) / 2")),
                };
                format!("g.crop({r}, {c}, {h}, {w})")
            }
            Part(s, n, i) => format!("g.{}({n})[{i}]", s.method()),
            Fractal(mode) => {
                let cond = match mode {
                    FractalBlocks::NonZero => "g.get(r, c) != 0".to_string(),
                    FractalBlocks::Zero => "g.get(r, c) == 0".to_string(),
                    FractalBlocks::MostCommon => "g.get(r, c) == most".to_string(),
                    FractalBlocks::Colour(k) => format!("g.get(r, c) == {k}"),
                };
                format!(
                    "{{ let h = g.rows(); let w = g.cols(); let most = g.most_common(); let out = grid(h * h, w * w, 0); \
                     for r in 0..h {{ for c in 0..w {{ if {cond} {{ out = out.paste(g, r * h, c * w); }} }} }} out }}"
                )
            }
            Pinwheel => "g.hcat(g.rotate(1)).vcat(g.rotate(3).hcat(g.rotate(2)))".into(),
            ReplaceNotMostCommon(t) => format!("g.replace_not(g.most_common(), {t})"),
            Connect(dirs, c) => format!("g.connect(\"{dirs}\", {c})"),
            Hollow(c) => format!("g.hollow({c})"),
            Attract(c, false) => format!("g.attract({c})"),
            Attract(c, true) => format!("g.attract({c}, \"all\")"),
            RecolorBySize { diagonal, ref table } => {
                let t: Vec<String> = table.iter().map(u8::to_string).collect();
                format!(
                    "{{ let objs = g.objects(#{{diagonal: {diagonal}, multicolor: false}}); let sizes = objs.map(|o| o.size()); \
                     sizes.sort(); sizes.dedup(); sizes.reverse(); let t = [{}]; let out = g; \
                     for o in objs {{ out = out.paint(o, t[sizes.index_of(o.size())]); }} out }}",
                    t.join(", ")
                )
            }
            KeepSolid(k) => format!("g.keep_solid({k})"),
            RecolorNearest(c, by) => format!("g.recolor_nearest({c}, \"{by}\")"),
            FillRegions([l, s, o]) => format!("g.fill_regions({l}, {s}, {o})"),
            RaysToLargest => "g.rays_to(g.objects().largest().color())".into(),
            RepeatPart(paint) => format!("g.repeat_part(\"{paint}\")"),
            FillParts(ref fills) => {
                let mut entries = Vec::new();
                for (r, row) in fills.iter().enumerate() {
                    for (c, v) in row.iter().enumerate() {
                        if let Some(v) = v {
                            entries.push(format!("\"{},{}\": {v}", ops::PLACES[r], ops::PLACES[c]));
                        }
                    }
                }
                format!("g.fill_parts(#{{{}}})", entries.join(", "))
            }
            PartColours(by) => format!("g.part_colours(\"{by}\")"),
            Stamp(ref stamps) => {
                let patterns: Vec<String> = stamps
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.iter().any(Option::is_some))
                    .map(|(c, p)| {
                        let v = |k: usize| p[k].map_or(-1, i64::from);
                        let rows: Vec<String> =
                            (0..3).map(|i| format!("[{}, {}, {}]", v(3 * i), v(3 * i + 1), v(3 * i + 2))).collect();
                        format!("\"{c}\": [{}]", rows.join(", "))
                    })
                    .collect();
                format!("g.stamp(#{{{}}})", patterns.join(", "))
            }
            OverlayParts(layers, ref order) => {
                let order: Vec<String> = order.iter().map(u8::to_string).collect();
                format!("{}.overlay_all([{}], g.background())", layers.rhai(), order.join(", "))
            }
            Rays(dirs) => format!("g.rays(\"{dirs}\")"),
            ExtendEnds => "g.extend_ends()".into(),
            ScaleByColours => "g.scale_up(g.colors().len())".into(),
            ColourList { column, drop_first } => {
                let drop = if drop_first { " cs.remove(0);" } else { "" };
                let rows = if column { "cs.map(|c| [c])" } else { "[cs]" };
                format!("{{ let cs = g.colors(); cs.sort(|a, b| g.count(b) - g.count(a));{drop} grid_from({rows}) }}")
            }
            Rewrite(ref rule) => {
                let features = rules::Feature::list_name(&rule.features);
                match &rule.action {
                    rules::Action::Paint(changes) => {
                        let pairs: Vec<String> = changes.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
                        format!("g.rewrite(\"{features}\", #{{{}}})", pairs.join(", "))
                    }
                    rules::Action::Copy(source, keys) => {
                        let keys: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
                        format!("g.copy_color(\"{}\", \"{features}\", [{}])", source.name(), keys.join(", "))
                    }
                }
            }
            Layered(ref l) => {
                let put = match l.how {
                    Laying::Over => "base.overlay(top, top.background())",
                    Laying::Inside => "top.recolor_from(base)",
                };
                format!("{{ let base = {}; let top = {}; {put} }}", steps_rhai(&l.base), steps_rhai(&l.top))
            }
        }
    }
}

/// Renders a composition as a Rhai program.
pub fn program(steps: &[Op]) -> String {
    let mut s = String::from("fn solve(g) {\n");
    let ranked = match steps.first() {
        Some(Op::RankColours(keep)) => Some(keep),
        _ => None,
    };
    if ranked.is_some() {
        s.push_str("    let input = g;\n");
    }
    for op in steps {
        let _ = writeln!(s, "    let g = {};", op.rhai());
    }
    match ranked {
        Some(keep) if keep.is_empty() => s.push_str("    g.unrank_colours(input)\n}\n"),
        Some(keep) => {
            let _ = writeln!(s, "    g.unrank_colours(input, {keep:?})\n}}");
        }
        None => s.push_str("    g\n}\n"),
    }
    s
}

/// The transforms tried on a task: general ones plus ones parameterised by the task's
/// colours and size ratios.
pub fn transforms(task: &Task) -> Vec<Op> {
    use Op::*;
    let mut ops = vec![
        Rotate(1),
        Rotate(2),
        Rotate(3),
        FlipH,
        FlipV,
        Transpose,
        Trim,
        CropLargest,
        CropSmallest,
        LargestToGrid,
        MirrorH,
        MirrorV,
        Kaleidoscope,
        LeftHalf,
        RightHalf,
        TopHalf,
        BottomHalf,
        DedupRows,
        DedupCols,
        RemoveLines,
        FullestCell,
        EmptiestCell,
        Trim0,
        KeepLargest,
        RemoveSingles(false),
        RemoveSingles(true),
        SwapColours,
        Shift(1, 0),
        Shift(-1, 0),
        Shift(0, 1),
        Shift(0, -1),
    ];
    for d in ["up", "down", "left", "right"] {
        ops.push(Gravity(d));
    }
    ops.push(Pinwheel);
    for mode in [FractalBlocks::NonZero, FractalBlocks::Zero, FractalBlocks::MostCommon] {
        ops.push(Op::Fractal(mode));
    }
    // A fixed output size: windows of that size, and parts of that size.
    let out_shapes: HashSet<(usize, usize)> = task.train.iter().map(|e| e.output.shape()).collect();
    if out_shapes.len() == 1 {
        let (h, w) = *out_shapes.iter().next().expect("one shape");
        if task.train.iter().all(|e| e.input.rows() >= h && e.input.cols() >= w && e.input.shape() != (h, w)) {
            for corner in [Corner::TopLeft, Corner::TopRight, Corner::BottomLeft, Corner::BottomRight, Corner::Centre] {
                ops.push(CropAt(corner, h as i64, w as i64));
            }
        }
    }
    for n in 2..=4i64 {
        for s in [Split::Cols, Split::Rows] {
            if parts_fit(task, s, n) {
                (0..n).for_each(|i| ops.push(Part(s, n, i)));
                for (rank, most) in PartRank::ALL {
                    ops.push(PickPart(Parts::Split(s, n), rank, most));
                }
            }
        }
    }
    // Picking one object or part out, or laying parts on one another, only makes sense
    // when every output is smaller.
    let smaller = task.train.iter().all(|e| e.output.cells().len() < e.input.cells().len());
    if smaller {
        for (rank, most) in PartRank::ALL {
            ops.push(PickPart(Parts::Lines, rank, most));
            ops.push(PickPart(Parts::Gaps, rank, most));
        }
        for (diagonal, multicolour) in [(false, false), (true, false), (true, true)] {
            for (rank, most) in Rank::ALL {
                for crop in [true, false] {
                    ops.push(Pick(self::Pick { diagonal, multicolour, rank, most, crop }));
                }
            }
        }
        let mut layers = vec![Layers::Lines];
        let (h, w) = task.train[0].output.shape();
        if task.train.iter().all(|e| e.output.shape() == (h, w)) {
            layers.push(Layers::Corners(h as i64, w as i64));
        }
        for l in layers {
            if let Some(order) = overlay_order(task, l) {
                ops.push(OverlayParts(l, order));
            }
        }
    }
    for s in [Split::Cols, Split::Rows] {
        ops.push(OverlayHalves(s, false));
        ops.push(OverlayHalves(s, true));
    }
    let mut cin = [false; 10];
    let mut cout = [false; 10];
    for e in &task.train {
        e.input.cells().iter().for_each(|&v| cin[v as usize] = true);
        e.output.cells().iter().for_each(|&v| cout[v as usize] = true);
    }
    let cin: Vec<i64> = (0..10).filter(|&c| cin[c]).map(|c| c as i64).collect();
    let cout: Vec<i64> = (0..10).filter(|&c| cout[c]).map(|c| c as i64).collect();
    for &a in &cin {
        ops.push(Keep(a));
        // A colour that marks cells to fill in is gone from the outputs.
        if !cout.contains(&a) {
            ops.push(CompleteSymmetry(Hidden::Colour(a)));
            ops.push(CompletePattern(a));
            if smaller {
                ops.push(Unmask(Hidden::Colour(a), false));
                ops.push(Unmask(Hidden::Colour(a), true));
            }
        }
        for &b in &cout {
            if a != b {
                ops.push(Replace(a, b));
                ops.push(ReplaceNot(a, b));
            }
        }
        for &b in &cin {
            if a < b {
                ops.push(Swap(a, b));
            }
        }
    }
    // Each input masks part of a picture with a rectangle of a colour its output lacks,
    // the colour maybe differing from pair to pair.
    let masked = task.train.iter().all(|e| {
        let m = ops::mask_colour(&e.input);
        m >= 0 && !e.output.cells().contains(&(m as u8))
    });
    if masked {
        ops.push(CompleteSymmetry(Hidden::Mask));
        if smaller {
            ops.push(Unmask(Hidden::Mask, false));
            ops.push(Unmask(Hidden::Mask, true));
        }
    }
    for &c in &cin {
        ops.push(Op::Fractal(FractalBlocks::Colour(c)));
        if smaller {
            ops.push(CropColour(c));
        }
    }
    for &c in &cout {
        ops.push(ReplaceNotMostCommon(c));
        ops.push(FillEnclosed(c));
        ops.push(RecolorLargest(c));
        ops.push(RecolorSmallest(c));
        ops.push(RecolorHoled(c));
        for s in [Split::Cols, Split::Rows] {
            for l in [Logic::And, Logic::Or, Logic::Xor, Logic::Nor] {
                ops.push(Combine(s, l, c));
            }
        }
    }
    if let Some(t) = learned_recolor(task) {
        ops.push(RecolorTable(t));
    }
    let same_shape = task.train.iter().all(|e| e.input.shape() == e.output.shape());
    for diagonal in [false, true] {
        if let Some(table) = size_colours(task, diagonal) {
            ops.push(RecolorBySize { diagonal, table });
        }
    }
    if same_shape {
        for dirs in ["h", "v", "hv", "diagonal"] {
            ops.push(Connect(dirs, -1));
            cout.iter().for_each(|&c| ops.push(Connect(dirs, c)));
        }
        for dirs in ["h", "v", "orthogonal", "diagonal", "all"] {
            ops.push(Rays(dirs));
        }
        ops.push(ExtendEnds);
        ops.push(RaysToLargest);
        ops.push(KeepSolid(2));
        // Markers are covered by the copies: a colour gone from the outputs.
        cin.iter().filter(|c| !cout.contains(c)).for_each(|&c| ops.push(CopyTo(c)));
        // Copies completed: every input cell stays, cells are only added.
        let kept = |e: &Example| {
            let bg = ops::background(&e.input);
            e.input.cells().iter().zip(e.output.cells()).all(|(&a, &b)| a == b || a == bg)
        };
        if task.train.iter().all(kept) {
            ops.push(CompleteCopies);
        }
        if let Some(c) = changed_colour(task) {
            ops.push(RecolorNearest(c, "cells"));
            ops.push(RecolorNearest(c, "objects"));
        }
        if let Some(table) = region_colours(task) {
            ops.push(FillRegions(table));
        }
        if let Some(fills) = part_fills(task) {
            ops.push(FillParts(Box::new(fills)));
        }
        ops.push(MirrorAround);
        ops.push(AttractOwn);
        ops.push(RingColours("reverse"));
        ops.push(RingColours("inward"));
        ops.push(Hull);
        cin.iter().for_each(|&c| ops.push(FloodFrom(c)));
        // Paths between two lone cells, in a colour no input has.
        let lone: Vec<i64> =
            cin.iter().copied().filter(|&c| task.train.iter().all(|e| e.input.histogram()[c as usize] == 1)).collect();
        for &a in &lone {
            for &b in lone.iter().filter(|&&b| b != a) {
                cout.iter().filter(|c| !cin.contains(c)).for_each(|&v| ops.push(Elbow(a, b, v)));
            }
        }
        for axis in ["rows", "cols"] {
            ops.push(RepeatBand(axis, true));
            ops.push(RepeatBand(axis, false));
        }
        if task.train.iter().all(|e| ops::part_places(&e.input).is_some()) {
            ops.push(RepeatPart("own"));
            ops.push(RepeatPart("lines"));
        }
        if let Some(stamps) = stamp_patterns(task) {
            ops.push(Stamp(Box::new(stamps)));
        }
        ops.push(Hollow(-1));
        cout.iter().for_each(|&c| ops.push(Hollow(c)));
        // Cells only move: toward a colour that stays where it is, level with it, or over
        // a frame's bars.
        if task.train.iter().all(|e| e.input.histogram() == e.output.histogram()) {
            cin.iter().for_each(|&c| ops.push(Attract(c, false)));
            cin.iter().for_each(|&c| ops.push(Attract(c, true)));
            cin.iter().for_each(|&c| ops.push(MirrorAcross(c)));
            for along in ["centre", "rows", "cols"] {
                cin.iter().for_each(|&c| ops.push(AlignTo(c, along)));
            }
        }
    }
    if smaller {
        ops.push(PartColours("lines"));
        ops.push(PartColours("gaps"));
    }
    if task.train.iter().all(|e| e.output.cells().len() > e.input.cells().len()) {
        ops.push(ScaleByColours);
    }
    // Lists of colours, where some output lists more than one (a 1x1 answer is a single
    // colour, which other transforms name; as a list it starts spurious compositions).
    let lists = task.train.iter().any(|e| e.output.cells().len() > 1);
    for column in [true, false] {
        if lists && task.train.iter().all(|e| if column { e.output.cols() == 1 } else { e.output.rows() == 1 }) {
            ops.push(ColourList { column, drop_first: false });
            ops.push(ColourList { column, drop_first: true });
        }
    }
    // Size ratios seen in the task, plus small defaults.
    let mut factors: Vec<(i64, i64)> = vec![(2, 2), (3, 3)];
    let mut shrink: Vec<(i64, i64)> = vec![(2, 2), (3, 3)];
    // Mirrored copies only for ratios the pairs show.
    let mut mirrored: Vec<Op> = Vec::new();
    for e in &task.train {
        let (ir, ic) = (e.input.rows() as i64, e.input.cols() as i64);
        let (or, oc) = (e.output.rows() as i64, e.output.cols() as i64);
        if or % ir == 0 && oc % ic == 0 {
            factors.push((or / ir, oc / ic));
            let (a, b) = (or / ir, oc / ic);
            let flips = |n: i64| if n > 1 { &["", "h", "v"][..] } else { &[""][..] };
            for &rows in flips(a) {
                for &cols in flips(b) {
                    if (rows, cols) != ("", "") && a <= 10 && b <= 10 {
                        mirrored.push(MirrorTile(a, b, rows, cols));
                    }
                }
            }
        }
        let grown = or >= ir && oc >= ic && (or, oc) != (ir, ic);
        if grown && ir > 1 && ic > 1 && (or - 1) % (ir - 1) == 0 && (oc - 1) % (ic - 1) == 0 {
            mirrored.push(ReflectTile((or - 1) / (ir - 1), (oc - 1) / (ic - 1)));
        }
        if ir % or == 0 && ic % oc == 0 {
            shrink.push((ir / or, ic / oc));
        }
    }
    factors.sort();
    factors.dedup();
    shrink.sort();
    shrink.dedup();
    for &(a, b) in &factors {
        if (a, b) != (1, 1) && a <= 10 && b <= 10 {
            ops.push(ScaleUp(a, b));
            ops.push(Tile(a, b));
        }
    }
    for &(a, b) in &shrink {
        if (a, b) != (1, 1) && a <= 10 && b <= 10 {
            ops.push(ScaleDown(a, b));
        }
    }
    ops.extend(mirrored);
    ops.sort_by_key(|o| format!("{o:?}"));
    ops.dedup();
    ops
}

/// The single-colour objects of `g` with their rank by size: 0 for the largest, equal
/// sizes sharing a rank.
fn size_ranks(g: &Grid, diagonal: bool) -> Vec<(objects::Obj, usize)> {
    let opt = ObjectOptions { diagonal, multicolour: false, background: Some(ops::background(g)) };
    let objs = objects::objects(g, opt);
    let mut sizes: Vec<i64> = objs.iter().map(objects::Obj::size).collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    sizes.dedup();
    objs.into_iter()
        .map(|o| {
            let rank = sizes.iter().position(|&s| s == o.size()).expect("its own size");
            (o, rank)
        })
        .collect()
}

/// The colour of each size rank (see [`size_ranks`]) that turns `pairs`' inputs into
/// their outputs, every object in one colour and every other cell unchanged.
fn size_table<'a>(pairs: impl Iterator<Item = &'a Example>, diagonal: bool) -> Option<Vec<Option<u8>>> {
    let mut table: Vec<Option<u8>> = Vec::new();
    for e in pairs {
        if e.input.shape() != e.output.shape() {
            return None;
        }
        let mut covered = vec![false; e.input.cells().len()];
        for (o, rank) in size_ranks(&e.input, diagonal) {
            let mut colour = None;
            for &(r, c, _) in o.cells() {
                let (r, c) = (r as usize, c as usize);
                covered[r * e.input.cols() + c] = true;
                let v = e.output.get(r, c);
                if *colour.get_or_insert(v) != v {
                    return None;
                }
            }
            if table.len() <= rank {
                table.resize(rank + 1, None);
            }
            match (table[rank], colour) {
                (None, c) => table[rank] = c,
                (Some(t), Some(c)) if t != c => return None,
                _ => {}
            }
        }
        let unchanged = e.input.cells().iter().zip(e.output.cells()).zip(&covered).all(|((a, b), &cov)| cov || a == b);
        if !unchanged {
            return None;
        }
    }
    Some(table)
}

/// A size-rank colour table for the task, when one turns every training input into its
/// output, changes some object's colour, and holds out: learned from every pair but one,
/// it knows every rank of that one and turns its input into its output.
fn size_colours(task: &Task, diagonal: bool) -> Option<Vec<u8>> {
    let table = size_table(task.train.iter(), diagonal)?;
    let table: Vec<u8> = table.into_iter().collect::<Option<_>>()?;
    let changes = task.train.iter().any(|e| e.input != e.output);
    if !changes || table.len() < 2 || task.train.len() < 2 {
        return None;
    }
    let holds_out = holds_out(task, |rest, e| {
        let Some(partial) = size_table(rest.iter().copied(), diagonal) else { return false };
        let Some(partial) = partial.into_iter().collect::<Option<Vec<u8>>>() else { return false };
        let op = Op::RecolorBySize { diagonal, table: partial };
        op.apply(&e.input).as_ref() == Some(&e.output)
    });
    holds_out.then_some(table)
}

/// Whether what is learned from every training pair but one explains the one left out
/// (`explains(rest, left_out)`), for each pair in turn: how a table learned from the
/// pairs shows it does more than memorise them. A task with one pair never holds out.
fn holds_out(task: &Task, explains: impl Fn(&[&Example], &Example) -> bool) -> bool {
    task.train.len() >= 2
        && (0..task.train.len()).all(|i| {
            let rest: Vec<&Example> = task.train.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, e)| e).collect();
            explains(&rest, &task.train[i])
        })
}

/// The one input colour whose cells change in the pairs (all of the same shape), if one.
fn changed_colour(task: &Task) -> Option<i64> {
    let mut changed = [false; crate::grid::COLOURS];
    for e in &task.train {
        if e.input.shape() != e.output.shape() {
            return None;
        }
        e.input
            .cells()
            .iter()
            .zip(e.output.cells())
            .filter(|(a, b)| a != b)
            .for_each(|(&a, _)| changed[a as usize] = true);
    }
    let mut colours = (0..changed.len()).filter(|&c| changed[c]);
    match (colours.next(), colours.next()) {
        (Some(c), None) => Some(c as i64),
        _ => None,
    }
}

/// The colour each size class of background area takes in `pairs` (-1: it stays the
/// background), every area in one colour and every other cell unchanged; `None` for a
/// class no pair shows. `None` overall where the pairs disagree.
fn region_table<'a>(pairs: impl Iterator<Item = &'a Example>) -> Option<[Option<i64>; 3]> {
    let mut table = [None; 3];
    for e in pairs {
        if e.input.shape() != e.output.shape() {
            return None;
        }
        let bg = ops::background(&e.input);
        let kept = e.input.cells().iter().zip(e.output.cells()).all(|(&a, &b)| a == bg || a == b);
        if !kept {
            return None;
        }
        for (classes, cells) in ops::region_classes(&e.input) {
            let (r, c) = cells[0];
            let v = e.output.get(r, c);
            if cells.iter().any(|&(i, j)| e.output.get(i, j) != v) {
                return None;
            }
            let v = if v == bg { -1 } else { i64::from(v) };
            for &k in classes {
                if *table[k].get_or_insert(v) != v {
                    return None;
                }
            }
        }
    }
    Some(table)
}

/// Colours for the background areas by size class, when they turn every training input
/// into its output, paint something, hold out (learned from every pair but one, they
/// turn that one's input into its output) and know every class the test inputs have.
fn region_colours(task: &Task) -> Option<[i64; 3]> {
    let table = region_table(task.train.iter())?;
    if task.train.len() < 2 || table.iter().all(|v| v.is_none_or(|v| v == -1)) {
        return None;
    }
    let known = |table: &[Option<i64>; 3], g: &Grid| {
        ops::region_classes(g).iter().all(|(classes, _)| classes.iter().all(|&k| table[k].is_some()))
    };
    let holds_out = holds_out(task, |rest, e| {
        region_table(rest.iter().copied()).is_some_and(|partial| {
            known(&partial, &e.input)
                && Op::FillRegions(partial.map(|v| v.unwrap_or(-1))).apply(&e.input).as_ref() == Some(&e.output)
        })
    });
    (holds_out && task.test.iter().all(|t| known(&table, &t.input))).then(|| table.map(|v| v.unwrap_or(-1)))
}

/// The colour the background of the parts at each place takes in `pairs` (see
/// [`ops::fill_parts`]): per place unseen, left as it is (`Some(None)`), or painted; line
/// cells and the parts' other cells unchanged. `None` where the pairs disagree.
fn part_fill_table<'a>(pairs: impl Iterator<Item = &'a Example>) -> Option<[[Option<Option<u8>>; 4]; 4]> {
    let mut table = [[None; 4]; 4];
    for e in pairs {
        if e.input.shape() != e.output.shape() {
            return None;
        }
        let bg = ops::background(&e.input);
        let mut inside = vec![false; e.input.cells().len()];
        for (pr, pc, [r, c, h, w]) in ops::part_places(&e.input)? {
            let mut fill: Option<u8> = None;
            for i in r..r + h {
                for j in c..c + w {
                    inside[i * e.input.cols() + j] = true;
                    let (a, b) = (e.input.get(i, j), e.output.get(i, j));
                    if a != bg && a != b || a == bg && *fill.get_or_insert(b) != b {
                        return None;
                    }
                }
            }
            if let Some(v) = fill {
                let v = (v != bg).then_some(v);
                if *table[pr][pc].get_or_insert(v) != v {
                    return None;
                }
            }
        }
        let lines_kept = e.input.cells().iter().zip(e.output.cells()).zip(&inside).all(|((a, b), &i)| i || a == b);
        if !lines_kept {
            return None;
        }
    }
    Some(table)
}

/// Part fills for the task (see [`ops::fill_parts`]), when they turn every training
/// input into its output, paint something, and hold out: learned from every pair but one
/// (places it never saw painted left as they are), they turn that one's input into its
/// output.
fn part_fills(task: &Task) -> Option<ops::PartFills> {
    let painted = |t: [[Option<Option<u8>>; 4]; 4]| t.map(|row| row.map(Option::flatten));
    let fills = painted(part_fill_table(task.train.iter())?);
    if task.train.len() < 2 || fills.iter().flatten().all(Option::is_none) {
        return None;
    }
    let holds_out = holds_out(task, |rest, e| {
        part_fill_table(rest.iter().copied())
            .is_some_and(|t| ops::fill_parts(&e.input, &painted(t)).ok().as_ref() == Some(&e.output))
    });
    holds_out.then_some(fills)
}

/// The patterns painted around each colour's cells (see [`ops::stamp`]) in `pairs`:
/// for every colour and neighbour, the colour that neighbour takes in the output
/// wherever it is background in the input (no pattern where that differs between cells
/// or is the background). `None` when the pairs change shape or backgrounds.
fn stamp_table<'a>(pairs: impl Iterator<Item = &'a Example>) -> Option<ops::Stamps> {
    // Per colour and neighbour: unseen, one colour, or two (a conflict).
    let mut seen: [[Option<Option<u8>>; 9]; 10] = [[None; 9]; 10];
    let mut bg = None;
    for e in pairs {
        let b = ops::background(&e.input);
        if e.input.shape() != e.output.shape() || *bg.get_or_insert(b) != b {
            return None;
        }
        for r in 0..e.input.rows() {
            for c in 0..e.input.cols() {
                let k = e.input.get(r, c);
                if k == b {
                    continue;
                }
                for (n, i, j) in ops::around(&e.input, r, c) {
                    if e.input.get(i, j) != b {
                        continue;
                    }
                    let v = e.output.get(i, j);
                    let slot = &mut seen[k as usize][n];
                    match *slot {
                        None => *slot = Some(Some(v)),
                        Some(Some(w)) if w != v => *slot = Some(None),
                        _ => {}
                    }
                }
            }
        }
    }
    let bg = bg?;
    Some(std::array::from_fn(|k| std::array::from_fn(|n| seen[k][n].flatten().filter(|&v| v != bg))))
}

/// The colour order under which each training input's `layers`, laid on one another,
/// give its output: where colours meet, the output's colour beats the others there.
/// Every pair must cut into two or more parts of the output's shape, every cell must be
/// explained, and the order must be the only one the pairs allow: each colour that meets
/// another is ranked, and no two of them are left unordered (a guessed order would decide
/// the test where the pairs did not).
/// Cells are read through [`ops::colours_at`], as `overlay_all` paints them.
fn overlay_order(task: &Task, layers: Layers) -> Option<Vec<u8>> {
    const N: usize = crate::grid::COLOURS;
    let mut beats = [[false; N]; N];
    let mut ranked = [false; N];
    for e in &task.train {
        let parts = layers.cut(&e.input)?;
        if parts.len() < 2 || parts.iter().any(|p| p.shape() != e.output.shape()) {
            return None;
        }
        let transparent = ops::background(&e.input);
        let (rows, cols) = e.output.shape();
        for i in 0..rows {
            for j in 0..cols {
                let here = ops::colours_at(&parts, i, j, transparent);
                let out = e.output.get(i, j) as usize;
                let present: Vec<usize> = (0..N).filter(|&c| here[c]).collect();
                match present[..] {
                    [] if out == transparent as usize => {}
                    [one] if out == one => {}
                    [_, _, ..] if here[out] => {
                        for &c in &present {
                            ranked[c] = true;
                            beats[out][c] |= c != out;
                        }
                    }
                    _ => return None,
                }
            }
        }
    }
    // Highest first: each step, exactly one ranked colour that nothing left beats.
    let mut left: Vec<usize> = (0..N).filter(|&c| ranked[c]).collect();
    let mut order = Vec::new();
    while !left.is_empty() {
        let top: Vec<usize> = left.iter().copied().filter(|&c| !left.iter().any(|&d| beats[d][c])).collect();
        let [c] = top[..] else { return None };
        order.push(c as u8);
        left.retain(|&d| d != c);
    }
    Some(order)
}

/// Stamp patterns for the task, when they turn every training input into its output,
/// paint something, and hold out: learned from every pair but one, they turn that one's
/// input into its output. Entries the pairs do not need are dropped (a cell that only
/// ever sat next to another colour's pattern learns nothing from it).
fn stamp_patterns(task: &Task) -> Option<ops::Stamps> {
    let mut stamps = stamp_table(task.train.iter())?;
    if task.train.len() < 2 || stamps.iter().flatten().all(Option::is_none) {
        return None;
    }
    let fits = |stamps: &ops::Stamps, e: &Example| ops::stamp(&e.input, stamps) == e.output;
    let holds_out =
        holds_out(task, |rest, e| stamp_table(rest.iter().copied()).is_some_and(|partial| fits(&partial, e)));
    if !holds_out || !task.train.iter().all(|e| fits(&stamps, e)) {
        return None;
    }
    for k in 0..stamps.len() {
        for n in 0..9 {
            if let Some(v) = stamps[k][n].take() {
                if !task.train.iter().all(|e| fits(&stamps, e)) {
                    stamps[k][n] = Some(v);
                }
            }
        }
    }
    Some(stamps)
}

/// The cell-wise colour map that turns every training input into its output, when the
/// pairs keep their shape and such a map exists (and is not the identity).
fn learned_recolor(task: &Task) -> Option<[u8; 10]> {
    let table = colour_table(task.train.iter())?;
    let t: [u8; 10] = std::array::from_fn(|c| table[c].unwrap_or(c as u8));
    (t.iter().enumerate().any(|(c, &v)| v as usize != c)).then_some(t)
}

/// The colour each input colour becomes in `pairs`, if every pair keeps its shape and
/// no colour needs two.
fn colour_table<'a>(pairs: impl Iterator<Item = &'a Example>) -> Option<[Option<u8>; 10]> {
    let mut table: [Option<u8>; 10] = [None; 10];
    for e in pairs {
        if e.input.shape() != e.output.shape() {
            return None;
        }
        for (&a, &b) in e.input.cells().iter().zip(e.output.cells()) {
            match table[a as usize] {
                None => table[a as usize] = Some(b),
                Some(x) if x != b => return None,
                _ => {}
            }
        }
    }
    Some(table)
}

/// Whether the learned colour table can be trusted on the test inputs: every colour of
/// them has an entry (learned, not guessed), or the table holds out as learned rules
/// must ([`rules::Learned::holds_out`]): learned from every training pair but one, it turns that
/// one's input into its output (a colour it never saw staying as it is), for every
/// pair. A table that only lists the training pairs' colours, each pair with colours of
/// its own, while the test brings others, is neither.
fn recolor_trusted(task: &Task) -> bool {
    let Some(table) = colour_table(task.train.iter()) else { return false };
    let known = task.test.iter().all(|t| t.input.cells().iter().all(|&c| table[c as usize].is_some()));
    known
        || holds_out(task, |rest, e| {
            colour_table(rest.iter().copied()).is_some_and(|t| {
                e.input.cells().iter().zip(e.output.cells()).all(|(&a, &b)| t[a as usize].unwrap_or(a) == b)
            })
        })
}

/// Whether `steps` explain the training pairs by something that is not the task's: a
/// colour swap or replacement, or cells of a colour completed, that does nothing on some
/// training pair (its colours are one pair's, as in a swap of 1 and 3 beside a swap of 2
/// and 4, or the 1s completed then the 3s where each pair masks with a colour of its
/// own), a colour table of two
/// or more changes each of which only one pair shows (a colour of its own per pair, as
/// 6 -> 5 in one pair and 9 -> 5 in the other, where the pairs pick the colour by
/// something else), or a step that changes every training input's grid and leaves a
/// test input's as it is (a colour, an object the test input lacks). Such a composition
/// only fits.
pub fn fits_by_pair_colours(steps: &[Op], task: &Task) -> bool {
    // Per step: whether it changed the grid, and the colours the grid held before it.
    let trace = |g: &Grid| -> Option<Vec<(bool, [bool; 10])>> {
        let mut g = g.clone();
        steps
            .iter()
            .map(|op| {
                let mut held = [false; 10];
                g.cells().iter().for_each(|&c| held[c as usize] = true);
                let out = op.apply(&g)?;
                let changed = out != g;
                g = out;
                Some((changed, held))
            })
            .collect()
    };
    let Some(train) = task.train.iter().map(|e| trace(&e.input)).collect::<Option<Vec<_>>>() else { return false };
    let names_colours =
        |op: &Op| matches!(op, Op::Replace(..) | Op::Swap(..) | Op::CompleteSymmetry(_) | Op::CompletePattern(_));
    if steps.iter().enumerate().any(|(i, op)| names_colours(op) && train.iter().any(|t| !t[i].0)) {
        return true;
    }
    let one_pair_each = |i: usize, table: &[u8; 10]| {
        let changes: Vec<usize> = (0..10).filter(|&c| table[c] as usize != c).collect();
        changes.len() >= 2 && changes.iter().all(|&c| train.iter().filter(|t| t[i].1[c]).count() <= 1)
    };
    if steps.iter().enumerate().any(|(i, op)| matches!(op, Op::RecolorTable(t) if one_pair_each(i, t))) {
        return true;
    }
    let active: Vec<bool> = (0..steps.len()).map(|i| train.iter().all(|t| t[i].0)).collect();
    task.test
        .iter()
        .filter_map(|t| trace(&t.input))
        .any(|t| t.iter().zip(&active).any(|(&(changed, _), &a)| a && !changed))
}

/// Search settings.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub max_depth: usize,
    pub time: Duration,
    /// Stop collecting after this many distinct solutions.
    pub max_solutions: usize,
    /// Cap on stored states per level (memory bound).
    pub max_states: usize,
    /// States up to this depth are also finished by learned local rules (see [`rules`]);
    /// `None` turns rule learning off.
    pub rule_depth: Option<usize>,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            max_depth: 3,
            time: Duration::from_secs(10),
            max_solutions: 16,
            max_states: 200_000,
            rule_depth: Some(1),
        }
    }
}

/// What the search found.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Compositions that reproduce every training output, shortest first.
    pub solutions: Vec<Vec<Op>>,
    /// Compositions that reproduce every training output only through a learned table
    /// that does not hold out across the pairs (a local rule, [`rules::Learned::holds_out`], or
    /// the colour table), through one pair's colours ([`fits_by_pair_colours`]), or with
    /// more steps than the training outputs can tell from a coincidence (log2 of the
    /// transforms per step against log2(10) per output cell); used when there are no
    /// solutions. They answer, but do not count as solving the task.
    pub untrusted: Vec<Vec<Op>>,
    /// The composition with the best mean cell accuracy when none solves the task.
    pub best_near_miss: Option<(Vec<Op>, f64)>,
    /// Transform applications to one training input each.
    pub candidates: u64,
    /// Depth fully explored.
    pub depth_done: usize,
    pub timed_out: bool,
}

struct State {
    steps: Vec<Op>,
    outputs: Vec<Grid>,
}

fn fingerprint(gs: &[Grid]) -> u64 {
    crate::grid::fnv1a_words(gs.iter().map(Grid::fingerprint))
}

fn accuracy(gs: &[Grid], task: &Task) -> f64 {
    gs.iter().zip(&task.train).map(|(g, e)| crate::evaluate::cell_accuracy(g, &e.output)).sum::<f64>() / gs.len() as f64
}

/// A composition finished by a learned local rule.
struct Ruled {
    steps: Vec<Op>,
    /// The rule's coverage of the test inputs taken through the steps.
    coverage: f64,
    /// Whether the rule holds out across the training pairs ([`rules::Learned::holds_out`]).
    holds_out: bool,
}

/// The local rules that finish `state` (see [`rules::learn`]).
fn learn_rules(state: &State, targets: &[Grid], tests: &[Grid], limits: rules::LearnLimits) -> Vec<Ruled> {
    if state.outputs.iter().zip(targets).any(|(o, t)| o.shape() != t.shape()) {
        return Vec::new();
    }
    let Some(tests) = tests.iter().map(|g| run_steps(&state.steps, g)).collect::<Option<Vec<Grid>>>() else {
        return Vec::new();
    };
    rules::learn(&state.outputs, targets, &tests, limits)
        .into_iter()
        .map(|l| {
            let mut steps = state.steps.clone();
            steps.push(Op::Rewrite(Arc::new(l.rule)));
            Ruled { steps, coverage: l.coverage, holds_out: l.holds_out }
        })
        .collect()
}

/// Enumerates compositions breadth-first until solutions are found at some depth (that
/// depth is finished, then the search stops), the depth limit, or the time budget.
///
/// Compositions finished by a learned local rule are kept apart and reported only when
/// no plain composition solves the task: a rule table can fit the training pairs by
/// memorising them, so it is the weaker evidence; a rule that does not hold out across
/// the pairs is only an untrusted fit.
///
/// Where nothing solves the task, the search runs again on the task with every grid's
/// colours ranked ([`ranked_task`]), for pairs that differ only in their colours; what it
/// finds starts with [`Op::RankColours`].
pub fn find(task: &Task, budget: Budget) -> Found {
    let start = Instant::now();
    let mut found = find_compositions(task, budget);
    if !found.solutions.is_empty() || found.timed_out {
        return found;
    }
    let Some((ranked, keep)) = ranked_task(task) else { return found };
    let more = find_compositions(&ranked, Budget { time: budget.time.saturating_sub(start.elapsed()), ..budget });
    found.candidates += more.candidates;
    found.timed_out = more.timed_out;
    let unranked = |steps: Vec<Op>| std::iter::once(Op::RankColours(keep.clone())).chain(steps).collect::<Vec<Op>>();
    // Ranks by cell count are one reading of each grid's colours; a table learned on top
    // of them fits too easily (on held-out training pairs, three of four such fits were
    // wrong), so it only answers.
    let (learned, plain): (Vec<Vec<Op>>, Vec<Vec<Op>>) =
        more.solutions.into_iter().partition(|steps| steps.iter().any(Op::is_learned));
    found.solutions = plain.into_iter().map(unranked).collect();
    found.untrusted.extend(learned.into_iter().chain(more.untrusted).map(unranked));
    found
}

/// The task with each grid's colours replaced by their ranks in its input
/// ([`ops::rank_colours`]), the outputs taking their input's ranks, and the colours kept
/// as they are: those the training outputs add, which no input holds. `None` where that
/// tells nothing new (every input ranks its colours alike) or where an output adds a
/// colour some input holds.
pub fn ranked_task(task: &Task) -> Option<(Task, Vec<i64>)> {
    let first = ops::colour_ranks(&task.train.first()?.input);
    let inputs = || task.train.iter().map(|e| &e.input).chain(task.test.iter().map(|t| &t.input));
    if inputs().all(|g| ops::colour_ranks(g) == first) {
        return None;
    }
    let present = |g: &Grid| -> u16 { ops::palette(g).iter().fold(0, |m, &c| m | 1 << c) };
    let added = task.train.iter().fold(0u16, |m, e| m | (present(&e.output) & !present(&e.input)));
    if inputs().any(|g| present(g) & added != 0) {
        return None;
    }
    let keep: Vec<i64> = (0..crate::grid::COLOURS as i64).filter(|&c| added & 1 << c != 0).collect();
    // An output in its input's ranks; `None` for a colour it adds that is not kept.
    let rank_by = |g: &Grid, of: &Grid| -> Option<Grid> {
        let table = ops::rank_table(of, &keep).ok()?;
        let mut out = g.clone();
        for v in out.cells_mut() {
            *v = table[*v as usize]?;
        }
        Some(out)
    };
    let train = task
        .train
        .iter()
        .map(|e| {
            Some(Example { input: ops::rank_colours(&e.input, &keep).ok()?, output: rank_by(&e.output, &e.input)? })
        })
        .collect::<Option<Vec<Example>>>()?;
    let test = task
        .test
        .iter()
        .map(|t| {
            Some(TestPair {
                input: ops::rank_colours(&t.input, &keep).ok()?,
                output: t.output.as_ref().and_then(|o| rank_by(o, &t.input)),
            })
        })
        .collect::<Option<Vec<TestPair>>>()?;
    Some((Task { id: task.id.clone(), train, test }, keep))
}

fn find_compositions(task: &Task, budget: Budget) -> Found {
    let start = Instant::now();
    let ops = transforms(task);
    // What the training outputs tell (any of 10 colours per cell) against what choosing
    // a composition takes (one of the transforms per step): where the outputs hold no
    // more, as a few 1x1 answers do, some composition of that depth fits by chance.
    let evidence_bits = task.train.iter().map(|e| e.output.cells().len() as f64).sum::<f64>() * 10f64.log2();
    let step_bits = (ops.len() as f64).log2();
    let targets: Vec<Grid> = task.train.iter().map(|e| e.output.clone()).collect();
    let mut found = Found::default();
    let mut seen: HashSet<u64> = HashSet::new();
    let inputs: Vec<Grid> = task.train.iter().map(|e| e.input.clone()).collect();
    seen.insert(fingerprint(&inputs));
    if inputs == targets {
        found.solutions.push(Vec::new());
        return found;
    }
    let tests: Vec<Grid> = task.test.iter().map(|t| t.input.clone()).collect();
    let mut frontier = vec![State { steps: Vec::new(), outputs: inputs }];
    let mut ruled: Vec<Ruled> = Vec::new();
    // Compositions through a colour table that cannot be trusted only fit.
    let table_trusted = recolor_trusted(task);
    if budget.rule_depth.is_some() {
        ruled.extend(learn_rules(
            &frontier[0],
            &targets,
            &tests,
            rules::LearnLimits { max_features: 3, max_rules: 4, deadline: Some(start + budget.time) },
        ));
    }
    let mut best: Option<(Vec<Op>, f64)> = None;
    let mut stop_here = false;
    // Every state built on, for the layered compositions tried when nothing fits.
    let mut past: Vec<State> = Vec::new();
    for depth in 1..=budget.max_depth {
        let last = depth == budget.max_depth;
        let mut next: Vec<State> = Vec::new();
        for chunk in frontier.chunks(16) {
            if start.elapsed() >= budget.time {
                found.timed_out = true;
                break;
            }
            // On the last level a candidate only matters as a fit or as a better near miss
            // (every output of its target's shape), so the others stop at the first output
            // of the wrong shape, or once even right later outputs could not beat the best
            // near miss, and are neither hashed nor collected.
            let floor = best.as_ref().map_or(f64::NEG_INFINITY, |(_, b)| *b);
            let pairs = targets.len() as f64;
            let children: Vec<(Vec<Op>, Vec<Grid>, u64)> = chunk
                .par_iter()
                .flat_map_iter(|s| ops.iter().map(move |op| (s, op)))
                .filter_map(|(s, op)| {
                    let mut outs = Vec::with_capacity(targets.len());
                    let (mut exact, mut acc) = (true, 0.0);
                    for (i, (g, t)) in s.outputs.iter().zip(&targets).enumerate() {
                        let o = op.apply(g).filter(|o| o.rows() <= 30 && o.cols() <= 30)?;
                        if last {
                            if o.shape() != t.shape() {
                                return None;
                            }
                            exact &= o == *t;
                            acc += crate::evaluate::cell_accuracy(&o, t);
                            // The margin keeps candidates whose accuracy ties the best
                            // but for rounding, which the full sum may still rank above.
                            if !exact && (acc + pairs - 1.0 - i as f64) / pairs + 1e-9 <= floor {
                                return None;
                            }
                        }
                        outs.push(o);
                    }
                    let mut steps = s.steps.clone();
                    steps.push(op.clone());
                    let fp = fingerprint(&outs);
                    Some((steps, outs, fp))
                })
                .collect();
            found.candidates += (chunk.len() * ops.len() * task.train.len()) as u64;
            for (steps, outs, fp) in children {
                // A repeat on the last level is dropped as before, but not remembered:
                // nothing is built on it.
                let new = if last { !seen.contains(&fp) } else { seen.insert(fp) };
                // Programs that fit alike may still differ on the test inputs (objects
                // cut another way, a rank the training pairs never showed), so every
                // fit is kept while there is room; other repeats are dropped.
                if !new && outs != targets {
                    continue;
                }
                if outs == targets {
                    // A fit through pair colours, or one the outputs cannot tell from a
                    // coincidence, is the simplest explanation found: it ends the search
                    // at its depth as a solution would (deeper levels only add
                    // coincidences), but only answers.
                    let by_chance =
                        steps.len() as f64 * step_bits >= evidence_bits || fits_by_pair_colours(&steps, task);
                    stop_here |= by_chance;
                    let fitted_only =
                        by_chance || (!table_trusted && steps.iter().any(|o| matches!(o, Op::RecolorTable(_))));
                    let list = if fitted_only { &mut found.untrusted } else { &mut found.solutions };
                    if list.len() < budget.max_solutions {
                        list.push(steps);
                    }
                    continue;
                }
                if outs.iter().zip(&targets).all(|(o, t)| o.shape() == t.shape()) {
                    let acc = accuracy(&outs, task);
                    if best.as_ref().is_none_or(|(_, b)| acc > *b) {
                        best = Some((steps.clone(), acc));
                    }
                }
                if !last && next.len() < budget.max_states {
                    next.push(State { steps, outputs: outs });
                }
            }
        }
        if found.timed_out {
            break;
        }
        if budget.rule_depth.is_some_and(|d| depth <= d) && ruled.len() < budget.max_solutions {
            let more: Vec<Ruled> = next
                .par_iter()
                .flat_map_iter(|s| {
                    // Rules cost more than a transform: stop learning at the deadline.
                    if start.elapsed() >= budget.time {
                        return Vec::new();
                    }
                    learn_rules(
                        s,
                        &targets,
                        &tests,
                        rules::LearnLimits { max_features: 2, max_rules: 2, deadline: Some(start + budget.time) },
                    )
                })
                .collect();
            ruled.extend(more);
        }
        found.depth_done = depth;
        if !found.solutions.is_empty() || stop_here {
            break;
        }
        past.append(&mut frontier);
        frontier = next;
    }
    past.append(&mut frontier);
    if found.solutions.is_empty() {
        // Rules that hold out are solutions; the others only fit (a table that memorises
        // the training pairs fits them too). Of either, only the rules that know most
        // about the test inputs (a rule that has never seen a cell's surroundings leaves
        // the cell as it is, which is usually wrong).
        let (trusted, untrusted): (Vec<Ruled>, Vec<Ruled>) = ruled.into_iter().partition(|r| r.holds_out);
        let best = |rs: Vec<Ruled>| -> Vec<Vec<Op>> {
            let most = rs.iter().map(|r| r.coverage).fold(0.0, f64::max);
            rs.into_iter().filter(|r| r.coverage == most).map(|r| r.steps).take(budget.max_solutions).collect()
        };
        found.solutions = best(trusted);
        if found.solutions.is_empty() {
            found.untrusted.extend(best(untrusted));
        }
    }
    if found.solutions.is_empty() && !stop_here {
        // Where nothing fits, two compositions laid one over the other. Those that do not
        // hold out only answer, and only where no simpler fit does. This runs after a
        // search that may have used the whole budget, so it gets a tenth more.
        let deadline = start + budget.time + budget.time / 10;
        let (layered, holds_out) = find_layered(&past, &targets, budget.max_solutions, deadline);
        let nothing_else = found.untrusted.is_empty();
        for l in layered {
            let steps = l.base.len() + l.top.len();
            let trusted = holds_out && (steps as f64) * step_bits < evidence_bits;
            if !trusted && !nothing_else {
                continue;
            }
            let list = if trusted { &mut found.solutions } else { &mut found.untrusted };
            list.push(vec![Op::Layered(Arc::new(l))]);
        }
    }
    found.best_near_miss = best;
    found
}

/// Pairs of compositions put together ([`Layered`]) that reproduce every training
/// output. A top decides some cells and is right on all of them: laid over the base, the
/// cells it paints (off its own background); with the base inside it, the cells it leaves
/// to its background. The base must be right on every other cell. Fewest steps first,
/// with whether they hold out: for every training pair, the first pair of compositions
/// that fits the others fits it too (none do where there is one training pair, nor where
/// the `deadline` cut the search short).
fn find_layered(pool: &[State], targets: &[Grid], most: usize, deadline: Instant) -> (Vec<Layered>, bool) {
    let n = targets.len();
    // Pairs are bits of a u32; base indices into the pool and top indices (two per
    // state) are packed in 23 and 24 bits below.
    if n == 0 || n >= 32 || pool.len() >= 1 << 23 {
        return (Vec::new(), false);
    }
    // Each training pair's cells start a word of their own.
    let starts: Vec<usize> = targets
        .iter()
        .scan(0, |at, t| {
            let s = *at;
            *at += t.cells().len().div_ceil(64);
            Some(s)
        })
        .collect();
    let words = starts.last().map_or(0, |s| s + targets[n - 1].cells().len().div_ceil(64));
    let span = |p: usize| starts[p]..starts.get(p + 1).copied().unwrap_or(words);
    // Per state: the cells it gets wrong and the cells it paints.
    let masks = |s: &State| -> Option<(Vec<u64>, Vec<u64>)> {
        if s.steps.iter().any(Op::is_learned) || s.outputs.iter().zip(targets).any(|(o, t)| o.shape() != t.shape()) {
            return None;
        }
        let (mut wrong, mut painted) = (vec![0u64; words], vec![0u64; words]);
        for ((o, t), &start) in s.outputs.iter().zip(targets).zip(&starts) {
            let bg = ops::background(o);
            for (i, (&v, &w)) in o.cells().iter().zip(t.cells()).enumerate() {
                let (word, bit) = (start + i / 64, 1u64 << (i % 64));
                if v != w {
                    wrong[word] |= bit;
                }
                if v != bg {
                    painted[word] |= bit;
                }
            }
        }
        Some((wrong, painted))
    };
    let all = (1u32 << n) - 1;
    let mut bases: Vec<(usize, Vec<u64>)> = Vec::new();
    // Tops: the state, how it is laid, the cells it decides, and the pairs on which it
    // is right on all of them (all, or all but one).
    let mut tops: Vec<(usize, Laying, Vec<u64>, u32)> = Vec::new();
    let (mut seen_wrong, mut seen_decided) = (HashSet::new(), HashSet::new());
    for (i, s) in pool.iter().enumerate() {
        let Some((wrong, painted)) = masks(s) else { continue };
        if painted.iter().any(|&p| p != 0) {
            let unpainted: Vec<u64> = painted.iter().map(|p| !p).collect();
            for (how, decided) in [(Laying::Over, painted), (Laying::Inside, unpainted)] {
                let consistent =
                    (0..n).filter(|&p| span(p).all(|k| wrong[k] & decided[k] == 0)).fold(0u32, |m, p| m | 1 << p);
                if consistent.count_ones() + 1 >= n as u32 && seen_decided.insert((how, decided.clone(), consistent)) {
                    tops.push((i, how, decided, consistent));
                }
            }
        }
        if seen_wrong.insert(wrong.clone()) {
            bases.push((i, wrong));
        }
    }
    // Pairs of compositions are ranked by their steps, then by the order the search built
    // them in. Kept: those exact on every training pair, and for each pair, the first
    // exact on the others, with whether it is exact on that one too.
    let rank = |a: usize, t: usize| {
        ((pool[a].steps.len() + pool[tops[t].0].steps.len()) as u64) << 48 | (a as u64) << 24 | t as u64
    };
    let mut fits: Vec<(usize, usize)> = Vec::new();
    let mut first_without: Vec<Option<(u64, bool)>> = vec![None; n];
    let mut finished = true;
    for (i, (a, wrong)) in bases.iter().enumerate() {
        if i % 64 == 0 && Instant::now() >= deadline {
            finished = false;
            break;
        }
        for (t, (_, _, decided, consistent)) in tops.iter().enumerate() {
            let mut exact = *consistent;
            for p in 0..n {
                if exact & 1 << p != 0 && span(p).any(|k| wrong[k] & !decided[k] != 0) {
                    exact &= !(1 << p);
                    if exact.count_ones() + 1 < n as u32 {
                        break;
                    }
                }
            }
            if exact.count_ones() + 1 < n as u32 {
                continue;
            }
            let key = rank(*a, t);
            for (p, first) in first_without.iter_mut().enumerate() {
                let others = all & !(1 << p);
                if exact & others == others && first.is_none_or(|(k, _)| key < k) {
                    *first = Some((key, exact == all));
                }
            }
            if exact == all {
                fits.push((*a, t));
                if fits.len() >= 4096 {
                    fits.sort_by_key(|&(a, t)| rank(a, t));
                    fits.truncate(most);
                }
            }
        }
    }
    fits.sort_by_key(|&(a, t)| rank(a, t));
    let holds_out = finished && n >= 2 && first_without.iter().all(|f| f.is_some_and(|(_, exact)| exact));
    let found = fits
        .into_iter()
        .take(most)
        .map(|(a, t)| Layered { base: pool[a].steps.clone(), top: pool[tops[t].0].steps.clone(), how: tops[t].1 })
        .collect();
    (found, holds_out)
}
