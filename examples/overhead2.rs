use arcsynth::sandbox::{Limits, Sandbox};
use arcsynth::grid::Grid;
use std::time::Instant;
fn main() {
    let g = Grid::from_text("123\n456\n789").unwrap();
    let src = "fn solve(g) { g.rotate(2).flip_h() }";
    let n = 300000;
    let shared = Sandbox::new(Limits::default());
    let p = shared.compile(src).unwrap();
    let t = Instant::now();
    for _ in 0..n { std::hint::black_box(shared.run(&p, &g).ok()); }
    println!("1 thread: {:.0}/s", n as f64 / t.elapsed().as_secs_f64());
    let t = Instant::now();
    std::thread::scope(|s| { for _ in 0..2 { s.spawn(|| for _ in 0..n { std::hint::black_box(shared.run(&p, &g).ok()); }); } });
    println!("2 threads shared sandbox+program: {:.0}/s", 2.0 * n as f64 / t.elapsed().as_secs_f64());
    let t = Instant::now();
    std::thread::scope(|s| { for _ in 0..2 { s.spawn(|| { let sb = Sandbox::new(Limits::default()); let p = sb.compile(src).unwrap(); for _ in 0..n { std::hint::black_box(sb.run(&p, &g).ok()); } }); } });
    println!("2 threads own sandbox+program: {:.0}/s", 2.0 * n as f64 / t.elapsed().as_secs_f64());
    let t = Instant::now();
    std::thread::scope(|s| { for _ in 0..2 { s.spawn(|| { let p = shared.compile(src).unwrap(); for _ in 0..n { std::hint::black_box(shared.run(&p, &g).ok()); } }); } });
    println!("2 threads shared sandbox, own program: {:.0}/s", 2.0 * n as f64 / t.elapsed().as_secs_f64());
}
