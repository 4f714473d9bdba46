//! The llama.cpp backend (in-process, through `llama-cpp-2`): batched parallel sampling
//! of N sequences that share one decoded prompt, prompt-prefix KV reuse across calls,
//! and optional GBNF grammars.
//!
//! llama.cpp aborts the process on some bad inputs (`GGML_ASSERT`), which Rust cannot
//! catch, so everything it would assert on is checked here first: the file exists and
//! is a GGUF, prompts fit the context, batches never exceed `n_batch`.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use super::{cut_at_stop, Backend, Completion, Finish, Generation, LlmError, Request};

/// llama.cpp's backend may be initialised once per process.
fn backend() -> Result<&'static LlamaBackend, LlmError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let b = LlamaBackend::init().map_err(|e| e.to_string())?;
            // llama.cpp's ~300 log lines per load go to tracing: silent unless -v/-vv.
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            Ok(b)
        })
        .as_ref()
        .map_err(|e| LlmError::Backend(format!("cannot initialise llama.cpp: {e}")))
}

/// Settings for loading a model.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub gpu_layers: u32,
    /// Context size; `None` uses the model's training context (capped at 32768).
    pub ctx: Option<u32>,
    pub threads: i32,
    /// Batch size for prompt decoding.
    pub batch: u32,
    /// Qwen3-style thinking; when off, the assistant turn starts with an empty
    /// `<think></think>` block. `<think>` blocks are always removed from completions.
    pub thinking: bool,
    /// llama.cpp's flash attention on or off; `None`: llama.cpp's choice (on where the
    /// backend supports it, the CPU included). Off on 2 CPU cores, 8 sequences over
    /// search's 4.3k-token prompt decode at 21.7 tokens/s against 18.7, but prompts are
    /// decoded slower, and inside `search` prefill outweighs decoding (benchmarks/RESULTS.md).
    pub flash_attention: Option<bool>,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions { gpu_layers: 0, ctx: None, threads: 1, batch: 512, thinking: false, flash_attention: None }
    }
}

impl LoadOptions {
    fn flash_attention_policy(&self) -> llama_cpp_sys_2::llama_flash_attn_type {
        match self.flash_attention {
            Some(true) => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED,
            Some(false) => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED,
            None => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_AUTO,
        }
    }
}

/// Checks that `path` is a readable GGUF file with sane header values before llama.cpp
/// sees it (its loader debug-asserts on missing files, a non-GGUF gives only a null
/// pointer, and some header values abort the process: see `gguf_check`).
pub fn check_model_file(path: &Path) -> Result<(), LlmError> {
    let err = |problem: String| LlmError::Model { path: path.display().to_string(), problem };
    let meta = std::fs::metadata(path).map_err(|e| err(format!("cannot read the model: {e}")))?;
    if !meta.is_file() {
        return Err(err("not a file".into()));
    }
    super::gguf_check::check(path).map_err(err)
}

/// Loads a GGUF model after checking the file (llama.cpp's loader must not see a file
/// that is missing or not a GGUF).
fn load_model(path: &Path, opts: &LoadOptions) -> Result<LlamaModel, LlmError> {
    check_model_file(path)?;
    let params = LlamaModelParams::default().with_n_gpu_layers(opts.gpu_layers);
    LlamaModel::load_from_file(backend()?, path, &params).map_err(|e| LlmError::Model {
        path: path.display().to_string(),
        problem: format!("llama.cpp could not load it ({e}); is it a complete, supported GGUF model?"),
    })
}

