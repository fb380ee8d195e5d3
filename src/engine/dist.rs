//! Latency distributions: the scenario's description (`Distribution`, serde) and the
//! compiled sampler. Every sampler is written here on top of uniform bits, so the numbers a
//! seed produces depend only on this file, not on a crate's algorithm choices.

use super::math;
use super::rng::{SimRng, unit_f64};
use serde::{Deserialize, Serialize};

/// A distribution of milliseconds, as written in scenario files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    Constant(f64),
    Uniform {
        low: f64,
        high: f64,
    },
    Exponential {
        mean: f64,
    },
    /// Normal, truncated at zero (negative draws become 0).
    Normal {
        mean: f64,
        stddev: f64,
    },
    Lognormal {
        median: f64,
        sigma: f64,
    },
    Pareto {
        scale: f64,
        shape: f64,
    },
    Mixture(Vec<MixturePart>),
    /// (quantile, value) points; linear interpolation between them.
    Empirical(Vec<[f64; 2]>),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MixturePart {
    pub weight: f64,
    pub dist: Distribution,
}

impl Distribution {
    /// The kinds a scenario names, each the one key of a distribution's object.
    pub const KINDS: [&str; 8] = [
        "constant",
        "uniform",
        "exponential",
        "normal",
        "lognormal",
        "pareto",
        "mixture",
        "empirical",
    ];

    /// Checks parameters; returns a description of what is wrong and what is allowed.
    pub fn check(&self) -> Result<(), String> {
        let finite_nonneg = |name: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(format!(
                    "{name} = {v} is not allowed; it must be a finite number >= 0"
                ))
            }
        };
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!(
                    "{name} = {v} is not allowed; it must be a finite number > 0"
                ))
            }
        };
        match self {
            Distribution::Constant(v) => finite_nonneg("constant", *v),
            Distribution::Uniform { low, high } => {
                finite_nonneg("low", *low)?;
                finite_nonneg("high", *high)?;
                if low > high {
                    return Err(format!(
                        "low = {low} is above high = {high}; need low <= high"
                    ));
                }
                Ok(())
            }
            Distribution::Exponential { mean } => positive("mean", *mean),
            Distribution::Normal { mean, stddev } => {
                finite_nonneg("mean", *mean)?;
                finite_nonneg("stddev", *stddev)
            }
            Distribution::Lognormal { median, sigma } => {
                positive("median", *median)?;
                finite_nonneg("sigma", *sigma)
            }
            Distribution::Pareto { scale, shape } => {
                positive("scale", *scale)?;
                positive("shape", *shape)
            }
            Distribution::Mixture(parts) => {
                if parts.is_empty() {
                    return Err("mixture has no parts; give at least one {weight, dist}".into());
                }
                let mut total = 0.0;
                for (i, p) in parts.iter().enumerate() {
                    positive(&format!("mixture[{i}].weight"), p.weight)?;
                    total += p.weight;
                    p.dist
                        .check()
                        .map_err(|e| format!("mixture[{i}].dist: {e}"))?;
                }
                if (total - 1.0).abs() > 1e-6 {
                    return Err(format!(
                        "mixture weights sum to {total}; they must sum to 1"
                    ));
                }
                Ok(())
            }
            Distribution::Empirical(points) => {
                if points.len() < 2 {
                    return Err("empirical needs at least two [quantile, value] points".into());
                }
                let mut prev = [f64::NEG_INFINITY, f64::NEG_INFINITY];
                for (i, [q, v]) in points.iter().enumerate() {
                    if !(q.is_finite() && (0.0..=1.0).contains(q)) {
                        return Err(format!("empirical[{i}] quantile {q} is outside [0, 1]"));
                    }
                    finite_nonneg(&format!("empirical[{i}] value"), *v)?;
                    if *q < prev[0] || *v < prev[1] {
                        return Err(format!(
                            "empirical[{i}] = [{q}, {v}] goes backwards; quantiles and values must not decrease"
                        ));
                    }
                    prev = [*q, *v];
                }
                if points[0][0] != 0.0 || points[points.len() - 1][0] != 1.0 {
                    return Err("empirical quantiles must start at 0 and end at 1".into());
                }
                Ok(())
            }
        }
    }

    /// The distribution's mean in ms, where it has a simple closed form (used for reports
    /// and tests; `None` for mixtures containing a heavy tail without a mean).
    pub fn mean(&self) -> Option<f64> {
        match self {
            Distribution::Constant(v) => Some(*v),
            Distribution::Uniform { low, high } => Some((low + high) / 2.0),
            Distribution::Exponential { mean } => Some(*mean),
            Distribution::Normal { .. } => None,
            Distribution::Lognormal { median, sigma } => {
                Some(median * math::exp(sigma * sigma / 2.0))
            }
            Distribution::Pareto { scale, shape } => {
                (*shape > 1.0).then(|| shape * scale / (shape - 1.0))
            }
            Distribution::Mixture(parts) => parts
                .iter()
                .map(|p| p.dist.mean().map(|m| m * p.weight))
                .sum(),
            Distribution::Empirical(points) => Some(
                points
                    .windows(2)
                    .map(|w| (w[1][0] - w[0][0]) * (w[0][1] + w[1][1]) / 2.0)
                    .sum(),
            ),
        }
    }
}

