//! [`Pure`] expressions compiled to closures, the form [`super::exec`] runs.
//!
//! Walking a `Pure` tree costs a dispatch on every node and on every operator. Loops
//! over cells evaluate the same few shapes millions of times (`g.get(r, c)`, `v != 0`,
//! `r * h`), so lowering compiles each one once into a closure specialised for its
//! operator and for operands that are literals or local variables, and nests closures
//! only where operands are themselves expressions.
//!
//! **Invariant:** a compiled form answers what walking its `Pure` would: `None` exactly
//! when a variable holds something else than the form needs or the arithmetic fails,
//! and then the general form of the expression decides.

use rhai::INT;

use super::lower::{BinOp, Intrinsic, Pure, Slot};
use crate::dsl::ops;
use crate::dsl::value::Val;

/// A form over a frame's locals and captured values.
pub(crate) type Form<T> = Box<dyn Fn(&[Val], &[Val]) -> Option<T> + Send + Sync>;
/// An integer-valued form.
pub(crate) type IntFn = Form<INT>;
/// A boolean-valued form (comparisons and their `&&`, `||`, `!`).
pub(crate) type BoolFn = Form<bool>;

/// A compiled [`Pure`]: integer- or boolean-valued, as [`Pure::is_bool`] says.
pub(crate) enum Compiled {
    Int(IntFn),
    Bool(BoolFn),
}

impl Compiled {
    pub fn of(p: &Pure) -> Compiled {
        if p.is_bool() {
            Compiled::Bool(boolean(p))
        } else {
            Compiled::Int(int(p))
        }
    }
}

/// The cell accessors that loops call most, on the same `ops` functions as their
/// `dsl::module` wrappers but without the plugin's argument marshalling. `None` when the
/// arguments are not a grid and integers, and the overloads must run. Only pure
/// accessors: `set` mutates its receiver, so it keeps the captured-variable check.
pub(crate) fn intrinsic(k: Intrinsic, first: &Val, args: &[INT]) -> Option<INT> {
    match (k, args) {
        (Intrinsic::Get, [r, c]) => cell(first, *r, *c),
        (Intrinsic::Rows | Intrinsic::Cols, []) => dim(k, first),
        _ => None,
    }
}

/// `g.get(r, c)` on a grid, `-1` outside it.
#[inline(always)]
fn cell(g: &Val, r: INT, c: INT) -> Option<INT> {
    g.with_grid(|g| ops::get(g, r, c))
}

/// `g.rows()` or `g.cols()` on a grid.
#[inline(always)]
fn dim(k: Intrinsic, g: &Val) -> Option<INT> {
    g.with_grid(|g| match k {
        Intrinsic::Rows => g.rows() as INT,
        _ => g.cols() as INT,
    })
}

#[inline(always)]
fn int_of(v: &Val) -> Option<INT> {
    match v {
        Val::Int(n) => Some(*n),
        v => v.as_int().ok(),
    }
}

#[inline(always)]
fn slot<'a>(s: Slot, locals: &'a [Val], captures: &'a [Val]) -> &'a Val {
    match s {
        Slot::Local(i) => &locals[i as usize],
        Slot::Capture(i) => &captures[i as usize],
    }
}

/// An operand that closures read directly.
#[derive(Clone, Copy)]
enum Leaf {
    Int(INT),
    Local(usize),
}

fn leaf(p: &Pure) -> Option<Leaf> {
    match p {
        Pure::Int(n) => Some(Leaf::Int(*n)),
        Pure::Slot(Slot::Local(i)) => Some(Leaf::Local(*i as usize)),
        _ => None,
    }
}

