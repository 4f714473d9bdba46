//! Runs a [`Lowered`] program: the sandbox's fast path.
//!
//! Values are [`Val`]s: grids unboxed, everything else Rhai's `Dynamic`. Primitives run
//! through the typed adapters build.rs generates from their signatures (the same Rust
//! functions Rhai's plugin calls), or through the plugin itself where an adapter cannot
//! be written, so results are Rhai's. What is saved is Rhai's per-node overhead: no name
//! or hash lookups, no scope searches, integer arithmetic and comparisons done inline,
//! and no boxing of grids. Anything else (floats, strings, the standard library) goes
//! through Rhai's dispatch.
//!
//! **Invariant:** a run returns `Ok` only with the value Rhai's evaluator would return.
//! Every error is either a timeout (which Rhai's evaluator, being slower, would also hit)
//! or a signal for the caller to run the program with Rhai's evaluator, which then
//! reports its own result. The operation limit is the one place the two can differ:
//! this module counts statements, loop iterations and calls, Rhai also counts every
//! expression (but not what closures called from natives do), so a run that Rhai would
//! stop at the limit can finish here, while a run that exceeds this module's count is
//! decided by Rhai.

use std::cell::Cell;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

use smallvec::SmallVec;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, GlobalRuntimeState, Map, NativeCallContext, Position, INT};

use super::lower::{Base, BinOp, Call, Chain, Expr, Fast, Func, Iter, Link, Lowered, Place, Slot, Stmt};
use super::pure::{intrinsic, Compiled};
use crate::dsl::module::{Native, Ty};
use crate::dsl::value::{Flow, Val, R};
use crate::grid::Grid;

/// Limits of one run on this thread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExecLimits {
    pub max_operations: u64,
    pub max_call_levels: usize,
    pub max_array_size: usize,
    pub max_string_size: usize,
    pub max_map_size: usize,
}

struct RunState {
    /// Operations left before the operation limit.
    budget: Cell<u64>,
    /// Whether this run made closures (so `CLOSURES` has something to clear).
    closures: Cell<bool>,
    depth: Cell<usize>,
    limits: Cell<ExecLimits>,
}

thread_local! {
    static STATE: RunState = const {
        RunState {
            budget: Cell::new(0),
            closures: Cell::new(false),
            depth: Cell::new(0),
            limits: Cell::new(ExecLimits { max_operations: 0, max_call_levels: 0, max_array_size: 0, max_string_size: 0, max_map_size: 0 }),
        }
    };
}

/// Standard-library methods that leave their receiver unchanged, so a captured variable
/// may be passed to them by reference.
const PURE_STD: &[&str] = &["len", "is_empty", "contains", "index_of", "filter", "map", "all", "some", "reduce", "find", "to_string", "get"];


/// A function's local variables, parameters first (most DSL functions have a handful).
type Locals = SmallVec<[Val; 8]>;
/// Evaluated arguments of one call or chain.
type Args = SmallVec<[Val; 6]>;
/// Arguments that [`Exec::with_args`] keeps in a fixed array.
const ARGS: usize = 6;

/// Runs `solve(input)`.
pub(crate) fn run(engine: &Engine, prog: &Arc<Lowered>, input: &Grid, limits: &ExecLimits) -> Result<Val, Box<EvalAltResult>> {
    STATE.with(|s| {
        s.budget.set(limits.max_operations);
        s.depth.set(0);
        s.limits.set(*limits);
    });
    clear_closures();
    let global = std::cell::OnceCell::new();
    let exec = Exec { engine, global: Global::Lazy(&global), prog };
    let mut args = Locals::new();
    args.push(Val::Grid(input.clone()));
    // The closures go after the result is in place: holding it in a variable across
    // the clearing would copy a value just built, which stalls.
    let _clear = ClearClosures;
    exec.call_script(prog.solve, &mut args, &mut [], None)
}

/// Clears this thread's closures when dropped (the end of a run).
struct ClearClosures;

impl Drop for ClearClosures {
    fn drop(&mut self) {
        clear_closures();
    }
}

/// Forgets the closures of the last run on this thread, if it made any.
fn clear_closures() {
    if STATE.with(|s| s.closures.replace(false)) {
        CLOSURES.with(|c| c.borrow_mut().clear());
    }
}

/// Whether `e` is the one error this module reports itself, the deadline (the rest mean
/// "ask Rhai").
pub(crate) fn is_final(e: &EvalAltResult) -> bool {
    matches!(e, EvalAltResult::ErrorTerminated(..))
}

struct Exec<'a> {
    engine: &'a Engine,
    global: Global<'a>,
    prog: &'a Arc<Lowered>,
}

/// Rhai's runtime state for calls into Rhai: the caller's, or one made at the run's first
/// such call (most runs make none).
#[derive(Clone, Copy)]
enum Global<'a> {
    Given(&'a GlobalRuntimeState),
    Lazy(&'a std::cell::OnceCell<GlobalRuntimeState>),
}

struct Frame<'f> {
    func: &'f Func,
    /// Bit `i`: local `i` is `const` or a closure has captured it (Rhai would share it).
    pinned: u64,
    locals: &'f mut [Val],
    captures: &'f mut [Val],
    this: Option<&'f mut Val>,
}

impl Frame<'_> {
    #[inline(always)]
    fn get(&self, s: Slot) -> &Val {
        match s {
            Slot::Local(i) => &self.locals[i as usize],
            Slot::Capture(i) => &self.captures[i as usize],
        }
    }

    #[inline(always)]
    fn get_mut(&mut self, s: Slot) -> &mut Val {
        match s {
            Slot::Local(i) => &mut self.locals[i as usize],
            Slot::Capture(i) => &mut self.captures[i as usize],
        }
    }

    #[inline]
    fn is_shared(&self, s: Slot) -> bool {
        match s {
            Slot::Local(i) => self.pinned & (1 << i) != 0,
            Slot::Capture(_) => true,
        }
    }

    /// A fresh binding of local `i` (`let`, or the next value of a loop variable).
    #[inline]
    fn rebind(&mut self, i: u32, v: Val) {
        self.locals[i as usize] = v;
        self.pinned &= !(1 << i) | self.func.consts;
    }

    /// [`Frame::rebind`] to an integer, written in place when the local already holds
    /// one: moving a whole `Val` just stored by the caller stalls the load that reads
    /// it back (a store-forwarding stall), and loops do this at every step.
    #[inline(always)]
    fn rebind_int(&mut self, i: u32, n: INT) {
        match &mut self.locals[i as usize] {
            Val::Int(m) => *m = n,
            other => *other = Val::Int(n),
        }
        self.pinned &= !(1 << i) | self.func.consts;
    }
}

