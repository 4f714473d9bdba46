//! Per-task LoRA fine-tuning of the grid-token model, with candle on the CPU.
//!
//! A Qwen3 forward pass written with candle's differentiable primitives only (matmul,
//! broadcast arithmetic, exp, sqrt, silu, narrow, cat, gather): candle's fused `rope`,
//! `rms_norm` and `softmax_last_dim` have no backward pass and would silently drop
//! gradients. The base weights are frozen f32 tensors read from the same GGUF file
//! llama.cpp decodes; the adapter is f32 A/B pairs on the seven projections of every
//! layer. The trained adapter is written as a llama.cpp LoRA GGUF, so decoding stays in
//! llama.cpp (`TokenModel::set_adapter`); a test checks both agree on logits.

use std::path::Path;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use crate::llm::gguf::GgufWriter;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{path}: {problem}")]
    Model { path: String, problem: String },
    #[error("training failed: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// LoRA settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoraConfig {
    pub rank: usize,
    pub alpha: f64,
    /// rsLoRA: scale by alpha / sqrt(rank) instead of alpha / rank.
    pub rslora: bool,
    pub lr: f64,
    pub epochs: usize,
    pub seed: u64,
}

impl Default for LoraConfig {
    /// The published grid model's per-task settings: rank 32, lr 5e-5, 5 epochs.
    fn default() -> LoraConfig {
        LoraConfig { rank: 32, alpha: 32.0, rslora: false, lr: 5e-5, epochs: 5, seed: 0 }
    }
}

impl LoraConfig {
    /// The factor the adapter's product is multiplied by.
    pub fn scale(&self) -> f64 {
        if self.rslora {
            self.alpha / (self.rank as f64).sqrt()
        } else {
            self.alpha / self.rank as f64
        }
    }
}

/// The adapted projections, in GGUF names, and their order in [`Layer::proj`].
pub const PROJECTIONS: [&str; 7] = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hyper {
    pub embd: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub ff: usize,
    pub vocab: usize,
    pub eps: f64,
    pub rope_base: f64,
}

struct Layer {
    attn_norm: Tensor,
    q_norm: Tensor,
    k_norm: Tensor,
    ffn_norm: Tensor,
    /// Transposed weights, [in, out], in `PROJECTIONS` order.
    proj: Vec<Tensor>,
}

/// Where LoRA training runs: the first CUDA GPU in a `--features cuda` build when one
/// is present, else the CPU. `ARCSYNTH_TRAIN_DEVICE=cpu` keeps a CUDA build on the CPU.
pub fn training_device() -> Device {
    #[cfg(feature = "cuda")]
    if std::env::var("ARCSYNTH_TRAIN_DEVICE").as_deref() != Ok("cpu") {
        match Device::new_cuda(0) {
            Ok(d) => return d,
            Err(e) => tracing::warn!("no CUDA device for LoRA training ({e}); training on the CPU"),
        }
    }
    Device::Cpu
}

/// The frozen base model.
pub struct Base {
    pub hp: Hyper,
    embed: Tensor,
    out_norm: Tensor,
    /// [embd, vocab]
    lm_head_t: Tensor,
    layers: Vec<Layer>,
    device: Device,
}

/// LoRA factors, stored transposed for the forward pass: `a_t` [in, rank], `b_t`
/// [rank, out], per layer and projection.
pub struct Adapter {
    pub cfg: LoraConfig,
    a_t: Vec<Vec<Var>>,
    b_t: Vec<Vec<Var>>,
}

