//! OpenAI-compatible chat-completions backend (vLLM, SGLang, llama-server, ...): how
//! users scale past one machine.
//!
//! Servers differ: vLLM honours `n`, llama-server answers one choice per request (it
//! serves parallel slots instead). The backend asks for `n` once, and if fewer choices
//! come back it sends the rest as concurrent single-choice requests, bounded by
//! `concurrency`. 429, 5xx, timeouts and connection errors are retried with exponential
//! backoff; a 400 that says the prompt is too long is a per-task failure, not retried.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{Backend, Completion, Finish, Generation, LlmError, Request};

/// Connection settings.
#[derive(Debug, Clone)]
pub struct OpenAiOptions {
    /// Base URL up to and including `/v1`, e.g. `http://127.0.0.1:8080/v1`.
    pub endpoint: String,
    /// The model name the server expects.
    pub model: String,
    pub api_key: Option<String>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Attempts per request (the first included).
    pub max_attempts: u32,
    /// First retry delay; doubles each time.
    pub backoff: Duration,
}

impl Default for OpenAiOptions {
    fn default() -> OpenAiOptions {
        OpenAiOptions {
            endpoint: "http://127.0.0.1:8080/v1".into(),
            model: "default".into(),
            api_key: None,
            concurrency: 8,
            timeout: Duration::from_secs(300),
            max_attempts: 5,
            backoff: Duration::from_millis(500),
        }
    }
}

pub struct OpenAi {
    opts: OpenAiOptions,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    /// Whether the server returned all `n` choices for one request last time.
    honours_n: Option<bool>,
    /// Requests sent (retries included), for tests and reports.
    pub requests_sent: Arc<std::sync::atomic::AtomicUsize>,
}

/// One request's outcome that may be retried.
enum Attempt {
    Done(Value),
    Retry(String),
    Fail(LlmError),
    /// The server answered with an error status; true for a 4xx.
    Refused(LlmError, bool),
}

