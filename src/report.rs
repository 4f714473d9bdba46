//! `arcsynth report`: a run directory as one static HTML page. For every task: its
//! training pairs, each test input with its two attempts (framed green or red when the
//! test output is known, with the expected output beside them), the winning programs
//! highlighted, or the near miss. On top: the run's figures from `report.json` and an
//! index. Reads the run; writes nothing but the page.

use std::collections::BTreeMap;
use std::path::Path;

use crate::html::{self, escape, figure};
use crate::search::TaskResult;
use crate::task::Task;

/// Programs shown per task; the rest are counted.
const PROGRAMS_SHOWN: usize = 3;

/// The page for `results` (a run's finished tasks) over `tasks`; `figures` is the run's
/// `report.json` when there is one. Tasks without a result are left out.
pub fn render(
    run_name: &str,
    results: &BTreeMap<String, TaskResult>,
    tasks: &[Task],
    figures: Option<&serde_json::Value>,
) -> String {
    let mut body = format!("<h1>arcsynth run <code>{}</code></h1>\n", escape(run_name));
    if let Some(f) = figures {
        body.push_str(&figures_html(f));
    }
    let shown: Vec<(&Task, &TaskResult)> = tasks.iter().filter_map(|t| results.get(&t.id).map(|r| (t, r))).collect();
    let missing = results.len() - shown.len();
    if missing > 0 {
        body.push_str(&format!(
            "<p class=\"dim\">{missing} finished tasks are not among the tasks given and are not shown.</p>"
        ));
    }
    let statuses: Vec<&str> = shown.iter().map(|(t, r)| status(t, r)).collect();
    let count = |s: &str| statuses.iter().filter(|x| **x == s).count();
    body.push_str(&format!(
        "<p class=\"filters\">Show: <button data-show=\"all\">all ({})</button><button data-show=\"correct\">correct ({})</button>\
         <button data-show=\"wrong\">solved on train, wrong on test ({})</button><button data-show=\"solved\">solved on train ({})</button>\
         <button data-show=\"unsolved\">unsolved ({})</button></p>\n<nav>",
        shown.len(),
        count("correct"),
        count("wrong"),
        count("solved"),
        count("unsolved")
    ));
    for ((t, _), s) in shown.iter().zip(&statuses) {
        body.push_str(&format!("<a href=\"#{0}\" class=\"badge {s}\">{0}</a> ", escape(&t.id)));
    }
    body.push_str("</nav>\n");
    for ((t, r), s) in shown.iter().zip(&statuses) {
        body.push_str(&task_html(t, r, s));
    }
    html::page(&format!("arcsynth run {run_name}"), &body)
}

/// `correct` (every known test output answered), `wrong` (solved on train, some test
/// output missed), `solved` (solved on train, no known test outputs) or `unsolved`.
fn status(t: &Task, r: &TaskResult) -> &'static str {
    let known = t.test.iter().all(|p| p.output.is_some()) && !t.test.is_empty();
    let right = known
        && t.test
            .iter()
            .zip(&r.attempts)
            .all(|(p, a)| p.output.as_ref().is_some_and(|o| *o == a.attempt_1 || *o == a.attempt_2))
        && r.attempts.len() == t.test.len();
    match (right, known, r.solved_train) {
        (true, _, _) => "correct",
        (false, true, true) => "wrong",
        (_, false, true) => "solved",
        _ => "unsolved",
    }
}

fn task_html(t: &Task, r: &TaskResult, status: &str) -> String {
    let label = match status {
        "correct" => "correct on test",
        "wrong" => "solved on train, wrong on test",
        "solved" => "solved on train",
        _ => "unsolved",
    };
    let mut o = format!(
        "<section class=\"task\" id=\"{id}\" data-status=\"{status}\"><h2>{id} <span class=\"badge {status}\">{label}</span></h2>\n\
         <p class=\"dim\">answers from {src}; {secs:.2} s; {cands} candidates enumerated{llm}</p>\n",
        id = escape(&t.id),
        src = r.answer_source,
        secs = r.seconds,
        cands = r.proposers.candidates,
        llm = r.proposers.llm.as_ref().map_or(String::new(), |l| format!("; {} completions, {} tokens", l.completions, l.completion_tokens)),
    );
    o.push_str("<div class=\"row\">");
    for (i, e) in t.train.iter().enumerate() {
        o.push_str(&format!(
            "<div class=\"pair\">{}{}</div>",
            figure(&format!("train {i} input"), &e.input, ""),
            figure("output", &e.output, "")
        ));
    }
    o.push_str("</div>\n");
    for (i, p) in t.test.iter().enumerate() {
        o.push_str("<div class=\"row\">");
        o.push_str(&figure(&format!("test {i} input"), &p.input, ""));
        if let Some(a) = r.attempts.get(i) {
            for (n, g) in [(1, &a.attempt_1), (2, &a.attempt_2)] {
                let mark = match &p.output {
                    Some(want) if want == g => "ok",
                    Some(_) => "bad",
                    None => "",
                };
                o.push_str(&figure(&format!("attempt {n}"), g, mark));
            }
        }
        if let Some(want) = &p.output {
            o.push_str(&figure("expected", want, ""));
        }
        o.push_str("</div>\n");
    }
    if r.programs.is_empty() {
        if let Some(n) = &r.near_miss {
            o.push_str(&format!("<p>Best near miss ({:.1}% of training cells right):</p>", 100.0 * n.pixel_accuracy));
            o.push_str(&html::highlight(&n.program));
        }
    } else {
        let n = r.programs.len();
        o.push_str(&format!(
            "<p>{n} program{} reproduce{} every training output{}:</p>",
            if n == 1 { "" } else { "s" },
            if n == 1 { "s" } else { "" },
            if n > PROGRAMS_SHOWN { format!("; the first {PROGRAMS_SHOWN}") } else { String::new() }
        ));
        for p in r.programs.iter().take(PROGRAMS_SHOWN) {
            o.push_str(&format!("<p class=\"dim\">from {} (round {})</p>", escape(&p.source), p.round));
            o.push_str(&html::highlight(&p.program));
        }
    }
    o.push_str("</section>\n");
    o
}

/// The run's scalar figures, and the LLM's, as tables.
fn figures_html(f: &serde_json::Value) -> String {
    let scalars = |v: &serde_json::Value| -> Vec<Vec<String>> {
        v.as_object()
            .into_iter()
            .flatten()
            .filter(|(_, x)| !x.is_object() && !x.is_array())
            .map(|(k, x)| {
                let value = match x {
                    serde_json::Value::Number(n) if n.is_f64() => format!("{:.3}", n.as_f64().unwrap_or(0.0)),
                    serde_json::Value::Null => "-".into(),
                    other => other.to_string(),
                };
                vec![escape(&k.replace('_', " ")), escape(&value)]
            })
            .collect()
    };
    let mut o = html::table(&["figure", "value"], scalars(f));
    if let Some(llm) = f.get("llm").filter(|l| l.is_object()) {
        o.push_str("<h2>LLM</h2>");
        o.push_str(&html::table(&["figure", "value"], scalars(llm)));
    }
    o
}

/// Reads `report.json` of a run, if there is a readable one.
pub fn read_figures(dir: &Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).ok()?).ok()
}
