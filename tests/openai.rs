//! The OpenAI-compatible backend against a real HTTP server on 127.0.0.1 inside the test:
//! `n` honoured or not, retries after 429/500, timeouts, no retry on context errors.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arcsynth::llm::openai::{OpenAi, OpenAiOptions};
use arcsynth::llm::{Backend, Finish, Message, Request, Sampling};
use serde_json::{json, Value};

/// What the server does with the next request.
#[derive(Clone)]
enum Reply {
    /// A successful reply with this many choices (`None`: as many as `n` asks).
    Ok(Option<usize>),
    Status(u16, &'static str),
    /// Wait, then reply successfully.
    Slow(Duration),
    /// A reply as llama-server writes it (see `llama_server_body`).
    Continue,
}

#[derive(Default)]
struct Log {
    bodies: Vec<Value>,
    auth: Vec<Option<String>>,
}

/// Starts a server that answers with `script` in order, then `Reply::Ok(None)`.
fn server(script: Vec<Reply>) -> (String, Arc<Mutex<Log>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let script = Arc::new(Mutex::new(script.into_iter()));
    let log2 = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (log, script) = (log2.clone(), script.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut len = 0;
                let mut auth = None;
                let mut path = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let l = line.trim_end().to_string();
                    if l.is_empty() {
                        break;
                    }
                    if path.is_empty() {
                        path = l.split(' ').nth(1).unwrap_or_default().to_string();
                    }
                    let lower = l.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    if lower.starts_with("authorization:") {
                        auth = Some(l["authorization:".len()..].trim().to_string());
                    }
                }
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                let body: Value = serde_json::from_slice(&body).unwrap();
                if path == "/tokenize" {
                    // llama-server's tokenizer; here a token is a word.
                    let words = body["content"].as_str().unwrap_or_default().split_whitespace().count();
                    let text = json!({"tokens": vec![0; words]}).to_string();
                    let resp =
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len());
                    let _ = stream.write_all(resp.as_bytes());
                    return;
                }
                let n = body["n"].as_u64().unwrap_or(1) as usize;
                let reply = script.lock().unwrap().next().unwrap_or(Reply::Ok(None));
                {
                    let mut l = log.lock().unwrap();
                    l.bodies.push(body.clone());
                    l.auth.push(auth);
                }
                let (status, text) = match reply {
                    Reply::Status(code, msg) => (code, json!({"error": {"message": msg}}).to_string()),
                    Reply::Slow(d) => {
                        std::thread::sleep(d);
                        (200, ok_body(n))
                    }
                    Reply::Ok(choices) => (200, ok_body(choices.unwrap_or(n))),
                    Reply::Continue => {
                        let last = body["messages"].as_array().and_then(|m| m.last()).cloned().unwrap_or_default();
                        let prefill =
                            if last["role"] == "assistant" { last["content"].as_str().unwrap_or("") } else { "" };
                        (200, llama_server_body(n, prefill))
                    }
                };
                let resp = format!("HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len());
                let _ = stream.write_all(resp.as_bytes());
            });
        }
    });
    (format!("http://{addr}/v1"), log)
}

fn ok_body(choices: usize) -> String {
    let cs: Vec<Value> = (0..choices)
        .map(|i| json!({"index": i, "message": {"role": "assistant", "content": format!("fn solve(g) {{ g.rotate({i}) }}")}, "finish_reason": if i == 0 { "length" } else { "stop" }}))
        .collect();
    json!({"choices": cs, "usage": {"prompt_tokens": 21, "completion_tokens": 10 * choices + 1}}).to_string()
}

/// A reply as llama-server writes it: the prefill repeated, usage that counts the first
/// choice only, the cached part of the prompt, and its own timings.
fn llama_server_body(n: usize, prefill: &str) -> String {
    let mut v: Value = serde_json::from_str(&ok_body(n)).unwrap();
    for c in v["choices"].as_array_mut().unwrap() {
        let text = format!("{prefill}{}", c["message"]["content"].as_str().unwrap());
        c["message"]["content"] = json!(text);
    }
    v["usage"] = json!({"prompt_tokens": 21, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 16}});
    v["timings"] = json!({"prompt_n": 5, "prompt_ms": 250.0, "cache_n": 16, "predicted_n": 7});
    v.to_string()
}

