//! How a row is judged: the comparison kinds an experiment file states (with the
//! tolerance, fixed before the result), the verdict they give, and the CI rule on verdicts
//! (a row that agreed must go on agreeing). Pure functions of numbers.

use super::expr::{Data, Expr, Names, Val};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A row's verdict, as reproduce.json spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    #[serde(rename = "agrees")]
    Agrees,
    #[serde(rename = "qualitative-agrees")]
    QualitativeAgrees,
    #[serde(rename = "differs")]
    Differs,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Agrees => "agrees",
            Verdict::QualitativeAgrees => "qualitative-agrees",
            Verdict::Differs => "differs",
        }
    }

    pub fn agrees(self) -> bool {
        self != Verdict::Differs
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Increasing,
    Decreasing,
}

/// A comparison of dynasim's value with the paper's.
#[derive(Clone, Debug, PartialEq)]
pub enum Compare {
    /// |d / p - 1| <= tolerance.
    Relative { tolerance: f64 },
    /// |d - p| <= tolerance.
    Absolute { tolerance: f64 },
    /// Within a factor: max(d / p, p / d) <= factor (both positive).
    Factor { factor: f64 },
    /// low <= d <= high (the paper's value is shown, the range is the tolerance).
    Range { low: f64, high: f64 },
    /// d >= p.
    AtLeast,
    /// d <= p.
    AtMost,
    /// Proportions: |d - p| <= sigmas x sqrt(q (1 - q) (1/n + 1/paper_n)), q the pooled
    /// proportion (paper_n absent: the paper's value is taken as exact, q = p). On lists,
    /// every point, by the largest |z|.
    Binomial {
        sigmas: f64,
        n: Expr,
        paper_n: Option<Expr>,
    },
    /// An ordering of dynasim's list (always qualitative): each step in the direction, and
    /// larger than `sigmas` standard errors of the difference when the values carry them.
    Order { direction: Direction, sigmas: f64 },
}

/// What judging a row found.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    pub agrees: bool,
    /// The tolerance in words and numbers, e.g. "±25%" or "3σ = ±0.0004 (n = 100,000)".
    pub tolerance: String,
}

fn num_field(o: &serde_json::Map<String, Value>, key: &str) -> Result<f64, String> {
    o.get(key)
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("expected \"{key}\": a number"))
}

