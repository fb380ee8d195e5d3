//! Expressions: how a row's number is computed from the runs' report.json documents (and
//! from the WARS model). Written in JSON:
//!
//! - a number, or (on the paper's side) a text such as `"3 > 1 > 2"`;
//! - `{"run": NAME, "path": "latency_ms.read.p999"}`: a number of a run's report;
//! - `{"ratio": [A, B]}`, `{"difference": [A, B]}`, `{"sum": [..]}`, `{"product": [..]}`,
//!   `{"max": [..]}`, `{"min": [..]}`, `{"one_minus": A}`;
//! - `{"mean_for": {"var": V, "values": [..], "of": E}}`: the mean of E over the values
//!   (`{V}` replaced in E), with its standard error; `{"list_for": ...}` the list itself;
//! - `{"mean_over": {"run": R, "array": "load_balance.windows", "field": F}}`: the mean of
//!   a field over an array of a report (null entries skipped);
//! - `{"correlation": {"run": R, "array": "timeline", "x": F, "y": G}}`: Pearson's r of
//!   two fields over an array's entries where both are numbers;
//! - `{"wars": {"fit": F, "n": N, "r": R, "w": W, "p_consistent_at_ms": T}}` (or
//!   `"read_percentile": P`, `"write_percentile": P`, `"t_visibility_at": P`): the WARS
//!   model of `wars.rs`;
//! - a list `[A, B, ...]`: a list (an ordering compares one).

use super::template::{substitute, values_of};
use super::wars::{Config, Fit, ModelSettings, Outcome};
use serde_json::Value;
use std::collections::BTreeMap;

/// What an expression may name.
#[derive(Clone, Debug, Default)]
pub struct Names {
    pub runs: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Quantity {
    PConsistentAt(f64),
    ReadPercentile(f64),
    WritePercentile(f64),
    TVisibilityAt(f64),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Num(f64),
    Text(String),
    List(Vec<Expr>),
    Get {
        run: String,
        path: String,
    },
    Ratio(Box<Expr>, Box<Expr>),
    Difference(Box<Expr>, Box<Expr>),
    Sum(Vec<Expr>),
    Product(Vec<Expr>),
    Max(Vec<Expr>),
    Min(Vec<Expr>),
    OneMinus(Box<Expr>),
    Mean(Vec<Expr>),
    MeanOver {
        run: String,
        array: String,
        field: String,
    },
    Correlation {
        run: String,
        array: String,
        x: String,
        y: String,
    },
    Wars(Config, Quantity),
}

/// A computed value: a number with its standard error when it is a mean of several
/// runs, a list, or a text.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Num { value: f64, se: Option<f64> },
    List(Vec<Val>),
    Text(String),
}

impl Val {
    pub fn num(value: f64) -> Val {
        Val::Num { value, se: None }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Num { value, .. } => Some(*value),
            _ => None,
        }
    }

    /// As JSON for reproduce.json.
    pub fn to_json(&self) -> Value {
        match self {
            Val::Num { value, .. } => number_json(*value),
            Val::List(items) => Value::Array(items.iter().map(Val::to_json).collect()),
            Val::Text(t) => Value::String(t.clone()),
        }
    }
}

/// A number rounded to 6 significant digits, so reproduce.json reads well and does not
/// move in the last bit of a float.
pub fn number_json(v: f64) -> Value {
    if !v.is_finite() {
        return Value::Null;
    }
    let rounded: f64 = format!("{v:.5e}").parse().unwrap_or(v);
    serde_json::json!(rounded)
}

/// The data expressions are evaluated against.
pub struct Data<'a> {
    pub reports: &'a BTreeMap<String, Value>,
    /// Every WARS outcome, keyed by its configuration and the settings (seed, trials) of
    /// the experiment that asked for it.
    pub models: &'a BTreeMap<(Config, ModelSettings), Outcome>,
    /// The settings of the experiment being evaluated.
    pub settings: ModelSettings,
}

fn one_key(o: &serde_json::Map<String, Value>) -> Option<(&str, &Value)> {
    if o.len() == 1 {
        o.iter().next().map(|(k, v)| (k.as_str(), v))
    } else {
        None
    }
}

