//! Checks a GGUF file's header before llama.cpp loads it.
//!
//! llama.cpp answers most bad files with an error, but asserts (aborting the process) on
//! some header values: a layer count of 0 or past its maximum, a NaN norm epsilon, head
//! counts that do not divide. This module reads the header (metadata and tensor infos,
//! never the weights) with every length bounded by the file's size, and refuses such
//! values first, so a hostile model file is a one-line error. What is checked, for the
//! model's architecture `A` (of a LoRA adapter, `general.type = adapter`, only the
//! first and last points):
//!
//! - the header parses: magic, version 2 or 3, counts and string lengths that fit the
//!   file, known value types, arrays nested at most once;
//! - `A.block_count` is 1..=512 and every `blk.N.` tensor has N below it;
//! - `A.embedding_length`, `A.context_length` and `A.feed_forward_length` (a number or
//!   one per layer) are positive, and at most 2^20;
//! - `A.attention.head_count` and `head_count_kv` (each a number or one per layer) are
//!   positive, the first a multiple of the second, and `embedding_length` a multiple
//!   of the head count unless `A.attention.key_length` gives the head size;
//! - `A.attention.layer_norm_rms_epsilon` and `layer_norm_epsilon`, when present, are
//!   finite and positive; `A.rope.freq_base` finite and positive;
//! - the vocabulary (`tokenizer.ggml.tokens`) is not empty, its tokens are distinct (a
//!   byte-level one holds the newline's byte token), `token_type` and `scores` have one
//!   entry per token, and special token ids are inside it;
//! - every tensor has 1 to 4 dimensions, none 0, and fewer than 2^62 elements.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::Path;

/// A metadata value, as far as the checks need it.
#[derive(Debug, Clone)]
enum Meta {
    Int(i128),
    Float(f64),
    Bool,
    Str(String),
    /// An array: its length, and its values when they are numbers.
    Array(u64, Vec<Meta>),
}

struct Reader<R> {
    inner: R,
    /// Bytes of the file not read yet.
    left: u64,
}

impl<R: Read> Reader<R> {
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], String> {
        if self.left < N as u64 {
            return Err("truncated header".into());
        }
        let mut b = [0u8; N];
        self.inner.read_exact(&mut b).map_err(|e| format!("cannot read the header: {e}"))?;
        self.left -= N as u64;
        Ok(b)
    }
    fn u32(&mut self) -> Result<u32, String> {
        self.bytes::<4>().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Result<u64, String> {
        self.bytes::<8>().map(u64::from_le_bytes)
    }
    /// A count of items each at least `min_bytes` long: more than the file can hold is
    /// an error, so no count makes us loop or allocate past the file's size.
    fn count(&mut self, what: &str, min_bytes: u64) -> Result<u64, String> {
        let n = self.u64()?;
        if n.saturating_mul(min_bytes.max(1)) > self.left {
            return Err(format!("{what} count {n} does not fit the file"));
        }
        Ok(n)
    }
    fn string(&mut self, keep: bool) -> Result<String, String> {
        let n = self.count("string length", 1)?;
        if !keep {
            std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink())
                .map_err(|e| format!("cannot read the header: {e}"))?;
            self.left -= n;
            return Ok(String::new());
        }
        if n > 1 << 20 {
            return Err(format!("a {n}-byte metadata string"));
        }
        let mut b = vec![0u8; n as usize];
        self.inner.read_exact(&mut b).map_err(|e| format!("cannot read the header: {e}"))?;
        self.left -= n;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }
    /// A value of type `ty`; the strings of an array are kept only with `keep_strings`.
    fn value(&mut self, ty: u32, in_array: bool, keep_strings: bool) -> Result<Meta, String> {
        Ok(match ty {
            0 => Meta::Int(self.bytes::<1>()?[0] as i128),
            1 => Meta::Int(self.bytes::<1>()?[0] as i8 as i128),
            2 => Meta::Int(u16::from_le_bytes(self.bytes()?) as i128),
            3 => Meta::Int(i16::from_le_bytes(self.bytes()?) as i128),
            4 => Meta::Int(self.u32()? as i128),
            5 => Meta::Int(i32::from_le_bytes(self.bytes()?) as i128),
            6 => Meta::Float(f32::from_le_bytes(self.bytes()?) as f64),
            7 => {
                self.bytes::<1>()?;
                Meta::Bool
            }
            8 => Meta::Str(self.string(!in_array || keep_strings)?),
            9 if !in_array => {
                let item = self.u32()?;
                let size = match item {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4..=6 => 4,
                    8 | 10..=12 => 8,
                    _ => return Err(format!("array of value type {item}")),
                };
                let n = self.count("array length", size)?;
                let keep = item != 8 || keep_strings;
                let mut values = Vec::new();
                for _ in 0..n {
                    let v = self.value(item, true, keep_strings)?;
                    if keep && (values.len() < 4096 || keep_strings) {
                        values.push(v);
                    }
                }
                Meta::Array(n, values)
            }
            10 => Meta::Int(self.u64()? as i128),
            11 => Meta::Int(self.u64()? as i64 as i128),
            12 => Meta::Float(f64::from_le_bytes(self.bytes()?)),
            _ => return Err(format!("unknown metadata value type {ty}")),
        })
    }
}

