//! Lowering: a compiled Rhai AST to the tree [`super::exec`] runs, for the subset of Rhai
//! that DSL programs use.
//!
//! Variables become numbered slots, calls to the program's own functions become indices,
//! and calls to DSL primitives keep their candidate overloads from
//! [`crate::dsl::module::DISPATCH`], so a run does no name lookups or hashing. A program
//! that uses anything outside the subset (`switch`, `try`, `throw`, `Fn`, `eval`, module
//! paths, `?.`, ...) is not lowered, and Rhai's own evaluator runs it.
//!
//! **Closures** capture by value. Rhai shares a captured variable between the closure
//! and its scope instead, so once a closure has captured a variable, assigning it or
//! passing it by reference to a function that may change it stops the run (and Rhai's
//! evaluator runs the program), which keeps the two equal. A `for` loop variable is the
//! exception Rhai makes hard: it is one shared variable across iterations, so a closure
//! that captures it is only lowered as a direct argument of a function that calls it
//! and lets it go (`filter`, `grid_fn`, ...), where no closure outlives its iteration.

use rhai::{ASTFlags, Dynamic, Expr as RExpr, FnCallExpr, FnPtr, ImmutableString, Stmt as RStmt, AST};

use super::pure::Compiled;
use crate::dsl::module::{natives_named, Native, Ty};

/// A program lowered for [`super::exec`]: its functions, prelude included.
pub(crate) struct Lowered {
    pub fns: Vec<Func>,
    /// Index of `solve(g)` in `fns`.
    pub solve: usize,
}

pub(crate) struct Func {
    pub name: ImmutableString,
    /// Parameters, after the captured values of a closure.
    pub params: usize,
    /// Captured values (closures only): `Slot::Capture(0..captures)`.
    pub captures: usize,
    /// Local slots, parameters first.
    pub locals: usize,
    /// Bit `i`: local `i` is `const` (never changed in place). At most 64 locals.
    pub consts: u64,
    pub body: Block,
}

pub(crate) type Block = Box<[Stmt]>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Local(u32),
    Capture(u32),
}

pub(crate) enum Stmt {
    Let(u32, Expr),
    Assign(Place, Expr),
    OpAssign(Place, BinOp, Expr),
    Expr(Expr),
    If(Expr, Block, Block),
    /// `while` (`loop` is `While(None, ..)`).
    While(Option<Expr>, Block),
    /// `do { } while c` / `do { } until c` (`true`).
    Do(Block, Expr, bool),
    For { var: u32, counter: Option<u32>, iter: Iter, body: Block },
    Break,
    Continue,
    Return(Option<Expr>),
    Block(Block),
}

pub(crate) enum Iter {
    /// `a..b` or `a..=b` (`true`).
    Range(Expr, Expr, bool),
    Value(Expr),
}

/// An assignment target: a variable and an index/property path into it.
pub(crate) struct Place {
    pub root: Slot,
    pub path: Box<[Link]>,
}

pub(crate) enum Expr {
    Const(Dynamic),
    Int(rhai::INT),
    Slot(Slot),
    This,
    Array(Box<[Expr]>),
    Map(Box<[(ImmutableString, Expr)]>),
    Interp(Box<[Expr]>),
    And(Box<[Expr]>),
    Or(Box<[Expr]>),
    Binary(BinOp, Box<(Expr, Expr)>),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Call(Box<Call>),
    Chain(Box<Chain>),
    /// A closure: the function and the slots whose values it captures.
    Closure(usize, Box<[Slot]>),
    Block(Block),
    /// An expression of integers that may run as [`Pure`]; the general form runs when
    /// its values are not all integers (or the arithmetic fails).
    Fast(Box<Fast>),
}

/// An expression in its pure form, compiled ([`super::pure`]), and its general form.
pub(crate) struct Fast {
    pub pure: Pure,
    pub run: Compiled,
    pub general: Expr,
}

