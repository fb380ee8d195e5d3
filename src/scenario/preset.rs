//! YCSB's core workloads as `workload.preset` (Cooper et al., "Benchmarking Cloud Serving
//! Systems with YCSB", SoCC 2010, and YCSB's `workloads/workloada` ... `workloadf`). A
//! preset stands for the fields it governs (`GOVERNED`); the scenario's own value of any
//! of them wins. The preset is applied to the JSON document before serde fills defaults,
//! so "stated" means present in the file or set with `--set`, and the resolved scenario
//! (embedded in report.json) shows the values it filled beside the preset's name.

use super::error::ScenarioError;
use super::{KeyDistribution, WriteMode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// YCSB's request distributions use the Zipfian constant 0.99 (`ZipfianGenerator`).
pub const YCSB_ZIPF: f64 = 0.99;

/// The workload fields a preset fills, as named in the scenario.
pub const GOVERNED: [&str; 4] = [
    "read_fraction",
    "insert_fraction",
    "key_distribution",
    "write_mode",
];

/// A YCSB core workload. YCSB's "update" writes a key without reading it first (`blind`);
/// its read-modify-write is dynasim's `read_modify_write`; its insert writes a new key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// A, update heavy: 50% reads, 50% updates (blind), Zipf 0.99.
    YcsbA,
    /// B, read mostly: 95% reads, 5% updates (blind), Zipf 0.99.
    YcsbB,
    /// C, read only: 100% reads, Zipf 0.99.
    YcsbC,
    /// D, read latest: 95% reads, 5% inserts, `latest` 0.99.
    YcsbD,
    /// E, short ranges: 95% scans, 5% inserts, Zipf 0.99. dynasim has no range scans:
    /// each scan runs as a single-key read of its first key.
    YcsbE,
    /// F, read-modify-write: 50% reads, 50% read-modify-writes, Zipf 0.99.
    YcsbF,
}

/// What a preset fills.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PresetFields {
    pub read_fraction: f64,
    pub insert_fraction: f64,
    pub key_distribution: KeyDistribution,
    pub write_mode: WriteMode,
}

impl Preset {
    pub const ALL: [Preset; 6] = [
        Preset::YcsbA,
        Preset::YcsbB,
        Preset::YcsbC,
        Preset::YcsbD,
        Preset::YcsbE,
        Preset::YcsbF,
    ];

    /// The scenario name (`ycsb_a` ...).
    pub fn name(self) -> &'static str {
        match self {
            Preset::YcsbA => "ycsb_a",
            Preset::YcsbB => "ycsb_b",
            Preset::YcsbC => "ycsb_c",
            Preset::YcsbD => "ycsb_d",
            Preset::YcsbE => "ycsb_e",
            Preset::YcsbF => "ycsb_f",
        }
    }

    /// The shares, distribution and write mode YCSB's workload files give. Where a
    /// workload has no updates (C, D, E) the write mode only says what an update would
    /// be; inserts are always blind (a new key has nothing to read).
    pub fn fields(self) -> PresetFields {
        let zipf = KeyDistribution::Zipf(YCSB_ZIPF);
        let (read_fraction, insert_fraction, key_distribution, write_mode) = match self {
            Preset::YcsbA => (0.5, 0.0, zipf, WriteMode::Blind),
            Preset::YcsbB => (0.95, 0.0, zipf, WriteMode::Blind),
            Preset::YcsbC => (1.0, 0.0, zipf, WriteMode::Blind),
            Preset::YcsbD => (
                0.95,
                0.05,
                KeyDistribution::Latest(YCSB_ZIPF),
                WriteMode::Blind,
            ),
            // The 95% scans, each read as the single key it starts at.
            Preset::YcsbE => (0.95, 0.05, zipf, WriteMode::Blind),
            Preset::YcsbF => (0.5, 0.0, zipf, WriteMode::ReadModifyWrite),
        };
        PresetFields {
            read_fraction,
            insert_fraction,
            key_distribution,
            write_mode,
        }
    }

    /// Whether the YCSB workload's reads are scans here read as single keys (E).
    pub fn scans_as_reads(self) -> bool {
        self == Preset::YcsbE
    }

    fn value_of(self, field: &str) -> Option<Value> {
        let f = self.fields();
        let value = match field {
            "read_fraction" => serde_json::to_value(f.read_fraction),
            "insert_fraction" => serde_json::to_value(f.insert_fraction),
            "key_distribution" => serde_json::to_value(f.key_distribution),
            "write_mode" => serde_json::to_value(f.write_mode),
            _ => return None,
        };
        value.ok()
    }
}

