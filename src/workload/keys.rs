//! Key popularity: uniform or Zipf over the key space. Zipf draws invert the exact CDF
//! (a table of cumulative weights), so the distribution is what its formula says for any
//! exponent, including s = 0 and s near 1. A guide table (Chen and Asau) narrows each
//! search to a few neighbouring entries: a draw costs one or two cache misses instead of
//! a binary search over millions of entries, and returns the same rank as that search.

use crate::engine::rng::{SimRng, below, unit_f64};
use crate::ids::KeyId;

pub enum KeySampler {
    Uniform {
        keys: u32,
    },
    /// Cumulative probabilities of ranks 0..keys; rank r is key r (key 0 is hottest).
    /// `guide[j]` is the first rank whose cumulative probability exceeds j / guide.len().
    Zipf {
        cumulative: Vec<f64>,
        guide: Vec<u32>,
    },
}

impl KeySampler {
    pub fn uniform(keys: u32) -> KeySampler {
        KeySampler::Uniform { keys: keys.max(1) }
    }

    pub fn zipf(keys: u32, exponent: f64) -> KeySampler {
        let mut acc = 0.0;
        let mut cumulative: Vec<f64> = (1..=keys.max(1))
            .map(|rank| {
                acc += crate::engine::math::powf(rank as f64, -exponent);
                acc
            })
            .collect();
        let total = acc;
        cumulative.iter_mut().for_each(|c| *c /= total);
        let buckets = cumulative.len();
        let mut guide = Vec::with_capacity(buckets);
        let mut rank = 0usize;
        for j in 0..buckets {
            let u = j as f64 / buckets as f64;
            while rank < buckets - 1 && cumulative[rank] <= u {
                rank += 1;
            }
            guide.push(rank as u32);
        }
        KeySampler::Zipf { cumulative, guide }
    }

    pub fn sample(&self, rng: &mut SimRng) -> KeyId {
        match self {
            KeySampler::Uniform { keys } => KeyId(below(rng, *keys as u64) as u32),
            KeySampler::Zipf { cumulative, guide } => {
                let u = unit_f64(rng);
                KeyId(zipf_rank(cumulative, guide, u).min(cumulative.len() - 1) as u32)
            }
        }
    }
}

/// The first rank whose cumulative probability exceeds `u`: the guide table gives a
/// window; the window is used only when its ends prove the answer lies inside it (rounding
/// in `u * len` cannot then change the result), else the whole table is searched.
fn zipf_rank(cumulative: &[f64], guide: &[u32], u: f64) -> usize {
    let len = guide.len();
    let j = ((u * len as f64) as usize).min(len - 1);
    let lo = guide[j] as usize;
    let hi = guide
        .get(j + 1)
        .map(|g| *g as usize + 1)
        .unwrap_or(cumulative.len());
    let lo_ok = lo == 0 || cumulative[lo - 1] <= u;
    let hi_ok = hi >= cumulative.len() || cumulative[hi - 1] > u;
    if lo_ok && hi_ok && lo <= hi {
        lo + cumulative[lo..hi].partition_point(|c| *c <= u)
    } else {
        cumulative.partition_point(|c| *c <= u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::{RngStreams, Stream};

    #[test]
    fn zipf_frequencies_follow_the_power_law() {
        let sampler = KeySampler::zipf(1_000, 1.0);
        let mut rng = RngStreams::new(3).stream(Stream::Test, 0);
        let mut counts = vec![0u32; 1_000];
        let draws = 400_000;
        for _ in 0..draws {
            counts[sampler.sample(&mut rng).index()] += 1;
        }
        // P(rank 1) = 1 / H(1000) ≈ 0.1336; rank 2 gets half of rank 1.
        let p1 = counts[0] as f64 / draws as f64;
        assert!((p1 - 0.1336).abs() < 0.003, "{p1}");
        let ratio = counts[0] as f64 / counts[1] as f64;
        assert!((ratio - 2.0).abs() < 0.08, "{ratio}");
    }

    #[test]
    fn guide_table_finds_the_same_rank_as_a_binary_search() {
        let mut rng = RngStreams::new(5).stream(Stream::Test, 0);
        for (keys, s) in [
            (1u32, 0.99),
            (7, 0.5),
            (1_000, 0.99),
            (100_000, 1.2),
            (5_000, 0.0),
        ] {
            let KeySampler::Zipf { cumulative, guide } = KeySampler::zipf(keys, s) else {
                unreachable!("zipf() builds a Zipf sampler")
            };
            let mut probes: Vec<f64> = (0..20_000).map(|_| unit_f64(&mut rng)).collect();
            // Exact cumulative values and their neighbours are the edge cases.
            for c in cumulative.iter().take(50) {
                probes.extend([*c, c.next_down(), c.next_up()]);
            }
            for u in probes.into_iter().filter(|u| (0.0..1.0).contains(u)) {
                let expected = cumulative.partition_point(|c| *c <= u);
                assert_eq!(zipf_rank(&cumulative, &guide, u), expected, "u = {u}");
            }
        }
    }

    #[test]
    fn zipf_zero_is_uniform_and_uniform_covers_all_keys() {
        let mut rng = RngStreams::new(4).stream(Stream::Test, 0);
        for sampler in [KeySampler::zipf(10, 0.0), KeySampler::uniform(10)] {
            let mut counts = [0u32; 10];
            for _ in 0..100_000 {
                counts[sampler.sample(&mut rng).index()] += 1;
            }
            assert!(
                counts.iter().all(|c| (9_400..10_600).contains(c)),
                "{counts:?}"
            );
        }
    }
}