fn backend(endpoint: &str, timeout_ms: u64) -> OpenAi {
    OpenAi::new(OpenAiOptions {
        endpoint: endpoint.into(),
        model: "qwen-test".into(),
        api_key: Some("sk-test".into()),
        concurrency: 4,
        timeout: Duration::from_millis(timeout_ms),
        max_attempts: 3,
        backoff: Duration::from_millis(20),
    })
    .unwrap()
}

fn request(n: usize) -> Request {
    Request {
        messages: vec![Message::new("user", "solve")],
        n,
        sampling: Sampling { seed: 9, max_tokens: 64, stop: vec!["```".into()], ..Sampling::default() },
        grammar: None,
        prefill: String::new(),
        label: String::new(),
    }
}

fn sent(b: &OpenAi) -> usize {
    b.requests_sent.load(std::sync::atomic::Ordering::Relaxed)
}

#[test]
fn n_choices_in_one_request_with_exact_token_accounting_and_the_right_body() {
    let (url, log) = server(vec![]);
    let mut b = backend(&url, 5000);
    let g = b.generate(&request(3)).unwrap();
    assert_eq!(g.completions.len(), 3);
    assert_eq!(sent(&b), 1);
    assert_eq!(g.completion_tokens(), 31);
    assert_eq!(g.prompt_tokens, 21);
    assert_eq!((g.cached_prompt_tokens, g.prompt_time), (0, Duration::ZERO));
    assert_eq!(g.completions[0].finish, Finish::Length);
    assert_eq!(g.completions[1].text, "fn solve(g) { g.rotate(1) }");
    let log = log.lock().unwrap();
    let body = &log.bodies[0];
    assert_eq!(body["model"], "qwen-test");
    assert_eq!(body["n"], 3);
    assert_eq!(body["max_tokens"], 64);
    assert_eq!(body["seed"], 9);
    assert_eq!(body["stop"], json!(["```"]));
    assert_eq!(body["messages"][0]["content"], "solve");
    assert_eq!(log.auth[0].as_deref(), Some("Bearer sk-test"));
}

#[test]
fn servers_that_ignore_n_get_concurrent_single_requests() {
    // llama-server style: one choice per request.
    let (url, log) = server(vec![Reply::Ok(Some(1)), Reply::Ok(Some(1)), Reply::Ok(Some(1)), Reply::Ok(Some(1))]);
    let mut b = backend(&url, 5000);
    let g = b.generate(&request(4)).unwrap();
    assert_eq!(g.completions.len(), 4);
    assert_eq!(sent(&b), 4);
    let seeds: Vec<u64> = log.lock().unwrap().bodies.iter().map(|v| v["seed"].as_u64().unwrap()).collect();
    let mut distinct = seeds.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "each single request needs its own seed: {seeds:?}");
    // Next call goes straight to single requests.
    let g = b.generate(&request(2)).unwrap();
    assert_eq!(g.completions.len(), 2);
    assert_eq!(log.lock().unwrap().bodies.last().unwrap()["n"], 1);
}

#[test]
fn a_prefill_is_in_the_answer_once_whether_the_server_repeats_it_or_not() {
    let mut req = request(2);
    req.prefill = "```rhai\n".into();
    // vLLM: the reply holds only what the model wrote after the prefill.
    let (url, log) = server(vec![Reply::Ok(None)]);
    let g = backend(&url, 5000).generate(&req).unwrap();
    assert_eq!(g.completions[0].text, "```rhai\nfn solve(g) { g.rotate(0) }");
    assert_eq!(log.lock().unwrap().bodies[0]["continue_final_message"], true);
    // llama-server (as the real one built by scripts/llama-server does): the prefill again.
    let (url, _) = server(vec![Reply::Continue]);
    let g = backend(&url, 5000).generate(&req).unwrap();
    assert_eq!(g.completions[1].text, "```rhai\nfn solve(g) { g.rotate(1) }");
}

