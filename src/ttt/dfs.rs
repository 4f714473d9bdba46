//! Depth-first search decoding: every completion whose probability stays at or above a
//! threshold, not one sample. Children are expanded in ascending negative log-likelihood
//! and a branch is cut as soon as its cumulative NLL exceeds `-ln(min_prob)`; only the
//! answer tokens (digits, newline, end) are followed. Backtracking is the model's job:
//! [`NextToken`] implementations drop the KV past the shared prefix.
//!
//! Probabilities are the model's, over its whole vocabulary (not renormalised over the
//! answer tokens), so the result is exactly the set of answers with
//! P(answer | prompt) >= `min_prob` that are valid grids token by token
//! ([`allowed_next`]: rectangular, sides 1..=30).

use crate::llm::{LlmError, NextToken};

use super::format::{allowed_next, IM_END};

#[derive(Debug, Clone, Copy)]
pub struct DfsConfig {
    /// Keep completions with probability at least this (the 2025 winner cut branches at
    /// 0.2; lower finds more candidates for voting).
    pub min_prob: f64,
    /// Longest answer in tokens, end token included (30x30 grid: 930).
    pub max_tokens: usize,
    /// Stop after this many model calls (a guard for flat distributions).
    pub max_calls: usize,
}

impl Default for DfsConfig {
    fn default() -> DfsConfig {
        DfsConfig { min_prob: 0.1, max_tokens: 931, max_calls: 20_000 }
    }
}

/// A completion: answer tokens (ending with the end token) and their total log-probability.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub tokens: Vec<u32>,
    pub logprob: f64,
}

/// What a search returned; `exhausted` is false when `max_calls` cut it short.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub found: Vec<Found>,
    pub calls: usize,
    pub exhausted: bool,
}

/// Every answer to `prompt` with probability >= `cfg.min_prob`, most likely first (then
/// shorter, then by tokens).
pub fn search(model: &mut dyn NextToken, prompt: &[u32], cfg: &DfsConfig) -> Result<Search, LlmError> {
    let budget = -cfg.min_prob.max(f64::MIN_POSITIVE).ln();
    let mut s = State {
        model,
        cfg,
        budget,
        seq: prompt.to_vec(),
        prompt_len: prompt.len(),
        found: Vec::new(),
        calls: 0,
        exhausted: true,
    };
    s.expand(0.0)?;
    let mut found = s.found;
    found.sort_by(|a, b| {
        b.logprob.total_cmp(&a.logprob).then(a.tokens.len().cmp(&b.tokens.len())).then(a.tokens.cmp(&b.tokens))
    });
    Ok(Search { found, calls: s.calls, exhausted: s.exhausted })
}

struct State<'a> {
    model: &'a mut dyn NextToken,
    cfg: &'a DfsConfig,
    budget: f64,
    seq: Vec<u32>,
    prompt_len: usize,
    found: Vec<Found>,
    calls: usize,
    exhausted: bool,
}

impl State<'_> {
    fn expand(&mut self, nll: f64) -> Result<(), LlmError> {
        if self.calls >= self.cfg.max_calls {
            self.exhausted = false;
            return Ok(());
        }
        self.calls += 1;
        let lp = self.model.next_logprobs(&self.seq)?;
        let mut children: Vec<(f64, u32)> = allowed_next(&self.seq[self.prompt_len..])
            .into_iter()
            .filter_map(|t| lp.get(t as usize).map(|&l| (nll - l as f64, t)))
            .collect();
        children.sort_by(|a, b| a.0.total_cmp(&b.0));
        let len = self.seq.len() - self.prompt_len;
        for (child_nll, t) in children {
            if child_nll > self.budget {
                break; // sorted: every later child is less likely still
            }
            if t == IM_END {
                let mut tokens = self.seq[self.prompt_len..].to_vec();
                tokens.push(IM_END);
                self.found.push(Found { tokens, logprob: -child_nll });
                continue;
            }
            if len + 1 >= self.cfg.max_tokens {
                continue;
            }
            self.seq.push(t);
            let r = self.expand(child_nll);
            self.seq.pop();
            r?;
        }
        Ok(())
    }
}

/// One answer drawn token by token at `temperature` over the answer tokens that keep
/// the grid valid (the model's probabilities sharpened or flattened, renormalised over
/// those tokens).
/// `None` when it runs past `max_tokens` without ending. The log-probability is the
/// model's own, as in [`search`].
pub fn sample(
    model: &mut dyn NextToken,
    prompt: &[u32],
    temperature: f64,
    max_tokens: usize,
    rng: &mut impl rand::Rng,
) -> Result<Option<Found>, LlmError> {
    let mut seq = prompt.to_vec();
    let mut total = 0.0;
    for _ in 0..max_tokens {
        let lp = model.next_logprobs(&seq)?;
        let allowed = allowed_next(&seq[prompt.len()..]);
        let weights: Vec<f64> =
            allowed.iter().map(|&t| (lp[t as usize] as f64 / temperature.max(1e-6)).exp()).collect();
        let mut x = rng.gen::<f64>() * weights.iter().sum::<f64>();
        let mut pick = allowed.len() - 1;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                pick = i;
                break;
            }
            x -= w;
        }
        let t = allowed[pick];
        total += lp[t as usize] as f64;
        seq.push(t);
        if t == IM_END {
            return Ok(Some(Found { tokens: seq[prompt.len()..].to_vec(), logprob: total }));
        }
    }
    Ok(None)
}

