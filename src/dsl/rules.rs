//! Local rewrite rules: each cell is described by a key made of its own colour and a few
//! named features of its surroundings, and a table from keys to colours rewrites every
//! cell at once. The enumerator learns such tables from same-shape training pairs (most
//! ARC tasks keep the grid's shape and change cells by what is around them), choosing
//! the fewest features that explain every pair; programs can write them by hand too.
//!
//! A key is the cell's colour then each feature's value, joined by commas: with features
//! `"n,e"` the key of a red cell with black above and nothing to its right is `"2,0,x"`
//! (`x`: outside the grid, or none). Keys are computed on the input grid, so a rewrite is
//! simultaneous, never cascading.

use std::collections::{HashMap, HashSet};

use super::objects::{self, ObjectOptions};
use super::ops::{self, DslError, R};
use crate::grid::Grid;

/// A cell feature: its name in programs and what it measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// Colour of the neighbour in direction `DIRS[i]` (`n ne e se s sw w nw`).
    Neighbour(u8),
    /// First non-background colour looking in direction `DIRS[i]`.
    Ray(u8),
    /// Non-background colours in the cell's row.
    Row,
    /// Non-background colours in the cell's column.
    Col,
    /// Cells in the cell's single-colour 4-connected component (`x` for background).
    Size,
    /// Non-background colours among the 4 edge neighbours.
    Sides,
    /// Non-background colours among the 4 diagonal neighbours.
    Corners,
    /// Non-background colours among all 8 neighbours.
    Around,
    /// Non-background cells among the 8 neighbours.
    Count8,
    /// Non-background cells among the 4 edge neighbours.
    Count4,
    /// 1 on the grid's border.
    Border,
    /// Background cell walled in (not 4-connected to the border through background).
    Enclosed,
    /// 1 when the first non-background colours to the left and right are the same.
    BetweenH,
    /// 1 when the first non-background colours above and below are the same.
    BetweenV,
    /// 1 when the cell's single-colour region touches the border (`x` for background).
    Touches,
    /// 1 when the cell's single-colour region fills its bounding box (`x` for background).
    Rect,
    RowMod2,
    ColMod2,
    RowMod3,
    ColMod3,
    /// Row number counted from the bottom, mod 2.
    RowMod2Up,
    /// Column number counted from the right, mod 2.
    ColMod2Left,
}

const DIRS: [(i64, i64); 8] = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)];
/// Indices into `DIRS` of the edge and the diagonal neighbours.
const EDGES: [usize; 4] = [0, 2, 4, 6];
const DIAGONALS: [usize; 4] = [1, 3, 5, 7];
const DIR_NAMES: [&str; 8] = ["n", "ne", "e", "se", "s", "sw", "w", "nw"];

impl Feature {
    /// Every feature, in the order the learner prefers them.
    pub fn all() -> Vec<Feature> {
        let mut v: Vec<Feature> = (0..8).map(Feature::Neighbour).collect();
        v.extend((0..8).map(Feature::Ray));
        v.extend([
            Feature::Row,
            Feature::Col,
            Feature::Size,
            Feature::Sides,
            Feature::Corners,
            Feature::Around,
            Feature::Count8,
            Feature::Count4,
            Feature::Border,
            Feature::Enclosed,
            Feature::BetweenH,
            Feature::BetweenV,
            Feature::Touches,
            Feature::Rect,
            Feature::RowMod2,
            Feature::ColMod2,
            Feature::RowMod3,
            Feature::ColMod3,
            Feature::RowMod2Up,
            Feature::ColMod2Left,
        ]);
        v
    }

    pub fn name(self) -> String {
        match self {
            Feature::Neighbour(d) => DIR_NAMES[d as usize].to_string(),
            Feature::Ray(d) => format!("ray_{}", DIR_NAMES[d as usize]),
            Feature::Row => "row".into(),
            Feature::Col => "col".into(),
            Feature::Size => "size".into(),
            Feature::Sides => "sides".into(),
            Feature::Corners => "corners".into(),
            Feature::Around => "around".into(),
            Feature::Count8 => "count8".into(),
            Feature::Count4 => "count4".into(),
            Feature::Border => "border".into(),
            Feature::Enclosed => "enclosed".into(),
            Feature::BetweenH => "between_h".into(),
            Feature::BetweenV => "between_v".into(),
            Feature::Touches => "touches".into(),
            Feature::Rect => "rect".into(),
            Feature::RowMod2 => "row_mod2".into(),
            Feature::ColMod2 => "col_mod2".into(),
            Feature::RowMod3 => "row_mod3".into(),
            Feature::ColMod3 => "col_mod3".into(),
            Feature::RowMod2Up => "row_mod2_up".into(),
            Feature::ColMod2Left => "col_mod2_left".into(),
        }
    }

