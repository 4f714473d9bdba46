//! The sandbox: compiles DSL programs once and runs them on grids under hard limits.
//!
//! **Invariant:** the sandbox does no I/O. Programs get no file, network, process,
//! `eval` or `import`; `print`/`debug` go nowhere. Every run ends in one [`Category`]
//! within its deadline, whatever the program does, and never takes the process down
//! (a panic in a primitive is caught and reported as a runtime error).
//!
//! Limits are all set explicitly (Rhai's defaults differ between debug and release).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use rhai::{CallFnOptions, Dynamic, Engine, EvalAltResult, OptimizationLevel, Scope, AST};

use crate::grid::{Grid, MAX_SIDE};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Ok,
    ParseError,
    RuntimeError,
    Timeout,
    ResourceLimit,
    WrongReturnType,
    InvalidGrid,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Category::Ok,
        Category::ParseError,
        Category::RuntimeError,
        Category::Timeout,
        Category::ResourceLimit,
        Category::WrongReturnType,
        Category::InvalidGrid,
    ];

    /// The category named `name` (as [`Category::as_str`] writes it).
    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Ok => "ok",
            Category::ParseError => "parse error",
            Category::RuntimeError => "runtime error",
            Category::Timeout => "timeout",
            Category::ResourceLimit => "resource limit",
            Category::WrongReturnType => "wrong return type",
            Category::InvalidGrid => "invalid grid",
        }
    }
}

/// A failed compile or run: its category and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", category.as_str())]
pub struct RunError {
    pub category: Category,
    pub message: String,
}

impl RunError {
    pub fn new(category: Category, message: impl Into<String>) -> RunError {
        RunError { category, message: message.into() }
    }
}

pub type RunResult = Result<Grid, RunError>;

/// Resource limits for one run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Rhai operations per run.
    pub max_operations: u64,
    /// Wall-clock time per run.
    pub timeout: Duration,
    pub max_call_levels: usize,
    /// Expression nesting at the top level and inside functions.
    pub max_expr_depth: (usize, usize),
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
    pub max_variables: usize,
    /// Bytes a run may allocate beyond what its thread held at its start (checked as it
    /// goes, every 64 operations: see `watchdog`).
    pub max_memory: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_operations: 5_000_000,
            timeout: Duration::from_secs(1),
            max_call_levels: 24,
            max_expr_depth: (64, 48),
            max_string_size: 10_000,
            max_array_size: 5_000,
            max_map_size: 1_000,
            max_variables: 1_000,
            max_memory: 256 << 20,
        }
    }
}

/// A compiled program: the prelude merged with the program's own functions.
#[derive(Clone)]
pub struct Program {
    ast: AST,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program").finish_non_exhaustive()
    }
}

// Rhai's standard library minus what can block or reach outside a program: the language
// core package (`sleep`, which neither the operation limit nor the deadline can interrupt;
// `parse_json`; function metadata; `exit`) and blobs (byte buffers no DSL program needs).
// Time functions are compiled out (`no_time`). `tests/sandbox.rs` lists every function the
// engine exposes against an allow-list, so a Rhai upgrade cannot add one unnoticed.
rhai::def_package! {
    SandboxPackage(_lib):
        rhai::packages::ArithmeticPackage,
        rhai::packages::LogicPackage,
        rhai::packages::BitFieldPackage,
        rhai::packages::BasicMathPackage,
        rhai::packages::BasicStringPackage,
        rhai::packages::MoreStringPackage,
        rhai::packages::BasicIteratorPackage,
        rhai::packages::BasicFnPackage,
        rhai::packages::BasicArrayPackage,
        rhai::packages::BasicMapPackage
    {}
}

/// An engine configured as a sandbox, shareable across threads.
pub struct Sandbox {
    engine: Engine,
    prelude: AST,
    limits: Limits,
}

