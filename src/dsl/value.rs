//! The sandbox fast path's values and the typed calling convention of primitives.
//!
//! Rhai keeps a custom type such as `Grid` in a `Dynamic` behind two boxes, so every
//! grid a primitive returns costs two allocations to box and two frees to unbox. The
//! fast path keeps grids and objects unboxed ([`Val::Grid`], [`Val::Obj`]; a loop over
//! an array of them unboxes each item once) and calls primitives through typed
//! adapters that build.rs generates from the same signatures as the dispatch table
//! (`Native::typed`): arguments are borrowed or moved out of `Val`s and the primitive's
//! Rust function is called directly, without the plugin's `Dynamic` marshalling.
//! Integers, booleans and `()` are unboxed too: loops over cells make and drop them at
//! every step, and a `Dynamic`'s clone and drop go through a match on every variant.
//!
//! **Invariant:** a `Val` means what its `into_dynamic()` means; `Val::Dyn` may hold a
//! grid, an object, an integer, a boolean or `()` too (one that came out of an array, or
//! from a plugin call), and every accessor accepts both forms.

use rhai::{Array, Dynamic, FnPtr, Map, Variant, INT};

use super::objects::Obj;
use crate::grid::Grid;

/// How a statement or expression of the sandbox's fast path ended other than with a
/// value (here, next to `Val`, because typed adapters answer in it too).
pub(crate) enum Flow {
    Break,
    Continue,
    /// Boxed, so that a statement's `R<()>` fits in two registers.
    Return(Box<Val>),
    Err(Box<rhai::EvalAltResult>),
}

impl From<Box<rhai::EvalAltResult>> for Flow {
    fn from(e: Box<rhai::EvalAltResult>) -> Flow {
        Flow::Err(e)
    }
}

impl From<&str> for Flow {
    fn from(e: &str) -> Flow {
        Flow::Err(e.into())
    }
}

pub(crate) type R<T> = Result<T, Flow>;

/// A value on the sandbox's fast path: `()`, a grid, an object, an integer or a boolean
/// unboxed, anything else Rhai's `Dynamic`.
#[derive(Debug, Clone, Default)]
pub(crate) enum Val {
    #[default]
    Unit,
    Int(INT),
    Bool(bool),
    Grid(Grid),
    Obj(Obj),
    Dyn(Dynamic),
}

impl Val {
    /// `d` as a `Val`, unboxing an integer, a boolean or `()`.
    pub fn from_dynamic(d: Dynamic) -> Val {
        if let Ok(n) = d.as_int() {
            Val::Int(n)
        } else if let Ok(b) = d.as_bool() {
            Val::Bool(b)
        } else if d.is_unit() {
            Val::Unit
        } else {
            Val::Dyn(d)
        }
    }

    /// `d` as a `Val`, unboxing a grid or an object too: for a value that is likely to
    /// be passed to primitives or cloned (a loop's item), where the boxed form costs
    /// two allocations more per copy.
    pub fn unboxed(d: Dynamic) -> Val {
        if d.is::<Grid>() {
            return d.try_cast::<Grid>().map_or(Val::Unit, Val::Grid);
        }
        if d.is::<Obj>() {
            return d.try_cast::<Obj>().map_or(Val::Unit, Val::Obj);
        }
        Val::from_dynamic(d)
    }

    /// A copy of `d` as a `Val`: a grid or an object is copied without its boxes.
    pub fn cloned(d: &Dynamic) -> Val {
        // Integers first: the commonest array element (a row, a list of counts).
        if let Ok(n) = d.as_int() {
            return Val::Int(n);
        }
        if let Some(g) = d.read_lock::<Grid>() {
            return Val::Grid(g.clone());
        }
        if let Some(o) = d.read_lock::<Obj>() {
            return Val::Obj(o.clone());
        }
        Val::from_dynamic(d.clone())
    }

    pub fn as_int(&self) -> Result<INT, &'static str> {
        match self {
            Val::Int(n) => Ok(*n),
            Val::Dyn(d) => d.as_int(),
            Val::Bool(_) => Err("bool"),
            Val::Unit => Err("()"),
            Val::Grid(_) => Err("Grid"),
            Val::Obj(_) => Err("Obj"),
        }
    }

    pub fn as_bool(&self) -> Result<bool, &'static str> {
        match self {
            Val::Bool(b) => Ok(*b),
            Val::Dyn(d) => d.as_bool(),
            Val::Int(_) => Err("i64"),
            Val::Unit => Err("()"),
            Val::Grid(_) => Err("Grid"),
            Val::Obj(_) => Err("Obj"),
        }
    }

    /// The `Dynamic`, unless this is an unboxed value.
    pub fn dynamic(&self) -> Option<&Dynamic> {
        match self {
            Val::Dyn(d) => Some(d),
            _ => None,
        }
    }

    /// The value as Rhai's `Dynamic`, boxing an unboxed value in place.
    pub fn dynamic_mut(&mut self) -> &mut Dynamic {
        if !matches!(self, Val::Dyn(_)) {
            *self = Val::Dyn(std::mem::take(self).into_dynamic());
        }
        match self {
            Val::Dyn(d) => d,
            _ => unreachable!("boxed above"),
        }
    }

    pub fn into_dynamic(self) -> Dynamic {
        match self {
            Val::Unit => Dynamic::UNIT,
            Val::Int(n) => Dynamic::from_int(n),
            Val::Bool(b) => Dynamic::from_bool(b),
            Val::Grid(g) => Dynamic::from(g),
            Val::Obj(o) => Dynamic::from(o),
            Val::Dyn(d) => d,
        }
    }

    /// `f` on the grid this value holds, boxed or not.
    #[inline]
    pub fn with_grid<R>(&self, f: impl FnOnce(&Grid) -> R) -> Option<R> {
        match self {
            Val::Grid(g) => Some(f(g)),
            Val::Dyn(d) => Some(f(&*d.read_lock::<Grid>()?)),
            Val::Unit | Val::Int(_) | Val::Bool(_) | Val::Obj(_) => None,
        }
    }
}

