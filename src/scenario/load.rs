//! Loading a scenario: JSON text -> `workload.preset` filled in -> serde types (with the
//! path of any bad field) -> `--set` edits applied to the fully resolved document (and the
//! preset again) -> validation.

use super::error::{ScenarioError, ScenarioErrors, with_suggestion};
use super::{Scenario, checks, preset, validate};
use serde_json::Value;
use std::path::Path;

/// Reads, edits (`sets` are `(dotted.path, value)` pairs) and validates a scenario file.
pub fn load_file(path: &Path, sets: &[(String, String)]) -> Result<Scenario, ScenarioErrors> {
    let source = path.display().to_string();
    let text = crate::input::read_text(path, crate::input::MAX_SCENARIO_BYTES).map_err(|e| {
        ScenarioErrors {
            source: source.clone(),
            errors: vec![ScenarioError::new("", format!("cannot read the file: {e}"))],
        }
    })?;
    load_str(&text, &source, sets)
}

/// As `load_file`, from text; `source` names the input in error messages.
pub fn load_str(
    text: &str,
    source: &str,
    sets: &[(String, String)],
) -> Result<Scenario, ScenarioErrors> {
    let wrap = |errors: Vec<ScenarioError>| ScenarioErrors {
        source: source.to_string(),
        errors,
    };
    let mut document: Value = serde_json::from_str(text).map_err(|e| {
        wrap(vec![ScenarioError::new(
            "",
            format!(
                "invalid JSON at line {}, column {}: {}",
                e.line(),
                e.column(),
                strip_position(&e.to_string())
            ),
        )])
    })?;
    // A preset fills the workload fields the file leaves out, before serde's defaults do.
    let mut stated = preset::stated_fields(&document);
    let mut errors = checks::duplicate_keys(text);
    errors.extend(preset::apply(&mut document, &stated));
    let mut scenario = from_document(document, errors).map_err(wrap)?;
    if !sets.is_empty() {
        // Edit the resolved document so that every field with a default is a valid path.
        let mut resolved = serde_json::to_value(&scenario)
            .map_err(|e| wrap(vec![ScenarioError::new("", e.to_string())]))?;
        for (path, value) in sets {
            apply_set(&mut resolved, path, value).map_err(|e| wrap(vec![e]))?;
            preset::note_set(&mut stated, path, value);
        }
        // Again: the edits may name another preset, or state a field it governs.
        let errors = preset::apply(&mut resolved, &stated);
        scenario = from_document(resolved, errors).map_err(wrap)?;
    }
    let errors = validate(&scenario);
    if errors.is_empty() {
        Ok(scenario)
    } else {
        Err(wrap(errors))
    }
}

/// The raw-JSON checks (paths inside `kind`-tagged objects, duplicate keys), then serde.
fn from_document(
    document: Value,
    mut errors: Vec<ScenarioError>,
) -> Result<Scenario, Vec<ScenarioError>> {
    errors.extend(checks::check_document(&document));
    match from_value(document) {
        Ok(s) if errors.is_empty() => Ok(s),
        Ok(_) => Err(errors),
        Err(e) => {
            checks::merge_serde_error(&mut errors, e);
            Err(errors)
        }
    }
}

/// A resolved scenario document as a `Scenario` (serde only, no semantic checks); a bad
/// field's error names its path and, for a misspelt name, the nearest allowed one.
pub fn from_value(document: Value) -> Result<Scenario, ScenarioError> {
    serde_path_to_error::deserialize(document).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        ScenarioError::new(path, with_suggestion(&e.inner().to_string()))
    })
}

/// serde_json appends " at line L column C" to messages; the path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Splits `--set PATH=VALUE` arguments into (path, value) pairs for `load_file`; the
/// first malformed one is the error.
pub fn parse_sets(sets: &[String]) -> Result<Vec<(String, String)>, ScenarioErrors> {
    sets.iter()
        .map(|s| match s.split_once('=') {
            Some((p, v)) if !p.trim().is_empty() => Ok((p.trim().to_string(), v.to_string())),
            _ => Err(ScenarioErrors {
                source: format!("--set {s:?}"),
                errors: vec![ScenarioError::new(
                    "",
                    "expected PATH=VALUE, e.g. replication.r=1",
                )],
            }),
        })
        .collect()
}

