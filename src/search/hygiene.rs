//! Program hygiene: what a program that reproduces the training pairs must also pass
//! before it may vote, and the canonical form it is stored in.

use crate::grid::Grid;
use crate::sandbox::Sandbox;
use crate::task::Task;

/// Why a training-pair solution may not vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// A second run gave different outputs.
    Nondeterministic,
    /// The program text holds a training output grid as a literal.
    HardCoded,
}

/// The outputs of `program` on every training input then every test input; `None` if
/// it does not compile or any run fails.
pub fn outputs(sandbox: &Sandbox, program: &str, task: &Task) -> Option<Vec<Grid>> {
    let p = sandbox.compile(program).ok()?;
    task.pairs().map(|(_, _, g, _)| sandbox.run(&p, g).ok()).collect()
}

/// Checks a program whose first run gave `first` (outputs on train then test inputs).
pub fn check(sandbox: &Sandbox, program: &str, task: &Task, first: &[Grid]) -> Result<(), Rejection> {
    if hard_codes_an_output(program, task) {
        return Err(Rejection::HardCoded);
    }
    match outputs(sandbox, program, task) {
        Some(again) if again == first => Ok(()),
        _ => Err(Rejection::Nondeterministic),
    }
}

/// Whether the program text contains a training output (of at least 4 cells and two
/// colours) as an array literal, whatever its spacing.
pub fn hard_codes_an_output(program: &str, task: &Task) -> bool {
    let text: String = program.chars().filter(|c| !c.is_whitespace()).collect();
    task.train
        .iter()
        .map(|e| &e.output)
        .filter(|g| g.cells().len() >= 4 && g.histogram().iter().filter(|&&n| n > 0).count() > 1)
        .any(|g| {
            let rows: Vec<String> = g
                .to_rows()
                .iter()
                .map(|r| format!("[{}]", r.iter().map(u8::to_string).collect::<Vec<_>>().join(",")))
                .collect();
            text.contains(&format!("[{}]", rows.join(",")))
        })
}

/// The canonical text of a program that gives `expected` (outputs on train then test
/// inputs): trailing spaces and repeated blank lines removed, then every code line whose
/// removal keeps it compiling and giving the same outputs on every known input is
/// dropped (dead lines). Comments stay: people read these programs.
pub fn canonicalise(sandbox: &Sandbox, program: &str, task: &Task, expected: &[Grid]) -> String {
    let mut lines: Vec<String> = Vec::new();
    for l in program.trim().lines().map(str::trim_end) {
        if !(l.is_empty() && lines.last().is_some_and(|p: &String| p.is_empty())) {
            lines.push(l.to_string());
        }
    }
    // Each trial runs the program on every input: keep it affordable.
    if lines.len() <= 80 {
        let mut i = lines.len();
        while i > 0 {
            i -= 1;
            let l = lines[i].trim();
            if l.is_empty() || l.starts_with("//") || l == "}" || l.starts_with("fn ") {
                continue;
            }
            let mut trial = lines.clone();
            trial.remove(i);
            if outputs(sandbox, &trial.join("\n"), task).as_deref() == Some(expected) {
                lines = trial;
            }
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::Limits;
    use crate::task::{Example, TestPair};

    fn g(rows: &[&[i64]]) -> Grid {
        Grid::from_rows(rows).unwrap()
    }

    fn task() -> Task {
        let i = g(&[&[1, 0], &[0, 0]]);
        let o = g(&[&[0, 1], &[0, 0]]);
        Task {
            id: "t".into(),
            train: vec![Example { input: i.clone(), output: o }],
            test: vec![TestPair { input: i, output: None }],
        }
    }

    #[test]
    fn literal_outputs_are_caught_whatever_the_spacing() {
        let t = task();
        assert!(hard_codes_an_output("fn solve(g) { grid_from([[0, 1],\n [0,0]]) }", &t));
        assert!(!hard_codes_an_output("fn solve(g) { g.flip_h() }", &t));
    }

    #[test]
    fn dead_lines_are_dropped_and_comments_kept() {
        let sb = Sandbox::new(Limits::default());
        let t = task();
        let p = "// mirror\nfn solve(g) {\n    let unused = g.rotate(1);\n\n\n    let x = 3;   \n    g.flip_h()\n}";
        let want = outputs(&sb, p, &t).unwrap();
        assert_eq!(canonicalise(&sb, p, &t, &want), "// mirror\nfn solve(g) {\n\n    g.flip_h()\n}");
        assert_eq!(check(&sb, p, &t, &want), Ok(()));
        assert_eq!(check(&sb, "fn solve(g) { grid_from([[0,1],[0,0]]) }", &t, &want), Err(Rejection::HardCoded));
    }
}
