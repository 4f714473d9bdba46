//! Command-line interface. **Invariant:** only this module knows about clap, terminals,
//! exit codes and progress output; everything below it returns typed results.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::prompt::{Prompter, Templates};
use crate::render::{self, Style};
use crate::sandbox::{Limits, Sandbox};
use crate::task::{self, TaskSet};

/// Exit codes shared by every command.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// The command ran, but the answer is "no" (e.g. a program got an output wrong).
    pub const FAILED: i32 = 1;
    /// Bad usage or unreadable input.
    pub const USAGE: i32 = 2;
}

#[derive(Parser, Debug)]
#[command(
    name = "arcsynth",
    version,
    about = "Solve ARC-AGI tasks by searching for programs in a grid DSL",
    long_about = "Solve ARC-AGI tasks by searching for programs in a grid DSL.\n\n\
        Tasks are ARC JSON files: a directory of <task_id>.json files, one task file, \
        or Kaggle's *_challenges.json (with *_solutions.json beside it for scoring)."
)]
pub struct Cli {
    /// More log output (-v: info, -vv: debug, -vvv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Score a Kaggle-format submission.json against tasks with known test outputs.
    Score(ScoreArgs),
    /// Show a task's pairs as coloured grids (plain digits when piped or with --plain).
    Show(ShowArgs),
    /// Search for programs that solve tasks; writes submission.json, programs.jsonl,
    /// completions.jsonl and report.json to --out. Rerunning the same command resumes
    /// where it stopped.
    Search(Box<SearchArgs>),
    /// Run a DSL program on a task's pairs: exit 0 if every known output matches, 1 if not.
    Run(RunArgs),
    /// Predict test outputs directly with a grid-token model (transduction): a LoRA
    /// adapter trained per task on its augmented training pairs, then depth-first search
    /// decoding under augmented views, answers voted across views. Writes the same run
    /// directory as `search`.
    Ttt(TttArgs),
    /// DSL coverage of verified programs: primitive usage, unused primitives, tasks
    /// covered by source, program lengths, primitives that never appear without
    /// another, stale programs. Every program is re-run on its task first.
    Coverage(CoverageArgs),
    /// The program library: merge and re-verify programs.jsonl files, export them.
    #[command(subcommand)]
    Library(LibraryCommand),
    /// Join run directories (e.g. the shards of `search --shard K/N` run on several
    /// machines) into one: results, completions, submission, programs and report.
    /// Refuses tasks outside the task set, tasks found in two runs, and an --out that
    /// already holds results.
    Merge(MergeArgs),
    /// Write a run directory's HTML report (RUN_DIR/report.html): every task's pairs as
    /// coloured grids, its attempts (green/red when the answer is known), its programs.
    Report(ReportArgs),
    /// The DSL: `arcsynth dsl docs` prints the primitive reference (Markdown).
    #[command(subcommand)]
    Dsl(DslCommand),
    /// Developer tools: test models, raw generation.
    #[command(subcommand)]
    Dev(DevCommand),
}

#[derive(Subcommand, Debug)]
enum DevCommand {
    /// Write a random-weight GGUF model for tests and throughput benchmarks: coder
    /// models (qwen2 architecture, byte-level vocabulary, ChatML template) or grid-token
    /// models (qwen3 architecture, 16-token vocabulary, no tokenizer).
    MakeModel {
        /// Coder: tiny (~0.5 MB), qwen2.5-coder-0.5b, qwen2.5-coder-1.5b (real shapes,
        /// f32). Grid: grid-tiny (~0.3 MB), qwen3-4b-grid (Qwen3-4B's shapes, f32, 16 GB).
        #[arg(long, default_value = "tiny")]
        preset: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Seed of the random weights.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Generate completions for one user message with a GGUF model (llama.cpp).
    Generate(Box<GenerateArgs>),
    /// Print the first-round conversation `search` sends the LLM for a task (system
    /// message with the DSL reference and worked examples, then the task), as is.
    Prompt {
        /// A task JSON file.
        #[arg(long, value_name = "FILE")]
        task: PathBuf,
        #[command(flatten)]
        prompt: PromptArgs,
    },
}

/// `x > 0` (false for NaN).
fn positive<T: PartialOrd + Default>(x: T) -> bool {
    x > T::default()
}

/// A clap parser for a time budget in seconds: positive, at most a year (so that no
/// budget overflows a deadline).
fn seconds(s: &str) -> std::result::Result<Duration, String> {
    let x: f64 = s.trim().parse().map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !positive(x) {
        return Err(format!("`{s}`: must be a positive number of seconds"));
    }
    Duration::try_from_secs_f64(x)
        .ok()
        .filter(|d| *d <= Duration::from_secs(365 * 86_400))
        .ok_or_else(|| format!("`{s}`: at most a year (31536000 seconds)"))
}

/// A clap parser for `--shard K/N`.
fn shard(s: &str) -> std::result::Result<(usize, usize), String> {
    let parsed =
        s.split_once('/').and_then(|(k, n)| Some((k.trim().parse::<usize>().ok()?, n.trim().parse::<usize>().ok()?)));
    match parsed {
        Some((k, n)) if (1..=n).contains(&k) && n <= 10_000 => Ok((k, n)),
        _ => Err(format!("`{s}`: expected K/N with 1 <= K <= N, e.g. 1/4")),
    }
}

/// What goes into the LLM's prompts, shared by `search` and `dev prompt`.
#[derive(Args, Debug)]
struct PromptArgs {
    /// Worked examples per prompt.
    #[arg(long, default_value_t = 3)]
    examples: usize,
    /// How worked examples are chosen: `fit` (by what each program does on the task's
    /// training inputs, never one that already solves them) or `features` (by the
    /// task's shape relation and colour changes alone).
    #[arg(long, default_value = "fit", value_parser = ["fit", "features"])]
    example_ranking: String,
    /// Worked examples from this library (a run's programs.jsonl or directory, the
    /// output of `arcsynth library merge`, or .rhai files) instead of the built-in
    /// reference solutions.
    #[arg(long, value_name = "PATH")]
    library: Option<PathBuf>,
    /// Prompt templates from this directory instead of the built-in prompts/.
    #[arg(long, value_name = "DIR")]
    prompts: Option<PathBuf>,
}

impl PromptArgs {
    fn prompter(&self) -> Result<Prompter> {
        let templates = match &self.prompts {
            Some(dir) => Templates::load(dir)?,
            None => Templates::builtin(),
        };
        let library = crate::library::worked_examples(self.library.as_deref())?;
        Ok(Prompter { rank_by_fit: self.example_ranking == "fit", ..Prompter::new(templates, library, self.examples) })
    }
}

/// Which LLM answers, shared by `search` and `dev generate`.
#[derive(Args, Debug)]
struct BackendArgs {
    /// `llama` (in-process llama.cpp; --model is a GGUF file), `openai` (an
    /// OpenAI-compatible server at --endpoint; --model is the served model's name) or
    /// `replay` (completions recorded in --completions). Default: replay with
    /// --completions, else llama.
    #[arg(long, value_parser = ["llama", "openai", "replay"])]
    backend: Option<String>,
    /// The coder model: a GGUF file (llama) or the served model's name (openai).
    #[arg(long, value_name = "GGUF|NAME")]
    model: Option<String>,
    /// Server base URL for --backend openai, e.g. http://127.0.0.1:8000/v1.
    #[arg(long)]
    endpoint: Option<String>,
    /// Environment variable holding the API key for --backend openai.
    #[arg(long, value_name = "VAR")]
    api_key_env: Option<String>,
    /// Requests in flight at once (--backend openai).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// A completions.jsonl to replay (--backend replay).
    #[arg(long, value_name = "FILE")]
    completions: Option<PathBuf>,
    /// Qwen3 thinking mode (on|off). Off by default; <think> blocks are always removed
    /// from completions.
    #[arg(long, default_value = "off", value_parser = ["on", "off"])]
    thinking: String,
    /// Layers to offload to the GPU (CUDA/Metal/Vulkan builds).
    #[arg(long, default_value_t = 0)]
    gpu_layers: u32,
    /// Context size (default: the model's, at most 32768).
    #[arg(long)]
    ctx: Option<u32>,
    /// CPU threads for llama.cpp (default: the cores other work leaves free at start,
    /// all of them on an idle machine; more than the cores are clamped to them with a
    /// warning).
    #[arg(long)]
    threads: Option<i32>,
}

impl BackendArgs {
    fn kind(&self) -> &str {
        match (&self.backend, &self.completions) {
            (Some(b), _) => b,
            (None, Some(_)) => "replay",
            (None, None) => "llama",
        }
    }

