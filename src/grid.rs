//! `Grid`: a rectangle of ARC colours, its exact symmetries (the dihedral group D8 and
//! colour permutations, each with an inverse) and its text form.
//!
//! **Invariant:** every `Grid` holds colours `0..=9` and has at least one row and one
//! column. Task grids are further limited to [`MAX_SIDE`]; the DSL may build larger
//! intermediate grids up to [`MAX_WORK_SIDE`], and the sandbox re-checks the final output.

use std::fmt;
use std::sync::Arc;

/// Largest side of an ARC grid (task inputs and outputs, program results).
pub const MAX_SIDE: usize = 30;
/// Largest side a DSL intermediate grid may have (e.g. a tiling before a crop).
pub const MAX_WORK_SIDE: usize = 120;
/// Number of ARC colours.
pub const COLOURS: usize = 10;

/// Why a list of rows is not a grid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GridError {
    #[error("grid is empty")]
    Empty,
    #[error("row {row} is empty")]
    EmptyRow { row: usize },
    #[error("row {row} has {len} cells, row 0 has {expected}")]
    Ragged { row: usize, len: usize, expected: usize },
    #[error("{rows}x{cols} is larger than {max}x{max}")]
    TooLarge { rows: usize, cols: usize, max: usize },
    #[error("cell ({row},{col}) has colour {value}, colours are 0..=9")]
    BadColour { row: usize, col: usize, value: i64 },
}

/// A rows x cols grid of colours 0..=9, stored row-major.
///
/// Copies share their cells: a clone is a reference count, and the first write to a
/// shared grid (`cells_mut`, `edit`, `set`) copies its cells. Programs copy grids at every
/// variable read and call argument, almost always to read them.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Grid {
    rows: usize,
    cols: usize,
    cells: Arc<[u8]>,
}

impl Grid {
    /// A task grid from rows of integers: rectangular, sides 1..=30, colours 0..=9.
    pub fn from_rows<R: AsRef<[i64]>>(rows: &[R]) -> Result<Grid, GridError> {
        Self::from_rows_max(rows, MAX_SIDE)
    }

    /// Like [`Grid::from_rows`] with another side limit.
    pub fn from_rows_max<R: AsRef<[i64]>>(rows: &[R], max: usize) -> Result<Grid, GridError> {
        let first = rows.first().ok_or(GridError::Empty)?.as_ref().len();
        let mut cells = Vec::with_capacity(rows.len() * first);
        for (r, row) in rows.iter().enumerate() {
            let row = row.as_ref();
            if row.is_empty() {
                return Err(GridError::EmptyRow { row: r });
            }
            if row.len() != first {
                return Err(GridError::Ragged { row: r, len: row.len(), expected: first });
            }
            for (c, &v) in row.iter().enumerate() {
                if !(0..COLOURS as i64).contains(&v) {
                    return Err(GridError::BadColour { row: r, col: c, value: v });
                }
                cells.push(v as u8);
            }
        }
        Self::check_size(rows.len(), first, max)?;
        Ok(Grid { rows: rows.len(), cols: first, cells: cells.into() })
    }

    /// A grid from row-major cells. Colours must already be 0..=9.
    pub fn from_cells(rows: usize, cols: usize, cells: Vec<u8>) -> Result<Grid, GridError> {
        Self::check_size(rows, cols, MAX_WORK_SIDE)?;
        assert_eq!(rows * cols, cells.len(), "cell count must match shape");
        if let Some(i) = cells.iter().position(|&v| v as usize >= COLOURS) {
            return Err(GridError::BadColour { row: i / cols, col: i % cols, value: cells[i] as i64 });
        }
        Ok(Grid { rows, cols, cells: cells.into() })
    }

    /// A grid of one colour.
    pub fn filled(rows: usize, cols: usize, colour: u8) -> Result<Grid, GridError> {
        Self::check_size(rows, cols, MAX_WORK_SIDE)?;
        if colour as usize >= COLOURS {
            return Err(GridError::BadColour { row: 0, col: 0, value: colour as i64 });
        }
        Ok(Grid { rows, cols, cells: std::iter::repeat_n(colour, rows * cols).collect() })
    }

