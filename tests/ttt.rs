//! The transduction path on the project's own random-weight grid-token model (qwen3
//! architecture, 16-token vocabulary, no tokenizer) through llama.cpp: the model loads,
//! depth-first search with KV backtracking gives the same answers and probabilities as
//! scoring from scratch, and `arcsynth ttt` / `search --ttt-model` write complete,
//! resumable runs that say where each answer came from.
#![cfg(feature = "llama")]

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use arcsynth::llm::llama::{LoadOptions, TokenModel};
use arcsynth::llm::{LlmError, NextToken};
use arcsynth::ttt::{dfs, format::Format};
use common::*;
use serde_json::Value;

fn grid_tiny() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let p = temp_dir("grid-model").join("grid-tiny.gguf");
        arcsynth::llm::gguf::make_model("grid-tiny", &p, 3).unwrap();
        p
    })
}

fn load() -> TokenModel {
    TokenModel::load(grid_tiny(), LoadOptions { ctx: Some(4096), threads: 1, ..LoadOptions::default() }).unwrap()
}

/// The model with its KV cache thrown away before every call: the reference for what
/// backtracking must give.
struct FromScratch(TokenModel);

impl NextToken for FromScratch {
    fn vocab_size(&self) -> usize {
        self.0.vocab_size()
    }
    fn next_logprobs(&mut self, tokens: &[u32]) -> Result<Vec<f32>, LlmError> {
        self.0.reset();
        self.0.next_logprobs(tokens)
    }
}

fn task_prompt(id: &str) -> Vec<u32> {
    let t = arcsynth::task::load_one(&training_dir(), id).unwrap();
    let pairs: Vec<_> = t.train.iter().map(|e| (&e.input, &e.output)).collect();
    Format::default().prompt(&pairs, &t.test[0].input)
}

#[test]
fn the_grid_model_loads_with_its_16_token_vocabulary() {
    let mut m = load();
    assert_eq!(m.architecture(), "qwen3");
    assert_eq!(m.vocab_size(), 16);
    let lp = m.next_logprobs(&task_prompt("6150a2bd")).unwrap();
    let total: f64 = lp.iter().map(|&l| (l as f64).exp()).sum();
    assert!((total - 1.0).abs() < 1e-4);
    // Embeddings of std 1 make the random model far from uniform.
    let max = lp.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    assert!(max > (2.0f32 / 16.0).ln(), "max probability {}", max.exp());
    assert!(
        matches!(m.next_logprobs(&[16]), Err(LlmError::Backend(_))),
        "token ids are checked before llama.cpp sees them"
    );
}

#[test]
fn dfs_with_kv_backtracking_matches_scoring_from_scratch() {
    let prompt = task_prompt("d631b094");
    let cfg = dfs::DfsConfig { min_prob: 5e-4, max_tokens: 4, max_calls: 5000 };
    let mut m = load();
    let fast = dfs::search(&mut m, &prompt, &cfg).unwrap();
    let decoded_fast = m.decoded;
    let mut slow_model = FromScratch(load());
    let slow = dfs::search(&mut slow_model, &prompt, &cfg).unwrap();
    assert!(fast.exhausted && fast.found.len() >= 3, "the case must have answers: {}", fast.found.len());
    assert_eq!(fast.found.len(), slow.found.len());
    for (a, b) in fast.found.iter().zip(&slow.found) {
        assert_eq!(a.tokens, b.tokens);
        // Batched and one-token decodes sum in different orders: equal to f32 rounding.
        assert!((a.logprob - b.logprob).abs() < 5e-3, "{} vs {}", a.logprob, b.logprob);
        assert!(a.logprob >= cfg.min_prob.ln());
    }
    // Backtracking decodes the prompt once, then about one token per call.
    assert!(decoded_fast < prompt.len() + 3 * fast.calls, "decoded {decoded_fast} tokens in {} calls", fast.calls);
    assert!(slow_model.0.decoded > fast.calls * prompt.len() / 2);
}

