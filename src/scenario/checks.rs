//! Checks that `validate.rs` does not make, in two passes around serde.
//!
//! The raw pass (`check_document`, `duplicate_keys`) looks at the JSON before serde does.
//! serde reads an internally tagged enum (`workload` and each `faults[i]`, tagged by
//! `kind`) through a buffer, and whatever goes wrong inside one is reported against the
//! whole object: `faults[0]: invalid type ...` instead of `faults[0].at_s: invalid type
//! ...`. So this pass walks those objects itself: `kind` against the known variants, every
//! key against that variant's fields, then every field on its own, each error with its
//! full path and, for a misspelt name, the nearest known one. The names are not copied
//! here: they are asked of serde itself (see `TaggedSchema`), so they cannot drift from
//! the types. Duplicate keys are found here too, because parsing into a `Value` silently
//! keeps the last one.
//!
//! The semantic pass (`check`) runs at the end of `validate` on the typed scenario. It
//! holds the limits that keep a run finite and unambiguous: intervals that would round to
//! zero simulated time (and freeze the clock), arrival rates too fast for microsecond
//! time, faults after the end of the run, partitions whose groups overlap, names that
//! collide, and counts past what the simulator's id types hold. Node names are resolved
//! here too (`resolve_node_name`), for these checks and for `validate`.

use super::error::{ScenarioError, nearest, with_suggestion};
use super::{Fault, OpenLoop, Scenario, StalenessProbe, Workload};
use serde::de::{DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;

/// Shorter intervals round to 0 µs of simulated time: a timer re-armed every 0 µs never
/// lets the clock move, and the run never ends.
pub const MIN_INTERVAL_S: f64 = 0.001;
/// Arrivals closer than 1 µs on average share simulated instants and the run crawls.
pub const MAX_RATE_PER_S: f64 = 1_000_000.0;
/// Datacenter ids are 16 bits; far fewer keep the per-datacenter tables small.
pub const MAX_DATACENTERS: usize = 1_024;
/// Each fault adds at most one to a node's down count (16 bits) and schedules a few
/// actions; ten thousand is far beyond any hand-written plan.
pub const MAX_FAULTS: usize = 10_000;
/// The most nodes a cluster may have with every join applied (validate's own bound): the
/// membership plan is replayed by name only below it.
const MAX_PLANNED_NODES: u64 = 1_000_000;
/// Partition groups are numbered with 16 bits (one number is the implicit "rest" group).
pub const MAX_PARTITION_GROUPS: usize = u16::MAX as usize - 1;
pub const MAX_TIMELINE_POINTS: f64 = 1_000_000.0;
/// Load-balance windows over a run (`metrics.balance_window_s`).
pub const MAX_BALANCE_WINDOWS: f64 = 10_000.0;
/// `random_crashes` draws its whole schedule up front.
pub const MAX_CRASH_WINDOWS: f64 = 10_000_000.0;
/// The name becomes a folder name; file systems stop at 255 bytes.
pub const MAX_NAME_BYTES: usize = 200;
const MAX_SKEW_MS: f64 = 365.0 * 24.0 * 3600.0 * 1_000.0;

// ---------------------------------------------------------------------------------------
// The raw pass

/// A name no field or variant can have: serde answers it with the list of known names.
const PROBE: &str = "\u{0}probe";

/// The variants of an internally tagged enum and the fields of each, as serde knows them.
struct TaggedSchema {
    kinds: Vec<String>,
    fields: BTreeMap<String, Vec<String>>,
}

/// The names serde lists after the bad one in an "unknown field/variant" error.
fn names_in_error<T: DeserializeOwned>(probe: Value) -> Vec<String> {
    match serde_json::from_value::<T>(probe) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .to_string()
            .split('`')
            .skip(1)
            .step_by(2)
            .skip(1)
            .map(String::from)
            .collect(),
    }
}

fn schema_of<T: DeserializeOwned>() -> TaggedSchema {
    let kinds = names_in_error::<T>(serde_json::json!({ "kind": PROBE }));
    let fields = kinds
        .iter()
        .map(|k| {
            let mut probe = Map::new();
            probe.insert("kind".into(), Value::String(k.clone()));
            probe.insert(PROBE.into(), Value::Null);
            (k.clone(), names_in_error::<T>(Value::Object(probe)))
        })
        .collect();
    TaggedSchema { kinds, fields }
}

