//! The llama.cpp backend on the project's own random-weight GGUF model, through the real
//! loading path: parallel sequences, seeds, stop strings, grammars, KV prefix reuse, and
//! bad model files (checked through the binary, so an abort could not hide).
#![cfg(feature = "llama")]

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use arcsynth::llm::llama::{LlamaCpp, LoadOptions};
use arcsynth::llm::{Backend, Finish, LlmError, Message, Request, Sampling};
use common::*;

/// The tiny model, written once per test process.
fn tiny() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let p = temp_dir("llm-model").join("tiny.gguf");
        arcsynth::llm::gguf::make_model("tiny", &p, 7).unwrap();
        p
    })
}

fn load() -> LlamaCpp {
    LlamaCpp::load(tiny(), LoadOptions { ctx: Some(2048), threads: 1, ..LoadOptions::default() }).unwrap()
}

fn request(n: usize, seed: u32, max_tokens: usize) -> Request {
    Request {
        messages: vec![Message::new("system", "You write Rhai programs."), Message::new("user", "Solve the task.")],
        n,
        sampling: Sampling { temperature: 1.0, top_k: 0, top_p: 1.0, seed, max_tokens, ..Sampling::default() },
        grammar: None,
        prefill: String::new(),
        label: String::new(),
    }
}

#[test]
fn parallel_sequences_give_n_completions_with_exact_token_accounting() {
    let mut b = load();
    let g = b.generate(&request(4, 1, 24)).unwrap();
    assert_eq!(g.completions.len(), 4);
    assert!(g.prompt_tokens > 10);
    for c in &g.completions {
        assert!(c.tokens <= 24);
        match c.finish {
            Finish::Length => assert_eq!(c.tokens, 24),
            Finish::Eos => assert!(c.tokens < 24),
            Finish::Stop => panic!("no stop strings were given"),
        }
    }
    assert_eq!(g.completion_tokens(), g.completions.iter().map(|c| c.tokens).sum::<usize>());
    // The byte-level vocabulary makes one token per byte for these random models, so
    // tokens and text length agree unless bytes were not valid UTF-8.
    assert!(g.completions.iter().any(|c| c.tokens > 0));
}

#[test]
fn a_fixed_seed_reproduces_completions_and_another_seed_does_not() {
    let mut b = load();
    let a = b.generate(&request(4, 42, 20)).unwrap();
    // Same backend (its prompt KV is reused now) and a fresh one: identical.
    let again = b.generate(&request(4, 42, 20)).unwrap();
    assert!(again.cached_prompt_tokens > 0, "the prompt prefix was not reused");
    let fresh = load().generate(&request(4, 42, 20)).unwrap();
    let texts = |g: &arcsynth::llm::Generation| g.completions.iter().map(|c| c.text.clone()).collect::<Vec<_>>();
    assert_eq!(texts(&a), texts(&again));
    assert_eq!(texts(&a), texts(&fresh));
    let other = b.generate(&request(4, 43, 20)).unwrap();
    assert_ne!(texts(&a), texts(&other));
    // Sequences of one call differ from each other (each has its own seed).
    assert!(texts(&a).iter().any(|t| t != &texts(&a)[0]));
}

#[test]
fn a_call_needing_a_bigger_context_does_not_reuse_the_old_contexts_kv() {
    // One sequence first, then four: the context is rebuilt empty, so nothing of the
    // first call's KV may be counted as reused.
    let mut b = load();
    b.generate(&request(1, 42, 8)).unwrap();
    let after_growth = b.generate(&request(4, 42, 20)).unwrap();
    assert_eq!(after_growth.cached_prompt_tokens, 0);
    let fresh = load().generate(&request(4, 42, 20)).unwrap();
    let texts = |g: &arcsynth::llm::Generation| g.completions.iter().map(|c| c.text.clone()).collect::<Vec<_>>();
    assert_eq!(texts(&after_growth), texts(&fresh));
}

#[test]
fn stop_strings_cut_completions() {
    let mut b = load();
    let free = b.generate(&request(1, 5, 40)).unwrap();
    let text = &free.completions[0].text;
    let chars: Vec<char> = text.chars().collect();
    assert!(chars.len() >= 6, "completion too short to test: {text:?}");
    let stop: String = chars[3..5].iter().collect();
    let cut_at = text.find(&stop).unwrap();
    let mut req = request(1, 5, 40);
    req.sampling.stop = vec![stop.clone()];
    let stopped = b.generate(&req).unwrap();
    let c = &stopped.completions[0];
    assert_eq!(c.finish, Finish::Stop, "{c:?}");
    assert_eq!(c.text, text[..cut_at], "stop {stop:?}");
    assert!(!c.text.contains(&stop));
}

