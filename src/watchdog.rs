//! What stops a running program from outside its own operations: its deadline and its
//! memory budget, for the program running on this thread.
//!
//! The sandbox starts a [`Scope`] for each run. The engine's progress callback (every
//! 64 operations) and primitives whose one call can take long (`dsl::ops::complete_pattern`) call [`check`], so a run overruns its
//! deadline by at most one short step, and a loop that grows a map or an array of
//! grids is stopped as it grows, not when it ends. Outside a run (the enumerator calls
//! primitives directly) nothing is checked.
//!
//! Memory is counted by the process's global allocator ([`Counting`]): bytes allocated
//! minus bytes freed on each thread. A run's use is the growth of its thread's count
//! since the run started. Memory freed on another thread is not seen, which only makes
//! the budget looser.
//!
//! The clock is first read at a run's first check, not at its start: most runs end
//! before that, and reading the clock costs a tenth of a short program.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

thread_local! {
    static DEADLINE: Cell<Deadline> = const { Cell::new(Deadline::None) };
    /// Bytes this thread has allocated and not freed (freed elsewhere: never subtracted).
    static LIVE: Cell<isize> = const { Cell::new(0) };
    /// The most `LIVE` may reach in the current run; `isize::MAX` outside runs.
    static MEMORY_CAP: Cell<isize> = const { Cell::new(isize::MAX) };
}

#[derive(Debug, Clone, Copy)]
enum Deadline {
    None,
    /// `timeout` from the first check.
    After(Duration),
    At(Instant),
}

/// Why a run must stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Deadline,
    Memory,
}

impl Stop {
    /// The value the engine's progress callback stops a run with, read back by the
    /// sandbox to tell a timeout from a memory overrun.
    pub fn token(self) -> &'static str {
        match self {
            Stop::Deadline => "deadline",
            Stop::Memory => "memory",
        }
    }
}

/// The limits of a run on this thread, from its start until dropped; the limits before
/// it (of a run that called this one, if any) are then restored.
pub struct Scope {
    deadline: Deadline,
    memory_cap: isize,
}

impl Scope {
    pub fn start(timeout: Duration, max_bytes: usize) -> Scope {
        let cap = LIVE.with(Cell::get).saturating_add(max_bytes.min(isize::MAX as usize) as isize);
        Scope {
            deadline: DEADLINE.with(|d| d.replace(Deadline::After(timeout))),
            memory_cap: MEMORY_CAP.with(|m| m.replace(cap)),
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        DEADLINE.with(|d| d.set(self.deadline));
        MEMORY_CAP.with(|m| m.set(self.memory_cap));
    }
}

/// Whether the run on this thread must stop, and why (starting its clock at the first
/// check).
pub fn check() -> Result<(), Stop> {
    if LIVE.with(Cell::get) > MEMORY_CAP.with(Cell::get) {
        return Err(Stop::Memory);
    }
    let late = DEADLINE.with(|d| match d.get() {
        Deadline::None => false,
        Deadline::After(timeout) => {
            d.set(Deadline::At(Instant::now() + timeout));
            false
        }
        Deadline::At(t) => Instant::now() >= t,
    });
    if late {
        Err(Stop::Deadline)
    } else {
        Ok(())
    }
}

/// The system allocator, counting each thread's live bytes for [`check`]. Installed as
/// the global allocator of every binary that links arcsynth.
pub struct Counting;

fn count(delta: isize) {
    // `try_with`: never fails for a const-initialised Cell, but an allocator must not panic.
    let _ = LIVE.try_with(|l| l.set(l.get().wrapping_add(delta)));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;
