//! An outside checker for `dynasim run --history` files. It recomputes the oracle's
//! verdicts (stale reads, k-staleness, versions per read, false siblings, lost, overwritten
//! and lost-update writes, acknowledged and resurrected deletes) from the JSON Lines record
//! alone, following the oracle's
//! written specification and nothing of the observer's code, so that a bug in either shows
//! up as a disagreement with report.json.
//!
//! Event order is line order everywhere; `time` is only checked never to go backwards.
//! Ancestry queries are bounded by the line at which each version was made: a parent is
//! always made before its child, so a search for `w` never needs to look at a version made
//! before `w` (see [`Ancestry`]).

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BinaryHeap, HashMap};

/// k-staleness is capped here (the spec's cap).
const K_STALENESS_CAP: u32 = 1000;

/// The checker's numbers, named as in report.json.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdicts {
    pub versioning: String,
    /// `ok` read completions without `context: true` that had an acknowledged write to judge
    /// against.
    pub judged_reads: u64,
    pub stale_reads: u64,
    /// Reads by k-staleness, k >= 1 only (fresh reads are not listed, as in report.json).
    pub k_staleness: BTreeMap<u32, u64>,
    /// `ok` non-context reads by how many versions they returned: 0, 1, 2, 3, 4 or more.
    pub versions_per_read: [u64; 5],
    /// Over `ok` non-context reads: returned versions that another returned version descends
    /// from.
    pub false_siblings: u64,
    pub acknowledged_writes: u64,
    /// LOST writes, lost updates included.
    pub lost_writes: u64,
    pub lost_updates: u64,
    pub overwritten_writes: u64,
    /// Acknowledged writes whose invoke says `delete: true`.
    pub acknowledged_deletes: u64,
    /// Acknowledged deletes that were the newest acknowledged write of their key when a read
    /// began that returned a value the delete descends from, the delete's tombstone having
    /// been collected by then (a `collect` line before the read's completion).
    pub resurrected_deletes: u64,
}

/// Index of a write in the order of its invoke lines.
type WriteIx = u32;

#[derive(Debug)]
struct Write {
    id: String,
    key: u64,
    invoke_line: usize,
    ack_line: Option<usize>,
    blind: bool,
    delete: bool,
    /// "Seen" parents: the invoke's `parents` (non-blind writes).
    seen: Vec<WriteIx>,
    /// The `merge` line (blind writes): its line and its "merged" parents.
    merge: Option<(usize, Vec<WriteIx>)>,
    /// The `kept` sets of the `discard` lines that dropped this write.
    discards: Vec<Vec<WriteIx>>,
}

impl Write {
    /// The line at which this version's parents became fixed: parents are always made
    /// before their children, so this orders the causality graph.
    fn made_line(&self) -> usize {
        match &self.merge {
            Some((line, _)) => *line,
            None => self.invoke_line,
        }
    }