/// A side-effect-free expression over integers (and the booleans that comparing them
/// gives), run without values, calls or operation counts. Lowering pairs it with the
/// general form of the same expression ([`Expr::Fast`]): having no effects, it may be
/// tried first and abandoned (`None`) when a variable holds something else or an
/// arithmetic operation overflows or divides by zero, and the general form then decides.
#[derive(Debug, Clone)]
pub(crate) enum Pure {
    Int(rhai::INT),
    Slot(Slot),
    /// `+ - * / %` on integers.
    Arith(BinOp, Box<(Pure, Pure)>),
    /// `== != < <= > >=` on integers.
    Cmp(BinOp, Box<(Pure, Pure)>),
    And(Box<(Pure, Pure)>),
    Or(Box<(Pure, Pure)>),
    Not(Box<Pure>),
    /// `grid.get(r, c)` on a variable.
    Cell(Slot, Box<(Pure, Pure)>),
    /// `grid.rows()`, `grid.cols()` on a variable.
    Dim(Intrinsic, Slot),
}

impl Pure {
    /// The pure form of `e`, if it has one.
    fn of(e: &Expr) -> Option<Pure> {
        let pair = |ab: &(Expr, Expr)| Some(Box::new((Pure::of(&ab.0)?, Pure::of(&ab.1)?)));
        Some(match e {
            Expr::Int(n) => Pure::Int(*n),
            Expr::Slot(s) => Pure::Slot(*s),
            Expr::Fast(f) => f.pure.clone(),
            Expr::Binary(op @ (BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem), ab) => Pure::Arith(op.clone(), pair(ab)?),
            Expr::Binary(op @ (BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge), ab) => Pure::Cmp(op.clone(), pair(ab)?),
            Expr::Not(x) => Pure::Not(Box::new(Pure::of(x)?)),
            // Rhai's `&&`/`||` of more than two operands, folded from the left.
            Expr::And(items) | Expr::Or(items) => {
                let mut parts = items.iter().map(Pure::of);
                let first = parts.next()??;
                parts.try_fold(first, |acc, x| {
                    let ab = Box::new((acc, x?));
                    Some(if matches!(e, Expr::And(_)) { Pure::And(ab) } else { Pure::Or(ab) })
                })?
            }
            Expr::Chain(c) => match (&c.base, &*c.links) {
                (Base::Slot(s), [Link::Method(m)]) => match (m.intrinsic?, &*m.args) {
                    (Intrinsic::Get, [r, c]) => Pure::Cell(*s, Box::new((Pure::of(r)?, Pure::of(c)?))),
                    (k @ (Intrinsic::Rows | Intrinsic::Cols), []) => Pure::Dim(k, *s),
                    _ => return None,
                },
                _ => return None,
            },
            _ => return None,
        })
    }

    /// Whether the value is a boolean (else an integer).
    pub fn is_bool(&self) -> bool {
        matches!(self, Pure::Cmp(..) | Pure::And(_) | Pure::Or(_) | Pure::Not(_))
    }

    /// `e`, paired with its pure form where it has one worth running (more than a
    /// literal or a variable).
    fn pair(e: Expr) -> Expr {
        match Pure::of(&e) {
            Some(Pure::Int(_) | Pure::Slot(_)) | None => e,
            Some(pure) => Expr::Fast(Box::new(Fast { run: Compiled::of(&pure), pure, general: e })),
        }
    }
}

/// An operator with a fast path for integers; anything else goes to Rhai's dispatch.
#[derive(Debug, Clone)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Other(ImmutableString),
}