impl Base {
    /// Reads a qwen3 GGUF (f32 or f16 tensors) into frozen f32 tensors.
    pub fn load(path: &Path) -> Result<Base, TrainError> {
        use candle_core::quantized::gguf_file;
        let err = |problem: String| TrainError::Model { path: path.display().to_string(), problem };
        let mut f = std::fs::File::open(path).map_err(|e| err(format!("cannot read the model: {e}")))?;
        let content = gguf_file::Content::read(&mut f).map_err(|e| err(format!("not a readable GGUF file: {e}")))?;
        let md = |k: &str| content.metadata.get(k).ok_or_else(|| err(format!("no {k} in the model")));
        let arch = md("general.architecture")?.to_string().map_err(|e| err(e.to_string()))?.clone();
        if arch != "qwen3" {
            return Err(err(format!("architecture {arch}: LoRA training supports qwen3 grid models")));
        }
        let u = |k: &str| -> Result<usize, TrainError> {
            md(&format!("qwen3.{k}"))?.to_u32().map(|v| v as usize).map_err(|e| err(e.to_string()))
        };
        let fl = |k: &str| -> Result<f64, TrainError> {
            md(&format!("qwen3.{k}"))?.to_f32().map(|v| v as f64).map_err(|e| err(e.to_string()))
        };
        let (embd, heads) = (u("embedding_length")?, u("attention.head_count")?);
        let device = training_device();
        // Read and dequantized on the CPU, then moved: candle's quantized GPU storage
        // does not hold every GGUF type.
        let mut t = |name: &str| -> Result<Tensor, TrainError> {
            let q = content.tensor(&mut f, name, &Device::Cpu).map_err(|e| err(format!("tensor {name}: {e}")))?;
            Ok(q.dequantize(&Device::Cpu)?.to_dtype(DType::F32)?.to_device(&device)?)
        };
        let embed = t("token_embd.weight")?;
        let vocab = embed.dim(0)?;
        let lm_head_t = match t("output.weight") {
            Ok(w) => w.t()?.contiguous()?,
            Err(_) => embed.t()?.contiguous()?, // tied embeddings
        };
        let n_layers = u("block_count")?;
        let mut layers = Vec::with_capacity(n_layers);
        for l in 0..n_layers {
            let mut proj = Vec::with_capacity(7);
            for p in PROJECTIONS {
                proj.push(t(&format!("blk.{l}.{p}.weight"))?.t()?.contiguous()?);
            }
            layers.push(Layer {
                attn_norm: t(&format!("blk.{l}.attn_norm.weight"))?,
                q_norm: t(&format!("blk.{l}.attn_q_norm.weight"))?,
                k_norm: t(&format!("blk.{l}.attn_k_norm.weight"))?,
                ffn_norm: t(&format!("blk.{l}.ffn_norm.weight"))?,
                proj,
            });
        }
        let hp = Hyper {
            embd,
            layers: n_layers,
            heads,
            kv_heads: u("attention.head_count_kv")?,
            head_dim: u("attention.key_length").unwrap_or(embd / heads),
            ff: u("feed_forward_length")?,
            vocab,
            eps: fl("attention.layer_norm_rms_epsilon")?,
            rope_base: fl("rope.freq_base").unwrap_or(1_000_000.0),
        };
        Ok(Base { hp, embed, out_norm: t("output_norm.weight")?, lm_head_t, layers, device })
    }

    /// Where the model is held: "cpu", "cuda:N" or "metal:N".
    pub fn device_name(&self) -> String {
        match self.device.location() {
            candle_core::DeviceLocation::Cpu => "cpu".into(),
            candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
            candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
        }
    }

    /// Logits [tokens, vocab] for every position of `ids`.
    pub fn forward(&self, ids: &[u32], adapter: Option<&Adapter>) -> Result<Tensor, TrainError> {
        let hp = &self.hp;
        let n = ids.len();
        let ids_t = Tensor::from_slice(ids, n, &self.device)?;
        let mut x = self.embed.index_select(&ids_t, 0)?;
        let (cos, sin) = self.rope_tables(n)?;
        let mask = causal_mask(n, &self.device)?;
        let scale = adapter.map_or(0.0, |a| a.cfg.scale());
        for (l, layer) in self.layers.iter().enumerate() {
            let lin = |x: &Tensor, p: usize| -> Result<Tensor, TrainError> {
                let y = x.matmul(&layer.proj[p])?;
                Ok(match adapter {
                    Some(a) => (y + (x.matmul(a.a_t[l][p].as_tensor())?.matmul(a.b_t[l][p].as_tensor())? * scale)?)?,
                    None => y,
                })
            };
            let h = rms_norm(&x, &layer.attn_norm, hp.eps)?;
            let q = lin(&h, 0)?.reshape((n, hp.heads, hp.head_dim))?;
            let k = lin(&h, 1)?.reshape((n, hp.kv_heads, hp.head_dim))?;
            let v = lin(&h, 2)?.reshape((n, hp.kv_heads, hp.head_dim))?;
            let q = rope(&rms_norm(&q, &layer.q_norm, hp.eps)?, &cos, &sin)?.transpose(0, 1)?.contiguous()?;
            let k = rope(&rms_norm(&k, &layer.k_norm, hp.eps)?, &cos, &sin)?.transpose(0, 1)?.contiguous()?;
            let v = v.transpose(0, 1)?.contiguous()?;
            // Grouped-query attention: query head h reads key/value head h / n_rep.
            let rep = hp.heads / hp.kv_heads;
            let expand = |t: Tensor| -> Result<Tensor, TrainError> {
                Ok(t.unsqueeze(1)?.broadcast_as((hp.kv_heads, rep, n, hp.head_dim))?.contiguous()?.reshape((
                    hp.heads,
                    n,
                    hp.head_dim,
                ))?)
            };
            let (k, v) = (expand(k)?, expand(v)?);
            let scores = (q.matmul(&k.t()?)? * (1.0 / (hp.head_dim as f64).sqrt()))?.broadcast_add(&mask)?;
            let att = softmax_last(&scores)?.matmul(&v)?;
            let att = att.transpose(0, 1)?.contiguous()?.reshape((n, hp.heads * hp.head_dim))?;
            x = (x + lin(&att, 3)?)?;
            let h = rms_norm(&x, &layer.ffn_norm, hp.eps)?;
            let act = (candle_nn::ops::silu(&lin(&h, 4)?)? * lin(&h, 5)?)?;
            x = (x + lin(&act, 6)?)?;
        }
        Ok(rms_norm(&x, &self.out_norm, hp.eps)?.matmul(&self.lm_head_t)?)
    }