impl Expr {
    /// Parses an expression; `text_ok` allows a text (the paper's side of an ordering).
    pub fn parse(v: &Value, names: &Names, text_ok: bool) -> Result<Expr, String> {
        match v {
            Value::Number(n) => n
                .as_f64()
                .map(Expr::Num)
                .ok_or_else(|| format!("{n} is not a number")),
            Value::String(s) if text_ok => Ok(Expr::Text(s.clone())),
            Value::String(s) => Err(format!(
                "{s:?}: a text is allowed only as the paper's value"
            )),
            Value::Array(items) => Ok(Expr::List(
                items
                    .iter()
                    .map(|i| Expr::parse(i, names, false))
                    .collect::<Result<_, _>>()?,
            )),
            Value::Object(o) if o.contains_key("run") && o.contains_key("path") => {
                let run = str_field(o, "run")?;
                check_run(&run, names)?;
                only_fields(o, &["run", "path"])?;
                Ok(Expr::Get {
                    run,
                    path: str_field(o, "path")?,
                })
            }
            Value::Object(o) => match one_key(o) {
                Some((op, arg)) => Expr::parse_op(op, arg, names),
                None => Err(format!(
                    "{v}: expected one operation, e.g. {{\"ratio\": [A, B]}}, or {{\"run\": NAME, \"path\": P}}"
                )),
            },
            _ => Err(format!("{v} is not an expression")),
        }
    }

    fn parse_op(op: &str, arg: &Value, names: &Names) -> Result<Expr, String> {
        let list = |n: Option<usize>| -> Result<Vec<Expr>, String> {
            let items = arg
                .as_array()
                .ok_or_else(|| format!("{op}: expected a list"))?;
            if n.is_some_and(|n| items.len() != n) || items.is_empty() {
                return Err(format!(
                    "{op}: expected {} operands",
                    n.map_or("some".into(), |n| n.to_string())
                ));
            }
            items.iter().map(|i| Expr::parse(i, names, false)).collect()
        };
        let two = |f: fn(Box<Expr>, Box<Expr>) -> Expr| -> Result<Expr, String> {
            let mut l = list(Some(2))?;
            let b = l.pop().map(Box::new).ok_or("two operands")?;
            let a = l.pop().map(Box::new).ok_or("two operands")?;
            Ok(f(a, b))
        };
        match op {
            "ratio" => two(Expr::Ratio),
            "difference" => two(Expr::Difference),
            "sum" => Ok(Expr::Sum(list(None)?)),
            "product" => Ok(Expr::Product(list(None)?)),
            "max" => Ok(Expr::Max(list(None)?)),
            "min" => Ok(Expr::Min(list(None)?)),
            "one_minus" => Ok(Expr::OneMinus(Box::new(Expr::parse(arg, names, false)?))),
            "mean_for" => Ok(Expr::Mean(expand_for(arg, names)?)),
            "list_for" => Ok(Expr::List(expand_for(arg, names)?)),
            "mean_over" | "correlation" => parse_array_op(op, arg, names),
            "wars" => parse_wars(arg),
            _ => Err(format!(
                "unknown operation {op:?}; allowed: ratio, difference, sum, product, max, min, one_minus, mean_for, list_for, mean_over, correlation, wars"
            )),
        }
    }

    /// The WARS configurations the expression needs.
    pub fn models(&self, into: &mut Vec<Config>) {
        match self {
            Expr::Wars(c, _) => into.push(*c),
            Expr::List(v)
            | Expr::Sum(v)
            | Expr::Product(v)
            | Expr::Max(v)
            | Expr::Min(v)
            | Expr::Mean(v) => v.iter().for_each(|e| e.models(into)),
            Expr::Ratio(a, b) | Expr::Difference(a, b) => {
                a.models(into);
                b.models(into);
            }
            Expr::OneMinus(a) => a.models(into),
            _ => {}
        }
    }