/// The parts of a GGUF header the checks read.
struct Header {
    meta: HashMap<String, Meta>,
    /// Tensor names and dimensions.
    tensors: Vec<(String, Vec<u64>)>,
}

fn read_header(path: &Path) -> Result<Header, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read the model: {e}"))?;
    let len = file.metadata().map_err(|e| format!("cannot read the model: {e}"))?.len();
    let mut r = Reader { inner: BufReader::new(file), left: len };
    if len < 4 {
        return Err("too short to be a GGUF model".into());
    }
    if &r.bytes::<4>()? != b"GGUF" {
        return Err("not a GGUF file (its first bytes are not \"GGUF\")".into());
    }
    let version = r.u32()?;
    if !(2..=3).contains(&version) {
        return Err(format!("GGUF version {version}; versions 2 and 3 are read"));
    }
    // A tensor info is at least 8 (name length) + 4 (dims) + 8 (one dim) + 4 + 8 bytes;
    // a metadata entry at least 8 (key length) + 4 (type) + 1 bytes.
    let n_tensors = r.count("tensor", 32)?;
    let n_kv = r.count("metadata entry", 13)?;
    let mut meta = HashMap::new();
    for _ in 0..n_kv {
        let key = r.string(true)?;
        let ty = r.u32()?;
        // The vocabulary is kept whole: llama.cpp asserts that its tokens are distinct.
        let value = r.value(ty, false, key == "tokenizer.ggml.tokens")?;
        meta.insert(key, value);
    }
    let mut tensors = Vec::new();
    for _ in 0..n_tensors {
        let name = r.string(true)?;
        let n_dims = r.u32()?;
        if !(1..=4).contains(&n_dims) {
            return Err(format!("tensor {name} has {n_dims} dimensions (1 to 4 are allowed)"));
        }
        let dims: Vec<u64> = (0..n_dims).map(|_| r.u64()).collect::<Result<_, _>>()?;
        let _type = r.u32()?;
        let _offset = r.u64()?;
        if dims.contains(&0) || dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d)).is_none_or(|n| n >= 1 << 62) {
            return Err(format!("tensor {name} has dimensions {dims:?}"));
        }
        tensors.push((name, dims));
    }
    Ok(Header { meta, tensors })
}

