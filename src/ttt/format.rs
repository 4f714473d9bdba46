//! The grid-token format: grids as token ids of a 16-token vocabulary, pairs in a chat
//! layout, strict decoding. Ids: 0-9 the colours, 10 newline, 11 `user`, 12
//! `assistant`, 13 pad, 14 `<|im_start|>`, 15 `<|im_end|>` (end of sequence). Rows are
//! joined by newlines, with no trailing newline.

use crate::grid::Grid;

pub const NEWLINE: u32 = 10;
pub const USER: u32 = 11;
pub const ASSISTANT: u32 = 12;
pub const PAD: u32 = 13;
pub const IM_START: u32 = 14;
pub const IM_END: u32 = 15;
pub const VOCAB: usize = 16;

/// How a pair is laid out. The published model's layout, the default, is
/// `<|im_start|>user\n{input}<|im_end|><|im_start|>assistant\n{output}<|im_end|>`; a
/// port of it describes the same without `<|im_start|>` (`im_start: false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    pub im_start: bool,
}

impl Default for Format {
    fn default() -> Format {
        Format { im_start: true }
    }
}

impl Format {
    /// `published` (with `<|im_start|>`) or `no-im-start`.
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "published" => Some(Format { im_start: true }),
            "no-im-start" => Some(Format { im_start: false }),
            _ => None,
        }
    }

    fn turn(&self, role: u32, out: &mut Vec<u32>) {
        if self.im_start {
            out.push(IM_START);
        }
        out.extend([role, NEWLINE]);
    }

    /// Tokens of a query: the training pairs, then the test input and the assistant's
    /// turn, ready for the output grid.
    pub fn prompt(&self, pairs: &[(&Grid, &Grid)], input: &Grid) -> Vec<u32> {
        let mut out = Vec::new();
        for (i, o) in pairs {
            self.pair(i, o, &mut out, &mut Vec::new());
        }
        self.turn(USER, &mut out);
        out.extend(grid_tokens(input));
        out.push(IM_END);
        self.turn(ASSISTANT, &mut out);
        out
    }

    /// Appends one pair, and to `mask` whether each token is trained on: the output
    /// grid's tokens and its closing `<|im_end|>` only.
    pub fn pair(&self, input: &Grid, output: &Grid, out: &mut Vec<u32>, mask: &mut Vec<bool>) {
        let start = out.len();
        self.turn(USER, out);
        out.extend(grid_tokens(input));
        out.push(IM_END);
        self.turn(ASSISTANT, out);
        let answer = out.len();
        out.extend(grid_tokens(output));
        out.push(IM_END);
        mask.resize(start, false);
        mask.extend((start..out.len()).map(|i| i >= answer));
    }

    /// A training sequence of pairs in the given order, with its loss mask.
    pub fn sequence(&self, pairs: &[(&Grid, &Grid)]) -> (Vec<u32>, Vec<bool>) {
        let (mut out, mut mask) = (Vec::new(), Vec::new());
        for (i, o) in pairs {
            self.pair(i, o, &mut out, &mut mask);
        }
        (out, mask)
    }
}

/// A grid's tokens: digits, rows separated by newlines.
pub fn grid_tokens(g: &Grid) -> Vec<u32> {
    let mut out = Vec::with_capacity(g.rows() * (g.cols() + 1));
    for r in 0..g.rows() {
        if r > 0 {
            out.push(NEWLINE);
        }
        out.extend(g.row(r).iter().map(|&c| c as u32));
    }
    out
}

/// The tokens an answer is made of, in id order: the digits, newline, `<|im_end|>`.
pub const ANSWER_TOKENS: [u32; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, NEWLINE, IM_END];

/// The answer tokens that may follow `prefix` (answer tokens so far) and still lead to a
/// valid grid, in id order: digits while the row is shorter than the first row (or 30),
/// a newline after a full row while there are fewer than 30 rows, `<|im_end|>` after a
/// full row.
pub fn allowed_next(prefix: &[u32]) -> Vec<u32> {
    let rows = prefix.iter().filter(|&&t| t == NEWLINE).count();
    let width = prefix.iter().position(|&t| t == NEWLINE);
    let row_len = prefix.iter().rev().take_while(|&&t| t != NEWLINE).count();
    let full = row_len > 0 && width.is_none_or(|w| row_len == w);
    ANSWER_TOKENS
        .into_iter()
        .filter(|&t| match t {
            NEWLINE => full && rows + 1 < 30,
            IM_END => full,
            _ => row_len < width.unwrap_or(30),
        })
        .collect()
}