/// A compiled, ready-to-draw distribution of milliseconds.
#[derive(Clone, Debug)]
pub enum Sampler {
    Constant(f64),
    Uniform {
        low: f64,
        width: f64,
    },
    Exponential {
        mean: f64,
    },
    Normal {
        mean: f64,
        stddev: f64,
    },
    Lognormal {
        mu: f64,
        sigma: f64,
    },
    Pareto {
        scale: f64,
        inv_shape: f64,
    },
    Mixture {
        cumulative: Vec<f64>,
        parts: Vec<Sampler>,
    },
    Empirical(Vec<[f64; 2]>),
}

impl Sampler {
    /// Compiles a checked distribution. Call `Distribution::check` first; unchecked
    /// parameters give meaningless (but never panicking) draws.
    pub fn new(d: &Distribution) -> Sampler {
        match d {
            Distribution::Constant(v) => Sampler::Constant(*v),
            Distribution::Uniform { low, high } => Sampler::Uniform {
                low: *low,
                width: high - low,
            },
            Distribution::Exponential { mean } => Sampler::Exponential { mean: *mean },
            Distribution::Normal { mean, stddev } => Sampler::Normal {
                mean: *mean,
                stddev: *stddev,
            },
            Distribution::Lognormal { median, sigma } => Sampler::Lognormal {
                mu: math::ln(*median),
                sigma: *sigma,
            },
            Distribution::Pareto { scale, shape } => Sampler::Pareto {
                scale: *scale,
                inv_shape: 1.0 / shape,
            },
            Distribution::Mixture(parts) => {
                let total: f64 = parts.iter().map(|p| p.weight).sum();
                let mut acc = 0.0;
                let cumulative = parts
                    .iter()
                    .map(|p| {
                        acc += p.weight / total;
                        acc
                    })
                    .collect();
                Sampler::Mixture {
                    cumulative,
                    parts: parts.iter().map(|p| Sampler::new(&p.dist)).collect(),
                }
            }
            Distribution::Empirical(points) => Sampler::Empirical(points.clone()),
        }
    }

    /// Whether every draw is exactly zero (lets callers skip the draw on hot paths).
    pub fn is_zero(&self) -> bool {
        matches!(self, Sampler::Constant(v) if *v == 0.0)
    }

