//! The WARS model of Bailis et al. (PBS, VLDB 2012, §4): a Monte Carlo of one write and
//! one read of a key on N replicas, independent of the simulator. For each replica it
//! draws W (the write reaching the replica), A (its acknowledgement), R (the read
//! reaching it) and S (the read's answer). The write commits when the W-th fastest
//! acknowledgement arrives (w_t, the W-th smallest W + A); a read sent t after the commit
//! returns after its R-th fastest answer (R + S), and is consistent when one of those R
//! replicas had the write before the read request reached it: w_t + t + R_i >= W_i.
//!
//! The latency fits are PBS Table 3's (as the authors' simulator draws them): mixtures of a
//! Pareto (scale x_m, shape α) and an exponential (rate λ per ms). WAN is LNKD-DISK with
//! one replica in the coordinator's datacenter and 75 ms added to each leg to and from the
//! others, the reader's and the writer's datacenters drawn independently.
//!
//! Sampling is written here (inverse CDFs through `engine::math`), not taken from the
//! simulator's samplers, so that the model checks them too. Seeded and deterministic:
//! the same seed and trials give the same numbers on every platform.

use crate::engine::math;
use crate::engine::rng::{SimRng, mix64, unit_f64};
use rand::SeedableRng;
use serde::Deserialize;

/// A published latency fit: which mixture each of W, A, R, S draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fit {
    /// LinkedIn Voldemort on SSDs: W = A = R = S.
    LnkdSsd,
    /// LinkedIn Voldemort on spinning disks: W its own fit, A = R = S as LNKD-SSD.
    LnkdDisk,
    /// Yammer's Riak: W its own fit, A = R = S another.
    Ymmr,
    /// LNKD-DISK across datacenters: 75 ms more on each leg to a remote replica.
    Wan,
}

impl Fit {
    pub const ALL: [Fit; 4] = [Fit::LnkdSsd, Fit::LnkdDisk, Fit::Ymmr, Fit::Wan];

    pub fn name(self) -> &'static str {
        match self {
            Fit::LnkdSsd => "lnkd-ssd",
            Fit::LnkdDisk => "lnkd-disk",
            Fit::Ymmr => "ymmr",
            Fit::Wan => "wan",
        }
    }

    pub fn from_name(name: &str) -> Option<Fit> {
        Fit::ALL.into_iter().find(|f| f.name() == name)
    }

    /// (W, A = R = S) mixtures.
    fn legs(self) -> (Mixture, Mixture) {
        match self {
            Fit::LnkdSsd => (LNKD_SSD, LNKD_SSD),
            Fit::LnkdDisk | Fit::Wan => (LNKD_DISK_W, LNKD_SSD),
            Fit::Ymmr => (YMMR_W, YMMR_ARS),
        }
    }
}

/// The extra one-way delay of a leg to a replica in another datacenter (WAN).
pub const WAN_DELAY_MS: f64 = 75.0;

/// Seed and trials of the WARS model, as an experiment file's `model` gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSettings {
    pub seed: u64,
    pub trials: usize,
}

impl Default for ModelSettings {
    fn default() -> Self {
        ModelSettings {
            seed: 1,
            trials: 400_000,
        }
    }
}

/// With probability `pareto`, Pareto(x_m, α); otherwise exponential with rate λ (1/ms).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mixture {
    pub pareto: f64,
    pub scale: f64,
    pub shape: f64,
    pub rate: f64,
}

/// PBS Table 3.
pub const LNKD_SSD: Mixture = Mixture {
    pareto: 0.9122,
    scale: 0.235,
    shape: 10.0,
    rate: 1.66,
};
pub const LNKD_DISK_W: Mixture = Mixture {
    pareto: 0.38,
    scale: 1.05,
    shape: 1.51,
    rate: 0.183,
};
pub const YMMR_W: Mixture = Mixture {
    pareto: 0.939,
    scale: 3.0,
    shape: 3.35,
    rate: 0.0028,
};
pub const YMMR_ARS: Mixture = Mixture {
    pareto: 0.982,
    scale: 1.5,
    shape: 3.8,
    rate: 0.0217,
};