#[test]
fn ttt_writes_a_resumable_run_and_search_falls_back_to_it() {
    let tasks = temp_dir("ttt-tasks");
    for id in ["6150a2bd", "25d8a9c8", "794b24be"] {
        std::fs::copy(training_dir().join(format!("{id}.json")), tasks.join(format!("{id}.json"))).unwrap();
    }
    let (model, tasks_s) = (grid_tiny().to_str().unwrap(), tasks.to_str().unwrap());
    let run = temp_dir("ttt-run");
    let args = [
        "ttt",
        "--model",
        model,
        "--tasks",
        tasks_s,
        "--out",
        run.to_str().unwrap(),
        "--views",
        "3",
        "--score-views",
        "2",
        "--min-prob",
        "0.001",
        "--threads",
        "1",
        "--epochs",
        "2",
        "--train-views",
        "2",
        "--lr",
        "0.01",
        "--rank",
        "4",
    ];
    let o = arcsynth(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let sub: Value = serde_json::from_slice(&std::fs::read(run.join("submission.json")).unwrap()).unwrap();
    assert_eq!(sub.as_object().unwrap().len(), 3);
    let report: Value = serde_json::from_slice(&std::fs::read(run.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["answer_sources"], serde_json::json!({"ttt": 3}));
    let r: Value = serde_json::from_slice(&std::fs::read(run.join("results/25d8a9c8.json")).unwrap()).unwrap();
    assert_eq!(r["ttt"]["views"], 3);
    // Per-task LoRA: 2 views x 1 order x 2 epochs, and the loss went down.
    let train = &r["ttt"]["train"];
    assert_eq!((train["sequences"].as_u64(), train["steps"].as_u64()), (Some(2), Some(4)), "{r}");
    assert!(train["loss_after"].as_f64().unwrap() < train["loss_before"].as_f64().unwrap(), "{train}");
    assert_eq!(train["device"], "cpu", "a build without cuda trains on the CPU");
    assert!(r["ttt"]["dfs_calls"].as_u64().unwrap() >= 3);
    // The random model finds some answers; each attempt is one of the ranked answers.
    let answers = r["ttt"]["answers"][0].as_array().unwrap();
    assert!(!answers.is_empty() && r["ttt"]["candidates"].as_u64().unwrap() >= 1, "{r}");
    assert_eq!(r["attempts"][0]["attempt_1"], answers[0]["grid"]);
    assert!(stdout(&o).contains("LoRA training on 3 tasks (cpu): mean loss"), "{}", stdout(&o));
    let o = arcsynth(&args);
    assert!(stdout(&o).contains("tasks: 3 (3 resumed)"), "{}", stdout(&o));

    // The enumerator solves 6150a2bd; the other two fall back to the grid model.
    let run2 = temp_dir("search-ttt");
    let o = arcsynth(&[
        "search",
        "--tasks",
        tasks_s,
        "--out",
        run2.to_str().unwrap(),
        "--time-per-task",
        "1",
        "--depth",
        "1",
        "--ttt-model",
        model,
        "--views",
        "2",
        "--min-prob",
        "0.01",
        "--epochs",
        "0",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("answers from: program 1, ttt 2"), "{}", stdout(&o));
}

#[test]
fn a_coder_model_is_refused_as_a_grid_model() {
    let d = temp_dir("not-grid");
    let coder = d.join("coder.gguf");
    arcsynth::llm::gguf::make_model("tiny", &coder, 1).unwrap();
    let o = arcsynth(&[
        "ttt",
        "--model",
        coder.to_str().unwrap(),
        "--tasks",
        training_dir().to_str().unwrap(),
        "--out",
        d.join("run").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a grid-token model (its vocabulary has 260 tokens"), "{}", stderr(&o));
}

mod lora {
    use super::*;
    use arcsynth::ttt::augment;
    use arcsynth::ttt::lora::{self, Adapter, Base, LoraConfig};

    fn small_cfg(rank: usize, lr: f64, epochs: usize) -> LoraConfig {
        LoraConfig { rank, alpha: 2.0 * rank as f64, rslora: false, lr, epochs, seed: 5 }
    }

    /// The last position's log-probabilities from candle.
    fn candle_last(base: &Base, ids: &[u32], adapter: Option<&Adapter>) -> Vec<f32> {
        let logits = base.forward(ids, adapter).unwrap();
        let last: Vec<f32> = logits.get(ids.len() - 1).unwrap().to_vec1().unwrap();
        arcsynth::llm::log_softmax(&last)
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    #[test]
    fn candle_and_llama_cpp_agree_with_and_without_an_adapter() {
        let base = Base::load(grid_tiny()).unwrap();
        let ids = task_prompt("d631b094");
        let mut m = load();
        let plain = m.next_logprobs(&ids).unwrap();
        assert!(max_diff(&candle_last(&base, &ids, None), &plain) < 2e-3, "the base forward passes differ");

        let mut adapter = Adapter::new(&base, small_cfg(4, 1e-3, 1)).unwrap();
        adapter.randomise_b(0.3, 9).unwrap();
        let path = temp_dir("adapter").join("a.gguf");
        adapter.write_gguf(&path).unwrap();
        m.set_adapter(&path).unwrap();
        let adapted = m.next_logprobs(&ids).unwrap();
        assert!(max_diff(&adapted, &plain) > 0.05, "the adapter must change the model");
        let diff = max_diff(&candle_last(&base, &ids, Some(&adapter)), &adapted);
        eprintln!(
            "base diff {}, adapter effect {}, adapted diff {diff}",
            max_diff(&candle_last(&base, &ids, None), &plain),
            max_diff(&adapted, &plain)
        );
        assert!(diff < 2e-3, "candle and llama.cpp differ by {diff} with the same adapter");
        m.clear_adapter().unwrap();
        assert_eq!(m.next_logprobs(&ids).unwrap(), plain, "clearing the adapter restores the base model exactly");
    }

    #[test]
    fn adapters_past_the_memory_limit_reload_the_model_with_the_same_results() {
        let base = Base::load(grid_tiny()).unwrap();
        let ids = task_prompt("d631b094");
        let dir = temp_dir("reload");
        let paths: Vec<PathBuf> = (0..2u64)
            .map(|seed| {
                let mut adapter = Adapter::new(&base, small_cfg(4, 1e-3, 1)).unwrap();
                adapter.randomise_b(0.3, seed + 1).unwrap();
                let path = dir.join(format!("a{seed}.gguf"));
                adapter.write_gguf(&path).unwrap();
                path
            })
            .collect();
        let mut m = load();
        let plain = m.next_logprobs(&ids).unwrap();
        let first: Vec<Vec<f32>> = paths
            .iter()
            .map(|p| {
                m.set_adapter(p).unwrap();
                m.next_logprobs(&ids).unwrap()
            })
            .collect();
        assert_ne!(first[0], first[1], "the two adapters must differ");
        assert_eq!(m.reloads, 0, "two small adapters fit in the default limit");
        // Every further adapter is past a 1-byte limit: each load reloads the model.
        m.adapter_memory_limit = 1;
        for (p, want) in paths.iter().zip(&first) {
            m.set_adapter(p).unwrap();
            assert_eq!(&m.next_logprobs(&ids).unwrap(), want, "an adapter gives the same logits after a reload");
        }
        assert_eq!(m.reloads, 2);
        m.clear_adapter().unwrap();
        assert_eq!(m.next_logprobs(&ids).unwrap(), plain, "the reloaded base model is the same model");
    }

    #[test]
    fn gradients_match_finite_differences() {
        let base = Base::load(grid_tiny()).unwrap();
        let t = arcsynth::task::load_one(&training_dir(), "d631b094").unwrap();
        let pairs: Vec<_> = t.train.iter().take(2).map(|e| (&e.input, &e.output)).collect();
        let (ids, mask) = Format::default().sequence(&pairs);
        let mut adapter = Adapter::new(&base, small_cfg(2, 1e-3, 1)).unwrap();
        adapter.randomise_b(0.2, 3).unwrap();
        let checked = lora::check_gradients(&base, &adapter, &ids, &mask, 6).unwrap();
        eprintln!("gradients (analytic, numeric): {checked:?}");
        for (analytic, numeric) in &checked {
            let tol = 0.05 * numeric.abs().max(analytic.abs()) + 2e-3;
            assert!(
                (analytic - numeric).abs() < tol,
                "analytic {analytic} vs finite difference {numeric}: {checked:?}"
            );
        }
        assert!(checked.iter().any(|(a, _)| a.abs() > 1e-2), "some gradient must be non-trivial: {checked:?}");
    }

    #[test]
    fn lora_learns_a_task_and_llama_cpp_then_reproduces_a_training_output() {
        let base = Base::load(grid_tiny()).unwrap();
        let task = arcsynth::task::load_one(&training_dir(), "d631b094").unwrap();
        let f = Format::default();
        let mut sequences = Vec::new();
        for v in augment::views(&task, 4, 1) {
            let t = v.apply_task(&task);
            for order in augment::pair_orders(t.train.len(), 2, 1) {
                let pairs: Vec<_> = order.iter().map(|&i| (&t.train[i].input, &t.train[i].output)).collect();
                sequences.push(f.sequence(&pairs));
            }
        }
        let adapter = Adapter::new(&base, small_cfg(8, 1e-2, 12)).unwrap();
        let before = lora::mean_loss(&base, Some(&adapter), &sequences).unwrap();
        lora::train(&base, &adapter, &sequences, |_, _| {}).unwrap();
        let after = lora::mean_loss(&base, Some(&adapter), &sequences).unwrap();
        eprintln!("loss {before} -> {after} over {} sequences", sequences.len());
        assert!(after <= before / 2.0, "loss {before} -> {after}");

        let mut m = load();
        let pairs: Vec<_> = task.train.iter().map(|e| (&e.input, &e.output)).collect();
        let prompts: Vec<Vec<u32>> = (0..pairs.len()).map(|k| f.prompt(&pairs[..k], pairs[k].0)).collect();
        let untrained: Vec<Vec<f32>> = prompts.iter().map(|p| m.next_logprobs(p).unwrap()).collect();
        let path = temp_dir("trained").join("a.gguf");
        adapter.write_gguf(&path).unwrap();
        m.set_adapter(&path).unwrap();
        let reproduced = (0..pairs.len())
            .filter(|&k| arcsynth::ttt::greedy(&mut m, &prompts[k], 40).unwrap().as_ref() == Some(pairs[k].1));
        let reproduced = reproduced.count();
        eprintln!("{reproduced} of {} training outputs reproduced", pairs.len());
        assert!(reproduced >= 1, "greedy decoding reproduces no training output");
        m.clear_adapter().unwrap();
        for (p, want) in prompts.iter().zip(&untrained) {
            assert_eq!(
                &m.next_logprobs(p).unwrap(),
                want,
                "resetting the adapter restores the untrained outputs exactly"
            );
        }
    }
}
