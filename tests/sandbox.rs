//! Hostile programs: each must end in its category within its deadline, with the
//! process alive and memory bounded.

mod common;

use std::time::{Duration, Instant};

use arcsynth::grid::Grid;
use arcsynth::sandbox::{Category, Limits, Sandbox};

fn input() -> Grid {
    Grid::from_text("0120\n3400\n0056").unwrap()
}

/// (program, categories accepted). Several limits can legitimately fire first for
/// runaway programs, so some cases accept either.
const CORPUS: &[(&str, &[Category])] = {
    use Category::*;
    &[
        ("fn solve(g) { loop {} }", &[ResourceLimit, Timeout]),
        // F0: Rhai's `sleep` blocks where no limit can interrupt it; the sandbox has none.
        ("fn solve(g) { sleep(1000000); g }", &[RuntimeError]),
        ("fn solve(g) { sleep(1000000.0); g }", &[RuntimeError]),
        ("fn solve(g) { let f = Fn(\"sleep\"); f.call(1000000); g }", &[RuntimeError]),
        // F1: one call of a slow primitive (~0.85 s each before it checked the deadline):
        // every tiling is tried, and each meets the lone 2 only at the last cell.
        ("fn solve(g) { let b = grid(120, 120, 1); b.set(0, 0, 0); b.set(119, 119, 2); for i in 0..8 { b.complete_pattern(0); } g }", &[Timeout]),
        // F2: a map of big arrays grows inside a loop (see also the test of memory below).
        ("fn solve(g) { let a = []; a.pad(4999, 0); let m = #{}; let i = 0; loop { m[`k${i}`] = a; i += 1; } }", &[ResourceLimit, Timeout]),
        ("fn solve(g) { let a = []; a.pad(4999, 0); let all = []; loop { all.push(a); all.push(a); all = [all[0], all]; } }", &[ResourceLimit, Timeout]),
        ("fn solve(g) { while true {} }", &[ResourceLimit, Timeout]),
        ("fn solve(g) { let x = 0; loop { x += 1; } }", &[ResourceLimit, Timeout]),
        ("fn f(n) { if n == 0 { 0 } else { 1 + f(n - 1) } } fn solve(g) { f(100000); g }", &[ResourceLimit]),
        ("fn f(n) { f(n + 1) } fn solve(g) { f(0) }", &[ResourceLimit]),
        ("fn solve(g) { let a = []; a.pad(1000000000, 0); g }", &[ResourceLimit]),
        ("fn solve(g) { let a = [0]; loop { a += a; } }", &[ResourceLimit]),
        ("fn solve(g) { let s = \"ab\"; loop { s += s; } }", &[ResourceLimit]),
        // Rhai does not check map sizes on indexed assignment; the operation limit bounds
        // the growth instead (and the memory check below covers it).
        ("fn solve(g) { let m = #{}; for i in 0..100000 { m[`k${i}`] = i; } g }", &[ResourceLimit, Ok]),
        ("fn solve(g) { let m = #{}; loop { m[`k${m.len()}`] = g; } }", &[ResourceLimit, Timeout]),
        ("fn solve(g) { let a = []; for i in 0..100000 { a.push(grid(120, 120, 1)); } g }", &[ResourceLimit]),
        ("fn solve(g) { grid(1000000, 1000000, 0) }", &[RuntimeError]),
        ("fn solve(g) { g.scale_up(1000000000) }", &[RuntimeError]),
        ("fn solve(g) { g.tile(-1, 5) }", &[RuntimeError]),
        ("fn solve(g) { g.tile(1000000, 1000000) }", &[RuntimeError]),
        ("fn solve(g) { g.resize(100000, 100000, 0) }", &[RuntimeError]),
        ("fn solve(g) { g.pad(9223372036854775807, 0) }", &[RuntimeError]),
        ("fn solve(g) { g.pad(-3, 0) }", &[RuntimeError]),
        ("fn solve(g) { g.crop(-5, -5, 2, 2) }", &[RuntimeError]),
        ("fn solve(g) { g.crop(1, 1, 9223372036854775807, 9223372036854775807) }", &[Ok]),
        ("fn solve(g) { g.shift(9223372036854775807, -9223372036854775808, 0) }", &[Ok]),
        ("fn solve(g) { g.roll(-9223372036854775808, 9223372036854775807) }", &[Ok]),
        ("fn solve(g) { g.rotate(-9223372036854775808) }", &[Ok]),
        ("fn solve(g) { g.replace(11, 2) }", &[RuntimeError]),
        ("fn solve(g) { g.replace(-1, 2) }", &[RuntimeError]),
        ("fn solve(g) { g.set(99, 99, 1); g }", &[Ok]),
        ("fn solve(g) { g.set(0, 0, 10); g }", &[RuntimeError]),
        ("fn solve(g) { g.line(0, 0, 9223372036854775807, 9223372036854775807, 1) }", &[RuntimeError]),
        ("fn solve(g) { g.ray(9223372036854775807, 0, 1, 1, 1) }", &[Ok]),
        ("fn solve(g) { g.ray(0, 0, 5, 0, 1) }", &[RuntimeError]),
        ("fn solve(g) { g.paste(g, 9223372036854775807, 9223372036854775807) }", &[Ok]),
        ("fn solve(g) { g.fill_rect(-9223372036854775808, 0, 9223372036854775807, 2, 3) }", &[Ok]),
        ("fn solve(g) { g.scale_down(0) }", &[RuntimeError]),
        ("fn solve(g) { g.split_cols(0) }", &[RuntimeError]),
        ("fn solve(g) { g.split_rows(9223372036854775807) }", &[RuntimeError]),
        ("fn solve(g) { g.flood_fill(-1, -1, 3) }", &[RuntimeError]),
        ("fn solve(g) { g.objects()[0].shift(9223372036854775807, 9223372036854775807).to_grid() }", &[Ok]),
        ("fn solve(g) { g.objects(#{bogus: true}) }", &[RuntimeError]),
        ("fn solve(g) { g.gravity(\"sideways\") }", &[RuntimeError]),
        ("fn solve(g) { [].max_by(|x| x) }", &[RuntimeError]),
        ("fn solve(g) { g.row(-1) }", &[RuntimeError]),
        ("fn solve(g) { grid_from([[1, 2], [3]]) }", &[RuntimeError]),
        ("fn solve(g) { 42 }", &[WrongReturnType]),
        ("fn solve(g) { -1 }", &[WrongReturnType]),
        ("fn solve(g) { 7 }", &[Ok]),
        ("fn solve(g) { g.set(0, 0, 5) }", &[Ok]),
        ("fn solve(g) { let out = grid(2, 3); out = out.set(1, 2, 4); out }", &[Ok]),
        ("fn solve(g) { \"a grid\" }", &[WrongReturnType]),
        ("fn solve(g) { () }", &[WrongReturnType]),
        ("fn solve(g) { [1, 2, 3] }", &[WrongReturnType]),
        ("fn solve(g) { [[1, 2], [3]] }", &[InvalidGrid]),
        ("fn solve(g) { [[1, 2], [3, 10]] }", &[InvalidGrid]),
        ("fn solve(g) { [] }", &[InvalidGrid]),
        ("fn solve(g) { [[1, 2], [3, 4]] }", &[Ok]),
        ("fn solve(g) { grid(31, 31, 0) }", &[InvalidGrid]),
        ("fn solve(g) { g.tile(10, 10) }", &[InvalidGrid]),
        ("fn solve(g) { ]]] }", &[ParseError]),
        ("", &[ParseError]),
        ("fn solve() { 1 }", &[ParseError]),
        ("let x = 1;", &[ParseError]),
        ("fn solve(g) { let ü = 'λ'; ⊕⊕ }", &[ParseError]),
        ("\u{0}\u{1}\u{fffd}\u{202e}fn solve(g) { g }", &[ParseError]),
        ("fn solve(g) { eval(\"g\") }", &[ParseError]),
        ("import \"std\" as s; fn solve(g) { g }", &[ParseError]),
        ("fn solve(g) { print(\"hi\"); debug(g); g }", &[Ok]),
        ("fn solve(g) { throw \"nope\" }", &[RuntimeError]),
        ("fn solve(g) { let x = 1 / 0; g }", &[RuntimeError]),
        ("fn solve(g) { undefined_function(g) }", &[RuntimeError]),
        ("fn solve(g) { g.no_such_method() }", &[RuntimeError]),
        ("fn solve(g) { try { loop {} } catch { } g }", &[ResourceLimit, Timeout]),
    ]
};