    pub fn eval(&self, d: &Data) -> Result<Val, String> {
        let num = |e: &Expr| {
            e.eval(d)?
                .as_f64()
                .ok_or_else(|| "a list where a number is needed".to_string())
        };
        let nums = |v: &[Expr]| v.iter().map(num).collect::<Result<Vec<f64>, String>>();
        Ok(match self {
            Expr::Num(v) => Val::num(*v),
            Expr::Text(t) => Val::Text(t.clone()),
            Expr::List(v) => Val::List(v.iter().map(|e| e.eval(d)).collect::<Result<_, _>>()?),
            Expr::Get { run, path } => Val::num(lookup(d, run, path)?),
            Expr::Ratio(a, b) => {
                let (x, y) = (num(a)?, num(b)?);
                if y == 0.0 {
                    return Err("a ratio over zero".into());
                }
                Val::num(x / y)
            }
            Expr::Difference(a, b) => Val::num(num(a)? - num(b)?),
            Expr::Sum(v) => Val::num(nums(v)?.iter().sum()),
            Expr::Product(v) => Val::num(nums(v)?.iter().product()),
            Expr::Max(v) => Val::num(nums(v)?.into_iter().fold(f64::NEG_INFINITY, f64::max)),
            Expr::Min(v) => Val::num(nums(v)?.into_iter().fold(f64::INFINITY, f64::min)),
            Expr::OneMinus(a) => Val::num(1.0 - num(a)?),
            Expr::Mean(v) => mean_with_se(&nums(v)?),
            Expr::MeanOver { run, array, field } => {
                let xs: Vec<f64> = entries(d, run, array)?
                    .iter()
                    .filter_map(|e| e.get(field)?.as_f64())
                    .collect();
                if xs.is_empty() {
                    return Err(format!("run {run}: no {array}[].{field} to average"));
                }
                Val::num(xs.iter().sum::<f64>() / xs.len() as f64)
            }
            Expr::Correlation { run, array, x, y } => {
                let pairs: Vec<(f64, f64)> = entries(d, run, array)?
                    .iter()
                    .filter_map(|e| Some((e.get(x)?.as_f64()?, e.get(y)?.as_f64()?)))
                    .collect();
                Val::num(pearson(&pairs).ok_or_else(|| {
                    format!("run {run}: too few or constant {array}[] values to correlate")
                })?)
            }
            Expr::Wars(c, q) => {
                let m =
                    (d.models.get(&(*c, d.settings))).ok_or("the WARS model was not computed")?;
                Val::num(match q {
                    Quantity::PConsistentAt(t) => m.p_consistent(*t),
                    Quantity::ReadPercentile(p) => m.read_percentile_ms(*p),
                    Quantity::WritePercentile(p) => m.write_percentile_ms(*p),
                    Quantity::TVisibilityAt(p) => m.t_visibility_ms(*p),
                })
            }
        })
    }
}

fn str_field(o: &serde_json::Map<String, Value>, key: &str) -> Result<String, String> {
    o.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("expected \"{key}\": a text"))
}

fn only_fields(o: &serde_json::Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    match o.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "unknown field {k:?}; allowed: {}",
            allowed.join(", ")
        )),
        None => Ok(()),
    }
}

fn check_run(run: &str, names: &Names) -> Result<(), String> {
    if names.runs.iter().any(|r| r == run) {
        return Ok(());
    }
    let near = crate::scenario::nearest(run, names.runs.iter().map(String::as_str));
    Err(format!(
        "no run named {run:?}{}",
        near.map_or(String::new(), |n| format!(" (did you mean {n:?}?)"))
    ))
}

/// `{"var": V, "values": [...], "of": E}`: E once per value, `{V}` replaced.
fn expand_for(arg: &Value, names: &Names) -> Result<Vec<Expr>, String> {
    let o = arg
        .as_object()
        .ok_or("expected {\"var\", \"values\", \"of\"}")?;
    only_fields(o, &["var", "values", "of"])?;
    let var = str_field(o, "var")?;
    let values = values_of(o.get("values").ok_or("expected \"values\"")?)?;
    let of = o.get("of").ok_or("expected \"of\"")?;
    values
        .iter()
        .map(|v| {
            Expr::parse(
                &substitute(of, &BTreeMap::from([(var.clone(), v.clone())])),
                names,
                false,
            )
        })
        .collect()
}