    fn check_size(rows: usize, cols: usize, max: usize) -> Result<(), GridError> {
        if rows == 0 || cols == 0 {
            return Err(GridError::Empty);
        }
        if rows > max || cols > max {
            return Err(GridError::TooLarge { rows, cols, max });
        }
        Ok(())
    }

    /// Builds a grid of the given shape by calling `f(row, col)` for every cell.
    /// `f` must return colours 0..=9 (callers inside the crate guarantee it).
    pub(crate) fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> u8) -> Grid {
        debug_assert!(rows > 0 && cols > 0);
        let mut cells = Arc::<[u8]>::new_uninit_slice(rows * cols);
        let out = Arc::get_mut(&mut cells).expect("a new Arc is not shared");
        for (r, row) in out.chunks_exact_mut(cols).enumerate() {
            for (c, cell) in row.iter_mut().enumerate() {
                let v = f(r, c);
                debug_assert!((v as usize) < COLOURS);
                cell.write(v);
            }
        }
        // SAFETY: the rows of `cols` cells cover all `rows * cols` cells, each written.
        Grid { rows, cols, cells: unsafe { cells.assume_init() } }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
    /// Row-major cells.
    pub fn cells(&self) -> &[u8] {
        &self.cells
    }
    /// Row-major cells to write, copied first if another grid shares them.
    pub(crate) fn cells_mut(&mut self) -> &mut [u8] {
        Arc::make_mut(&mut self.cells)
    }
    /// The cells to write by position: one copy-on-write check for many writes.
    pub(crate) fn edit(&mut self) -> Edit<'_> {
        let (rows, cols) = self.shape();
        Edit { rows, cols, cells: self.cells_mut() }
    }
    pub fn get(&self, r: usize, c: usize) -> u8 {
        self.cells[r * self.cols + c]
    }
    /// The cell at (r, c), or `None` outside the grid.
    pub fn at(&self, r: i64, c: i64) -> Option<u8> {
        index(self.rows, self.cols, r, c).map(|k| self.cells[k])
    }
    /// Sets one cell (see `edit` for many).
    pub(crate) fn set(&mut self, r: usize, c: usize, v: u8) {
        self.edit().set(r, c, v);
    }
    pub fn row(&self, r: usize) -> &[u8] {
        &self.cells[r * self.cols..(r + 1) * self.cols]
    }
    /// Rows as vectors of integers (the JSON form).
    pub fn to_rows(&self) -> Vec<Vec<u8>> {
        (0..self.rows).map(|r| self.row(r).to_vec()).collect()
    }
    /// Whether every side is within the ARC limit of 30.
    pub fn is_task_sized(&self) -> bool {
        self.rows <= MAX_SIDE && self.cols <= MAX_SIDE
    }

    /// Cells per colour.
    pub fn histogram(&self) -> [usize; COLOURS] {
        // Four counters, so that runs of one colour do not wait on one another's
        // increments (the search asks for a background colour on every candidate).
        let mut lanes = [[0u32; COLOURS]; 4];
        let mut quads = self.cells.chunks_exact(4);
        for q in &mut quads {
            for (lane, &v) in lanes.iter_mut().zip(q) {
                lane[v as usize] += 1;
            }
        }
        quads.remainder().iter().for_each(|&v| lanes[0][v as usize] += 1);
        std::array::from_fn(|c| lanes.iter().map(|l| l[c] as usize).sum())
    }

    /// Applies a dihedral transform.
    pub fn transform(&self, t: Dihedral) -> Grid {
        let (r, c) = (self.rows, self.cols);
        match t {
            Dihedral::Identity => self.clone(),
            Dihedral::Rot90 => Grid::from_fn(c, r, |i, j| self.get(r - 1 - j, i)),
            Dihedral::Rot180 => Grid::from_fn(r, c, |i, j| self.get(r - 1 - i, c - 1 - j)),
            Dihedral::Rot270 => Grid::from_fn(c, r, |i, j| self.get(j, c - 1 - i)),
            Dihedral::FlipH => Grid::from_fn(r, c, |i, j| self.get(i, c - 1 - j)),
            Dihedral::FlipV => Grid::from_fn(r, c, |i, j| self.get(r - 1 - i, j)),
            Dihedral::Transpose => Grid::from_fn(c, r, |i, j| self.get(j, i)),
            Dihedral::AntiTranspose => Grid::from_fn(c, r, |i, j| self.get(r - 1 - j, c - 1 - i)),
        }
    }

    /// Recolours every cell through a permutation.
    pub fn permute_colours(&self, p: &ColourPerm) -> Grid {
        Grid { rows: self.rows, cols: self.cols, cells: self.cells.iter().map(|&v| p.0[v as usize]).collect() }
    }

    /// The text form used in prompts: one row of digits per line, no trailing newline.
    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(self.rows * (self.cols + 1));
        for r in 0..self.rows {
            if r > 0 {
                s.push('\n');
            }
            s.extend(self.row(r).iter().map(|&v| (b'0' + v) as char));
        }
        s
    }

    /// Parses the text form (rows of digits separated by newlines).
    pub fn from_text(text: &str) -> Result<Grid, GridError> {
        let rows: Vec<Vec<i64>> = text
            .trim_end_matches('\n')
            .split('\n')
            .map(|line| line.trim_end_matches('\r').bytes().map(|b| b as i64 - b'0' as i64).collect())
            .collect();
        Grid::from_rows(&rows)
    }

    /// A 64-bit fingerprint of shape and cells (FNV-1a), for fast deduplication.
    pub fn fingerprint(&self) -> u64 {
        fnv1a([self.rows as u8, self.cols as u8].into_iter().chain(self.cells.iter().copied()))
    }
}