#[inline]
fn tick() -> R<()> {
    STATE.with(|s| {
        let left = s.budget.get();
        s.budget.set(left.wrapping_sub(1));
        // Checking the clock on every operation would cost more than the operation.
        if left % 256 == 0 {
            return clock_or_limit(left);
        }
        Ok(())
    })
}

#[cold]
fn clock_or_limit(left: u64) -> R<()> {
    if left == 0 {
        return Err(Flow::Err(EvalAltResult::ErrorTooManyOperations(Position::NONE).into()));
    }
    if let Err(stop) = crate::watchdog::check() {
        return Err(Flow::Err(EvalAltResult::ErrorTerminated(stop.token().into(), Position::NONE).into()));
    }
    Ok(())
}

/// Rhai's data-size limits, counted the way Rhai counts them: array elements and map
/// entries at every nesting level, and string lengths.
fn check_size(v: &Val) -> R<()> {
    match v {
        Val::Dyn(d) => check_dynamic_size(d),
        _ => Ok(()),
    }
}

fn check_dynamic_size(v: &Dynamic) -> R<()> {
    fn count(v: &Dynamic, sizes: &mut (usize, usize, usize)) {
        if let Some(a) = v.read_lock::<Array>() {
            sizes.0 += a.len();
            a.iter().filter(|x| x.is_array() || x.is_map() || x.is_string()).for_each(|x| count(x, sizes));
        } else if let Some(m) = v.read_lock::<Map>() {
            sizes.1 += m.len();
            m.values().filter(|x| x.is_array() || x.is_map() || x.is_string()).for_each(|x| count(x, sizes));
        } else if let Ok(s) = v.as_immutable_string_ref() {
            sizes.2 += s.len();
        }
    }
    if !(v.is_array() || v.is_map() || v.is_string()) {
        return Ok(());
    }
    let mut sizes = (0, 0, 0);
    count(v, &mut sizes);
    let l = STATE.with(|s| s.limits.get());
    if sizes.0 > l.max_array_size || sizes.1 > l.max_map_size || sizes.2 > l.max_string_size {
        return Err("data too large".into());
    }
    Ok(())
}

/// An operand of an operator: integers stay unboxed.
enum Operand {
    Int(INT),
    Val(Val),
}

impl Operand {
    fn of(v: Val) -> Operand {
        match v.as_int() {
            Ok(n) => Operand::Int(n),
            Err(_) => Operand::Val(v),
        }
    }

    fn into_val(self) -> Val {
        match self {
            Operand::Int(n) => Val::Int(n),
            Operand::Val(v) => v,
        }
    }
}

/// Rhai's integer operators (checked arithmetic); `None` for the others.
fn int_op(op: &BinOp, x: INT, y: INT) -> Option<R<Operand>> {
    let overflow = || Flow::from("integer overflow");
    let bool = |b: bool| Ok(Operand::Val(Val::Bool(b)));
    Some(match op {
        BinOp::Add => x.checked_add(y).map(Operand::Int).ok_or_else(overflow),
        BinOp::Sub => x.checked_sub(y).map(Operand::Int).ok_or_else(overflow),
        BinOp::Mul => x.checked_mul(y).map(Operand::Int).ok_or_else(overflow),
        BinOp::Div => x.checked_div(y).map(Operand::Int).ok_or_else(overflow),
        BinOp::Rem => x.checked_rem(y).map(Operand::Int).ok_or_else(overflow),
        BinOp::Eq => bool(x == y),
        BinOp::Ne => bool(x != y),
        BinOp::Lt => bool(x < y),
        BinOp::Le => bool(x <= y),
        BinOp::Gt => bool(x > y),
        BinOp::Ge => bool(x >= y),
        BinOp::Other(_) => return None,
    })
}

fn as_bool(v: &Val) -> R<bool> {
    v.as_bool().map_err(|_| "condition is not a bool".into())
}

/// Rhai's array index: negative counts from the end.
fn array_index(len: usize, key: &Dynamic) -> R<usize> {
    let i = key.as_int().map_err(|_| Flow::from("not an integer"))?;
    let j = if i < 0 { len as INT + i } else { i };
    if j < 0 || j >= len as INT {
        return Err("index out of bounds".into());
    }
    Ok(j as usize)
}

