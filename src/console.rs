//! What the command line prints. `println!` panics when standard output is gone (a reader
//! that closed the pipe, as `| head` does, or a full disk behind a redirect); these end the
//! command cleanly instead: the temporary files of unfinished writes are removed, the
//! cause goes to standard error, and the exit code is 2. Standard error itself is written
//! best effort: there is nowhere left to report its failure.

use std::fmt;
use std::io::Write;

/// `print!` to standard output, ending the process cleanly if it cannot be written.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::console::write_stdout(format_args!($($arg)*)) };
}

/// `println!` to standard output, ending the process cleanly if it cannot be written.
#[macro_export]
macro_rules! outln {
    () => { $crate::console::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!`, best effort.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::console::write_stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

pub fn write_stdout(text: fmt::Arguments) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        drop(stdout);
        crate::atomic::remove_unfinished();
        write_stderr(format_args!(
            "error: cannot write to standard output: {e}\n"
        ));
        std::process::exit(i32::from(crate::error::Exit::Trouble.code()));
    }
}

pub fn write_stderr(text: fmt::Arguments) {
    let _ = std::io::stderr().lock().write_fmt(text);
}