/// A grid's cells opened for writing (`Grid::edit`).
pub(crate) struct Edit<'a> {
    rows: usize,
    cols: usize,
    cells: &'a mut [u8],
}

impl Edit<'_> {
    pub fn set(&mut self, r: usize, c: usize, v: u8) {
        self.cells[r * self.cols + c] = v;
    }
    /// Sets (r, c) if it is inside the grid.
    pub fn set_at(&mut self, r: i64, c: i64, v: u8) {
        if let Some(k) = index(self.rows, self.cols, r, c) {
            self.cells[k] = v;
        }
    }
    /// The cell at (r, c), or `None` outside the grid.
    pub fn at(&self, r: i64, c: i64) -> Option<u8> {
        index(self.rows, self.cols, r, c).map(|k| self.cells[k])
    }
}

/// The row-major index of (r, c) in a rows x cols grid, or `None` outside it.
fn index(rows: usize, cols: usize, r: i64, c: i64) -> Option<usize> {
    if r < 0 || c < 0 || r as usize >= rows || c as usize >= cols {
        None
    } else {
        Some(r as usize * cols + c as usize)
    }
}

/// FNV-1a over bytes: a fast, stable (not cryptographic) 64-bit hash.
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf29ce484222325, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

/// FNV-1a over 64-bit words, each mixed in whole: a fingerprint of fingerprints.
pub fn fnv1a_words(words: impl IntoIterator<Item = u64>) -> u64 {
    words.into_iter().fold(0xcbf29ce484222325, |h, w| (h ^ w).wrapping_mul(0x100000001b3))
}

impl fmt::Debug for Grid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Grid {}x{}\n{}", self.rows, self.cols, self.to_text())
    }
}

impl fmt::Display for Grid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl serde::Serialize for Grid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_rows().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Grid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Grid, D::Error> {
        let rows = Vec::<Vec<i64>>::deserialize(d)?;
        Grid::from_rows(&rows).map_err(serde::de::Error::custom)
    }
}

/// The eight symmetries of a rectangle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dihedral {
    Identity,
    /// Quarter turn clockwise.
    Rot90,
    Rot180,
    /// Quarter turn anticlockwise.
    Rot270,
    /// Mirror left-right.
    FlipH,
    /// Mirror top-bottom.
    FlipV,
    /// Mirror across the main diagonal.
    Transpose,
    /// Mirror across the anti-diagonal.
    AntiTranspose,
}

impl Dihedral {
    pub const ALL: [Dihedral; 8] = [
        Dihedral::Identity,
        Dihedral::Rot90,
        Dihedral::Rot180,
        Dihedral::Rot270,
        Dihedral::FlipH,
        Dihedral::FlipV,
        Dihedral::Transpose,
        Dihedral::AntiTranspose,
    ];

