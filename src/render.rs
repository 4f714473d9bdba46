//! Terminal rendering of grids in the ARC palette, or as plain digits.

use crate::grid::Grid;

/// The ARC palette (from the original testing interface), colours 0..=9, as RGB.
pub const PALETTE: [(u8, u8, u8); 10] = [
    (0x00, 0x00, 0x00),
    (0x00, 0x74, 0xD9),
    (0xFF, 0x41, 0x36),
    (0x2E, 0xCC, 0x40),
    (0xFF, 0xDC, 0x00),
    (0xAA, 0xAA, 0xAA),
    (0xF0, 0x12, 0xBE),
    (0xFF, 0x85, 0x1B),
    (0x7F, 0xDB, 0xFF),
    (0x87, 0x0C, 0x25),
];

/// How grids are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Two-character coloured blocks with a digit (24-bit ANSI colour).
    Colour,
    /// Digits only.
    Plain,
}

/// One display line per grid row; `marks` flags cells to highlight (e.g. wrong cells).
fn lines(g: &Grid, style: Style, marks: Option<&Grid>) -> Vec<String> {
    (0..g.rows())
        .map(|r| {
            let mut s = String::new();
            for c in 0..g.cols() {
                let v = g.get(r, c);
                let marked = marks.is_some_and(|m| m.at(r as i64, c as i64) != Some(v));
                match style {
                    Style::Plain => {
                        s.push((b'0' + v) as char);
                        if marks.is_some() {
                            s.push(if marked { '!' } else { ' ' });
                        }
                    }
                    Style::Colour => {
                        let (red, green, blue) = PALETTE[v as usize];
                        let fg = if v == 0 || v == 1 || v == 9 { "97" } else { "30" };
                        let text = if marked { "XX".to_string() } else { format!("{v} ") };
                        s.push_str(&format!("\x1b[48;2;{red};{green};{blue}m\x1b[{fg}m{text}\x1b[0m"));
                    }
                }
            }
            s
        })
        .collect()
}

fn visible_width(g: &Grid, style: Style, marked: bool) -> usize {
    match (style, marked) {
        (Style::Plain, false) => g.cols(),
        _ => g.cols() * 2,
    }
}

/// Draws labelled grids side by side. Each entry: (label, grid, optional reference
/// grid whose differing cells are marked).
pub fn side_by_side(items: &[(String, &Grid, Option<&Grid>)], style: Style) -> String {
    let gap = "   ";
    let blocks: Vec<(usize, Vec<String>)> = items
        .iter()
        .map(|(label, g, marks)| {
            let w = visible_width(g, style, marks.is_some()).max(label.chars().count());
            let mut ls = vec![format!("{label:<w$}")];
            for l in lines(g, style, *marks) {
                let pad = w - visible_width(g, style, marks.is_some());
                ls.push(format!("{l}{}", " ".repeat(pad)));
            }
            (w, ls)
        })
        .collect();
    let height = blocks.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
    let mut out = String::new();
    for row in 0..height {
        let parts: Vec<String> =
            blocks.iter().map(|(w, ls)| ls.get(row).cloned().unwrap_or_else(|| " ".repeat(*w))).collect();
        out.push_str(parts.join(gap).trim_end());
        out.push('\n');
    }
    out
}

/// Colour unless `NO_COLOR` is set, `plain` was asked for, or stdout is not a terminal.
pub fn style_for_stdout(plain: bool) -> Style {
    use std::io::IsTerminal;
    if plain || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) || !std::io::stdout().is_terminal() {
        Style::Plain
    } else {
        Style::Colour
    }
}

/// Colour for log lines unless `NO_COLOR` is set or stderr is not a terminal.
pub fn style_for_stderr() -> Style {
    use std::io::IsTerminal;
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) || !std::io::stderr().is_terminal() {
        Style::Plain
    } else {
        Style::Colour
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_side_by_side_aligns_grids_of_different_heights() {
        let a = Grid::from_text("12\n34\n56").unwrap();
        let b = Grid::from_text("7").unwrap();
        let s = side_by_side(&[("in".into(), &a, None), ("out".into(), &b, None)], Style::Plain);
        assert_eq!(s, "in   out\n12   7\n34\n56\n");
    }

    #[test]
    fn marks_flag_differing_cells() {
        let got = Grid::from_text("12").unwrap();
        let want = Grid::from_text("13").unwrap();
        let s = side_by_side(&[("got".into(), &got, Some(&want))], Style::Plain);
        assert_eq!(s, "got\n1 2!\n");
    }
}
