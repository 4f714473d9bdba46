//! Tokens/s of the llama.cpp backend for N = 1, 4, 8, 16 parallel sequences sampled from
//! one prompt, and N = 8 with the program grammar (dsl/program.gbnf) for its cost.
//! Default: the project's tiny random-weight model on the CPU.
//!
//! Run: `cargo bench --bench llm_throughput`. Options (environment): ARCSYNTH_BENCH_PRESET
//! (tiny, qwen2.5-coder-0.5b, qwen2.5-coder-1.5b), ARCSYNTH_BENCH_MODEL (an existing GGUF
//! instead), ARCSYNTH_BENCH_GPU_LAYERS, ARCSYNTH_BENCH_THREADS, ARCSYNTH_BENCH_TOKENS.

#[path = "common.rs"]
mod common;

use arcsynth::llm::llama::{LlamaCpp, LoadOptions};
use arcsynth::llm::{Backend, Message, Request, Sampling};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let preset: String = env_or("ARCSYNTH_BENCH_PRESET", "tiny".to_string());
    let threads: i32 =
        env_or("ARCSYNTH_BENCH_THREADS", std::thread::available_parallelism().map_or(1, |n| n.get() as i32));
    let gpu_layers: u32 = env_or("ARCSYNTH_BENCH_GPU_LAYERS", 0);
    let max_tokens: usize = env_or("ARCSYNTH_BENCH_TOKENS", 64);
    let model = match std::env::var("ARCSYNTH_BENCH_MODEL") {
        Ok(p) => std::path::PathBuf::from(p),
        Err(_) => {
            let p = common::root().join(format!("target/bench-{preset}.gguf"));
            if !p.exists() {
                arcsynth::llm::gguf::make_model(&preset, &p, 1).unwrap();
            }
            p
        }
    };
    let ctx = 512 + 16 * max_tokens as u32 + 64;
    let mut backend = LlamaCpp::load(
        &model,
        LoadOptions { gpu_layers, ctx: Some(ctx), threads, batch: 512, ..LoadOptions::default() },
    )
    .unwrap();
    let prompt = "Write a Rhai function solve(g) that rotates the grid.\n".repeat(6);
    let mut rows = Vec::new();
    for n in [1usize, 4, 8, 16] {
        let mut best = 0.0f64;
        let mut prompt_tokens = 0;
        for rep in 0..3 {
            let req = Request {
                messages: vec![Message::new("user", &prompt)],
                n,
                // No early stops: every sequence generates max_tokens, so runs compare.
                sampling: Sampling {
                    temperature: 1.0,
                    top_k: 0,
                    top_p: 1.0,
                    seed: rep,
                    max_tokens,
                    ..Sampling::default()
                },
                grammar: None,
                label: String::new(),
                prefill: String::new(),
            };
            let g = backend.generate(&req).unwrap();
            prompt_tokens = g.prompt_tokens;
            let tps = g.completion_tokens() as f64 / g.generation_time.as_secs_f64();
            best = best.max(tps);
        }
        println!("N={n:2}: {best:8.0} tokens/s");
        rows.push(serde_json::json!({"n": n, "tokens_per_second": best, "prompt_tokens": prompt_tokens}));
    }
    // The cost of grammar-constrained decoding (dsl/program.gbnf) at N = 8.
    let grammar = std::fs::read_to_string(common::root().join("dsl/program.gbnf")).unwrap();
    let mut grammar_best = 0.0f64;
    for rep in 0..3 {
        let req = Request {
            messages: vec![Message::new("user", &prompt)],
            n: 8,
            sampling: Sampling { temperature: 1.0, top_k: 0, top_p: 1.0, seed: rep, max_tokens, ..Sampling::default() },
            grammar: Some(grammar.clone()),
            label: String::new(),
            prefill: String::new(),
        };
        let g = backend.generate(&req).unwrap();
        grammar_best = grammar_best.max(g.completion_tokens() as f64 / g.generation_time.as_secs_f64());
    }
    println!("N= 8 with the program grammar: {grammar_best:8.0} tokens/s");
    let tps = |i: usize| rows[i]["tokens_per_second"].as_f64().unwrap();
    let json = serde_json::json!({
        "model": model.file_name().unwrap().to_string_lossy(),
        "preset": preset,
        "threads": threads,
        "gpu_layers": gpu_layers,
        "max_tokens": max_tokens,
        "results": rows,
        "n8_over_n1": tps(2) / tps(0),
        "grammar_n8_tokens_per_second": grammar_best,
        "grammar_n8_relative": grammar_best / tps(2),
    });
    let summary = format!(
        "llama.cpp, {preset} model, {threads} threads, {gpu_layers} GPU layers: {:.0} / {:.0} / {:.0} / {:.0} tokens/s at N = 1/4/8/16 (N=8 is {:.1}x N=1); N=8 with dsl/program.gbnf: {:.0} tokens/s ({:.2}x)",
        tps(0), tps(1), tps(2), tps(3), tps(2) / tps(0), grammar_best, grammar_best / tps(2)
    );
    common::record(
        &format!("llm_throughput_{preset}"),
        &format!("ARCSYNTH_BENCH_PRESET={preset} cargo bench --bench llm_throughput"),
        &json,
        &summary,
    );
    println!("{summary}");
}