    /// Reads a comma-separated feature list (`""`: the cell's colour alone).
    pub fn parse_list(s: &str) -> R<Vec<Feature>> {
        let all = Feature::all();
        s.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| {
                all.iter().copied().find(|f| f.name() == n).ok_or_else(|| {
                    DslError(format!(
                        "unknown cell feature {n:?} (n ne e se s sw w nw, ray_n .. ray_nw, row, col, sides, corners, around, size, touches, rect, count8, count4, border, enclosed, between_h, between_v, row_mod2, col_mod2, row_mod3, col_mod3, row_mod2_up, col_mod2_left)"
                    ))
                })
            })
            .collect()
    }

    /// Whether its value is a colour (neighbours and rays).
    pub fn is_colour(self) -> bool {
        matches!(self, Feature::Neighbour(_) | Feature::Ray(_))
    }

    pub fn list_name(features: &[Feature]) -> String {
        features.iter().map(|f| f.name()).collect::<Vec<_>>().join(",")
    }
}

const NONE: u16 = u16::MAX;

/// The first non-background colour from (r, c) in direction `DIRS[d]`, if any.
fn first_seen(g: &Grid, bg: u8, r: i64, c: i64, d: usize) -> Option<u8> {
    let (dr, dc) = DIRS[d];
    let (mut i, mut j) = (r + dr, c + dc);
    while let Some(v) = g.at(i, j) {
        if v != bg {
            return Some(v);
        }
        i += dr;
        j += dc;
    }
    None
}

/// Every feature's value at every cell of one grid, as small numbers (`NONE` for `x`;
/// colour sets as bit masks).
pub struct CellFeatures {
    features: Vec<Feature>,
    /// `values[cell * features.len() + f]`.
    values: Vec<u16>,
}

impl CellFeatures {
    pub fn new(g: &Grid, features: &[Feature]) -> CellFeatures {
        let (h, w) = g.shape();
        let bg = ops::background(g);
        let needs = |f: fn(&Feature) -> bool| features.iter().any(f);
        // Per cell, its single-colour region's (size, touches the border, fills its box).
        let mut regions = Vec::new();
        if needs(|f| matches!(f, Feature::Size | Feature::Touches | Feature::Rect)) {
            regions = vec![(0u16, 0u16, 0u16); h * w];
            let opt = ObjectOptions { diagonal: false, multicolour: false, background: Some(bg) };
            for o in objects::objects(g, opt) {
                let facts = (o.size() as u16, u16::from(o.touches_border(h, w)), u16::from(o.is_rect()));
                for &(r, c, _) in o.cells() {
                    regions[r as usize * w + c as usize] = facts;
                }
            }
        }
        let enclosed = if needs(|f| *f == Feature::Enclosed) { ops::enclosed(g, bg) } else { Vec::new() };
        let mask = |it: &mut dyn Iterator<Item = u8>| it.filter(|&v| v != bg).fold(0u16, |m, v| m | (1 << v));
        let row_sets: Vec<u16> = (0..h).map(|r| mask(&mut (0..w).map(|c| g.get(r, c)))).collect();
        let col_sets: Vec<u16> = (0..w).map(|c| mask(&mut (0..h).map(|r| g.get(r, c)))).collect();
        let mut values = Vec::with_capacity(h * w * features.len());
        for r in 0..h {
            for c in 0..w {
                let (ri, ci) = (r as i64, c as i64);
                for f in features {
                    let v = match *f {
                        Feature::Neighbour(d) => {
                            let (dr, dc) = DIRS[d as usize];
                            g.at(ri + dr, ci + dc).map_or(NONE, u16::from)
                        }
                        Feature::Ray(d) => first_seen(g, bg, ri, ci, d as usize).map_or(NONE, u16::from),
                        Feature::Row => row_sets[r],
                        Feature::Col => col_sets[c],
                        Feature::Size | Feature::Touches | Feature::Rect => match regions[r * w + c] {
                            (0, ..) => NONE,
                            (size, touches, rect) => match *f {
                                Feature::Size => size,
                                Feature::Touches => touches,
                                _ => rect,
                            },
                        },
                        Feature::BetweenH | Feature::BetweenV => {
                            let (a, b) = if *f == Feature::BetweenH { (6, 2) } else { (0, 4) };
                            let (x, y) = (first_seen(g, bg, ri, ci, a), first_seen(g, bg, ri, ci, b));
                            u16::from(x.is_some() && x == y)
                        }
                        Feature::Sides | Feature::Corners | Feature::Around => {
                            let dirs: &[usize] = match *f {
                                Feature::Sides => &EDGES,
                                Feature::Corners => &DIAGONALS,
                                _ => &[0, 1, 2, 3, 4, 5, 6, 7],
                            };
                            dirs.iter()
                                .filter_map(|&d| g.at(ri + DIRS[d].0, ci + DIRS[d].1))
                                .filter(|&v| v != bg)
                                .fold(0u16, |m, v| m | (1 << v))
                        }
                        Feature::Count8 => {
                            DIRS.iter().filter(|&&(dr, dc)| g.at(ri + dr, ci + dc).is_some_and(|v| v != bg)).count()
                                as u16
                        }
                        Feature::Count4 => EDGES
                            .iter()
                            .filter(|&&d| g.at(ri + DIRS[d].0, ci + DIRS[d].1).is_some_and(|v| v != bg))
                            .count() as u16,
                        Feature::Border => u16::from(r == 0 || c == 0 || r == h - 1 || c == w - 1),
                        Feature::Enclosed => u16::from(enclosed[r * w + c]),
                        Feature::RowMod2 => (r % 2) as u16,
                        Feature::ColMod2 => (c % 2) as u16,
                        Feature::RowMod3 => (r % 3) as u16,
                        Feature::ColMod3 => (c % 3) as u16,
                        Feature::RowMod2Up => ((h - 1 - r) % 2) as u16,
                        Feature::ColMod2Left => ((w - 1 - c) % 2) as u16,
                    };
                    values.push(v);
                }
            }
        }
        CellFeatures { features: features.to_vec(), values }
    }

