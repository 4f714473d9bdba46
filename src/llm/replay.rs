//! The replay backend: serves completions recorded in a JSONL file instead of running a
//! model, so a search can be re-run reproducibly (and re-evaluated after a DSL change)
//! without the model that wrote them.
//!
//! Each line is a JSON object with at least `label` and `text` (`tokens` and `finish`
//! are optional); other fields are ignored. Completions are served per label, in file
//! order: a request for N takes the next N recorded under its label, or fewer when the
//! recording runs out. A truncated last line (a crash mid-append) is skipped. A
//! recorded text is the whole answer, served as it is, whatever the request's prefill
//! (a recording made with one replays without it, and the other way round).

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::{Backend, Completion, Finish, Generation, LlmError, Request};

#[derive(Deserialize)]
struct Line {
    label: String,
    text: String,
    #[serde(default)]
    tokens: usize,
    #[serde(default = "default_finish")]
    finish: Finish,
    #[serde(default)]
    model: Option<String>,
}

fn default_finish() -> Finish {
    Finish::Eos
}

/// Completions recorded earlier, by label.
pub struct Replay {
    name: String,
    queues: HashMap<String, VecDeque<Completion>>,
}

impl Replay {
    /// Reads a completions file (e.g. a run's `completions.jsonl`).
    pub fn open(path: &Path) -> Result<Replay, LlmError> {
        let err = |problem: String| LlmError::Model { path: path.display().to_string(), problem };
        let text =
            crate::fsio::read_input(path, 1 << 30).map_err(|e| err(format!("cannot read the completions: {e}")))?;
        Replay::parse(&text).map_err(err)
    }

    /// Parses JSONL text; the error names the line.
    pub fn parse(text: &str) -> Result<Replay, String> {
        let mut queues: HashMap<String, VecDeque<Completion>> = HashMap::new();
        let mut model = None;
        let lines: Vec<Line> =
            crate::fsio::parse_jsonl(text).map_err(|(n, e)| format!("line {n}: not a completion record: {e}"))?;
        for line in lines {
            model = model.or(line.model);
            let tokens = if line.tokens > 0 { line.tokens } else { line.text.len().div_ceil(4) };
            queues.entry(line.label).or_default().push_back(Completion {
                text: line.text,
                tokens,
                finish: line.finish,
            });
        }
        Ok(Replay { name: model.unwrap_or_else(|| "replay".into()), queues })
    }

    /// Completions not yet served.
    pub fn remaining(&self) -> usize {
        self.queues.values().map(VecDeque::len).sum()
    }
}

impl Backend for Replay {
    /// The model that wrote the recording (its first `model` field), or `replay`.
    fn name(&self) -> &str {
        &self.name
    }

    fn generate(&mut self, request: &Request) -> Result<Generation, LlmError> {
        let queue = self.queues.get_mut(&request.label);
        let completions: Vec<Completion> = match queue {
            Some(q) => (0..request.n).map_while(|_| q.pop_front()).collect(),
            None => Vec::new(),
        };
        Ok(Generation {
            completions,
            prompt_tokens: 0,
            cached_prompt_tokens: 0,
            prompt_time: Duration::ZERO,
            generation_time: Duration::ZERO,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::Sampling;

    fn req(label: &str, n: usize) -> Request {
        Request {
            messages: vec![],
            n,
            sampling: Sampling::default(),
            grammar: None,
            label: label.into(),
            prefill: String::new(),
        }
    }

    #[test]
    fn serves_by_label_in_order_and_runs_out() {
        let text = "{\"label\":\"a/0\",\"text\":\"one\",\"model\":\"m\"}\n{\"label\":\"b/0\",\"text\":\"x\"}\n{\"label\":\"a/0\",\"text\":\"two\",\"tokens\":7,\"finish\":\"length\"}\n";
        let mut r = Replay::parse(text).unwrap();
        assert_eq!(r.name(), "m");
        let g = r.generate(&req("a/0", 1)).unwrap();
        assert_eq!(g.completions[0].text, "one");
        let g = r.generate(&req("a/0", 5)).unwrap();
        assert_eq!(g.completions.len(), 1);
        assert_eq!((g.completions[0].tokens, g.completions[0].finish), (7, Finish::Length));
        assert!(r.generate(&req("a/0", 5)).unwrap().completions.is_empty());
        assert!(r.generate(&req("zzz", 5)).unwrap().completions.is_empty());
        assert_eq!(r.remaining(), 1);
    }

    #[test]
    fn a_truncated_last_line_is_skipped_but_a_bad_middle_line_is_an_error() {
        let r = Replay::parse("{\"label\":\"a\",\"text\":\"ok\"}\n{\"label\":\"a\",\"te").unwrap();
        assert_eq!(r.remaining(), 1);
        let e = Replay::parse("{\"label\":\"a\",\"text\":\"ok\"}\nnot json\n{\"label\":\"a\",\"text\":\"ok\"}\n")
            .err()
            .unwrap();
        assert!(e.starts_with("line 2:"), "{e}");
    }
}