fn fault_schema() -> &'static TaggedSchema {
    static SCHEMA: OnceLock<TaggedSchema> = OnceLock::new();
    SCHEMA.get_or_init(schema_of::<Fault>)
}

fn workload_schema() -> &'static TaggedSchema {
    static SCHEMA: OnceLock<TaggedSchema> = OnceLock::new();
    SCHEMA.get_or_init(schema_of::<Workload>)
}

/// The known fault kinds (for documentation and tests).
pub fn fault_kinds() -> &'static [String] {
    &fault_schema().kinds
}

/// Checks the tagged objects of a parsed document; an empty list means serde may go ahead.
pub(super) fn check_document(doc: &Value) -> Vec<ScenarioError> {
    let Value::Object(top) = doc else {
        return vec![ScenarioError::new(
            "",
            format!(
                "a scenario is a JSON object ({{\"name\": ..., \"duration_s\": ..., ...}}), not {}",
                describe(doc)
            ),
        )];
    };
    let mut errors = Vec::new();
    if let Some(w) = top.get("workload") {
        errors.extend(check_tagged(
            "workload",
            w,
            "workload",
            workload_schema(),
            check_workload_body,
        ));
    }
    if let Some(Value::Array(faults)) = top.get("faults") {
        for (i, f) in faults.iter().enumerate() {
            errors.extend(check_tagged(
                &format!("faults[{i}]"),
                f,
                "fault",
                fault_schema(),
                probe_fields::<Fault>,
            ));
        }
    }
    errors
}

/// Adds serde's error to the raw pass's errors unless it is about an object the raw pass
/// already reported (serde's version would only repeat it with a shorter path).
pub(super) fn merge_serde_error(errors: &mut Vec<ScenarioError>, e: ScenarioError) {
    if errors.iter().any(|r| r.path.is_empty()) {
        return; // the document as a whole is wrong (not an object): serde adds only noise
    }
    let root = tagged_root(&e.path);
    if root.is_none() || !errors.iter().any(|r| tagged_root(&r.path) == root) {
        errors.push(e);
    }
}

/// `workload` or `faults[i]` when `path` lies inside one of them.
fn tagged_root(path: &str) -> Option<&str> {
    if path == "workload" || path.starts_with("workload.") {
        return Some("workload");
    }
    if path.starts_with("faults[") {
        let end = path.find(']')?;
        return Some(&path[..=end]);
    }
    None
}

type BodyCheck = fn(&str, &str, &Map<String, Value>) -> Vec<ScenarioError>;

fn check_tagged(
    path: &str,
    value: &Value,
    what: &str,
    schema: &TaggedSchema,
    body: BodyCheck,
) -> Vec<ScenarioError> {
    let known = backticked(&schema.kinds);
    let Value::Object(obj) = value else {
        return vec![ScenarioError::new(
            path,
            format!(
                "expected a {what} object with a `kind` ({known}), found {}",
                describe(value)
            ),
        )];
    };
    let kind_path = format!("{path}.kind");
    let kind = match obj.get("kind") {
        None => {
            return vec![ScenarioError::new(
                kind_path,
                format!("is missing; a {what} needs a `kind`: one of {known}"),
            )];
        }
        Some(Value::String(k)) => k,
        Some(other) => {
            return vec![ScenarioError::new(
                kind_path,
                format!(
                    "{} is not allowed; `kind` is a string, one of {known}",
                    describe(other)
                ),
            )];
        }
    };
    let Some(fields) = schema.fields.get(kind) else {
        let hint = nearest(kind, schema.kinds.iter().map(String::as_str))
            .map(|n| format!("; did you mean `{n}`?"))
            .unwrap_or_default();
        return vec![ScenarioError::new(
            kind_path,
            format!(
                "unknown variant {}, expected one of {known}{hint}",
                quote(kind)
            ),
        )];
    };
    let mut errors = Vec::new();
    for key in obj.keys().filter(|k| *k != "kind") {
        if !fields.contains(key) {
            let hint = nearest(key, fields.iter().map(String::as_str))
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            errors.push(ScenarioError::new(
                format!("{path}.{key}"),
                format!(
                    "unknown field {} for kind `{kind}`, expected one of {}{hint}",
                    quote(key),
                    backticked(fields)
                ),
            ));
        }
    }
    if errors.is_empty() {
        errors = body(path, kind, obj);
    }
    errors
}