/// A context for `model`. llama.cpp contexts must be created one at a time,
/// process-wide.
fn new_context(model: &'static LlamaModel, params: LlamaContextParams) -> Result<LlamaContext<'static>, LlmError> {
    static CREATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = CREATING.lock().unwrap_or_else(|p| p.into_inner());
    model.new_context(backend()?, params).map_err(|e| LlmError::Backend(format!("cannot create a context: {e}")))
}

/// How many leading `tokens` can keep the KV they have from `cached` (the last call's
/// tokens in sequence 0): the common prefix, less the last token, which is decoded again
/// for its logits.
fn reusable(cached: &[LlamaToken], tokens: &[LlamaToken]) -> usize {
    let common = cached.iter().zip(tokens).take_while(|(a, b)| a == b).count();
    common.min(tokens.len().saturating_sub(1))
}

/// Puts `tokens` in sequence 0: drops the KV past the first `reuse` tokens, then decodes
/// the rest in chunks of `batch_size` (llama.cpp aborts on a batch over `n_batch`), with
/// logits for the last token only, at the end of `batch`.
fn prefill(
    ctx: &mut LlamaContext<'static>,
    batch: &mut LlamaBatch,
    tokens: &[LlamaToken],
    reuse: usize,
    batch_size: usize,
) -> Result<(), LlmError> {
    if reuse == 0 {
        ctx.clear_kv_cache();
    } else {
        ctx.clear_kv_cache_seq(Some(0), Some(reuse as u32), None).map_err(|e| LlmError::Backend(e.to_string()))?;
    }
    for (ci, chunk) in tokens[reuse..].chunks(batch_size).enumerate() {
        batch.clear();
        let base = reuse + ci * batch_size;
        for (i, &t) in chunk.iter().enumerate() {
            let last = base + i == tokens.len() - 1;
            batch.add(t, (base + i) as i32, &[0], last).map_err(|e| LlmError::Backend(e.to_string()))?;
        }
        ctx.decode(batch).map_err(|e| LlmError::Backend(format!("decoding the prompt failed: {e}")))?;
    }
    Ok(())
}

/// A loaded model plus one context that is reused across calls.
pub struct LlamaCpp {
    name: String,
    // The context borrows the model: `Drop` and `reload` end it before freeing the model.
    ctx: Option<LlamaContext<'static>>,
    ctx_seqs: u32,
    model: &'static LlamaModel,
    template: Option<LlamaChatTemplate>,
    opts: LoadOptions,
    /// Tokens whose KV is in sequence 0 from the previous call (the shared prefix).
    cached: Vec<LlamaToken>,
}

impl LlamaCpp {
    pub fn load(path: &Path, opts: LoadOptions) -> Result<LlamaCpp, LlmError> {
        let model = load_model(path, &opts)?;
        // The context borrows the model for its whole life; the model lives as long as
        // the process (one model per run), which makes the borrow 'static.
        let model: &'static LlamaModel = Box::leak(Box::new(model));
        let template = match model.chat_template(None) {
            Ok(t) => Some(t),
            Err(_) => {
                tracing::warn!("{}: no chat template in the model; using ChatML", path.display());
                None
            }
        };
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
        Ok(LlamaCpp { name, ctx: None, ctx_seqs: 0, model, template, opts, cached: Vec::new() })
    }

    pub fn model(&self) -> &LlamaModel {
        self.model
    }

    /// GGUF `general.architecture` (e.g. `qwen2`, `qwen3`).
    pub fn architecture(&self) -> String {
        self.model.meta_val_str("general.architecture").unwrap_or_default()
    }

    /// Context size in tokens for the current settings.
    fn n_ctx(&self) -> u32 {
        self.opts.ctx.unwrap_or_else(|| self.model.n_ctx_train().min(32768)).max(64)
    }

    /// The chat-formatted prompt, ending with the assistant's turn.
    pub fn format(&self, messages: &[super::Message]) -> Result<String, LlmError> {
        let mut s = self.format_template(messages)?;
        if !self.opts.thinking && self.architecture().starts_with("qwen3") && !s.ends_with("</think>\n\n") {
            s.push_str("<think>\n\n</think>\n\n");
        }
        Ok(s)
    }

    fn format_template(&self, messages: &[super::Message]) -> Result<String, LlmError> {
        if let Some(t) = &self.template {
            let chat: Result<Vec<LlamaChatMessage>, _> =
                messages.iter().map(|m| LlamaChatMessage::new(m.role.clone(), m.content.clone())).collect();
            let chat = chat.map_err(|e| LlmError::Backend(format!("message has a NUL byte: {e}")))?;
            if let Ok(s) = self.model.apply_chat_template(t, &chat, true) {
                return Ok(s);
            }
            tracing::warn!("the model's chat template is not one llama.cpp supports; using ChatML");
        }
        let mut s = String::new();
        for m in messages {
            s.push_str(&format!("<|im_start|>{}\n{}<|im_end|>\n", m.role, m.content));
        }
        s.push_str("<|im_start|>assistant\n");
        Ok(s)
    }

    pub fn tokenize(&self, text: &str) -> Vec<LlamaToken> {
        self.model.vocab().tokenize(text.as_bytes(), false, true)
    }

    /// A context with room for `seqs` sequences, created only when the current one is
    /// too small (contexts cost memory and time to create).
    fn context(&mut self, seqs: u32) -> Result<&mut LlamaContext<'static>, LlmError> {
        if self.ctx.is_none() || self.ctx_seqs < seqs {
            self.ctx = None;
            self.cached.clear();
            let params = LlamaContextParams::default()
                .with_n_ctx(NonZeroU32::new(self.n_ctx()))
                .with_n_batch(self.opts.batch)
                .with_n_ubatch(self.opts.batch)
                .with_n_seq_max(seqs.max(1))
                .with_kv_unified(true)
                .with_flash_attention_policy(self.opts.flash_attention_policy())
                .with_n_threads(self.opts.threads)
                .with_n_threads_batch(self.opts.threads);
            let ctx = new_context(self.model, params)?;
            self.ctx = Some(ctx);
            self.ctx_seqs = seqs.max(1);
        }
        Ok(self.ctx.as_mut().expect("just created"))
    }
}

