//! DSL coverage: which primitives verified programs use, which tasks they cover, how
//! long they are, and which primitives always come together (candidates for a new
//! primitive). Computed from [`library::Checked`] programs: only verified ones count.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::dsl::syntax;
use crate::library::Checked;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    /// Programs read.
    pub programs: usize,
    pub verified: usize,
    /// Programs that no longer reproduce their task, or whose task is unknown.
    pub stale: Vec<Stale>,
    /// Tasks given, and tasks with at least one verified program.
    pub tasks: usize,
    pub tasks_covered: usize,
    /// Source -> tasks with a verified program from it.
    pub tasks_by_source: BTreeMap<String, usize>,
    /// Task -> sources of its verified programs (covered tasks only).
    pub per_task: BTreeMap<String, Vec<String>>,
    /// Tasks given that no verified program covers.
    pub uncovered: Vec<String>,
    /// Every documented primitive used at least once, most used first.
    pub primitives: Vec<Usage>,
    /// Documented primitives no verified program calls.
    pub unused: Vec<String>,
    pub lengths: Lengths,
    /// Pairs where every program (at least two) calling `a` also calls `b`.
    pub always_together: Vec<Together>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stale {
    pub task: String,
    pub source: String,
    pub origin: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub name: String,
    pub programs: usize,
    pub tasks: usize,
}

/// Program length in code lines (not blank, not only a comment).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lengths {
    pub min: usize,
    pub median: usize,
    pub mean: f64,
    pub max: usize,
    /// (bucket, programs), e.g. ("4-5", 12).
    pub histogram: Vec<(String, usize)>,
}

/// `a` never appears without `b`: in `programs` programs (all of `a`'s), of `b_programs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Together {
    pub a: String,
    pub b: String,
    pub programs: usize,
    pub b_programs: usize,
}

const BUCKETS: &[(usize, usize)] = &[(1, 1), (2, 2), (3, 3), (4, 5), (6, 10), (11, 20), (21, 40), (41, usize::MAX)];

/// Coverage of `checked` over `task_ids` (the tasks given), against the documented
/// primitives `all_primitives`.
pub fn compute(checked: &[Checked], task_ids: &[String], all_primitives: &BTreeSet<String>) -> Coverage {
    let verified: Vec<&Checked> = checked.iter().filter(|c| c.verified()).collect();
    let stale = checked
        .iter()
        .filter_map(|c| {
            let reason = c.problem()?;
            Some(Stale {
                task: c.loaded.record.task.clone(),
                source: c.loaded.record.source.clone(),
                origin: c.loaded.origin.clone(),
                reason,
            })
        })
        .collect();

    let mut per_task: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut programs_of: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let mut tasks_of: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    let mut lengths = Vec::new();
    for (i, c) in verified.iter().enumerate() {
        let r = &c.loaded.record;
        per_task.entry(r.task.clone()).or_default().insert(r.source.clone());
        for name in syntax::called_names(&r.program).into_iter().filter(|n| all_primitives.contains(n)) {
            programs_of.entry(name.clone()).or_default().insert(i);
            tasks_of.entry(name).or_default().insert(&r.task);
        }
        lengths.push(syntax::code_lines(&r.program));
    }

    let mut tasks_by_source: BTreeMap<String, usize> = BTreeMap::new();
    for sources in per_task.values() {
        for s in sources {
            *tasks_by_source.entry(s.clone()).or_default() += 1;
        }
    }
    let mut primitives: Vec<Usage> = programs_of
        .iter()
        .map(|(name, p)| Usage { name: name.clone(), programs: p.len(), tasks: tasks_of[name].len() })
        .collect();
    primitives.sort_by(|a, b| b.programs.cmp(&a.programs).then(b.tasks.cmp(&a.tasks)).then(a.name.cmp(&b.name)));
    let unused = all_primitives.iter().filter(|n| !programs_of.contains_key(*n)).cloned().collect();

    let mut always_together = Vec::new();
    for (a, pa) in &programs_of {
        for (b, pb) in &programs_of {
            // Equal sets are reported once, in name order.
            let once = pa.len() < pb.len() || (pa.len() == pb.len() && a < b);
            if a != b && pa.len() >= 2 && once && pa.is_subset(pb) {
                always_together.push(Together { a: a.clone(), b: b.clone(), programs: pa.len(), b_programs: pb.len() });
            }
        }
    }
    always_together.sort_by(|x, y| {
        y.programs.cmp(&x.programs).then(x.b_programs.cmp(&y.b_programs)).then(x.a.cmp(&y.a)).then(x.b.cmp(&y.b))
    });

    let given: BTreeSet<&str> = task_ids.iter().map(String::as_str).collect();
    let covered_given = per_task.keys().filter(|t| given.contains(t.as_str())).count();
    Coverage {
        programs: checked.len(),
        verified: verified.len(),
        stale,
        tasks: given.len(),
        tasks_covered: covered_given,
        tasks_by_source,
        uncovered: given.iter().filter(|t| !per_task.contains_key(**t)).map(|t| t.to_string()).collect(),
        per_task: per_task.into_iter().map(|(t, s)| (t, s.into_iter().collect())).collect(),
        primitives,
        unused,
        lengths: length_stats(lengths),
        always_together,
    }
}

