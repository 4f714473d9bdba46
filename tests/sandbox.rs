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
        // F1: one call of a slow primitive (~0.85 s each before it checked the deadline).
        ("fn solve(g) { let b = grid(120, 120, 0); for i in 0..8 { b.complete_pattern(0); } g }", &[Timeout]),
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
    let limits = Limits { timeout: Duration::from_secs(30), max_operations: 0, max_memory: 64 << 20, ..Limits::default() };
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
    assert!(evals[0].train.iter().chain(&evals[0].test).all(|r| r.as_ref().is_err_and(|e| e.category == Category::Timeout)));
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
    let dsl: std::collections::BTreeSet<String> = arcsynth::dsl::primitives().into_iter().map(|p| p.name.to_string()).collect();
    // `anon$...`: the prelude's closures.
    let unknown: Vec<String> =
        sandbox.function_names().into_iter().filter(|n| !dsl.contains(n) && !n.starts_with("anon$") && !RHAI_ALLOWED.contains(&n.as_str())).collect();
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

/// The fast path must answer exactly as Rhai's evaluator does: every reference solution
/// on every pair of its task, and the hostile corpus, give the same result both ways.
#[test]
fn the_fast_path_answers_as_rhai_does() {
    let sandbox = Sandbox::new(Limits { timeout: Duration::from_millis(500), ..Limits::default() });
    let dir = common::training_dir();
    let mut lowered = 0;
    let mut not_lowered = Vec::new();
    let mut runs = 0;
    let mut missed = Vec::new();
    for (id, source) in arcsynth::prompt::Library::reference_solutions() {
        let program = sandbox.compile(source).unwrap();
        match program.not_lowered_because() {
            None => lowered += 1,
            Some(why) => not_lowered.push(format!("{id}: {why}")),
        }
        let task = arcsynth::task::load_one(&dir, id).unwrap();
        for g in task.train.iter().map(|e| &e.input).chain(task.test.iter().map(|t| &t.input)) {
            let before = arcsynth::sandbox::fast_path_misses();
            assert_eq!(sandbox.run(&program, g), sandbox.run_reference(&program, g), "{id}");
            if arcsynth::sandbox::fast_path_misses() > before {
                missed.push(id);
            }
            runs += 1;
        }
    }
    eprintln!("{lowered} reference solutions lowered, {runs} runs compared");
    assert!(not_lowered.is_empty(), "not lowered:\n{}", not_lowered.join("\n"));
    // Reference solutions run without error, so the fast path needs Rhai for none of them.
    assert!(missed.is_empty(), "handed to Rhai: {missed:?}");
    for (src, _) in CORPUS.iter().filter(|(_, c)| !c.contains(&Category::Timeout)) {
        let Ok(program) = sandbox.compile(src) else { continue };
        let fast = sandbox.run(&program, &input()).map_err(|e| e.category);
        let reference = sandbox.run_reference(&program, &input()).map_err(|e| e.category);
        // Some entries take a few hundred ms of the 1 s deadline; on a loaded machine
        // either run may time out, which says how busy the machine was, not what the
        // program means.
        if fast != Err(Category::Timeout) && reference != Err(Category::Timeout) {
            assert_eq!(fast, reference, "{src}");
        }
    }
}

