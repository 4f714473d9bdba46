//! Tokens/s of the llama.cpp backend for N = 1, 4, 8, 16, 32 parallel sequences sampled
//! from one prompt, and N = 8 with the program grammar (dsl/program.gbnf) for its cost.
//! Default: the project's tiny random-weight model on the CPU and a short prompt.
//!
//! Run: `cargo bench --bench llm_throughput`. Options (environment): ARCSYNTH_BENCH_PRESET
//! (tiny, qwen2.5-coder-0.5b, qwen2.5-coder-1.5b), ARCSYNTH_BENCH_MODEL (an existing GGUF
//! instead), ARCSYNTH_BENCH_GPU_LAYERS, ARCSYNTH_BENCH_THREADS, ARCSYNTH_BENCH_TOKENS,
//! ARCSYNTH_BENCH_TASK (a training task id: the prompt is the one `search` first sends for
//! it, about 4k tokens, so decoding reads as long a context as inside the search),
//! ARCSYNTH_BENCH_SIZES (e.g. "1,8"), ARCSYNTH_BENCH_REPS (best of; default 3),
//! ARCSYNTH_BENCH_BUSY=1 (one more thread spins all along, as the sandbox thread does
//! while it evaluates programs during generation), ARCSYNTH_BENCH_FLASH=0|1 (llama.cpp's
//! flash attention off or on; default: llama.cpp's choice, on).

#[path = "common.rs"]
mod common;

