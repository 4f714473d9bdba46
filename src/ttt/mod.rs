//! The transduction fallback: a grid-token model predicts test outputs directly.
//! Per test input: the task is seen through several augmented views; in each, a
//! depth-first search ([`dfs`]) returns every answer above a probability threshold;
//! answers are mapped back through their view's inverse, then re-scored under a fixed
//! set of views and ranked by times found + mean log-probability; the two best are the
//! attempts.
//!
//! With a [`lora::Trainer`], each task first gets its own LoRA adapter, trained from
//! scratch with candle on augmented copies of its training pairs, written as a llama.cpp
//! adapter and set for that task's decoding only (test-time training); without one the
//! model is used as given.
//!
//! **Invariant:** like every proposer, this sees tasks without test outputs.

pub mod augment;
pub mod dfs;
pub mod format;
pub mod lora;

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::grid::Grid;
use crate::llm::{LlmError, NextToken};
use crate::submission::Attempts;
use crate::task::Task;

use augment::View;
use format::{Format, IM_END};

#[derive(Debug, Clone)]
pub struct TttConfig {
    pub format: Format,
    /// Augmented views searched per test input.
    pub views: usize,
    /// Views every candidate is re-scored under (the first ones of the same list).
    pub score_views: usize,
    /// Candidates re-scored per test input (the most found first).
    pub max_candidates: usize,
    pub dfs: dfs::DfsConfig,
    /// Answers sampled per view beside the search (0: search only).
    pub samples: usize,
    pub temperature: f64,
    pub seed: u64,
}

impl Default for TttConfig {
    fn default() -> TttConfig {
        TttConfig {
            format: Format::default(),
            views: 8,
            score_views: 8,
            max_candidates: 8,
            dfs: dfs::DfsConfig::default(),
            samples: 0,
            temperature: 0.5,
            seed: 0,
        }
    }
}

/// One candidate answer after voting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub grid: Grid,
    /// Views whose search returned it.
    pub found: usize,
    /// Mean log-probability over the scoring views.
    pub mean_logprob: f64,
    pub score: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum TttError {
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error(transparent)]
    Train(#[from] lora::TrainError),
}

/// What the transduction path did on one task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TttStats {
    /// Per-task LoRA training, when it ran.
    #[serde(default)]
    pub train: Option<lora::TrainStats>,
    pub views: usize,
    /// Views left out because the prompt did not fit the context.
    pub views_too_long: usize,
    pub dfs_calls: usize,
    /// Distinct valid answers found, over all test inputs.
    pub candidates: usize,
    /// Decoded answers that were not valid grids.
    pub invalid: usize,
    /// Answers drawn by sampling (beside the search).
    #[serde(default)]
    pub sampled: usize,
    /// Test inputs where the search found nothing and the greedy answer was used.
    pub greedy_fallbacks: usize,
    pub seconds: f64,
    /// The ranked answers per test input (at most 4 each).
    pub answers: Vec<Vec<Answer>>,
}

/// Predicts every test input of `task` (which must not carry test outputs); with a
/// trainer, through an adapter trained on the task first and removed afterwards.
/// `on_step(step, steps)` reports training progress.
pub fn solve_task(
    model: &mut dyn NextToken,
    trainer: Option<&lora::Trainer>,
    task: &Task,
    cfg: &TttConfig,
    on_step: impl FnMut(usize, usize),
) -> Result<(Vec<Attempts>, TttStats), TttError> {
    let Some(trainer) = trainer.filter(|t| t.cfg.lora.epochs > 0) else {
        return Ok(solve(model, task, cfg)?);
    };
    let start = Instant::now();
    let seed = cfg.seed ^ crate::grid::fnv1a(task.id.bytes());
    let path = std::env::temp_dir().join(format!("arcsynth-{}-{}.lora.gguf", std::process::id(), task.id));
    let prepared = trainer.adapt(task, seed, &path, on_step).map_err(TttError::from).and_then(|stats| {
        model.set_adapter(&path)?;
        Ok(stats)
    });
    let _ = std::fs::remove_file(&path); // llama.cpp has read it, or it is not needed
    let train_stats = prepared?;
    let out = solve(model, task, cfg);
    model.clear_adapter()?;
    let (attempts, mut stats) = out?;
    stats.train = Some(train_stats);
    stats.seconds = start.elapsed().as_secs_f64();
    Ok((attempts, stats))
}