fn parse_array_op(op: &str, arg: &Value, names: &Names) -> Result<Expr, String> {
    let o = arg
        .as_object()
        .ok_or_else(|| format!("{op}: expected an object"))?;
    let run = str_field(o, "run")?;
    check_run(&run, names)?;
    let array = str_field(o, "array")?;
    if op == "mean_over" {
        only_fields(o, &["run", "array", "field"])?;
        return Ok(Expr::MeanOver {
            run,
            array,
            field: str_field(o, "field")?,
        });
    }
    only_fields(o, &["run", "array", "x", "y"])?;
    Ok(Expr::Correlation {
        run,
        array,
        x: str_field(o, "x")?,
        y: str_field(o, "y")?,
    })
}

fn parse_wars(arg: &Value) -> Result<Expr, String> {
    let o = arg.as_object().ok_or("wars: expected an object")?;
    let quantities = [
        "p_consistent_at_ms",
        "read_percentile",
        "write_percentile",
        "t_visibility_at",
    ];
    let mut allowed = vec!["fit", "n", "r", "w"];
    allowed.extend(quantities);
    only_fields(o, &allowed)?;
    let fit_name = str_field(o, "fit")?;
    let fit = Fit::from_name(&fit_name).ok_or_else(|| {
        format!(
            "unknown fit {fit_name:?}; allowed: {}",
            Fit::ALL.map(Fit::name).join(", ")
        )
    })?;
    let int = |k: &str| {
        o.get(k)
            .and_then(Value::as_u64)
            .map(|v| v as usize)
            .ok_or_else(|| format!("wars: expected \"{k}\": a whole number"))
    };
    let config = Config {
        fit,
        n: int("n")?,
        r: int("r")?,
        w: int("w")?,
    };
    config.check()?;
    let given: Vec<(&str, f64)> = quantities
        .iter()
        .filter_map(|q| Some((*q, o.get(*q)?.as_f64()?)))
        .collect();
    let [(q, x)] = given[..] else {
        return Err(format!(
            "wars: expected exactly one number among {}",
            quantities.join(", ")
        ));
    };
    let quantity = match q {
        "p_consistent_at_ms" if x >= 0.0 => Quantity::PConsistentAt(x),
        "read_percentile" if (0.0..=100.0).contains(&x) => Quantity::ReadPercentile(x),
        "write_percentile" if (0.0..=100.0).contains(&x) => Quantity::WritePercentile(x),
        "t_visibility_at" if x > 0.0 && x <= 1.0 => Quantity::TVisibilityAt(x),
        _ => {
            return Err(format!(
                "wars: {q} = {x} is out of range (t >= 0 ms; percentiles 0 to 100; t_visibility_at a probability in (0, 1])"
            ));
        }
    };
    Ok(Expr::Wars(config, quantity))
}

/// A number at a dotted path (`a.b.3.c`) of a run's report.
fn lookup(d: &Data, run: &str, path: &str) -> Result<f64, String> {
    let doc = d
        .reports
        .get(run)
        .ok_or_else(|| format!("run {run} has no report"))?;
    match at_path(doc, path) {
        Some(Value::Number(n)) => n
            .as_f64()
            .ok_or_else(|| format!("run {run}: {path} is not a number")),
        Some(Value::Null) => Err(format!("run {run}: {path} is null (nothing to measure)")),
        Some(other) => Err(format!(
            "run {run}: {path} is {}, not a number",
            kind(other)
        )),
        None => Err(format!("run {run}: report.json has no {path}")),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "an object",
        Value::Array(_) => "a list",
        Value::String(_) => "a text",
        Value::Bool(_) => "a boolean",
        _ => "something else",
    }
}

pub fn at_path<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |node, part| match node {
        Value::Array(items) => items.get(part.parse::<usize>().ok()?),
        _ => node.get(part),
    })
}

fn entries<'a>(d: &'a Data, run: &str, array: &str) -> Result<&'a Vec<Value>, String> {
    let doc = d
        .reports
        .get(run)
        .ok_or_else(|| format!("run {run} has no report"))?;
    at_path(doc, array)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("run {run}: report.json has no list {array}"))
}

/// The mean and its standard error (sample standard deviation / sqrt(k)); no error for
/// a single value.
pub fn mean_with_se(xs: &[f64]) -> Val {
    let k = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / k;
    let se = (xs.len() > 1).then(|| {
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (k - 1.0);
        (var / k).sqrt()
    });
    Val::Num { value: mean, se }
}