    /// The value of feature number `f` (an index into the features given to `new`) at `cell`.
    pub fn value(&self, cell: usize, f: usize) -> u16 {
        self.values[cell * self.features.len() + f]
    }

    /// The program-facing key of `cell` for the features at `which` (indices).
    pub fn key(&self, own: u8, cell: usize, which: &[usize]) -> String {
        let mut k = own.to_string();
        for &f in which {
            k.push(',');
            let v = self.value(cell, f);
            match self.features[f] {
                _ if v == NONE => k.push('x'),
                Feature::Row | Feature::Col | Feature::Sides | Feature::Corners | Feature::Around => {
                    (0..10).filter(|c| v & (1 << c) != 0).for_each(|c| k.push((b'0' + c as u8) as char))
                }
                _ => k.push_str(&v.to_string()),
            }
        }
        k
    }
}

/// The key of every cell, in reading order.
pub fn cell_keys(g: &Grid, features: &[Feature]) -> Vec<String> {
    let cf = CellFeatures::new(g, features);
    let which: Vec<usize> = (0..features.len()).collect();
    g.cells().iter().enumerate().map(|(k, &own)| cf.key(own, k, &which)).collect()
}

/// The key of one cell; `None` outside the grid.
pub fn cell_key(g: &Grid, r: i64, c: i64, features: &[Feature]) -> Option<String> {
    g.at(r, c)?;
    Some(cell_keys(g, features).swap_remove(r as usize * g.cols() + c as usize))
}

/// Every cell whose key is in `table` takes the colour the table gives; others stay.
pub fn rewrite(g: &Grid, features: &[Feature], table: &HashMap<String, u8>) -> Grid {
    let keys = cell_keys(g, features);
    let mut out = g.clone();
    for (v, k) in out.cells_mut().iter_mut().zip(&keys) {
        if let Some(&to) = table.get(k) {
            *v = to;
        }
    }
    out
}

/// Each cell whose key is in `keys` takes the colour its `source` feature names (a
/// neighbour's or a ray's colour), when it names one; others stay.
pub fn copy_colour(g: &Grid, source: Feature, features: &[Feature], keys: &HashSet<String>) -> R<Grid> {
    if !source.is_colour() {
        return Err(DslError(format!(
            "copy_color: source {:?} is not a colour (use a neighbour or a ray: n .. nw, ray_n .. ray_nw)",
            source.name()
        )));
    }
    let cf = CellFeatures::new(g, &[source]);
    let keys_of = cell_keys(g, features);
    let mut out = g.clone();
    for (cell, (v, k)) in out.cells_mut().iter_mut().zip(&keys_of).enumerate() {
        let from = cf.value(cell, 0);
        if from != NONE && keys.contains(k) {
            *v = from as u8;
        }
    }
    Ok(out)
}

