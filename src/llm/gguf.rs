//! A small GGUF v3 writer and the project's own random-weight test models.
//!
//! No model can be downloaded in CI, so tests and benchmarks load models that this
//! module writes: a byte-level BPE vocabulary with ChatML special tokens and a chat
//! template, qwen2 architecture, f32 weights drawn from a seeded generator. The same
//! code writes random weights with real model shapes for throughput measurements.

use std::io::{self, Write};
use std::path::Path;

/// GGUF metadata value types (the subset written here).
enum Value {
    U32(u32),
    F32(f32),
    Str(String),
    StrArray(Vec<String>),
    I32Array(Vec<i32>),
}

/// How a tensor's values are made when the file is written (so multi-GB models are
/// streamed, never held in memory).
#[derive(Clone, Copy)]
pub enum Fill {
    Const(f32),
    /// Roughly normal values with this standard deviation, from the writer's generator.
    Normal(f32),
}

struct Tensor {
    name: String,
    /// GGUF order: dims[0] is the fastest-varying (row length).
    dims: Vec<u64>,
    fill: Fill,
    /// Given values (adapters), used instead of `fill`.
    data: Option<Vec<f32>>,
}

impl Tensor {
    fn len(&self) -> u64 {
        self.dims.iter().product()
    }
}

/// A GGUF file under construction (f32 tensors only).
#[derive(Default)]
pub struct GgufWriter {
    kv: Vec<(String, Value)>,
    tensors: Vec<Tensor>,
    seed: u64,
}

const ALIGN: u64 = 32;

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

impl GgufWriter {
    /// Sets a key, replacing an earlier value (GGUF forbids duplicate keys).
    fn set(&mut self, k: &str, v: Value) {
        match self.kv.iter_mut().find(|(key, _)| key == k) {
            Some(slot) => slot.1 = v,
            None => self.kv.push((k.into(), v)),
        }
    }

    pub fn u32(&mut self, k: &str, v: u32) {
        self.set(k, Value::U32(v));
    }
    pub fn f32(&mut self, k: &str, v: f32) {
        self.set(k, Value::F32(v));
    }
    pub fn str(&mut self, k: &str, v: &str) {
        self.set(k, Value::Str(v.into()));
    }
    pub fn strs(&mut self, k: &str, v: Vec<String>) {
        self.set(k, Value::StrArray(v));
    }
    pub fn i32s(&mut self, k: &str, v: Vec<i32>) {
        self.set(k, Value::I32Array(v));
    }
    pub fn tensor(&mut self, name: &str, dims: &[u64], fill: Fill) {
        self.tensors.push(Tensor { name: name.into(), dims: dims.to_vec(), fill, data: None });
    }
    /// A tensor with given values (row-major in GGUF order: dims[0] fastest).
    pub fn tensor_values(&mut self, name: &str, dims: &[u64], values: Vec<f32>) {
        assert_eq!(values.len() as u64, dims.iter().product::<u64>(), "{name}: values do not fill its dims");
        self.tensors.push(Tensor {
            name: name.into(),
            dims: dims.to_vec(),
            fill: Fill::Const(0.0),
            data: Some(values),
        });
    }