fn length_stats(mut lengths: Vec<usize>) -> Lengths {
    lengths.sort_unstable();
    let histogram = BUCKETS
        .iter()
        .map(|&(lo, hi)| {
            let label = match (lo == hi, hi == usize::MAX) {
                (true, _) => lo.to_string(),
                (_, true) => format!("{lo}+"),
                _ => format!("{lo}-{hi}"),
            };
            (label, lengths.iter().filter(|&&l| l >= lo && l <= hi).count())
        })
        .collect();
    Lengths {
        min: lengths.first().copied().unwrap_or(0),
        median: lengths.get(lengths.len().saturating_sub(1) / 2).copied().unwrap_or(0),
        mean: if lengths.is_empty() { 0.0 } else { lengths.iter().sum::<usize>() as f64 / lengths.len() as f64 },
        max: lengths.last().copied().unwrap_or(0),
        histogram,
    }
}

impl Coverage {
    /// The summary as plain text (`markdown`: as Markdown, with tables).
    pub fn render(&self, markdown: bool) -> String {
        let mut o = String::new();
        let h = |o: &mut String, title: &str| {
            o.push_str(&if markdown { format!("\n## {title}\n\n") } else { format!("\n{title}\n") })
        };
        if markdown {
            o.push_str("# DSL coverage\n\n");
        }
        let pct = |a: usize, b: usize| if b == 0 { 0.0 } else { 100.0 * a as f64 / b as f64 };
        o.push_str(&format!(
            "programs: {} read, {} verified, {} stale\ntasks: {} of {} covered ({:.1}%)\nprimitives: {} used, {} never used\n",
            self.programs,
            self.verified,
            self.stale.len(),
            self.tasks_covered,
            self.tasks,
            pct(self.tasks_covered, self.tasks),
            self.primitives.len(),
            self.unused.len()
        ));
        let l = &self.lengths;
        o.push_str(&format!(
            "program length (code lines): min {}, median {}, mean {:.1}, max {}\n",
            l.min, l.median, l.mean, l.max
        ));

        h(&mut o, "Tasks covered by source");
        table(
            &mut o,
            markdown,
            &["source", "tasks"],
            self.tasks_by_source.iter().map(|(s, n)| vec![s.clone(), n.to_string()]),
        );
        h(&mut o, "Primitive usage");
        table(
            &mut o,
            markdown,
            &["primitive", "programs", "tasks"],
            self.primitives.iter().map(|u| vec![u.name.clone(), u.programs.to_string(), u.tasks.to_string()]),
        );
        h(&mut o, "Never used");
        o.push_str(&if self.unused.is_empty() {
            "(none)\n".to_string()
        } else {
            format!("{}\n", self.unused.join(", "))
        });
        h(&mut o, "Program length");
        table(
            &mut o,
            markdown,
            &["code lines", "programs"],
            l.histogram.iter().map(|(b, n)| vec![b.clone(), n.to_string()]),
        );
        h(&mut o, "Always used together");
        if self.always_together.is_empty() {
            o.push_str("(none)\n");
        }
        table(
            &mut o,
            markdown,
            &["primitive", "always with", "programs", "of"],
            self.always_together
                .iter()
                .map(|t| vec![t.a.clone(), t.b.clone(), t.programs.to_string(), t.b_programs.to_string()]),
        );
        h(&mut o, "Stale programs");
        if self.stale.is_empty() {
            o.push_str("(none)\n");
        }
        table(
            &mut o,
            markdown,
            &["task", "source", "where", "why"],
            self.stale.iter().map(|s| vec![s.task.clone(), s.source.clone(), s.origin.clone(), s.reason.clone()]),
        );
        o
    }
}

