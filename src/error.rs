//! How a command ends: the exit-code vocabulary every command shares, and `Failure`, the
//! error a command returns (an `Exit` and a message with its context). It sits at the
//! bottom of the crate so that every command can fail the same way without knowing the
//! CLI; `cli::main` is the one place a `Failure` becomes a process exit code. The table
//! is in README.md ("Exit codes").

use std::fmt;
use std::path::Path;

/// How a command ended, the same for every command. The derived order puts trouble last:
/// when several things go wrong at once, the most severe one decides (`max`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Exit 0: the command did what was asked and the answer is yes.
    Success,
    /// Exit 1: the command ran to its end and the answer is no: a regression found, an
    /// invariant violated, a run that finished but was judged failed (or crashed).
    Failed,
    /// Exit 2: the command could not do its job: a usage error, a bad scenario or input
    /// file, a file that cannot be read or written.
    Trouble,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Trouble => 2,
        }
    }
}

/// Why a command did not succeed: how it ends, and a message for the user (lowercase,
/// the bad value quoted, context added on the way up).
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    /// The command ran and the answer is no (exit 1).
    pub fn failed(message: impl Into<String>) -> Failure {
        Failure {
            exit: Exit::Failed,
            message: message.into(),
        }
    }

    /// Bad input, or the command could not do its job (exit 2).
    pub fn trouble(message: impl Into<String>) -> Failure {
        Failure {
            exit: Exit::Trouble,
            message: message.into(),
        }
    }

    /// A file that cannot be read, written, created or removed (exit 2):
    /// "cannot {what} {path}: {error}".
    pub fn cannot(what: &str, path: &Path, error: impl fmt::Display) -> Failure {
        Failure::trouble(format!("cannot {what} {}: {error}", path.display()))
    }

    /// Prefixes the message with where it happened: "{context}: {message}".
    pub fn context(self, context: impl fmt::Display) -> Failure {
        Failure {
            exit: self.exit,
            message: format!("{context}: {}", self.message),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The message a caught panic carried (`std::panic::catch_unwind`'s payload).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    (payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_severe_exit_wins_and_context_goes_in_front() {
        assert_eq!(Exit::Failed.max(Exit::Trouble), Exit::Trouble);
        assert_eq!(Exit::Success.max(Exit::Failed), Exit::Failed);
        let f = Failure::cannot("write", Path::new("out/report.json"), "denied").context("run");
        assert_eq!(f.exit, Exit::Trouble);
        assert_eq!(f.message, "run: cannot write out/report.json: denied");
    }
}
