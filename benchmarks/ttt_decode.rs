//! The transduction path's decoding on CPU: `ttt::solve` (augmented views, depth-first
//! search with KV backtracking, re-scoring) with a random-weight grid-token model on
//! ARC-AGI-1 training tasks. Seconds per task, model calls and tokens decoded per second.
//! (Per-task LoRA fine-tuning is not built yet, so there are no training-step figures.)
//!
//! Run: `cargo bench --bench ttt_decode` (preset: ARCSYNTH_BENCH_PRESET, default
//! grid-tiny; tasks: ARCSYNTH_BENCH_TASKS, default 10; views: ARCSYNTH_BENCH_VIEWS,
//! default 8; threads: ARCSYNTH_BENCH_THREADS, default all; ARCSYNTH_BENCH_GPU_LAYERS).

#[path = "common.rs"]
mod common;

use std::time::Instant;

use arcsynth::llm::llama::{LoadOptions, TokenModel};
use arcsynth::ttt::{self, TttConfig};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let preset: String = env_or("ARCSYNTH_BENCH_PRESET", "grid-tiny".to_string());
    let n: usize = env_or("ARCSYNTH_BENCH_TASKS", 10);
    let views: usize = env_or("ARCSYNTH_BENCH_VIEWS", 8);
    let threads: i32 = env_or("ARCSYNTH_BENCH_THREADS", std::thread::available_parallelism().map_or(1, |n| n.get() as i32));
    let gpu_layers: u32 = env_or("ARCSYNTH_BENCH_GPU_LAYERS", 0);
    let path = common::root().join(format!("target/bench-{preset}.gguf"));
    if !path.exists() {
        arcsynth::llm::gguf::make_model(&preset, &path, 1).unwrap();
    }
    let mut model = TokenModel::load(&path, LoadOptions { ctx: Some(8192), threads, gpu_layers, ..LoadOptions::default() }).unwrap();
    let mut tasks = arcsynth::task::load(&common::training_dir()).unwrap().tasks;
    tasks.sort_by(|a, b| a.id.cmp(&b.id));
    // Small tasks first: the published figures are for grids up to 10x10.
    tasks.retain(|t| t.train.iter().all(|e| e.input.rows().max(e.input.cols()).max(e.output.rows().max(e.output.cols())) <= 10));
    tasks.truncate(n);
    let cfg = TttConfig { views, score_views: views, seed: 1, ..TttConfig::default() };
    let start = Instant::now();
    let (mut calls, mut times) = (0usize, Vec::new());
    for t in &tasks {
        let (_, stats) = ttt::solve(&mut model, &t.without_test_outputs(), &cfg).unwrap();
        eprintln!("{} {:.2}s {} calls, {} candidates", t.id, stats.seconds, stats.dfs_calls, stats.candidates);
        calls += stats.dfs_calls;
        times.push(stats.seconds);
    }
    let total = start.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);
    let json = serde_json::json!({
        "preset": preset, "tasks": tasks.len(), "views": views, "threads": threads, "gpu_layers": gpu_layers,
        "seconds_total": total, "seconds_per_task_median": times[times.len() / 2], "dfs_calls": calls,
        "tokens_decoded": model.decoded, "tokens_per_second": model.decoded as f64 / total,
    });
    let summary = format!(
        "ttt decode, {preset}, {} tasks (grids <= 10x10), {views} views, {threads} threads, {gpu_layers} GPU layers: median {:.2} s/task, {:.0} tokens decoded/s, {} DFS calls",
        tasks.len(),
        times[times.len() / 2],
        model.decoded as f64 / total,
        calls
    );
    println!("{summary}");
    common::record(&format!("ttt_decode_{preset}"), &format!("ARCSYNTH_BENCH_PRESET={preset} cargo bench --bench ttt_decode"), &json, &summary);
}
