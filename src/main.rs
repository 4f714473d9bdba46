//! The `arcsynth` binary: parses arguments, runs the command, maps errors to exit codes.

fn main() {
    restore_sigpipe();
    std::process::exit(arcsynth::cli::main());
}

/// Rust ignores SIGPIPE, so `arcsynth show ... | head` would panic on the closed pipe.
/// Like other Unix filters, die quietly instead.
#[cfg(unix)]
fn restore_sigpipe() {
    extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    const SIGPIPE: i32 = 13;
    const SIG_DFL: usize = 0;
    // SAFETY: setting a signal's disposition to the default has no preconditions.
    unsafe {
        signal(SIGPIPE, SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_sigpipe() {}