    fn parents(&self, edges: Edges) -> &[WriteIx] {
        match (&self.merge, edges) {
            (Some((_, merged)), Edges::All) => merged,
            (Some(_), Edges::SeenOnly) => &[],
            (None, _) => &self.seen,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edges {
    All,
    SeenOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    Write,
}

/// An invocation waiting for its completion.
#[derive(Debug)]
struct Pending {
    line: usize,
    op: Op,
    key: u64,
    context: bool,
    write: Option<WriteIx>,
    /// How many writes of the key had been acknowledged before this line: A(r) is that
    /// prefix of the key's acknowledgements.
    acked_before: usize,
}

/// What a read reflects besides the ancestry of what it returned: under last_write_wins,
/// every write invoked before line `lww_bound` (0 otherwise).
#[derive(Clone, Copy)]
struct Reflected {
    lww_bound: usize,
}

/// An `ok` non-context read, judged once the whole history is known.
#[derive(Debug)]
struct Read {
    key: u64,
    acked_before: usize,
    /// What the replicas returned, tombstones included.
    versions: Vec<WriteIx>,
    /// What the read is judged on: `versions`, plus the key's tombstones collected so far
    /// when no value (non-delete) was returned.
    judged: Vec<WriteIx>,
    /// The newest write acknowledged before the read began had been collected (a delete)
    /// when the read completed.
    newest_collected: bool,
}

/// Per key: acknowledged writes in acknowledgement order, and the latest invoke line among
/// the first i+1 of them (for retirement).
#[derive(Debug, Default)]
struct KeyAcks {
    writes: Vec<WriteIx>,
    max_invoke_line: Vec<usize>,
}

#[derive(Debug, Default)]
struct History {
    versioning: String,
    writes: Vec<Write>,
    write_ix: HashMap<String, WriteIx>,
    pending: HashMap<String, Pending>,
    acks: BTreeMap<u64, KeyAcks>,
    reads: Vec<Read>,
    finals: BTreeMap<u64, Vec<WriteIx>>,
    /// Per key: the tombstones `collect` lines reported so far.
    collected: BTreeMap<u64, Vec<WriteIx>>,
    last_time: u64,
}

const VERSIONINGS: [&str; 4] = [
    "vector_clock",
    "dotted_version_vector",
    "vector_clock_naive",
    "last_write_wins",
];

/// Parses a history and computes the oracle's verdicts. Errors name the line (1-based).
pub fn check_history(text: &str) -> Result<Verdicts, String> {
    let mut history = History::default();
    let mut line_count = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        line_count = line;
        let value: Value =
            serde_json::from_str(raw).map_err(|e| format!("line {line}: not JSON: {e}"))?;
        let obj = value
            .as_object()
            .ok_or_else(|| format!("line {line}: not a JSON object"))?;
        history
            .take_line(line, obj)
            .map_err(|e| format!("line {line}: {e}"))?;
    }
    if line_count == 0 {
        return Err("line 1: empty history (expected a meta line)".into());
    }
    history.check_parents_made_first()?;
    history.check_complete(line_count)?;
    let mut verdicts = Verdicts {
        versioning: history.versioning.clone(),
        ..Verdicts::default()
    };
    history.judge_reads(&mut verdicts);
    history.judge_durability(&mut verdicts);
    Ok(verdicts)
}

fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a Value, String> {
    obj.get(name).ok_or_else(|| format!("no field `{name}`"))
}

fn str_field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    field(obj, name)?
        .as_str()
        .ok_or_else(|| format!("field `{name}` is not a string"))
}

fn u64_field(obj: &Map<String, Value>, name: &str) -> Result<u64, String> {
    field(obj, name)?
        .as_u64()
        .ok_or_else(|| format!("field `{name}` is not a non-negative integer"))
}

fn bool_field(obj: &Map<String, Value>, name: &str) -> Result<Option<bool>, String> {
    match obj.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| format!("field `{name}` is not a boolean")),
    }
}

impl History {
    fn take_line(&mut self, line: usize, obj: &Map<String, Value>) -> Result<(), String> {
        let kind = str_field(obj, "type")?;
        if line == 1 {
            return match kind {
                "meta" => self.take_meta(obj),
                other => Err(format!("expected a `meta` line first, found `{other}`")),
            };
        }
        if !self.finals.is_empty() && kind != "final" {
            return Err(format!("a `{kind}` line after the `final` lines"));
        }
        if let Some(time) = obj.get("time") {
            let time = time
                .as_u64()
                .ok_or("field `time` is not a non-negative integer")?;
            if time < self.last_time {
                return Err(format!(
                    "time {time} is before the previous line's {}",
                    self.last_time
                ));
            }
            self.last_time = time;
        }
        match kind {
            "meta" => Err("a second `meta` line".into()),
            "invoke" => self.take_invoke(line, obj),
            "ok" | "fail" | "info" => self.take_completion(line, kind, obj),
            "merge" => self.take_merge(line, obj),
            "discard" => self.take_discard(obj),
            "collect" => self.take_collect(obj),
            "final" => self.take_final(obj),
            other => Err(format!("unknown line type `{other}`")),
        }
    }

    fn take_meta(&mut self, obj: &Map<String, Value>) -> Result<(), String> {
        let versioning = str_field(obj, "versioning")?;
        if !VERSIONINGS.contains(&versioning) {
            return Err(format!("unknown versioning `{versioning}`"));
        }
        for name in ["n", "r", "w"] {
            u64_field(obj, name)?;
        }
        self.versioning = versioning.to_string();
        Ok(())
    }

    /// A known write id of `key`.
    fn known_write(&self, value: &Value, key: u64) -> Result<WriteIx, String> {
        let id = value
            .as_str()
            .ok_or_else(|| format!("write id {value} is not a string"))?;
        let ix = *self
            .write_ix
            .get(id)
            .ok_or_else(|| format!("unknown write id `{id}`"))?;
        let write_key = self.writes[ix as usize].key;
        if write_key != key {
            return Err(format!(
                "`{id}` is a write of key {write_key}, not of key {key}"
            ));
        }
        Ok(ix)
    }

