//! The HTML renderer shared by `arcsynth report` and `coverage --format html`: grids as
//! inline SVG in the ARC palette, Rhai programs with syntax highlighting, and a page
//! shell. Pages are one self-contained file: no scripts, styles or images from outside,
//! so they open offline and from any folder.

use crate::dsl::syntax::{self, Kind};
use crate::grid::Grid;

/// The ARC palette (the original testing interface's CSS), colours 0-9.
pub const PALETTE: [&str; 10] =
    ["#000000", "#0074D9", "#FF4136", "#2ECC40", "#FFDC00", "#AAAAAA", "#F012BE", "#FF851B", "#7FDBFF", "#870C25"];

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A grid as an inline SVG: one path per colour made of horizontal runs, and a grid of
/// thin lines. Cells are drawn at most `max_px` wide in all, at least 4 px each.
pub fn grid_svg(g: &Grid, max_px: usize) -> String {
    let (rows, cols) = g.shape();
    let cell = (max_px / rows.max(cols)).clamp(4, 24);
    let mut paths: [String; 10] = Default::default();
    for r in 0..rows {
        let row = g.row(r);
        let mut c = 0;
        while c < cols {
            let colour = row[c];
            let start = c;
            while c < cols && row[c] == colour {
                c += 1;
            }
            paths[colour as usize].push_str(&format!("M{start} {r}h{}v1h-{}z", c - start, c - start));
        }
    }
    let mut svg = format!(
        "<svg class=\"grid\" role=\"img\" aria-label=\"{rows}x{cols} grid\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {cols} {rows}\" shape-rendering=\"crispEdges\">",
        cols * cell,
        rows * cell
    );
    for (colour, d) in paths.iter().enumerate().filter(|(_, d)| !d.is_empty()) {
        svg.push_str(&format!("<path fill=\"{}\" d=\"{d}\"/>", PALETTE[colour]));
    }
    let mut lines = String::new();
    for r in 1..rows {
        lines.push_str(&format!("M0 {r}H{cols}"));
    }
    for c in 1..cols {
        lines.push_str(&format!("M{c} 0V{rows}"));
    }
    if !lines.is_empty() {
        svg.push_str(&format!("<path class=\"lines\" d=\"{lines}\"/>"));
    }
    svg.push_str("</svg>");
    svg
}

/// A grid with a caption; `mark`: `ok` (green frame), `bad` (red) or `""`.
pub fn figure(caption: &str, g: &Grid, mark: &str) -> String {
    format!(
        "<figure class=\"{mark}\">{}<figcaption>{} <span class=\"dim\">{}x{}</span></figcaption></figure>",
        grid_svg(g, 200),
        escape(caption),
        g.rows(),
        g.cols()
    )
}

/// A Rhai program as highlighted HTML (inside `<pre><code>`): comments, strings,
/// numbers, keywords and DSL primitives each get a class.
pub fn highlight(program: &str) -> String {
    let prims = syntax::primitive_names();
    let mut o = String::from("<pre class=\"code\"><code>");
    for t in syntax::tokens(program) {
        let class = match t.kind {
            Kind::Comment => "c",
            Kind::Str => "s",
            Kind::Number => "n",
            Kind::Keyword => "k",
            Kind::Ident if prims.contains(t.text) => "p",
            _ => "",
        };
        if class.is_empty() {
            o.push_str(&escape(t.text));
        } else {
            o.push_str(&format!("<span class=\"{class}\">{}</span>", escape(t.text)));
        }
    }
    o.push_str("</code></pre>");
    o
}

/// A table of rows of already-escaped HTML cells.
pub fn table(head: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut o = String::from("<table><thead><tr>");
    for h in head {
        o.push_str(&format!("<th>{}</th>", escape(h)));
    }
    o.push_str("</tr></thead><tbody>");
    for r in rows {
        o.push_str("<tr>");
        for c in r {
            o.push_str(&format!("<td>{c}</td>"));
        }
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table>");
    o
}

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;color:#222;background:#fafafa}
h1{font-size:1.6em}h2{font-size:1.2em;margin:.2em 0}
section.task{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8em 1em;margin:1em 0}
.row{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-end;margin:.5em 0}
.pair{display:flex;gap:.4em;align-items:center;padding:.3em;border:1px dashed #ddd;border-radius:4px}
figure{margin:0;padding:3px;border:3px solid transparent;border-radius:4px}
figure.ok{border-color:#2ECC40}figure.bad{border-color:#FF4136}
figcaption{font-size:12px}
svg.grid{display:block;background:#000}
svg.grid path.lines{stroke:#555;stroke-width:1px;vector-effect:non-scaling-stroke;fill:none}
.dim{color:#888}
.badge{display:inline-block;padding:0 .5em;border-radius:3px;font-size:12px;color:#fff;background:#888;vertical-align:middle}
.badge.correct{background:#2a9d3a}.badge.wrong{background:#d43b2f}.badge.solved{background:#1f6fb2}
pre.code{background:#f4f4f4;border:1px solid #e2e2e2;padding:.6em;overflow-x:auto;font-size:13px}
.code .c{color:#6a737d;font-style:italic}.code .s{color:#032f62}.code .n{color:#005cc5}.code .k{color:#d73a49;font-weight:600}.code .p{color:#6f42c1}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}
nav a{margin-right:.6em}
.filters button{margin-right:.4em}
.bar{display:inline-block;height:10px;background:#1f6fb2}
"#;

/// Shows only the task sections whose `data-status` matches the pressed button.
const SCRIPT: &str = r#"
document.querySelectorAll('.filters button').forEach(function (b) {
  b.addEventListener('click', function () {
    var want = b.dataset.show;
    document.querySelectorAll('section.task').forEach(function (s) {
      s.hidden = !(want === 'all' || s.dataset.status === want);
    });
  });
});
document.body.dataset.ready = '1';
"#;

/// A complete page.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{}</title><link rel=\"icon\" href=\"data:,\"><style>{STYLE}</style></head>\n<body>\n{body}\n<script>{SCRIPT}</script>\n</body></html>\n",
        escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_runs_cover_each_cell_once() {
        let g = Grid::from_rows(&[[1, 1, 0], [2, 1, 1]]).unwrap();
        let svg = grid_svg(&g, 200);
        assert!(svg.contains("<path fill=\"#0074D9\" d=\"M0 0h2v1h-2zM1 1h2v1h-2z\"/>"), "{svg}");
        assert!(svg.contains("<path fill=\"#000000\" d=\"M2 0h1v1h-1z\"/>"));
        assert!(svg.contains("<path fill=\"#FF4136\" d=\"M0 1h1v1h-1z\"/>"));
        assert!(svg.contains("width=\"72\" height=\"48\""));
    }

    #[test]
    fn programs_are_escaped_and_highlighted() {
        let h = highlight("// a<b\nfn solve(g) { g.rotate(1) }");
        assert!(h.contains("<span class=\"c\">// a&lt;b</span>"));
        assert!(h.contains("<span class=\"k\">fn</span>"));
        assert!(h.contains("<span class=\"p\">rotate</span>"));
        assert!(h.contains("<span class=\"n\">1</span>"));
    }
}