#[test]
fn llama_server_usage_is_read_for_the_cache_and_recounted_for_every_choice() {
    let (url, _) = server(vec![Reply::Continue]);
    let mut req = request(3);
    req.prefill = "```rhai\n".into();
    let g = backend(&url, 5000).generate(&req).unwrap();
    // The first choice has the reply's count; the others are counted by /tokenize
    // (5 words each, without the prefill), not an even split of 7.
    let tokens: Vec<usize> = g.completions.iter().map(|c| c.tokens).collect();
    assert_eq!(tokens, [7, 5, 5]);
    assert_eq!((g.prompt_tokens, g.cached_prompt_tokens, g.prompt_time), (21, 16, Duration::from_millis(250)));
}

#[test]
fn more_choices_than_the_server_has_slots_are_asked_one_at_a_time() {
    // llama-server with 8 slots answers n = 10 with this 400.
    let refusal = "Field 'n': Value must be between 1 <= value <= 8, but got 3";
    let (url, log) = server(vec![Reply::Status(400, refusal)]);
    let mut b = backend(&url, 5000);
    let g = b.generate(&request(3)).unwrap();
    assert_eq!(g.completions.len(), 3);
    assert_eq!(sent(&b), 4, "the refused request, then three single ones");
    let ns: Vec<u64> = log.lock().unwrap().bodies.iter().map(|v| v["n"].as_u64().unwrap()).collect();
    assert_eq!(ns, [3, 1, 1, 1]);
}

#[test]
fn retries_after_429_and_500() {
    let (url, _) = server(vec![Reply::Status(429, "slow down"), Reply::Status(500, "oops")]);
    let mut b = backend(&url, 5000);
    let g = b.generate(&request(2)).unwrap();
    assert_eq!(g.completions.len(), 2);
    assert_eq!(sent(&b), 3);
}

#[test]
fn a_slow_reply_times_out_and_is_retried() {
    let (url, _) = server(vec![Reply::Slow(Duration::from_secs(3))]);
    let mut b = backend(&url, 300);
    let start = Instant::now();
    let g = b.generate(&request(1)).unwrap();
    assert_eq!(g.completions.len(), 1);
    assert_eq!(sent(&b), 2);
    assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());
}

#[test]
fn persistent_failures_and_context_errors_are_reported_not_retried_forever() {
    let (url, _) = server(vec![Reply::Status(503, "down"), Reply::Status(503, "down"), Reply::Status(503, "down")]);
    let mut b = backend(&url, 5000);
    let err = b.generate(&request(1)).unwrap_err().to_string();
    assert!(err.contains("gave up after 3 attempts") && err.contains("503"), "{err}");

    let (url, _) = server(vec![Reply::Status(400, "This model's maximum context length is 4096 tokens")]);
    let mut b = backend(&url, 5000);
    let err = b.generate(&request(1)).unwrap_err().to_string();
    assert!(err.contains("does not fit the model's context"), "{err}");
    assert_eq!(sent(&b), 1, "a context error is not retried");

    let (url, _) = server(vec![Reply::Status(401, "bad key")]);
    let mut b = backend(&url, 5000);
    let err = b.generate(&request(1)).unwrap_err().to_string();
    assert!(err.contains("401"), "{err}");
    assert_eq!(sent(&b), 1);
}

#[test]
fn an_unreachable_endpoint_is_an_error_after_retries() {
    // A port nothing listens on: bind, note it, close.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut b = backend(&format!("http://127.0.0.1:{port}/v1"), 1000);
    let err = b.generate(&request(1)).unwrap_err().to_string();
    assert!(err.contains("cannot reach") || err.contains("gave up"), "{err}");
}