/// A workload variant is a plain struct: deserialize it without the tag, with paths.
fn check_workload_body(path: &str, kind: &str, obj: &Map<String, Value>) -> Vec<ScenarioError> {
    let mut body = obj.clone();
    body.remove("kind");
    let result = match kind {
        "open_loop" => typed::<OpenLoop>(body),
        "staleness_probe" => typed::<StalenessProbe>(body),
        _ => return probe_fields::<Workload>(path, kind, obj),
    };
    match result {
        Ok(()) => Vec::new(),
        Err((inner, message)) => {
            let full = if inner.is_empty() {
                path.to_string()
            } else {
                format!("{path}.{inner}")
            };
            vec![ScenarioError::new(full, with_suggestion(&message))]
        }
    }
}

fn typed<T: DeserializeOwned>(body: Map<String, Value>) -> Result<(), (String, String)> {
    serde_path_to_error::deserialize::<_, T>(Value::Object(body))
        .map(|_| ())
        .map_err(|e| {
            let p = e.path().to_string();
            let p = if p == "." { String::new() } else { p };
            (p, e.inner().to_string())
        })
}

/// Finds the bad fields of a tagged object by deserializing it one field at a time (a
/// type error surfaces while its field is read, before serde looks for missing fields),
/// then the whole object for missing fields.
fn probe_fields<T: DeserializeOwned>(
    path: &str,
    kind: &str,
    obj: &Map<String, Value>,
) -> Vec<ScenarioError> {
    let mut errors = Vec::new();
    for (key, value) in obj.iter().filter(|(k, _)| *k != "kind") {
        let mut single = Map::new();
        single.insert("kind".into(), Value::String(kind.to_string()));
        single.insert(key.clone(), value.clone());
        if let Err(e) = serde_json::from_value::<T>(Value::Object(single)) {
            let message = e.to_string();
            if !message.starts_with("missing field") {
                errors.push(ScenarioError::new(
                    format!("{path}.{key}"),
                    with_suggestion(&message),
                ));
            }
        }
    }
    if errors.is_empty()
        && let Err(e) = serde_json::from_value::<T>(Value::Object(obj.clone()))
    {
        let message = e.to_string();
        let context = if message.starts_with("missing field") {
            format!(", which kind `{kind}` needs")
        } else {
            String::new()
        };
        errors.push(ScenarioError::new(
            path,
            format!("{}{context}", with_suggestion(&message)),
        ));
    }
    errors
}

/// Reports keys that appear twice in one object (a `Value` would keep only the last).
/// `text` must already have parsed as JSON.
pub(super) fn duplicate_keys(text: &str) -> Vec<ScenarioError> {
    let mut errors = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let walk = Walk {
        path: String::new(),
        errors: &mut errors,
    };
    // The text parsed before, so this cannot fail; if it did, serde already said why.
    let _ = walk.deserialize(&mut de);
    errors
}

/// Visits every value of a document, keeping its path, to find repeated keys.
struct Walk<'a> {
    path: String,
    errors: &'a mut Vec<ScenarioError>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            let item = Walk {
                path: format!("{}[{i}]", self.path),
                errors: &mut *self.errors,
            };
            if seq.next_element_seed(item)?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = BTreeSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if !seen.insert(key.clone()) {
                self.errors.push(ScenarioError::new(
                    path.clone(),
                    format!(
                        "duplicate field {}; give each field once (a JSON reader would silently keep only one)",
                        quote(&key)
                    ),
                ));
            }
            map.next_value_seed(Walk {
                path,
                errors: &mut *self.errors,
            })?;
        }
        Ok(())
    }
}

