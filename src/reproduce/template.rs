//! Templates in experiment files: `{var}` placeholders replaced by a value (a run family's
//! names and edits, the points of a plot, the terms of `mean_for`), and generated lists of
//! values (`linspace`, `logspace`).

use serde_json::Value;
use std::collections::BTreeMap;

/// A list of values, or a generated one: `{"linspace": [a, b, k]}`, `{"logspace": [a, b,
/// k]}` (k points from a to b, evenly or evenly in the logarithm; k from 2 to 10,000).
pub fn values_of(v: &Value) -> Result<Vec<Value>, String> {
    if let Some(list) = v.as_array() {
        if list.is_empty() {
            return Err("an empty list of values".into());
        }
        return Ok(list.clone());
    }
    let spec = |key: &str| {
        v.get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>())
    };
    let (log, abk) = match (spec("linspace"), spec("logspace")) {
        (Some(Some(abk)), None) => (false, abk),
        (None, Some(Some(abk))) => (true, abk),
        _ => {
            return Err(format!(
                "values must be a list, {{\"linspace\": [a, b, k]}} or {{\"logspace\": [a, b, k]}}, not {v}"
            ));
        }
    };
    let [a, b, k] = abk[..] else {
        return Err(format!("{v}: expected [a, b, k]"));
    };
    if !(2.0..=10_000.0).contains(&k)
        || k.fract() != 0.0
        || !a.is_finite()
        || !b.is_finite()
        || (log && (a <= 0.0 || b <= 0.0))
    {
        return Err(format!(
            "{v}: k must be a whole number from 2 to 10,000, a and b finite (and > 0 on a log scale)"
        ));
    }
    let k = k as usize;
    Ok((0..k)
        .map(|i| {
            let f = i as f64 / (k - 1) as f64;
            let x = if log {
                crate::engine::math::exp(
                    crate::engine::math::ln(a) * (1.0 - f) + crate::engine::math::ln(b) * f,
                )
            } else {
                // Weighted ends, so that whole-number ends and steps give whole numbers.
                (a * (k - 1 - i) as f64 + b * i as f64) / (k - 1) as f64
            };
            serde_json::json!(x)
        })
        .collect())
}

/// `{var}` in text replaced by the value (a number without quotes).
pub fn substitute_text(text: &str, binding: &BTreeMap<String, Value>) -> String {
    let mut out = text.to_string();
    for (name, value) in binding {
        let shown = match value {
            Value::String(s) => s.clone(),
            // A whole number shows as one (2, not 2.0), so generated values make paths
            // (`timeline.{i}.reads`) and names that read as written.
            Value::Number(n) => match n.as_f64() {
                Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
                _ => n.to_string(),
            },
            other => other.to_string(),
        };
        out = out.replace(&format!("{{{name}}}"), &shown);
    }
    out
}

/// A JSON value with `{var}` replaced: a string that is exactly `{var}` becomes the value
/// itself (a number stays a number); other strings have the text replaced.
pub fn substitute(value: &Value, binding: &BTreeMap<String, Value>) -> Value {
    match value {
        Value::String(s) => {
            for (name, v) in binding {
                if *s == format!("{{{name}}}") {
                    return v.clone();
                }
            }
            Value::String(substitute_text(s, binding))
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, binding)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (substitute_text(k, binding), substitute(v, binding)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_whole_placeholder_keeps_the_values_type() {
        let b = BTreeMap::from([("t".to_string(), json!(1.85))]);
        assert_eq!(
            substitute(&json!({"constant": "{t}"}), &b),
            json!({"constant": 1.85})
        );
        assert_eq!(substitute(&json!("at-{t}"), &b), json!("at-1.85"));
        let whole = BTreeMap::from([("i".to_string(), json!(3.0))]);
        assert_eq!(
            substitute_text("timeline.{i}.reads", &whole),
            "timeline.3.reads"
        );
    }

    #[test]
    fn generated_values_span_their_range() {
        let lin = values_of(&json!({"linspace": [0, 10, 3]})).expect("valid");
        assert_eq!(lin, vec![json!(0.0), json!(5.0), json!(10.0)]);
        let steps = values_of(&json!({"linspace": [0, 47, 48]})).expect("valid");
        assert!(
            steps
                .iter()
                .all(|v| v.as_f64().is_some_and(|x| x.fract() == 0.0)),
            "{steps:?}"
        );
        let log = values_of(&json!({"logspace": [1, 100, 3]})).expect("valid");
        assert!((log[1].as_f64().unwrap_or(0.0) - 10.0).abs() < 1e-9);
        assert!(values_of(&json!({"logspace": [0, 100, 3]})).is_err());
        assert!(values_of(&json!([])).is_err());
    }
}
