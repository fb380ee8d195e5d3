//! reproduce.json and reproduce.md, made from the judged rows and the experiments alone
//! (no wall time, no paths outside the repository): the same results give the same bytes.

use super::verdict::Verdict;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A judged row as reproduce.json records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowRecord {
    pub id: String,
    pub experiment: String,
    /// Where the paper's number is (section, figure, table).
    pub source: String,
    pub metric: String,
    pub paper: Value,
    pub dynasim: Value,
    /// The WARS model's value, where the row shows one.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub model: Value,
    pub tolerance: String,
    pub tolerance_reason: String,
    pub verdict: Verdict,
    /// Why the row differs (rows that agree have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// An experiment as reproduce.json and reproduce.md describe it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentRecord {
    pub id: String,
    pub title: String,
    pub paper: String,
    pub file: String,
    pub scenario: String,
    pub runs: usize,
    pub modelled: String,
    pub assumed: String,
    pub plots: Vec<String>,
    /// Points a plot could not show (an expression without a value), as "plot: why".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plot_notes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub rows: usize,
    pub agrees: usize,
    pub qualitative_agrees: usize,
    pub differs: usize,
    /// (agrees + qualitative-agrees) / rows.
    pub agreeing_fraction: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// "quick" or "full".
    pub set: String,
    pub summary: Summary,
    pub rows: Vec<RowRecord>,
    pub experiments: Vec<ExperimentRecord>,
}

impl Summary {
    pub fn of(rows: &[RowRecord]) -> Summary {
        let count = |v: Verdict| rows.iter().filter(|r| r.verdict == v).count();
        let (agrees, qualitative_agrees) =
            (count(Verdict::Agrees), count(Verdict::QualitativeAgrees));
        let fraction = (agrees + qualitative_agrees) as f64 / rows.len().max(1) as f64;
        Summary {
            rows: rows.len(),
            agrees,
            qualitative_agrees,
            differs: count(Verdict::Differs),
            agreeing_fraction: (fraction * 1e4).round() / 1e4,
        }
    }

    pub fn line(&self) -> String {
        format!(
            "{} rows: {} agree, {} agree qualitatively, {} differ ({:.0}% agreeing)",
            self.rows,
            self.agrees,
            self.qualitative_agrees,
            self.differs,
            self.agreeing_fraction * 100.0
        )
    }
}

/// A value as the table shows it: numbers near 1 with the digits that tell them apart
/// (0.99884), others with 4 significant digits; lists joined.
pub fn show(v: &Value) -> String {
    match v {
        Value::Null => "n/a".into(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), show_num),
        Value::String(s) => s.clone(),
        Value::Array(_) if points(v) > 4 => format!("{} points (see the plot)", points(v)),
        Value::Array(items) => items.iter().map(show).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// Numbers in a (nested) list.
fn points(v: &Value) -> usize {
    match v {
        Value::Array(items) => items.iter().map(points).sum(),
        _ => 1,
    }
}

pub fn show_num(v: f64) -> String {
    if v > 0.99 && v < 1.0 {
        let decimals =
            (2 - crate::engine::math::log10(1.0 - v).floor() as i32).clamp(3, 9) as usize;
        let s = format!("{v:.decimals$}");
        return s.trim_end_matches('0').to_string();
    }
    super::verdict::trim(v)
}

/// Table cells may not hold a pipe or a line break.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The verdict table (Markdown), as reproduce.md and README.md show it.
pub fn table(rows: &[RowRecord]) -> String {
    let mut out = String::from(
        "| row | source | metric | paper | dynasim | tolerance | verdict | why |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let dynasim = match &r.model {
            Value::Null => show(&r.dynasim),
            m => format!("{} (model {})", show(&r.dynasim), show(m)),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | **{}** | {} |\n",
            r.id,
            cell(&r.source),
            cell(&r.metric),
            cell(&show(&r.paper)),
            cell(&dynasim),
            cell(&r.tolerance),
            r.verdict.name(),
            cell(r.why.as_deref().unwrap_or(""))
        ));
    }
    out
}

/// reproduce.md: the summary, the table, then a section per experiment.
pub fn markdown(doc: &Document, command: &str) -> String {
    let mut out = format!(
        "# Does dynasim reproduce the papers?\n\nMade by `{command}` ({} set). {}.\n\n\
         Every row compares one number of a paper with dynasim's, under a tolerance stated in the \
         experiment file (`scenarios/paper/ID.json`) before the result was known; its reason is \
         under the experiment below. Verdicts: **agrees** (within the tolerance), \
         **qualitative-agrees** (a shape or ordering holds), **differs** (with why). \
         \"model\" is the WARS model of PBS §4 computed here (`src/reproduce/wars.rs`).\n\n",
        doc.set,
        doc.summary.line()
    );
    out.push_str(&table(&doc.rows));
    for e in &doc.experiments {
        out.push_str(&format!(
            "\n## {} (`{}`)\n\n{}. Experiment `{}`, scenario `{}`, {} run{}.\n\n**Modelled.** {}\n\n\
             **Not in the paper, assumed.** {}\n\n**Tolerances.**\n\n",
            e.title,
            e.id,
            e.paper,
            e.file,
            e.scenario,
            e.runs,
            if e.runs == 1 { "" } else { "s" },
            e.modelled,
            e.assumed
        ));
        for r in doc.rows.iter().filter(|r| r.experiment == e.id) {
            out.push_str(&format!(
                "- `{}` ({}): {}\n",
                r.id, r.tolerance, r.tolerance_reason
            ));
        }
        for p in &e.plots {
            out.push_str(&format!("\n![{p}](plots/{p}.svg)\n"));
        }
        for n in &e.plot_notes {
            out.push_str(&format!("\nNot plotted: {n}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(id: &str, verdict: Verdict) -> RowRecord {
        RowRecord {
            id: id.into(),
            experiment: "e".into(),
            source: "§6.4, Table 2".into(),
            metric: "a | b".into(),
            paper: json!(2.27),
            dynasim: json!([0.9, 0.8]),
            model: Value::Null,
            tolerance: "±25%".into(),
            tolerance_reason: "r".into(),
            verdict,
            why: (verdict == Verdict::Differs).then(|| "because".into()),
        }
    }

    #[test]
    fn the_summary_counts_agreeing_rows() {
        let rows = [
            row("a", Verdict::Agrees),
            row("b", Verdict::QualitativeAgrees),
            row("c", Verdict::Differs),
            row("d", Verdict::Agrees),
        ];
        let s = Summary::of(&rows);
        assert_eq!(
            (s.rows, s.agrees, s.qualitative_agrees, s.differs),
            (4, 2, 1, 1)
        );
        assert_eq!(s.agreeing_fraction, 0.75);
        assert!(s.line().contains("75% agreeing"));
    }

    #[test]
    fn the_table_escapes_cells_and_shows_lists() {
        let t = table(&[row("a", Verdict::Differs)]);
        assert!(t.contains("a \\| b"), "{t}");
        assert!(t.contains("| 0.9, 0.8 |"), "{t}");
        assert!(t.contains("**differs** | because |"), "{t}");
    }

    #[test]
    fn numbers_near_one_keep_their_distance_from_it() {
        assert_eq!(show_num(0.99884), "0.99884");
        assert_eq!(show_num(0.999995), "0.999995");
        assert_eq!(show_num(0.4359), "0.4359");
        assert_eq!(show_num(16.43), "16.43");
        assert_eq!(show_num(5.7e-6), "0.0000057");
    }
}