impl Compare {
    pub fn parse(v: &Value, names: &Names) -> Result<Compare, String> {
        let o = v.as_object().ok_or("expected an object with \"kind\"")?;
        let kind = o
            .get("kind")
            .and_then(Value::as_str)
            .ok_or("expected \"kind\"")?;
        let allowed: &[&str] = match kind {
            "relative" | "absolute" => &["kind", "tolerance"],
            "factor" => &["kind", "factor"],
            "range" => &["kind", "low", "high"],
            "at_least" | "at_most" => &["kind"],
            "binomial" => &["kind", "sigmas", "n", "paper_n"],
            "order" => &["kind", "direction", "sigmas"],
            _ => {
                return Err(format!(
                    "unknown kind {kind:?}; allowed: relative, absolute, factor, range, at_least, at_most, binomial, order"
                ));
            }
        };
        if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!(
                "unknown field {k:?} for kind {kind}; allowed: {}",
                allowed.join(", ")
            ));
        }
        let positive = |key: &str| -> Result<f64, String> {
            let x = num_field(o, key)?;
            if x > 0.0 {
                Ok(x)
            } else {
                Err(format!("{key} = {x}: must be > 0"))
            }
        };
        Ok(match kind {
            "relative" => Compare::Relative {
                tolerance: positive("tolerance")?,
            },
            "absolute" => Compare::Absolute {
                tolerance: positive("tolerance")?,
            },
            "factor" => {
                let factor = num_field(o, "factor")?;
                if factor < 1.0 {
                    return Err(format!("factor = {factor}: must be >= 1"));
                }
                Compare::Factor { factor }
            }
            "range" => {
                let (low, high) = (num_field(o, "low")?, num_field(o, "high")?);
                if low > high {
                    return Err(format!("low = {low} is above high = {high}"));
                }
                Compare::Range { low, high }
            }
            "at_least" => Compare::AtLeast,
            "at_most" => Compare::AtMost,
            "binomial" => Compare::Binomial {
                sigmas: positive("sigmas")?,
                n: Expr::parse(
                    o.get("n")
                        .ok_or("expected \"n\": the trials behind dynasim's value")?,
                    names,
                    false,
                )?,
                paper_n: o
                    .get("paper_n")
                    .map(|p| Expr::parse(p, names, false))
                    .transpose()?,
            },
            _ => Compare::Order {
                direction: match o.get("direction").and_then(Value::as_str) {
                    Some("increasing") => Direction::Increasing,
                    Some("decreasing") => Direction::Decreasing,
                    _ => {
                        return Err(
                            "expected \"direction\": \"increasing\" or \"decreasing\"".into()
                        );
                    }
                },
                sigmas: o
                    .get("sigmas")
                    .map_or(Ok(0.0), |_| num_field(o, "sigmas"))?
                    .max(0.0),
            },
        })
    }

    pub fn is_qualitative(&self) -> bool {
        matches!(self, Compare::Order { .. })
    }

    pub fn models(&self, into: &mut Vec<super::wars::Config>) {
        if let Compare::Binomial { n, paper_n, .. } = self {
            n.models(into);
            if let Some(p) = paper_n {
                p.models(into);
            }
        }
    }

    /// Judges dynasim's value against the paper's.
    pub fn judge(&self, paper: &Val, dynasim: &Val, data: &Data) -> Result<Judgement, String> {
        let p = || paper.as_f64().ok_or("the paper's value is not a number");
        let d = || dynasim.as_f64().ok_or("dynasim's value is not a number");
        let j = |agrees: bool, tolerance: String| Ok(Judgement { agrees, tolerance });
        match self {
            Compare::Relative { tolerance } => {
                let (p, d) = (p()?, d()?);
                j(
                    p != 0.0 && (d / p - 1.0).abs() <= *tolerance,
                    format!("±{}%", trim(tolerance * 100.0)),
                )
            }
            Compare::Absolute { tolerance } => j(
                (d()? - p()?).abs() <= *tolerance,
                format!("±{}", trim(*tolerance)),
            ),
            Compare::Factor { factor } => {
                let (p, d) = (p()?, d()?);
                let within = p > 0.0 && d > 0.0 && (d / p).max(p / d) <= *factor;
                j(within, format!("within a factor of {}", trim(*factor)))
            }
            Compare::Range { low, high } => {
                let d = d()?;
                j(
                    *low <= d && d <= *high,
                    format!("{} to {}", trim(*low), trim(*high)),
                )
            }
            Compare::AtLeast => j(d()? >= p()?, "at least the paper's".into()),
            Compare::AtMost => j(d()? <= p()?, "at most the paper's".into()),
            Compare::Binomial { sigmas, n, paper_n } => {
                binomial(*sigmas, n, paper_n.as_ref(), paper, dynasim, data)
            }
            Compare::Order { direction, sigmas } => order(*direction, *sigmas, dynasim),
        }
    }
}