    /// Whether any backend was asked for.
    fn given(&self) -> bool {
        self.backend.is_some() || self.model.is_some() || self.completions.is_some()
    }

    fn open(&self) -> Result<Box<dyn crate::llm::Backend>> {
        use crate::llm::{openai, replay};
        Ok(match self.kind() {
            "replay" => {
                let path = self
                    .completions
                    .as_ref()
                    .context("--backend replay needs --completions FILE (a run's completions.jsonl)")?;
                Box::new(replay::Replay::open(path)?)
            }
            "openai" => {
                let endpoint = self
                    .endpoint
                    .clone()
                    .context("--backend openai needs --endpoint URL (e.g. http://127.0.0.1:8000/v1)")?;
                let model =
                    self.model.clone().context("--backend openai needs --model NAME (the served model's name)")?;
                let api_key = match &self.api_key_env {
                    Some(var) => Some(
                        std::env::var(var).with_context(|| format!("--api-key-env {var}: the variable is not set"))?,
                    ),
                    None => None,
                };
                let opts = openai::OpenAiOptions {
                    endpoint,
                    model,
                    api_key,
                    concurrency: self.concurrency,
                    ..Default::default()
                };
                Box::new(openai::OpenAi::new(opts)?)
            }
            _ => llama_backend(self)?,
        })
    }
}

#[derive(Args, Debug)]
struct GenerateArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// The user message.
    #[arg(long)]
    prompt: String,
    /// Number of completions, sampled in parallel from one decoded prompt.
    #[arg(short, long, default_value_t = 1)]
    n: usize,
    #[arg(long, default_value_t = 128)]
    max_tokens: usize,
    #[arg(long, default_value_t = 0.7)]
    temperature: f32,
    #[arg(long, default_value_t = 0)]
    seed: u32,
    /// Stop strings (repeatable).
    #[arg(long)]
    stop: Vec<String>,
    /// A GBNF grammar file every completion must match.
    #[arg(long, value_name = "FILE")]
    grammar: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Program sources, for `coverage` and `library`: `reference` (the built-in solutions),
/// a programs.jsonl or library file, a run directory, a .rhai file (named TASK_ID.rhai)
/// or a directory of them.
const PROGRAM_SOURCES: &str =
    "reference, a programs.jsonl or library .jsonl, a run directory, TASK_ID.rhai, or a directory of .rhai files";

#[derive(Args, Debug)]
struct CoverageArgs {
    /// Programs to cover (repeatable): reference, a programs.jsonl or library .jsonl, a
    /// run directory, TASK_ID.rhai, or a directory of .rhai files. Default: reference.
    #[arg(long, value_name = "PATH")]
    programs: Vec<PathBuf>,
    #[command(flatten)]
    source: TaskSource,
    #[arg(long, default_value = "text", value_parser = ["text", "md", "json", "html"])]
    format: String,
    /// Write the report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum LibraryCommand {
    /// Merge program sources into one library: every program is re-run on its task
    /// (stale ones and unknown tasks are dropped), then one is kept per task and
    /// behaviour (outputs on all the task's inputs) or normalised text, the shortest,
    /// with its provenance (source model, run, date).
    Merge {
        /// The library to write (JSON Lines; usable as `search --library`).
        out: PathBuf,
        /// Program sources: reference, a programs.jsonl or library .jsonl, a run
        /// directory, TASK_ID.rhai, or a directory of .rhai files.
        #[arg(required = true, value_name = "IN")]
        inputs: Vec<PathBuf>,
        #[command(flatten)]
        source: TaskSource,
    },
    /// Export a library (or any program source) as one readable file.
    Export {
        /// The library: a .jsonl file, a run directory, reference, .rhai files.
        library: PathBuf,
        /// `rhai`: every program under a comment naming its task and provenance.
        #[arg(long, default_value = "rhai", value_parser = ["rhai"])]
        format: String,
        /// Write to FILE instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
struct ReportArgs {
    /// The run directory (`search --out`).
    run: PathBuf,
    /// The tasks (default: the task source recorded in RUN_DIR/run.json).
    #[arg(long, value_name = "PATH")]
    tasks: Option<PathBuf>,
    /// Where to write the page (default: RUN_DIR/report.html).
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Open the page in the default browser.
    #[arg(long)]
    open: bool,
}

#[derive(Subcommand, Debug)]
enum DslCommand {
    /// Print the reference of every DSL primitive, generated from their registrations.
    Docs,
}

#[derive(Args, Debug)]
struct SearchArgs {
    #[command(flatten)]
    source: TaskSource,
    /// Run directory (created if missing; finished tasks in it are skipped).
    #[arg(long, default_value = "runs/search")]
    out: PathBuf,
    /// Search in a run directory that holds a run over another task source.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    backend: BackendArgs,
    /// Proposers, in order; a later one runs only on tasks the earlier left unsolved:
    /// `enum` (model-free enumeration of DSL compositions) and `llm`. Default: enum,llm
    /// when a model or completions are given, else enum.
    #[arg(long, value_delimiter = ',')]
    proposer: Option<Vec<String>>,
    /// Enumerator time budget per task, in seconds.
    #[arg(long, default_value = "10", value_parser = seconds)]
    time_per_task: Duration,
    /// Enumerator depth: how many transforms a program may compose.
    #[arg(long, default_value_t = 3)]
    depth: usize,
    /// Enumerator: do not learn local rewrite rules (cell -> colour tables keyed by the
    /// cell's surroundings) from same-shape training pairs.
    #[arg(long)]
    no_rules: bool,
    /// LLM completions per round.
    #[arg(long, default_value_t = 32)]
    samples: usize,
    /// LLM completions per request, sampled in parallel from one decoded prompt.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Refinement rounds while a task is unsolved (each of --samples completions).
    #[arg(long, default_value_t = 2)]
    refine_rounds: usize,
    /// Longest completion, in tokens.
    #[arg(long, default_value_t = 768)]
    max_tokens: usize,
    /// Sampling temperature (default: Qwen's recommendation, 0.7; 0.6 with --thinking on).
    #[arg(long)]
    temperature: Option<f32>,
    /// Sampling temperature of refinement requests (at 0.7 the 1.5B model mostly
    /// rewrote the program it was shown).
    #[arg(long, default_value_t = 1.0)]
    refine_temperature: f32,
    #[arg(long, default_value_t = 0)]
    seed: u32,
    /// Seconds of LLM search per task: no request is sent and no program run starts
    /// after them, so a task ends within them plus one run's deadline and the request
    /// in flight.
    #[arg(long, default_value = "600", value_parser = seconds)]
    task_timeout: Duration,
    /// Stop a task once this many distinct programs solve its training pairs.
    #[arg(long, default_value_t = 100)]
    enough: usize,
    #[command(flatten)]
    prompt: PromptArgs,
    /// A GBNF grammar every completion must match.
    #[arg(long, value_name = "FILE")]
    grammar: Option<PathBuf>,
    /// How answers start: `code-first` opens a ```rhai block for the model, whose first
    /// line is a comment (the model states the rule there, then writes the program), and
    /// stops when the block closes: no answer without a program, no prose after it.
    /// `free`: the model writes its answer as it likes (prose, then a code block).
    #[arg(long, default_value = "code-first", value_parser = ["code-first", "free"])]
    answer: String,
    /// Compile programs as the model wrote them, without mending Rust habits (`let mut`,
    /// types, `.clone()`, ...): for measuring what the mending does.
    #[arg(long)]
    no_mend: bool,
    /// Stop after this many tasks (in task-id order).
    #[arg(long)]
    max_tasks: Option<usize>,
    /// Search only shard K of N (1-based), a split of the task ids that every machine
    /// computes alike: N machines each run one shard into their own --out, and
    /// `arcsynth merge` joins the run directories.
    #[arg(long, value_name = "K/N", value_parser = shard)]
    shard: Option<(usize, usize)>,
    /// A grid-token model (GGUF) for the tasks no program solves: its answers replace
    /// their attempts (`answer_source: ttt`).
    #[arg(long, value_name = "GGUF")]
    ttt_model: Option<PathBuf>,
    #[command(flatten)]
    ttt: TttModelArgs,
}

/// How the grid-token model is trained per task and searched, shared by `ttt` and
/// `search --ttt-model`.
#[derive(Args, Debug)]
struct TttModelArgs {
    /// Augmented views (dihedral transforms x background-keeping colour permutations)
    /// searched per test input.
    #[arg(long, default_value_t = 8)]
    views: usize,
    /// Views every candidate answer is re-scored under.
    #[arg(long, default_value_t = 8)]
    score_views: usize,
    /// Depth-first search keeps answers at least this probable (per view).
    #[arg(long, default_value_t = 0.2)]
    min_prob: f64,
    /// Model calls per search, at most (a guard for flat distributions).
    #[arg(long, default_value_t = 20_000)]
    max_calls: usize,
    /// Answers also sampled per view, beside the search (the published recipe: 3).
    #[arg(long, default_value_t = 0)]
    ttt_samples: usize,
    /// Temperature of those samples.
    #[arg(long, default_value_t = 0.5)]
    ttt_temperature: f64,
    /// Pair layout: `published` (<|im_start|>user\n...<|im_end|>) or `no-im-start`.
    #[arg(long = "grid-format", default_value = "published", value_parser = ["published", "no-im-start"])]
    grid_format: String,
    /// Context size of the grid model (default: the model's, at most 32768).
    #[arg(long = "grid-ctx")]
    grid_ctx: Option<u32>,
    /// Per-task LoRA training epochs over the task's augmented training pairs; 0 uses
    /// the model as given.
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// LoRA rank.
    #[arg(long, default_value_t = 32)]
    rank: usize,
    /// LoRA alpha: the adapter is scaled by alpha / rank (alpha / sqrt(rank) with --rslora).
    #[arg(long, default_value_t = 32.0)]
    alpha: f64,
    #[arg(long)]
    rslora: bool,
    /// AdamW learning rate.
    #[arg(long, default_value_t = 5e-5)]
    lr: f64,
    /// Augmented views of the task trained on.
    #[arg(long, default_value_t = 8)]
    train_views: usize,
    /// Pair orders per trained view (each one training sequence).
    #[arg(long, default_value_t = 1)]
    orders: usize,
}

impl TttModelArgs {
    /// The per-task trainer (reads the model's weights a second time, into candle), or
    /// `None` with --epochs 0.
    fn trainer(&self, model: &Path, seed: u64) -> Result<Option<crate::ttt::lora::Trainer>> {
        use crate::ttt::lora::{Base, LoraConfig, TrainConfig, Trainer};
        if self.epochs == 0 {
            return Ok(None);
        }
        if self.rank == 0 || self.train_views == 0 || self.orders == 0 || !positive(self.lr) || !positive(self.alpha) {
            bail!("--rank, --train-views, --orders, --lr and --alpha must be positive");
        }
        let base = Base::load(model)?;
        let lora = LoraConfig {
            rank: self.rank,
            alpha: self.alpha,
            rslora: self.rslora,
            lr: self.lr,
            epochs: self.epochs,
            seed,
        };
        let format = crate::ttt::format::Format::parse(&self.grid_format).expect("clap checked it");
        Ok(Some(Trainer { base, cfg: TrainConfig { lora, views: self.train_views, orders: self.orders }, format }))
    }

    fn config(&self, seed: u64) -> Result<crate::ttt::TttConfig> {
        if !(self.min_prob > 0.0 && self.min_prob <= 1.0) {
            bail!("--min-prob must be in (0, 1]");
        }
        if self.views == 0 || self.score_views == 0 || self.max_calls == 0 {
            bail!("--views, --score-views and --max-calls must be at least 1");
        }
        if !(self.ttt_temperature > 0.0 && self.ttt_temperature.is_finite()) {
            bail!("--ttt-temperature must be a positive number");
        }
        Ok(crate::ttt::TttConfig {
            format: crate::ttt::format::Format::parse(&self.grid_format).expect("clap checked it"),
            views: self.views,
            score_views: self.score_views,
            dfs: crate::ttt::dfs::DfsConfig {
                min_prob: self.min_prob,
                max_calls: self.max_calls,
                ..Default::default()
            },
            samples: self.ttt_samples,
            temperature: self.ttt_temperature,
            seed,
            ..Default::default()
        })
    }
}

#[derive(Args, Debug)]
struct TttArgs {
    #[command(flatten)]
    source: TaskSource,
    /// The grid-token model (GGUF, 16-token vocabulary).
    #[arg(long, value_name = "GGUF")]
    model: PathBuf,
    /// Run directory (created if missing; finished tasks in it are skipped).
    #[arg(long, default_value = "runs/ttt")]
    out: PathBuf,
    /// Search in a run directory that holds a run over another task source.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    ttt: TttModelArgs,
    /// Layers to offload to the GPU (CUDA/Metal/Vulkan builds).
    #[arg(long, default_value_t = 0)]
    gpu_layers: u32,
    /// CPU threads for llama.cpp (default: the cores other work leaves free at start,
    /// all of them on an idle machine; more than the cores are clamped to them with a
    /// warning).
    #[arg(long)]
    threads: Option<i32>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Stop after this many tasks (in task-id order).
    #[arg(long)]
    max_tasks: Option<usize>,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The Rhai program (defines `fn solve(g)`).
    program: PathBuf,
    /// Task id to run on.
    #[arg(long)]
    task: String,
    #[command(flatten)]
    source: TaskSource,
    /// Digits instead of colours.
    #[arg(long)]
    plain: bool,
    /// Wall-clock limit per run, in milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    timeout_ms: u64,
}

#[derive(Args, Debug)]
struct MergeArgs {
    /// The run directories to join.
    #[arg(required = true, value_name = "RUN_DIR")]
    runs: Vec<PathBuf>,
    /// The new run directory.
    #[arg(long)]
    out: PathBuf,
    /// The task set (default: the one the first run's run.json names).
    #[arg(long, value_name = "PATH")]
    tasks: Option<PathBuf>,
}

/// Where tasks come from; shared by every command that reads tasks.
#[derive(Args, Debug)]
struct TaskSource {
    /// Task directory, single task file, or Kaggle *_challenges.json. Files are read only
    /// if they are regular files of at most 32 MiB; a task with over 100 training pairs
    /// or test inputs is skipped.
    #[arg(long, value_name = "PATH", env = "ARCSYNTH_TASKS")]
    tasks: PathBuf,
    /// Fail on the first bad task instead of skipping it with a warning.
    #[arg(long)]
    strict: bool,
}

impl TaskSource {
    /// The tasks in task-id order, the first `max` of them when given (`--max-tasks`).
    fn load_first(&self, max: Option<usize>) -> Result<Vec<crate::task::Task>> {
        let mut tasks = self.load()?.tasks;
        tasks.sort_by(|x, y| x.id.cmp(&y.id));
        tasks.truncate(max.unwrap_or(usize::MAX));
        Ok(tasks)
    }

    fn load(&self) -> Result<TaskSet> {
        let set = task::load(&self.tasks)?;
        for e in &set.skipped {
            tracing::warn!("skipped bad task: {e}");
        }
        if self.strict {
            return Ok(set.strict()?);
        }
        if !set.skipped.is_empty() {
            tracing::warn!(
                "loaded {} tasks from {}, skipped {} bad ones (--strict makes them fatal)",
                set.tasks.len(),
                self.tasks.display(),
                set.skipped.len()
            );
        } else {
            tracing::info!("loaded {} tasks from {}", set.tasks.len(), self.tasks.display());
        }
        if set.tasks.is_empty() {
            bail!("{}: no valid tasks found", self.tasks.display());
        }
        Ok(set)
    }
}

#[derive(Args, Debug)]
struct ScoreArgs {
    /// The submission.json to score.
    submission: PathBuf,
    #[command(flatten)]
    source: TaskSource,
    /// Print one JSON object: {"total", "max", "tasks": {id: score}, "missing": [...]}.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ShowArgs {
    /// Task id (the file stem). Omit it with --list.
    #[arg(required_unless_present = "list")]
    task: Option<String>,
    #[command(flatten)]
    source: TaskSource,
    /// Digits instead of colours (also when NO_COLOR is set or stdout is not a terminal).
    #[arg(long)]
    plain: bool,
    /// List the task ids found, one per line.
    #[arg(long)]
    list: bool,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { exit::USAGE } else { exit::OK };
        }
    };
    init_logging(cli.verbose, cli.quiet);
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("arcsynth: error: {e:#}");
            exit::USAGE
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let level = match (quiet, verbose) {
        (true, _) => "error",
        // llama.cpp warns on every load of some official models (Qwen2.5-Coder's
        // "control-looking token ... probably a bug in the model"): its warnings show
        // from -v on.
        (false, 0) => "warn,llama-cpp-2=error",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_ansi(render::style_for_stderr() == Style::Colour)
        .try_init();
}

fn run(command: Command) -> Result<i32> {
    match command {
        Command::Score(a) => score(a),
        Command::Show(a) => show(a),
        Command::Run(a) => run_program(a),
        Command::Ttt(a) => ttt(a),
        Command::Search(a) => search(*a),
        Command::Dev(DevCommand::MakeModel { preset, out, seed }) => {
            crate::llm::gguf::make_model(&preset, &out, seed)
                .with_context(|| format!("{}: cannot write the model", out.display()))?;
            println!("wrote {} ({} bytes)", out.display(), std::fs::metadata(&out)?.len());
            Ok(exit::OK)
        }
        Command::Dev(DevCommand::Generate(a)) => generate(*a),
        Command::Dev(DevCommand::Prompt { task, prompt }) => {
            let mut set = crate::task::load(&task)?.strict()?;
            if set.tasks.len() != 1 {
                bail!("{}: holds {} tasks; give one task's file", task.display(), set.tasks.len());
            }
            let task = set.tasks.remove(0);
            for m in prompt.prompter()?.first(&task, &Sandbox::new(Limits::default())) {
                println!("=== {}\n{}", m.role, m.content);
            }
            Ok(exit::OK)
        }
        Command::Coverage(a) => coverage(a),
        Command::Library(c) => library(c),
        Command::Report(a) => report(a),
        Command::Merge(a) => merge(a),
        Command::Dsl(DslCommand::Docs) => {
            print!("{}", crate::dsl::reference_markdown());
            Ok(exit::OK)
        }
    }
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = crate::fsio::read_input(path, crate::fsio::MAX_INPUT_BYTES)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON", path.display()))
}

fn score(a: ScoreArgs) -> Result<i32> {
    let set = a.source.load()?;
    let sub = read_json(&a.submission)?;
    let s =
        crate::submission::score(&sub, &set.tasks).map_err(|e| anyhow::anyhow!("{}: {e}", a.submission.display()))?;
    if s.max == 0 {
        bail!("{}: no task has known test outputs, nothing to score", a.source.tasks.display());
    }
    if a.json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        println!("{s}");
    }
    for id in &s.unknown {
        tracing::warn!("{}: task {id} is not among the tasks, ignored", a.submission.display());
    }
    Ok(exit::OK)
}

fn show(a: ShowArgs) -> Result<i32> {
    if a.list {
        let ids: Vec<String> = a.source.load()?.tasks.into_iter().map(|t| t.id).collect();
        println!("{}", ids.join("\n"));
        return Ok(exit::OK);
    }
    let id = a.task.as_deref().expect("clap requires TASK without --list");
    let t = task::load_one(&a.source.tasks, id)?;
    let style = render::style_for_stdout(a.plain);
    println!("task {} ({} train, {} test)", t.id, t.train.len(), t.test.len());
    for (i, e) in t.train.iter().enumerate() {
        let items = [
            (format!("train {i} input {}x{}", e.input.rows(), e.input.cols()), &e.input, None),
            (format!("output {}x{}", e.output.rows(), e.output.cols()), &e.output, None),
        ];
        println!("{}", render::side_by_side(&items, style));
    }
    for (i, e) in t.test.iter().enumerate() {
        let mut items = vec![(format!("test {i} input {}x{}", e.input.rows(), e.input.cols()), &e.input, None)];
        if let Some(o) = &e.output {
            items.push((format!("output {}x{}", o.rows(), o.cols()), o, None));
        }
        println!("{}", render::side_by_side(&items, style));
    }
    Ok(exit::OK)
}

fn run_program(a: RunArgs) -> Result<i32> {
    use crate::sandbox::{Limits, Sandbox};
    let source = crate::fsio::read_input(&a.program, crate::fsio::MAX_INPUT_BYTES)
        .with_context(|| format!("{}: cannot read", a.program.display()))?;
    let t = task::load_one(&a.source.tasks, &a.task)?;
    let sandbox = Sandbox::new(Limits { timeout: std::time::Duration::from_millis(a.timeout_ms), ..Limits::default() });
    let style = render::style_for_stdout(a.plain);
    let program = match sandbox.compile(&source) {
        Ok(p) => p,
        Err(e) => {
            println!("{}: {e}", a.program.display());
            return Ok(exit::FAILED);
        }
    };
    let mut all_ok = true;
    for (kind, index, input, expected) in t.pairs() {
        let result = sandbox.run(&program, input);
        match (&result, expected) {
            (Err(e), _) => {
                all_ok = false;
                println!("{kind} {index}: {e}");
            }
            (Ok(got), Some(want)) if got == want => println!("{kind} {index}: ok, correct"),
            (Ok(got), Some(want)) => {
                all_ok = false;
                let detail = if got.shape() != want.shape() {
                    format!("shape {}x{}, expected {}x{}", got.rows(), got.cols(), want.rows(), want.cols())
                } else {
                    let wrong = got.cells().iter().zip(want.cells()).filter(|(x, y)| x != y).count();
                    format!("{wrong} of {} cells wrong", want.cells().len())
                };
                println!("{kind} {index}: ok, WRONG ({detail})");
                let items = [
                    ("expected".to_string(), want, None),
                    ("actual (wrong cells marked)".to_string(), got, Some(want)),
                ];
                println!("{}", render::side_by_side(&items, style));
            }
            (Ok(got), None) => {
                println!("{kind} {index}: ok (no known output)");
                println!("{}", render::side_by_side(&[("output".to_string(), got, None)], style));
            }
        }
    }
    Ok(if all_ok { exit::OK } else { exit::FAILED })
}

fn search(a: SearchArgs) -> Result<i32> {
    use crate::search::{self, LlmConfig, Proposer, Run};
    let proposers = a.proposer.clone().unwrap_or_else(|| {
        if a.backend.given() {
            vec!["enum".into(), "llm".into()]
        } else {
            vec!["enum".into()]
        }
    });
    for p in &proposers {
        if !["enum", "llm"].contains(&p.as_str()) {
            bail!("--proposer {p}: unknown proposer (known: enum, llm)");
        }
    }
    let use_llm = proposers.iter().any(|p| p == "llm");
    if use_llm && !a.backend.given() {
        bail!("--proposer llm needs a model: --model coder.gguf, or --backend openai --endpoint URL --model NAME, or --completions FILE");
    }
    if !(1..=4).contains(&a.depth) {
        bail!("--depth must be 1..=4 (the search space grows about 100x per level)");
    }
    if a.temperature.into_iter().chain([a.refine_temperature]).any(|t| !(0.0..=5.0).contains(&t)) {
        bail!("--temperature and --refine-temperature must be between 0 and 5");
    }
    if a.samples == 0 || a.batch == 0 || a.max_tokens == 0 || a.enough == 0 {
        bail!("--samples, --batch, --max-tokens and --enough must be at least 1");
    }
    let mut tasks = a.source.load_first(a.max_tasks)?;
    if let Some((k, n)) = a.shard {
        tasks.retain(|t| search::shard_of(&t.id, n) == k);
    }
    // Everything that can fail on bad input fails here, before any task is searched.
    let model = use_llm
        .then(|| a.backend.model.clone().or_else(|| a.backend.completions.as_ref().map(|c| c.display().to_string())))
        .flatten();
    let info = search::RunInfo {
        shard: a.shard.map(|(k, n)| format!("{k}/{n}")),
        ..search::RunInfo::new(&a.source.tasks, proposers.clone(), model)
    };
    info.check_resume(&a.out, a.force).map_err(|e| anyhow::anyhow!("{}: {e}", a.out.display()))?;
    let mut run =
        Run::open(&a.out, &tasks).with_context(|| format!("{}: cannot write the run directory", a.out.display()))?;
    run.write_info(&info).with_context(|| format!("{}: cannot write the run directory", a.out.display()))?;
    let prompter = a.prompt.prompter()?;
    let grammar = match &a.grammar {
        Some(p) => {
            Some(std::fs::read_to_string(p).with_context(|| format!("{}: cannot read the grammar", p.display()))?)
        }
        None => None,
    };
    let mut backend = if use_llm { Some(a.backend.open()?) } else { None };
    let ttt_cfg = a.ttt.config(a.seed as u64)?;
    let mut grid_model = match &a.ttt_model {
        Some(p) => Some((
            grid_model(p, a.ttt.grid_ctx, a.backend.gpu_layers, a.backend.threads)?,
            a.ttt.trainer(p, a.seed as u64)?,
        )),
        None => None,
    };
    let thinking = a.backend.thinking == "on";
    let defaults = crate::llm::Sampling::for_family(if thinking { "qwen3" } else { "" }, thinking);
    let sampling = crate::llm::Sampling {
        max_tokens: a.max_tokens,
        seed: a.seed,
        temperature: a.temperature.unwrap_or(defaults.temperature),
        stop: if a.answer == "code-first" { vec![search::llm::CODE_FIRST_STOP.to_string()] } else { Vec::new() },
        ..defaults
    };
    let llm_cfg = LlmConfig {
        samples: a.samples,
        batch: a.batch,
        refine_rounds: a.refine_rounds,
        task_timeout: a.task_timeout,
        enough: a.enough,
        sampling,
        grammar,
        prefill: if a.answer == "code-first" { search::llm::CODE_FIRST.to_string() } else { String::new() },
        refine_prefill: if a.answer == "code-first" {
            search::llm::CODE_FIRST_REFINE.to_string()
        } else {
            String::new()
        },
        refine_temperature: Some(a.refine_temperature),
        mend: !a.no_mend,
        ..LlmConfig::default()
    };
    let budget = crate::enumerate::Budget {
        max_depth: a.depth,
        time: a.time_per_task,
        rule_depth: if a.no_rules { None } else { crate::enumerate::Budget::default().rule_depth },
        ..Default::default()
    };
    // The enumerator first (cheap, and its near miss seeds the LLM's refinement), then
    // the LLM, then the grid model on what programs left unsolved.
    let mut chain = Vec::new();
    if proposers.iter().any(|p| p == "enum") {
        chain.push(Proposer::Enumerate(budget));
    }
    if let Some(b) = backend.as_mut() {
        chain.push(Proposer::Llm { backend: &mut **b, prompter: &prompter, config: &llm_cfg });
    }
    if let Some((model, trainer)) = grid_model.as_mut() {
        chain.push(Proposer::Ttt { model: &mut **model, trainer: trainer.as_ref(), config: &ttt_cfg });
    }
    let resumed = tasks.iter().filter(|t| run.results.contains_key(&t.id)).count();
    if resumed > 0 {
        tracing::info!("{}: {resumed} tasks already done, resuming", a.out.display());
    }
    search_all(&mut run, &tasks, &mut chain, resumed)?;
    let r = run.report(&tasks);
    println!("tasks: {} ({resumed} resumed), solved on train: {}", r.tasks, r.solved_train);
    if let (Some(total), Some(max)) = (r.pass_at_2, r.scored_tasks) {
        println!(
            "pass@2 on test outputs: {total:.2} / {max} ({:.1}%); solved on train but wrong on test: {}",
            100.0 * total / max as f64,
            r.solved_train_but_wrong_on_test
        );
    }
    println!(
        "time per task: median {:.2} s, p90 {:.2} s; enumerated candidates: {} ({:.0}/s)",
        r.median_seconds, r.p90_seconds, r.candidates, r.candidates_per_second
    );
    if let Some(l) = &r.llm {
        println!(
            "llm: {} completions, {} tokens ({:.0} tokens/s); prompts {} tokens, {} from the KV cache, {:.0} s prefill; valid code {:.1}%, valid output {:.1}%, DSL usage {:.1}%, unique outputs {:.1}% ({:.2} per 1000 tokens)",
            l.completions,
            l.completion_tokens,
            l.tokens_per_second,
            l.prompt_tokens,
            l.cached_prompt_tokens,
            l.prompt_seconds,
            100.0 * l.valid_code_rate,
            100.0 * l.valid_output_rate,
            100.0 * l.dsl_usage_rate,
            100.0 * l.unique_output_rate,
            l.unique_per_1000_tokens
        );
    }
    print_sources(&r);
    println!("wrote {}/{{submission.json, programs.jsonl, completions.jsonl, report.json}}", a.out.display());
    Ok(exit::OK)
}

/// Searches the tasks `run` has no result for through `chain`, with a progress bar;
/// `resumed` tasks were already done.
fn search_all(
    run: &mut crate::search::Run,
    tasks: &[crate::task::Task],
    chain: &mut [crate::search::Proposer],
    resumed: usize,
) -> Result<()> {
    let mut progress = Progress::new((tasks.len() - resumed) as u64);
    let sandbox = Sandbox::new(Limits::default());
    let done = crate::search::search_tasks(run, tasks, &sandbox, chain, &mut progress);
    progress.finish();
    let dir = run.dir().display();
    match done {
        Ok(_) => Ok(()),
        Err(e @ crate::search::SearchError::Proposer { .. }) => {
            bail!("{e}; finished tasks are saved in {dir}, rerun to resume")
        }
        Err(e) => bail!("{dir}: {e}"),
    }
}

fn merge(a: MergeArgs) -> Result<i32> {
    use crate::search::{self, RunInfo};
    let infos: Vec<Option<RunInfo>> = a.runs.iter().map(|d| RunInfo::read(d)).collect();
    let source = match (&a.tasks, infos.iter().flatten().next()) {
        (Some(t), _) => t.clone(),
        (None, Some(info)) => info.tasks.clone(),
        (None, None) => bail!("{}: no run.json naming its tasks; give --tasks", a.runs[0].display()),
    };
    let source = std::fs::canonicalize(&source).unwrap_or(source);
    for (dir, info) in a.runs.iter().zip(&infos) {
        if let Some(other) = info.as_ref().filter(|i| i.tasks != source) {
            bail!("{}: a run over {}, not {}", dir.display(), other.tasks.display(), source.display());
        }
    }
    let tasks = TaskSource { tasks: source.clone(), strict: false }.load_first(None)?;
    let mut proposers: Vec<String> = infos.iter().flatten().flat_map(|i| i.proposers.clone()).collect();
    proposers.dedup();
    let model = infos.iter().flatten().find_map(|i| i.model.clone());
    let info = RunInfo::new(&source, proposers, model);
    let run = search::merge_runs(&a.out, &a.runs, &tasks, &info).map_err(|e| anyhow::anyhow!(e))?;
    let n = run.results.len();
    let r = run.report(&tasks);
    println!(
        "merged {n} tasks from {} run directories into {} (solved on train: {})",
        a.runs.len(),
        a.out.display(),
        r.solved_train
    );
    if let (Some(total), Some(max)) = (r.pass_at_2, r.scored_tasks) {
        println!("pass@2 on test outputs: {total:.2} / {max} ({:.1}%)", 100.0 * total / max as f64);
    }
    if n < tasks.len() {
        println!("{} of the {} tasks of {} are in no run yet", tasks.len() - n, tasks.len(), source.display());
    }
    Ok(exit::OK)
}

fn print_sources(r: &crate::search::Report) {
    let sources: Vec<String> = r.answer_sources.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("answers from: {}", sources.join(", "));
}

fn ttt(a: TttArgs) -> Result<i32> {
    use crate::search::{Proposer, Run, RunInfo};
    let cfg = a.ttt.config(a.seed)?;
    let tasks = a.source.load_first(a.max_tasks)?;
    let info = RunInfo::new(&a.source.tasks, vec!["ttt".into()], Some(a.model.display().to_string()));
    info.check_resume(&a.out, a.force).map_err(|e| anyhow::anyhow!("{}: {e}", a.out.display()))?;
    let mut run =
        Run::open(&a.out, &tasks).with_context(|| format!("{}: cannot write the run directory", a.out.display()))?;
    let mut model = grid_model(&a.model, a.ttt.grid_ctx, a.gpu_layers, a.threads)?;
    let trainer = a.ttt.trainer(&a.model, a.seed)?;
    run.write_info(&info).with_context(|| format!("{}: cannot write the run directory", a.out.display()))?;
    let resumed = tasks.iter().filter(|t| run.results.contains_key(&t.id)).count();
    search_all(
        &mut run,
        &tasks,
        &mut [Proposer::Ttt { model: &mut *model, trainer: trainer.as_ref(), config: &cfg }],
        resumed,
    )?;
    let r = run.report(&tasks);
    println!("tasks: {} ({resumed} resumed)", r.tasks);
    if let (Some(total), Some(max)) = (r.pass_at_2, r.scored_tasks) {
        println!("pass@2 on test outputs: {total:.2} / {max} ({:.1}%)", 100.0 * total / max as f64);
    }
    println!("time per task: median {:.2} s, p90 {:.2} s", r.median_seconds, r.p90_seconds);
    let trained: Vec<&crate::ttt::lora::TrainStats> =
        run.results.values().filter_map(|r| r.proposers.ttt.as_ref()?.train.as_ref()).collect();
    if !trained.is_empty() {
        let n = trained.len() as f32;
        let steps: usize = trained.iter().map(|t| t.steps).sum();
        let secs: f64 = trained.iter().map(|t| t.seconds).sum();
        let mut devices: Vec<&str> = trained.iter().map(|t| t.device.as_str()).filter(|d| !d.is_empty()).collect();
        devices.sort_unstable();
        devices.dedup();
        println!(
            "LoRA training on {} tasks ({}): mean loss {:.3} -> {:.3}, {steps} steps, {:.3} s per step",
            trained.len(),
            if devices.is_empty() { "device not recorded".to_string() } else { devices.join(", ") },
            trained.iter().map(|t| t.loss_before).sum::<f32>() / n,
            trained.iter().map(|t| t.loss_after).sum::<f32>() / n,
            secs / steps.max(1) as f64
        );
    }
    println!("wrote {}/{{submission.json, report.json}}", a.out.display());
    Ok(exit::OK)
}

/// Loads a grid-token model and checks that its vocabulary is the grid one.
#[cfg(feature = "llama")]
fn grid_model(
    path: &Path,
    ctx: Option<u32>,
    gpu_layers: u32,
    threads: Option<i32>,
) -> Result<Box<dyn crate::llm::NextToken>> {
    use crate::llm::{llama, NextToken};
    let threads = llama_threads(threads)?;
    let m = llama::TokenModel::load(path, llama::LoadOptions { gpu_layers, ctx, threads, ..Default::default() })?;
    if m.vocab_size() != crate::ttt::format::VOCAB {
        bail!(
            "{}: not a grid-token model (its vocabulary has {} tokens, a grid model's has {})",
            path.display(),
            m.vocab_size(),
            crate::ttt::format::VOCAB
        );
    }
    Ok(Box::new(m))
}

#[cfg(not(feature = "llama"))]
fn grid_model(_: &Path, _: Option<u32>, _: u32, _: Option<i32>) -> Result<Box<dyn crate::llm::NextToken>> {
    bail!("this arcsynth was built without the `llama` feature; rebuild with default features to use a grid model")
}

/// Loads every program source, in order.
fn load_programs(specs: &[PathBuf]) -> Result<Vec<crate::library::Loaded>> {
    let mut all = Vec::new();
    for spec in specs {
        let loaded =
            crate::library::load(spec).map_err(|e| anyhow::anyhow!("{e} (program sources: {PROGRAM_SOURCES})"))?;
        tracing::info!("{}: {} programs", spec.display(), loaded.len());
        all.extend(loaded);
    }
    Ok(all)
}

/// Writes `text` to `out` atomically, or to standard output.
fn emit(text: &str, out: Option<&Path>) -> Result<()> {
    match out {
        Some(path) => {
            crate::fsio::write_atomic(path, text.as_bytes())
                .with_context(|| format!("{}: cannot write", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

fn coverage(a: CoverageArgs) -> Result<i32> {
    use crate::sandbox::{Limits, Sandbox};
    let specs = if a.programs.is_empty() { vec![PathBuf::from("reference")] } else { a.programs.clone() };
    let programs = load_programs(&specs)?;
    let set = a.source.load()?;
    let checked = crate::library::verify(&Sandbox::new(Limits::default()), programs, &set.tasks);
    let ids: Vec<String> = set.tasks.iter().map(|t| t.id.clone()).collect();
    let names = crate::dsl::syntax::primitive_names().iter().cloned().collect();
    let cov = crate::coverage::compute(&checked, &ids, &names);
    let text = match a.format.as_str() {
        "json" => serde_json::to_string_pretty(&cov)? + "\n",
        "md" => cov.render(true),
        "html" => cov.html(&checked),
        _ => cov.render(false),
    };
    emit(&text, a.out.as_deref())?;
    Ok(exit::OK)
}

fn library(c: LibraryCommand) -> Result<i32> {
    use crate::sandbox::{Limits, Sandbox};
    match c {
        LibraryCommand::Merge { out, inputs, source } => {
            let programs = load_programs(&inputs)?;
            let set = source.load()?;
            let checked = crate::library::verify(&Sandbox::new(Limits::default()), programs, &set.tasks);
            for c in &checked {
                if let Some(why) = c.problem() {
                    tracing::warn!("{}: dropped, {why}", c.loaded.origin);
                }
            }
            let (records, s) = crate::library::merge(checked);
            crate::fsio::write_atomic(&out, crate::library::to_jsonl(&records).as_bytes())
                .with_context(|| format!("{}: cannot write", out.display()))?;
            println!(
                "read {}: {} stale, {} of unknown tasks, {} duplicate texts, {} duplicate behaviours; kept {} programs for {} tasks in {}",
                s.read,
                s.stale,
                s.unknown_task,
                s.same_text,
                s.same_behaviour,
                s.kept,
                records.iter().map(|r| &r.task).collect::<std::collections::BTreeSet<_>>().len(),
                out.display()
            );
            Ok(exit::OK)
        }
        LibraryCommand::Export { library, format: _, out } => {
            let records: Vec<_> =
                load_programs(std::slice::from_ref(&library))?.into_iter().map(|l| l.record).collect();
            emit(&crate::library::export_rhai(&records), out.as_deref())?;
            Ok(exit::OK)
        }
    }
}

fn report(a: ReportArgs) -> Result<i32> {
    let dir = &a.run;
    if !dir.join("results").is_dir() {
        bail!("{}: not a run directory (no results/ in it; `arcsynth search --out DIR` makes one)", dir.display());
    }
    let tasks_path = match (&a.tasks, crate::search::RunInfo::read(dir)) {
        (Some(p), _) => p.clone(),
        (None, Some(info)) => info.tasks,
        (None, None) => bail!("{}: no run.json says where its tasks are; give --tasks PATH", dir.display()),
    };
    let set = TaskSource { tasks: tasks_path, strict: false }.load()?;
    let results =
        crate::search::read_results(dir).with_context(|| format!("{}: cannot read results", dir.display()))?;
    if results.is_empty() {
        bail!("{}: the run has no finished tasks yet", dir.display());
    }
    let name = std::fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| dir.display().to_string());
    let page = crate::report::render(&name, &results, &set.tasks, crate::report::read_figures(dir).as_ref());
    let out = a.out.clone().unwrap_or_else(|| dir.join("report.html"));
    crate::fsio::write_atomic(&out, page.as_bytes()).with_context(|| format!("{}: cannot write", out.display()))?;
    println!("wrote {} ({} tasks, {} KiB)", out.display(), results.len(), page.len() / 1024);
    if a.open {
        open_in_browser(&out);
    }
    Ok(exit::OK)
}

/// Opens a file with the desktop's default program; a failure is only a warning.
fn open_in_browser(path: &Path) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    match std::process::Command::new(opener)
        .arg(path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(_) => {}
        Err(e) => tracing::warn!("cannot open {} with {opener}: {e}; open it in a browser yourself", path.display()),
    }
}

/// Task progress: a bar on a terminal, one log line per task otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    tokens: usize,
    generation_seconds: f64,
}

impl Progress {
    fn new(total: u64) -> Progress {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(total);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} tasks  {msg}  [{elapsed_precise}, eta {eta}]",
                )
                .expect("valid template"),
            );
            b
        });
        Progress { bar, tokens: 0, generation_seconds: 0.0 }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl crate::search::Progress for Progress {
    fn task_done(&mut self, r: &crate::search::TaskResult, solved: usize) {
        if let Some(l) = &r.proposers.llm {
            self.tokens += l.completion_tokens;
            self.generation_seconds += l.generation_seconds;
        }
        let mut rate = if self.generation_seconds > 0.0 {
            format!(", {:.0} tokens/s", self.tokens as f64 / self.generation_seconds)
        } else {
            String::new()
        };
        if let Some(l) = r.proposers.llm.as_ref().filter(|l| l.prompt_tokens > 0) {
            // This task's prompts: how much came from the KV cache, and the prefill time.
            rate.push_str(&format!(
                ", prompt {} tokens ({} cached, {:.0} s)",
                l.prompt_tokens, l.cached_prompt_tokens, l.prompt_seconds
            ));
        }
        match &self.bar {
            Some(b) => {
                b.set_message(format!("{solved} solved on train{rate}"));
                b.inc(1);
            }
            None => tracing::info!(
                "{}: {} in {:.2} s ({} candidates, {} completions{rate})",
                r.task,
                if r.solved_train { "solved on train" } else { "unsolved" },
                r.seconds,
                r.proposers.candidates,
                r.proposers.llm.as_ref().map_or(0, |l| l.completions)
            ),
        }
    }

    /// A transient status line (on a terminal only).
    fn message(&mut self, text: &str) {
        if let Some(b) = &self.bar {
            b.set_message(text.to_string());
        }
    }
}