impl Mixture {
    pub fn sample(&self, rng: &mut SimRng) -> f64 {
        let pick = unit_f64(rng);
        // 1 - u is in (0, 1]: both inverse CDFs stay finite.
        let u = 1.0 - unit_f64(rng);
        if pick < self.pareto {
            self.scale / math::powf(u, 1.0 / self.shape)
        } else {
            -math::ln(u) / self.rate
        }
    }
}

/// A quorum configuration of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Config {
    pub fit: Fit,
    pub n: usize,
    pub r: usize,
    pub w: usize,
}

/// The outcome of many trials: sorted read and write latencies, and for each trial the
/// smallest t at which its read is consistent (sorted), so P(consistent | t) is a search.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub trials: usize,
    read_ms: Vec<f64>,
    write_ms: Vec<f64>,
    /// For each trial: min over the R answering replicas of W_i - w_t - R_i.
    consistent_from_ms: Vec<f64>,
}

/// The largest N the model draws (as the simulator's N <= 64 rule, far above use).
pub const N_MAX: usize = 64;

impl Config {
    pub fn check(&self) -> Result<(), String> {
        if !(1..=N_MAX).contains(&self.n)
            || !(1..=self.n).contains(&self.r)
            || !(1..=self.n).contains(&self.w)
        {
            return Err(format!(
                "n = {}, r = {}, w = {}: need 1 <= r, w <= n <= {N_MAX}",
                self.n, self.r, self.w
            ));
        }
        Ok(())
    }

    /// Runs `trials` trials from `seed`. The stream depends only on the seed and the
    /// configuration, never on what else was computed before.
    pub fn simulate(&self, trials: usize, seed: u64) -> Outcome {
        assert!(
            self.check().is_ok(),
            "a WARS configuration is checked on loading"
        );
        let mut rng = stream(seed, self);
        let (w_fit, ars_fit) = self.fit.legs();
        let n = self.n;
        let mut out = Outcome {
            trials,
            read_ms: Vec::with_capacity(trials),
            write_ms: Vec::with_capacity(trials),
            consistent_from_ms: Vec::with_capacity(trials),
        };
        let (mut ws, mut writes, mut rs, mut reads) =
            (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let mut order: Vec<usize> = (0..n).collect();
        let mut sorted = vec![0.0; n];
        for _ in 0..trials {
            let (write_dc, read_dc) = if self.fit == Fit::Wan {
                (
                    crate::engine::rng::below(&mut rng, n as u64) as usize,
                    crate::engine::rng::below(&mut rng, n as u64) as usize,
                )
            } else {
                (usize::MAX, usize::MAX)
            };
            for i in 0..n {
                let w_extra = if write_dc != usize::MAX && i != write_dc {
                    WAN_DELAY_MS
                } else {
                    0.0
                };
                let r_extra = if read_dc != usize::MAX && i != read_dc {
                    WAN_DELAY_MS
                } else {
                    0.0
                };
                ws[i] = w_fit.sample(&mut rng) + w_extra;
                writes[i] = ws[i] + ars_fit.sample(&mut rng) + w_extra;
                rs[i] = ars_fit.sample(&mut rng) + r_extra;
                reads[i] = rs[i] + ars_fit.sample(&mut rng) + r_extra;
            }
            sorted.copy_from_slice(&writes);
            sorted.sort_by(f64::total_cmp);
            let commit = sorted[self.w - 1];
            // Replicas by read answer time; ties keep replica order (as a stable sort).
            order.sort_by(|a, b| reads[*a].total_cmp(&reads[*b]));
            let from = order[..self.r]
                .iter()
                .map(|&i| ws[i] - commit - rs[i])
                .fold(f64::INFINITY, f64::min);
            out.read_ms.push(reads[order[self.r - 1]]);
            out.write_ms.push(commit);
            out.consistent_from_ms.push(from);
        }
        for v in [
            &mut out.read_ms,
            &mut out.write_ms,
            &mut out.consistent_from_ms,
        ] {
            v.sort_by(f64::total_cmp);
        }
        out
    }
}

/// The model's own stream: ChaCha8 keyed by the seed and the configuration, apart from
/// the simulator's streams (`engine::rng`), which it never touches.
fn stream(seed: u64, c: &Config) -> SimRng {
    let tag = (c.fit as u64) << 48 | (c.n as u64) << 32 | (c.r as u64) << 16 | c.w as u64;
    let mut state = mix64(seed ^ mix64(0x5741_5253 ^ mix64(tag)));
    let mut key = [0u8; 32];
    for chunk in key.chunks_mut(8) {
        state = mix64(state);
        chunk.copy_from_slice(&state.to_le_bytes());
    }
    SimRng::from_seed(key)
}

impl Outcome {
    /// P(a read sent t ms after the write committed is consistent).
    pub fn p_consistent(&self, t_ms: f64) -> f64 {
        // A trial is consistent at t when t >= its threshold (w_t + t + R_i >= W_i).
        let k = self.consistent_from_ms.partition_point(|x| *x <= t_ms);
        k as f64 / self.trials.max(1) as f64
    }