/// `f` of two integer operands, specialised for literal and local operands.
fn pair<T: 'static, F>(f: F, a: &Pure, b: &Pure) -> Form<T>
where
    F: Fn(INT, INT) -> Option<T> + Copy + Send + Sync + 'static,
{
    match (leaf(a), leaf(b)) {
        (Some(Leaf::Local(x)), Some(Leaf::Local(y))) => Box::new(move |l, _| f(int_of(&l[x])?, int_of(&l[y])?)),
        (Some(Leaf::Local(x)), Some(Leaf::Int(n))) => Box::new(move |l, _| f(int_of(&l[x])?, n)),
        (Some(Leaf::Int(n)), Some(Leaf::Local(y))) => Box::new(move |l, _| f(n, int_of(&l[y])?)),
        _ => {
            let (fa, fb) = (int(a), int(b));
            Box::new(move |l, c| f(fa(l, c)?, fb(l, c)?))
        }
    }
}

fn int(p: &Pure) -> IntFn {
    match p {
        Pure::Int(n) => {
            let n = *n;
            Box::new(move |_, _| Some(n))
        }
        Pure::Slot(Slot::Local(i)) => {
            let i = *i as usize;
            Box::new(move |l, _| int_of(&l[i]))
        }
        Pure::Slot(Slot::Capture(i)) => {
            let i = *i as usize;
            Box::new(move |_, c| int_of(&c[i]))
        }
        Pure::Arith(op, ab) => {
            let (a, b) = (&ab.0, &ab.1);
            match op {
                BinOp::Add => pair(INT::checked_add, a, b),
                BinOp::Sub => pair(INT::checked_sub, a, b),
                BinOp::Mul => pair(INT::checked_mul, a, b),
                BinOp::Div => pair(INT::checked_div, a, b),
                BinOp::Rem => pair(INT::checked_rem, a, b),
                _ => Box::new(|_, _| None),
            }
        }
        Pure::Cell(s, rc) => {
            let s = *s;
            match (s, leaf(&rc.0), leaf(&rc.1)) {
                (Slot::Local(g), Some(Leaf::Local(r)), Some(Leaf::Local(c))) => {
                    let g = g as usize;
                    Box::new(move |l, _| cell(&l[g], int_of(&l[r])?, int_of(&l[c])?))
                }
                _ => {
                    let (fr, fc) = (int(&rc.0), int(&rc.1));
                    Box::new(move |l, c| cell(slot(s, l, c), fr(l, c)?, fc(l, c)?))
                }
            }
        }
        Pure::Dim(k, s) => {
            let s = *s;
            match k {
                Intrinsic::Rows => Box::new(move |l, c| dim(Intrinsic::Rows, slot(s, l, c))),
                Intrinsic::Cols => Box::new(move |l, c| dim(Intrinsic::Cols, slot(s, l, c))),
                Intrinsic::Get => Box::new(|_, _| None),
            }
        }
        // Boolean-valued: not an integer.
        Pure::Cmp(..) | Pure::And(_) | Pure::Or(_) | Pure::Not(_) => Box::new(|_, _| None),
    }
}

