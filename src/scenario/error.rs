//! What can be wrong with a scenario, and the nearest-name suggestions that make the
//! messages useful: one `ScenarioError` per problem (a JSON path and what is wrong there),
//! gathered per input in `ScenarioErrors`. The bottom of the scenario module: loading,
//! validation and the raw-document checks all report through it.

use crate::error::Failure;
use std::fmt;

/// One problem with a scenario: where (a JSON path such as `faults[2].nodes[0]`) and what.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioError {
    pub path: String,
    pub message: String,
}

impl ScenarioError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ScenarioError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in one scenario input (a file, or a `--set` argument), with its
/// name for context.
#[derive(Clone, Debug)]
pub struct ScenarioErrors {
    pub source: String,
    pub errors: Vec<ScenarioError>,
}

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {}", self.source, e)?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

/// A scenario that cannot be used is bad input (exit 2) for every command.
impl From<ScenarioErrors> for Failure {
    fn from(e: ScenarioErrors) -> Self {
        Failure::trouble(e.to_string())
    }
}

/// Adds "did you mean `x`?" to serde's unknown field / variant messages, and says what an
/// object that must name one kind (a distribution) takes.
pub(super) fn with_suggestion(message: &str) -> String {
    if message == "invalid value: map, expected map with a single key" {
        return format!(
            "an object with exactly one key, its kind (a distribution of milliseconds: {}), \
             e.g. {{\"exponential\": {{\"mean\": 5}}}}",
            crate::engine::dist::Distribution::KINDS.join(", ")
        );
    }
    let is_unknown = message.starts_with("unknown field") || message.starts_with("unknown variant");
    if !is_unknown {
        return message.to_string();
    }
    let names: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    let Some((bad, known)) = names.split_first() else {
        return message.to_string();
    };
    match nearest(bad, known.iter().copied()) {
        Some(best) => format!("{message}; did you mean `{best}`?"),
        None => message.to_string(),
    }
}

/// The candidate closest to `word` by edit distance, if it is plausibly a typo of it.
pub fn nearest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    // Among equally near names, the one sharing the longest beginning with the word (a
    // typo rarely hits the first letter: `rr` means `r`, not `pr`).
    let shared = |c: &str| {
        word.chars()
            .zip(c.chars())
            .take_while(|(a, b)| a == b)
            .count()
    };
    candidates
        .map(|c| (edit_distance(word, c), std::cmp::Reverse(shared(c)), c))
        .filter(|(d, _, c)| *d <= (word.len().max(c.len()) / 2).max(2))
        .min()
        .map(|(_, _, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_known_name() {
        let m = with_suggestion(
            "unknown field `read_fractoin`, expected one of `ops_per_s`, `read_fraction`, `keys`",
        );
        assert!(m.ends_with("did you mean `read_fraction`?"), "{m}");
        let m = with_suggestion("unknown field `zzzzzzzz`, expected `a` or `b`");
        assert!(!m.contains("did you mean"));
    }

    /// The kinds an empty or two-keyed distribution's error lists are the enum's own:
    /// serde's message for an unknown kind names every variant.
    #[test]
    fn a_distribution_without_one_kind_lists_every_kind() {
        use crate::engine::dist::Distribution;
        let unknown = serde_json::from_str::<Distribution>(r#"{"nope": 1}"#)
            .expect_err("not a kind")
            .to_string();
        let named: Vec<&str> = unknown.split('`').skip(3).step_by(2).collect();
        assert_eq!(named, Distribution::KINDS, "{unknown}");
        // As the loader reads a scenario: from a parsed document.
        for doc in [
            serde_json::json!({}),
            serde_json::json!({"constant": 1, "exponential": {"mean": 2}}),
        ] {
            let e = serde_json::from_value::<Distribution>(doc).expect_err("one kind");
            let m = with_suggestion(&e.to_string());
            assert!(
                m.contains("exactly one key") && m.contains("lognormal, pareto"),
                "{m}"
            );
        }
    }
}