/// Corners of Rhai's semantics the fast path must reproduce (or leave to Rhai): by-reference
/// first arguments, `this`, shared captures, shadowing, loops, indexing, operators.
const SEMANTICS: &[&str] = &[
    "fn solve(g) { let out = grid(2, 2, 0); set(out, 0, 0, 5); out }",
    "fn solve(g) { let a = [1]; push(a, 2); grid(1, a.len(), 0) }",
    "fn h(x) { x.set(0, 0, 7); 1 } fn solve(g) { let out = grid(2, 2, 0); let z = h(out); out }",
    "fn h() { this.set(0, 0, 7); 1 } fn solve(g) { let out = grid(2, 2, 0); let z = out.h(); out }",
    "fn solve(g) { let b = [grid(2, 2, 0)]; b[0].set(0, 0, 3); b[0] }",
    "fn solve(g) { let out = grid(2, 2, 0); let f = |r, c| out.get(r, c) + 1; out.set(0, 0, 3); grid_fn(2, 2, f) }",
    "fn solve(g) { let out = grid(2, 2, 1); let f = |r, c| out.get(r, c) + 1; let z = f.call(0, 0); out.set(0, 0, z); out }",
    "fn solve(g) { let n = 0; for o in g.objects() { n += g.objects().filter(|x| x.color() == o.color()).len(); } grid(1, n % 9 + 1, 0) }",
    "fn solve(g) { let fs = []; for i in 0..3 { fs.push(|x| x + i); } grid(1, 1, fs[0].call(1)) }",
    "fn solve(g) { let x = 1; let f = |y| x + y; let x = 5; grid(1, 1, f.call(1) + x) }",
    "fn solve(g) { let q = [g, g.rotate(1)]; let n = q.filter(|x| x == g).len(); q[n - 1] }",
    "fn solve(g) { let m = #{a: 1}; let v = m[\"b\"]; grid(1, 1, if v == () { 3 } else { 4 }) }",
    "fn solve(g) { let a = [1, 2, 3]; grid(1, 1, a[-1]) }",
    "fn solve(g) { let s = `${g.rows()}-${'x'}-${true}-${g}`; grid(1, 1, s.len() % 10) }",
    "fn solve(g) { let x = 9223372036854775807; grid(1, 1, x + 1) }",
    "fn solve(g) { grid(1, 1, 5 / (g.rows() - g.rows())) }",
    "fn solve(g) { let i = 0; do { i += 2; } until i > 5; let j = 0; while true { j += 1; if j < 3 { continue; } break; } loop { i += 1; if i > 8 { break; } } grid(1, 1, (i + j) % 10) }",
    "fn solve(g) { let t = 0; for (x, i) in [5, 6, 7] { t += x * i; } for k in 3..=5 { t += k; } for k in 5..2 { t += 100; } grid(1, 1, t % 10) }",
    "fn solve(g) { let a = [1, 2]; a[1] += 2; let m = #{x: 1}; m.x = 3; m[\"y\"] = 4; grid(1, 1, a[1] + m.x + m.y) }",
    "fn solve(g) { const c = [3]; c.push(4); grid(1, 1, c.len()) }",
    "fn solve(g) { let k = 2; grid_fn(2, 2, |r, c| [r, c].filter(|v| v + k > 2).len()) }",
    "fn f(n) { if n < 2 { n } else { f(n - 1) + f(n - 2) } } fn solve(g) { grid(1, 1, f(10) % 10) }",
    "fn solve(g) { grid(1, g.row(0).len(), 0) }",
    "fn solve(g) { let one = g.rows() - 2; if one && true { g } else { g } }",
    "fn solve(g) { grid(1, 1, if 2 in [1, 2] { 1 } else { 0 }) }",
    "fn solve(g) { switch g.rows() { 3 => g, _ => g.rotate(1) } }",
    "fn solve(g) { grid(1, 1, if \"abc\"[1] == 'b' { 1 } else { 2 }) }",
    "fn solve(g) { grid(1, g.objects().filter(|o| o.size() > 1).len() + 1, 0) }",
    "fn solve(g) { let objs = g.objects(); objs.largest().to_grid().hcat(largest(objs).to_grid()) }",
    "fn largest(objs) { objs[0] } fn solve(g) { largest(g.objects()).to_grid() }",
    "fn rotate(g) { g } fn solve(g) { rotate(g).vcat(g.rotate(1)) }",
    "fn solve(g) { let a = [3, 1, 2]; a.sort(); let b = a.map(|x| x * 2); grid(1, 1, b[0] + a[2]) }",
    "fn solve(g) { let a = g; a.set(0, 0, 9); let b = g; b }",
    "fn solve(g) { let out = g; for r in 0..g.rows() { out = out.set_row(r); } out }",
    "fn solve(g) { let x = 1.5; grid(1, 1, (x * 2.0).to_int()) }",
    "fn solve(g) { let out = g; out.set(0, 0, 1); out.set(0, 1, out.get(0, 0) + 1); out }",
    "fn solve(g) { let f = |o| o.size(); g.objects().max_by(f).to_grid() }",
    "fn solve(g) { let c = g.most_common(); g.map_cells(|v| if v == c { 0 } else { v }) }",
    "fn solve(g) { let a = []; for i in 0..6000 { a.push(i); } g }",
    "fn solve(g) { let s = \"ab\"; for i in 0..20 { s += s; } g }",
    "fn solve(g) { let a = [1, 2, 3, 4]; grid(1, a.filter(|x, i| i > 1).len() + a.map(|x| x * 2)[3] + 1, 0) }",
    "fn solve(g) { let a = [1, 2, 3]; let n = 0; if a.all(|x| x) { n += 1; } if a.some(|x| x > 2) { n += 2; } if a.all(|x| x > 0) { n += 4; } grid(1, n + 1, 0) }",
    "fn solve(g) { let k = 1; let a = [1, 2, 3].map(|x| |y| x + y + k); grid(1, a[2].call(1), 0) }",
    "fn solve(g) { let n = 0; if [1, 2, 3].contains(2) { n += 1; } if [1, \"a\", 2].contains(2) { n += 2; } if [1, 2].contains(\"x\") { n += 4; } grid(1, 1, n) }",
    // Integer ranges (bounds, counters, a loop variable changed in its body) and a `let`
    // of a comparison, which the in-place integer paths must leave to the general form.
    "fn solve(g) { let t = 0; for i in -3..=-1 { t += i; } for (x, i) in 4..7 { t += x * i; } for i in 0..0 { t += 50; } for i in 2..=1 { t += 70; } for i in 0..3 { i = 5; t += i; } let b = g.get(0, 0) >= 0; if b { t += 1; } grid(1, 1, (t + 100) % 10) }",
    // Objects and grids read out of arrays are copies, and go back into arrays whole.
    "fn solve(g) { let a = []; for o in g.objects() { a.push(o); } let o = a[0]; let p = o; let f = |x| o.size() + x; let h = [g, g.rotate(1)]; let k = h[0]; k.set(0, 0, 9); h[1].set(0, 0, 8); grid(1, 1, (f.call(p.size()) + a.len() + h[0].get(0, 0) + h[1].get(0, 0) + k.get(0, 0)) % 10) }",
    // Integer expressions whose variables hold strings, floats, grids or booleans (the
    // pure form gives up and the general one answers), and a cell read outside the grid.
    "fn solve(g) { let a = \"ab\"; let b = \"c\"; let h = g; let x = 1.5; let y = 2.0; let t = true; let n = 0; if g == h && t { n += 1; } if t && g.rows() > 1 && !(g.get(-1, 99) != -1) { n += 2; } grid(1, (a + b).len() + (x * y).to_int() + n, 0) }",
];

