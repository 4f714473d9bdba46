//! LLM backends behind one small interface: N completions for one prompt.
//!
//! **Invariant:** this module knows nothing about ARC, grids or the DSL: it turns chat
//! messages into completions. Prompts are built elsewhere.

pub mod gguf;
pub mod gguf_check;
#[cfg(feature = "llama")]
pub mod llama;
pub mod openai;
pub mod replay;

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: &str, content: &str) -> Message {
        Message { role: role.into(), content: content.into() }
    }
}

/// Sampling settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    pub temperature: f32,
    pub top_k: i32,
    pub top_p: f32,
    pub min_p: f32,
    pub seed: u32,
    pub max_tokens: usize,
    /// Generation stops when the completion ends with one of these; it is cut there.
    pub stop: Vec<String>,
}

impl Default for Sampling {
    /// Qwen's recommended non-thinking settings.
    fn default() -> Sampling {
        Sampling { temperature: 0.7, top_k: 20, top_p: 0.8, min_p: 0.0, seed: 0, max_tokens: 512, stop: Vec::new() }
    }
}

impl Sampling {
    /// Recommended settings for a model family (GGUF `general.architecture`): Qwen3 in
    /// thinking mode uses temperature 0.6 and top-p 0.95; everything else Qwen's
    /// non-thinking defaults.
    pub fn for_family(architecture: &str, thinking: bool) -> Sampling {
        match (architecture, thinking) {
            ("qwen3" | "qwen3moe", true) => Sampling { temperature: 0.6, top_p: 0.95, ..Sampling::default() },
            _ => Sampling::default(),
        }
    }
}

/// Removes `<think>...</think>` blocks (and an unterminated trailing one) from a
/// completion, so only the answer is searched for programs.
pub fn strip_thinking(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<think>") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</think>") {
            Some(end) => rest = &rest[start + end + "</think>".len()..],
            None => return out.trim_start().to_string(),
        }
    }
    out.push_str(rest);
    out.trim_start().to_string()
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub messages: Vec<Message>,
    /// Number of completions.
    pub n: usize,
    pub sampling: Sampling,
    /// A GBNF grammar every completion must match, if any.
    pub grammar: Option<String>,
    /// An opaque name for what is asked (the caller's choice, e.g. `task/round`): the
    /// replay backend finds recorded completions by it; other backends ignore it.
    #[serde(default)]
    pub label: String,
    /// The start of the assistant's answer, written for the model: it continues from
    /// there (empty: none). Completions hold the whole answer, this start included;
    /// `tokens` counts only what the model wrote.
    #[serde(default)]
    pub prefill: String,
}

/// Why a completion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// The model produced its end-of-generation token.
    Eos,
    /// A stop string was produced (and cut off).
    Stop,
    /// `max_tokens` was reached.
    Length,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    pub text: String,
    pub tokens: usize,
    pub finish: Finish,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub completions: Vec<Completion>,
    pub prompt_tokens: usize,
    /// Prompt tokens whose KV was reused from the previous call.
    pub cached_prompt_tokens: usize,
    pub prompt_time: Duration,
    pub generation_time: Duration,
}

impl Generation {
    pub fn completion_tokens(&self) -> usize {
        self.completions.iter().map(|c| c.tokens).sum()
    }
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("{path}: {problem}")]
    Model { path: String, problem: String },
    #[error("the prompt is {prompt} tokens and {n} completions of up to {max} tokens need {need}, more than the context of {ctx}; raise --ctx or lower --max-tokens")]
    ContextTooSmall { prompt: usize, n: usize, max: usize, need: usize, ctx: usize },
    #[error("invalid grammar: {0}")]
    Grammar(String),
    #[error("{0}")]
    Backend(String),
}

/// A source of completions.
pub trait Backend {
    /// A short name for reports (e.g. the model file's stem).
    fn name(&self) -> &str;
    fn generate(&mut self, request: &Request) -> Result<Generation, LlmError>;
}

