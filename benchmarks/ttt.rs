//! The transduction path on CPU with a random-weight grid-token model, per task:
//! LoRA training on the task's augmented training pairs (candle), then decoding
//! (augmented views, depth-first search with KV backtracking, re-scoring; llama.cpp).
//! Seconds per training step, per task, tokens decoded per second.
//!
//! Run: `cargo bench --bench ttt`. Settings: ARCSYNTH_BENCH_PRESET (grid-tiny),
//! ARCSYNTH_BENCH_TASKS (10, the first training tasks with grids up to 10x10),
//! ARCSYNTH_BENCH_VIEWS (8), ARCSYNTH_BENCH_EPOCHS (5), ARCSYNTH_BENCH_RANK (32),
//! ARCSYNTH_BENCH_THREADS (all), ARCSYNTH_BENCH_GPU_LAYERS (0).

#[path = "common.rs"]
mod common;

use std::time::Instant;

use arcsynth::llm::llama::{LoadOptions, TokenModel};
use arcsynth::ttt::lora::{Base, LoraConfig, TrainConfig, Trainer};
use arcsynth::ttt::{self, format::Format, TttConfig};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let preset: String = env_or("ARCSYNTH_BENCH_PRESET", "grid-tiny".to_string());
    let n: usize = env_or("ARCSYNTH_BENCH_TASKS", 10);
    let views: usize = env_or("ARCSYNTH_BENCH_VIEWS", 8);
    let epochs: usize = env_or("ARCSYNTH_BENCH_EPOCHS", 5);
    let rank: usize = env_or("ARCSYNTH_BENCH_RANK", 32);
    let threads: i32 =
        env_or("ARCSYNTH_BENCH_THREADS", std::thread::available_parallelism().map_or(1, |n| n.get() as i32));
    let gpu_layers: u32 = env_or("ARCSYNTH_BENCH_GPU_LAYERS", 0);
    let path = common::root().join(format!("target/bench-{preset}.gguf"));
    if !path.exists() {
        arcsynth::llm::gguf::make_model(&preset, &path, 1).unwrap();
    }
    let mut model =
        TokenModel::load(&path, LoadOptions { ctx: Some(8192), threads, gpu_layers, ..LoadOptions::default() })
            .unwrap();
    let trainer = (epochs > 0).then(|| Trainer {
        base: Base::load(&path).unwrap(),
        cfg: TrainConfig {
            lora: LoraConfig { rank, alpha: rank as f64, epochs, ..LoraConfig::default() },
            views,
            orders: 1,
        },
        format: Format::default(),
    });
    let mut tasks = arcsynth::task::load(&common::training_dir()).unwrap().tasks;
    tasks.sort_by(|a, b| a.id.cmp(&b.id));
    // The published figures are for grids up to 10x10.
    tasks.retain(|t| {
        t.train.iter().all(|e| e.input.rows().max(e.input.cols()).max(e.output.rows().max(e.output.cols())) <= 10)
    });
    tasks.truncate(n);
    let cfg = TttConfig { views, score_views: views, seed: 1, ..TttConfig::default() };
    let start = Instant::now();
    let (mut calls, mut times, mut steps, mut train_secs) = (0usize, Vec::new(), 0usize, 0.0f64);
    for t in &tasks {
        let (_, stats) =
            ttt::solve_task(&mut model, trainer.as_ref(), &t.without_test_outputs(), &cfg, |_, _| {}).unwrap();
        if let Some(tr) = &stats.train {
            steps += tr.steps;
            train_secs += tr.seconds;
        }
        eprintln!(
            "{} {:.2}s {} calls, {} candidates, train {:?}",
            t.id,
            stats.seconds,
            stats.dfs_calls,
            stats.candidates,
            stats.train.as_ref().map(|t| t.seconds)
        );
        calls += stats.dfs_calls;
        times.push(stats.seconds);
    }
    let total = start.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);
    let per_step = train_secs / steps.max(1) as f64;
    let decode_secs = total - train_secs;
    let json = serde_json::json!({
        "preset": preset, "tasks": tasks.len(), "views": views, "epochs": epochs, "rank": rank, "threads": threads, "gpu_layers": gpu_layers,
        "seconds_total": total, "seconds_per_task_median": times[times.len() / 2], "train_steps": steps, "seconds_per_train_step": per_step,
        "train_seconds": train_secs, "decode_seconds": decode_secs, "dfs_calls": calls,
        "tokens_decoded": model.decoded, "decoded_tokens_per_second": model.decoded as f64 / decode_secs.max(1e-9),
    });
    let summary = format!(
        "ttt, {preset}, {} tasks (grids <= 10x10), {views} views, LoRA rank {rank} x {epochs} epochs, {threads} threads, {gpu_layers} GPU layers: median {:.2} s/task, {:.4} s per training step ({steps} steps), decoding {:.0} tokens/s",
        tasks.len(),
        times[times.len() / 2],
        per_step,
        model.decoded as f64 / decode_secs.max(1e-9)
    );
    println!("{summary}");
    common::record(
        &format!("ttt_{preset}"),
        &format!("ARCSYNTH_BENCH_PRESET={preset} cargo bench --bench ttt"),
        &json,
        &summary,
    );
}