impl OpenAi {
    pub fn new(opts: OpenAiOptions) -> Result<OpenAi, LlmError> {
        let client = reqwest::Client::builder()
            .timeout(opts.timeout)
            .build()
            .map_err(|e| LlmError::Backend(format!("cannot create an HTTP client: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| LlmError::Backend(format!("cannot start the async runtime: {e}")))?;
        Ok(OpenAi { opts, client, runtime, honours_n: None, requests_sent: Arc::default() })
    }

    fn body(&self, req: &Request, n: usize, seed_offset: u32) -> Value {
        let s = &req.sampling;
        let mut body = json!({
            "model": self.opts.model,
            "messages": req.messages,
            "n": n,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "seed": s.seed.wrapping_add(seed_offset),
        });
        // Extensions that vLLM, SGLang and llama-server accept.
        if s.top_k > 0 {
            body["top_k"] = json!(s.top_k);
        }
        if s.min_p > 0.0 {
            body["min_p"] = json!(s.min_p);
        }
        if !s.stop.is_empty() {
            body["stop"] = json!(s.stop);
        }
        if let Some(g) = &req.grammar {
            body["grammar"] = json!(g);
        }
        if !req.prefill.is_empty() {
            // The answer's start as a last assistant message that the server continues
            // (vLLM and SGLang: `continue_final_message`; llama-server continues a last
            // assistant message by itself).
            let mut messages = req.messages.clone();
            messages.push(super::Message::new("assistant", &req.prefill));
            body["messages"] = json!(messages);
            body["continue_final_message"] = json!(true);
            body["add_generation_prompt"] = json!(false);
        }
        body
    }

    /// Sends one request, retrying transient failures; a failure says whether the server
    /// refused the request as invalid (a 4xx other than a prompt too long for the context).
    async fn send(
        client: reqwest::Client,
        opts: OpenAiOptions,
        body: Value,
        counter: Arc<std::sync::atomic::AtomicUsize>,
    ) -> Result<Value, Failed> {
        let url = format!("{}/chat/completions", opts.endpoint.trim_end_matches('/'));
        let mut delay = opts.backoff;
        let mut last = String::new();
        for attempt in 1..=opts.max_attempts.max(1) {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut rb = client.post(&url).json(&body);
            if let Some(k) = &opts.api_key {
                rb = rb.bearer_auth(k);
            }
            let outcome = match rb.send().await {
                Err(e) if e.is_timeout() => Attempt::Retry(format!("timed out after {:?}", opts.timeout)),
                Err(e) if e.is_connect() || e.is_request() => Attempt::Retry(format!("cannot reach {url}: {e}")),
                Err(e) => Attempt::Fail(LlmError::Backend(format!("{url}: {e}"))),
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    if status.is_success() {
                        match serde_json::from_str::<Value>(&text) {
                            Ok(v) => Attempt::Done(v),
                            Err(e) => Attempt::Fail(LlmError::Backend(format!("{url}: the reply is not JSON: {e}"))),
                        }
                    } else if status.as_u16() == 429 || status.is_server_error() {
                        Attempt::Retry(format!("HTTP {status}"))
                    } else if status.as_u16() == 400 && is_context_error(&text) {
                        Attempt::Fail(LlmError::Backend(format!(
                            "{url}: the prompt does not fit the model's context: {}",
                            first_line(&text)
                        )))
                    } else {
                        let error = LlmError::Backend(format!("{url}: HTTP {status}: {}", first_line(&text)));
                        Attempt::Refused(error, status.is_client_error())
                    }
                }
            };
            match outcome {
                Attempt::Done(v) => return Ok(v),
                Attempt::Fail(error) => return Err(Failed { error, refused: false }),
                Attempt::Refused(error, refused) => return Err(Failed { error, refused }),
                Attempt::Retry(why) => {
                    tracing::debug!("{url}: attempt {attempt} failed ({why}), retrying in {delay:?}");
                    last = why;
                    if attempt < opts.max_attempts {
                        tokio::time::sleep(delay).await;
                        delay = delay.saturating_mul(2);
                    }
                }
            }
        }
        let error = LlmError::Backend(format!("{url}: gave up after {} attempts: {last}", opts.max_attempts));
        Err(Failed { error, refused: false })
    }
}

/// A request that failed for good.
struct Failed {
    error: LlmError,
    /// The server refused it as invalid (HTTP 4xx, not a context overflow).
    refused: bool,
}

fn is_context_error(body: &str) -> bool {
    let b = body.to_ascii_lowercase();
    b.contains("maximum context length")
        || b.contains("exceed_context_size")
        || b.contains("context length")
        || b.contains("too many tokens")
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().chars().take(200).collect()
}

/// What one reply says of its prompt: tokens, how many of them the server had cached
/// (`usage.prompt_tokens_details.cached_tokens`: vLLM with prefix caching, llama-server),
/// and the seconds it spent on the rest (llama-server's `timings.prompt_ms`).
#[derive(Debug, Default, Clone, Copy)]
struct PromptUsage {
    tokens: usize,
    cached: usize,
    seconds: f64,
}

/// Choices of one reply as completions, splitting the reply's completion tokens over them.
fn completions(v: &Value) -> Result<(Vec<Completion>, PromptUsage), LlmError> {
    let choices = v["choices"].as_array().ok_or_else(|| LlmError::Backend("the reply has no \"choices\"".into()))?;
    let total = v["usage"]["completion_tokens"].as_u64().unwrap_or(0) as usize;
    let prompt = PromptUsage {
        tokens: v["usage"]["prompt_tokens"].as_u64().unwrap_or(0) as usize,
        cached: v["usage"]["prompt_tokens_details"]["cached_tokens"].as_u64().unwrap_or(0) as usize,
        seconds: v["timings"]["prompt_ms"].as_f64().filter(|ms| ms.is_finite() && *ms >= 0.0).unwrap_or(0.0) / 1000.0,
    };
    let k = choices.len().max(1);
    let out = choices
        .iter()
        .enumerate()
        .map(|(i, c)| Completion {
            text: super::strip_thinking(c["message"]["content"].as_str().unwrap_or_default()),
            // Servers report usage per reply; each choice gets its share (the sum is exact).
            tokens: total / k + usize::from(i < total % k),
            finish: match c["finish_reason"].as_str() {
                Some("length") => Finish::Length,
                Some("stop") if c.get("stop_reason").is_some_and(|r| r.is_string()) => Finish::Stop,
                _ => Finish::Eos,
            },
        })
        .collect();
    Ok((out, prompt))
}

impl OpenAi {
    /// llama-server (the build of `scripts/llama-server`) reports the usage of the first
    /// of several choices only (`completion_tokens` 12 for three 12-token choices): the
    /// first gets that count and the others are counted by its `/tokenize` endpoint,
    /// without the prefill the replies repeat. Where that fails the even split stays.
    fn recount(&self, choices: &mut [Completion], reply: &Value, prefill: &str) {
        let first = reply["usage"]["completion_tokens"].as_u64().unwrap_or(0) as usize;
        let root = self.opts.endpoint.trim_end_matches('/').trim_end_matches("/v1").to_string();
        let futures: Vec<_> = choices[1..]
            .iter()
            .map(|c| {
                let (client, url) = (self.client.clone(), format!("{root}/tokenize"));
                let text = c.text.strip_prefix(prefill).unwrap_or(&c.text).to_string();
                async move {
                    let v: Value =
                        client.post(url).json(&json!({ "content": text })).send().await.ok()?.json().await.ok()?;
                    v["tokens"].as_array().map(Vec::len)
                }
            })
            .collect();
        let counts: Option<Vec<usize>> = self.runtime.block_on(futures_join(futures)).into_iter().collect();
        match counts {
            Some(counts) => {
                choices[0].tokens = first;
                choices[1..].iter_mut().zip(counts).for_each(|(c, k)| c.tokens = k);
            }
            None => tracing::debug!("{root}/tokenize did not count the choices; their tokens are an even split"),
        }
    }
}

impl Backend for OpenAi {
    fn name(&self) -> &str {
        &self.opts.model
    }

    fn generate(&mut self, req: &Request) -> Result<Generation, LlmError> {
        let n = req.n.max(1);
        let start = Instant::now();
        let mut all = Vec::with_capacity(n);
        let mut prompt = PromptUsage::default();
        // Ask for all n in one request unless the server is known not to honour `n`.
        if self.honours_n != Some(false) {
            let fut =
                Self::send(self.client.clone(), self.opts.clone(), self.body(req, n, 0), self.requests_sent.clone());
            match self.runtime.block_on(fut) {
                Ok(v) => {
                    let (mut c, p) = completions(&v)?;
                    if c.len() > 1 && v.get("timings").is_some() {
                        self.recount(&mut c, &v, &req.prefill);
                    }
                    self.honours_n = Some(c.len() >= n || n == 1);
                    prompt = p;
                    all.extend(c.into_iter().take(n));
                }
                // llama-server refuses an `n` above its parallel slots ("Value must be
                // between 1 <= value <= 8"): ask one choice at a time instead.
                Err(f) if f.refused && n > 1 => {
                    tracing::warn!(
                        "the server refused {n} choices in one request, sending {n} requests instead: {}",
                        f.error
                    );
                    self.honours_n = Some(false);
                }
                Err(f) => return Err(f.error),
            }
        }
        // The rest as concurrent single-choice requests, each with its own seed.
        if all.len() < n {
            let missing = n - all.len();
            let sem = Arc::new(tokio::sync::Semaphore::new(self.opts.concurrency.max(1)));
            let futures: Vec<_> = (0..missing)
                .map(|i| {
                    let (client, opts, counter, sem) =
                        (self.client.clone(), self.opts.clone(), self.requests_sent.clone(), sem.clone());
                    let body = self.body(req, 1, (all.len() + i) as u32);
                    async move {
                        let _permit = sem.acquire_owned().await.expect("semaphore is never closed");
                        Self::send(client, opts, body, counter).await.map_err(|f| f.error)
                    }
                })
                .collect();
            let replies = self.runtime.block_on(async { futures_join(futures).await });
            for r in replies {
                let (c, p) = completions(&r?)?;
                // One prompt, sent again: the most any reply counted; what was computed
                // anew, summed.
                prompt.tokens = prompt.tokens.max(p.tokens);
                prompt.cached = prompt.cached.max(p.cached);
                prompt.seconds += p.seconds;
                all.extend(c.into_iter().take(1));
            }
        }
        let elapsed = start.elapsed();
        // Decoding time: the wall time less the server's prefill where one reply held
        // them all (concurrent replies overlap, so their prefill is not subtracted).
        let one_reply = self.honours_n == Some(true);
        let prompt_time = Duration::from_secs_f64(prompt.seconds);
        let generation_time = if one_reply { elapsed.saturating_sub(prompt_time) } else { elapsed };
        // Completions hold the whole answer: the prefill, then what the server wrote.
        // llama-server's reply already starts with the prefill; vLLM's does not.
        for c in all.iter_mut().filter(|c| !c.text.starts_with(&req.prefill)) {
            c.text.insert_str(0, &req.prefill);
        }
        Ok(Generation {
            completions: all,
            prompt_tokens: prompt.tokens,
            cached_prompt_tokens: prompt.cached.min(prompt.tokens),
            prompt_time,
            generation_time,
        })
    }
}

/// Runs futures concurrently on the runtime and collects their results in order.
async fn futures_join<F, T>(futures: Vec<F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("request task panicked"));
    }
    out
}