fn sampler(model: &LlamaModel, req: &Request, seq: usize) -> Result<LlamaSampler, LlmError> {
    let s = &req.sampling;
    let seed = s.seed.wrapping_add(seq as u32);
    let mut chain = Vec::new();
    if let Some(g) = &req.grammar {
        chain.push(LlamaSampler::grammar(model, g, "root").map_err(|e| LlmError::Grammar(format!("{e:?}")))?);
    }
    if s.temperature <= 0.0 {
        chain.push(LlamaSampler::greedy());
    } else {
        if s.top_k > 0 {
            chain.push(LlamaSampler::top_k(s.top_k));
        }
        if s.top_p < 1.0 {
            chain.push(LlamaSampler::top_p(s.top_p, 1));
        }
        if s.min_p > 0.0 {
            chain.push(LlamaSampler::min_p(s.min_p, 1));
        }
        chain.push(LlamaSampler::temp(s.temperature));
        chain.push(LlamaSampler::dist(seed));
    }
    Ok(LlamaSampler::chain_simple(chain))
}

struct Seq {
    sampler: LlamaSampler,
    bytes: Vec<u8>,
    tokens: usize,
    done: Option<Finish>,
    /// Index of this sequence's logits in the last decoded batch.
    logits_at: i32,
    pos: i32,
}

impl Backend for LlamaCpp {
    fn name(&self) -> &str {
        &self.name
    }