/// A language model seen as token ids in, next-token log-probabilities out: for
/// decoders that search over tokens themselves (e.g. a depth-first search that
/// backtracks). Implementations reuse the work of a shared prefix between calls.
pub trait NextToken {
    fn vocab_size(&self) -> usize;
    /// Natural-log probabilities of every token following `tokens` (not empty).
    fn next_logprobs(&mut self, tokens: &[u32]) -> Result<Vec<f32>, LlmError>;
    /// Uses the LoRA adapter in `path` from now on (models that support adapters).
    fn set_adapter(&mut self, path: &std::path::Path) -> Result<(), LlmError> {
        Err(LlmError::Backend(format!("{}: this model cannot take a LoRA adapter", path.display())))
    }
    /// Back to the base model.
    fn clear_adapter(&mut self) -> Result<(), LlmError> {
        Ok(())
    }
}

/// Log-softmax of logits, in f64 for stable sums of many terms.
pub fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| ((l - max) as f64).exp()).sum();
    let log_z = max as f64 + sum.ln();
    logits.iter().map(|&l| (l as f64 - log_z) as f32).collect()
}

/// Cuts `text` at the first stop string it contains, if any.
pub fn cut_at_stop(text: &str, stop: &[String]) -> Option<usize> {
    stop.iter().filter(|s| !s.is_empty()).filter_map(|s| text.find(s.as_str())).min()
}

/// Cores other work keeps busy now: the machine's busy share over `sample` (Linux's
/// /proc/stat) times its cores, rounded. `None` where /proc/stat cannot be read.
pub fn busy_cores(sample: std::time::Duration, cores: usize) -> Option<usize> {
    let before = std::fs::read_to_string("/proc/stat").ok()?;
    std::thread::sleep(sample);
    let after = std::fs::read_to_string("/proc/stat").ok()?;
    let share = busy_share(&before, &after)?;
    Some((share * cores as f64).round() as usize)
}

/// The share of CPU time spent busy between two readings of /proc/stat (its first,
/// all-CPU line: user nice system idle iowait irq softirq steal ...).
pub fn busy_share(before: &str, after: &str) -> Option<f64> {
    let totals = |s: &str| -> Option<(u64, u64)> {
        let line = s.lines().find(|l| l.starts_with("cpu "))?;
        let v: Vec<u64> = line.split_whitespace().skip(1).take(8).map(|x| x.parse().ok()).collect::<Option<_>>()?;
        let idle = v.get(3)? + v.get(4).unwrap_or(&0);
        Some((v.iter().sum(), idle))
    };
    let ((t0, i0), (t1, i1)) = (totals(before)?, totals(after)?);
    let total = t1.checked_sub(t0).filter(|&t| t > 0)?;
    let idle = i1.saturating_sub(i0).min(total);
    Some((total - idle) as f64 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_share_reads_the_all_cpu_line() {
        let before = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 0\n";
        // 100 more ticks: 50 user, 50 idle.
        let after = "cpu  150 0 50 850 50 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 0\n";
        assert_eq!(busy_share(before, after), Some(0.5));
        assert_eq!(busy_share(before, before), None);
        assert_eq!(busy_share("cpu0 1 2 3", after), None);
    }

    #[test]
    fn thinking_blocks_are_removed() {
        assert_eq!(strip_thinking("<think>\nhmm\n</think>\n\n```rhai\nx\n```"), "```rhai\nx\n```");
        assert_eq!(strip_thinking("a<think>b</think>c<think>d</think>e"), "ace");
        assert_eq!(strip_thinking("answer<think>never closed"), "answer");
        assert_eq!(strip_thinking("plain"), "plain");
    }

    #[test]
    fn family_defaults() {
        assert_eq!(Sampling::for_family("qwen3", false).temperature, 0.7);
        assert_eq!(Sampling::for_family("qwen3", true).top_p, 0.95);
        assert_eq!(Sampling::for_family("qwen2", true), Sampling::default());
    }

    #[test]
    fn stop_strings_cut_at_the_earliest_match() {
        let stop = vec!["```".to_string(), "END".to_string()];
        assert_eq!(cut_at_stop("abc END x ``` y", &stop), Some(4));
        assert_eq!(cut_at_stop("nothing here", &stop), None);
        assert_eq!(cut_at_stop("x", &[String::new()]), None);
    }
}