fn generate(a: GenerateArgs) -> Result<i32> {
    use crate::llm::{Message, Request, Sampling};
    let grammar = match &a.grammar {
        Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("{}: cannot read", p.display()))?),
        None => None,
    };
    let mut backend = a.backend.open()?;
    let request = Request {
        messages: vec![Message::new("user", &a.prompt)],
        n: a.n,
        sampling: Sampling {
            temperature: a.temperature,
            seed: a.seed,
            max_tokens: a.max_tokens,
            stop: a.stop,
            ..Sampling::default()
        },
        grammar,
        label: String::new(),
        prefill: String::new(),
    };
    let g = backend.generate(&request)?;
    if a.json {
        println!("{}", serde_json::to_string(&g)?);
    } else {
        for (i, c) in g.completions.iter().enumerate() {
            println!("--- completion {i} ({} tokens, {:?})\n{}", c.tokens, c.finish, c.text);
        }
        let secs = g.generation_time.as_secs_f64();
        println!(
            "--- {} prompt tokens, {} generated in {secs:.2} s ({:.0} tokens/s)",
            g.prompt_tokens,
            g.completion_tokens(),
            g.completion_tokens() as f64 / secs.max(1e-9)
        );
    }
    Ok(exit::OK)
}

#[cfg(feature = "llama")]
fn llama_backend(a: &BackendArgs) -> Result<Box<dyn crate::llm::Backend>> {
    use crate::llm::llama;
    let model = a.model.as_ref().context("--backend llama needs --model FILE.gguf")?;
    let threads = llama_threads(a.threads)?;
    let opts = llama::LoadOptions {
        gpu_layers: a.gpu_layers,
        ctx: a.ctx,
        threads,
        thinking: a.thinking == "on",
        ..Default::default()
    };
    Ok(Box::new(llama::LlamaCpp::load(Path::new(model), opts)?))
}

