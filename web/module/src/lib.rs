//! The WebAssembly module behind web/: a handful of C-ABI functions around
//! `dynasim::playground::Session`, so the page needs no generated glue. Strings cross as
//! (pointer, length) pairs of UTF-8 in the module's memory: the page writes a scenario
//! into a buffer from `dynasim_alloc`, and reads any text result (the report, the
//! summary, an error) at `dynasim_output_ptr()` for `dynasim_output_len()` bytes.
//!
//! One run at a time (the page runs each in its own Web Worker). A panic traps; the page
//! then reads its message with `dynasim_panic_message`, as the instance's memory outlives
//! the trap.

use dynasim::playground::{Outcome, Session};
use std::cell::RefCell;

thread_local! {
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
    static FINISHED: RefCell<Option<Outcome>> = const { RefCell::new(None) };
    static OUTPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static PANIC: RefCell<String> = const { RefCell::new(String::new()) };
}

fn set_output(text: &str) {
    OUTPUT.with(|o| {
        let mut o = o.borrow_mut();
        o.clear();
        o.extend_from_slice(text.as_bytes());
    });
}

/// A buffer of `len` bytes for the page to write into; give it back with `dynasim_free`.
#[unsafe(no_mangle)]
pub extern "C" fn dynasim_alloc(len: usize) -> *mut u8 {
    let mut buffer = Vec::<u8>::with_capacity(len);
    let ptr = buffer.as_mut_ptr();
    std::mem::forget(buffer);
    ptr
}

/// # Safety
/// `ptr` and `len` must come from one `dynasim_alloc` call, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dynasim_free(ptr: *mut u8, len: usize) {
    // SAFETY: the caller passes back a buffer `dynasim_alloc` made with capacity `len`.
    drop(unsafe { Vec::from_raw_parts(ptr, 0, len) });
}

#[unsafe(no_mangle)]
pub extern "C" fn dynasim_output_ptr() -> *const u8 {
    OUTPUT.with(|o| o.borrow().as_ptr())
}

#[unsafe(no_mangle)]
pub extern "C" fn dynasim_output_len() -> usize {
    OUTPUT.with(|o| o.borrow().len())
}

/// Validates the scenario in `ptr..ptr+len` and sets its run up: 0 when it starts, 1 when
/// it is refused (the reason is the output).
///
/// # Safety
/// `ptr..ptr+len` must be initialised memory of this module (a `dynasim_alloc` buffer).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dynasim_start(ptr: *const u8, len: usize) -> u32 {
    std::panic::set_hook(Box::new(|info| {
        PANIC.with(|p| *p.borrow_mut() = info.to_string())
    }));
    // SAFETY: the caller hands over `len` initialised bytes at `ptr` in this memory.
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
    FINISHED.with(|f| f.borrow_mut().take());
    let started = std::str::from_utf8(bytes)
        .map_err(|e| format!("the scenario is not UTF-8 text: {e}"))
        .and_then(Session::start);
    match started {
        Ok(session) => {
            SESSION.with(|s| *s.borrow_mut() = Some(session));
            set_output("");
            0
        }
        Err(message) => {
            SESSION.with(|s| s.borrow_mut().take());
            set_output(&message);
            1
        }
    }
}

/// Runs up to `slice_s` more simulated seconds; returns the simulated time reached, or -1
/// with no run set up.
#[unsafe(no_mangle)]
pub extern "C" fn dynasim_advance(slice_s: f64) -> f64 {
    SESSION.with(|s| match s.borrow_mut().as_mut() {
        Some(session) => session.advance(slice_s).simulated_s,
        None => -1.0,
    })
}

/// Makes the timeline points measured so far, from index `from` on, the output (a JSON
/// list; empty with no run set up).
#[unsafe(no_mangle)]
pub extern "C" fn dynasim_timeline(from: usize) {
    let text = SESSION.with(|s| {
        s.borrow()
            .as_ref()
            .map(|session| session.timeline_json(from))
    });
    set_output(text.as_deref().unwrap_or("[]"));
}

/// The simulated length of the run set up, in seconds (-1 with none).
#[unsafe(no_mangle)]
pub extern "C" fn dynasim_end_s() -> f64 {
    SESSION.with(|s| match s.borrow_mut().as_mut() {
        Some(session) => session.progress().end_s,
        None => -1.0,
    })
}

/// Finishes the run and makes its report.json the output: 0, or 1 with no run set up.
#[unsafe(no_mangle)]
pub extern "C" fn dynasim_finish() -> u32 {
    let Some(session) = SESSION.with(|s| s.borrow_mut().take()) else {
        set_output("no run is set up");
        return 1;
    };
    let outcome = session.finish();
    set_output(&outcome.report_json);
    FINISHED.with(|f| *f.borrow_mut() = Some(outcome));
    0
}

/// Makes the finished run's summary.md the output: 0, or 1 with no finished run.
#[unsafe(no_mangle)]
pub extern "C" fn dynasim_summary() -> u32 {
    finished_output(|o| &o.summary_md)
}

/// Makes the finished run's first stale reads (JSON) the output: 0, or 1 with no
/// finished run.
#[unsafe(no_mangle)]
pub extern "C" fn dynasim_stale_examples() -> u32 {
    finished_output(|o| &o.stale_examples_json)
}

fn finished_output(part: fn(&Outcome) -> &String) -> u32 {
    let text = FINISHED.with(|f| f.borrow().as_ref().map(|o| part(o).clone()));
    match text {
        Some(text) => {
            set_output(&text);
            0
        }
        None => {
            set_output("no run has finished");
            1
        }
    }
}

/// Makes the message of the panic that trapped the module the output.
#[unsafe(no_mangle)]
pub extern "C" fn dynasim_panic_message() {
    let message = PANIC.with(|p| p.borrow().clone());
    set_output(&message);
}
