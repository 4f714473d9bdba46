use std::time::Instant;
use arcsynth::sandbox::{Limits, Sandbox};
use arcsynth::grid::Grid;
use rhai::{Engine, Scope, CallFnOptions, Dynamic};
fn bench(name: &str, f: impl Fn()) { let n = 200000; let t = Instant::now(); for _ in 0..n { f() } println!("{name}: {:.2} us", t.elapsed().as_secs_f64()*1e6/n as f64); }
fn main() {
    let sb = Sandbox::new(Limits::default());
    let g = Grid::from_text("123\n456\n789").unwrap();
    for src in ["fn solve(g) { g }", "fn solve(g) { g.rotate(2) }", "fn solve(g) { rotate(g, 2) }", "fn solve(g) { g.rotate(2).rotate(2).rotate(2) }", "fn solve(g) { g.rows() }"] {
        let p = sb.compile(src).unwrap();
        bench(&format!("sandbox {src}"), || { std::hint::black_box(sb.run(&p, &g).ok()); });
    }
    let mut e = Engine::new_raw();
    arcsynth::dsl::register(&mut e);
    for src in ["fn solve(g) { g }", "fn solve(g) { g.rotate(2) }", "fn solve(g) { g.rotate(2).rotate(2).rotate(2) }"] {
        let ast = e.compile(src).unwrap();
        bench(&format!("raw {src}"), || { std::hint::black_box(e.call_fn_with_options::<Dynamic>(CallFnOptions::new().eval_ast(false), &mut Scope::new(), &ast, "solve", (g.clone(),)).unwrap()); });
    }
    bench("native rotate", || { std::hint::black_box(arcsynth::dsl::ops::rotate(&g, 2)); });
}
