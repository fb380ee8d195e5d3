//! Seeded random streams, one per purpose. Each stream's key is derived from the scenario
//! seed, a purpose tag and an index with a fixed mixing function, so adding a stream (or
//! drawing more from one) never shifts the numbers another stream produces.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The generator every stream uses. ChaCha8 is fast, portable and has a documented output.
pub type SimRng = ChaCha8Rng;

/// What a stream is for. The discriminants are part of the determinism contract: changing
/// one changes every seeded run, so new purposes get new numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Ring = 1,
    Network = 2,
    Workload = 3,
    Faults = 4,
    // 5 was a stream per node; gossip now draws from one shared stream.
    /// Gossip peer choice, shared by every node (randomness is a node's input).
    Gossip = 8,
    Storage = 6,
    Client = 7,
    /// CPU service times of hosts with a finite CPU (`capacity.cpu`).
    Cpu = 9,
    Test = 99,
}

/// Derives independent streams from one scenario seed.
#[derive(Clone, Copy, Debug)]
pub struct RngStreams {
    seed: u64,
}

/// SplitMix64's finaliser: a bijective mix with good avalanche, used only for derivation.
pub fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl RngStreams {
    pub fn new(seed: u64) -> Self {
        RngStreams { seed }
    }

    /// The stream for `purpose`, instance `index` (e.g. the node number).
    pub fn stream(&self, purpose: Stream, index: u64) -> SimRng {
        let mut key = [0u8; 32];
        let mut state = mix64(self.seed ^ mix64(purpose as u64) ^ mix64(index.rotate_left(17)));
        for chunk in key.chunks_mut(8) {
            state = mix64(state);
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        ChaCha8Rng::from_seed(key)
    }
}

/// A uniform draw in [0, 1) with 53 random bits, built only on `next_u64` so that a rand
/// upgrade cannot change a seeded run.
pub fn unit_f64(rng: &mut SimRng) -> f64 {
    use rand::Rng;
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform integer in [0, n) by Lemire's multiply-and-reject method (unbiased).
pub fn below(rng: &mut SimRng, n: u64) -> u64 {
    use rand::Rng;
    assert!(n > 0, "below(0)");
    loop {
        let x = rng.next_u64();
        let m = (x as u128) * (n as u128);
        let low = m as u64;
        if low >= n.wrapping_neg() % n {
            return (m >> 64) as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a = RngStreams::new(1);
        let mut x = a.stream(Stream::Network, 0);
        let mut y = a.stream(Stream::Network, 0);
        assert_eq!(x.next_u64(), y.next_u64());
        let mut z = a.stream(Stream::Network, 1);
        let mut w = a.stream(Stream::Workload, 0);
        let mut other_seed = RngStreams::new(2).stream(Stream::Network, 0);
        let first = a.stream(Stream::Network, 0).next_u64();
        assert_ne!(first, z.next_u64());
        assert_ne!(first, w.next_u64());
        assert_ne!(first, other_seed.next_u64());
    }

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut rng = RngStreams::new(3).stream(Stream::Test, 0);
        let mut counts = [0u32; 7];
        for _ in 0..70_000 {
            counts[below(&mut rng, 7) as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }
}