    /// Streams the file: header, tensor infos, then tensor data generated on the fly.
    pub fn write_to(&self, sink: &mut impl Write) -> io::Result<()> {
        let mut out = Vec::new();
        out.extend(b"GGUF");
        out.extend(3u32.to_le_bytes());
        out.extend((self.tensors.len() as u64).to_le_bytes());
        out.extend((self.kv.len() as u64).to_le_bytes());
        for (k, v) in &self.kv {
            put_str(&mut out, k);
            match v {
                Value::U32(x) => {
                    out.extend(4u32.to_le_bytes());
                    out.extend(x.to_le_bytes());
                }
                Value::F32(x) => {
                    out.extend(6u32.to_le_bytes());
                    out.extend(x.to_le_bytes());
                }
                Value::Str(s) => {
                    out.extend(8u32.to_le_bytes());
                    put_str(&mut out, s);
                }
                Value::StrArray(items) => {
                    out.extend(9u32.to_le_bytes());
                    out.extend(8u32.to_le_bytes());
                    out.extend((items.len() as u64).to_le_bytes());
                    items.iter().for_each(|s| put_str(&mut out, s));
                }
                Value::I32Array(items) => {
                    out.extend(9u32.to_le_bytes());
                    out.extend(5u32.to_le_bytes());
                    out.extend((items.len() as u64).to_le_bytes());
                    items.iter().for_each(|x| out.extend(x.to_le_bytes()));
                }
            }
        }
        let mut offset = 0u64;
        for t in &self.tensors {
            put_str(&mut out, &t.name);
            out.extend((t.dims.len() as u32).to_le_bytes());
            t.dims.iter().for_each(|d| out.extend(d.to_le_bytes()));
            out.extend(0u32.to_le_bytes()); // GGML_TYPE_F32
            out.extend(offset.to_le_bytes());
            offset += (t.len() * 4).div_ceil(ALIGN) * ALIGN;
        }
        let padding = |len: u64| vec![0u8; (len.div_ceil(ALIGN) * ALIGN - len) as usize];
        out.extend(padding(out.len() as u64));
        sink.write_all(&out)?;
        let mut rng = Rng(self.seed | 1);
        for t in &self.tensors {
            if let Some(values) = &t.data {
                let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                sink.write_all(&bytes)?;
                sink.write_all(&padding(t.len() * 4))?;
                continue;
            }
            let mut left = t.len();
            let mut buf = Vec::with_capacity(1 << 16);
            while left > 0 {
                let n = left.min(1 << 14);
                buf.clear();
                for _ in 0..n {
                    let v = match t.fill {
                        Fill::Const(c) => c,
                        Fill::Normal(std) => rng.normal() * std,
                    };
                    buf.extend(v.to_le_bytes());
                }
                sink.write_all(&buf)?;
                left -= n;
            }
            sink.write_all(&padding(t.len() * 4))?;
        }
        Ok(())
    }

    /// The whole file in memory (small models).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out).expect("writing to memory cannot fail");
        out
    }
}

/// A seeded xorshift generator with roughly normal samples (sum of uniforms).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn normal(&mut self) -> f32 {
        let s: f32 = (0..4).map(|_| (self.next() >> 40) as f32 / (1u64 << 24) as f32).sum();
        (s - 2.0) * (3.0f32).sqrt()
    }
}

/// Shapes of a qwen2-architecture model.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub embd: u64,
    pub layers: u64,
    pub heads: u64,
    pub kv_heads: u64,
    pub ff: u64,
    pub ctx: u32,
    /// Vocabulary size: the byte-level tokens are padded with never-merged filler tokens
    /// up to it, so the output layer and per-token sampling cost (grammars) are real.
    /// Smaller than the minimum (260) means the minimum. Grid models: 16.
    pub vocab: u64,
    /// Attention head width; 0 means `embd / heads` (qwen2). Qwen3-4B: 128.
    pub head_dim: u64,
}

/// Model presets `arcsynth dev make-model` knows.
pub fn preset(name: &str) -> Option<Shape> {
    Some(match name {
        "tiny" => Shape { embd: 64, layers: 2, heads: 4, kv_heads: 2, ff: 128, ctx: 4096, vocab: 0, head_dim: 0 },
        "qwen2.5-coder-0.5b" => {
            Shape { embd: 896, layers: 24, heads: 14, kv_heads: 2, ff: 4864, ctx: 32768, vocab: 151_936, head_dim: 0 }
        }
        "qwen2.5-coder-1.5b" => {
            Shape { embd: 1536, layers: 28, heads: 12, kv_heads: 2, ff: 8960, ctx: 32768, vocab: 151_936, head_dim: 0 }
        }
        "grid-tiny" => {
            Shape { embd: 64, layers: 2, heads: 4, kv_heads: 2, ff: 128, ctx: 8192, vocab: 16, head_dim: 16 }
        }
        "qwen3-4b-grid" => {
            Shape { embd: 2560, layers: 36, heads: 32, kv_heads: 8, ff: 9728, ctx: 40960, vocab: 16, head_dim: 128 }
        }
        _ => return None,
    })
}

pub const PRESETS: &[&str] = &["tiny", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "grid-tiny", "qwen3-4b-grid"];

/// Whether a preset is a grid-token model (qwen3, 16-token vocabulary).
pub fn is_grid_preset(name: &str) -> bool {
    name.starts_with("grid-") || name.ends_with("-grid")
}

