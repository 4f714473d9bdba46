//! The LLM proposer alone (`search --proposer llm`) on the 30 ARC-AGI-1 training tasks of
//! `benchmarks/llm_solve_tasks.txt` (15 the enumerator solves, 15 it does not): how often
//! a real coder model writes programs that parse, run and solve, and what it costs.
//!
//! Run with a model (over an hour on 2 CPU cores for the default budget):
//!   ARCSYNTH_BENCH_MODEL=models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf cargo bench --bench llm_solve
//! or replay a recorded run's completions without a model (seconds; measures front-end
//! and DSL changes on the same texts):
//!   ARCSYNTH_BENCH_COMPLETIONS=benchmarks/results/llm_solve_completions.jsonl cargo bench --bench llm_solve
//! Neither set: the benchmark says so and exits 0. ARCSYNTH_BENCH_ARGS adds search flags
//! (e.g. `--threads 1`); the default budget is 8 samples + 1 refinement round of 8,
//! batch 8, 384 tokens. A model run keeps its completions in
//! `benchmarks/results/llm_solve_completions.jsonl` for later replays.
//!
//! Writes `benchmarks/results/llm_solve.json` (model) or `llm_solve_replay.json`
//! (replay) and a row in `benchmarks/RESULTS.md`; with ARCSYNTH_BENCH_ARGS the names
//! carry the flags (`llm_solve-answer-free.json`, `llm_solve-answer-free_completions.jsonl`),
//! so a variant never overwrites the default run's files.

#[path = "common.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BUDGET: &[&str] = &["--samples", "8", "--batch", "8", "--refine-rounds", "1", "--max-tokens", "384"];

