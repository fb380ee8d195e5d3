//! The history export: every client operation as JSON Lines, one object per invocation and
//! one per completion, close to Jepsen's history format, so that external checkers can
//! verify dynasim's verdicts. The format is documented in docs/report.md ("History").
//!
//! Lines are streamed to a temporary file next to the target and renamed over it by
//! [`History::finish`]; a run that stops early leaves no file that looks complete. The
//! observer only writes here when a history was asked for: without one, nothing is
//! formatted.

use super::WriteInvocation;
use crate::engine::SimTime;
use crate::ids::{ClientId, KeyId, NodeId, RequestId, WriteId};
use crate::node::{Fact, FailCause, Op, Version};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A request as the history names it: the operation (`f`), and whether it is the get a
/// read-modify-write client makes before its put (`"f": "read"`, `"context": true`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    pub op: Op,
    pub context: bool,
}

impl Call {
    pub const READ: Call = Call {
        op: Op::Get,
        context: false,
    };
    pub const CONTEXT_READ: Call = Call {
        op: Op::Get,
        context: true,
    };
    pub const WRITE: Call = Call {
        op: Op::Put,
        context: false,
    };
}

/// An open history file.
pub struct History {
    out: Option<BufWriter<File>>,
    /// The temporary file renamed into place at the end; `None` for a device or pipe,
    /// written in place.
    tmp: Option<PathBuf>,
    path: PathBuf,
    /// The first write error; later lines are skipped and `finish` reports it.
    error: Option<io::Error>,
    line: String,
    invocations: u64,
    completions: u64,
}

impl History {
    /// Opens a temporary file in the target's folder (created if missing).
    /// A device or pipe (`/dev/stdout`) is written in place, and a symbolic link is
    /// written through (`atomic::destination`).
    pub fn create(path: &Path) -> io::Result<History> {
        let (file, tmp, path) = match crate::atomic::destination(path)? {
            crate::atomic::Destination::InPlace(device) => {
                (crate::atomic::open_in_place(&device)?, None, device)
            }
            crate::atomic::Destination::Replace(target) => {
                let (_, tmp) = crate::atomic::temporary_sibling(&target)?;
                (File::create(&tmp)?, Some(tmp), target)
            }
        };
        Ok(History {
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            tmp,
            path,
            error: None,
            line: String::with_capacity(256),
            invocations: 0,
            completions: 0,
        })
    }

    /// Lines written so far: (invocations, completions).
    pub fn counts(&self) -> (u64, u64) {
        (self.invocations, self.completions)
    }

    /// The first line: what the run's versions follow.
    pub(crate) fn meta(&mut self, versioning: &str, n: u32, r: u32, w: u32) {
        self.line.clear();
        let _ = write!(
            self.line,
            "{{\"type\":\"meta\",\"versioning\":\"{versioning}\",\"n\":{n},\"r\":{r},\"w\":{w}"
        );
        self.end();
    }

    /// A request was sent. A write's line says whether it is blind and, if not, the write
    /// ids its context read returned (its ground-truth parents).
    pub(crate) fn invoke(
        &mut self,
        time: SimTime,
        client: ClientId,
        op: Call,
        key: KeyId,
        req: RequestId,
        write: Option<WriteInvocation>,
    ) {
        self.invocations += 1;
        self.begin("invoke", op, client, time, key, req);
        match write {
            Some(w) => {
                let _ = write!(self.line, ",\"value\":\"{}\"", w.write);
                if w.delete {
                    self.line.push_str(",\"delete\":true");
                }
                match w.parents {
                    Some(parents) => {
                        self.line.push_str(",\"blind\":false,\"parents\":");
                        push_ids(&mut self.line, parents.iter().copied());
                    }
                    None => self.line.push_str(",\"blind\":true"),
                }
            }
            None => self.line.push_str(",\"value\":null"),
        }
        self.end();
    }

    /// A node's fact about its own data: a blind put's merge or a discard.
    pub(crate) fn fact(&mut self, time: SimTime, node: NodeId, fact: &Fact) {
        self.line.clear();
        let ns = time.as_micros().saturating_mul(1_000);
        match fact {
            Fact::BlindMerge { write, key, merged } => {
                let _ = write!(
                    self.line,
                    "{{\"type\":\"merge\",\"write\":\"{write}\",\"key\":{},\"time\":{ns},\"node\":{},\"parents\":",
                    key.0, node.0
                );
                push_ids(&mut self.line, merged.iter().copied());
            }
            Fact::Discard {
                key,
                write,
                kept,
                hint,
            } => {
                let _ = write!(
                    self.line,
                    "{{\"type\":\"discard\",\"node\":{},\"key\":{},\"time\":{ns},\"write\":\"{write}\",\"store\":\"{}\",\"kept\":",
                    node.0,
                    key.0,
                    if *hint { "hints" } else { "data" }
                );
                push_ids(&mut self.line, kept.iter().copied());
            }
            Fact::Collected { key, writes } => {
                let _ = write!(
                    self.line,
                    "{{\"type\":\"collect\",\"node\":{},\"key\":{},\"time\":{ns},\"writes\":",
                    node.0, key.0
                );
                push_ids(&mut self.line, writes.iter().copied());
            }
            Fact::Suspected { .. } | Fact::Trusted { .. } => return,
        }
        self.end();
    }