fn binomial(
    sigmas: f64,
    n: &Expr,
    paper_n: Option<&Expr>,
    paper: &Val,
    dynasim: &Val,
    data: &Data,
) -> Result<Judgement, String> {
    // Lists of lists (one per run family) are taken in order, as one list.
    fn flat(v: &Val) -> Result<Vec<f64>, String> {
        match v {
            Val::List(items) => items
                .iter()
                .map(flat)
                .collect::<Result<Vec<_>, _>>()
                .map(|v| v.concat()),
            other => other
                .as_f64()
                .map(|x| vec![x])
                .ok_or_else(|| "not a number".into()),
        }
    }
    let (ps, ds) = (flat(paper)?, flat(dynasim)?);
    let ns = flat(&n.eval(data)?)?;
    let pns = paper_n
        .map(|e| e.eval(data).and_then(|v| flat(&v)))
        .transpose()?;
    let fits = |v: &[f64]| v.len() == 1 || v.len() == ds.len();
    if ps.len() != ds.len() || !fits(&ns) || pns.as_deref().is_some_and(|v| !fits(v)) {
        return Err(format!(
            "{} paper values, {} of dynasim's, {} counts, {} paper counts (counts: one, or one per value)",
            ps.len(),
            ds.len(),
            ns.len(),
            pns.as_ref().map_or(0, Vec::len)
        ));
    }
    let pick = |v: &[f64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
    let mut worst: f64 = 0.0;
    let mut widest: f64 = 0.0;
    for i in 0..ds.len() {
        let (p, d, n) = (ps[i], ds[i], pick(&ns, i));
        if !(0.0..=1.0).contains(&p) || n < 1.0 {
            return Err(format!(
                "binomial: p = {p} must be a probability and n = {n} at least 1"
            ));
        }
        let paper_n = pns.as_ref().map(|v| pick(v, i).max(1.0));
        let inv = 1.0 / n + paper_n.map_or(0.0, |m| 1.0 / m);
        // Two samples: the pooled proportion (the two-proportion z-test); one sample (the
        // paper's value exact): the paper's proportion.
        let q = paper_n.map_or(p, |m| (d * n + p * m) / (n + m));
        // A proportion of exactly 0 or 1 still has a sampling error of about one trial.
        let se = (q * (1.0 - q) * inv).sqrt().max(inv / 2.0);
        worst = worst.max((d - p).abs() / se);
        widest = widest.max(sigmas * se);
    }
    let counts = |v: &[f64]| {
        if v.len() == 1 {
            crate::report::format::count(v[0] as u64)
        } else {
            "per point".into()
        }
    };
    let mut text = format!("{}σ", trim(sigmas));
    if ds.len() == 1 {
        text.push_str(&format!(" = ±{} (n = {}", trim(widest), counts(&ns)));
    } else {
        text.push_str(&format!(
            " at each of {} points (largest |z| {}; n = {}",
            ds.len(),
            trim(worst),
            counts(&ns)
        ));
    }
    if let Some(v) = &pns {
        text.push_str(&format!("; paper n = {}", counts(v)));
    }
    text.push(')');
    Ok(Judgement {
        agrees: worst <= sigmas,
        tolerance: text,
    })
}

fn order(direction: Direction, sigmas: f64, dynasim: &Val) -> Result<Judgement, String> {
    let Val::List(items) = dynasim else {
        return Err("an ordering needs a list of dynasim's values".into());
    };
    if items.len() < 2 {
        return Err("an ordering needs at least two values".into());
    }
    let mut agrees = true;
    for pair in items.windows(2) {
        let (Val::Num { value: a, se: sa }, Val::Num { value: b, se: sb }) = (&pair[0], &pair[1])
        else {
            return Err("an ordering compares numbers".into());
        };
        let step = match direction {
            Direction::Increasing => b - a,
            Direction::Decreasing => a - b,
        };
        let (sa, sb) = (sa.unwrap_or(0.0), sb.unwrap_or(0.0));
        let noise = sigmas * (sa * sa + sb * sb).sqrt();
        agrees &= step > noise;
    }
    let word = match direction {
        Direction::Increasing => "increasing",
        Direction::Decreasing => "decreasing",
    };
    let tolerance = if sigmas > 0.0 {
        format!(
            "{word}, each step beyond {}σ of its difference",
            trim(sigmas)
        )
    } else {
        format!("strictly {word}")
    };
    Ok(Judgement { agrees, tolerance })
}

/// A number for prose: up to 4 significant digits, no trailing zeros.
pub fn trim(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (3 - crate::engine::math::log10(v.abs()).floor() as i32).clamp(0, 12) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The CI rule: rows that agreed in the baseline must still agree (a row that is gone
/// counts as no longer agreeing). Returns (regressions, improvements), each "id: was ->
/// now".
pub fn compare_verdicts(
    baseline: &[(String, Verdict)],
    now: &[(String, Verdict)],
) -> (Vec<String>, Vec<String>) {
    let mut regressions = Vec::new();
    let mut improvements = Vec::new();
    for (id, was) in baseline {
        let current = now.iter().find(|(i, _)| i == id).map(|(_, v)| *v);
        match current {
            None if was.agrees() => regressions.push(format!("{id}: {} -> missing", was.name())),
            Some(v) if was.agrees() && !v.agrees() => {
                regressions.push(format!("{id}: {} -> {}", was.name(), v.name()))
            }
            Some(v) if !was.agrees() && v.agrees() => {
                improvements.push(format!("{id}: {} -> {}", was.name(), v.name()))
            }
            _ => {}
        }
    }
    (regressions, improvements)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn judge(c: Value, paper: Val, dynasim: Val) -> Judgement {
        let reports = BTreeMap::new();
        let models = BTreeMap::new();
        let data = Data {
            reports: &reports,
            models: &models,
            settings: Default::default(),
        };
        Compare::parse(&c, &Names::default())
            .expect("valid")
            .judge(&paper, &dynasim, &data)
            .expect("judged")
    }

    #[test]
    fn quantitative_kinds_hold_their_bounds() {
        let rel = json!({"kind": "relative", "tolerance": 0.25});
        assert!(judge(rel.clone(), Val::num(2.0), Val::num(2.5)).agrees);
        assert!(!judge(rel, Val::num(2.0), Val::num(2.51)).agrees);
        let factor = json!({"kind": "factor", "factor": 3.1623});
        assert!(judge(factor.clone(), Val::num(1e-5), Val::num(3e-5)).agrees);
        assert!(!judge(factor.clone(), Val::num(1e-5), Val::num(4e-5)).agrees);
        assert!(
            !judge(factor, Val::num(1e-5), Val::num(0.0)).agrees,
            "zero is no order of magnitude"
        );
        let range = json!({"kind": "range", "low": 3.9, "high": 6.3});
        assert!(judge(range.clone(), Val::num(5.0), Val::num(4.5)).agrees);
        assert!(!judge(range, Val::num(5.0), Val::num(6.4)).agrees);
        assert!(
            judge(
                json!({"kind": "at_least"}),
                Val::num(0.999995),
                Val::num(1.0)
            )
            .agrees
        );
        assert!(!judge(json!({"kind": "at_most"}), Val::num(0.0), Val::num(1.0)).agrees);
    }

    #[test]
    fn binomial_tolerance_follows_the_counts() {
        let c = json!({"kind": "binomial", "sigmas": 3, "n": 100000, "paper_n": 100000});
        // Pooled q = 0.9988: sqrt(0.0012 x 0.9988 x 2e-5) = 1.55e-4, 3 sigma = 4.6e-4.
        assert!(judge(c.clone(), Val::num(0.999), Val::num(0.99855)).agrees);
        assert!(!judge(c.clone(), Val::num(0.999), Val::num(0.9985)).agrees);
        let j = judge(c, Val::num(0.999), Val::num(0.999));
        assert!(j.tolerance.contains("n = 100,000"), "{}", j.tolerance);
        let curve = json!({"kind": "binomial", "sigmas": 4, "n": 10000});
        let ps = Val::List(vec![Val::num(0.5), Val::num(0.9)]);
        assert!(
            judge(
                curve.clone(),
                ps.clone(),
                Val::List(vec![Val::num(0.51), Val::num(0.905)])
            )
            .agrees
        );
        assert!(!judge(curve, ps, Val::List(vec![Val::num(0.51), Val::num(0.92)])).agrees);
    }

    #[test]
    fn orderings_need_steps_beyond_the_noise() {
        let c = json!({"kind": "order", "direction": "decreasing", "sigmas": 2});
        let with_se = |v: f64, se: f64| Val::Num {
            value: v,
            se: Some(se),
        };
        assert!(
            judge(
                c.clone(),
                Val::Text("3 > 1 > 2".into()),
                Val::List(vec![with_se(0.9, 0.01), with_se(0.8, 0.01)])
            )
            .agrees
        );
        // A gap of 0.02 with standard errors of 0.01 each is 1.4σ: a tie.
        assert!(
            !judge(
                c.clone(),
                Val::Text("".into()),
                Val::List(vec![with_se(0.82, 0.01), with_se(0.8, 0.01)])
            )
            .agrees
        );
        assert!(
            !judge(
                c,
                Val::Text("".into()),
                Val::List(vec![Val::num(0.8), Val::num(0.9)])
            )
            .agrees
        );
        let bad = Compare::parse(
            &json!({"kind": "order", "direction": "sideways"}),
            &Names::default(),
        );
        assert!(bad.is_err());
    }

    #[test]
    fn ci_fails_only_on_rows_that_stopped_agreeing() {
        use Verdict::*;
        let base = vec![
            ("a".to_string(), Agrees),
            ("b".to_string(), Differs),
            ("c".to_string(), QualitativeAgrees),
            ("d".to_string(), Agrees),
        ];
        let now = vec![
            ("a".to_string(), Differs),
            ("b".to_string(), Agrees),
            ("c".to_string(), QualitativeAgrees),
        ];
        let (regressions, improvements) = compare_verdicts(&base, &now);
        assert_eq!(
            regressions,
            ["a: agrees -> differs", "d: agrees -> missing"]
        );
        assert_eq!(improvements, ["b: differs -> agrees"]);
        let (none, _) = compare_verdicts(&base[1..3], &now);
        assert!(none.is_empty());
    }

    #[test]
    fn tolerance_numbers_read_well() {
        assert_eq!(trim(0.25 * 100.0), "25");
        assert_eq!(trim(0.000424264), "0.0004243");
        assert_eq!(trim(3.1623), "3.162");
        assert_eq!(trim(1364.0), "1364");
    }
}