impl Exec<'_> {
    fn global(&self) -> &GlobalRuntimeState {
        match self.global {
            Global::Given(g) => g,
            Global::Lazy(cell) => cell.get_or_init(|| self.engine.new_global_runtime_state()),
        }
    }

    fn ctx<'c>(&'c self, name: &'c str) -> NativeCallContext<'c> {
        NativeCallContext::new_with_all_fields(self.engine, name, None, self.global(), Position::NONE)
    }

    fn call_script(&self, f: usize, args: &mut Locals, captures: &mut [Val], this: Option<&mut Val>) -> Result<Val, Box<EvalAltResult>> {
        let func = &self.prog.fns[f];
        if args.len() != func.params || captures.len() != func.captures {
            return Err(format!("{} takes {} arguments", func.name, func.params).into());
        }
        let deeper = STATE.with(|s| {
            let d = s.depth.get() + 1;
            s.depth.set(d);
            d <= s.limits.get().max_call_levels
        });
        let result = if deeper {
            let missing = func.locals.saturating_sub(args.len());
            args.extend(std::iter::repeat_with(Val::default).take(missing));
            let mut frame = Frame { func, pinned: func.consts, locals: args, captures, this };
            tick().and_then(|()| self.fn_body(&mut frame, &func.body))
        } else {
            Err(Flow::from("calls nested too deep"))
        };
        STATE.with(|s| s.depth.set(s.depth.get() - 1));
        match result {
            Ok(v) => Ok(v),
            Err(Flow::Return(v)) => Ok(*v),
            Err(Flow::Err(e)) => Err(e),
            Err(Flow::Break | Flow::Continue) => Err("break or continue outside a loop".into()),
        }
    }

    /// A block's value: its last statement's.
    fn block(&self, fr: &mut Frame, b: &[Stmt]) -> R<Val> {
        let Some((last, init)) = b.split_last() else { return Ok(Val::Unit) };
        for s in init {
            self.exec(fr, s)?;
        }
        self.stmt(fr, last)
    }

    /// A function body's value. A local variable that ends it (or that `return` gives)
    /// is moved out rather than cloned: the frame ends with it.
    fn fn_body(&self, fr: &mut Frame, b: &[Stmt]) -> R<Val> {
        let Some((last, init)) = b.split_last() else { return Ok(Val::Unit) };
        for s in init {
            self.exec(fr, s)?;
        }
        match last {
            Stmt::Expr(Expr::Slot(Slot::Local(i))) => {
                tick()?;
                Ok(std::mem::take(&mut fr.locals[*i as usize]))
            }
            s => self.stmt(fr, s),
        }
    }

    /// A block run for its effects only (a loop body, a branch of an `if` whose value
    /// is not used).
    fn run_block(&self, fr: &mut Frame, b: &[Stmt]) -> R<()> {
        for s in b {
            self.exec(fr, s)?;
        }
        Ok(())
    }

    /// Runs a loop body: `Ok(true)` to go on, `Ok(false)` on `break`.
    fn body(&self, fr: &mut Frame, b: &[Stmt]) -> R<bool> {
        tick()?;
        match self.run_block(fr, b) {
            Ok(()) | Err(Flow::Continue) => Ok(true),
            Err(Flow::Break) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A statement's value (the last of a block): an expression's, or a block's, `()`
    /// for the others.
    fn stmt(&self, fr: &mut Frame, s: &Stmt) -> R<Val> {
        match s {
            Stmt::Expr(e) => {
                tick()?;
                self.stmt_value(fr, e)
            }
            Stmt::If(c, then, other) => {
                tick()?;
                if self.cond(fr, c)? {
                    self.block(fr, then)
                } else {
                    self.block(fr, other)
                }
            }
            Stmt::Block(b) => {
                tick()?;
                self.block(fr, b)
            }
            other => self.exec(fr, other).map(|()| Val::Unit),
        }
    }

    /// [`Exec::eval`] of the value a `let`, an assignment or a block's last line
    /// computes, calling `chain` without `eval`'s dispatch for the commonest one,
    /// `variable.primitive(..)`.
    #[inline(always)]
    fn stmt_value(&self, fr: &mut Frame, e: &Expr) -> R<Val> {
        match e {
            Expr::Chain(c) => self.chain(fr, c),
            e => self.eval(fr, e),
        }
    }

    /// A statement run for its effects.
    fn exec(&self, fr: &mut Frame, s: &Stmt) -> R<()> {
        tick()?;
        match s {
            Stmt::Let(slot, e) => {
                if let Expr::Fast(f) = e {
                    if let Some(n) = fast_int(fr, f) {
                        fr.rebind_int(*slot, n);
                        return Ok(());
                    }
                }
                let v = self.stmt_value(fr, e)?;
                fr.rebind(*slot, v);
            }
            Stmt::Expr(e) => {
                self.eval(fr, e)?;
            }
            Stmt::If(c, then, other) => {
                // A compiled comparison is answered here, without a call to `cond`.
                let fast = match c {
                    Expr::Fast(f) => fast_bool(fr, f),
                    _ => None,
                };
                let yes = match fast {
                    Some(b) => b,
                    None => self.cond(fr, c)?,
                };
                return if yes { self.run_block(fr, then) } else { self.run_block(fr, other) };
            }
            Stmt::Assign(place, e) => {
                let v = self.stmt_value(fr, e)?;
                if place.path.is_empty() {
                    *self.variable(fr, place)? = v;
                } else {
                    self.assign_path(fr, place, v)?;
                }
            }
            other => self.exec_rare(fr, other)?,
        }
        Ok(())
    }

    /// The statements other than `let`, assignments, expressions and `if`, out of line
    /// so that [`Exec::exec`], which loop bodies run, stays small.
    #[inline(never)]
    fn exec_rare(&self, fr: &mut Frame, s: &Stmt) -> R<()> {
        match s {
            Stmt::Let(..) | Stmt::Expr(_) | Stmt::If(..) | Stmt::Assign(..) => unreachable!("exec runs these"),
            Stmt::OpAssign(place, op, e) => self.op_assign(fr, place, op, e)?,
            Stmt::While(c, b) => loop {
                if let Some(c) = c {
                    if !self.cond(fr, c)? {
                        break;
                    }
                }
                if !self.body(fr, b)? {
                    break;
                }
            },
            Stmt::Do(b, c, until) => loop {
                if !self.body(fr, b)? {
                    break;
                }
                if self.cond(fr, c)? == *until {
                    break;
                }
            },
            Stmt::For { var, counter, iter, body } => self.for_loop(fr, *var, *counter, iter, body)?,
            Stmt::Break => return Err(Flow::Break),
            Stmt::Continue => return Err(Flow::Continue),
            Stmt::Return(e) => {
                let v = match e {
                    Some(Expr::Slot(Slot::Local(i))) => std::mem::take(&mut fr.locals[*i as usize]),
                    Some(e) => self.eval(fr, e)?,
                    None => Val::Unit,
                };
                return Err(Flow::Return(Box::new(v)));
            }
            Stmt::Block(b) => return self.run_block(fr, b),
        }
        Ok(())
    }

    #[inline(never)]
    fn assign_path(&self, fr: &mut Frame, place: &Place, v: Val) -> R<()> {
        let mut v = Some(v.into_dynamic());
        self.at_place(fr, place, true, &mut |t| {
            *t = v.take().ok_or_else(|| Flow::from("one assignment, two places"))?;
            Ok(())
        })
    }

    #[inline(never)]
    fn op_assign(&self, fr: &mut Frame, place: &Place, op: &BinOp, e: &Expr) -> R<()> {
        let rhs = self.eval(fr, e)?;
        if place.path.is_empty() {
            let t = self.variable(fr, place)?;
            let new = self.binary(op, std::mem::take(t), rhs)?;
            check_size(&new)?;
            *t = new;
            Ok(())
        } else {
            self.at_place(fr, place, false, &mut |t| {
                let new = self.binary(op, Val::from_dynamic(std::mem::take(t)), rhs.clone())?.into_dynamic();
                check_dynamic_size(&new)?;
                *t = new;
                Ok(())
            })
        }
    }

    fn for_loop(&self, fr: &mut Frame, var: u32, counter: Option<u32>, iter: &Iter, body: &[Stmt]) -> R<()> {
        // Rebinding is exact here: lowering lets only closures that cannot outlive an
        // iteration capture a loop variable.
        let mut step = |fr: &mut Frame, i: usize, v: Val| -> R<bool> {
            fr.rebind(var, v);
            if let Some(c) = counter {
                fr.rebind(c, Val::Int(i as INT));
            }
            self.body(fr, body)
        };
        let ints = |fr: &mut Frame, step: &mut dyn FnMut(&mut Frame, usize, Val) -> R<bool>, range: &mut dyn Iterator<Item = INT>| -> R<()> {
            for (i, x) in range.enumerate() {
                if !step(fr, i, Val::Int(x))? {
                    break;
                }
            }
            Ok(())
        };
        match iter {
            Iter::Range(a, b, inclusive) => {
                let a = self.int(fr, a)?;
                let b = self.int(fr, b)?;
                // The commonest loop, with its variables rebound in place.
                let end = if *inclusive { b } else { b.saturating_sub(1) };
                if !*inclusive && b == INT::MIN {
                    return Ok(());
                }
                let mut x = a;
                while x <= end {
                    fr.rebind_int(var, x);
                    if let Some(c) = counter {
                        fr.rebind_int(c, x.wrapping_sub(a));
                    }
                    if !self.body(fr, body)? || x == end {
                        break;
                    }
                    x += 1;
                }
                Ok(())
            }
            Iter::Value(e) => {
                let v = self.eval(fr, e)?.into_dynamic();
                if v.is_array() {
                    for (i, x) in v.cast::<Array>().into_iter().enumerate() {
                        if !step(fr, i, Val::unboxed(x))? {
                            break;
                        }
                    }
                    Ok(())
                } else if let Some(mut r) = v.read_lock::<std::ops::Range<INT>>().map(|r| r.clone()) {
                    ints(fr, &mut step, &mut r)
                } else if let Some(mut r) = v.read_lock::<std::ops::RangeInclusive<INT>>().map(|r| r.clone()) {
                    ints(fr, &mut step, &mut r)
                } else {
                    Err("for over a value that is not an array or a range".into())
                }
            }
        }
    }

    /// The variable that the place `p` (with no path) names, if it may be assigned.
    fn variable<'f>(&self, fr: &'f mut Frame, p: &Place) -> R<&'f mut Val> {
        if fr.is_shared(p.root) {
            return Err("assignment to a captured or constant variable".into());
        }
        Ok(fr.get_mut(p.root))
    }

    /// Calls `f` on the element that the place `p` (a variable and a path) reaches,
    /// inserting a missing map key when `insert`, then checks the variable's data size.
    fn at_place(&self, fr: &mut Frame, p: &Place, insert: bool, f: &mut dyn FnMut(&mut Dynamic) -> R<()>) -> R<()> {
        if fr.is_shared(p.root) {
            return Err("assignment to a captured or constant variable".into());
        }
        let mut keys: SmallVec<[Dynamic; 6]> = SmallVec::new();
        for l in p.path.iter() {
            if let Link::Index(e) = l {
                keys.push(self.eval(fr, e)?.into_dynamic());
            }
        }
        let root = fr.get_mut(p.root).dynamic_mut();
        at_path(root, &p.path, &mut keys, insert, f)?;
        check_dynamic_size(root)
    }

    fn int(&self, fr: &mut Frame, e: &Expr) -> R<INT> {
        let quick = match e {
            Expr::Int(n) => Some(*n),
            Expr::Slot(s) => fr.get(*s).as_int().ok(),
            Expr::Fast(f) => fast_int(fr, f),
            _ => None,
        };
        if let Some(n) = quick {
            return Ok(n);
        }
        match self.operand(fr, e)? {
            Operand::Int(n) => Ok(n),
            Operand::Val(_) => Err("not an integer".into()),
        }
    }

    /// An operand without cloning a variable that holds an integer.
    fn operand(&self, fr: &mut Frame, e: &Expr) -> R<Operand> {
        match e {
            Expr::Int(n) => Ok(Operand::Int(*n)),
            Expr::Slot(s) => {
                let v = fr.get(*s);
                Ok(match v.as_int() {
                    Ok(n) => Operand::Int(n),
                    Err(_) => Operand::Val(v.clone()),
                })
            }
            Expr::Fast(f) => match &f.run {
                Compiled::Int(run) => match run(fr.locals, fr.captures) {
                    Some(n) => Ok(Operand::Int(n)),
                    None => self.operand(fr, &f.general),
                },
                Compiled::Bool(run) => match run(fr.locals, fr.captures) {
                    Some(b) => Ok(Operand::Val(Val::Bool(b))),
                    None => self.operand(fr, &f.general),
                },
            },
            Expr::Binary(op, ab) => self.binary_expr(fr, op, ab),
            Expr::Chain(c) => self.chain(fr, c).map(Operand::of),
            other => Ok(Operand::of(self.eval(fr, other)?)),
        }
    }

    /// A condition's truth, without building a `Val` for comparisons of integers.
    fn cond(&self, fr: &mut Frame, e: &Expr) -> R<bool> {
        match e {
            Expr::Fast(f) => match fast_bool(fr, f) {
                Some(b) => Ok(b),
                None => self.cond(fr, &f.general),
            },
            Expr::Binary(op, ab) => match self.binary_expr(fr, op, ab)? {
                Operand::Val(v) => as_bool(&v),
                Operand::Int(_) => Err("condition is not a bool".into()),
            },
            Expr::Not(x) => Ok(!self.cond(fr, x)?),
            Expr::And(items) => {
                for x in items.iter() {
                    if !self.cond(fr, x)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Expr::Or(items) => {
                for x in items.iter() {
                    if self.cond(fr, x)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            other => as_bool(&self.eval(fr, other)?),
        }
    }

    fn binary_expr(&self, fr: &mut Frame, op: &BinOp, ab: &(Expr, Expr)) -> R<Operand> {
        let a = self.operand(fr, &ab.0)?;
        let b = self.operand(fr, &ab.1)?;
        if let (Operand::Int(x), Operand::Int(y)) = (&a, &b) {
            if let Some(r) = int_op(op, *x, *y) {
                return r;
            }
        }
        self.binary(op, a.into_val(), b.into_val()).map(Operand::of)
    }

    fn binary(&self, op: &BinOp, a: Val, b: Val) -> R<Val> {
        if let (Ok(x), Ok(y)) = (a.as_int(), b.as_int()) {
            if let Some(r) = int_op(op, x, y) {
                return r.map(Operand::into_val);
            }
        }
        if let (Ok(x), Ok(y), BinOp::Eq | BinOp::Ne) = (a.as_bool(), b.as_bool(), op) {
            return Ok(Val::Bool((x == y) == matches!(op, BinOp::Eq)));
        }
        let name = op.name();
        let (mut a, mut b) = (a.into_dynamic(), b.into_dynamic());
        let r = Val::from_dynamic(self.ctx(name).call_native_fn_raw(name, false, &mut [&mut a, &mut b])?);
        check_size(&r)?;
        Ok(r)
    }

    fn eval(&self, fr: &mut Frame, e: &Expr) -> R<Val> {
        match e {
            Expr::Const(v) => Ok(Val::from_dynamic(v.clone())),
            Expr::Slot(s) => Ok(fr.get(*s).clone()),
            Expr::This => fr.this.as_deref().cloned().ok_or_else(|| "this outside a method".into()),
            Expr::And(..) | Expr::Or(..) | Expr::Not(..) => self.cond(fr, e).map(Val::Bool),
            Expr::Int(n) => Ok(Val::Int(*n)),
            Expr::Binary(op, ab) => self.binary_expr(fr, op, ab).map(Operand::into_val),
            Expr::Fast(f) => match fast_val(fr, f) {
                Some(v) => Ok(v),
                None => self.eval(fr, &f.general),
            },
            Expr::Call(c) => self.call(fr, c),
            Expr::Chain(c) => self.chain(fr, c),
            Expr::Block(b) => self.block(fr, b),
            Expr::Array(..) | Expr::Map(..) | Expr::Interp(..) | Expr::Neg(..) | Expr::Closure(..) => self.eval_rare(fr, e),
        }
    }

    /// The expressions that loops seldom evaluate, out of line so that [`Exec::eval`]
    /// stays small.
    #[inline(never)]
    fn eval_rare(&self, fr: &mut Frame, e: &Expr) -> R<Val> {
        match e {
            Expr::Array(items) => {
                let a = items.iter().map(|x| self.eval(fr, x).map(Val::into_dynamic)).collect::<R<Array>>()?;
                let v = Val::Dyn(Dynamic::from_array(a));
                check_size(&v)?;
                Ok(v)
            }
            Expr::Map(entries) => {
                let mut m = Map::new();
                for (k, x) in entries.iter() {
                    m.insert(k.as_str().into(), self.eval(fr, x)?.into_dynamic());
                }
                let v = Val::Dyn(Dynamic::from_map(m));
                check_size(&v)?;
                Ok(v)
            }
            Expr::Interp(parts) => {
                let mut s = String::new();
                for p in parts.iter() {
                    let mut v = self.eval(fr, p)?.into_dynamic();
                    if v.is_string() {
                        s.push_str(v.as_immutable_string_ref().map_err(Flow::from)?.as_str());
                    } else if let Ok(n) = v.as_int() {
                        write!(s, "{n}").unwrap();
                    } else if let Ok(c) = v.as_char() {
                        s.push(c);
                    } else if let Ok(b) = v.as_bool() {
                        write!(s, "{b}").unwrap();
                    } else {
                        let t = self.ctx("to_string").call_native_fn_raw("to_string", true, &mut [&mut v])?;
                        s.push_str(&t.into_immutable_string().map_err(|_| Flow::from("to_string"))?);
                    }
                }
                let v = Val::Dyn(Dynamic::from(s));
                check_size(&v)?;
                Ok(v)
            }
            Expr::Neg(x) => {
                let v = self.eval(fr, x)?;
                match v.as_int() {
                    Ok(n) => n.checked_neg().map(Val::Int).ok_or_else(|| "integer overflow".into()),
                    Err(_) => Ok(Val::from_dynamic(self.ctx("-").call_native_fn_raw("-", false, &mut [&mut v.into_dynamic()])?)),
                }
            }
            Expr::Closure(f, slots) => {
                for s in slots.iter() {
                    if let Slot::Local(i) = s {
                        fr.pinned |= 1 << i;
                    }
                }
                Ok(self.closure(*f, slots.iter().map(|s| fr.get(*s).clone()).collect()))
            }
            _ => unreachable!("eval handles the others"),
        }
    }

    /// A closure value: a Rhai function pointer to native code that runs it. Its name
    /// `closure_N` indexes this run's closures, so that `filter` and friends can call
    /// it directly.
    fn closure(&self, f: usize, captured: Vec<Val>) -> Val {
        let closure = Closure(Arc::new(ClosureData { prog: Arc::clone(self.prog), f, captured: Mutex::new(captured) }));
        STATE.with(|s| s.closures.set(true));
        let name = CLOSURES.with(|c| {
            let mut c = c.borrow_mut();
            c.push(closure.clone());
            format!("closure_{}", c.len() - 1)
        });
        let call = move |ctx: NativeCallContext, args: &mut [&mut Dynamic]| -> Result<Dynamic, Box<EvalAltResult>> {
            // Cloned, not taken: a caller such as Rhai's `filter` passes an array's own
            // element by reference.
            let mut params = Locals::new();
            for a in args.iter() {
                params.push(Val::cloned(a));
            }
            closure.call_with(ctx.engine(), ctx.global_runtime_state(), params).map(Val::into_dynamic)
        };
        #[allow(deprecated)]
        let fp = FnPtr::from_dyn_fn(name, Box::new(call)).expect("a valid name");
        Val::Dyn(Dynamic::from(fp))
    }

    /// `array.filter(f)`, `all`, `some` and `map` with one of our one-parameter closures,
    /// called directly; `None` when Rhai's own function must run.
    fn array_with_closure(&self, name: &str, array: Option<&Val>, rest: &[Val]) -> Option<R<Val>> {
        if !matches!(name, "filter" | "all" | "some" | "map") || rest.len() != 1 {
            return None;
        }
        let closure = Closure::of(&rest[0])?;
        if closure.0.prog.fns[closure.0.f].params != 1 {
            return None; // Rhai also passes the index to two-parameter closures
        }
        let array = array?.dynamic()?.read_lock::<Array>()?;
        let truthy = |v: &Val| v.as_bool().unwrap_or(false);
        Some((|| {
            let mut kept = Array::new();
            for item in array.iter() {
                let v = closure.call(self.engine, self.global(), Val::cloned(item))?;
                match name {
                    "filter" if truthy(&v) => kept.push(item.clone()),
                    "all" if !truthy(&v) => return Ok(Val::Bool(false)),
                    "some" if truthy(&v) => return Ok(Val::Bool(true)),
                    "map" => {
                        check_size(&v)?;
                        kept.push(v.into_dynamic());
                    }
                    _ => {}
                }
            }
            Ok(match name {
                "all" => Val::Bool(true),
                "some" => Val::Bool(false),
                _ => Val::Dyn(Dynamic::from_array(kept)),
            })
        })())
    }

    /// A function-call style call. Like Rhai, a variable as first argument of a native
    /// function is passed by reference (`set(g, r, c, v)` changes `g`).
    fn call(&self, fr: &mut Frame, c: &Call) -> R<Val> {
        if let Some(f) = c.script {
            let mut args = Locals::new();
            for a in c.args.iter() {
                args.push(self.eval(fr, a)?);
            }
            tick()?;
            return Ok(self.call_script(f, &mut args, &mut [], None)?);
        }
        let Some((first, rest)) = c.args.split_first() else {
            return self.native(c, None, false, &mut []);
        };
        self.with_args(fr, rest, |ex, fr, values| match first {
            Expr::Slot(s) => {
                let shared = fr.is_shared(*s);
                ex.native(c, Some(fr.get_mut(*s)), shared, values)
            }
            other => {
                let mut v = ex.eval(fr, other)?;
                ex.native(c, Some(&mut v), false, values)
            }
        })
    }

    /// Evaluates `exprs` and calls `f` on their values, kept in a fixed array where
    /// there are few (all primitives): values are written into place there, whereas a
    /// pushed `Val` is first built on the stack and then moved, and that move stalls
    /// the processor (its load spans two separate smaller stores).
    #[inline(always)]
    fn with_args(&self, fr: &mut Frame, exprs: &[Expr], f: impl FnOnce(&Self, &mut Frame, &mut [Val]) -> R<Val>) -> R<Val> {
        // Two sizes of array: most calls have at most two arguments besides the receiver,
        // and every slot of the array is initialised and dropped.
        match exprs.len() {
            0..=2 => self.args_in::<2>(fr, exprs, f),
            3..=ARGS => self.args_in::<ARGS>(fr, exprs, f),
            _ => {
                let mut vals = Args::new();
                for a in exprs {
                    vals.push(self.eval(fr, a)?);
                }
                f(self, fr, &mut vals)
            }
        }
    }

    #[inline(always)]
    fn args_in<const N: usize>(&self, fr: &mut Frame, exprs: &[Expr], f: impl FnOnce(&Self, &mut Frame, &mut [Val]) -> R<Val>) -> R<Val> {
        let mut buf: [Val; N] = std::array::from_fn(|_| Val::Unit);
        for (slot, a) in buf.iter_mut().zip(exprs) {
            self.arg_into(fr, slot, a)?;
        }
        f(self, fr, &mut buf[..exprs.len()])
    }

    /// Evaluates `e` into `slot` (an argument's place), integers and variables written
    /// in place.
    #[inline(always)]
    fn arg_into(&self, fr: &mut Frame, slot: &mut Val, e: &Expr) -> R<()> {
        match e {
            Expr::Int(n) => *slot = Val::Int(*n),
            Expr::Slot(s) => match fr.get(*s) {
                Val::Int(n) => *slot = Val::Int(*n),
                v => *slot = v.clone(),
            },
            Expr::Fast(p) => match fast_int(fr, p) {
                Some(n) => *slot = Val::Int(n),
                None => *slot = self.eval(fr, e)?,
            },
            _ => *slot = self.eval(fr, e)?,
        }
        Ok(())
    }

    /// Calls a DSL primitive (first overload whose parameter types match) or, when none
    /// matches, whatever Rhai's dispatch finds.
    fn native(&self, c: &Call, first: Option<&mut Val>, shared: bool, rest: &mut [Val]) -> R<Val> {
        tick()?;
        if let (Some(k), Some(f)) = (c.intrinsic, first.as_deref()) {
            if let Some(n) = ints(rest).and_then(|args| intrinsic(k, f, &args)) {
                return Ok(Val::Int(n));
            }
        }
        let matches = |params: &[Ty]| match &first {
            Some(f) => params[0].accepts_val(f) && params[1..].iter().zip(rest.iter()).all(|(t, v)| t.accepts_val(v)),
            None => params.is_empty(),
        };
        let found = c.natives.iter().find(|n| matches(n.params));
        // The common case, a primitive with a typed adapter, stays in this small function.
        match (found, first) {
            (Some(&n), Some(first)) if n.typed.is_some() => {
                if shared && n.first_mut && !n.pure {
                    return Err("a captured or constant variable passed to a function that changes it".into());
                }
                let typed = n.typed.expect("checked above");
                // The adapter's answer is returned as it is, so that it can be written
                // where this function's caller wants it (a copy of a value just built
                // would stall); the checks read only what kind of value it is.
                let r = typed(first, rest);
                if let Ok(v @ Val::Dyn(_)) = &r {
                    check_size(v)?;
                }
                if !n.pure {
                    check_size(first)?;
                }
                r
            }
            (found, first) => self.native_other(c, found.copied(), first, shared, rest),
        }
    }

    /// [`Exec::native`] for the rest: a primitive without parameters or without a typed
    /// adapter, and functions that are not primitives.
    #[inline(never)]
    fn native_other(&self, c: &Call, found: Option<&'static Native>, first: Option<&mut Val>, shared: bool, rest: &mut [Val]) -> R<Val> {
        let Some(n) = found else {
            if c.name == "contains" && rest.len() == 1 {
                if let Some(found) = int_array_contains(first.as_deref(), &rest[0]) {
                    return Ok(Val::Bool(found));
                }
            }
            if let Some(r) = self.array_with_closure(&c.name, first.as_deref(), rest) {
                let r = r?;
                check_size(&r)?;
                return Ok(r);
            }
            return self.std_call(c, first, shared, rest);
        };
        if shared && n.first_mut && !n.pure && first.is_some() {
            return Err("a captured or constant variable passed to a function that changes it".into());
        }
        if let Some(typed) = n.typed {
            // No parameters (with parameters, `native` made the call).
            let r = typed(&mut Val::Unit, rest)?;
            check_size(&r)?;
            return Ok(r);
        }
        let mut owned;
        let mut values = dynamics(rest);
        let mut args: SmallVec<[&mut Dynamic; 8]> = SmallVec::new();
        match first {
            // The plugin takes a by-value first argument out of its slot.
            Some(f) if !n.first_mut => {
                owned = f.clone().into_dynamic();
                args.push(&mut owned);
            }
            Some(f) => args.push(f.dynamic_mut()),
            None => {}
        }
        for v in values.iter_mut() {
            args.push(v);
        }
        let r = Val::from_dynamic(n.func.call(Some(self.ctx(n.name)), &mut args)?);
        check_size(&r)?;
        if !n.pure {
            if let Some(f) = args.first() {
                check_dynamic_size(f)?;
            }
        }
        Ok(r)
    }

    /// A call that Rhai's dispatch resolves (the standard library, or a type error).
    fn std_call(&self, c: &Call, first: Option<&mut Val>, shared: bool, rest: &mut [Val]) -> R<Val> {
        if shared && !PURE_STD.contains(&c.name.as_str()) {
            return Err("a captured or constant variable passed to a function that may change it".into());
        }
        let by_ref = first.is_some();
        let mut values = dynamics(rest);
        let mut args: SmallVec<[&mut Dynamic; 8]> = SmallVec::new();
        if let Some(f) = first {
            args.push(f.dynamic_mut());
        }
        for v in values.iter_mut() {
            args.push(v);
        }
        let r = Val::from_dynamic(self.ctx(&c.name).call_native_fn_raw(&c.name, by_ref, &mut args)?);
        check_size(&r)?;
        if let Some(f) = args.first() {
            check_dynamic_size(f)?;
        }
        Ok(r)
    }

    fn chain(&self, fr: &mut Frame, c: &Chain) -> R<Val> {
        if let (Base::Slot(s), [Link::Method(m)]) = (&c.base, &*c.links) {
            // `variable.primitive(args)`, the commonest chain: no walk.
            if m.script.is_none() && m.name != "call" {
                return self.with_args(fr, &m.args, |ex, fr, vals| {
                    let shared = fr.is_shared(*s);
                    ex.native(m, Some(fr.get_mut(*s)), shared, vals)
                });
            }
        }
        self.chain_walk(fr, c)
    }

    /// [`Exec::chain`] for chains of several links, or of a method that is not a
    /// primitive.
    #[inline(never)]
    fn chain_walk(&self, fr: &mut Frame, c: &Chain) -> R<Val> {
        // Rhai evaluates every index and argument of a chain before walking it.
        let mut vals = Args::new();
        for l in c.links.iter() {
            match l {
                Link::Index(e) => vals.push(self.eval(fr, e)?),
                Link::Method(m) => {
                    for a in m.args.iter() {
                        vals.push(self.eval(fr, a)?);
                    }
                }
                Link::Property(_) => {}
            }
        }
        let vals = &mut vals[..];
        match &c.base {
            Base::Slot(s) => {
                let shared = fr.is_shared(*s);
                self.walk(fr.get_mut(*s), shared, &c.links, vals)
            }
            Base::This => {
                let this = fr.this.as_deref_mut().ok_or_else(|| Flow::from("this outside a method"))?;
                self.walk(this, false, &c.links, vals)
            }
            Base::Value(e) => {
                let mut v = self.eval(fr, e)?;
                self.walk(&mut v, false, &c.links, vals)
            }
        }
    }

    /// Walks `links` from `t`; `vals` holds, in order, each index and each method
    /// argument of the links.
    fn walk(&self, t: &mut Val, shared: bool, links: &[Link], vals: &mut [Val]) -> R<Val> {
        let Some((link, rest)) = links.split_first() else { return Ok(t.clone()) };
        match link {
            Link::Index(_) => {
                let (key, vals) = vals.split_first_mut().expect("one value per index");
                let mut key = std::mem::take(key).into_dynamic();
                let t = t.dynamic_mut();
                if rest.is_empty() {
                    if let Some(a) = t.read_lock::<Array>() {
                        return Ok(Val::cloned(&a[array_index(a.len(), &key)?]));
                    }
                }
                if let Ok(s) = t.as_immutable_string_ref() {
                    if !rest.is_empty() {
                        return Err("indexing into a character".into());
                    }
                    let chars: Vec<char> = s.chars().collect();
                    return Ok(Val::Dyn(Dynamic::from_char(chars[array_index(chars.len(), &key)?])));
                }
                at_path(t, std::slice::from_ref(link), std::slice::from_mut(&mut key), false, &mut |elem| self.walk_element(elem, shared, rest, vals))
            }
            Link::Property(_) => at_path(t.dynamic_mut(), std::slice::from_ref(link), &mut [], false, &mut |elem| self.walk_element(elem, shared, rest, vals)),
            Link::Method(m) => {
                let (args, vals) = vals.split_at_mut(m.args.len());
                let mut r = self.method(t, shared, m, args)?;
                if rest.is_empty() {
                    Ok(r)
                } else {
                    self.walk(&mut r, false, rest, vals)
                }
            }
        }
    }

    /// [`Exec::walk`] from an element of an array or map, put back afterwards.
    fn walk_element(&self, elem: &mut Dynamic, shared: bool, links: &[Link], vals: &mut [Val]) -> R<Val> {
        let mut v = Val::from_dynamic(std::mem::take(elem));
        let r = self.walk(&mut v, shared, links, vals);
        *elem = v.into_dynamic();
        r
    }

    fn method(&self, t: &mut Val, shared: bool, m: &Call, args: &mut [Val]) -> R<Val> {
        if m.name == "call" {
            if let Some(fp) = t.dynamic().and_then(|d| d.read_lock::<FnPtr>().map(|f| f.clone())) {
                tick()?;
                let args = dynamics(args);
                return Ok(Val::from_dynamic(fp.call_raw(&self.ctx("call"), None, args)?));
            }
        }
        if let Some(f) = m.script {
            if shared {
                return Err("a method on a captured or constant variable".into());
            }
            tick()?;
            let mut params = Locals::new();
            for a in args.iter_mut() {
                params.push(std::mem::take(a));
            }
            return Ok(self.call_script(f, &mut params, &mut [], Some(t))?);
        }
        self.native(m, Some(t), shared, args)
    }
}

/// Evaluated arguments as Rhai's values, moved out of their slots.
fn dynamics(vals: &mut [Val]) -> SmallVec<[Dynamic; 6]> {
    let mut out = SmallVec::new();
    for v in vals.iter_mut() {
        out.push(std::mem::take(v).into_dynamic());
    }
    out
}

/// The value of an expression's compiled pure form; `None` when its general form must
/// run.
#[inline]
fn fast_val(fr: &Frame, f: &Fast) -> Option<Val> {
    match &f.run {
        Compiled::Int(run) => run(fr.locals, fr.captures).map(Val::Int),
        Compiled::Bool(run) => run(fr.locals, fr.captures).map(Val::Bool),
    }
}

/// [`fast_val`] of a boolean-valued form.
#[inline(always)]
fn fast_bool(fr: &Frame, f: &Fast) -> Option<bool> {
    match &f.run {
        Compiled::Bool(run) => run(fr.locals, fr.captures),
        Compiled::Int(_) => None,
    }
}

/// [`fast_val`] of an integer-valued form.
#[inline(always)]
fn fast_int(fr: &Frame, f: &Fast) -> Option<INT> {
    match &f.run {
        Compiled::Int(run) => run(fr.locals, fr.captures),
        Compiled::Bool(_) => None,
    }
}

/// The integers in `vals`, if all are integers (at most two: the intrinsics' arity).
fn ints(vals: &[Val]) -> Option<SmallVec<[INT; 2]>> {
    vals.iter().map(|v| v.as_int().ok()).collect()
}

/// A lowered closure: its function and captured values.
#[derive(Clone)]
struct Closure(Arc<ClosureData>);

struct ClosureData {
    prog: Arc<Lowered>,
    f: usize,
    captured: Mutex<Vec<Val>>,
}

thread_local! {
    /// The closures of the run on this thread, by the number in their name.
    static CLOSURES: std::cell::RefCell<Vec<Closure>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Closure {
    /// Our closure, if `v` is a function pointer to one of this run's.
    fn of(v: &Val) -> Option<Closure> {
        let fp = v.dynamic()?.read_lock::<FnPtr>()?;
        if fp.is_curried() {
            return None;
        }
        let i: usize = fp.fn_name().strip_prefix("closure_")?.parse().ok()?;
        CLOSURES.with(|c| c.borrow().get(i).cloned())
    }

    fn call(&self, engine: &Engine, global: &GlobalRuntimeState, arg: Val) -> Result<Val, Box<EvalAltResult>> {
        let mut params = Locals::new();
        params.push(arg);
        self.call_with(engine, global, params)
    }

    fn call_with(&self, engine: &Engine, global: &GlobalRuntimeState, mut params: Locals) -> Result<Val, Box<EvalAltResult>> {
        let exec = Exec { engine, global: Global::Given(global), prog: &self.0.prog };
        let mut captured = self.0.captured.try_lock().map_err(|_| "a closure called itself")?;
        exec.call_script(self.0.f, &mut params, &mut captured, None)
    }
}

/// `array.contains(x)` for an array of integers and an integer. Rhai's `contains`
/// compares with `==` through its dispatch, element by element; on integers that is
/// plain equality.
fn int_array_contains(array: Option<&Val>, x: &Val) -> Option<bool> {
    let a = array?.dynamic()?.read_lock::<Array>()?;
    let x = x.as_int().ok()?;
    a.iter().all(Dynamic::is_int).then(|| a.iter().any(|v| v.as_int() == Ok(x)))
}

/// Calls `f` on the element that `path` (index and property links only) reaches in `t`.
fn at_path<T>(t: &mut Dynamic, path: &[Link], keys: &mut [Dynamic], insert: bool, f: &mut dyn FnMut(&mut Dynamic) -> R<T>) -> R<T> {
    let Some((link, rest)) = path.split_first() else { return f(t) };
    let (key, keys) = match link {
        Link::Index(_) => {
            let (key, keys) = keys.split_first_mut().expect("one key per index");
            (std::mem::take(key), keys)
        }
        Link::Property(name) => (Dynamic::from(name.clone()), keys),
        Link::Method(_) => return Err("method in an assignment path".into()),
    };
    if let Some(mut a) = t.write_lock::<Array>() {
        let i = array_index(a.len(), &key)?;
        return at_path(&mut a[i], rest, keys, insert, f);
    }
    if let Some(mut m) = t.write_lock::<Map>() {
        let k = key.into_immutable_string().map_err(|_| Flow::from("map key is not a string"))?;
        return match m.get_mut(k.as_str()) {
            Some(v) => at_path(v, rest, keys, insert, f),
            None if insert && rest.is_empty() => {
                let mut v = Dynamic::UNIT;
                let r = f(&mut v)?;
                m.insert(k.as_str().into(), v);
                Ok(r)
            }
            // Rhai reads a missing key as `()`.
            None if !insert => {
                let mut unit = Dynamic::UNIT;
                at_path(&mut unit, rest, keys, insert, f)
            }
            None => Err("assignment below a missing map key".into()),
        };
    }
    Err("indexing a value that is not an array or map".into())
}