    /// A closing line: the write ids held for `key` at the end of the run.
    pub(crate) fn final_state(&mut self, key: KeyId, held: &[WriteId]) {
        self.line.clear();
        let _ = write!(
            self.line,
            "{{\"type\":\"final\",\"key\":{},\"value\":",
            key.0
        );
        push_ids(&mut self.line, held.iter().copied());
        self.end();
    }

    /// A read (or context read) completed.
    pub(crate) fn read_done(
        &mut self,
        time: SimTime,
        client: ClientId,
        op: Call,
        key: KeyId,
        req: RequestId,
        result: Result<&[Version], FailCause>,
    ) {
        self.completions += 1;
        match result {
            Ok(versions) => {
                self.begin("ok", op, client, time, key, req);
                self.line.push_str(",\"value\":");
                push_ids(&mut self.line, versions.iter().map(|v| v.write));
            }
            // A failed read changed nothing: Jepsen's `fail`.
            Err(cause) => {
                self.begin("fail", op, client, time, key, req);
                self.line.push_str(",\"value\":null");
                push_error(&mut self.line, cause);
            }
        }
        self.end();
    }

    /// A write completed.
    pub(crate) fn write_done(
        &mut self,
        time: SimTime,
        client: ClientId,
        key: KeyId,
        req: RequestId,
        write: WriteId,
        result: Result<(), FailCause>,
    ) {
        self.completions += 1;
        // A failed put may still have reached replicas (Dynamo never rolls back), so its
        // outcome is indeterminate: Jepsen's `info`.
        let kind = if result.is_ok() { "ok" } else { "info" };
        self.begin(kind, Call::WRITE, client, time, key, req);
        let _ = write!(self.line, ",\"value\":\"{write}\"");
        if let Err(cause) = result {
            push_error(&mut self.line, cause);
        }
        self.end();
    }

    fn begin(
        &mut self,
        kind: &str,
        op: Call,
        client: ClientId,
        time: SimTime,
        key: KeyId,
        req: RequestId,
    ) {
        self.line.clear();
        let f = match op.op {
            Op::Get => "read",
            Op::Put => "write",
        };
        let _ = write!(
            self.line,
            "{{\"type\":\"{kind}\",\"f\":\"{f}\",\"process\":{},\"time\":{},\"key\":{},\"req\":\"{req}\"",
            client.0,
            time.as_micros().saturating_mul(1_000),
            key.0,
        );
        if op.context {
            self.line.push_str(",\"context\":true");
        }
    }

    fn end(&mut self) {
        self.line.push_str("}\n");
        if self.error.is_some() {
            return;
        }
        if let Some(out) = self.out.as_mut()
            && let Err(e) = out.write_all(self.line.as_bytes())
        {
            self.error = Some(e);
        }
    }

    /// Flushes, syncs and renames the file into place; returns its path.
    pub fn finish(mut self) -> io::Result<PathBuf> {
        let out = self.out.take();
        let result = (|| {
            if let Some(e) = self.error.take() {
                return Err(e);
            }
            let file = out
                .ok_or_else(|| io::Error::other("history already finished"))?
                .into_inner()
                .map_err(|e| e.into_error())?;
            let Some(tmp) = &self.tmp else {
                return Ok(());
            };
            file.sync_all()?;
            std::fs::rename(tmp, &self.path)
        })();
        if let Some(tmp) = &self.tmp {
            if result.is_err() {
                let _ = std::fs::remove_file(tmp);
            }
            crate::atomic::settled(tmp);
        }
        result.map(|()| self.path.clone())
    }
}

impl Drop for History {
    /// A history dropped without `finish` (an abandoned run) removes its temporary file.
    fn drop(&mut self) {
        if self.out.take().is_some()
            && let Some(tmp) = &self.tmp
        {
            let _ = std::fs::remove_file(tmp);
            crate::atomic::settled(tmp);
        }
    }
}

/// Appends `["w-1","w-2"]`.
fn push_ids(line: &mut String, ids: impl Iterator<Item = WriteId>) {
    line.push('[');
    for (i, w) in ids.enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(line, "{sep}\"{w}\"");
    }
    line.push(']');
}

fn push_error(line: &mut String, cause: FailCause) {
    line.push_str(match cause {
        FailCause::Timeout => ",\"error\":\"timeout\"",
        FailCause::NotEnoughReplicas => ",\"error\":\"not_enough_replicas\"",
        FailCause::TooManySiblings => ",\"error\":\"too_many_siblings\"",
    });
}