fn main() {
    let model = std::env::var("ARCSYNTH_BENCH_MODEL").ok();
    let replay = std::env::var("ARCSYNTH_BENCH_COMPLETIONS").ok();
    if model.is_none() && replay.is_none() {
        println!("llm_solve: skipped. Set ARCSYNTH_BENCH_MODEL=FILE.gguf to run a coder model (e.g. ../shared/models/fetch-qwen2.5-coder-1.5b fetches Qwen2.5-Coder-1.5B-Instruct), or ARCSYNTH_BENCH_COMPLETIONS=FILE to replay recorded completions.");
        return;
    }
    let root = common::root();
    let groups = task_list(&root.join("benchmarks/llm_solve_tasks.txt"));
    let tasks_dir = root.join("target/llm_solve/tasks");
    let _ = std::fs::remove_dir_all(root.join("target/llm_solve"));
    std::fs::create_dir_all(&tasks_dir).unwrap();
    for id in groups.keys() {
        let from = common::training_dir().join(format!("{id}.json"));
        std::fs::copy(&from, tasks_dir.join(format!("{id}.json")))
            .unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
    let out = root.join("target/llm_solve/run");
    let extra: Vec<String> = std::env::var("ARCSYNTH_BENCH_ARGS")
        .map(|a| a.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    let mut args: Vec<String> = ["search", "--proposer", "llm", "--tasks"].iter().map(|s| s.to_string()).collect();
    args.push(tasks_dir.display().to_string());
    args.extend(["--out".to_string(), out.display().to_string()]);
    args.extend(BUDGET.iter().map(|s| s.to_string()));
    match (&model, &replay) {
        (Some(m), _) => args.extend(["--model".to_string(), m.clone()]),
        (None, Some(c)) => args.extend(["--completions".to_string(), c.clone()]),
        _ => unreachable!(),
    }
    args.extend(extra.iter().cloned());
    println!("arcsynth {}", args.join(" "));
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_arcsynth")).args(&args).spawn().expect("arcsynth runs");
    // Peak resident memory: the kernel's high-water mark, read until the process ends.
    let mut peak_kb = 0u64;
    let status = loop {
        if let Some(kb) = vm_hwm_kb(child.id()) {
            peak_kb = peak_kb.max(kb);
        }
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let wall = started.elapsed().as_secs_f64();
    assert!(status.success(), "arcsynth search failed: {status}");

    let report: Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let completions_text = std::fs::read_to_string(out.join("completions.jsonl")).unwrap();
    let completions: Vec<Value> = completions_text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    // A variant's files are named for its flags: `--answer free --max-tasks 10` -> `-answer-free-max-tasks-10`.
    let variant: String = extra
        .iter()
        .map(|a| format!("-{}", a.trim_start_matches('-')))
        .collect::<String>()
        .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "");
    if model.is_some() {
        std::fs::write(
            root.join(format!("benchmarks/results/llm_solve{variant}_completions.jsonl")),
            &completions_text,
        )
        .unwrap();
    }
    let llm = &report["llm"];
    let n = completions.len().max(1) as f64;
    let count = |f: &dyn Fn(&Value) -> bool| completions.iter().filter(|c| f(c)).count();
    let with_program = count(&|c| c["outcome"] != "no program");
    let parses = count(&|c| c["outcome"] != "no program" && c["outcome"] != "parse error");
    let mut mends: BTreeMap<String, usize> = BTreeMap::new();
    for c in &completions {
        for m in c["mended"].as_array().into_iter().flatten() {
            *mends.entry(m.as_str().unwrap_or("?").to_string()).or_default() += 1;
        }
    }
    // Refinements that rewrote their parent's code unchanged (comments and spacing aside):
    // tokens spent for nothing new. `parent` indexes the task's own completions.
    let mut by_task: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for c in &completions {
        by_task.entry(c["task"].as_str().unwrap_or_default()).or_default().push(c);
    }
    let (mut refinements, mut copies) = (0usize, 0usize);
    for lines in by_task.values() {
        for c in lines.iter().filter(|c| c["round"].as_u64().unwrap_or(0) > 0) {
            refinements += 1;
            let parent = c["parent"].as_u64().and_then(|p| lines.get(p as usize));
            copies += parent.is_some_and(|p| {
                code_of(p["text"].as_str().unwrap_or_default()) == code_of(c["text"].as_str().unwrap_or_default())
            }) as usize;
        }
    }
    let causes = |category: &str| {
        top_causes(completions.iter().filter(|c| c["outcome"] == category).filter_map(|c| c["error"].as_str()), 5)
    };

    // Per task: solved on train and right on test, by group.
    // Group -> (solved on train, right on test, tasks run).
    let mut solved = BTreeMap::from([("enum", (0, 0, 0)), ("other", (0, 0, 0))]);
    let mut seconds = Vec::new();
    for line in report["per_task"].as_array().into_iter().flatten() {
        let id = line["task"].as_str().unwrap_or_default();
        let Some(group) = groups.get(id) else { continue };
        let entry = solved.get_mut(group.as_str()).unwrap();
        let train = line["solved_train"].as_bool().unwrap_or(false);
        entry.0 += train as usize;
        entry.1 += (train && line["correct"].as_f64() == Some(1.0)) as usize;
        entry.2 += 1;
        seconds.push(line["seconds"].as_f64().unwrap_or(0.0));
    }
    seconds.sort_by(f64::total_cmp);
    let f = |k: &str| llm[k].as_f64().unwrap_or(0.0);
    let u = |k: &str| llm[k].as_u64().unwrap_or(0);
    let prompt_tokens = u("prompt_tokens");
    let cached = u("cached_prompt_tokens");
    let prefill_tps =
        if f("prompt_seconds") > 0.0 { (prompt_tokens - cached) as f64 / f("prompt_seconds") } else { 0.0 };
    let result = json!({
        "mode": if model.is_some() { "model" } else { "replay" },
        "model": model.as_deref().or(replay.as_deref()),
        "commit": common::commit(),
        "budget": BUDGET.join(" "),
        "extra_args": extra.join(" "),
        "tasks": report["tasks"],
        "completions": completions.len(),
        "programs": with_program,
        "valid_code_rate": parses as f64 / n,
        "valid_output_rate": f("valid_output_rate"),
        "dsl_usage_rate": f("dsl_usage_rate"),
        "unique_output_rate": f("unique_output_rate"),
        "unique_per_1000_tokens": f("unique_per_1000_tokens"),
        "mended_rate": f("mended_rate"),
        "refinements": refinements,
        "refinement_copy_rate": copies as f64 / refinements.max(1) as f64,
        "mends": mends,
        "outcomes": llm["outcomes"],
        "parse_errors": causes("parse error"),
        "runtime_errors": causes("runtime error"),
        "solved_train_enum": solved["enum"].0,
        "right_on_test_enum": solved["enum"].1,
        "solved_train_other": solved["other"].0,
        "right_on_test_other": solved["other"].1,
        "tasks_enum": solved["enum"].2,
        "tasks_other": solved["other"].2,
        "pass_at_2": report["pass_at_2"],
        "prompt_tokens": prompt_tokens,
        "cached_prompt_tokens": cached,
        "prefill_tokens_per_second": prefill_tps,
        "decode_tokens_per_second": f("tokens_per_second"),
        "completion_tokens": u("completion_tokens"),
        "seconds_per_task_median": seconds.get(seconds.len() / 2).copied().unwrap_or(0.0),
        "seconds_per_task_mean": seconds.iter().sum::<f64>() / seconds.len().max(1) as f64,
        "wall_seconds": wall,
        "peak_rss_mb": peak_kb as f64 / 1024.0,
        "per_task": report["per_task"],
    });
    println!("{}", serde_json::to_string_pretty(&result).unwrap());
    let name = format!("{}{variant}", if model.is_some() { "llm_solve" } else { "llm_solve_replay" });
    let model_name =
        Path::new(model.as_deref().or(replay.as_deref()).unwrap()).file_name().unwrap().to_string_lossy().to_string();
    let summary = format!(
        "{model_name}, {} tasks, {} completions: valid code {:.1}%, valid output {:.1}%, DSL usage {:.1}%, unique outputs {:.1}% ({:.2}/1000 tokens), mended {:.1}%, refinements copying their parent {:.1}%; right on test {}/{} enum-solvable, {}/{} others (solved on train {}, {}); {}; {:.1} s/task median, decode {:.1} tokens/s, prefill {:.0} tokens/s, prompt tokens {} ({} cached), peak RSS {:.0} MB",
        report["tasks"].as_u64().unwrap_or(0),
        completions.len(),
        100.0 * parses as f64 / n,
        100.0 * f("valid_output_rate"),
        100.0 * f("dsl_usage_rate"),
        100.0 * f("unique_output_rate"),
        f("unique_per_1000_tokens"),
        100.0 * f("mended_rate"),
        100.0 * copies as f64 / refinements.max(1) as f64,
        solved["enum"].1,
        solved["enum"].2,
        solved["other"].1,
        solved["other"].2,
        solved["enum"].0,
        solved["other"].0,
        if model.is_some() { "model run".to_string() } else { "replayed".to_string() },
        result["seconds_per_task_median"].as_f64().unwrap_or(0.0),
        f("tokens_per_second"),
        prefill_tps,
        prompt_tokens,
        cached,
        result["peak_rss_mb"].as_f64().unwrap_or(0.0),
    );
    let env = match (&model, &replay) {
        (Some(_), _) => "ARCSYNTH_BENCH_MODEL=...",
        _ => "ARCSYNTH_BENCH_COMPLETIONS=...",
    };
    let extra_env =
        if extra.is_empty() { String::new() } else { format!(" ARCSYNTH_BENCH_ARGS='{}'", extra.join(" ")) };
    common::record(&name, &format!("{env}{extra_env} cargo bench --bench llm_solve"), &result, &summary);
}

/// A completion's code without comments, fences and spacing, to tell a copy.
fn code_of(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//") && !l.trim_start().starts_with("```"))
        .flat_map(|l| l.split_whitespace())
        .collect()
}

/// Task id -> group (`enum` or `other`), from the checked-in list.
fn task_list(path: &PathBuf) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut w = l.split_whitespace();
            (w.next().unwrap().to_string(), w.next().unwrap_or("other").to_string())
        })
        .collect()
}

/// The `n` commonest error causes: messages with positions, numbers and quoted names
/// generalised, so one mistake made in many programs counts once.
fn top_causes<'a>(messages: impl Iterator<Item = &'a str>, n: usize) -> Vec<Value> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for m in messages {
        *counts.entry(cause(m)).or_default() += 1;
    }
    let mut v: Vec<(String, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.into_iter().take(n).map(|(c, k)| json!({"cause": c, "count": k})).collect()
}

fn cause(message: &str) -> String {
    // Rhai's position suffix and the call site's arguments say where, not what.
    let m = message.split(" (line ").next().unwrap_or(message);
    let m = m.split(" in call to function").next().unwrap_or(m);
    let mut out = String::new();
    let mut digits = false;
    for ch in m.chars() {
        if ch.is_ascii_digit() {
            if !digits {
                out.push('N');
            }
            digits = true;
        } else {
            digits = false;
            out.push(ch);
        }
    }
    out.chars().take(120).collect()
}

/// A process's peak resident memory (VmHWM), in KiB, where /proc has it.
fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