/// Builds a random-weight grid-token model: qwen3 architecture, a 16-token vocabulary
/// with no tokenizer (`tokenizer.ggml.model = "none"`; ids 0-9 digits, 10 newline, 11
/// user, 12 assistant, 13 pad, 14 `<|im_start|>`, 15 `<|im_end|>`), embeddings of std 1
/// (with 0.02 the logits stay near uniform).
pub fn grid_model(shape: Shape, seed: u64) -> GgufWriter {
    let mut w = GgufWriter { seed, ..GgufWriter::default() };
    let (e, ff, hd) = (shape.embd, shape.ff, shape.head_dim.max(1));
    let (q, kv) = (hd * shape.heads, hd * shape.kv_heads);
    w.str("general.architecture", "qwen3");
    w.str("general.name", "arcsynth random-weight grid model");
    w.u32("general.alignment", ALIGN as u32);
    w.u32("qwen3.context_length", shape.ctx);
    w.u32("qwen3.embedding_length", e as u32);
    w.u32("qwen3.block_count", shape.layers as u32);
    w.u32("qwen3.feed_forward_length", ff as u32);
    w.u32("qwen3.attention.head_count", shape.heads as u32);
    w.u32("qwen3.attention.head_count_kv", shape.kv_heads as u32);
    w.u32("qwen3.attention.key_length", hd as u32);
    w.u32("qwen3.attention.value_length", hd as u32);
    w.f32("qwen3.attention.layer_norm_rms_epsilon", 1e-6);
    w.f32("qwen3.rope.freq_base", 1_000_000.0);
    w.u32("qwen3.vocab_size", shape.vocab as u32);
    w.str("tokenizer.ggml.model", "none");
    let std = Fill::Normal(0.08 * (64.0 / e as f32).sqrt().max(0.25));
    w.tensor("token_embd.weight", &[e, shape.vocab], Fill::Normal(1.0));
    w.tensor("output_norm.weight", &[e], Fill::Const(1.0));
    // Logits of std about 1.5: peaked enough to prefer some answers, flat enough that
    // several have probabilities a search can find.
    w.tensor("output.weight", &[e, shape.vocab], Fill::Normal(1.5 / (e as f32).sqrt()));
    for l in 0..shape.layers {
        let n = |s: &str| format!("blk.{l}.{s}");
        w.tensor(&n("attn_norm.weight"), &[e], Fill::Const(1.0));
        w.tensor(&n("attn_q.weight"), &[e, q], std);
        w.tensor(&n("attn_k.weight"), &[e, kv], std);
        w.tensor(&n("attn_v.weight"), &[e, kv], std);
        w.tensor(&n("attn_output.weight"), &[q, e], std);
        w.tensor(&n("attn_q_norm.weight"), &[hd], Fill::Const(1.0));
        w.tensor(&n("attn_k_norm.weight"), &[hd], Fill::Const(1.0));
        w.tensor(&n("ffn_norm.weight"), &[e], Fill::Const(1.0));
        w.tensor(&n("ffn_gate.weight"), &[e, ff], std);
        w.tensor(&n("ffn_up.weight"), &[e, ff], std);
        w.tensor(&n("ffn_down.weight"), &[ff, e], std);
    }
    w
}

/// GPT-2's byte-to-unicode map: printable bytes stand for themselves, the others are
/// shifted above U+0100, so every byte is one visible character in the vocabulary.
fn byte_chars() -> Vec<char> {
    let mut printable: Vec<u32> = (b'!' as u32..=b'~' as u32).chain(0xA1..=0xAC).chain(0xAE..=0xFF).collect();
    let mut map = vec!['\0'; 256];
    let mut extra = 0;
    for b in 0..256u32 {
        if printable.contains(&b) {
            map[b as usize] = char::from_u32(b).unwrap();
        } else {
            map[b as usize] = char::from_u32(256 + extra).unwrap();
            extra += 1;
        }
    }
    printable.clear();
    map
}