fn deep_parens() -> String {
    format!("fn solve(g) {{ {}1{} }}", "(".repeat(100_000), ")".repeat(100_000))
}

fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb / 1024)
}

#[test]
fn hostile_programs_end_in_their_category_within_the_deadline() {
    let limits = Limits { timeout: Duration::from_millis(500), ..Limits::default() };
    let sandbox = Sandbox::new(limits);
    let deep = deep_parens();
    let cases = CORPUS.iter().map(|(s, c)| (s.to_string(), *c)).chain([(deep, &[Category::ParseError][..])]);
    let mut bad = Vec::new();
    for (src, expected) in cases {
        let start = Instant::now();
        let got = match sandbox.run_source(&src, &input()) {
            Ok(_) => Category::Ok,
            Err(e) => e.category,
        };
        let took = start.elapsed();
        let short: String = src.chars().take(70).collect();
        if !expected.contains(&got) {
            bad.push(format!("{short:?}: got {got:?}, expected {expected:?}"));
        }
        // Deadline plus scheduling slack; runaway programs must not run on.
        if took > limits.timeout + Duration::from_millis(1500) {
            bad.push(format!("{short:?}: took {took:?}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    if let Some(peak) = peak_rss_mib() {
        assert!(peak < 1024, "peak memory {peak} MiB");
    }
}

#[test]
fn a_slow_native_loop_is_stopped_by_the_wall_clock_deadline() {
    // Few Rhai operations, each expensive: only the deadline can stop this.
    let limits = Limits { timeout: Duration::from_millis(200), max_operations: 0, ..Limits::default() };
    let sandbox = Sandbox::new(limits);
    let big = Grid::filled(30, 30, 1).unwrap();
    let start = Instant::now();
    let err = sandbox.run_source("fn solve(g) { loop { g.scale_up(4).complete_symmetry(0); } }", &big).unwrap_err();
    assert_eq!(err.category, Category::Timeout, "{err}");
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
}

#[test]
fn memory_is_bounded_as_it_grows_not_when_a_loop_ends() {
    // F2: this loop grew to 1.2 GB before the map-size check saw it. With no operation
    // limit and a long deadline, only the memory budget can stop it.
    let limits =
        Limits { timeout: Duration::from_secs(30), max_operations: 0, max_memory: 64 << 20, ..Limits::default() };
    let sandbox = Sandbox::new(limits);
    let start = Instant::now();
    let src = "fn solve(g) { let a = []; a.pad(4999, 0); let m = #{}; let i = 0; loop { m[`k${i}`] = a; i += 1; } }";
    let err = sandbox.run_source(src, &input()).unwrap_err();
    assert_eq!(err.category, Category::ResourceLimit, "{err}");
    assert!(err.message.contains("memory"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(20), "{:?}", start.elapsed());
    if let Some(peak) = peak_rss_mib() {
        assert!(peak < 1024, "peak memory {peak} MiB");
    }
    // The budget is per run: the next run on this thread starts afresh.
    assert!(sandbox.run_source("fn solve(g) { let a = []; a.pad(4999, 0); g }", &input()).is_ok());
}

#[test]
fn a_slow_program_costs_one_deadline_per_task_not_one_per_input() {
    // F9: 794b24be has 10 training pairs and 2 test inputs. A program that runs to its
    // deadline on the first is not run on the rest, and nothing runs past `until`.
    let set = arcsynth::task::load(&common::training_dir()).unwrap();
    let task = set.tasks.iter().find(|t| t.id == "794b24be").unwrap();
    let limits = Limits { timeout: Duration::from_millis(300), max_operations: 0, ..Limits::default() };
    let sandbox = Sandbox::new(limits);
    let slow = "fn solve(g) { let b = g.scale_up(4); loop { b.complete_symmetry(0); } }";
    let start = Instant::now();
    let evals = arcsynth::evaluate::evaluate(&sandbox, &[slow], task);
    let took = start.elapsed();
    assert!(evals[0]
        .train
        .iter()
        .chain(&evals[0].test)
        .all(|r| r.as_ref().is_err_and(|e| e.category == Category::Timeout)));
    // Two threads may each start one run before either times out: two deadlines and slack.
    assert!(took < Duration::from_millis(2 * 300 + 1000), "{took:?} for 12 inputs");
    let start = Instant::now();
    let evals = arcsynth::evaluate::evaluate_until(&sandbox, &[slow, "fn solve(g) { g }"], task, Some(Instant::now()));
    assert!(start.elapsed() < Duration::from_millis(200), "{:?}", start.elapsed());
    assert!(evals.iter().all(|e| e.train.iter().all(|r| r.as_ref().is_err_and(|e| e.message.contains("time budget")))));
}

#[test]
fn the_engine_exposes_only_allowed_functions() {
    // F0: nothing a program calls may block or reach outside (Rhai's `sleep` did). Every
    // function the engine exposes is a DSL primitive, a prelude helper, or on this list
    // of Rhai's arithmetic, logic, string, array, map and function-pointer basics.
    let sandbox = Sandbox::new(Limits::default());
    let dsl: std::collections::BTreeSet<String> =
        arcsynth::dsl::primitives().into_iter().map(|p| p.name.to_string()).collect();
    // `anon$...`: the prelude's closures.
    let unknown: Vec<String> = sandbox
        .function_names()
        .into_iter()
        .filter(|n| !dsl.contains(n) && !n.starts_with("anon$") && !RHAI_ALLOWED.contains(&n.as_str()))
        .collect();
    assert!(unknown.is_empty(), "functions outside the allow-list: {unknown:?}");
    for gone in ["sleep", "parse_json", "timestamp", "exit", "get_fn_metadata_list", "blob"] {
        assert!(!sandbox.function_names().iter().any(|n| n == gone), "{gone} is exposed");
    }
}

#[test]
fn runs_in_parallel_threads_do_not_share_deadlines_or_state() {
    use rayon::prelude::*;
    let sandbox = Sandbox::new(Limits { timeout: Duration::from_millis(300), ..Limits::default() });
    let programs = ["fn solve(g) { loop {} }", "fn solve(g) { g.rotate(1) }"];
    let compiled: Vec<_> = programs.iter().map(|p| sandbox.compile(p).unwrap()).collect();
    let results: Vec<_> = (0..40).into_par_iter().map(|i| sandbox.run(&compiled[i % 2], &input())).collect();
    for (i, r) in results.iter().enumerate() {
        if i % 2 == 0 {
            assert!(r.is_err());
        } else {
            assert_eq!(r.as_ref().unwrap(), &input().transform(arcsynth::grid::Dihedral::Rot90));
        }
    }
}

/// Rhai's library functions a program may call (`SandboxPackage`): arithmetic, logic,
/// bit fields, maths, strings, ranges and iterators, function pointers, arrays, maps.
const RHAI_ALLOWED: &[&str] = &[
    "!",
    "!=",
    "%",
    "&",
    "*",
    "**",
    "+",
    "+=",
    "-",
    "/",
    "<",
    "<<",
    "<=",
    "==",
    ">",
    ">=",
    ">>",
    "E",
    "PI",
    "^",
    "abs",
    "acos",
    "acosh",
    "all",
    "append",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "bits",
    "bytes",
    "ceiling",
    "chars",
    "chop",
    "clear",
    "cos",
    "cosh",
    "debug",
    "dedup",
    "drain",
    "end",
    "ends_with",
    "exp",
    "extract",
    "fill_with",
    "filter",
    "find",
    "find_map",
    "floor",
    "for_each",
    "fraction",
    "get$bits",
    "get$bytes",
    "get$ceiling",
    "get$chars",
    "get$end",
    "get$floor",
    "get$fraction",
    "get$int",
    "get$is_anonymous",
    "get$is_empty",
    "get$is_even",
    "get$is_exclusive",
    "get$is_finite",
    "get$is_inclusive",
    "get$is_infinite",
    "get$is_nan",
    "get$is_odd",
    "get$is_zero",
    "get$len",
    "get$name",
    "get$round",
    "get$start",
    "get_bit",
    "get_bits",
    "hypot",
    "index_of",
    "insert",
    "int",
    "is_anonymous",
    "is_empty",
    "is_even",
    "is_exclusive",
    "is_finite",
    "is_inclusive",
    "is_infinite",
    "is_nan",
    "is_odd",
    "is_zero",
    "keys",
    "len",
    "ln",
    "log",
    "make_lower",
    "make_upper",
    "map",
    "max",
    "min",
    "mixin",
    "name",
    "order",
    "order_by",
    "order_desc",
    "parse_float",
    "parse_int",
    "pop",
    "print",
    "push",
    "range",
    "reduce",
    "reduce_rev",
    "remove",
    "retain",
    "reverse",
    "round",
    "set_bit",
    "set_bits",
    "sign",
    "sin",
    "sinh",
    "some",
    "sort",
    "sort_by",
    "sort_desc",
    "splice",
    "split",
    "split_rev",
    "sqrt",
    "start",
    "starts_with",
    "sub_string",
    "tan",
    "tanh",
    "to_binary",
    "to_blob",
    "to_chars",
    "to_debug",
    "to_degrees",
    "to_float",
    "to_hex",
    "to_int",
    "to_json",
    "to_lower",
    "to_octal",
    "to_radians",
    "to_string",
    "to_upper",
    "truncate",
    "values",
    "zip",
    "|",
];

/// Rhai expressions of each parameter type the DSL's primitives take: ordinary values and
/// the extremes (empty and 120x120 grids, the ends of i64, unknown words, odd maps).
fn argument_pool(ty: &str) -> &'static [&'static str] {
    match ty.trim_start_matches("&mut ") {
        "Grid" => &[
            "g",
            "grid(1, 1, 0)",
            "grid(30, 30, 5)",
            "grid_fn(30, 30, |r, c| (r * 7 + c * 3) % 10)",
            "grid(120, 120, 0)",
            "grid_fn(120, 120, |r, c| (r / 3 + c / 5) % 10)",
        ],
        "i64" => &["0", "1", "-1", "2", "9", "10", "30", "1000", "9223372036854775807", "-9223372036854775808"],
        "&str" => {
            &["\"\"", "\"h\"", "\"hv\"", "\"diagonal\"", "\"all\"", "\"up\"", "\"n,ray_e,col,row_mod3\"", "\"zz,,z\""]
        }
        "Array" => &["[]", "[[1, 0], [0, 1]]", "[1, 2, 3]", "[\"x\"]", "[[]]", "[\"0\", \"1,2\"]"],
        "Map" => &[
            "#{}",
            "#{\"1\": 5}",
            "#{\"1\": 99}",
            "#{diagonal: true, multicolor: true, background: -1}",
            "#{background: 12, diagonal: 3}",
            "#{\"x\": \"y\"}",
        ],
        "Obj" => &["g.as_object()", "g.color_object(7)", "grid(30, 30, 5).as_object()", "g.objects()[0]"],
        "FnPtr" => &["|r, c| r + c", "|x| x", "|a| 99", "|a, b| -1", "|x| x.size()"],
        other => panic!("no argument pool for parameter type {other}"),
    }
}

/// The probe of #24 for every primitive: each signature the engine registers is called
/// with many combinations of ordinary and extreme arguments (about 7,000 calls). Every
/// call must end as a value or an error the sandbox names, never a panic, within the
/// deadline plus slack, and the process stays under 1 GB.
#[test]
fn every_primitive_survives_extreme_arguments() {
    let mut engine = rhai::Engine::new_raw();
    arcsynth::dsl::register(&mut engine);
    let meta: serde_json::Value = serde_json::from_str(&engine.gen_fn_metadata_to_json(false).unwrap()).unwrap();
    let mut calls = Vec::new();
    for f in meta["functions"].as_array().unwrap() {
        if f["docComments"].as_array().is_none_or(|d| d.is_empty()) {
            continue; // operators and conversions, not primitives
        }
        let name = f["name"].as_str().unwrap();
        let types: Vec<&str> = f["params"].as_array().unwrap().iter().map(|p| p["type"].as_str().unwrap()).collect();
        let pools: Vec<&[&str]> = types.iter().map(|t| argument_pool(t)).collect();
        let method = types.first().is_some_and(|t| t.starts_with("&mut "));
        // Every combination where there are few; else a spread of them (each parameter
        // stepping through its pool at a different rate) and the all-extreme ones.
        let all: usize = pools.iter().map(|p| p.len()).product();
        let picks: Vec<Vec<usize>> = if all <= 120 {
            (0..all)
                .map(|mut k| {
                    pools
                        .iter()
                        .map(|p| {
                            let i = k % p.len();
                            k /= p.len();
                            i
                        })
                        .collect()
                })
                .collect()
        } else {
            (0..120)
                .map(|k: usize| {
                    pools.iter().enumerate().map(|(i, p)| (k * (2 * i + 1) + k / 7 * i) % p.len()).collect()
                })
                .chain(
                    (0..pools.iter().map(|p| p.len()).max().unwrap())
                        .map(|k| pools.iter().map(|p| k % p.len()).collect()),
                )
                .collect()
        };
        for pick in picks {
            let args: Vec<&str> = pick.iter().zip(&pools).map(|(&i, p)| p[i]).collect();
            let call = if method {
                format!("({}).{name}({})", args[0], args[1..].join(", "))
            } else {
                format!("{name}({})", args.join(", "))
            };
            calls.push(format!("fn solve(g) {{ let r = {call}; g }}"));
        }
    }
    assert!(calls.len() >= 5000, "{} calls", calls.len());
    let sandbox = Sandbox::new(Limits { timeout: Duration::from_millis(250), ..Limits::default() });
    // One thread: rayon's pool is shared with tests that time the evaluator.
    let failures: Vec<String> = calls
        .iter()
        .filter_map(|src| {
            let start = Instant::now();
            let r = sandbox.run_source(src, &input());
            let took = start.elapsed();
            let bad = match &r {
                Err(e) if e.message.contains("panicked") => Some(format!("panicked: {}", e.message)),
                Err(e) if e.category == Category::ParseError => Some(format!("does not parse: {}", e.message)),
                _ if took > Duration::from_secs(3) => Some(format!("took {took:?}")),
                _ => None,
            };
            bad.map(|why| format!("{src}: {why}"))
        })
        .collect();
    assert!(failures.is_empty(), "{} of {} calls:\n{}", failures.len(), calls.len(), failures.join("\n"));
    if let Some(mib) = peak_rss_mib() {
        assert!(mib < 1024, "peak RSS {mib} MiB");
    }
}