    /// A list of known write ids of `key`.
    fn known_writes(
        &self,
        obj: &Map<String, Value>,
        name: &str,
        key: u64,
    ) -> Result<Vec<WriteIx>, String> {
        field(obj, name)?
            .as_array()
            .ok_or_else(|| format!("field `{name}` is not a list"))?
            .iter()
            .map(|v| self.known_write(v, key))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("in `{name}`: {e}"))
    }

    fn take_invoke(&mut self, line: usize, obj: &Map<String, Value>) -> Result<(), String> {
        let op = match str_field(obj, "f")? {
            "read" => Op::Read,
            "write" => Op::Write,
            other => return Err(format!("unknown `f` `{other}`")),
        };
        let key = u64_field(obj, "key")?;
        let req = str_field(obj, "req")?;
        if self.pending.contains_key(req) {
            return Err(format!(
                "request `{req}` invoked again before its completion"
            ));
        }
        let context = bool_field(obj, "context")?.unwrap_or(false);
        let write = match op {
            Op::Read => None,
            Op::Write => Some(self.take_write_invoke(line, key, obj)?),
        };
        let acked_before = self.acks.get(&key).map_or(0, |a| a.writes.len());
        let pending = Pending {
            line,
            op,
            key,
            context,
            write,
            acked_before,
        };
        self.pending.insert(req.to_string(), pending);
        Ok(())
    }

    fn take_write_invoke(
        &mut self,
        line: usize,
        key: u64,
        obj: &Map<String, Value>,
    ) -> Result<WriteIx, String> {
        let id = str_field(obj, "value")?;
        if self.write_ix.contains_key(id) {
            return Err(format!("write id `{id}` invoked twice"));
        }
        let blind = bool_field(obj, "blind")?.ok_or("a write invoke without `blind`")?;
        let seen = match (blind, obj.contains_key("parents")) {
            (false, true) => self.known_writes(obj, "parents", key)?,
            (false, false) => return Err("a non-blind write without `parents`".into()),
            (true, true) => return Err("a blind write with `parents`".into()),
            (true, false) => Vec::new(),
        };
        let delete = bool_field(obj, "delete")?.unwrap_or(false);
        let ix = WriteIx::try_from(self.writes.len()).map_err(|_| "too many writes")?;
        self.writes.push(Write {
            id: id.to_string(),
            key,
            invoke_line: line,
            ack_line: None,
            blind,
            delete,
            seen,
            merge: None,
            discards: Vec::new(),
        });
        self.write_ix.insert(id.to_string(), ix);
        Ok(ix)
    }

    fn take_completion(
        &mut self,
        line: usize,
        kind: &str,
        obj: &Map<String, Value>,
    ) -> Result<(), String> {
        let req = str_field(obj, "req")?;
        let pending = self
            .pending
            .remove(req)
            .ok_or_else(|| format!("a `{kind}` completion of `{req}`, which was not invoked"))?;
        let op = match str_field(obj, "f")? {
            "read" => Op::Read,
            "write" => Op::Write,
            other => return Err(format!("unknown `f` `{other}`")),
        };
        let key = u64_field(obj, "key")?;
        let context = bool_field(obj, "context")?.unwrap_or(false);
        if op != pending.op || key != pending.key || context != pending.context {
            return Err(format!(
                "the completion of `{req}` does not match its invoke on line {} (f, key or context)",
                pending.line
            ));
        }
        match (kind, pending.write) {
            ("ok", Some(ix)) => self.take_ack(line, ix, obj),
            ("ok", None) => {
                let versions = self.known_writes(obj, "value", key)?;
                if !context {
                    let acked_before = pending.acked_before;
                    let mut judged = versions.clone();
                    if versions.iter().all(|&v| self.writes[v as usize].delete) {
                        for &c in self.collected.get(&key).into_iter().flatten() {
                            if !judged.contains(&c) {
                                judged.push(c);
                            }
                        }
                    }
                    let collected = self.collected.get(&key);
                    let newest_collected = (acked_before.checked_sub(1))
                        .and_then(|i| self.acks.get(&key)?.writes.get(i))
                        .is_some_and(|w| collected.is_some_and(|c| c.contains(w)));
                    self.reads.push(Read {
                        key,
                        acked_before,
                        versions,
                        judged,
                        newest_collected,
                    });
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn take_ack(
        &mut self,
        line: usize,
        ix: WriteIx,
        obj: &Map<String, Value>,
    ) -> Result<(), String> {
        let write = &mut self.writes[ix as usize];
        if str_field(obj, "value")? != write.id {
            return Err(format!(
                "the acknowledgement of `{}` carries another value",
                write.id
            ));
        }
        write.ack_line = Some(line);
        let acks = self.acks.entry(write.key).or_default();
        let latest = acks.max_invoke_line.last().copied().unwrap_or(0);
        acks.writes.push(ix);
        acks.max_invoke_line.push(latest.max(write.invoke_line));
        Ok(())
    }

    fn take_merge(&mut self, line: usize, obj: &Map<String, Value>) -> Result<(), String> {
        let key = u64_field(obj, "key")?;
        let ix = self.known_write(field(obj, "write")?, key)?;
        let parents = self.known_writes(obj, "parents", key)?;
        if self.versioning == "last_write_wins" && !parents.is_empty() {
            return Err("a merge with parents under last_write_wins".into());
        }
        let write = &mut self.writes[ix as usize];
        if !write.blind {
            return Err(format!(
                "a merge line for `{}`, which is not blind",
                write.id
            ));
        }
        if write.merge.is_some() {
            return Err(format!("a second merge line for `{}`", write.id));
        }
        write.merge = Some((line, parents));
        Ok(())
    }

    fn take_discard(&mut self, obj: &Map<String, Value>) -> Result<(), String> {
        u64_field(obj, "node")?;
        let key = u64_field(obj, "key")?;
        let ix = self.known_write(field(obj, "write")?, key)?;
        let kept = self.known_writes(obj, "kept", key)?;
        self.writes[ix as usize].discards.push(kept);
        Ok(())
    }

    fn take_collect(&mut self, obj: &Map<String, Value>) -> Result<(), String> {
        u64_field(obj, "node")?;
        let key = u64_field(obj, "key")?;
        let writes = self.known_writes(obj, "writes", key)?;
        if let Some(&w) = writes.iter().find(|&&w| !self.writes[w as usize].delete) {
            return Err(format!(
                "a collect line with `{}`, which is not a delete",
                self.writes[w as usize].id
            ));
        }
        let list = self.collected.entry(key).or_default();
        for w in writes {
            if !list.contains(&w) {
                list.push(w);
            }
        }
        Ok(())
    }

    fn take_final(&mut self, obj: &Map<String, Value>) -> Result<(), String> {
        let key = u64_field(obj, "key")?;
        if let Some((&last, _)) = self.finals.last_key_value()
            && key <= last
        {
            return Err(format!(
                "final line for key {key} after key {last} (not in key order)"
            ));
        }
        let held = self.known_writes(obj, "value", key)?;
        self.finals.insert(key, held);
        Ok(())
    }

    /// Every invocation completed; every key with an acknowledged write has its final set.
    fn check_complete(&self, line_count: usize) -> Result<(), String> {
        if let Some(p) = self.pending.values().map(|p| p.line).min() {
            return Err(format!("line {p}: an invocation that never completes"));
        }
        for (key, acks) in &self.acks {
            if !self.finals.contains_key(key) {
                let first = &self.writes[acks.writes[0] as usize];
                return Err(format!(
                    "line {line_count}: no final line for key {key}, which has acknowledged writes (`{}`)",
                    first.id
                ));
            }
        }
        Ok(())
    }

    /// The bounded ancestry search relies on every parent having been made (invoked, and
    /// merged if blind) before its child was.
    fn check_parents_made_first(&self) -> Result<(), String> {
        for child in &self.writes {
            for &p in child.parents(Edges::All) {
                let parent = &self.writes[p as usize];
                if parent.made_line() >= child.made_line() {
                    return Err(format!(
                        "line {}: `{}` has parent `{}`, whose version was made later (line {})",
                        child.made_line(),
                        child.id,
                        parent.id,
                        parent.made_line()
                    ));
                }
            }
        }
        Ok(())
    }

    fn judge_reads(&self, verdicts: &mut Verdicts) {
        let mut ancestry = Ancestry::new(&self.writes, Edges::All);
        let mut of_delete = Ancestry::new(&self.writes, Edges::All);
        let mut resurrected = std::collections::BTreeSet::new();
        for read in &self.reads {
            let values: Vec<WriteIx> = (read.versions.iter().copied())
                .filter(|&v| !self.writes[v as usize].delete)
                .collect();
            verdicts.versions_per_read[values.len().min(4)] += 1;
            ancestry.start(&read.versions);
            verdicts.false_siblings += ancestry.false_siblings(&read.versions);
            if read.acked_before == 0 {
                continue;
            }
            let Some(acks) = self.acks.get(&read.key) else {
                continue;
            };
            let newest = acks.writes[read.acked_before - 1];
            if self.writes[newest as usize].delete && read.newest_collected {
                of_delete.start(&[newest]);
                if values.iter().any(|&v| of_delete.covers(v)) {
                    resurrected.insert(newest);
                }
            }
            ancestry.start(&read.judged);
            verdicts.judged_reads += 1;
            // Under last_write_wins a returned version also reflects every write invoked
            // before that version was acknowledged (concurrent with it, or later: it may
            // win by timestamp); only writes invoked after its acknowledgement can it not.
            let lww_bound = if self.versioning == "last_write_wins" {
                read.judged
                    .iter()
                    .map(|&u| self.ack_line(u))
                    .max()
                    .unwrap_or(0)
            } else {
                0
            };
            let reflected = Reflected { lww_bound };
            if self.is_stale(&mut ancestry, reflected, acks, read.acked_before) {
                verdicts.stale_reads += 1;
            }
            let k = self.k_staleness(&mut ancestry, reflected, acks, read.acked_before);
            if k > 0 {
                *verdicts.k_staleness.entry(k).or_default() += 1;
            }
        }
        verdicts.resurrected_deletes = resurrected.len() as u64;
    }

    /// Stale: some w in A(r) is not covered and not retired by any u in A(r). u retires w
    /// when u's invoke line is after w's acknowledgement line, so the writes no u retires
    /// are those acknowledged after the latest invoke line in A(r): a suffix of A(r).
    fn is_stale(
        &self,
        ancestry: &mut Ancestry,
        reflected: Reflected,
        acks: &KeyAcks,
        acked_before: usize,
    ) -> bool {
        let a = &acks.writes[..acked_before];
        let latest_invoke = acks.max_invoke_line[acked_before - 1];
        let first_unretired = a.partition_point(|&w| self.ack_line(w) < latest_invoke);
        a[first_unretired..]
            .iter()
            .any(|&w| !self.reflects(ancestry, reflected, w))
    }

    fn reflects(&self, ancestry: &mut Ancestry, reflected: Reflected, w: WriteIx) -> bool {
        self.writes[w as usize].invoke_line < reflected.lww_bound || ancestry.covers(w)
    }

    /// k = the number of w in A(r) neither covered nor retired by a covered u in A(r).
    /// Scanning A(r) from the newest acknowledgement down: a write acknowledged at line a
    /// was invoked before a, so once a covered write invoked after line a has been seen,
    /// every older write is retired by it and the scan can stop.
    fn k_staleness(
        &self,
        ancestry: &mut Ancestry,
        reflected: Reflected,
        acks: &KeyAcks,
        acked_before: usize,
    ) -> u32 {
        let mut latest_covered_invoke = 0;
        let mut k = 0;
        for &w in acks.writes[..acked_before].iter().rev() {
            if latest_covered_invoke > self.ack_line(w) || k == K_STALENESS_CAP {
                break;
            }
            if self.reflects(ancestry, reflected, w) {
                latest_covered_invoke =
                    latest_covered_invoke.max(self.writes[w as usize].invoke_line);
            } else {
                k += 1;
            }
        }
        k
    }

    fn ack_line(&self, w: WriteIx) -> usize {
        self.writes[w as usize].ack_line.unwrap_or(usize::MAX)
    }

    fn judge_durability(&self, verdicts: &mut Verdicts) {
        let mut kept = Ancestry::new(&self.writes, Edges::SeenOnly);
        let mut any = Ancestry::new(&self.writes, Edges::All);
        let mut scratch = Ancestry::new(&self.writes, Edges::All);
        let lww = self.versioning == "last_write_wins";
        let lineage = self.displaced_lineage(&mut scratch);
        let mut seen_children = vec![Vec::new(); self.writes.len()];
        for (i, write) in self.writes.iter().enumerate() {
            for &p in write.parents(Edges::SeenOnly) {
                seen_children[p as usize].push(i as WriteIx);
            }
        }
        for (key, acks) in &self.acks {
            // check_complete made sure of it.
            let Some(finals) = self.finals.get(key) else {
                continue;
            };
            // A collected tombstone still stands for its delete.
            let mut held = finals.clone();
            for &c in self.collected.get(key).into_iter().flatten() {
                if !held.contains(&c) {
                    held.push(c);
                }
            }
            kept.start(&held);
            any.start(&held);
            for &w in &acks.writes {
                verdicts.acknowledged_writes += 1;
                verdicts.acknowledged_deletes += u64::from(self.writes[w as usize].delete);
                if kept.covers(w) {
                    continue;
                }
                if any.covers(w) {
                    // A client saw w when making a write that is still in H's past: w was
                    // replaced knowingly (kept), not merged away unseen (overwritten).
                    if !seen_children[w as usize].iter().any(|&x| any.covers(x)) {
                        verdicts.overwritten_writes += 1;
                    }
                    continue;
                }
                match (lww, lineage[w as usize]) {
                    (true, true) => verdicts.overwritten_writes += 1,
                    (true, false) | (false, false) => verdicts.lost_writes += 1,
                    (false, true) => {
                        verdicts.lost_writes += 1;
                        verdicts.lost_updates += 1;
                    }
                }
            }
        }
    }
}

impl History {
    /// Per write: whether it, or a write made from it (any parent edge, followed
    /// transitively), was dropped by a replica that kept nothing descending from it. An
    /// acknowledged write whose line of descendants ended that way was lost to the
    /// versioning rules, not to a failure.
    fn displaced_lineage(&self, scratch: &mut Ancestry) -> Vec<bool> {
        let mut marked = vec![false; self.writes.len()];
        let mut todo = Vec::new();
        for (i, write) in self.writes.iter().enumerate() {
            let w = i as WriteIx;
            let displaced = write.discards.iter().any(|kept_set| {
                scratch.start(kept_set);
                !scratch.covers(w)
            });
            if displaced {
                marked[i] = true;
                todo.push(i);
            }
        }
        while let Some(i) = todo.pop() {
            for &p in self.writes[i].parents(Edges::All) {
                if !marked[p as usize] {
                    marked[p as usize] = true;
                    todo.push(p as usize);
                }
            }
        }
        marked
    }
}

/// The ancestors of a set of versions, found lazily: a max-heap on the line each version
/// was made at. To answer "is w an ancestor (or member)?" only versions made after w need
/// expanding, since a path from a member down to w passes through versions made strictly
/// later than w. Queries may come in any order; each version is expanded at most once per
/// `start`, so a read costs the versions made between its oldest query and its members.
struct Ancestry<'a> {
    writes: &'a [Write],
    edges: Edges,
    /// `found[w] == round`: w is a member or an ancestor found so far.
    found: Vec<u32>,
    /// `by_edge[w] == round`: w was reached from a member by at least one parent step.
    by_edge: Vec<u32>,
    round: u32,
    frontier: BinaryHeap<(usize, WriteIx)>,
}

impl<'a> Ancestry<'a> {
    fn new(writes: &'a [Write], edges: Edges) -> Self {
        Ancestry {
            writes,
            edges,
            found: vec![0; writes.len()],
            by_edge: vec![0; writes.len()],
            round: 0,
            frontier: BinaryHeap::new(),
        }
    }

    fn start(&mut self, members: &[WriteIx]) {
        self.round += 1;
        self.frontier.clear();
        for &m in members {
            if self.found[m as usize] != self.round {
                self.found[m as usize] = self.round;
                self.frontier.push((self.writes[m as usize].made_line(), m));
            }
        }
    }

    /// Expands every found version made after `line`.
    fn expand_after(&mut self, line: usize) {
        while let Some(&(made, x)) = self.frontier.peek() {
            if made <= line {
                break;
            }
            self.frontier.pop();
            for &p in self.writes[x as usize].parents(self.edges) {
                self.by_edge[p as usize] = self.round;
                if self.found[p as usize] != self.round {
                    self.found[p as usize] = self.round;
                    self.frontier.push((self.writes[p as usize].made_line(), p));
                }
            }
        }
    }

    /// w is a member or an ancestor of a member (R covers w).
    fn covers(&mut self, w: WriteIx) -> bool {
        self.expand_after(self.writes[w as usize].made_line());
        self.found[w as usize] == self.round
    }

    /// How many of the members (as listed) another member descends from.
    fn false_siblings(&mut self, members: &[WriteIx]) -> u64 {
        if members.len() < 2 {
            return 0;
        }
        let oldest = members
            .iter()
            .map(|&m| self.writes[m as usize].made_line())
            .min()
            .unwrap_or(0);
        // Versions made at `oldest` or before cannot lead to a member.
        self.expand_after(oldest);
        members
            .iter()
            .filter(|&&m| self.by_edge[m as usize] == self.round)
            .count() as u64
    }
}