    /// Mean cross-entropy of the tokens whose `mask` is set, each predicted from the
    /// tokens before it.
    pub fn loss(&self, ids: &[u32], mask: &[bool], adapter: Option<&Adapter>) -> Result<Tensor, TrainError> {
        let n = ids.len();
        let logits = self.forward(&ids[..n - 1], adapter)?;
        let lp = log_softmax_last(&logits)?;
        let targets = Tensor::from_slice(&ids[1..], (n - 1, 1), &self.device)?;
        let picked = lp.gather(&targets, 1)?.squeeze(1)?;
        let m: Vec<f32> = mask[1..].iter().map(|&b| b as u8 as f32).collect();
        let count = m.iter().sum::<f32>().max(1.0);
        let m = Tensor::from_slice(&m, n - 1, &self.device)?;
        Ok(((picked * m)?.sum_all()? * (-1.0 / count as f64))?)
    }

    fn rope_tables(&self, n: usize) -> Result<(Tensor, Tensor), TrainError> {
        let half = self.hp.head_dim / 2;
        let mut cos = Vec::with_capacity(n * half);
        let mut sin = Vec::with_capacity(n * half);
        for p in 0..n {
            for i in 0..half {
                let theta = p as f64 * self.hp.rope_base.powf(-2.0 * i as f64 / self.hp.head_dim as f64);
                cos.push(theta.cos() as f32);
                sin.push(theta.sin() as f32);
            }
        }
        Ok((Tensor::from_vec(cos, (n, 1, half), &self.device)?, Tensor::from_vec(sin, (n, 1, half), &self.device)?))
    }
}

fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> Result<Tensor, TrainError> {
    let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
    Ok(x.broadcast_div(&(ms + eps)?.sqrt()?)?.broadcast_mul(w)?)
}

/// Rotary embedding, NEOX layout (pairs i and i + d/2), as llama.cpp applies to qwen3.
fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor, TrainError> {
    let half = x.dim(D::Minus1)? / 2;
    let (x1, x2) = (x.narrow(D::Minus1, 0, half)?, x.narrow(D::Minus1, half, half)?);
    let r1 = (x1.broadcast_mul(cos)? - x2.broadcast_mul(sin)?)?;
    let r2 = (x1.broadcast_mul(sin)? + x2.broadcast_mul(cos)?)?;
    Ok(Tensor::cat(&[r1, r2], D::Minus1)?)
}

fn causal_mask(n: usize, device: &Device) -> Result<Tensor, TrainError> {
    let m: Vec<f32> = (0..n * n).map(|i| if i % n > i / n { -1e9 } else { 0.0 }).collect();
    Ok(Tensor::from_vec(m, (n, n), device)?)
}

fn softmax_last(x: &Tensor) -> Result<Tensor, TrainError> {
    let e = x.broadcast_sub(&x.max_keepdim(D::Minus1)?)?.exp()?;
    Ok(e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?)
}

fn log_softmax_last(x: &Tensor) -> Result<Tensor, TrainError> {
    let shifted = x.broadcast_sub(&x.max_keepdim(D::Minus1)?)?;
    Ok(shifted.broadcast_sub(&shifted.exp()?.sum_keepdim(D::Minus1)?.log()?)?)
}