    /// One draw in milliseconds, never negative.
    pub fn sample_ms(&self, rng: &mut SimRng) -> f64 {
        let x = match self {
            Sampler::Constant(v) => *v,
            Sampler::Uniform { low, width } => low + width * unit_f64(rng),
            Sampler::Exponential { mean } => exponential(rng, *mean),
            Sampler::Normal { mean, stddev } => mean + stddev * standard_normal(rng),
            Sampler::Lognormal { mu, sigma } => math::exp(mu + sigma * standard_normal(rng)),
            Sampler::Pareto { scale, inv_shape } => {
                // 1 - u is in (0, 1], so the power is finite.
                scale / math::powf(1.0 - unit_f64(rng), *inv_shape)
            }
            Sampler::Mixture { cumulative, parts } => {
                let u = unit_f64(rng);
                let i = cumulative.partition_point(|c| *c <= u).min(parts.len() - 1);
                parts[i].sample_ms(rng)
            }
            Sampler::Empirical(points) => interpolate_quantile(points, unit_f64(rng)),
        };
        if x.is_finite() { x.max(0.0) } else { 0.0 }
    }
}

/// A standard normal draw by Marsaglia and Tsang's ziggurat: 99% of draws cost one
/// `next_u64`, a table look-up and a compare, where Box-Muller paid a logarithm, a square
/// root and a cosine on every draw (the network and disk samplers draw once per message).
fn standard_normal(rng: &mut SimRng) -> f64 {
    use rand::Rng;
    let z = normal_ziggurat();
    loop {
        let bits = rng.next_u64();
        // Bit 8 is the sign; `Ziggurat::step` takes bits 0-7 and the top 53.
        let sign = if bits & 0x100 == 0 { 1.0 } else { -1.0 };
        match z.step(bits, rng, |x| math::exp(-0.5 * x * x)) {
            Step::Accept(x) => return sign * x,
            Step::Tail => return sign * normal_tail(rng, z.x[1]),
            Step::Reject => {}
        }
    }
}

/// An exponential draw with mean 1 by Marsaglia and Tsang's ziggurat: 98.9% of draws cost
/// one `next_u64`, a table look-up and a compare, where inverting the distribution paid a
/// logarithm on every draw (exponential network legs draw once per message: the logarithm
/// was 2.4% of the staleness-probe benchmark's instructions).
pub fn standard_exponential(rng: &mut SimRng) -> f64 {
    use rand::Rng;
    let z = exponential_ziggurat();
    loop {
        match z.step(rng.next_u64(), rng, |x| math::exp(-x)) {
            Step::Accept(x) => return x,
            // The exponential has no memory: beyond R it is R plus a fresh draw.
            Step::Tail => return z.x[1] - math::ln(1.0 - unit_f64(rng)),
            Step::Reject => {}
        }
    }
}

/// An exponential draw with mean `mean`.
pub fn exponential(rng: &mut SimRng, mean: f64) -> f64 {
    mean * standard_exponential(rng)
}

/// Layers of a ziggurat under a decreasing density f on x >= 0, f(0) = 1: layer i spans
/// [0, x[i]] horizontally and [f[i], f[i+1]] vertically; every layer has area `V`. Layer 0
/// is the strip under f(R) together with the tail beyond R, given the width V / f(R).
struct Ziggurat {
    x: [f64; ZIGGURAT_LAYERS + 1],
    f: [f64; ZIGGURAT_LAYERS + 1],
}

/// What one try of `Ziggurat::step` gave.
enum Step {
    Accept(f64),
    /// The draw fell in the base strip beyond R: the caller draws from the tail.
    Tail,
    Reject,
}

const ZIGGURAT_LAYERS: usize = 256;
/// Where the tail starts, and each layer's area, for 256 layers (Marsaglia & Tsang 2000):
/// the normal density exp(-x^2/2) and the exponential exp(-x).
const NORMAL_R: f64 = 3.654_152_885_361_009;
const NORMAL_V: f64 = 0.004_928_673_233_99;
const EXPONENTIAL_R: f64 = 7.697_117_470_131_05;
const EXPONENTIAL_V: f64 = 0.003_949_659_822_581_557;