use arcsynth::llm::llama::{LlamaCpp, LoadOptions};
use arcsynth::llm::{Backend, Message, Request, Sampling};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let preset: String = env_or("ARCSYNTH_BENCH_PRESET", "tiny".to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as i32);
    let threads: i32 = env_or("ARCSYNTH_BENCH_THREADS", cores);
    let gpu_layers: u32 = env_or("ARCSYNTH_BENCH_GPU_LAYERS", 0);
    let max_tokens: usize = env_or("ARCSYNTH_BENCH_TOKENS", 64);
    let reps: u32 = env_or("ARCSYNTH_BENCH_REPS", 3);
    let busy = std::env::var("ARCSYNTH_BENCH_BUSY").is_ok_and(|v| v == "1");
    let flash: Option<bool> = std::env::var("ARCSYNTH_BENCH_FLASH").ok().map(|v| v == "1");
    let sizes: Vec<usize> = env_or("ARCSYNTH_BENCH_SIZES", "1,4,8,16,32".to_string())
        .split(',')
        .map(|n| n.trim().parse().expect("ARCSYNTH_BENCH_SIZES: numbers separated by commas"))
        .collect();
    let task: Option<String> = std::env::var("ARCSYNTH_BENCH_TASK").ok();
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
    let messages = match &task {
        Some(id) => {
            let t = arcsynth::task::load_one(&common::training_dir(), id).unwrap().without_test_outputs();
            let library = arcsynth::library::worked_examples(None).unwrap();
            let templates = arcsynth::prompt::Templates::builtin();
            // As `search` builds it by default: 3 worked examples ranked by fit.
            let prompter = arcsynth::prompt::Prompter {
                rank_by_fit: true,
                ..arcsynth::prompt::Prompter::new(templates, library, 3)
            };
            prompter.first(&t, &arcsynth::sandbox::Sandbox::new(arcsynth::sandbox::Limits::default()))
        }
        None => vec![Message::new("user", &"Write a Rhai function solve(g) that rotates the grid.\n".repeat(6))],
    };
    let prompt_room = if task.is_some() { 6144 } else { 512 };
    let largest = sizes.iter().copied().max().unwrap_or(8).max(8);
    let ctx = prompt_room + (largest * max_tokens) as u32 + 64;
    let mut backend = LlamaCpp::load(
        &model,
        LoadOptions {
            gpu_layers,
            ctx: Some(ctx),
            threads,
            batch: 512,
            flash_attention: flash,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spinner = busy.then(|| {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut x = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        })
    });
    let request = |n: usize, seed: u32, grammar: Option<String>| Request {
        messages: messages.clone(),
        n,
        // No early stops: every sequence generates max_tokens, so runs compare.
        sampling: Sampling { temperature: 1.0, top_k: 0, top_p: 1.0, seed, max_tokens, ..Sampling::default() },
        grammar,
        label: String::new(),
        prefill: String::new(),
    };
    let mut rows = Vec::new();
    let mut prompt_tokens = 0;
    for &n in &sizes {
        let mut best = 0.0f64;
        for rep in 0..reps {
            let g = backend.generate(&request(n, rep, None)).unwrap();
            prompt_tokens = g.prompt_tokens;
            best = best.max(g.completion_tokens() as f64 / g.generation_time.as_secs_f64());
        }
        println!("N={n:2}: {best:8.1} tokens/s");
        rows.push(serde_json::json!({"n": n, "tokens_per_second": best, "prompt_tokens": prompt_tokens}));
    }
    // The cost of grammar-constrained decoding (dsl/program.gbnf) at N = 8.
    let tps = |n: usize| rows.iter().find(|r| r["n"] == n).and_then(|r| r["tokens_per_second"].as_f64());
    let mut grammar_best = None;
    if let Some(n8) = tps(8) {
        let grammar = std::fs::read_to_string(common::root().join("dsl/program.gbnf")).unwrap();
        let mut best = 0.0f64;
        for rep in 0..reps {
            let g = backend.generate(&request(8, rep, Some(grammar.clone()))).unwrap();
            best = best.max(g.completion_tokens() as f64 / g.generation_time.as_secs_f64());
        }
        println!("N= 8 with the program grammar: {best:8.1} tokens/s");
        grammar_best = Some((best, best / n8));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(s) = spinner {
        s.join().unwrap();
    }
    let json = serde_json::json!({
        "model": model.file_name().unwrap().to_string_lossy(),
        "preset": preset,
        "prompt": task.as_deref().map_or("short".to_string(), |id| format!("search's first prompt of {id}")),
        "prompt_tokens": prompt_tokens,
        "threads": threads,
        "busy_thread": busy,
        "gpu_layers": gpu_layers,
        "max_tokens": max_tokens,
        "results": rows,
        "n8_over_n1": tps(8).zip(tps(1)).map(|(a, b)| a / b),
        "grammar_n8_tokens_per_second": grammar_best.map(|g| g.0),
        "grammar_n8_relative": grammar_best.map(|g| g.1),
    });
    let by_size: Vec<String> = sizes.iter().map(|&n| format!("{:.1}", tps(n).unwrap_or(0.0))).collect();
    let sizes_text: Vec<String> = sizes.iter().map(usize::to_string).collect();
    let mut summary = format!(
        "llama.cpp, {preset} model, {threads} threads{}, {gpu_layers} GPU layers, {prompt_tokens}-token prompt: {} tokens/s at N = {}",
        if busy { " and a spinning thread" } else { "" },
        by_size.join(" / "),
        sizes_text.join("/"),
    );
    if let Some(r) = json["n8_over_n1"].as_f64() {
        summary.push_str(&format!(" (N=8 is {r:.1}x N=1)"));
    }
    if let Some((g, rel)) = grammar_best {
        summary.push_str(&format!("; N=8 with dsl/program.gbnf: {g:.1} tokens/s ({rel:.2}x)"));
    }
    // The default run keeps its old name; others say what differs.
    let mut name = format!("llm_throughput_{preset}");
    let mut command = format!("ARCSYNTH_BENCH_PRESET={preset}");
    if std::env::var("ARCSYNTH_BENCH_MODEL").is_ok() {
        command = format!("ARCSYNTH_BENCH_MODEL={} {command}", model.file_name().unwrap().to_string_lossy());
    }
    if reps != 3 {
        command.push_str(&format!(" ARCSYNTH_BENCH_REPS={reps}"));
    }
    if let Some(id) = &task {
        name.push_str(&format!("_{id}"));
        command.push_str(&format!(" ARCSYNTH_BENCH_TASK={id}"));
    }
    if threads != cores || busy || task.is_some() {
        name.push_str(&format!("_t{threads}"));
        command.push_str(&format!(" ARCSYNTH_BENCH_THREADS={threads}"));
    }
    if busy {
        name.push_str("_busy");
        command.push_str(" ARCSYNTH_BENCH_BUSY=1");
    }
    if let Some(f) = flash {
        name.push_str(if f { "_flash" } else { "_noflash" });
        command.push_str(&format!(" ARCSYNTH_BENCH_FLASH={}", f as u8));
    }
    if sizes != [1, 4, 8, 16, 32] {
        name.push_str(&format!("_n{}", sizes_text.join("-")));
        command.push_str(&format!(" ARCSYNTH_BENCH_SIZES={}", sizes_text.join(",")));
    }
    command.push_str(" cargo bench --bench llm_throughput");
    common::record(&name, &command, &json, &summary);
    println!("{summary}");
}