impl Adapter {
    /// A fresh adapter: A uniform in ±1/sqrt(in) (seeded), B zero, so it starts as the
    /// base model exactly.
    pub fn new(base: &Base, cfg: LoraConfig) -> Result<Adapter, TrainError> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
        let mut a_t = Vec::new();
        let mut b_t = Vec::new();
        for layer in &base.layers {
            let (mut la, mut lb) = (Vec::new(), Vec::new());
            for w in &layer.proj {
                let (d_in, d_out) = w.dims2()?;
                let bound = 1.0 / (d_in as f32).sqrt();
                let a: Vec<f32> = (0..d_in * cfg.rank).map(|_| rng.gen_range(-bound..bound)).collect();
                la.push(Var::from_tensor(&Tensor::from_vec(a, (d_in, cfg.rank), &base.device)?)?);
                lb.push(Var::zeros((cfg.rank, d_out), DType::F32, &base.device)?);
            }
            a_t.push(la);
            b_t.push(lb);
        }
        Ok(Adapter { cfg, a_t, b_t })
    }

    fn vars(&self) -> Vec<Var> {
        self.a_t.iter().chain(&self.b_t).flatten().cloned().collect()
    }

    /// Sets every B entry to a seeded random value of std `std` (tests: an adapter that
    /// changes the model without training).
    pub fn randomise_b(&mut self, std: f32, seed: u64) -> Result<(), TrainError> {
        use rand::SeedableRng;
        use rand_distr::{Distribution, Normal};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let normal = Normal::new(0.0f32, std).expect("a valid std");
        for b in self.b_t.iter().flatten() {
            let (r, o) = b.as_tensor().dims2()?;
            let v: Vec<f32> = (0..r * o).map(|_| normal.sample(&mut rng)).collect();
            b.set(&Tensor::from_vec(v, (r, o), b.as_tensor().device())?)?;
        }
        Ok(())
    }

    /// Writes the adapter as a llama.cpp LoRA GGUF: `blk.N.<proj>.weight.lora_a` with
    /// dims [in, rank] and `.lora_b` [rank, out] (GGUF order), `adapter.lora.alpha`
    /// chosen so that llama.cpp's alpha / rank equals this adapter's scale.
    pub fn write_gguf(&self, path: &Path) -> Result<(), TrainError> {
        let mut w = GgufWriter::default();
        w.str("general.architecture", "qwen3");
        w.str("general.type", "adapter");
        w.str("adapter.type", "lora");
        w.f32("adapter.lora.alpha", (self.cfg.scale() * self.cfg.rank as f64) as f32);
        for (l, (la, lb)) in self.a_t.iter().zip(&self.b_t).enumerate() {
            for (p, (a, b)) in PROJECTIONS.iter().zip(la.iter().zip(lb)) {
                let (d_in, r) = a.as_tensor().dims2()?;
                let d_out = b.as_tensor().dim(1)?;
                // Row-major A [rank, in] is GGUF [in, rank]; row-major B [out, rank] is GGUF [rank, out].
                let a_rows: Vec<f32> = a.as_tensor().t()?.contiguous()?.flatten_all()?.to_vec1()?;
                let b_rows: Vec<f32> = b.as_tensor().t()?.contiguous()?.flatten_all()?.to_vec1()?;
                w.tensor_values(&format!("blk.{l}.{p}.weight.lora_a"), &[d_in as u64, r as u64], a_rows);
                w.tensor_values(&format!("blk.{l}.{p}.weight.lora_b"), &[r as u64, d_out as u64], b_rows);
            }
        }
        crate::fsio::write_atomic(path, &w.to_bytes())?;
        Ok(())
    }
}

/// Trains `adapter` on the sequences (tokens, loss mask) for `adapter.cfg.epochs`
/// epochs with AdamW, one sequence per step. Returns the mean loss of each epoch,
/// measured during it, then the mean loss after the last step.
pub fn train(
    base: &Base,
    adapter: &Adapter,
    sequences: &[(Vec<u32>, Vec<bool>)],
    mut on_step: impl FnMut(usize, f32),
) -> Result<Vec<f32>, TrainError> {
    let params = ParamsAdamW { lr: adapter.cfg.lr, weight_decay: 0.0, ..ParamsAdamW::default() };
    let mut opt = AdamW::new(adapter.vars(), params)?;
    let mut losses = Vec::new();
    let mut step = 0;
    for _ in 0..adapter.cfg.epochs {
        let mut sum = 0.0;
        for (ids, mask) in sequences {
            let loss = base.loss(ids, mask, Some(adapter))?;
            opt.backward_step(&loss)?;
            let l = loss.to_scalar::<f32>()?;
            sum += l;
            step += 1;
            on_step(step, l);
        }
        losses.push(sum / sequences.len().max(1) as f32);
    }
    Ok(losses)
}

/// The mean loss of the sequences under `adapter` (no training).
pub fn mean_loss(
    base: &Base,
    adapter: Option<&Adapter>,
    sequences: &[(Vec<u32>, Vec<bool>)],
) -> Result<f32, TrainError> {
    let mut sum = 0.0;
    for (ids, mask) in sequences {
        sum += base.loss(ids, mask, adapter)?.to_scalar::<f32>()?;
    }
    Ok(sum / sequences.len().max(1) as f32)
}