    /// The smallest t (ms) at which P(consistent) reaches `p` (t-visibility at p).
    pub fn t_visibility_ms(&self, p: f64) -> f64 {
        let k = ((p * self.trials as f64).ceil() as usize).clamp(1, self.trials.max(1));
        self.consistent_from_ms
            .get(k - 1)
            .copied()
            .unwrap_or(0.0)
            .max(0.0)
    }

    /// The read latency at percentile `pct` (0-100), as the highest-rank sample at or
    /// below it (nearest rank).
    pub fn read_percentile_ms(&self, pct: f64) -> f64 {
        percentile(&self.read_ms, pct)
    }

    pub fn write_percentile_ms(&self, pct: f64) -> f64 {
        percentile(&self.write_ms, pct)
    }
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[f64], pct: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(fit: Fit, r: usize, w: usize) -> Outcome {
        Config { fit, n: 3, r, w }.simulate(100_000, 7)
    }

    #[test]
    fn the_same_seed_gives_the_same_numbers() {
        let a = run(Fit::LnkdSsd, 1, 1);
        let b = run(Fit::LnkdSsd, 1, 1);
        assert_eq!(a.p_consistent(0.5), b.p_consistent(0.5));
        assert_eq!(a.read_percentile_ms(99.9), b.read_percentile_ms(99.9));
    }

    #[test]
    fn mixtures_have_their_analytic_means() {
        // Mean of the mixture: p α x_m / (α - 1) + (1 - p) / λ.
        for m in [LNKD_SSD, LNKD_DISK_W, YMMR_ARS] {
            let expected =
                m.pareto * m.shape * m.scale / (m.shape - 1.0) + (1.0 - m.pareto) / m.rate;
            let mut rng = stream(
                3,
                &Config {
                    fit: Fit::LnkdSsd,
                    n: 1,
                    r: 1,
                    w: 1,
                },
            );
            let k = 400_000;
            let mean = (0..k).map(|_| m.sample(&mut rng)).sum::<f64>() / k as f64;
            // LNKD-DISK's Pareto has infinite variance: a loose bound, still a real check.
            assert!(
                (mean / expected - 1.0).abs() < 0.05,
                "{m:?}: {mean} vs {expected}"
            );
        }
    }

    #[test]
    fn strict_quorums_are_always_consistent_and_partial_ones_converge() {
        let strict = run(Fit::Ymmr, 2, 2);
        assert_eq!(strict.p_consistent(0.0), 1.0);
        let partial = run(Fit::LnkdDisk, 1, 1);
        let (p0, p10, p1000) = (
            partial.p_consistent(0.0),
            partial.p_consistent(10.0),
            partial.p_consistent(1000.0),
        );
        assert!(
            p0 < p10 && p10 < p1000 && p1000 > 0.999,
            "{p0} {p10} {p1000}"
        );
        // t-visibility inverts p_consistent.
        let t = partial.t_visibility_ms(0.99);
        assert!(partial.p_consistent(t) >= 0.99 && partial.p_consistent(t * 0.9) < 0.99);
    }

    #[test]
    fn wan_reads_from_the_writers_datacenter_only_by_chance() {
        // With independent datacenters a read at t = 0 is consistent much less often than
        // on one site, and only after about 2 x 75 ms is it nearly always consistent.
        let wan = run(Fit::Wan, 1, 1);
        assert!(wan.p_consistent(0.0) < 0.7, "{}", wan.p_consistent(0.0));
        assert!(wan.p_consistent(200.0) > 0.99);
        assert!(
            wan.write_percentile_ms(50.0) < 20.0,
            "the local replica commits a W=1 write"
        );
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 50.0), 2.0);
        assert_eq!(percentile(&v, 99.9), 4.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