fn boolean(p: &Pure) -> BoolFn {
    match p {
        Pure::Slot(s) => {
            let s = *s;
            Box::new(move |l, c| slot(s, l, c).as_bool().ok())
        }
        Pure::Cmp(op, ab) => {
            let (a, b) = (&ab.0, &ab.1);
            match op {
                BinOp::Eq => pair(|x, y| Some(x == y), a, b),
                BinOp::Ne => pair(|x, y| Some(x != y), a, b),
                BinOp::Lt => pair(|x, y| Some(x < y), a, b),
                BinOp::Le => pair(|x, y| Some(x <= y), a, b),
                BinOp::Gt => pair(|x, y| Some(x > y), a, b),
                BinOp::Ge => pair(|x, y| Some(x >= y), a, b),
                _ => Box::new(|_, _| None),
            }
        }
        Pure::And(ab) => {
            let (fa, fb) = (boolean(&ab.0), boolean(&ab.1));
            Box::new(move |l, c| Some(fa(l, c)? && fb(l, c)?))
        }
        Pure::Or(ab) => {
            let (fa, fb) = (boolean(&ab.0), boolean(&ab.1));
            Box::new(move |l, c| Some(fa(l, c)? || fb(l, c)?))
        }
        Pure::Not(x) => {
            let f = boolean(x);
            Box::new(move |l, c| Some(!f(l, c)?))
        }
        // Integer-valued: not a boolean.
        Pure::Int(_) | Pure::Arith(..) | Pure::Cell(..) | Pure::Dim(..) => Box::new(|_, _| None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::Grid;

    /// The compiled forms answer as the tree they come from, on integers, on variables
    /// holding other types (`None`) and on overflow (`None`).
    #[test]
    fn compiled_forms_answer_as_their_trees() {
        let g = Grid::from_text("12\n34").unwrap();
        let locals = [Val::Int(1), Val::Int(0), Val::Grid(g), Val::Bool(true), Val::Int(INT::MAX)];
        let captures = [Val::Int(7)];
        let (l, c) = (&locals[..], &captures[..]);
        let local = |i| Pure::Slot(Slot::Local(i));
        let arith = |op, a, b| Pure::Arith(op, Box::new((a, b)));
        let cmp = |op, a, b| Pure::Cmp(op, Box::new((a, b)));
        let run_int = |p: &Pure| match Compiled::of(p) {
            Compiled::Int(f) => f(l, c),
            Compiled::Bool(_) => panic!("integer form expected"),
        };
        let run_bool = |p: &Pure| match Compiled::of(p) {
            Compiled::Bool(f) => f(l, c),
            Compiled::Int(_) => panic!("boolean form expected"),
        };
        assert_eq!(run_int(&arith(BinOp::Mul, local(0), Pure::Int(5))), Some(5));
        assert_eq!(run_int(&arith(BinOp::Sub, Pure::Int(5), local(0))), Some(4));
        assert_eq!(run_int(&arith(BinOp::Add, local(4), local(0))), None, "overflow");
        assert_eq!(run_int(&arith(BinOp::Div, local(0), local(1))), None, "division by zero");
        assert_eq!(run_int(&arith(BinOp::Add, local(3), Pure::Int(1))), None, "a boolean operand");
        assert_eq!(run_int(&arith(BinOp::Add, Pure::Slot(Slot::Capture(0)), arith(BinOp::Rem, Pure::Int(9), Pure::Int(4)))), Some(8));
        assert_eq!(run_int(&Pure::Cell(Slot::Local(2), Box::new((local(0), local(1))))), Some(3));
        assert_eq!(run_int(&Pure::Cell(Slot::Local(2), Box::new((Pure::Int(0), Pure::Int(5))))), Some(-1), "outside the grid");
        assert_eq!(run_int(&Pure::Cell(Slot::Local(0), Box::new((Pure::Int(0), Pure::Int(0))))), None, "not a grid");
        assert_eq!(run_int(&Pure::Dim(Intrinsic::Cols, Slot::Local(2))), Some(2));
        assert_eq!(run_bool(&cmp(BinOp::Ne, local(0), Pure::Int(0))), Some(true));
        assert_eq!(run_bool(&cmp(BinOp::Ge, local(1), local(0))), Some(false));
        assert_eq!(run_bool(&cmp(BinOp::Lt, local(2), Pure::Int(0))), None, "a grid operand");
        let and = Pure::And(Box::new((cmp(BinOp::Eq, local(1), Pure::Int(1)), cmp(BinOp::Lt, local(2), Pure::Int(0)))));
        assert_eq!(run_bool(&and), Some(false), "&& stops at its false left side");
        let or = Pure::Or(Box::new((local(3), cmp(BinOp::Lt, local(2), Pure::Int(0)))));
        assert_eq!(run_bool(&or), Some(true), "|| stops at its true left side");
        assert_eq!(run_bool(&Pure::Not(Box::new(local(3)))), Some(false));
        assert_eq!(run_bool(&Pure::Not(Box::new(local(0)))), None, "! of an integer");
    }
}