    /// The transform that undoes this one.
    pub fn inverse(self) -> Dihedral {
        match self {
            Dihedral::Rot90 => Dihedral::Rot270,
            Dihedral::Rot270 => Dihedral::Rot90,
            other => other,
        }
    }

    /// Whether the transform swaps rows and columns.
    pub fn swaps_sides(self) -> bool {
        matches!(self, Dihedral::Rot90 | Dihedral::Rot270 | Dihedral::Transpose | Dihedral::AntiTranspose)
    }
}

/// A permutation of the ten colours: colour `c` becomes `self.0[c]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ColourPerm(pub [u8; COLOURS]);

impl ColourPerm {
    pub fn identity() -> ColourPerm {
        ColourPerm(std::array::from_fn(|i| i as u8))
    }

    /// A permutation from a mapping; `None` unless it maps 0..=9 one-to-one onto 0..=9.
    pub fn new(map: [u8; COLOURS]) -> Option<ColourPerm> {
        let mut seen = [false; COLOURS];
        for &v in &map {
            if v as usize >= COLOURS || std::mem::replace(&mut seen[v as usize], true) {
                return None;
            }
        }
        Some(ColourPerm(map))
    }

    pub fn inverse(&self) -> ColourPerm {
        let mut inv = [0u8; COLOURS];
        for (from, &to) in self.0.iter().enumerate() {
            inv[to as usize] = from as u8;
        }
        ColourPerm(inv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(text: &str) -> Grid {
        Grid::from_text(text).unwrap()
    }

    #[test]
    fn transforms_match_hand_worked_examples() {
        let a = g("12\n34\n56");
        assert_eq!(a.transform(Dihedral::Rot90), g("531\n642"));
        assert_eq!(a.transform(Dihedral::Rot180), g("65\n43\n21"));
        assert_eq!(a.transform(Dihedral::Rot270), g("246\n135"));
        assert_eq!(a.transform(Dihedral::FlipH), g("21\n43\n65"));
        assert_eq!(a.transform(Dihedral::FlipV), g("56\n34\n12"));
        assert_eq!(a.transform(Dihedral::Transpose), g("135\n246"));
        assert_eq!(a.transform(Dihedral::AntiTranspose), g("642\n531"));
    }

    #[test]
    fn bad_rows_are_rejected_with_their_position() {
        assert_eq!(Grid::from_rows::<Vec<i64>>(&[]), Err(GridError::Empty));
        assert_eq!(Grid::from_rows(&[vec![1, 2], vec![3]]), Err(GridError::Ragged { row: 1, len: 1, expected: 2 }));
        assert_eq!(Grid::from_rows(&[vec![1, 10]]), Err(GridError::BadColour { row: 0, col: 1, value: 10 }));
        assert!(matches!(Grid::from_rows(&[vec![0; 31]]), Err(GridError::TooLarge { .. })));
    }

    #[test]
    fn text_form_round_trips() {
        let a = g("0123\n4567\n8900");
        assert_eq!(a.to_text(), "0123\n4567\n8900");
        assert_eq!(Grid::from_text(&a.to_text()).unwrap(), a);
    }

    #[test]
    fn a_write_to_a_copy_leaves_the_original_alone() {
        let a = g("12\n34");
        let mut b = a.clone();
        b.set(0, 0, 9);
        let mut c = b.clone();
        c.edit().set_at(1, 1, 7);
        c.edit().set_at(2, 0, 5); // outside: ignored
        c.cells_mut()[1] = 0;
        assert_eq!((a, b, c), (g("12\n34"), g("92\n34"), g("90\n37")));
        let rows = Grid::from_fn(2, 3, |r, c| (r * 3 + c) as u8);
        assert_eq!(rows, g("012\n345"));
    }

    #[test]
    fn colour_perm_rejects_non_bijections() {
        assert!(ColourPerm::new([0, 0, 2, 3, 4, 5, 6, 7, 8, 9]).is_none());
        assert!(ColourPerm::new([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]).is_some());
    }
}