    fn generate(&mut self, req: &Request) -> Result<Generation, LlmError> {
        let n = req.n.max(1);
        let prompt_text = self.format(&req.messages)? + req.prefill.as_str();
        let prompt = self.tokenize(&prompt_text);
        if prompt.is_empty() {
            return Err(LlmError::Backend("the prompt is empty".into()));
        }
        let max = req.sampling.max_tokens;
        let need = prompt.len() + n * max;
        let ctx_size = self.n_ctx() as usize;
        if need > ctx_size {
            return Err(LlmError::ContextTooSmall { prompt: prompt.len(), n, max, need, ctx: ctx_size });
        }
        let batch_size = self.opts.batch as usize;
        let model = self.model;
        let eos = model.vocab().eos();
        let started = Instant::now();

        // A context made for more sequences starts empty and forgets `cached`, so the
        // reusable prefix is measured after it exists.
        self.context(n as u32)?;
        let reuse = reusable(&self.cached, &prompt);
        let ctx = self.ctx.as_mut().expect("just ensured");
        // Sequences other than 0 are rebuilt from it below.
        for s in 1..n as u32 {
            ctx.clear_kv_cache_seq(Some(s), None, None).map_err(|e| LlmError::Backend(e.to_string()))?;
        }
        let mut batch = LlamaBatch::new(batch_size.max(n), n as i32);
        prefill(ctx, &mut batch, &prompt, reuse, batch_size)?;
        let last_logits = batch.n_tokens() - 1;
        for s in 1..n as i32 {
            ctx.copy_kv_cache_seq(0, s, None, None).map_err(|e| LlmError::Backend(e.to_string()))?;
        }
        let prompt_time = started.elapsed();
        let gen_start = Instant::now();

        let mut seqs: Vec<Seq> = (0..n)
            .map(|i| {
                Ok(Seq {
                    sampler: sampler(model, req, i)?,
                    bytes: Vec::new(),
                    tokens: 0,
                    done: None,
                    logits_at: last_logits,
                    pos: prompt.len() as i32,
                })
            })
            .collect::<Result<_, LlmError>>()?;
        if max == 0 {
            seqs.iter_mut().for_each(|s| s.done = Some(Finish::Length));
        }
        while seqs.iter().any(|s| s.done.is_none()) {
            batch.clear();
            for (i, s) in seqs.iter_mut().enumerate() {
                if s.done.is_some() {
                    continue;
                }
                // `sample` also accepts the token into the chain (grammar state, RNG);
                // accepting it a second time would corrupt the grammar and abort.
                let token = s.sampler.sample(ctx, s.logits_at);
                if model.vocab().is_eog(token) || token == eos {
                    s.done = Some(Finish::Eos);
                    continue;
                }
                s.tokens += 1;
                s.bytes.extend(model.vocab().token_to_piece(token, false, None));
                if !req.sampling.stop.is_empty()
                    && cut_at_stop(&String::from_utf8_lossy(&s.bytes), &req.sampling.stop).is_some()
                {
                    s.done = Some(Finish::Stop);
                    continue;
                }
                if s.tokens >= max {
                    s.done = Some(Finish::Length);
                    continue;
                }
                s.logits_at = batch.n_tokens();
                batch.add(token, s.pos, &[i as i32], true).map_err(|e| LlmError::Backend(e.to_string()))?;
                s.pos += 1;
            }
            if batch.n_tokens() > 0 {
                ctx.decode(&mut batch).map_err(|e| LlmError::Backend(format!("decoding failed: {e}")))?;
            }
        }
        self.cached = prompt.clone();
        let completions = seqs
            .into_iter()
            .map(|s| {
                let mut text = String::from_utf8_lossy(&s.bytes).into_owned();
                if let Some(cut) = cut_at_stop(&text, &req.sampling.stop) {
                    text.truncate(cut);
                }
                if text.contains("<think>") {
                    text = super::strip_thinking(&text);
                }
                // The whole answer: the prefill, then what the model wrote.
                text.insert_str(0, &req.prefill);
                Completion { text, tokens: s.tokens, finish: s.done.expect("loop ends when all are done") }
            })
            .collect();
        Ok(Generation {
            completions,
            prompt_tokens: prompt.len(),
            cached_prompt_tokens: reuse,
            prompt_time,
            generation_time: gen_start.elapsed(),
        })
    }
}