/// A by-value parameter of a primitive.
pub(crate) trait ArgVal: Sized {
    /// Moves the argument out of `v` (a temporary); `None` if it has another type.
    fn take(v: &mut Val) -> Option<Self>;
    /// Copies the argument out of `v` (a variable passed where a value is expected).
    fn cloned(v: &Val) -> Option<Self>;
}

/// `ArgVal` for the types that stay in a `Dynamic`.
macro_rules! arg_in_dynamic {
    ($($t:ty),*) => {$(
        impl ArgVal for $t {
            fn take(v: &mut Val) -> Option<Self> {
                match v {
                    Val::Dyn(d) if d.is::<$t>() => std::mem::take(d).try_cast::<$t>(),
                    _ => None,
                }
            }
            fn cloned(v: &Val) -> Option<Self> {
                v.dynamic()?.read_lock::<$t>().map(|x| x.clone())
            }
        }
    )*};
}
arg_in_dynamic!(Array, Map, FnPtr);

impl ArgVal for INT {
    fn take(v: &mut Val) -> Option<INT> {
        v.as_int().ok()
    }
    fn cloned(v: &Val) -> Option<INT> {
        v.as_int().ok()
    }
}

/// `ArgVal::take` for a type that a `Val` holds unboxed in `$variant`, or boxed in
/// `Val::Dyn`.
macro_rules! take_unboxed {
    ($t:ty, $variant:path) => {
        fn take(v: &mut Val) -> Option<$t> {
            match v {
                $variant(_) => match std::mem::take(v) {
                    $variant(x) => Some(x),
                    _ => unreachable!("matched above"),
                },
                Val::Dyn(d) if d.is::<$t>() => std::mem::take(d).try_cast::<$t>(),
                _ => None,
            }
        }
    };
}

impl ArgVal for Obj {
    take_unboxed!(Obj, Val::Obj);
    fn cloned(v: &Val) -> Option<Obj> {
        match v {
            Val::Obj(o) => Some(o.clone()),
            _ => v.dynamic()?.read_lock::<Obj>().map(|o| o.clone()),
        }
    }
}

impl ArgVal for Grid {
    take_unboxed!(Grid, Val::Grid);
    fn cloned(v: &Val) -> Option<Grid> {
        v.with_grid(Grid::clone)
    }
}

/// A by-reference (`&mut`) first parameter of a primitive.
pub(crate) trait ArgMut: Variant + Clone {
    /// `f` on the argument in place; `None` if `v` holds another type.
    fn with<R>(v: &mut Val, f: impl FnOnce(&mut Self) -> R) -> Option<R> {
        match v {
            Val::Dyn(d) => Some(f(&mut *d.write_lock::<Self>()?)),
            _ => None,
        }
    }
}

impl ArgMut for Array {}

impl ArgMut for Obj {
    fn with<R>(v: &mut Val, f: impl FnOnce(&mut Obj) -> R) -> Option<R> {
        match v {
            Val::Obj(o) => Some(f(o)),
            Val::Dyn(d) => Some(f(&mut *d.write_lock::<Obj>()?)),
            _ => None,
        }
    }
}
impl ArgMut for Map {}

impl ArgMut for Grid {
    fn with<R>(v: &mut Val, f: impl FnOnce(&mut Grid) -> R) -> Option<R> {
        match v {
            Val::Grid(g) => Some(f(g)),
            Val::Dyn(d) => Some(f(&mut *d.write_lock::<Grid>()?)),
            Val::Unit | Val::Int(_) | Val::Bool(_) | Val::Obj(_) => None,
        }
    }
}

/// What a primitive returns, as a `Val`.
pub(crate) trait IntoVal {
    fn into_val(self) -> Val;
}

impl IntoVal for Grid {
    fn into_val(self) -> Val {
        Val::Grid(self)
    }
}

macro_rules! into_dynamic_val {
    ($($t:ty),*) => {$(
        impl IntoVal for $t {
            fn into_val(self) -> Val {
                Val::Dyn(Dynamic::from(self))
            }
        }
    )*};
}
into_dynamic_val!(Array, Map, String);

impl IntoVal for Obj {
    fn into_val(self) -> Val {
        Val::Obj(self)
    }
}

impl IntoVal for () {
    fn into_val(self) -> Val {
        Val::Unit
    }
}

impl IntoVal for INT {
    fn into_val(self) -> Val {
        Val::Int(self)
    }
}

impl IntoVal for bool {
    fn into_val(self) -> Val {
        Val::Bool(self)
    }
}

impl IntoVal for Dynamic {
    fn into_val(self) -> Val {
        Val::from_dynamic(self)
    }
}