impl Ziggurat {
    /// The layers for `density` and its inverse, from the base up.
    fn build(r: f64, v: f64, density: impl Fn(f64) -> f64, inverse: impl Fn(f64) -> f64) -> Self {
        let mut x = [0.0; ZIGGURAT_LAYERS + 1];
        x[0] = v / density(r);
        x[1] = r;
        for i in 1..ZIGGURAT_LAYERS - 1 {
            x[i + 1] = inverse(density(x[i]) + v / x[i]);
        }
        x[ZIGGURAT_LAYERS] = 0.0;
        let mut f = x.map(density);
        f[0] = 0.0;
        Ziggurat { x, f }
    }

    /// One try with 64 random bits: the low 8 pick the layer, the top 53 the position.
    #[inline]
    fn step(&self, bits: u64, rng: &mut SimRng, density: impl Fn(f64) -> f64) -> Step {
        let layer = (bits & 0xff) as usize;
        let u = (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        let x = u * self.x[layer];
        if x < self.x[layer + 1] {
            return Step::Accept(x); // inside the rectangle that lies wholly under the curve
        }
        if layer == 0 {
            return Step::Tail;
        }
        let y = self.f[layer] + unit_f64(rng) * (self.f[layer + 1] - self.f[layer]);
        if y < density(x) {
            Step::Accept(x)
        } else {
            Step::Reject
        }
    }
}

fn normal_ziggurat() -> &'static Ziggurat {
    static TABLES: std::sync::OnceLock<Ziggurat> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        Ziggurat::build(
            NORMAL_R,
            NORMAL_V,
            |x| math::exp(-0.5 * x * x),
            |y| (-2.0 * math::ln(y)).sqrt(),
        )
    })
}

fn exponential_ziggurat() -> &'static Ziggurat {
    static TABLES: std::sync::OnceLock<Ziggurat> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        Ziggurat::build(
            EXPONENTIAL_R,
            EXPONENTIAL_V,
            |x| math::exp(-x),
            |y| -math::ln(y),
        )
    })
}

/// A draw from the normal tail beyond `r` (Marsaglia 1964).
fn normal_tail(rng: &mut SimRng, r: f64) -> f64 {
    loop {
        let a = -math::ln(1.0 - unit_f64(rng)) / r;
        let b = -math::ln(1.0 - unit_f64(rng));
        if 2.0 * b > a * a {
            return r + a;
        }
    }
}