/// Default `TokenModel::adapter_memory_limit`: 1 GiB of adapter files (a rank-32
/// adapter of Qwen3-4B in f32 is about 260 MB).
pub const ADAPTER_MEMORY_LIMIT: u64 = 1 << 30;

/// A model driven token by token (no tokenizer, no chat template): the grid-token model.
/// Sequence 0 of one context holds the KV of the last sequence scored; a call on a
/// sequence sharing a prefix with it removes the KV past the shared prefix (this is how
/// a depth-first search backtracks) and decodes only the rest. A LoRA adapter can be
/// set and cleared; each set builds a fresh context (an adapter set on a context that
/// has already decoded was seen to have no effect).
pub struct TokenModel {
    // The context borrows the model: `Drop` and `reload` end it before freeing the model.
    ctx: Option<LlamaContext<'static>>,
    adapter: Option<llama_cpp_2::model::LlamaLoraAdapter>,
    /// From Box::into_raw: contexts borrow it for 'static. Freed only with no context
    /// alive (`reload`, `drop`).
    model: *mut LlamaModel,
    path: std::path::PathBuf,
    opts: LoadOptions,
    /// Bytes of adapter files loaded since the model was (re)loaded: llama.cpp frees an
    /// adapter only with its model (llama-cpp-2 exposes no `llama_adapter_lora_free`).
    adapter_bytes: u64,
    /// Past this many adapter bytes the model is reloaded before the next adapter, so a
    /// run over many tasks holds at most about this much adapter memory.
    pub adapter_memory_limit: u64,
    /// Reloads done to free adapters.
    pub reloads: usize,
    n_ctx: usize,
    cached: Vec<LlamaToken>,
    /// Tokens decoded, over the model's life (for throughput figures).
    pub decoded: usize,
}

impl TokenModel {
    pub fn load(path: &Path, opts: LoadOptions) -> Result<TokenModel, LlmError> {
        let model = load_model(path, &opts)?;
        let n_ctx = opts.ctx.unwrap_or_else(|| model.n_ctx_train().min(32768)).max(64) as usize;
        let model = Box::into_raw(Box::new(model));
        let mut m = TokenModel {
            ctx: None,
            adapter: None,
            model,
            path: path.to_path_buf(),
            opts,
            adapter_bytes: 0,
            adapter_memory_limit: ADAPTER_MEMORY_LIMIT,
            reloads: 0,
            n_ctx,
            cached: Vec::new(),
            decoded: 0,
        };
        m.new_context()?;
        Ok(m)
    }