/// A table: Markdown, or columns padded with spaces. Nothing for no rows.
fn table(o: &mut String, markdown: bool, head: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let rows: Vec<Vec<String>> = rows.collect();
    if rows.is_empty() {
        return;
    }
    if markdown {
        o.push_str(&format!(
            "| {} |\n|{}|\n",
            head.join(" | "),
            head.iter().map(|_| "---").collect::<Vec<_>>().join("|")
        ));
        for r in &rows {
            o.push_str(&format!("| {} |\n", r.iter().map(|c| c.replace('|', "\\|")).collect::<Vec<_>>().join(" | ")));
        }
        return;
    }
    let widths: Vec<usize> = (0..head.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([head[i].len()]).max().unwrap_or(0))
        .collect();
    for r in std::iter::once(head.iter().map(|s| s.to_string()).collect::<Vec<_>>()).chain(rows) {
        let cells: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        o.push_str(&format!("  {}\n", cells.join("  ").trim_end()));
    }
}

impl Coverage {
    /// The report as one HTML page, drawn by the same renderer as `arcsynth report`;
    /// stale programs are shown highlighted (`checked`: the programs it was computed from).
    pub fn html(&self, checked: &[Checked]) -> String {
        use crate::html::{self, escape};
        let mut b = String::from("<h1>DSL coverage</h1>\n<pre>");
        b.push_str(&escape(self.render(false).split("\n\n").next().unwrap_or_default()));
        b.push_str("</pre>\n<h2>Tasks covered by source</h2>");
        b.push_str(&html::table(
            &["source", "tasks"],
            self.tasks_by_source.iter().map(|(s, n)| vec![escape(s), n.to_string()]),
        ));
        b.push_str("<h2>Primitive usage</h2>");
        let top = self.primitives.first().map_or(1, |u| u.programs.max(1));
        b.push_str(&html::table(
            &["primitive", "programs", "tasks", ""],
            self.primitives.iter().map(|u| {
                vec![
                    format!("<code>{}</code>", escape(&u.name)),
                    u.programs.to_string(),
                    u.tasks.to_string(),
                    format!("<span class=\"bar\" style=\"width:{}px\"></span>", 1 + 200 * u.programs / top),
                ]
            }),
        ));
        b.push_str(&format!("<h2>Never used ({})</h2><p>", self.unused.len()));
        b.push_str(&self.unused.iter().map(|n| format!("<code>{}</code>", escape(n))).collect::<Vec<_>>().join(", "));
        b.push_str("</p><h2>Program length (code lines)</h2>");
        b.push_str(&html::table(
            &["code lines", "programs"],
            self.lengths.histogram.iter().map(|(k, n)| vec![escape(k), n.to_string()]),
        ));
        b.push_str("<h2>Always used together</h2>");
        b.push_str(&html::table(
            &["primitive", "always with", "programs", "of"],
            self.always_together.iter().map(|t| {
                vec![
                    format!("<code>{}</code>", escape(&t.a)),
                    format!("<code>{}</code>", escape(&t.b)),
                    t.programs.to_string(),
                    t.b_programs.to_string(),
                ]
            }),
        ));
        b.push_str(&format!("<h2>Stale programs ({})</h2>", self.stale.len()));
        for (c, why) in checked.iter().filter_map(|c| Some((c, c.problem()?))) {
            b.push_str(&format!(
                "<section class=\"stale\"><p><b>{}</b> from {} ({}): {}</p>{}</section>",
                escape(&c.loaded.record.task),
                escape(&c.loaded.record.source),
                escape(&c.loaded.origin),
                escape(&why),
                html::highlight(&c.loaded.record.program)
            ));
        }
        b.push_str(&format!("<h2>Tasks ({} of {} covered)</h2>", self.tasks_covered, self.tasks));
        b.push_str(&html::table(
            &["task", "sources"],
            self.per_task.iter().map(|(t, s)| vec![escape(t), escape(&s.join(", "))]),
        ));
        html::page("arcsynth DSL coverage", &b)
    }
}