/// Gradient check: for `n` adapter entries (A and B of the first layer's projections),
/// the analytic derivative of the loss and a central finite difference. Used by tests to
/// prove that no op on the path drops gradients.
pub fn check_gradients(
    base: &Base,
    adapter: &Adapter,
    ids: &[u32],
    mask: &[bool],
    n: usize,
) -> Result<Vec<(f64, f64)>, TrainError> {
    let loss = base.loss(ids, mask, Some(adapter))?;
    let grads = loss.backward()?;
    let mut out = Vec::new();
    let h = 1e-2f64;
    for k in 0..n {
        // Alternate A and B factors of different projections.
        let var = if k % 2 == 0 { &adapter.a_t[0][k / 2 % 7] } else { &adapter.b_t[0][k / 2 % 7] };
        let t = var.as_tensor();
        let (rows, cols) = t.dims2()?;
        let (r, c) = ((k * 7 + 1) % rows, (k * 3 + 2) % cols);
        let g = grads
            .get(t)
            .map(|g| g.get(r).and_then(|row| row.get(c)).and_then(|x| x.to_scalar::<f32>()))
            .transpose()?
            .unwrap_or(0.0) as f64;
        let original: Vec<f32> = t.flatten_all()?.to_vec1()?;
        let at = |delta: f64| -> Result<f64, TrainError> {
            let mut v = original.clone();
            v[r * cols + c] += delta as f32;
            var.set(&Tensor::from_vec(v, (rows, cols), t.device())?)?;
            Ok(base.loss(ids, mask, Some(adapter))?.to_scalar::<f32>()? as f64)
        };
        let numeric = (at(h)? - at(-h)?) / (2.0 * h);
        var.set(&Tensor::from_vec(original, (rows, cols), t.device())?)?;
        out.push((g, numeric));
    }
    Ok(out)
}

/// How a task's adapter is trained.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainConfig {
    pub lora: LoraConfig,
    /// Augmented views of the task trained on.
    pub views: usize,
    /// Pair orders per view (each a training sequence).
    pub orders: usize,
}

/// What training did on one task.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainStats {
    pub sequences: usize,
    pub steps: usize,
    pub loss_before: f32,
    pub loss_after: f32,
    pub seconds: f64,
    pub seconds_per_step: f64,
    /// Where training ran: "cpu" or "cuda:N" (empty in runs from before it was recorded).
    #[serde(default)]
    pub device: String,
}

/// Trains a fresh adapter per task on the task's own training pairs.
pub struct Trainer {
    pub base: Base,
    pub cfg: TrainConfig,
    pub format: super::format::Format,
}

impl Trainer {
    /// The training sequences of a task: each view's pairs in `orders` orders, with
    /// the loss on output grids and their closing `<|im_end|>` only.
    pub fn sequences(&self, task: &crate::task::Task, seed: u64) -> Vec<(Vec<u32>, Vec<bool>)> {
        let mut out = Vec::new();
        for v in super::augment::views(task, self.cfg.views.max(1), seed) {
            let t = v.apply_task(task);
            for order in super::augment::pair_orders(t.train.len(), self.cfg.orders.max(1), seed) {
                let pairs: Vec<_> = order.iter().map(|&i| (&t.train[i].input, &t.train[i].output)).collect();
                out.push(self.format.sequence(&pairs));
            }
        }
        out
    }

    /// Trains an adapter for `task` from scratch (the adapter is reset for every task)
    /// and writes it to `path`.
    pub fn adapt(
        &self,
        task: &crate::task::Task,
        seed: u64,
        path: &Path,
        mut on_step: impl FnMut(usize, usize),
    ) -> Result<TrainStats, TrainError> {
        let start = std::time::Instant::now();
        let sequences = self.sequences(task, seed);
        let adapter = Adapter::new(&self.base, LoraConfig { seed, ..self.cfg.lora })?;
        let before = mean_loss(&self.base, None, &sequences)?;
        let total = sequences.len() * self.cfg.lora.epochs;
        let epochs = train(&self.base, &adapter, &sequences, |step, _| on_step(step, total))?;
        adapter.write_gguf(path)?;
        let seconds = start.elapsed().as_secs_f64();
        Ok(TrainStats {
            sequences: sequences.len(),
            steps: total,
            loss_before: before,
            loss_after: epochs.last().copied().unwrap_or(before),
            seconds,
            seconds_per_step: seconds / total.max(1) as f64,
            device: self.base.device_name(),
        })
    }
}