    fn model(&self) -> &'static LlamaModel {
        // SAFETY: `model` comes from Box::into_raw and is freed (`reload`, `drop`) or
        // borrowed mutably (`load_adapter`) only while no context, the only other
        // borrower, exists.
        unsafe { &*self.model }
    }

    /// Loads the model again from its file, freeing the old one and every adapter
    /// loaded into it.
    fn reload(&mut self) -> Result<(), LlmError> {
        self.ctx = None;
        self.adapter = None;
        self.cached.clear();
        let fresh = Box::into_raw(Box::new(load_model(&self.path, &self.opts)?));
        // SAFETY: no context exists, so nothing borrows the old model.
        drop(unsafe { Box::from_raw(std::mem::replace(&mut self.model, fresh)) });
        self.adapter_bytes = 0;
        self.reloads += 1;
        Ok(())
    }

    fn new_context(&mut self) -> Result<(), LlmError> {
        self.ctx = None;
        self.cached.clear();
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(self.n_ctx as u32))
            .with_n_batch(self.opts.batch)
            .with_n_ubatch(self.opts.batch)
            .with_n_seq_max(1)
            .with_flash_attention_policy(self.opts.flash_attention_policy())
            .with_n_threads(self.opts.threads)
            .with_n_threads_batch(self.opts.threads);
        let mut ctx = new_context(self.model(), params)?;
        if let Some(a) = self.adapter.as_mut() {
            ctx.lora_adapter_set(a, 1.0).map_err(|e| LlmError::Backend(format!("cannot set the LoRA adapter: {e}")))?;
        }
        self.ctx = Some(ctx);
        Ok(())
    }

    /// Decodes with the LoRA adapter in `path` (a llama.cpp LoRA GGUF) from now on,
    /// replacing any earlier one. llama.cpp frees adapters only with their model, so
    /// once `adapter_memory_limit` bytes of adapters have been loaded the model is
    /// reloaded from its file first.
    pub fn load_adapter(&mut self, path: &Path) -> Result<(), LlmError> {
        check_model_file(path)?;
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        self.ctx = None;
        self.adapter = None;
        if self.adapter_bytes > 0 && self.adapter_bytes + size > self.adapter_memory_limit {
            self.reload()?;
        }
        self.adapter_bytes += size;
        // SAFETY: no context exists now, so this is the only borrow of the model.
        let model = unsafe { &mut *self.model };
        let adapter = model.lora_adapter_init(path).map_err(|e| LlmError::Model {
            path: path.display().to_string(),
            problem: format!("llama.cpp could not load the LoRA adapter ({e}); was it made for this model?"),
        })?;
        self.adapter = Some(adapter);
        self.new_context()
    }

    /// Decodes with the base model again.
    pub fn drop_adapter(&mut self) -> Result<(), LlmError> {
        self.ctx = None;
        self.adapter = None;
        self.new_context()
    }

    /// GGUF `general.architecture`.
    pub fn architecture(&self) -> String {
        self.model().meta_val_str("general.architecture").unwrap_or_default()
    }

    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// Forgets the cached prefix (the next call decodes from scratch).
    pub fn reset(&mut self) {
        if let Some(c) = self.ctx.as_mut() {
            c.clear_kv_cache();
        }
        self.cached.clear();
    }
}

impl Drop for TokenModel {
    fn drop(&mut self) {
        self.ctx = None;
        self.adapter = None;
        // SAFETY: the context, the only borrower, is gone.
        drop(unsafe { Box::from_raw(self.model) });
    }
}

impl super::NextToken for TokenModel {
    fn vocab_size(&self) -> usize {
        self.model().n_vocab() as usize
    }

    fn next_logprobs(&mut self, tokens: &[u32]) -> Result<Vec<f32>, LlmError> {
        let n_vocab = self.vocab_size();
        if tokens.is_empty() {
            return Err(LlmError::Backend("no tokens to score".into()));
        }
        if tokens.len() > self.n_ctx {
            return Err(LlmError::ContextTooSmall {
                prompt: tokens.len(),
                n: 1,
                max: 0,
                need: tokens.len(),
                ctx: self.n_ctx,
            });
        }
        if let Some(bad) = tokens.iter().find(|&&t| t as usize >= n_vocab) {
            return Err(LlmError::Backend(format!("token id {bad} is outside the model's vocabulary of {n_vocab}")));
        }
        let tokens: Vec<LlamaToken> = tokens.iter().map(|&t| LlamaToken(t as i32)).collect();
        let reuse = reusable(&self.cached, &tokens);
        let batch_size = self.opts.batch as usize;
        let ctx = self.ctx.as_mut().expect("a context exists outside set_adapter");
        // The cache is unknown until the decode below succeeds.
        self.cached.clear();
        let mut batch = LlamaBatch::new(batch_size, 1);
        prefill(ctx, &mut batch, &tokens, reuse, batch_size)?;
        let logits = ctx.get_logits_ith(batch.n_tokens() - 1);
        let lp = super::log_softmax(&logits[..n_vocab]);
        self.decoded += tokens.len() - reuse;
        self.cached = tokens;
        Ok(lp)
    }

    fn set_adapter(&mut self, path: &Path) -> Result<(), LlmError> {
        self.load_adapter(path)
    }

    fn clear_adapter(&mut self) -> Result<(), LlmError> {
        self.drop_adapter()
    }
}