/// Checks `path`'s GGUF header as the module doc says; the error, meant to follow the
/// file's name, says which value is wrong.
pub fn check(path: &Path) -> Result<(), String> {
    let h = read_header(path)?;
    if matches!(h.meta.get("general.type"), Some(Meta::Str(t)) if t == "adapter") {
        // A LoRA adapter: tensors only, checked as it was read; the model it goes with
        // was checked when it was loaded.
        return Ok(());
    }
    let arch = match h.meta.get("general.architecture") {
        Some(Meta::Str(a)) => a.clone(),
        _ => return Err("no general.architecture in its metadata".into()),
    };
    let key = |k: &str| format!("{arch}.{k}");
    let ints = |k: &str| -> Result<Option<Vec<i128>>, String> {
        match h.meta.get(&key(k)) {
            None => Ok(None),
            Some(Meta::Int(n)) => Ok(Some(vec![*n])),
            Some(Meta::Array(n, vs))
                if *n > 0 && vs.len() as u64 == *n && vs.iter().all(|v| matches!(v, Meta::Int(_))) =>
            {
                Ok(Some(vs.iter().map(|v| if let Meta::Int(x) = v { *x } else { 0 }).collect()))
            }
            Some(_) => Err(format!("{} is not a whole number", key(k))),
        }
    };
    let positive = |k: &str, max: i128| -> Result<Option<Vec<i128>>, String> {
        let v = ints(k)?;
        if let Some(bad) = v.iter().flatten().find(|&&x| x < 1 || x > max) {
            return Err(format!("{} is {bad} (1 to {max} is allowed)", key(k)));
        }
        Ok(v)
    };
    let layers = positive("block_count", 512)?.ok_or_else(|| format!("no {} in its metadata", key("block_count")))?[0];
    let embd = positive("embedding_length", 1 << 20)?;
    positive("context_length", 1 << 24)?;
    positive("feed_forward_length", 1 << 20)?;
    let heads = positive("attention.head_count", 1 << 14)?;
    let heads_kv = positive("attention.head_count_kv", 1 << 14)?;
    let key_length = positive("attention.key_length", 1 << 16)?;
    for (k, v) in [
        ("feed_forward_length", ints("feed_forward_length")?),
        ("attention.head_count", heads.clone()),
        ("attention.head_count_kv", heads_kv.clone()),
    ] {
        if let Some(v) = v.filter(|v| v.len() > 1 && v.len() as i128 != layers) {
            return Err(format!("{} has {} entries for {layers} layers", key(k), v.len()));
        }
    }
    if let (Some(h), Some(kv)) = (&heads, &heads_kv) {
        for (i, (&a, &b)) in h.iter().cycle().zip(kv.iter().cycle()).take(h.len().max(kv.len())).enumerate() {
            if a % b != 0 {
                return Err(format!(
                    "{} ({a}) is not a multiple of {} ({b}) at layer {i}",
                    key("attention.head_count"),
                    key("attention.head_count_kv")
                ));
            }
        }
    }
    if let (Some(e), Some(h), None) = (&embd, &heads, &key_length) {
        if let Some(&bad) = h.iter().find(|&&x| e[0] % x != 0) {
            return Err(format!(
                "{} ({}) is not a multiple of {} ({bad})",
                key("embedding_length"),
                e[0],
                key("attention.head_count")
            ));
        }
    }
    for k in ["attention.layer_norm_rms_epsilon", "attention.layer_norm_epsilon", "rope.freq_base"] {
        match h.meta.get(&key(k)) {
            None => {}
            Some(Meta::Float(x)) if x.is_finite() && *x > 0.0 => {}
            Some(v) => return Err(format!("{} is {v:?} (a finite positive number is needed)", key(k))),
        }
    }
    if let Some((name, _)) = h.tensors.iter().find(|(name, _)| {
        name.strip_prefix("blk.")
            .and_then(|r| r.split('.').next())
            .and_then(|n| n.parse::<i128>().ok())
            .is_some_and(|n| n >= layers)
    }) {
        return Err(format!("tensor {name} is past the {layers} layers of {}", key("block_count")));
    }
    let vocab = match h.meta.get("tokenizer.ggml.tokens") {
        Some(Meta::Array(n, _)) if *n > 0 => Some(*n),
        Some(_) => return Err("tokenizer.ggml.tokens is empty or not a list".into()),
        None => None,
    };
    if let Some(Meta::Array(_, tokens)) = h.meta.get("tokenizer.ggml.tokens") {
        let mut seen = std::collections::HashSet::with_capacity(tokens.len());
        for (i, t) in tokens.iter().enumerate() {
            if let Meta::Str(t) = t {
                if !seen.insert(t.as_str()) {
                    return Err(format!("tokenizer.ggml.tokens has {t:?} twice (the second at {i})"));
                }
            }
        }
        // A byte-level BPE vocabulary must hold the newline's byte token.
        if matches!(h.meta.get("tokenizer.ggml.model"), Some(Meta::Str(m)) if m == "gpt2") && !seen.contains("\u{10a}")
        {
            return Err("tokenizer.ggml.tokens has no newline token (\"\u{10a}\")".into());
        }
    }
    if let Some(n) = vocab {
        for k in ["tokenizer.ggml.token_type", "tokenizer.ggml.scores"] {
            if let Some(Meta::Array(m, _)) = h.meta.get(k) {
                if *m != n {
                    return Err(format!("{k} has {m} entries for {n} tokens"));
                }
            }
        }
        for k in ["bos", "eos", "eot", "padding", "unknown", "separator"] {
            let k = format!("tokenizer.ggml.{k}_token_id");
            if let Some(Meta::Int(id)) = h.meta.get(&k) {
                if *id < 0 || *id >= n as i128 {
                    return Err(format!("{k} is {id}, outside the {n}-token vocabulary"));
                }
            }
        }
    }
    Ok(())
}