/// The total log-probability of `answer` after `prompt` (one call per answer token).
pub fn score(model: &mut dyn NextToken, prompt: &[u32], answer: &[u32]) -> Result<f64, LlmError> {
    let mut seq = prompt.to_vec();
    let mut total = 0.0;
    for &t in answer {
        let lp = model.next_logprobs(&seq)?;
        total +=
            *lp.get(t as usize).ok_or_else(|| LlmError::Backend(format!("token {t} outside the vocabulary")))? as f64;
        seq.push(t);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ttt::format::{IM_START, NEWLINE, VOCAB};

    /// A model whose next-token distribution is a fixed function of the sequence (a
    /// hash), so every completion's probability is known by multiplying.
    struct Table {
        seed: u64,
        sharp: f32,
    }

    impl NextToken for Table {
        fn vocab_size(&self) -> usize {
            VOCAB
        }
        fn next_logprobs(&mut self, tokens: &[u32]) -> Result<Vec<f32>, LlmError> {
            let h = crate::grid::fnv1a(tokens.iter().flat_map(|t| t.to_le_bytes()).chain(self.seed.to_le_bytes()));
            let logits: Vec<f32> =
                (0..VOCAB as u64).map(|i| ((h.rotate_left(i as u32 * 4) & 0xff) as f32 / 255.0) * self.sharp).collect();
            Ok(crate::llm::log_softmax(&logits))
        }
    }

    /// Every valid answer-token sequence up to `max` tokens ending in the end token,
    /// with its probability, by brute force.
    fn all_answers(m: &mut Table, prompt: &[u32], max: usize, min_prob: f64) -> Vec<(Vec<u32>, f64)> {
        let mut out = Vec::new();
        let mut stack = vec![(Vec::<u32>::new(), 0.0f64)];
        while let Some((seq, lp)) = stack.pop() {
            let full: Vec<u32> = prompt.iter().chain(&seq).copied().collect();
            let next = m.next_logprobs(&full).unwrap();
            for t in allowed_next(&seq) {
                let l = lp + next[t as usize] as f64;
                let mut s = seq.clone();
                s.push(t);
                if t == IM_END {
                    if l >= min_prob.ln() {
                        out.push((s, l));
                    }
                } else if s.len() < max && l >= min_prob.ln() {
                    stack.push((s, l));
                }
            }
        }
        out
    }

    #[test]
    fn dfs_returns_exactly_the_answers_above_the_threshold() {
        let mut total = 0;
        for seed in 0..20 {
            let mut m = Table { seed, sharp: 12.0 };
            let prompt = [IM_START, 11, NEWLINE, 3, 4, IM_END, 12, NEWLINE];
            let cfg = DfsConfig { min_prob: 0.005, max_tokens: 6, max_calls: 100_000 };
            let got = search(&mut m, &prompt, &cfg).unwrap();
            assert!(got.exhausted);
            let mut want = all_answers(&mut m, &prompt, 6, 0.005);
            want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.len().cmp(&b.0.len())).then(a.0.cmp(&b.0)));
            assert_eq!(got.found.len(), want.len(), "seed {seed}");
            total += want.len();
            for (f, (w, lp)) in got.found.iter().zip(&want) {
                assert_eq!(&f.tokens, w);
                assert!((f.logprob - lp).abs() < 1e-9);
                assert!((score(&mut m, &prompt, &f.tokens).unwrap() - lp).abs() < 1e-5);
            }
        }
        assert!(total >= 40, "the case must have answers to find: {total}");
    }

    #[test]
    fn a_hand_worked_case() {
        // After the prompt: "1" with p 0.6, "2" 0.3 (each then ends with p 0.9 / 0.5).
        struct Hand;
        impl NextToken for Hand {
            fn vocab_size(&self) -> usize {
                VOCAB
            }
            fn next_logprobs(&mut self, tokens: &[u32]) -> Result<Vec<f32>, LlmError> {
                let mut p = [1e-9f32; VOCAB];
                match tokens.last() {
                    Some(1) => (p[IM_END as usize], p[5]) = (0.9, 0.1),
                    Some(2) => (p[IM_END as usize], p[5]) = (0.5, 0.5),
                    Some(5) => p[IM_END as usize] = 1.0,
                    _ => (p[1], p[2], p[3]) = (0.6, 0.3, 0.1),
                }
                Ok(p.iter().map(|x| x.ln()).collect())
            }
        }
        let cfg = DfsConfig { min_prob: 0.1, max_tokens: 10, max_calls: 1000 };
        let got = search(&mut Hand, &[12], &cfg).unwrap();
        let answers: Vec<(Vec<u32>, f64)> =
            got.found.iter().map(|f| (f.tokens.clone(), (f.logprob.exp() * 1000.0).round() / 1000.0)).collect();
        // 1 end: 0.54; 2 end: 0.15; 2 5 end: 0.15; 1 5 end: 0.06 (cut); 3 ...: 0.1 * ... (cut).
        assert_eq!(answers, [(vec![1, IM_END], 0.54), (vec![2, IM_END], 0.15), (vec![2, 5, IM_END], 0.15)]);
    }
}