fn interpolate_quantile(points: &[[f64; 2]], u: f64) -> f64 {
    let i = points.partition_point(|p| p[0] <= u);
    if i == 0 {
        return points[0][1];
    }
    if i >= points.len() {
        return points[points.len() - 1][1];
    }
    let [q0, v0] = points[i - 1];
    let [q1, v1] = points[i];
    if q1 <= q0 {
        v1
    } else {
        v0 + (v1 - v0) * (u - q0) / (q1 - q0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::{RngStreams, Stream};

    fn draws(d: &Distribution, n: usize) -> Vec<f64> {
        d.check().expect("valid distribution");
        let s = Sampler::new(d);
        let mut rng = RngStreams::new(42).stream(Stream::Test, 1);
        let mut v: Vec<f64> = (0..n).map(|_| s.sample_ms(&mut rng)).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    fn mean(v: &[f64]) -> f64 {
        v.iter().sum::<f64>() / v.len() as f64
    }

    fn quantile(sorted: &[f64], q: f64) -> f64 {
        sorted[((sorted.len() - 1) as f64 * q).round() as usize]
    }

    fn close(actual: f64, expected: f64, rel: f64) {
        assert!(
            (actual - expected).abs() <= rel * expected.abs().max(1e-9),
            "actual {actual}, expected {expected} (±{:.1}%)",
            rel * 100.0
        );
    }

    const N: usize = 200_000;

    #[test]
    fn constant_and_uniform() {
        assert!(
            draws(&Distribution::Constant(3.0), 100)
                .iter()
                .all(|x| *x == 3.0)
        );
        let v = draws(
            &Distribution::Uniform {
                low: 1.0,
                high: 5.0,
            },
            N,
        );
        close(mean(&v), 3.0, 0.01);
        assert!(v[0] >= 1.0 && v[N - 1] < 5.0);
        close(quantile(&v, 0.25), 2.0, 0.02);
    }

    #[test]
    fn exponential_mean_and_median() {
        let v = draws(&Distribution::Exponential { mean: 2.0 }, N);
        close(mean(&v), 2.0, 0.015);
        close(quantile(&v, 0.5), 2.0 * std::f64::consts::LN_2, 0.02);
    }

    #[test]
    fn normal_truncated_at_zero() {
        let v = draws(
            &Distribution::Normal {
                mean: 5.0,
                stddev: 1.0,
            },
            N,
        );
        close(mean(&v), 5.0, 0.01);
        close(quantile(&v, 0.8413), 6.0, 0.02);
        let w = draws(
            &Distribution::Normal {
                mean: 0.0,
                stddev: 1.0,
            },
            N,
        );
        assert!(w[0] >= 0.0);
        close(quantile(&w, 0.25), 0.0, 0.0); // half the mass sits at the truncation point
    }

    #[test]
    fn ziggurat_layers_close_at_the_top_with_equal_areas() {
        for (z, v) in [
            (normal_ziggurat(), NORMAL_V),
            (exponential_ziggurat(), EXPONENTIAL_V),
        ] {
            // The recursion must land on the peak: the top layer's area closes at f(0) = 1.
            let top = ZIGGURAT_LAYERS - 1;
            close(z.f[top] + v / z.x[top], 1.0, 1e-9);
            for i in 1..ZIGGURAT_LAYERS {
                assert!(z.x[i + 1] < z.x[i], "layers shrink upwards at {i}");
                close(z.x[i] * (z.f[i + 1] - z.f[i]), v, 1e-8);
            }
            // The base strip and the tail beyond R hold one layer's area too.
            close(z.x[0] * z.f[1], v, 1e-12);
        }
    }

    #[test]
    fn standard_exponential_matches_its_quantiles_and_tail() {
        let mut rng = RngStreams::new(6).stream(Stream::Test, 3);
        let n = 400_000;
        let mut v: Vec<f64> = (0..n).map(|_| standard_exponential(&mut rng)).collect();
        v.sort_by(f64::total_cmp);
        let near = |actual: f64, expected: f64, tol: f64| {
            assert!((actual - expected).abs() < tol, "{actual} vs {expected}");
        };
        near(mean(&v), 1.0, 0.01);
        near(v.iter().map(|x| x * x).sum::<f64>() / n as f64, 2.0, 0.03);
        assert!(v[0] >= 0.0);
        // Quantiles -ln(1 - p) at 1%, 10%, 50%, 90% and 99%.
        for p in [0.01, 0.1, 0.5, 0.9, 0.99] {
            near(quantile(&v, p), -(1.0 - p).ln(), 0.02 * (1.0 + p * 5.0));
        }
        // Beyond the ziggurat's base (x > 7.697) lies e^-7.697 = 4.54e-4 of the mass, and
        // the tail keeps the exponential's shape: its mean excess is 1.
        let tail: Vec<f64> = v.iter().filter(|x| **x > EXPONENTIAL_R).copied().collect();
        let share = tail.len() as f64 / n as f64;
        assert!((3.0e-4..6.5e-4).contains(&share), "tail fraction {share}");
        let excess = tail.iter().map(|x| x - EXPONENTIAL_R).sum::<f64>() / tail.len() as f64;
        assert!((0.75..1.3).contains(&excess), "mean excess {excess}");
    }

    #[test]
    fn standard_normal_matches_its_quantiles_and_tails() {
        let mut rng = RngStreams::new(5).stream(Stream::Test, 2);
        let n = 400_000;
        let mut v: Vec<f64> = (0..n).map(|_| standard_normal(&mut rng)).collect();
        v.sort_by(f64::total_cmp);
        let near = |actual: f64, expected: f64| {
            assert!((actual - expected).abs() < 0.01, "{actual} vs {expected}");
        };
        near(mean(&v), 0.0);
        near(v.iter().map(|x| x * x).sum::<f64>() / n as f64, 1.0);
        // Quantiles of N(0,1) at 2.5%, 16%, 50%, 84% and 97.5%.
        for (p, q) in [
            (0.025, -1.96),
            (0.1587, -1.0),
            (0.5, 0.0),
            (0.8413, 1.0),
            (0.975, 1.96),
        ] {
            near(quantile(&v, p), q);
        }
        // The tail beyond the ziggurat's base (|x| > 3.654) holds 2.58e-4 of the mass.
        let tail = v.iter().filter(|x| x.abs() > NORMAL_R).count() as f64 / n as f64;
        assert!((1.5e-4..4.0e-4).contains(&tail), "tail fraction {tail}");
        close(quantile(&v, 0.999), 3.09, 0.1);
    }

    #[test]
    fn lognormal_median_and_mean() {
        let d = Distribution::Lognormal {
            median: 1.0,
            sigma: 0.5,
        };
        let v = draws(&d, N);
        close(quantile(&v, 0.5), 1.0, 0.02);
        close(mean(&v), d.mean().unwrap_or(0.0), 0.02);
    }

    #[test]
    fn pareto_mean_and_minimum() {
        let d = Distribution::Pareto {
            scale: 0.235,
            shape: 10.0,
        };
        let v = draws(&d, N);
        assert!(v[0] >= 0.235);
        close(mean(&v), d.mean().unwrap_or(0.0), 0.01);
    }

    #[test]
    fn mixture_weights_its_parts() {
        let d = Distribution::Mixture(vec![
            MixturePart {
                weight: 0.9,
                dist: Distribution::Constant(1.0),
            },
            MixturePart {
                weight: 0.1,
                dist: Distribution::Constant(100.0),
            },
        ]);
        let v = draws(&d, N);
        let slow = v.iter().filter(|x| **x == 100.0).count() as f64 / N as f64;
        close(slow, 0.1, 0.03);
        close(mean(&v), 10.9, 0.03);
    }

    #[test]
    fn empirical_interpolates_quantiles() {
        let d = Distribution::Empirical(vec![[0.0, 0.1], [0.5, 0.4], [0.99, 3.0], [1.0, 20.0]]);
        let v = draws(&d, N);
        // The CDF at each breakpoint equals its quantile.
        let cdf = |x: f64| v.partition_point(|d| *d <= x) as f64 / N as f64;
        assert!((cdf(0.4) - 0.5).abs() < 0.005, "{}", cdf(0.4));
        assert!((cdf(3.0) - 0.99).abs() < 0.002, "{}", cdf(3.0));
        close(quantile(&v, 0.25), 0.25, 0.03);
        assert!(v[N - 1] <= 20.0 && v[0] >= 0.1);
    }

    #[test]
    fn check_names_bad_parameters() {
        let bad = [
            Distribution::Uniform {
                low: 5.0,
                high: 1.0,
            },
            Distribution::Exponential { mean: 0.0 },
            Distribution::Constant(-1.0),
            Distribution::Mixture(vec![MixturePart {
                weight: 0.5,
                dist: Distribution::Constant(1.0),
            }]),
            Distribution::Empirical(vec![[0.0, 2.0], [1.0, 1.0]]),
            Distribution::Lognormal {
                median: f64::NAN,
                sigma: 0.1,
            },
        ];
        for d in bad {
            assert!(d.check().is_err(), "{d:?} should be rejected");
        }
    }
}