impl BinOp {
    fn of(name: &str) -> BinOp {
        match name {
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "/" => BinOp::Div,
            "%" => BinOp::Rem,
            "==" => BinOp::Eq,
            "!=" => BinOp::Ne,
            "<" => BinOp::Lt,
            "<=" => BinOp::Le,
            ">" => BinOp::Gt,
            ">=" => BinOp::Ge,
            other => BinOp::Other(other.into()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Other(name) => name,
        }
    }
}

/// A call resolved as far as lowering can: the program's own function if it has one of
/// that name and arity (Rhai prefers those), else the DSL overloads to try by argument
/// type, else Rhai's dispatch (the standard library).
pub(crate) struct Call {
    pub name: ImmutableString,
    pub args: Box<[Expr]>,
    pub script: Option<usize>,
    pub natives: Box<[&'static Native]>,
    /// A cell accessor that the fast path runs inline on a grid and integers.
    pub intrinsic: Option<Intrinsic>,
}

/// The cell accessors that loops call most: `g.get(r, c)`, `g.rows()`, `g.cols()`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Intrinsic {
    Get,
    Rows,
    Cols,
}

pub(crate) struct Chain {
    pub base: Base,
    pub links: Box<[Link]>,
}

pub(crate) enum Base {
    Slot(Slot),
    This,
    Value(Expr),
}

pub(crate) enum Link {
    Index(Expr),
    Property(ImmutableString),
    /// A method call: `args` do not include the receiver.
    Method(Call),
}

/// Names Rhai's evaluator treats specially, or that reach outside the subset.
const NOT_LOWERED: &[&str] = &[
    "Fn", "call", "curry", "eval", "is_def_fn", "is_def_var", "is_shared", "type_of", "print", "debug", "exit", "bind",
];

/// Standard-library functions that call a closure argument and do not keep it.
const CALLS_AND_DROPS: &[&str] =
    &["filter", "map", "all", "some", "none", "reduce", "reduce_rev", "find", "find_map", "sort", "index_of", "retain", "drain", "dedup", "for_each", "call"];

/// Why a program was not lowered (for tests and debugging; the program still runs).
pub(crate) type Unsupported = String;

type R<T> = Result<T, Unsupported>;

/// Lowers every function of `ast`; `None` when anything is outside the subset.
pub(crate) fn lower(ast: &AST) -> R<Lowered> {
    let defs: Vec<_> = ast.iter_fn_def().cloned().collect();
    let sigs: Vec<(ImmutableString, usize)> = defs.iter().map(|d| (d.name.clone(), d.params.len())).collect();
    let mut fns = Vec::with_capacity(defs.len());
    // Closures are anonymous functions whose first parameters are the captured values;
    // how many is only known where the closure is created.
    let closure_captures = closure_captures(ast, &sigs)?;
    for (i, d) in defs.iter().enumerate() {
        let body = body_of(d);
        let captures = closure_captures[i].unwrap_or(0);
        let mut l = Lowering { sigs: &sigs, scopes: vec![], locals: 0, captures: vec![], consts: 0, loop_vars: vec![], closure_may_take_loop_vars: false };
        for (k, p) in d.params.iter().enumerate() {
            if k < captures {
                l.captures.push(p.clone());
            } else {
                let s = l.declare(p.clone());
                debug_assert_eq!(s, (k - captures) as u32);
            }
        }
        let body = l.block(&body)?;
        if l.locals > 64 {
            return Err("more than 64 local variables".into());
        }
        fns.push(Func { name: d.name.clone(), params: d.params.len() - captures, captures, locals: l.locals as usize, consts: l.consts, body });
    }
    let solve = sigs.iter().position(|(n, a)| n == "solve" && *a == 1).ok_or("no solve(grid)")?;
    Ok(Lowered { fns, solve })
}

/// The top-level statements of a function (Rhai exposes function bodies only through a
/// walk of an AST, so the function is walked in an AST of its own).
fn body_of(def: &rhai::Shared<rhai::ScriptFuncDef>) -> Vec<RStmt> {
    let mut lib = rhai::Module::new();
    lib.set_script_fn(def.clone());
    let one = AST::new(Vec::<RStmt>::new(), lib);
    let mut out = Vec::new();
    one.walk(&mut |path: &[rhai::ASTNode]| {
        if let [rhai::ASTNode::Stmt(s)] = path {
            out.push((*s).clone());
        }
        true
    });
    out
}

/// How many captured values each closure takes, from the `curry(Fn("anon$.."), vars..)`
/// sites that create it anywhere in the AST.
fn closure_captures(ast: &AST, sigs: &[(ImmutableString, usize)]) -> R<Vec<Option<usize>>> {
    let mut out = vec![None; sigs.len()];
    let mut clash = false;
    ast.walk(&mut |path: &[rhai::ASTNode]| {
        let call = match path.last() {
            Some(rhai::ASTNode::Expr(RExpr::FnCall(call, _))) | Some(rhai::ASTNode::Stmt(RStmt::FnCall(call, _))) => call,
            _ => return true,
        };
        if call.name != "curry" {
            return true;
        }
        let Some(RExpr::DynamicConstant(v, _)) = call.args.first() else { return true };
        let Some(fp) = v.read_lock::<FnPtr>() else { return true };
        let n = call.args.len() - 1;
        if let Some(i) = sigs.iter().position(|(name, _)| name.as_str() == fp.fn_name()) {
            clash |= out[i].is_some_and(|k| k != n);
            out[i] = Some(n);
        }
        true
    });
    if clash {
        return Err("closure curried two ways".into());
    }
    Ok(out)
}

struct Lowering<'a> {
    sigs: &'a [(ImmutableString, usize)],
    /// Innermost last: (name, slot).
    scopes: Vec<(ImmutableString, u32)>,
    locals: u32,
    captures: Vec<ImmutableString>,
    consts: u64,
    /// Slots of the enclosing `for` loops' variables and counters.
    loop_vars: Vec<u32>,
    /// Set while lowering an argument of a call that only calls its closures.
    closure_may_take_loop_vars: bool,
}