#[test]
fn the_fast_path_keeps_rhai_semantics() {
    let sandbox = Sandbox::new(Limits { timeout: Duration::from_millis(500), ..Limits::default() });
    let mut lowered = 0;
    for src in SEMANTICS {
        let program = sandbox.compile(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        lowered += program.is_lowered() as usize;
        assert_eq!(sandbox.run(&program, &input()), sandbox.run_reference(&program, &input()), "{src}");
    }
    // Everything but `switch` and the escaping loop closure is lowered.
    assert_eq!(lowered, SEMANTICS.len() - 2);
}

/// The enumerator's programs (every transform it proposes, on every fifth training task)
/// answer the same on the fast path as on Rhai's evaluator, errors included.
#[test]
fn enumerated_programs_answer_as_rhai_does() {
    let sandbox = Sandbox::new(Limits { timeout: Duration::from_millis(500), ..Limits::default() });
    let tasks = arcsynth::task::load(&common::training_dir()).unwrap().tasks;
    let (mut programs, mut runs) = (0, 0);
    for task in tasks.iter().step_by(5) {
        for op in arcsynth::enumerate::transforms(task) {
            let source = arcsynth::enumerate::program(std::slice::from_ref(&op));
            let program = sandbox.compile(&source).unwrap();
            assert!(program.is_lowered(), "{source}: {:?}", program.not_lowered_because());
            programs += 1;
            for e in &task.train {
                assert_eq!(sandbox.run(&program, &e.input), sandbox.run_reference(&program, &e.input), "{}: {source}", task.id);
                runs += 1;
            }
        }
    }
    eprintln!("{programs} enumerated programs, {runs} runs compared");
    assert!(programs > 1000, "{programs}");
}

/// Rhai's library functions a program may call (`SandboxPackage`): arithmetic, logic,
/// bit fields, maths, strings, ranges and iterators, function pointers, arrays, maps.
const RHAI_ALLOWED: &[&str] = &[
    "!", "!=", "%", "&", "*", "**", "+", "+=", "-", "/", "<", "<<", "<=", "==", ">", ">=", ">>",
    "E", "PI", "^", "abs", "acos", "acosh", "all", "append", "asin", "asinh", "atan", "atanh",
    "bits", "bytes", "ceiling", "chars", "chop", "clear", "cos", "cosh", "debug", "dedup", "drain",
    "end", "ends_with", "exp", "extract", "fill_with", "filter", "find", "find_map", "floor",
    "for_each", "fraction", "get$bits", "get$bytes", "get$ceiling", "get$chars", "get$end",
    "get$floor", "get$fraction", "get$int", "get$is_anonymous", "get$is_empty", "get$is_even",
    "get$is_exclusive", "get$is_finite", "get$is_inclusive", "get$is_infinite", "get$is_nan",
    "get$is_odd", "get$is_zero", "get$len", "get$name", "get$round", "get$start", "get_bit",
    "get_bits", "hypot", "index_of", "insert", "int", "is_anonymous", "is_empty", "is_even",
    "is_exclusive", "is_finite", "is_inclusive", "is_infinite", "is_nan", "is_odd", "is_zero",
    "keys", "len", "ln", "log", "make_lower", "make_upper", "map", "max", "min", "mixin", "name",
    "order", "order_by", "order_desc", "parse_float", "parse_int", "pop", "print", "push", "range",
    "reduce", "reduce_rev", "remove", "retain", "reverse", "round", "set_bit", "set_bits", "sign",
    "sin", "sinh", "some", "sort", "sort_by", "sort_desc", "splice", "split", "split_rev", "sqrt",
    "start", "starts_with", "sub_string", "tan", "tanh", "to_binary", "to_blob", "to_chars",
    "to_debug", "to_degrees", "to_float", "to_hex", "to_int", "to_json", "to_lower", "to_octal",
    "to_radians", "to_string", "to_upper", "truncate", "values", "zip", "|",
];