/// Predicts every test input of `task` (which must not carry test outputs) with the
/// model as it is.
pub fn solve(model: &mut dyn NextToken, task: &Task, cfg: &TttConfig) -> Result<(Vec<Attempts>, TttStats), LlmError> {
    debug_assert!(task.test.iter().all(|t| t.output.is_none()), "the transduction path must not see test outputs");
    let start = Instant::now();
    let seed = cfg.seed ^ crate::grid::fnv1a(task.id.bytes());
    let views = augment::views(task, cfg.views.max(1), seed);
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    let mut stats = TttStats { views: views.len(), ..TttStats::default() };
    let mut attempts = Vec::new();
    for (i, test) in task.test.iter().enumerate() {
        let prompt_of = |v: &View| {
            let t = v.apply_task(task);
            let pairs: Vec<(&Grid, &Grid)> = t.train.iter().map(|e| (&e.input, &e.output)).collect();
            cfg.format.prompt(&pairs, &t.test[i].input)
        };
        // Search every view; answers mapped back to the task's own orientation.
        let mut found: BTreeMap<Grid, usize> = BTreeMap::new();
        for v in &views {
            let prompt = prompt_of(v);
            let s = match dfs::search(model, &prompt, &cfg.dfs) {
                Ok(s) => s,
                Err(LlmError::ContextTooSmall { .. }) => {
                    stats.views_too_long += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            stats.dfs_calls += s.calls;
            let mut answers = s.found;
            for _ in 0..cfg.samples {
                if let Some(f) = dfs::sample(model, &prompt, cfg.temperature, cfg.dfs.max_tokens, &mut rng)? {
                    stats.sampled += 1;
                    answers.push(f);
                }
            }
            // An answer counts once per view, however often this view gave it.
            let mut in_view = std::collections::BTreeSet::new();
            for f in answers {
                match format::decode_grid(&f.tokens) {
                    Ok(g) => {
                        in_view.insert(v.invert(&g));
                    }
                    Err(_) => stats.invalid += 1,
                }
            }
            for g in in_view {
                *found.entry(g).or_default() += 1;
            }
        }
        if found.is_empty() {
            if let Some(g) = greedy(model, &prompt_of(&views[0]), cfg.dfs.max_tokens)? {
                stats.greedy_fallbacks += 1;
                found.insert(views[0].invert(&g), 0);
            }
        }
        stats.candidates += found.len();
        let mut ranked: Vec<(Grid, usize)> = found.into_iter().collect();
        ranked.sort_by_key(|r| std::cmp::Reverse(r.1));
        ranked.truncate(cfg.max_candidates.max(1));
        let answers = rescore(model, &ranked, &views[..cfg.score_views.clamp(1, views.len())], &prompt_of)?;
        attempts.push(match (answers.first(), answers.get(1)) {
            (Some(a), Some(b)) => Attempts { attempt_1: a.grid.clone(), attempt_2: b.grid.clone() },
            (Some(a), None) => Attempts { attempt_1: a.grid.clone(), attempt_2: a.grid.clone() },
            _ => Attempts { attempt_1: test.input.clone(), attempt_2: test.input.clone() },
        });
        stats.answers.push(answers.into_iter().take(4).collect());
    }
    stats.seconds = start.elapsed().as_secs_f64();
    Ok((attempts, stats))
}

/// Scores each candidate under every scoring view (view-major, so a view's prompt is
/// decoded once for all candidates) and ranks by found + mean log-probability.
fn rescore(
    model: &mut dyn NextToken,
    cands: &[(Grid, usize)],
    views: &[View],
    prompt_of: &dyn Fn(&View) -> Vec<u32>,
) -> Result<Vec<Answer>, LlmError> {
    let mut sums = vec![(0.0f64, 0usize); cands.len()];
    for v in views {
        let prompt = prompt_of(v);
        for (k, (g, _)) in cands.iter().enumerate() {
            let mut answer = format::grid_tokens(&v.apply(g));
            answer.push(IM_END);
            match dfs::score(model, &prompt, &answer) {
                Ok(lp) => sums[k] = (sums[k].0 + lp, sums[k].1 + 1),
                Err(LlmError::ContextTooSmall { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    let mut answers: Vec<Answer> = cands
        .iter()
        .zip(sums)
        .map(|((g, n), (sum, count))| {
            let mean = if count == 0 { f64::NEG_INFINITY } else { sum / count as f64 };
            Answer { grid: g.clone(), found: *n, mean_logprob: mean, score: *n as f64 + mean }
        })
        .collect();
    answers.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.grid.cmp(&b.grid)));
    Ok(answers)
}

/// The most likely answer token by token (answer tokens that keep the grid valid);
/// `None` unless it ends within `max_tokens`.
pub fn greedy(model: &mut dyn NextToken, prompt: &[u32], max_tokens: usize) -> Result<Option<Grid>, LlmError> {
    let mut seq = prompt.to_vec();
    for _ in 0..max_tokens {
        let lp = match model.next_logprobs(&seq) {
            Ok(lp) => lp,
            Err(LlmError::ContextTooSmall { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(t) = format::allowed_next(&seq[prompt.len()..])
            .into_iter()
            .max_by(|&a, &b| lp[a as usize].total_cmp(&lp[b as usize]))
        else {
            return Ok(None);
        };
        seq.push(t);
        if t == IM_END {
            break;
        }
    }
    Ok(format::decode_grid(&seq[prompt.len()..]).ok())
}

#[cfg(test)]
mod tests {
    use super::format::{ASSISTANT, NEWLINE, USER, VOCAB};
    use super::*;
    use crate::task::{Example, TestPair};
    use proptest::prelude::*;

    /// Each cell becomes a 2x2 block: a rule that commutes with every view, so a model
    /// that knows it answers every view correctly in that view's own frame.
    fn scale2(g: &Grid) -> Grid {
        let (r, c) = g.shape();
        Grid::from_cells(2 * r, 2 * c, (0..4 * r * c).map(|i| g.get(i / (2 * c) / 2, i % (2 * c) / 2)).collect())
            .unwrap()
    }

    /// Reads the query grid from the prompt and puts probability 0.99 on the next token
    /// of its scaled copy.
    struct Oracle;

    impl NextToken for Oracle {
        fn vocab_size(&self) -> usize {
            VOCAB
        }
        fn next_logprobs(&mut self, tokens: &[u32]) -> Result<Vec<f32>, LlmError> {
            let answer_at = tokens.windows(2).rposition(|w| w == [ASSISTANT, NEWLINE]).unwrap() + 2;
            let user_at = tokens[..answer_at].windows(2).rposition(|w| w == [USER, NEWLINE]).unwrap() + 2;
            let end = tokens[user_at..].iter().position(|&t| t == IM_END).unwrap() + user_at;
            let query = format::decode_grid(&tokens[user_at..end]).unwrap();
            let mut target = format::grid_tokens(&scale2(&query));
            target.push(IM_END);
            let so_far = &tokens[answer_at..];
            let mut p = vec![0.01 / 15.0; VOCAB];
            if so_far.len() < target.len() && target.starts_with(so_far) {
                p[target[so_far.len()] as usize] = 0.99;
            } else {
                p = vec![1.0 / VOCAB as f32; VOCAB];
            }
            Ok(p.iter().map(|x| x.ln()).collect())
        }
    }

    fn grid(max: usize) -> impl Strategy<Value = Grid> {
        (1..=max, 1..=max).prop_flat_map(|(r, c)| {
            proptest::collection::vec(0u8..10, r * c).prop_map(move |cells| Grid::from_cells(r, c, cells).unwrap())
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn answers_found_in_every_view_map_back_to_one(a in grid(4), b in grid(4), seed in 0u64..1000) {
            let task = Task {
                id: format!("p{seed}"),
                train: vec![Example { input: a.clone(), output: scale2(&a) }],
                test: vec![TestPair { input: b.clone(), output: None }],
            };
            let cfg = TttConfig { views: 8, score_views: 4, seed, ..TttConfig::default() };
            let (attempts, stats) = solve(&mut Oracle, &task, &cfg).unwrap();
            prop_assert_eq!(&attempts[0].attempt_1, &scale2(&b));
            // Every view's answer mapped back to the same grid: one candidate, found by all.
            prop_assert_eq!(stats.candidates, 1);
            prop_assert_eq!(stats.answers[0][0].found, stats.views);
            prop_assert!(stats.views >= 1);
        }
    }

    #[test]
    fn sampling_finds_what_a_strict_search_misses() {
        let (a, b) = (Grid::from_text("12\n30").unwrap(), Grid::from_text("405").unwrap());
        let task = Task {
            id: "s".into(),
            train: vec![Example { input: a.clone(), output: scale2(&a) }],
            test: vec![TestPair { input: b.clone(), output: None }],
        };
        // No answer has probability 1, so the search alone finds nothing.
        let strict = dfs::DfsConfig { min_prob: 1.0, ..dfs::DfsConfig::default() };
        let cfg =
            TttConfig { views: 4, score_views: 2, dfs: strict, samples: 3, temperature: 0.5, ..TttConfig::default() };
        let (attempts, stats) = solve(&mut Oracle, &task, &cfg).unwrap();
        assert_eq!(stats.sampled, 12);
        assert_eq!(stats.greedy_fallbacks, 0);
        assert_eq!(attempts[0].attempt_1, scale2(&b));
        assert_eq!(stats.answers[0][0].found, 4, "found once per view, not once per sample");
    }
}