/// What a learned rule does to the cells whose key it lists.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// Key -> new colour, sorted by key.
    Paint(Vec<(String, u8)>),
    /// These keys (sorted) take the colour of the source feature.
    Copy(Feature, Vec<String>),
}

/// A learned rule: the features of its keys and what it does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    pub features: Vec<Feature>,
    pub action: Action,
}

impl Rule {
    pub fn apply(&self, g: &Grid) -> Grid {
        match &self.action {
            Action::Paint(changes) => rewrite(g, &self.features, &changes.iter().cloned().collect()),
            Action::Copy(source, keys) => copy_colour(g, *source, &self.features, &keys.iter().cloned().collect())
                .expect("learned sources are colours"),
        }
    }

    /// Entries in its table.
    pub fn entries(&self) -> usize {
        match &self.action {
            Action::Paint(c) => c.len(),
            Action::Copy(_, k) => k.len(),
        }
    }

    /// Features it reads, the copy source included.
    pub fn complexity(&self) -> usize {
        self.features.len() + matches!(self.action, Action::Copy(..)) as usize
    }
}

/// Settings for [`learn`].
#[derive(Debug, Clone, Copy)]
pub struct LearnLimits {
    /// Most features in one rule.
    pub max_features: usize,
    /// Most rules returned.
    pub max_rules: usize,
    /// Stop trying feature sets at this instant (what was found by then is returned).
    pub deadline: Option<std::time::Instant>,
}