/// Decodes an answer: digits and newlines, optionally ending with `<|im_end|>`, into a
/// rectangular grid with sides 1..=30. Anything else is an error saying what is wrong.
pub fn decode_grid(tokens: &[u32]) -> Result<Grid, String> {
    let body = tokens.strip_suffix(&[IM_END]).unwrap_or(tokens);
    if body.is_empty() {
        return Err("empty answer".into());
    }
    let mut rows: Vec<Vec<i64>> = vec![Vec::new()];
    for (i, &t) in body.iter().enumerate() {
        match t {
            0..=9 => rows.last_mut().expect("never empty").push(t as i64),
            NEWLINE => rows.push(Vec::new()),
            _ => return Err(format!("token {t} at {i} is not a digit or newline")),
        }
    }
    let width = rows[0].len();
    if let Some((r, row)) = rows.iter().enumerate().find(|(_, row)| row.len() != width || row.is_empty()) {
        return Err(format!("row {r} has {} cells, row 0 has {width}", row.len()));
    }
    Grid::from_rows(&rows).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(t: &str) -> Grid {
        Grid::from_text(t).unwrap()
    }

    #[test]
    fn pairs_follow_the_published_layout() {
        let (i, o) = (g("12\n30"), g("4"));
        let f = Format::default();
        let (seq, mask) = f.sequence(&[(&i, &o)]);
        assert_eq!(
            seq,
            [IM_START, USER, NEWLINE, 1, 2, NEWLINE, 3, 0, IM_END, IM_START, ASSISTANT, NEWLINE, 4, IM_END]
        );
        let trained: Vec<u32> = seq.iter().zip(&mask).filter(|(_, m)| **m).map(|(t, _)| *t).collect();
        assert_eq!(trained, [4, IM_END]);
        let port = Format::parse("no-im-start").unwrap().prompt(&[], &o);
        assert_eq!(port, [USER, NEWLINE, 4, IM_END, ASSISTANT, NEWLINE]);
    }

    #[test]
    fn only_tokens_that_keep_a_grid_valid_are_allowed() {
        let names = |ok: Vec<u32>| -> String {
            ok.into_iter()
                .map(|t| match t {
                    NEWLINE => 'n',
                    IM_END => 'e',
                    d => (b'0' + d as u8) as char,
                })
                .collect()
        };
        assert_eq!(names(allowed_next(&[])), "0123456789");
        assert_eq!(names(allowed_next(&[1, 2])), "0123456789ne");
        assert_eq!(names(allowed_next(&[1, 2, NEWLINE])), "0123456789");
        assert_eq!(names(allowed_next(&[1, 2, NEWLINE, 3])), "0123456789");
        assert_eq!(names(allowed_next(&[1, 2, NEWLINE, 3, 4])), "ne");
        assert_eq!(names(allowed_next(&[0; 30])), "ne");
        let tall: Vec<u32> = (0..29).flat_map(|_| [1, NEWLINE]).chain([1]).collect();
        assert_eq!(names(allowed_next(&tall)), "e", "30 rows: only the end");
    }

    #[test]
    fn decoding_is_strict() {
        assert_eq!(decode_grid(&[1, 2, NEWLINE, 3, 4, IM_END]), Ok(g("12\n34")));
        assert_eq!(decode_grid(&[1, 2, NEWLINE, 3]), Err("row 1 has 1 cells, row 0 has 2".into()));
        assert_eq!(decode_grid(&[1, NEWLINE]), Err("row 1 has 0 cells, row 0 has 1".into()));
        assert_eq!(decode_grid(&[1, USER]), Err("token 11 at 1 is not a digit or newline".into()));
        assert_eq!(decode_grid(&[IM_END]), Err("empty answer".into()));
        assert!(decode_grid(&[0; 31]).is_err(), "31 columns");
        let tall: Vec<u32> = (0..31).flat_map(|_| [1, NEWLINE]).take(61).collect();
        assert!(decode_grid(&tall).is_err(), "31 rows");
    }
}
