//! Key popularity: uniform or Zipf over the key space. Zipf draws use the exact CDF
//! (a table of cumulative weights, binary-searched), so the distribution is what its
//! formula says for any exponent, including s = 0 and s near 1.

use crate::engine::rng::{SimRng, below, unit_f64};
use crate::ids::KeyId;

pub enum KeySampler {
    Uniform {
        keys: u32,
    },
    /// Cumulative probabilities of ranks 0..keys; rank r is key r (key 0 is hottest).
    Zipf {
        cumulative: Vec<f64>,
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
                acc += (rank as f64).powf(-exponent);
                acc
            })
            .collect();
        let total = acc;
        cumulative.iter_mut().for_each(|c| *c /= total);
        KeySampler::Zipf { cumulative }
    }

    pub fn sample(&self, rng: &mut SimRng) -> KeyId {
        match self {
            KeySampler::Uniform { keys } => KeyId(below(rng, *keys as u64) as u32),
            KeySampler::Zipf { cumulative } => {
                let u = unit_f64(rng);
                let rank = cumulative.partition_point(|c| *c <= u);
                KeyId(rank.min(cumulative.len() - 1) as u32)
            }
        }
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