/// Pearson's correlation; `None` with fewer than three pairs or a constant side.
pub fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.len() < 3 {
        return None;
    }
    let k = pairs.len() as f64;
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / k,
        pairs.iter().map(|p| p.1).sum::<f64>() / k,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names() -> Names {
        Names {
            runs: vec!["a".into(), "b".into(), "s1".into(), "s2".into()],
        }
    }

    fn eval(e: Value, reports: &BTreeMap<String, Value>) -> Result<Val, String> {
        let models = BTreeMap::new();
        Expr::parse(&e, &names(), false)?.eval(&Data {
            reports,
            models: &models,
            settings: ModelSettings::default(),
        })
    }

    fn reports() -> BTreeMap<String, Value> {
        BTreeMap::from([
            (
                "a".to_string(),
                json!({"latency_ms": {"read": {"p999": 30.0}}, "timeline": [{"reads": 1, "p": 2.0}, {"reads": 2, "p": 4.0}, {"reads": 3, "p": null}, {"reads": 4, "p": 8.0}]}),
            ),
            (
                "b".to_string(),
                json!({"latency_ms": {"read": {"p999": 10.0}}, "x": null}),
            ),
            ("s1".to_string(), json!({"e": 0.8})),
            ("s2".to_string(), json!({"e": 0.9})),
        ])
    }

    #[test]
    fn arithmetic_over_report_paths() {
        let r = reports();
        let ratio = json!({"ratio": [{"run": "a", "path": "latency_ms.read.p999"}, {"run": "b", "path": "latency_ms.read.p999"}]});
        assert_eq!(eval(ratio, &r), Ok(Val::num(3.0)));
        assert_eq!(eval(json!({"one_minus": 0.25}), &r), Ok(Val::num(0.75)));
        assert_eq!(eval(json!({"sum": [1, 2, 3]}), &r), Ok(Val::num(6.0)));
        assert_eq!(
            eval(json!({"run": "a", "path": "timeline.1.reads"}), &r),
            Ok(Val::num(2.0))
        );
    }

    #[test]
    fn means_carry_their_standard_error() {
        let r = reports();
        let m = eval(
            json!({"mean_for": {"var": "s", "values": [1, 2], "of": {"run": "s{s}", "path": "e"}}}),
            &r,
        );
        let Ok(Val::Num {
            value,
            se: Some(se),
        }) = m
        else {
            panic!("{m:?}")
        };
        assert!((value - 0.85).abs() < 1e-12 && (se - 0.05).abs() < 1e-12);
        let over = eval(
            json!({"mean_over": {"run": "a", "array": "timeline", "field": "p"}}),
            &r,
        );
        assert_eq!(over, Ok(Val::num(14.0 / 3.0)));
        let c = eval(
            json!({"correlation": {"run": "a", "array": "timeline", "x": "reads", "y": "p"}}),
            &r,
        );
        assert!(c.expect("three pairs").as_f64().is_some_and(|c| c > 0.98));
    }

    #[test]
    fn problems_are_named() {
        let r = reports();
        let missing = Expr::parse(&json!({"run": "c", "path": "x"}), &names(), false);
        assert!(missing.is_err_and(|e| e.contains("no run named \"c\"")));
        let null = eval(json!({"run": "b", "path": "x"}), &r);
        assert!(null.is_err_and(|e| e.contains("null")));
        let absent = eval(json!({"run": "b", "path": "nope.deeper"}), &r);
        assert!(absent.is_err_and(|e| e.contains("has no nope.deeper")));
        assert!(
            Expr::parse(&json!({"frobnicate": 1}), &names(), false)
                .is_err_and(|e| e.contains("allowed"))
        );
        assert!(Expr::parse(&json!("text"), &names(), false).is_err());
        assert!(Expr::parse(&json!({"wars": {"fit": "lnkd-ssd", "n": 3, "r": 4, "w": 1, "read_percentile": 99.9}}), &names(), false).is_err());
        assert!(eval(json!({"ratio": [1, 0]}), &r).is_err());
    }

    #[test]
    fn numbers_are_rounded_for_the_record() {
        assert_eq!(number_json(0.1 + 0.2), json!(0.3));
        assert_eq!(number_json(123456.789), json!(123457.0));
        assert_eq!(number_json(f64::NAN), Value::Null);
    }
}
