//! Helpers shared by the end-to-end tests: small scenarios built in code, run in-process.
#![allow(dead_code)]

pub mod history_checker;

use dynasim::report::Report;
use dynasim::scenario::{Scenario, load_str};
use dynasim::sim::Simulation;
use serde_json::{Value, json};
use std::ffi::OsStr;
use std::ops::Deref;
use std::path::{Path, PathBuf};

/// A small two-datacenter cluster under a light open-loop load; edit with `set`.
pub fn small_scenario() -> Value {
    json!({
        "name": "small",
        "seed": 7,
        "duration_s": 20,
        "cluster": {
            "datacenters": [{"name": "east", "nodes": 6}, {"name": "west", "nodes": 6}],
            "partitioning": {"strategy": "equal_partitions", "partitions": 64}
        },
        "replication": {"n": 3, "r": 2, "w": 2},
        "network": {
            "latency_ms": {
                "local": {"constant": 0},
                "intra_dc": {"lognormal": {"median": 0.5, "sigma": 0.5}},
                "inter_dc": {"lognormal": {"median": 20, "sigma": 0.2}}
            }
        },
        "workload": {
            "kind": "open_loop",
            "ops_per_s": 400,
            "clients": 8,
            "read_fraction": 0.5,
            "keys": 200,
            "key_distribution": {"zipf": 0.9},
            "write_mode": "read_modify_write",
            "routing": "partition_aware",
            "request_timeout_ms": 500
        }
    })
}

/// Sets a dotted path in a scenario document (the path must exist or its parent must be
/// an object).
pub fn set(doc: &mut Value, path: &str, value: Value) {
    let mut node = doc;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        node = node
            .as_object_mut()
            .expect("object on the path")
            .entry(part.to_string())
            .or_insert_with(|| json!({}));
    }
    node[parts[parts.len() - 1]] = value;
}

pub fn scenario(doc: &Value) -> Scenario {
    load_str(&doc.to_string(), "test", &[]).unwrap_or_else(|e| panic!("invalid test scenario: {e}"))
}

pub fn run(doc: &Value) -> (Simulation, Report) {
    let mut sim = Simulation::new(&scenario(doc));
    sim.run();
    let report = Report::from_outcome(&sim.outcome());
    (sim, report)
}

pub fn report_json(doc: &Value) -> String {
    run(doc).1.to_json()
}

/// The names in a folder, sorted (empty when it cannot be read).
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The small cluster split in two from 5 s to 15 s, with R=W=1: stale reads are certain.
pub fn partitioned() -> Value {
    let mut doc = small_scenario();
    set(&mut doc, "replication.r", json!(1));
    set(&mut doc, "replication.w", json!(1));
    set(
        &mut doc,
        "faults",
        json!([{"kind": "partition", "at_s": 5, "duration_s": 10, "groups": [["east"], ["west"]]}]),
    );
    doc
}

/// A test's scratch folder, `dynasim-<prefix>-<pid>` in the system temp folder. One shared
/// type so that every test cleans up after itself: the copies it replaced left their folders
/// behind, hundreds piling up in /tmp. A failing (panicking) test's folder is kept, as the
/// evidence to look at. The prefix names the test file and the test, the pid the test
/// binary, so tests running at once never share a folder.
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// A fresh, empty folder: one of the same name, kept by a failed run whose pid this
    /// binary happens to reuse, is removed first.
    pub fn new(prefix: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!("dynasim-{prefix}-{}", std::process::id()));
        if let Err(e) = std::fs::remove_dir_all(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            panic!("cannot empty the scratch folder {}: {e}", path.display());
        }
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create the scratch folder {}: {e}", path.display()));
        Scratch { path }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

impl Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<OsStr> for Scratch {
    fn as_ref(&self) -> &OsStr {
        self.path.as_os_str()
    }
}