/// How a JSON value is described in messages: its type and, when short, itself.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::Number(n) => format!("number `{n}`"),
        Value::String(s) => format!("string {}", quote(s)),
        Value::Array(a) => format!("a list of {} item(s)", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

/// A name between backticks with control characters escaped, cut when very long.
fn quote(s: &str) -> String {
    let mut escaped: String = s.chars().take(80).flat_map(char::escape_debug).collect();
    if s.chars().count() > 80 {
        escaped.push_str("...");
    }
    format!("`{escaped}`")
}

/// A number as messages show it: as written when short, else rounded or in exponent
/// form (`{}` prints 1e-300 with three hundred digits).
pub fn num(v: f64) -> String {
    let plain = format!("{v}");
    if plain.len() <= 12 {
        return plain;
    }
    if v.is_finite() && (1e-3..1e12).contains(&v.abs()) {
        let rounded = format!("{v:.6}");
        return rounded
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string();
    }
    // Six significant digits: `{:e}` alone writes all seventeen (1.1111111111111111e294).
    let long = format!("{v:.5e}");
    match long.split_once('e') {
        Some((mantissa, exponent)) if mantissa.contains('.') => {
            let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
            format!("{mantissa}e{exponent}")
        }
        _ => long,
    }
}

fn backticked(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------
// The semantic pass

/// When the run ends, in seconds: arrivals stop at `duration_s`, then requests drain (two
/// operation lifetimes, for a read-modify-write's get and put, plus the read-repair window)
/// and the quiet period passes. Mirrors `Simulation::new` (a test keeps them equal).
pub fn run_end_s(s: &Scenario) -> f64 {
    s.duration_s
        + (2.0 * s.op_lifetime_ms() + s.replication.read_repair_window_ms) / 1_000.0
        + s.metrics.quiet_period_s
}

/// The fields `run_end_s` is made of.
const RUN_END_PARTS: [&str; 5] = [
    "duration_s",
    "workload.request_timeout_ms",
    "failure_detector.op_timeout_ms",
    "replication.read_repair_window_ms",
    "metrics.quiet_period_s",
];

/// The end of the run, if every field it is made of passed validate's range checks
/// (`rejected`): an end made of a rejected value would only add follow-on errors that
/// vanish once that value is mended.
fn run_end_if_valid(s: &Scenario, rejected: &[ScenarioError]) -> Option<f64> {
    let bad = |e: &ScenarioError| RUN_END_PARTS.contains(&e.path.as_str());
    if rejected.iter().any(bad) {
        return None;
    }
    Some(run_end_s(s)).filter(|end| end.is_finite())
}

/// The checks on a typed scenario that `validate` does not make. Each value is checked
/// only once it passed validate's own range check (`rejected` lists what it refused), so
/// no problem is reported twice.
pub fn check(s: &Scenario, rejected: &[ScenarioError]) -> Vec<ScenarioError> {
    let mut errors = Vec::new();
    let end = run_end_if_valid(s, rejected);
    check_name(s, &mut errors);
    check_datacenters(s, &mut errors);
    check_intervals(s, end, &mut errors);
    check_workload(s, &mut errors);
    check_faults(s, end, &mut errors);
    check_membership_plan(s, &mut errors);
    super::policy::check_policy(s, &mut errors);
    errors
}

fn push(errors: &mut Vec<ScenarioError>, path: impl Into<String>, message: String) {
    errors.push(ScenarioError::new(path, message));
}

fn check_name(s: &Scenario, errors: &mut Vec<ScenarioError>) {
    if s.name.chars().any(char::is_control) {
        push(
            errors,
            "name",
            format!(
                "{} contains control characters, which a report folder's name may not hold (letters, digits, '-' and '_' are always safe)",
                quote(&s.name)
            ),
        );
    }
    if s.name.len() > MAX_NAME_BYTES {
        push(
            errors,
            "name",
            format!(
                "is {} bytes long; at most {MAX_NAME_BYTES} (it names the report folder)",
                s.name.len()
            ),
        );
    }
}

fn check_datacenters(s: &Scenario, errors: &mut Vec<ScenarioError>) {
    let dcs = &s.cluster.datacenters;
    if dcs.len() > MAX_DATACENTERS {
        push(
            errors,
            "cluster.datacenters",
            format!(
                "lists {} datacenters; at most {MAX_DATACENTERS} are supported",
                dcs.len()
            ),
        );
        return;
    }
    for (i, dc) in dcs.iter().enumerate() {
        let path = format!("cluster.datacenters[{i}].name");
        if dc.name.chars().any(char::is_control) {
            push(
                errors,
                &path,
                format!(
                    "{} contains control characters; use printable names",
                    quote(&dc.name)
                ),
            );
        }
        // "a-1" names node 1 of datacenter "a" too: a partition group could not tell which.
        if let Some((owner, _)) = resolve_node_name(s, &dc.name) {
            push(
                errors,
                &path,
                format!(
                    "{} is also the name of a node of datacenter `{}`; partition groups could not tell them apart, so rename the datacenter",
                    quote(&dc.name),
                    dcs[owner].name
                ),
            );
        }
    }
}

fn check_intervals(s: &Scenario, end: Option<f64>, errors: &mut Vec<ScenarioError>) {
    let intervals = [
        ("anti_entropy.interval_s", s.anti_entropy.interval_s),
        ("gossip.interval_s", s.gossip.interval_s),
        (
            "replication.hint_scan_interval_s",
            s.replication.hint_scan_interval_s,
        ),
        (
            "failure_detector.probe_interval_s",
            s.failure_detector.probe_interval_s,
        ),
        ("metrics.timeline_interval_s", s.metrics.timeline_interval_s),
        ("metrics.balance_window_s", s.metrics.balance_window_s),
    ];
    for (path, v) in intervals {
        if v.is_finite() && v > 0.0 && v < MIN_INTERVAL_S {
            push(
                errors,
                path,
                format!(
                    "{} is too short; use at least {MIN_INTERVAL_S} s (a shorter interval rounds to zero simulated time and the clock would never move)",
                    num(v)
                ),
            );
        }
    }
    let Some(end) = end else { return };
    for (path, tick, most) in [
        (
            "metrics.timeline_interval_s",
            s.metrics.timeline_interval_s,
            MAX_TIMELINE_POINTS,
        ),
        // Each window holds a counter per node.
        (
            "metrics.balance_window_s",
            s.metrics.balance_window_s,
            MAX_BALANCE_WINDOWS,
        ),
    ] {
        check_points(end, path, tick, most, errors);
    }
}

/// A per-interval series over the run stays within `most` points.
fn check_points(end: f64, path: &str, tick: f64, most: f64, errors: &mut Vec<ScenarioError>) {
    if tick >= MIN_INTERVAL_S && end / tick > most {
        push(
            errors,
            path,
            format!(
                "{} gives {} points over the {} s run; at most {}, so use at least {} s",
                num(tick),
                num((end / tick).round()),
                num(end),
                num(most),
                num((end / most).max(MIN_INTERVAL_S))
            ),
        );
    }
}

fn check_workload(s: &Scenario, errors: &mut Vec<ScenarioError>) {
    let (rate_path, rate) = match &s.workload {
        Workload::OpenLoop(w) => ("workload.ops_per_s", w.ops_per_s),
        Workload::StalenessProbe(p) => ("workload.probes_per_s", p.probes_per_s),
    };
    if rate.is_finite() && rate > MAX_RATE_PER_S && rate <= 1e9 {
        push(
            errors,
            rate_path,
            format!(
                "{} is too high; at most {MAX_RATE_PER_S} per second (arrivals less than 1 µs apart would share simulated instants)",
                num(rate)
            ),
        );
    }
    let timeouts = [
        (
            "workload.request_timeout_ms",
            s.workload.request_timeout_ms(),
        ),
        (
            "failure_detector.op_timeout_ms",
            s.failure_detector.op_timeout_ms,
        ),
    ];
    for (path, timeout) in timeouts {
        if timeout.is_finite() && timeout > 0.0 && timeout < 0.001 {
            push(
                errors,
                path,
                format!(
                    "{} is too short; use at least 0.001 ms (1 µs, the resolution of simulated time)",
                    num(timeout)
                ),
            );
        }
    }
}

/// Joins and leaves replayed in the order the administrator applies them (time, then list
/// order): a leave that could not happen is refused here instead of being recorded as a
/// change that never completes. A leave may not name a node an earlier leave removed or
/// a later join adds, and may not take the last node (by name or by `random_nodes`).
/// Unknown names are `validate`'s to report.
fn check_membership_plan(s: &Scenario, errors: &mut Vec<ScenarioError>) {
    let mut order: Vec<(f64, usize)> = (s.faults.iter().enumerate())
        .filter(|(_, f)| matches!(f, Fault::Join { .. } | Fault::Leave { .. }))
        .map(|(i, f)| (f.at_s(), i))
        .collect();
    if order
        .iter()
        .all(|(_, i)| !matches!(s.faults[*i], Fault::Leave { .. }))
    {
        return;
    }
    // Names are listed one by one below: only for a cluster `validate` accepts (at most
    // 1,000,000 nodes with every join; a larger one is its error to report).
    let joined: u64 = (s.faults.iter())
        .map(|f| match f {
            Fault::Join { count, .. } => u64::from(*count),
            _ => 0,
        })
        .sum();
    let initial: u64 = (s.cluster.datacenters.iter())
        .map(|d| u64::from(d.nodes))
        .sum();
    if s.faults.len() > MAX_FAULTS || initial + joined > MAX_PLANNED_NODES {
        return;
    }
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut members: BTreeSet<String> = BTreeSet::new();
    let mut next_index: BTreeMap<&str, u64> = BTreeMap::new();
    for d in &s.cluster.datacenters {
        members.extend((0..d.nodes).map(|i| format!("{}-{i}", d.name)));
        next_index.insert(&d.name, u64::from(d.nodes));
    }
    // Nodes a random leave removed: their names are not known before the run.
    let mut unnamed_gone = 0usize;
    let mut left_by: BTreeMap<String, usize> = BTreeMap::new();
    // Which join adds each joined name (names continue a datacenter's numbering).
    let mut added_by: BTreeMap<String, usize> = BTreeMap::new();
    let mut numbering = next_index.clone();
    for &(_, i) in &order {
        if let Fault::Join {
            datacenter, count, ..
        } = &s.faults[i]
            && let Some(next) = numbering.get_mut(datacenter.as_str())
        {
            for k in *next..*next + u64::from(*count) {
                added_by.insert(format!("{datacenter}-{k}"), i);
            }
            *next += u64::from(*count);
        }
    }
    for &(at, i) in &order {
        match &s.faults[i] {
            Fault::Join {
                datacenter, count, ..
            } => {
                if let Some(next) = next_index.get_mut(datacenter.as_str()) {
                    members.extend(
                        (*next..*next + u64::from(*count)).map(|k| format!("{datacenter}-{k}")),
                    );
                    *next += u64::from(*count);
                }
            }
            Fault::Leave {
                nodes,
                random_nodes,
                ..
            } => {
                let path = |field: &str| format!("faults[{i}].{field}");
                let before = members.len().saturating_sub(unnamed_gone);
                for name in nodes.iter().flatten() {
                    if members.remove(name) {
                        left_by.insert(name.clone(), i);
                    } else if let Some(j) = left_by.get(name) {
                        push(
                            errors,
                            path("nodes"),
                            format!(
                                "{name:?} already leaves at faults[{j}] (at_s {}); a node leaves once",
                                num(s.faults[*j].at_s())
                            ),
                        );
                    } else if let Some(&j) = added_by.get(name) {
                        push(
                            errors,
                            path("nodes"),
                            format!(
                                "{name:?} is added by the join at faults[{j}] (at_s {}), after this leave at {} s; a leave may name only a node that has joined by then",
                                num(s.faults[j].at_s()),
                                num(at)
                            ),
                        );
                    }
                }
                let named = before - members.len().saturating_sub(unnamed_gone);
                let random = random_nodes.map_or(0, |k| k as usize);
                if named + random >= before && before > 0 {
                    let field = if random > 0 { "random_nodes" } else { "nodes" };
                    push(
                        errors,
                        path(field),
                        format!(
                            "this leave would remove all {before} nodes the cluster has at {} s; a ring needs at least one, so remove at most {}",
                            num(at),
                            before - 1
                        ),
                    );
                }
                unnamed_gone += random.min(before.saturating_sub(named));
            }
            _ => {}
        }
    }
}

fn check_faults(s: &Scenario, end: Option<f64>, errors: &mut Vec<ScenarioError>) {
    if s.faults.len() > MAX_FAULTS {
        push(
            errors,
            "faults",
            format!(
                "lists {} faults; at most {MAX_FAULTS} are supported",
                s.faults.len()
            ),
        );
        return;
    }
    for (i, fault) in s.faults.iter().enumerate() {
        let path = |field: &str| format!("faults[{i}].{field}");
        let at = fault.at_s();
        // Faults may strike while requests drain or during the quiet period (to test
        // repair), but one that starts after the run has ended would silently never happen.
        if let Some(end) = end.filter(|&end| at.is_finite() && at >= end) {
            push(
                errors,
                path("at_s"),
                format!(
                    "{} is at or after the end of the run ({} s: duration_s, then 2 x the longer of request_timeout_ms and failure_detector.op_timeout_ms, plus read_repair_window_ms, to drain, then metrics.quiet_period_s); the fault would never happen",
                    num(at),
                    num(end)
                ),
            );
        }
        match fault {
            Fault::Partition { groups, .. } => check_partition(s, i, groups, errors),
            Fault::RandomCrashes {
                duration_s,
                mtbf_s,
                mttr_s,
                ..
            } => {
                for (field, v) in [("mtbf_s", *mtbf_s), ("mttr_s", *mttr_s)] {
                    if v.is_finite() && v > 0.0 && v < MIN_INTERVAL_S {
                        push(
                            errors,
                            path(field),
                            format!("{} is too short; use at least {MIN_INTERVAL_S} s", num(v)),
                        );
                    }
                }
                // Without a valid end of the run only a window of its own bounds it
                // (`min` passes over the NaN).
                let until_end = end.map_or(f64::NAN, |end| end - at);
                let span = duration_s.unwrap_or(f64::INFINITY).min(until_end).max(0.0);
                let windows = s.node_count() as f64 * span / (mtbf_s + mttr_s);
                if windows.is_finite() && windows > MAX_CRASH_WINDOWS {
                    push(
                        errors,
                        path("mtbf_s"),
                        format!(
                            "{} would draw about {} crash windows over {} nodes and {} s; at most {MAX_CRASH_WINDOWS}, so raise mtbf_s",
                            num(*mtbf_s),
                            num(windows.round()),
                            s.node_count(),
                            num(span)
                        ),
                    );
                }
            }
            Fault::ClockSkew { offset_ms, .. } if offset_ms.abs() > MAX_SKEW_MS => push(
                errors,
                path("offset_ms"),
                format!(
                    "{} is not allowed; a clock skew is at most ±{MAX_SKEW_MS} ms (a year)",
                    num(*offset_ms)
                ),
            ),
            _ => {}
        }
    }
}

/// Groups may name datacenters and nodes; a node must not sit in one group while its
/// datacenter is listed in another, or the partition's sides would depend on list order.
fn check_partition(
    s: &Scenario,
    i: usize,
    groups: &[Vec<String>],
    errors: &mut Vec<ScenarioError>,
) {
    if groups.len() > MAX_PARTITION_GROUPS {
        push(
            errors,
            format!("faults[{i}].groups"),
            format!(
                "has {} groups; at most {MAX_PARTITION_GROUPS}",
                groups.len()
            ),
        );
        return;
    }
    let dc_group: BTreeMap<&str, usize> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, names)| names.iter().map(move |n| (n.as_str(), g)))
        .filter(|(n, _)| s.cluster.datacenters.iter().any(|d| d.name == *n))
        .collect();
    for (g, names) in groups.iter().enumerate() {
        for (j, name) in names.iter().enumerate() {
            if dc_group.contains_key(name.as_str()) {
                continue;
            }
            let Some((dc, _)) = resolve_node_name(s, name) else {
                continue; // validate reports unknown names
            };
            let dc_name = s.cluster.datacenters[dc].name.as_str();
            if let Some(&other) = dc_group.get(dc_name)
                && other != g
            {
                push(
                    errors,
                    format!("faults[{i}].groups[{g}][{j}]"),
                    format!(
                        "{} belongs to datacenter `{dc_name}`, which groups[{other}] lists whole; a node may sit in one group only",
                        quote(name)
                    ),
                );
            }
        }
    }
}