impl Lowering<'_> {
    fn declare(&mut self, name: ImmutableString) -> u32 {
        let s = self.locals;
        self.locals += 1;
        self.scopes.push((name, s));
        s
    }

    fn mark_const(&mut self, s: u32) {
        if s < 64 {
            self.consts |= 1 << s;
        }
    }

    fn lookup(&self, name: &str) -> R<Slot> {
        if let Some((_, s)) = self.scopes.iter().rev().find(|(n, _)| n == name) {
            return Ok(Slot::Local(*s));
        }
        if let Some(i) = self.captures.iter().position(|n| n == name) {
            return Ok(Slot::Capture(i as u32));
        }
        Err(format!("unknown variable {name}"))
    }

    fn block(&mut self, stmts: &[RStmt]) -> R<Block> {
        let depth = self.scopes.len();
        let out: R<Vec<Stmt>> = stmts.iter().filter_map(|s| self.stmt(s).transpose()).collect();
        self.scopes.truncate(depth);
        Ok(out?.into_boxed_slice())
    }

    fn stmt(&mut self, s: &RStmt) -> R<Option<Stmt>> {
        Ok(Some(match s {
            RStmt::Noop(_) | RStmt::Share(_) => return Ok(None),
            RStmt::Var(x, flags, _) => {
                if flags.contains(ASTFlags::EXPORTED) {
                    return Err("export".into());
                }
                let value = self.expr(&x.1)?;
                let s = self.declare(x.0.name.clone());
                if flags.contains(ASTFlags::CONSTANT) {
                    self.mark_const(s);
                }
                Stmt::Let(s, value)
            }
            RStmt::Assignment(x) => {
                let (op, bin) = &**x;
                let place = self.place(&bin.lhs)?;
                let value = self.expr(&bin.rhs)?;
                match op.get_op_assignment_info() {
                    None => Stmt::Assign(place, value),
                    Some((.., op_syntax)) => Stmt::OpAssign(place, BinOp::of(op_syntax), value),
                }
            }
            RStmt::FnCall(call, _) => Stmt::Expr(self.call(call)?),
            RStmt::Expr(e) => Stmt::Expr(self.expr(e)?),
            RStmt::Block(b) => Stmt::Block(self.block(b.statements())?),
            RStmt::If(f, _) => Stmt::If(self.expr(&f.expr)?, self.block(f.body.statements())?, self.block(f.branch.statements())?),
            RStmt::While(f, _) => {
                let cond = if matches!(f.expr, RExpr::Unit(_)) { None } else { Some(self.expr(&f.expr)?) };
                Stmt::While(cond, self.block(f.body.statements())?)
            }
            RStmt::Do(f, flags, _) => {
                let body = self.block(f.body.statements())?;
                Stmt::Do(body, self.expr(&f.expr)?, flags.contains(ASTFlags::NEGATED))
            }
            RStmt::For(x, _) => {
                let (var, counter, f) = &**x;
                let iter = match &f.expr {
                    RExpr::FnCall(c, _) if (c.name == ".." || c.name == "..=") && c.args.len() == 2 && c.namespace.is_empty() => {
                        Iter::Range(self.expr(&c.args[0])?, self.expr(&c.args[1])?, c.name == "..=")
                    }
                    e => Iter::Value(self.expr(e)?),
                };
                let depth = self.scopes.len();
                let var = self.declare(var.name.clone());
                let counter = counter.as_ref().map(|c| self.declare(c.name.clone()));
                let loops = self.loop_vars.len();
                self.loop_vars.extend([Some(var), counter].into_iter().flatten());
                let body = self.block(f.body.statements());
                self.loop_vars.truncate(loops);
                self.scopes.truncate(depth);
                Stmt::For { var, counter, iter, body: body? }
            }
            RStmt::BreakLoop(None, flags, _) => {
                if flags.contains(ASTFlags::BREAK) {
                    Stmt::Break
                } else {
                    Stmt::Continue
                }
            }
            RStmt::Return(value, flags, _) if !flags.contains(ASTFlags::BREAK) => {
                Stmt::Return(value.as_deref().map(|e| self.expr(e)).transpose()?)
            }
            other => return Err(format!("statement not lowered: {}", variant_name(other))),
        }))
    }

    fn place(&mut self, e: &RExpr) -> R<Place> {
        match e {
            RExpr::Variable(x, ..) if x.2.is_empty() => Ok(Place { root: self.lookup(&x.1)?, path: Box::new([]) }),
            RExpr::Index(x, flags, _) | RExpr::Dot(x, flags, _) if !flags.contains(ASTFlags::NEGATED) => {
                let RExpr::Variable(v, ..) = &x.lhs else { return Err("assignment to a computed value".into()) };
                if !v.2.is_empty() {
                    return Err("module path".into());
                }
                let root = self.lookup(&v.1)?;
                let mut links = Vec::new();
                self.links(matches!(e, RExpr::Index(..)), &x.rhs, flags.contains(ASTFlags::BREAK), &mut links)?;
                if links.iter().any(|l| matches!(l, Link::Method(_))) {
                    return Err("assignment through a method call".into());
                }
                Ok(Place { root, path: links.into_boxed_slice() })
            }
            _ => Err("assignment target".into()),
        }
    }

    /// Flattens the right-hand side of a `.`/`[]` chain; `indexing` says what kind of
    /// link its first level is, and `last` that the parent ends the chain (Rhai's `BREAK`
    /// flag), so that `rhs` is one index or call even when it is itself a chain.
    fn links(&mut self, indexing: bool, rhs: &RExpr, last: bool, out: &mut Vec<Link>) -> R<()> {
        match rhs {
            RExpr::Index(x, flags, _) | RExpr::Dot(x, flags, _) if !last => {
                if flags.contains(ASTFlags::NEGATED) {
                    return Err("?. or ?[".into());
                }
                out.push(self.link(indexing, &x.lhs)?);
                self.links(matches!(rhs, RExpr::Index(..)), &x.rhs, flags.contains(ASTFlags::BREAK), out)
            }
            leaf => {
                out.push(self.link(indexing, leaf)?);
                Ok(())
            }
        }
    }

    fn link(&mut self, indexing: bool, e: &RExpr) -> R<Link> {
        if indexing {
            return Ok(Link::Index(self.expr(e)?));
        }
        match e {
            RExpr::Property(x, _) => Ok(Link::Property(x.2.clone())),
            RExpr::MethodCall(call, _) => {
                if NOT_LOWERED.contains(&call.name.as_str()) && call.name != "call" {
                    return Err(format!("method {}", call.name));
                }
                let args = self.args(&call.name, &call.args, 1)?;
                // Rhai binds a method's receiver to `this` of a script function with
                // the arguments' arity; natives take the receiver as first argument.
                Ok(Link::Method(self.resolve(&call.name, args, true)))
            }
            _ => Err("chain link".into()),
        }
    }

    /// Lowers call arguments; a closure passed straight to a function that only calls it
    /// may capture loop variables. `receiver` is 1 for a method call.
    fn args(&mut self, name: &str, args: &[RExpr], receiver: usize) -> R<Vec<Expr>> {
        let calls_and_drops = CALLS_AND_DROPS.contains(&name)
            || natives_named(name).iter().any(|n| n.params.len() == args.len() + receiver && n.params.contains(&Ty::FnPtr));
        let mut out = Vec::with_capacity(args.len());
        for a in args {
            let direct = matches!(a, RExpr::Stmt(_) | RExpr::DynamicConstant(..));
            let saved = self.closure_may_take_loop_vars;
            self.closure_may_take_loop_vars = calls_and_drops && direct;
            let e = self.expr(a);
            self.closure_may_take_loop_vars = saved;
            out.push(e?);
        }
        Ok(out)
    }

    fn resolve(&self, name: &ImmutableString, args: Vec<Expr>, method: bool) -> Call {
        let n = args.len();
        let script = self.sigs.iter().position(|(s, a)| s == name && *a == n);
        let arity = if method { n + 1 } else { n };
        let natives: Vec<&'static Native> = natives_named(name).iter().copied().filter(|f| f.params.len() == arity).collect();
        let intrinsic = match (name.as_str(), arity) {
            _ if script.is_some() => None,
            ("get", 3) => Some(Intrinsic::Get),
            ("rows", 1) => Some(Intrinsic::Rows),
            ("cols", 1) => Some(Intrinsic::Cols),
            _ => None,
        };
        Call { name: name.clone(), args: args.into_boxed_slice(), script, natives: natives.into_boxed_slice(), intrinsic }
    }

    fn call(&mut self, call: &FnCallExpr) -> R<Expr> {
        if !call.namespace.is_empty() {
            return Err("module path".into());
        }
        let name = call.name.as_str();
        if name == "curry" {
            return self.closure(call);
        }
        if NOT_LOWERED.contains(&name) {
            return Err(format!("function {name}"));
        }
        if call.capture_parent_scope {
            return Err("f!() call".into());
        }
        if call.op_token.is_some() {
            match call.args.len() {
                2 => {
                    let a = self.expr(&call.args[0])?;
                    let b = self.expr(&call.args[1])?;
                    return Ok(Pure::pair(Expr::Binary(BinOp::of(name), Box::new((a, b)))));
                }
                1 if name == "-" => return Ok(Expr::Neg(Box::new(self.expr(&call.args[0])?))),
                1 if name == "!" => return Ok(Pure::pair(Expr::Not(Box::new(self.expr(&call.args[0])?)))),
                _ => {}
            }
        }
        let args = self.args(&call.name, &call.args, 0)?;
        Ok(Expr::Call(Box::new(self.resolve(&call.name, args, false))))
    }

    /// `curry(Fn("anon$.."), captured..)`: a closure over the named variables.
    fn closure(&mut self, call: &FnCallExpr) -> R<Expr> {
        let Some(RExpr::DynamicConstant(v, _)) = call.args.first() else { return Err("curry".into()) };
        let f = self.fn_ptr_target(v)?;
        let mut slots = Vec::new();
        for a in &call.args[1..] {
            let RExpr::Variable(x, ..) = a else { return Err("curry of a value".into()) };
            let s = self.lookup(&x.1)?;
            if let Slot::Local(i) = s {
                if self.loop_vars.contains(&i) && !self.closure_may_take_loop_vars {
                    return Err("a closure that captures a loop variable and may outlive its iteration".into());
                }
            }
            slots.push(s);
        }
        Ok(Expr::Closure(f, slots.into_boxed_slice()))
    }

    fn fn_ptr_target(&self, v: &Dynamic) -> R<usize> {
        let fp = v.read_lock::<FnPtr>().ok_or("constant")?;
        if fp.is_curried() {
            return Err("curried constant".into());
        }
        self.sigs.iter().position(|(n, _)| n.as_str() == fp.fn_name()).ok_or_else(|| format!("function pointer to {}", fp.fn_name()))
    }

    fn expr(&mut self, e: &RExpr) -> R<Expr> {
        Ok(match e {
            RExpr::DynamicConstant(v, _) => {
                if v.is_fnptr() {
                    Expr::Closure(self.fn_ptr_target(v)?, Box::new([]))
                } else if v.is_shared() {
                    return Err("shared constant".into());
                } else {
                    Expr::Const((**v).clone())
                }
            }
            RExpr::BoolConstant(b, _) => Expr::Const(Dynamic::from_bool(*b)),
            RExpr::IntegerConstant(n, _) => Expr::Int(*n),
            RExpr::FloatConstant(x, _) => Expr::Const(Dynamic::from_float(**x)),
            RExpr::CharConstant(c, _) => Expr::Const(Dynamic::from_char(*c)),
            RExpr::StringConstant(s, _) => Expr::Const(Dynamic::from(s.clone())),
            RExpr::Unit(_) => Expr::Const(Dynamic::UNIT),
            RExpr::InterpolatedString(parts, _) => Expr::Interp(self.exprs(parts)?),
            RExpr::Array(items, _) => {
                let items = self.exprs(items)?;
                // A literal of constants is built once; each use clones it, as Rhai's
                // evaluator builds a fresh array each time.
                if items.iter().all(|x| matches!(x, Expr::Const(_) | Expr::Int(_))) {
                    let values = items.into_vec().into_iter().map(|x| match x {
                        Expr::Const(v) => v,
                        Expr::Int(n) => Dynamic::from_int(n),
                        _ => unreachable!(),
                    });
                    Expr::Const(Dynamic::from_array(values.collect()))
                } else {
                    Expr::Array(items)
                }
            }
            RExpr::Map(m, _) => {
                let entries = m.0.iter().map(|(k, v)| Ok((k.name.clone(), self.expr(v)?))).collect::<R<Vec<_>>>()?;
                Expr::Map(entries.into_boxed_slice())
            }
            RExpr::Variable(x, ..) => {
                if !x.2.is_empty() {
                    return Err("module path".into());
                }
                Expr::Slot(self.lookup(&x.1)?)
            }
            RExpr::ThisPtr(_) => Expr::This,
            RExpr::Stmt(b) => Expr::Block(self.block(b.statements())?),
            RExpr::FnCall(call, _) => self.call(call)?,
            RExpr::And(v, _) => Pure::pair(Expr::And(self.exprs(v)?)),
            RExpr::Or(v, _) => Pure::pair(Expr::Or(self.exprs(v)?)),
            RExpr::Dot(x, flags, _) | RExpr::Index(x, flags, _) => {
                if flags.contains(ASTFlags::NEGATED) {
                    return Err("?. or ?[".into());
                }
                let base = match &x.lhs {
                    RExpr::Variable(v, ..) if v.2.is_empty() => Base::Slot(self.lookup(&v.1)?),
                    RExpr::ThisPtr(_) => Base::This,
                    other => Base::Value(self.expr(other)?),
                };
                let mut links = Vec::new();
                self.links(matches!(e, RExpr::Index(..)), &x.rhs, flags.contains(ASTFlags::BREAK), &mut links)?;
                Pure::pair(Expr::Chain(Box::new(Chain { base, links: links.into_boxed_slice() })))
            }
            other => return Err(format!("expression not lowered: {}", expr_name(other))),
        })
    }

    fn exprs(&mut self, v: &[RExpr]) -> R<Box<[Expr]>> {
        Ok(v.iter().map(|e| self.expr(e)).collect::<R<Vec<_>>>()?.into_boxed_slice())
    }
}

fn variant_name(s: &RStmt) -> &'static str {
    match s {
        RStmt::Switch(..) => "switch",
        RStmt::TryCatch(..) => "try",
        RStmt::Return(..) => "throw",
        RStmt::BreakLoop(..) => "break with a value",
        RStmt::Import(..) => "import",
        RStmt::Export(..) => "export",
        _ => "other",
    }
}

fn expr_name(e: &RExpr) -> &'static str {
    match e {
        RExpr::Coalesce(..) => "??",
        RExpr::MethodCall(..) => "method call",
        RExpr::Property(..) => "property",
        _ => "other",
    }
}