/// Sets `path` (dots between fields; list elements by number, `faults.0.at_s` or
/// `faults[0].at_s`) in a resolved scenario document. A field it lacks is created (an
/// optional one the document leaves out); loading then rejects a misspelt one with its
/// path and the allowed names. `raw` is parsed as JSON, or taken as a string.
pub fn apply_set(document: &mut Value, path: &str, raw: &str) -> Result<(), ScenarioError> {
    let value: Value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
    let normalized = path.replace('[', ".").replace(']', "");
    let parts: Vec<&str> = normalized.split('.').collect();
    if parts.iter().all(|p| p.is_empty()) {
        return Err(ScenarioError::new(path, "--set needs a non-empty path"));
    }
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ScenarioError::new(
            path,
            "a --set path names one field between each pair of dots, with no dot at \
             either end (e.g. replication.r, faults.0.at_s or faults[0].at_s)",
        ));
    }
    let mut node = document;
    let mut walked = String::new();
    for part in parts {
        let here = if walked.is_empty() {
            part.to_string()
        } else {
            format!("{walked}.{part}")
        };
        // An optional section left unset (null) becomes an object to fill.
        if node.is_null() {
            *node = Value::Object(Default::default());
        }
        node = match node {
            // A field the resolved document leaves out (an optional one, unset) is
            // created as named; serde then refuses a misspelt one, naming its path and the
            // fields allowed there (every section denies unknown fields).
            Value::Object(map) => map.entry(part).or_insert(Value::Null),
            Value::Array(items) => {
                let len = items.len();
                let index: usize = part.parse().map_err(|_| {
                    ScenarioError::new(
                        path,
                        format!("--set: `{here}`: `{part}` is not a list index"),
                    )
                })?;
                items.get_mut(index).ok_or_else(|| {
                    ScenarioError::new(
                        path,
                        format!(
                            "--set: `{here}`: index {index} is out of range (the list has {len})"
                        ),
                    )
                })?
            }
            _ => {
                return Err(ScenarioError::new(
                    path,
                    format!("--set: unknown path `{here}`: its parent is not an object or list"),
                ));
            }
        };
        walked = here;
    }
    *node = value;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_edits_paths_and_lists() {
        let mut doc: Value = serde_json::json!({"replication": {"r": 2}, "faults": [{"at_s": 1}]});
        apply_set(&mut doc, "replication.r", "1").expect("known path");
        assert_eq!(doc["replication"]["r"], 1);
        apply_set(&mut doc, "faults[0].at_s", "5.5").expect("list index");
        assert_eq!(doc["faults"][0]["at_s"], 5.5);
        assert!(apply_set(&mut doc, "faults.3.at_s", "1").is_err());
        assert!(
            apply_set(&mut doc, "replication.r.x", "1").is_err(),
            "r is a number"
        );
    }

    #[test]
    fn a_set_path_with_an_empty_part_is_refused_and_changes_nothing() {
        let mut doc: Value = serde_json::json!({"replication": {"r": 2}});
        for bad in [
            "replication..r",
            "replication.r.",
            ".replication.r",
            "replication.[0]",
        ] {
            let e = apply_set(&mut doc, bad, "1").expect_err(bad);
            assert_eq!(e.path, bad);
            assert!(e.message.contains("between each pair of dots"), "{e}");
        }
        assert_eq!(doc["replication"]["r"], 2);
        assert!(apply_set(&mut doc, ".", "1").is_err());
    }

    #[test]
    fn set_reaches_optional_sections_a_scenario_leaves_out() {
        let text = r#"{"name": "t", "duration_s": 1,
            "cluster": {"datacenters": [{"name": "dc", "nodes": 3}]},
            "workload": {"kind": "open_loop", "ops_per_s": 1, "clients": 1, "keys": 1}}"#;
        let sets = parse_sets(&[
            "capacity.disk.concurrency=4".to_string(),
            "replication.durable_writes=1".to_string(),
        ])
        .expect("well formed");
        let s = load_str(text, "t", &sets).expect("optional sections can be set");
        assert_eq!(
            s.capacity.and_then(|c| c.disk).map(|d| d.concurrency),
            Some(4)
        );
        assert_eq!(s.replication.durable_writes, 1);
        // A misspelt field inside a section that was unset: serde names the allowed ones.
        let sets = parse_sets(&["capacity.dsk.concurrency=4".to_string()]).expect("ok");
        let e = load_str(text, "t", &sets).expect_err("typo");
        assert!(e.to_string().contains("expected one of `disk`"), "{e}");
        let sets = parse_sets(&["replication.sloppy_quorom=false".to_string()]).expect("ok");
        let e = load_str(text, "t", &sets).expect_err("typo");
        assert!(
            e.to_string().contains("did you mean `sloppy_quorum`"),
            "{e}"
        );
    }

    #[test]
    fn set_arguments_split_at_the_first_equals_sign() {
        let sets = ["replication.r=1".to_string(), " name =a=b".to_string()];
        assert_eq!(
            parse_sets(&sets).expect("well formed"),
            vec![
                ("replication.r".to_string(), "1".to_string()),
                ("name".to_string(), "a=b".to_string())
            ]
        );
        let e = parse_sets(&["=1".to_string()]).expect_err("no path");
        assert_eq!(
            e.to_string(),
            "--set \"=1\": expected PATH=VALUE, e.g. replication.r=1"
        );
        assert!(parse_sets(&["replication.r".to_string()]).is_err());
    }
}