/// Maps `<datacenter>-<index>` to (datacenter position, index) if such a node exists.
pub fn resolve_node_name(s: &Scenario, name: &str) -> Option<(usize, u32)> {
    let (dc, index) = name.rsplit_once('-')?;
    let index: u32 = index.parse().ok()?;
    if index.to_string() != name.rsplit_once('-')?.1 {
        return None; // "east-01" is not "east-1"
    }
    let position = s.cluster.datacenters.iter().position(|d| d.name == dc)?;
    (index < s.cluster.datacenters[position].nodes).then_some((position, index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_print_short() {
        assert_eq!(num(0.0001), "0.0001");
        assert_eq!(num(1e-300), "1e-300");
        assert_eq!(num(19.875999999999998), "19.876");
        assert_eq!(num(1.1111111111111111e294), "1.11111e294");
        assert_eq!(num(6.349206349206349e295), "6.34921e295");
        assert_eq!(num(-1e200), "-1e200");
        assert_eq!(num(-5.0), "-5");
    }

    #[test]
    fn serde_tells_the_known_kinds_and_fields() {
        let s = fault_schema();
        for k in ["crash", "disk_failure", "partition", "random_crashes"] {
            assert!(s.kinds.iter().any(|x| x == k), "{:?}", s.kinds);
        }
        assert_eq!(
            s.fields["crash"],
            vec!["at_s", "duration_s", "nodes", "random_nodes"]
        );
        let w = workload_schema();
        assert_eq!(w.kinds, vec!["open_loop", "staleness_probe"]);
        assert!(w.fields["open_loop"].iter().any(|f| f == "read_fraction"));
    }

    fn one(doc: Value) -> ScenarioError {
        let mut e = check_document(&doc);
        assert_eq!(e.len(), 1, "{e:?}");
        e.remove(0)
    }

    #[test]
    fn tagged_objects_keep_their_inner_paths() {
        let e = one(json!({"faults": [{"kind": "crsh", "at_s": 1}]}));
        assert_eq!(e.path, "faults[0].kind");
        assert!(e.message.contains("did you mean `crash`?"), "{}", e.message);

        let e = one(
            json!({"workload": {"kind": "open_loop", "ops_per_s": 1, "keys": 1, "read_fractoin": 0.5}}),
        );
        assert_eq!(e.path, "workload.read_fractoin");
        assert!(
            e.message.contains("did you mean `read_fraction`?"),
            "{}",
            e.message
        );

        let e = one(json!({"faults": [{"kind": "crash", "at_s": "soon", "nodes": ["a-0"]}]}));
        assert_eq!(e.path, "faults[0].at_s");
        assert!(e.message.contains("\"soon\""), "{}", e.message);

        let e = one(
            json!({"workload": {"kind": "staleness_probe", "probes": 1, "probes_per_s": 1,
            "read_delay_ms": {"uniform": {"low": 1, "hgh": 2}}}}),
        );
        assert_eq!(e.path, "workload.read_delay_ms.uniform.hgh");

        let e =
            one(json!({"faults": [{"kind": "partition", "at_s": 1, "groups": [["a"], ["b"]]}]}));
        assert_eq!(e.path, "faults[0]");
        assert!(
            e.message.contains("missing field `duration_s`"),
            "{}",
            e.message
        );

        let e = one(json!({"faults": [7]}));
        assert_eq!(e.path, "faults[0]");
        let e = one(json!({"faults": [{"at_s": 1}]}));
        assert_eq!(e.path, "faults[0].kind");
        let e = one(json!({"workload": {"kind": 3}}));
        assert_eq!(e.path, "workload.kind");
    }

    #[test]
    fn every_bad_fault_is_reported_at_once() {
        let errors = check_document(&json!({"faults": [
            {"kind": "crash", "at_s": -1, "nodes": 5},
            {"kind": "partition", "at_s": 1, "duration_s": 1, "groups": [["a"]], "extra": 1},
        ]}));
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            vec!["faults[0].nodes", "faults[1].extra"],
            "{errors:?}"
        );
    }

    #[test]
    fn duplicate_keys_are_found_with_their_path() {
        let e = duplicate_keys(r#"{"a": 1, "b": [{"c": 1, "c": 2}], "a": 3}"#);
        let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, vec!["b[0].c", "a"]);
    }

    #[test]
    fn serde_errors_inside_reported_objects_are_dropped() {
        let mut errors = vec![ScenarioError::new("faults[1].at_s", "x")];
        merge_serde_error(&mut errors, ScenarioError::new("faults[1]", "y"));
        assert_eq!(errors.len(), 1);
        merge_serde_error(&mut errors, ScenarioError::new("replication.r", "z"));
        assert_eq!(errors.len(), 2);
    }
}