/// The workload fields a document states (the keys of its `workload` object).
pub fn stated_fields(doc: &Value) -> BTreeSet<String> {
    match doc.get("workload") {
        Some(Value::Object(w)) => w.keys().cloned().collect(),
        _ => BTreeSet::new(),
    }
}

/// Records what a `--set PATH=VALUE` states: `workload.F` states F; `workload` itself
/// states the fields of its new object.
pub fn note_set(stated: &mut BTreeSet<String>, path: &str, raw: &str) {
    let normalized = path.replace('[', ".").replace(']', "");
    let parts: Vec<&str> = normalized.split('.').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        ["workload"] => {
            let value: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
            *stated = stated_fields(&serde_json::json!({ "workload": value }));
        }
        ["workload", field, ..] => {
            stated.insert(field.to_string());
        }
        _ => {}
    }
}

/// Applies `workload.preset` to a scenario document: each governed field the scenario
/// does not state (`stated`) is removed, then filled from the preset when there is one,
/// so serde's default applies where neither says anything. A preset on a workload kind
/// other than `open_loop` is an error here (and removed, so that the kind's own field
/// check does not report it twice); a preset name serde cannot read is left for serde,
/// whose message lists the names allowed and the nearest one.
pub fn apply(doc: &mut Value, stated: &BTreeSet<String>) -> Vec<ScenarioError> {
    let Some(Value::Object(w)) = doc.get_mut("workload") else {
        return Vec::new();
    };
    for field in GOVERNED {
        if !stated.contains(field) {
            w.remove(field);
        }
    }
    let Some(raw) = w.get("preset").filter(|v| !v.is_null()).cloned() else {
        return Vec::new();
    };
    let kind = w.get("kind").and_then(Value::as_str).map(str::to_string);
    match kind.as_deref() {
        Some("open_loop") => {}
        Some(kind @ "staleness_probe") => {
            w.remove("preset");
            return vec![ScenarioError::new(
                "workload.preset",
                format!(
                    "{raw} is not allowed for kind `{kind}`: a preset ({}) describes an open-loop workload; use kind `open_loop` or remove `preset`",
                    names()
                ),
            )];
        }
        // A missing or unknown kind is reported by the document checks.
        _ => return Vec::new(),
    }
    let Ok(preset) = serde_json::from_value::<Preset>(raw) else {
        return Vec::new();
    };
    fill(w, preset, stated);
    Vec::new()
}

fn fill(w: &mut Map<String, Value>, preset: Preset, stated: &BTreeSet<String>) {
    for field in GOVERNED {
        if !stated.contains(field)
            && let Some(value) = preset.value_of(field)
        {
            w.insert(field.to_string(), value);
        }
    }
}

/// The preset names, backticked, for messages.
fn names() -> String {
    Preset::ALL
        .iter()
        .map(|p| format!("`{}`", p.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serde_names() {
        for p in Preset::ALL {
            assert_eq!(serde_json::to_value(p).ok(), Some(Value::from(p.name())));
        }
    }

    #[test]
    fn shares_leave_nothing_out_and_stay_within_one() {
        for p in Preset::ALL {
            let f = p.fields();
            assert!(f.read_fraction + f.insert_fraction <= 1.0, "{p:?}");
        }
    }
}