#[test]
fn grammar_mode_yields_only_grammar_valid_text() {
    let mut b = load();
    let mut req = request(4, 3, 30);
    req.grammar =
        Some(r#"root ::= "fn solve(g) { g." ("rotate(" [0-3] ")" | "flip_h()" | "flip_v()") " }""#.to_string());
    let g = b.generate(&req).unwrap();
    let valid = [
        "fn solve(g) { g.rotate(0) }",
        "fn solve(g) { g.rotate(1) }",
        "fn solve(g) { g.rotate(2) }",
        "fn solve(g) { g.rotate(3) }",
        "fn solve(g) { g.flip_h() }",
        "fn solve(g) { g.flip_v() }",
    ];
    for c in &g.completions {
        assert!(valid.iter().any(|v| v.starts_with(c.text.as_str())), "{:?}", c.text);
    }
    // With room to finish, every completion is a whole sentence of the grammar.
    assert!(
        g.completions.iter().all(|c| c.finish == Finish::Eos && valid.contains(&c.text.as_str())),
        "{:?}",
        g.completions
    );
    let mut bad = request(1, 3, 5);
    bad.grammar = Some("root ::= (".into());
    assert!(matches!(b.generate(&bad), Err(LlmError::Grammar(_))));
}

/// The shipped answer grammar (`dsl/program.gbnf`): prose without backticks, then a
/// ```rhai block that can only start with a comment or a function definition.
#[test]
fn the_program_grammar_shapes_answers() {
    let mut b = load();
    let mut req = request(8, 3, 160);
    req.grammar = Some(
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dsl/program.gbnf")).unwrap(),
    );
    let g = b.generate(&req).unwrap();
    let mut blocks = 0;
    for c in &g.completions {
        let text = c.text.as_str();
        match text.find('`') {
            None => {}
            Some(i) => {
                let rest = &text[i..];
                assert!("```rhai\n".starts_with(rest) || rest.starts_with("```rhai\n"), "{text:?}");
                if let Some(body) = rest.strip_prefix("```rhai\n") {
                    blocks += 1;
                    let body = body.trim_start_matches('\n');
                    assert!(
                        body.is_empty()
                            || "fn ".starts_with(body)
                            || "//".starts_with(body)
                            || body.starts_with("fn ")
                            || body.starts_with("//"),
                        "{text:?}"
                    );
                }
            }
        }
        if c.finish == Finish::Eos {
            assert!(arcsynth::prompt::extract_program(text).is_some(), "{text:?}");
        }
    }
    assert!(blocks > 0, "no completion reached the code block: {:?}", g.completions);
}

#[test]
fn prompts_that_do_not_fit_the_context_are_refused_before_decoding() {
    let mut b = LlamaCpp::load(tiny(), LoadOptions { ctx: Some(128), threads: 1, ..LoadOptions::default() }).unwrap();
    let err = b.generate(&request(8, 1, 64)).unwrap_err();
    assert!(matches!(err, LlmError::ContextTooSmall { .. }), "{err}");
    assert!(err.to_string().contains("--ctx"));
}

#[test]
fn bad_model_files_give_one_line_errors_not_aborts() {
    let dir = temp_dir("llm-bad");
    let truncated = dir.join("truncated.gguf");
    let bytes = std::fs::read(tiny()).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let header_only = dir.join("header.gguf");
    std::fs::write(&header_only, &bytes[..2]).unwrap();
    let not_gguf = dir.join("task.json");
    std::fs::write(&not_gguf, "{\"train\": []}").unwrap();
    let missing = dir.join("missing.gguf");
    for (path, words) in [
        (&missing, "cannot read the model"),
        (&header_only, "too short"),
        (&not_gguf, "not a GGUF file"),
        (&truncated, "could not load it"),
        (&dir, "not a file"),
    ] {
        let out = arcsynth(&["dev", "generate", "--model", path.to_str().unwrap(), "--prompt", "hi"]);
        assert_eq!(out.status.code(), Some(2), "{}: {}", path.display(), stderr(&out));
        let err = stderr(&out);
        let last = err.trim_end().lines().last().unwrap_or_default();
        assert!(
            last.starts_with("arcsynth: error:") && last.contains(path.to_str().unwrap()) && last.contains(words),
            "{err}"
        );
    }
}

#[test]
fn hostile_header_values_are_refused_before_llama_cpp_asserts_on_them() {
    // F4: a layer count of 0 or 0x7fffffff, or a NaN epsilon, aborted the process
    // (SIGABRT) inside llama.cpp's loader.
    use arcsynth::llm::gguf::{coder_model, preset};
    let dir = temp_dir("llm-hostile");
    // (name, a change to the tiny model's header, what the error says)
    type Edit = Box<dyn Fn(&mut arcsynth::llm::gguf::GgufWriter)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        ("layers0", Box::new(|w| w.u32("qwen2.block_count", 0)), "qwen2.block_count is 0"),
        ("layersmax", Box::new(|w| w.u32("qwen2.block_count", 0x7fff_ffff)), "qwen2.block_count is 2147483647"),
        ("layers1", Box::new(|w| w.u32("qwen2.block_count", 1)), "blk.1."),
        ("eps", Box::new(|w| w.f32("qwen2.attention.layer_norm_rms_epsilon", f32::NAN)), "layer_norm_rms_epsilon"),
        ("kv0", Box::new(|w| w.u32("qwen2.attention.head_count_kv", 0)), "head_count_kv is 0"),
        ("kv3", Box::new(|w| w.u32("qwen2.attention.head_count_kv", 3)), "not a multiple"),
        ("heads", Box::new(|w| w.u32("qwen2.attention.head_count", 6)), "not a multiple"),
        ("types", Box::new(|w| w.i32s("tokenizer.ggml.token_type", vec![1; 5])), "token_type has 5 entries"),
        ("eos", Box::new(|w| w.u32("tokenizer.ggml.eos_token_id", 1_000_000)), "eos_token_id is 1000000"),
    ];
    for (name, edit, words) in cases {
        let mut w = coder_model(preset("tiny").unwrap(), 1);
        edit(&mut w);
        let path = dir.join(format!("{name}.gguf"));
        std::fs::write(&path, w.to_bytes()).unwrap();
        let out = arcsynth(&["dev", "generate", "--model", path.to_str().unwrap(), "--prompt", "hi"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        let last = err.trim_end().lines().last().unwrap_or_default();
        assert!(last.contains(path.to_str().unwrap()) && last.contains(words), "{name}: {err}");
    }
    // Counts that no file could hold are refused without reading on.
    let mut huge = std::fs::read(tiny()).unwrap();
    huge[8..16].copy_from_slice(&(1u64 << 60).to_le_bytes());
    let path = dir.join("tensors.gguf");
    std::fs::write(&path, &huge).unwrap();
    let out = arcsynth(&["dev", "generate", "--model", path.to_str().unwrap(), "--prompt", "hi"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does not fit the file"), "{}", stderr(&out));
    // The models the project writes pass.
    for preset in ["tiny", "grid-tiny"] {
        let path = dir.join(format!("{preset}.gguf"));
        arcsynth::llm::gguf::make_model(preset, &path, 1).unwrap();
        arcsynth::llm::gguf_check::check(&path).unwrap_or_else(|e| panic!("{preset}: {e}"));
    }
}

#[test]
fn make_model_writes_a_loadable_model_through_the_cli() {
    let p = temp_dir("llm-cli").join("m.gguf");
    let out = arcsynth(&["dev", "make-model", "--preset", "tiny", "--out", p.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let gen = arcsynth(&[
        "dev",
        "generate",
        "--model",
        p.to_str().unwrap(),
        "--prompt",
        "hi",
        "-n",
        "3",
        "--max-tokens",
        "8",
        "--json",
    ]);
    assert!(gen.status.success(), "{}", stderr(&gen));
    let v: serde_json::Value = serde_json::from_str(&stdout(&gen)).unwrap();
    assert_eq!(v["completions"].as_array().unwrap().len(), 3);
    // More threads than cores are clamped with a warning (64 threads on 2 cores ran for
    // minutes), and 0 threads is refused.
    let many = arcsynth(&[
        "dev",
        "generate",
        "--model",
        p.to_str().unwrap(),
        "--prompt",
        "hi",
        "--max-tokens",
        "4",
        "--threads",
        "4096",
    ]);
    assert!(many.status.success(), "{}", stderr(&many));
    assert!(stderr(&many).contains("--threads 4096 is more than this machine's"), "{}", stderr(&many));
    let none = arcsynth(&["dev", "generate", "--model", p.to_str().unwrap(), "--prompt", "hi", "--threads", "0"]);
    assert_eq!(none.status.code(), Some(2), "{}", stderr(&none));
    let unknown = arcsynth(&["dev", "make-model", "--preset", "huge", "--out", p.to_str().unwrap()]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("unknown preset huge"));
}

/// `arcsynth search` with the tiny model on five real tasks, killed after two tasks and
/// rerun: valid outputs for every task, finished tasks not recomputed, no file corrupt,
/// no completion recorded twice. (Byte-level tokens make the prompts ~10k tokens long,
/// hence the larger context.)
#[test]
fn search_with_the_tiny_model_survives_a_kill_and_resumes() {
    use std::path::Path;
    use std::time::{Duration, Instant};
    let dir = temp_dir("llm-search");
    let tasks = dir.join("tasks");
    std::fs::create_dir_all(&tasks).unwrap();
    let ids = ["007bbfb7", "0520fde7", "05269061", "25ff71a9", "3c9b0459"];
    for id in ids {
        std::fs::copy(training_dir().join(format!("{id}.json")), tasks.join(format!("{id}.json"))).unwrap();
    }
    let out = dir.join("run");
    let args = [
        "search",
        "--tasks",
        tasks.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--model",
        tiny().to_str().unwrap(),
        "--proposer",
        "llm",
        "--samples",
        "8",
        "--batch",
        "4",
        "--max-tokens",
        "32",
        // The tiny model's tokenizer spends about 15.6k tokens on each of these prompts
        // (the DSL reference and the grids): room to spare, so that a longer reference
        // does not make a task's prompt miss the context and lose its completions.
        "--ctx",
        "24576",
        "--threads",
        "1",
    ];
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_arcsynth"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let results = out.join("results");
    let count = |d: &Path| {
        std::fs::read_dir(d)
            .map(|r| r.filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json")).count())
            .unwrap_or(0)
    };
    let start = Instant::now();
    while count(&results) < 2 && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done = count(&results);
    assert!((2..5).contains(&done), "{done} tasks finished before the kill");
    let read = |p: &Path| -> serde_json::Value { serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap() };
    let before: Vec<(std::path::PathBuf, std::time::SystemTime)> = std::fs::read_dir(&results)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            read(&p);
            (p.clone(), std::fs::metadata(&p).unwrap().modified().unwrap())
        })
        .collect();
    read(&out.join("submission.json"));
    read(&out.join("report.json"));

    let again = arcsynth(&args);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains(&format!("tasks: 5 ({done} resumed)")), "{}", stdout(&again));
    for (p, m) in before {
        assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), m, "{} was recomputed", p.display());
    }
    // Every task has a valid attempt pair for each test input.
    let sub = read(&out.join("submission.json"));
    for id in ids {
        let t = arcsynth::task::load_one(&tasks, id).unwrap();
        let attempts = sub[id].as_array().unwrap_or_else(|| panic!("{id} missing"));
        assert_eq!(attempts.len(), t.test.len());
        for a in attempts {
            for k in ["attempt_1", "attempt_2"] {
                arcsynth::task::parse_grid(&a[k]).unwrap_or_else(|e| panic!("{id} {k}: {e}"));
            }
        }
    }
    // Each task's completions exactly once, all of them whole.
    let report = read(&out.join("report.json"));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(out.join("completions.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, report["llm"]["completions"].as_u64().unwrap());
    assert!(lines.len() >= 5 * 8, "{} completions", lines.len());
    assert!(report["llm"]["completion_tokens"].as_u64().unwrap() > 0);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(40))]

    #[test]
    fn mangled_model_headers_are_refused_or_load_never_abort(
        edits in proptest::collection::vec((0usize..4096, proptest::prelude::any::<u8>()), 1..5),
        cut in proptest::option::of(16usize..4096),
    ) {
        // Fuzzing the GGUF header (the tiny model's first 4 KiB: counts, metadata,
        // vocabulary) with overwritten bytes or a truncation. The check answers without
        // panicking; a file it passes goes to llama.cpp through the binary, which must
        // exit with a status (0, or 2 with a one-line error), never die of a signal.
        let mut bytes = std::fs::read(tiny()).unwrap();
        for (at, b) in edits {
            bytes[at] = b;
        }
        if let Some(n) = cut {
            bytes.truncate(n);
        }
        let dir = temp_dir("llm-fuzz");
        let path = dir.join(format!("m{}.gguf", arcsynth::grid::fnv1a(bytes.iter().copied())));
        std::fs::write(&path, &bytes).unwrap();
        match arcsynth::llm::gguf_check::check(&path) {
            Err(e) => proptest::prop_assert!(!e.contains('\n'), "{}", e),
            Ok(()) => {
                let out = arcsynth(&["dev", "generate", "--model", path.to_str().unwrap(), "--prompt", "hi", "--max-tokens", "2"]);
                proptest::prop_assert!(matches!(out.status.code(), Some(0) | Some(2)), "{:?}: {}", out.status, stderr(&out));
            }
        }
        let _ = std::fs::remove_file(&path);
    }
}
