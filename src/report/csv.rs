//! Tidy data for pandas and R: `timeline.csv` (one row per interval) and `latency.csv`
//! (one row per operation and quantile), units in the column names, made from the report
//! alone. Numbers are written as report.json writes them (shortest round-trip form), an
//! absent value as an empty field.

use super::Report;
use serde_json::Value;
use std::fmt::Write;

/// `timeline.csv`: the report's timeline, one row per interval, a column per field in
/// the order report.json has them (the capacity queue columns only when the scenario
/// bounds resources).
pub fn timeline(report: &Report) -> String {
    // Each point is read as its JSON fields twice, once for the columns and once for its
    // row, rather than all at once: a run with 330,000 points held 590 MB of fields.
    let fields = |p| {
        serde_json::to_string(p)
            .ok()
            .and_then(|text| serde_json::from_str::<Fields>(&text).ok())
    };
    let mut columns: Vec<String> = Vec::new();
    for row in report.timeline.iter().filter_map(fields) {
        for (key, _) in row.0 {
            if !columns.contains(&key) {
                columns.push(key);
            }
        }
    }
    let mut out = columns.join(",");
    out.push('\n');
    for row in report.timeline.iter().filter_map(fields) {
        let cells: Vec<String> = (columns.iter())
            .map(|c| cell(row.0.iter().find(|(k, _)| k == c).map(|(_, v)| v)))
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// A JSON object's fields in the order they were written (serde_json's `Map` sorts them,
/// and the columns should follow the report's own order).
struct Fields(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Fields, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    fields.push(entry);
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// `latency.csv`: the latency CDFs of successful reads and writes,
/// `operation,quantile,latency_ms`.
pub fn latency(report: &Report) -> String {
    let mut out = String::from("operation,quantile,latency_ms\n");
    let latency = &report.observed.latency_ms;
    for (operation, summary) in [("read", &latency.read), ("write", &latency.write)] {
        for (quantile, ms) in &summary.cdf {
            let _ = writeln!(out, "{operation},{},{}", number(*quantile), number(*ms));
        }
    }
    out
}

fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => quoted(s),
        Some(other) => other.to_string(),
    }
}

fn number(x: f64) -> String {
    serde_json::Number::from_f64(x).map_or_else(String::new, |n| n.to_string())
}

/// RFC 4180 quoting where a field needs it.
pub fn quoted(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_they_need_it() {
        assert_eq!(quoted("east"), "east");
        assert_eq!(quoted("a,b"), "\"a,b\"");
        assert_eq!(quoted("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell(None), "");
        assert_eq!(cell(Some(&Value::Bool(true))), "true");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(f64::NAN), "");
    }
}