/// The ChatML template (the fallback format llama.cpp recognises by its markers).
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// Builds a random-weight coder-style model: byte-level vocabulary (256 byte tokens, one
/// merge, filler tokens up to `shape.vocab`, `<|endoftext|>`, `<|im_start|>`,
/// `<|im_end|>`), ChatML template.
pub fn coder_model(shape: Shape, seed: u64) -> GgufWriter {
    let mut w = GgufWriter { seed, ..GgufWriter::default() };
    let chars = byte_chars();
    let mut tokens: Vec<String> = chars.iter().map(|c| c.to_string()).collect();
    let mut types = vec![1i32; tokens.len()];
    // One merge (the GGUF loader requires the key; PyPI's writer drops empty lists).
    let space = chars[b' ' as usize];
    tokens.push(format!("{space}t"));
    types.push(1);
    let merges = vec![format!("{space} t")];
    while (tokens.len() as u64) + 3 < shape.vocab {
        tokens.push(format!("<x{}>", tokens.len()));
        types.push(1);
    }
    for special in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] {
        tokens.push(special.into());
        types.push(3); // control
    }
    let n_vocab = tokens.len() as u64;
    let eos = (n_vocab - 1) as u32;
    w.str("general.architecture", "qwen2");
    w.str("general.name", "arcsynth random-weight test model");
    w.u32("general.alignment", ALIGN as u32);
    w.u32("qwen2.context_length", shape.ctx);
    w.u32("qwen2.embedding_length", shape.embd as u32);
    w.u32("qwen2.block_count", shape.layers as u32);
    w.u32("qwen2.feed_forward_length", shape.ff as u32);
    w.u32("qwen2.attention.head_count", shape.heads as u32);
    w.u32("qwen2.attention.head_count_kv", shape.kv_heads as u32);
    w.f32("qwen2.attention.layer_norm_rms_epsilon", 1e-6);
    w.f32("qwen2.rope.freq_base", 1_000_000.0);
    w.str("tokenizer.ggml.model", "gpt2");
    w.str("tokenizer.ggml.pre", "qwen2");
    w.strs("tokenizer.ggml.tokens", tokens);
    w.i32s("tokenizer.ggml.token_type", types);
    w.strs("tokenizer.ggml.merges", merges);
    w.u32("tokenizer.ggml.bos_token_id", (n_vocab - 3) as u32);
    w.u32("tokenizer.ggml.eos_token_id", eos);
    w.u32("tokenizer.ggml.padding_token_id", (n_vocab - 3) as u32);
    w.str("tokenizer.chat_template", CHATML_TEMPLATE);

    let (e, ff) = (shape.embd, shape.ff);
    let kv = e / shape.heads * shape.kv_heads;
    // Embeddings near unit scale so random logits are not all alike; projections small.
    let std = Fill::Normal(0.08 * (64.0 / e as f32).sqrt().max(0.25));
    w.tensor("token_embd.weight", &[e, n_vocab], Fill::Normal(1.0));
    w.tensor("output_norm.weight", &[e], Fill::Const(1.0));
    w.tensor("output.weight", &[e, n_vocab], std);
    for l in 0..shape.layers {
        let n = |s: &str| format!("blk.{l}.{s}");
        w.tensor(&n("attn_norm.weight"), &[e], Fill::Const(1.0));
        w.tensor(&n("attn_q.weight"), &[e, e], std);
        w.tensor(&n("attn_q.bias"), &[e], std);
        w.tensor(&n("attn_k.weight"), &[e, kv], std);
        w.tensor(&n("attn_k.bias"), &[kv], std);
        w.tensor(&n("attn_v.weight"), &[e, kv], std);
        w.tensor(&n("attn_v.bias"), &[kv], std);
        w.tensor(&n("attn_output.weight"), &[e, e], std);
        w.tensor(&n("ffn_norm.weight"), &[e], Fill::Const(1.0));
        w.tensor(&n("ffn_gate.weight"), &[e, ff], std);
        w.tensor(&n("ffn_up.weight"), &[e, ff], std);
        w.tensor(&n("ffn_down.weight"), &[ff, e], std);
    }
    w
}

/// Writes a preset model to `path`.
pub fn make_model(preset_name: &str, path: &Path, seed: u64) -> io::Result<()> {
    let shape = preset(preset_name).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown preset {preset_name} (known: {})", PRESETS.join(", ")),
        )
    })?;
    let mut w = if is_grid_preset(preset_name) { grid_model(shape, seed) } else { coder_model(shape, seed) };
    w.str("general.name", &format!("arcsynth random-weight {preset_name}"));
    // Streamed through a temporary file and renamed, like every file arcsynth writes.
    let tmp = path.with_extension("gguf.tmp");
    let mut f = io::BufWriter::new(std::fs::File::create(&tmp)?);
    w.write_to(&mut f)?;
    f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, path)
}