/// The `--threads` for llama.cpp: by default the cores that other work leaves free at
/// start (all of them on an idle machine), since llama.cpp's threads spin and wait on
/// each other: with the real model on 2 cores, 2 threads decode 2x faster than 1 on an
/// idle machine but 1.3x slower while another thread spins (benchmarks/RESULTS.md).
/// More than the cores is clamped to them with a warning (8 threads on 2 cores decoded
/// 190x slower than 2).
#[cfg(feature = "llama")]
fn llama_threads(asked: Option<i32>) -> Result<i32> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as i32);
    Ok(match asked {
        Some(t) if t < 1 => bail!("--threads must be at least 1"),
        Some(t) if t > cores => {
            tracing::warn!("--threads {t} is more than this machine's {cores} cores; using {cores}");
            cores
        }
        Some(t) => t,
        None => {
            let busy = crate::llm::busy_cores(std::time::Duration::from_millis(250), cores as usize).unwrap_or(0);
            let free = (cores - busy as i32).max(1);
            if free < cores {
                tracing::info!(
                    "{busy} of {cores} cores busy with other work; llama.cpp uses {free} threads (--threads to choose)"
                );
            }
            free
        }
    })
}

#[cfg(not(feature = "llama"))]
fn llama_backend(_: &BackendArgs) -> Result<Box<dyn crate::llm::Backend>> {
    bail!("this arcsynth was built without the `llama` feature; rebuild with default features or use --backend openai")
}