/// Rules that turn each grid of `inputs` into the same-shape grid of `targets`: the
/// feature sets, fewest first, under which no key needs two colours (or both to change
/// and to stay) and that change something. A rule either paints each listed key in a
/// colour, or makes listed keys take the colour of a source feature (which generalises
/// to colours training never showed; the source counts as one more feature). Among the
/// rules of the smallest size that works, those whose keys cover most of the `tests`
/// cells come first (a cell whose key training never saw is left as it is, which is
/// usually wrong), then smaller tables. Each rule comes with that coverage (the least
/// over the test grids) and whether it holds out across the training pairs.
pub fn learn(inputs: &[Grid], targets: &[Grid], tests: &[Grid], limits: LearnLimits) -> Vec<Learned> {
    if inputs.is_empty() || inputs.iter().zip(targets).any(|(g, t)| g.shape() != t.shape()) || inputs == targets {
        return Vec::new();
    }
    let all = Feature::all();
    let train: Vec<CellFeatures> = inputs.iter().map(|g| CellFeatures::new(g, &all)).collect();
    let test: Vec<CellFeatures> = tests.iter().map(|g| CellFeatures::new(g, &all)).collect();
    let pack = |cf: &CellFeatures, own: u8, cell: usize, which: &[usize]| -> u64 {
        which.iter().fold(u64::from(own), |h, &f| h.wrapping_mul(0x100000001b3) ^ (u64::from(cf.value(cell, f)) + 1))
    };
    // Every (train grid, cell, from, to), but those of the pair `skip`.
    let cells = |skip: Option<usize>| {
        train.iter().zip(inputs).zip(targets).enumerate().filter(move |&(i, _)| Some(i) != skip).flat_map(
            |(_, ((cf, g), t))| {
                g.cells().iter().zip(t.cells()).enumerate().map(move |(cell, (&from, &to))| (cf, cell, from, to))
            },
        )
    };
    let coverage = |seen: &HashSet<u64>, which: &[usize]| {
        test.iter()
            .zip(tests)
            .map(|(cf, g)| {
                let known = g
                    .cells()
                    .iter()
                    .enumerate()
                    .filter(|&(cell, &own)| seen.contains(&pack(cf, own, cell, which)))
                    .count();
                known as f64 / g.cells().len().max(1) as f64
            })
            .fold(1.0, f64::min)
    };
    let features_of = |which: &[usize]| which.iter().map(|&f| all[f]).collect::<Vec<_>>();
    let paint = |which: &[usize], skip: Option<usize>| -> Option<(Rule, f64)> {
        let mut seen: HashMap<u64, Option<u8>> = HashMap::new();
        for (cf, cell, from, to) in cells(skip) {
            let want = (from != to).then_some(to);
            if *seen.entry(pack(cf, from, cell, which)).or_insert(want) != want {
                return None;
            }
        }
        let changes: HashSet<(String, u8)> =
            cells(skip).filter(|c| c.2 != c.3).map(|(cf, cell, from, to)| (cf.key(from, cell, which), to)).collect();
        let mut changes: Vec<(String, u8)> = changes.into_iter().collect();
        changes.sort();
        let known: HashSet<u64> = seen.into_keys().collect();
        Some((Rule { features: features_of(which), action: Action::Paint(changes) }, coverage(&known, which)))
    };
    let copy = |which: &[usize], source: usize, skip: Option<usize>| -> Option<(Rule, f64)> {
        // Per key: (every cell allows keeping it, every cell allows copying the source).
        let mut seen: HashMap<u64, (bool, bool)> = HashMap::new();
        for (cf, cell, from, to) in cells(skip) {
            let v = cf.value(cell, source);
            let keep = from == to;
            let take = if v == NONE { keep } else { u16::from(to) == v };
            let e = seen.entry(pack(cf, from, cell, which)).or_insert((true, true));
            (e.0, e.1) = (e.0 && keep, e.1 && take);
            if !e.0 && !e.1 {
                return None;
            }
        }
        let copying: HashSet<u64> = seen.iter().filter(|(_, &(keep, _))| !keep).map(|(&k, _)| k).collect();
        if copying.is_empty() {
            return None;
        }
        let keys: HashSet<String> = cells(skip)
            .filter(|c| copying.contains(&pack(c.0, c.2, c.1, which)))
            .map(|(cf, cell, from, _)| cf.key(from, cell, which))
            .collect();
        let mut keys: Vec<String> = keys.into_iter().collect();
        keys.sort();
        let known: HashSet<u64> = seen.into_keys().collect();
        Some((Rule { features: features_of(which), action: Action::Copy(all[source], keys) }, coverage(&known, which)))
    };
    // The rule of one kind (features `which`, a copy `source` or none), learned without
    // the pair `skip`.
    let fit = |which: &[usize], source: Option<usize>, skip: Option<usize>| match source {
        None => paint(which, skip),
        Some(s) => copy(which, s, skip),
    };
    // Learned again without each pair in turn, the rule still turns that pair's input
    // into its output; a table that memorises the pairs does not. One pair cannot tell.
    let holds_out = |which: &[usize], source: Option<usize>| {
        inputs.len() >= 2
            && (0..inputs.len())
                .all(|i| fit(which, source, Some(i)).is_some_and(|(r, _)| r.apply(&inputs[i]) == targets[i]))
    };
    let sources: Vec<usize> = (0..all.len()).filter(|&f| all[f].is_colour()).collect();
    let late = || limits.deadline.is_some_and(|d| std::time::Instant::now() >= d);
    for size in 0..=limits.max_features.min(3) {
        // (rule, coverage, its features, its copy source)
        let mut found: Vec<(Rule, f64, Vec<usize>, Option<usize>)> = Vec::new();
        for which in subsets(all.len(), size).into_iter().take_while(|_| !late()) {
            if let Some((rule, coverage)) = fit(&which, None, None) {
                found.push((rule, coverage, which, None));
            }
        }
        if size > 0 {
            for which in subsets(all.len(), size - 1).iter().take_while(|_| !late()) {
                for &s in sources.iter().filter(|s| !which.contains(s)) {
                    if let Some((rule, coverage)) = fit(which, Some(s), None) {
                        found.push((rule, coverage, which.clone(), Some(s)));
                    }
                }
            }
        }
        if !found.is_empty() {
            found.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.entries().cmp(&b.0.entries())));
            found.truncate(limits.max_rules);
            return found
                .into_iter()
                .map(|(rule, coverage, which, source)| Learned { holds_out: holds_out(&which, source), rule, coverage })
                .collect();
        }
        if late() {
            break;
        }
    }
    Vec::new()
}

/// A rule [`learn`] found.
#[derive(Debug, Clone)]
pub struct Learned {
    pub rule: Rule,
    /// The least share of a test grid's cells whose key the training pairs showed.
    pub coverage: f64,
    /// Learned again without each training pair in turn, the rule still predicts that
    /// pair (a table that only memorises the pairs fails; so does a rule from one pair).
    pub holds_out: bool,
}

/// All `k`-element subsets of `0..n`, in lexicographic order.
fn subsets(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut cur = Vec::with_capacity(k);
    fn rec(start: usize, n: usize, k: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if cur.len() == k {
            out.push(cur.clone());
            return;
        }
        for i in start..n {
            cur.push(i);
            rec(i + 1, n, k, cur, out);
            cur.pop();
        }
    }
    rec(0, n, k, &mut cur, &mut out);
    out
}

/// A colour check for table values read from programs.
pub fn table_from(pairs: impl IntoIterator<Item = (String, i64)>) -> R<HashMap<String, u8>> {
    pairs.into_iter().map(|(k, v)| Ok((k, ops::colour(v)?))).collect()
}
