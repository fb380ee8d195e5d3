//! `dynasim schema` and `dynasim new`: the scenario format as a JSON Schema generated from
//! the serde types themselves (schemars reads the same serde attributes, so the schema
//! cannot drift from what the loader accepts), and a starting scenario that validates.

use super::Scenario;

/// The JSON Schema of a scenario file, pretty-printed.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Scenario);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// The file name `dynasim new` gives the schema beside a new scenario.
pub const SCHEMA_FILE: &str = "scenario.schema.json";

/// A small scenario to start from: two datacenters of three nodes, Dynamo's (3, 2, 2),
/// a minute of load and one partition. JSON has no comments, so its `description` says
/// what to change and where each field is documented.
pub fn starter(name: &str) -> String {
    let name = serde_json::to_string(name).unwrap_or_else(|_| "\"my-scenario\"".into());
    format!(
        r#"{{
  "$schema": "{SCHEMA_FILE}",
  "name": {name},
  "description": "A starting scenario from `dynasim new`: 6 nodes in two datacenters, N=3 R=2 W=2 with sloppy quorum, 200 requests/s for 60 simulated seconds, east and west partitioned from 20 s to 40 s. Change what you want to study (replication.r and .w, the faults, the load) and say here what to look for. Every field and its default: docs/scenario.md; an editor that reads $schema validates and completes this file from scenario.schema.json. Run it with: dynasim run THIS-FILE",
  "seed": 1,
  "duration_s": 60,
  "cluster": {{
    "datacenters": [{{"name": "east", "nodes": 3}}, {{"name": "west", "nodes": 3}}],
    "partitioning": {{"strategy": "equal_partitions", "partitions": 60}}
  }},
  "replication": {{
    "n": 3, "r": 2, "w": 2,
    "sloppy_quorum": true,
    "hinted_handoff": true,
    "read_repair": true,
    "replicas_across_datacenters": true,
    "versioning": "vector_clock"
  }},
  "anti_entropy": {{"enabled": true, "interval_s": 30, "merkle_depth": 8}},
  "network": {{
    "latency_ms": {{
      "local": {{"constant": 0}},
      "intra_dc": {{"lognormal": {{"median": 0.5, "sigma": 0.5}}}},
      "inter_dc": {{"lognormal": {{"median": 40, "sigma": 0.2}}}}
    }}
  }},
  "storage": {{"read_ms": {{"constant": 0.2}}, "write_ms": {{"constant": 0.5}}}},
  "workload": {{
    "kind": "open_loop",
    "ops_per_s": 200,
    "clients": 20,
    "read_fraction": 0.5,
    "keys": 1000,
    "key_distribution": {{"zipf": 0.99}},
    "write_mode": "read_modify_write",
    "value_bytes": 1024,
    "routing": "partition_aware",
    "request_timeout_ms": 300
  }},
  "faults": [
    {{"kind": "partition", "at_s": 20, "duration_s": 20, "groups": [["east"], ["west"]]}}
  ],
  "metrics": {{"sla_ms": 300, "timeline_interval_s": 5}}
}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_validates_and_the_schema_names_every_section() {
        let text = starter("first \"try\"");
        let scenario = super::super::load_str(&text, "starter", &[]).expect("the starter is valid");
        assert_eq!(scenario.name, "first \"try\"");
        assert_eq!(scenario.schema.as_deref(), Some(SCHEMA_FILE));
        let schema: serde_json::Value = serde_json::from_str(&schema_json()).expect("JSON");
        let properties = schema["properties"].as_object().expect("properties");
        for section in [
            "$schema",
            "cluster",
            "replication",
            "workload",
            "faults",
            "capacity",
            "metrics",
        ] {
            assert!(
                properties.contains_key(section),
                "the schema lacks {section}"
            );
        }
        let required: Vec<&str> = (schema["required"].as_array().expect("required").iter())
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(required, ["name", "duration_s", "cluster", "workload"]);
        assert_eq!(
            schema["additionalProperties"], false,
            "unknown fields are refused"
        );
    }
}