impl Sandbox {
    pub fn new(limits: Limits) -> Sandbox {
        let mut engine = Engine::new_raw();
        engine.register_global_module(rhai::packages::Package::as_shared_module(&SandboxPackage::new()));
        crate::dsl::register(&mut engine);
        engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
        engine.disable_symbol("eval");
        engine.disable_symbol("import");
        engine.disable_symbol("export");
        engine.on_print(|_| {});
        engine.on_debug(|_, _, _| {});
        engine
            .set_max_operations(limits.max_operations)
            .set_max_call_levels(limits.max_call_levels)
            .set_max_expr_depths(limits.max_expr_depth.0, limits.max_expr_depth.1)
            .set_max_string_size(limits.max_string_size)
            .set_max_array_size(limits.max_array_size)
            .set_max_map_size(limits.max_map_size)
            .set_max_variables(limits.max_variables)
            .set_max_functions(256)
            .set_max_modules(0)
            .set_optimization_level(OptimizationLevel::Simple);
        engine.on_progress(|ops| {
            // Checking the clock on every operation would cost more than the operation.
            if ops % 64 != 0 {
                return None;
            }
            crate::watchdog::check().err().map(|stop| stop.token().into())
        });
        let prelude = engine.compile(crate::dsl::PRELUDE).expect("the DSL prelude compiles");
        Sandbox { engine, prelude, limits }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The names of every function a program can call (DSL primitives, the prelude's
    /// helpers and Rhai's library as configured here), sorted, without duplicates.
    pub fn function_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .engine
            .gen_fn_signatures(true)
            .iter()
            .map(|s| s.split('(').next().unwrap_or(s).trim().to_string())
            .collect();
        names.extend(self.prelude.iter_functions().map(|f| f.name.to_string()));
        names.sort();
        names.dedup();
        names
    }

    /// Compiles a program; it must define `fn solve(g)`.
    pub fn compile(&self, source: &str) -> Result<Program, RunError> {
        let ast = catch_unwind(AssertUnwindSafe(|| self.engine.compile(source)))
            .map_err(|p| RunError::new(Category::RuntimeError, format!("compiler panicked: {}", panic_message(&p))))?
            .map_err(|e| RunError::new(Category::ParseError, e.to_string()))?;
        if !ast.iter_functions().any(|f| f.name == "solve" && f.params.len() == 1) {
            return Err(RunError::new(Category::ParseError, "the program defines no `fn solve(g)`"));
        }
        Ok(Program { ast: self.prelude.merge(&ast) })
    }

    /// Runs `solve(input)` under this sandbox's limits and deadline, with panics caught,
    /// and checks that it returns a valid ARC grid.
    pub fn run(&self, program: &Program, input: &Grid) -> RunResult {
        let _watch = crate::watchdog::Scope::start(self.limits.timeout, self.limits.max_memory);
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.engine.call_fn_with_options::<Dynamic>(
                options,
                &mut Scope::new(),
                &program.ast,
                "solve",
                (input.clone(),),
            )
        }));
        match result {
            Err(p) => {
                Err(RunError::new(Category::RuntimeError, format!("a primitive panicked: {}", panic_message(&p))))
            }
            Ok(Err(e)) => Err(classify(&e)),
            Ok(Ok(value)) => to_grid(value),
        }
    }

    /// Compiles and runs in one step.
    pub fn run_source(&self, source: &str, input: &Grid) -> RunResult {
        self.run(&self.compile(source)?, input)
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_default()
}

/// Maps a Rhai error to a category, looking through function-call wrappers.
fn classify(e: &EvalAltResult) -> RunError {
    use EvalAltResult as E;
    match e {
        E::ErrorInFunctionCall(name, _, inner, _) => {
            let mut r = classify(inner);
            if name != "solve" {
                r.message = format!("in {name}: {}", r.message);
            }
            r
        }
        E::ErrorTerminated(why, _)
            if why.clone().into_string().is_ok_and(|w| w == crate::watchdog::Stop::Memory.token()) =>
        {
            RunError::new(Category::ResourceLimit, "used more memory than a run may")
        }
        E::ErrorTerminated(..) => RunError::new(Category::Timeout, "ran past its deadline"),
        E::ErrorTooManyOperations(..) => RunError::new(Category::ResourceLimit, "too many operations"),
        E::ErrorStackOverflow(..) => RunError::new(Category::ResourceLimit, "call stack too deep"),
        E::ErrorDataTooLarge(what, _) => RunError::new(Category::ResourceLimit, format!("{what} too large")),
        E::ErrorTooManyVariables(..) | E::ErrorTooManyModules(..) => {
            RunError::new(Category::ResourceLimit, e.to_string())
        }
        E::ErrorParsing(..) => RunError::new(Category::ParseError, e.to_string()),
        E::ErrorMismatchOutputType(..) => RunError::new(Category::WrongReturnType, e.to_string()),
        _ => RunError::new(Category::RuntimeError, e.to_string()),
    }
}

/// Accepts a `Grid`, an array of rows of colours (a common way for programs to answer),
/// or one colour, which is a 1x1 grid (small models answer a one-cell task with `7`).
fn to_grid(value: Dynamic) -> RunResult {
    let type_name = value.type_name();
    let grid = if value.is::<Grid>() {
        value.cast::<Grid>()
    } else if let Some(colour) = value.as_int().ok().filter(|c| (0..=9).contains(c)) {
        Grid::from_rows(&[[colour]]).map_err(|e| RunError::new(Category::InvalidGrid, e.to_string()))?
    } else if let Some(rows) = value.clone().try_cast::<rhai::Array>() {
        let mut out = Vec::with_capacity(rows.len());
        for (r, row) in rows.into_iter().enumerate() {
            let row = row.try_cast::<rhai::Array>().ok_or_else(|| {
                RunError::new(Category::WrongReturnType, format!("returned an array whose row {r} is not an array"))
            })?;
            let cells: Result<Vec<i64>, _> = row.iter().map(|d| d.as_int()).collect();
            out.push(
                cells.map_err(|t| {
                    RunError::new(Category::WrongReturnType, format!("row {r} holds a {t}, not a colour"))
                })?,
            );
        }
        Grid::from_rows(&out).map_err(|e| RunError::new(Category::InvalidGrid, e.to_string()))?
    } else {
        return Err(RunError::new(Category::WrongReturnType, format!("solve returned {type_name}, expected a Grid")));
    };
    within_size(grid)
}

/// An ARC answer is at most 30x30.
fn within_size(grid: Grid) -> RunResult {
    if grid.rows() > MAX_SIDE || grid.cols() > MAX_SIDE {
        return Err(RunError::new(
            Category::InvalidGrid,
            format!("{}x{} is larger than 30x30", grid.rows(), grid.cols()),
        ));
    }
    Ok(grid)
}
