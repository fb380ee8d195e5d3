//! Key popularity: uniform, Zipf over the keys by number, or YCSB's `latest` (Zipf over
//! the distance from the newest key), always over the keys that exist at the moment of the
//! draw (`live`: the workload's keys and the keys inserted so far). Zipf draws invert the
//! exact CDF (a table of cumulative weights), so the distribution is what its formula says
//! for any exponent, including s = 0 and s near 1. One table serves every `live`: a draw
//! scales its uniform number by the cumulative weight of the first `live` ranks, which is
//! Zipf's law over exactly those ranks. A guide table (Chen and Asau) narrows each search
//! to a few neighbouring entries: a draw costs one or two cache misses instead of a binary
//! search over millions of entries, and returns the same rank as that search.

use crate::engine::rng::{SimRng, below, unit_f64};
use crate::ids::KeyId;
use std::collections::VecDeque;

pub enum KeySampler {
    Uniform,
    /// Rank r is key r: key 0 is the most popular, the newest inserted key the least.
    Zipf(ZipfTable),
    /// Rank d is the key d places before the newest (YCSB's SkewedLatestGenerator).
    Latest(ZipfTable),
}

/// Cumulative probabilities of ranks 0..len under Zipf's law (normalized over all `len`);
/// `guide[j]` is the first rank whose cumulative probability exceeds j / guide.len().
pub struct ZipfTable {
    cumulative: Vec<f64>,
    guide: Vec<u32>,
}

impl ZipfTable {
    /// The table for ranks `0..len` (at least one) with this exponent.
    pub fn new(len: u32, exponent: f64) -> ZipfTable {
        let mut acc = 0.0;
        let mut cumulative: Vec<f64> = (1..=len.max(1))
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
        ZipfTable { cumulative, guide }
    }

    /// A rank in `0..live` under Zipf's law over those ranks (`live` is clamped to the
    /// table). With `live` the whole table the uniform number is used as drawn.
    pub fn rank(&self, rng: &mut SimRng, live: u32) -> u32 {
        let len = self.cumulative.len();
        let live = (live as usize).clamp(1, len);
        let mut u = unit_f64(rng);
        if live < len {
            // u < 1, so u * C(live - 1) < C(live - 1): the rank found is below `live`.
            u *= self.cumulative[live - 1];
        }
        zipf_rank(&self.cumulative, &self.guide, u).min(live - 1) as u32
    }

    /// The ranks the table holds (at least one).
    pub fn ranks(&self) -> u32 {
        self.cumulative.len() as u32
    }
}

impl KeySampler {
    pub fn uniform() -> KeySampler {
        KeySampler::Uniform
    }

    /// Zipf with this exponent over up to `capacity` keys (the key space with every
    /// insert the run can make).
    pub fn zipf(capacity: u32, exponent: f64) -> KeySampler {
        KeySampler::Zipf(ZipfTable::new(capacity, exponent))
    }

    /// YCSB's `latest` with this exponent over up to `capacity` keys.
    pub fn latest(capacity: u32, exponent: f64) -> KeySampler {
        KeySampler::Latest(ZipfTable::new(capacity, exponent))
    }

    /// A key among the `live` that exist (keys `0..live`; at least one).
    pub fn sample(&self, rng: &mut SimRng, live: u32) -> KeyId {
        let live = live.max(1);
        match self {
            KeySampler::Uniform => KeyId(below(rng, live as u64) as u32),
            KeySampler::Zipf(table) => KeyId(table.rank(rng, live)),
            KeySampler::Latest(table) => {
                let live = live.min(table.ranks());
                KeyId(live - 1 - table.rank(rng, live))
            }
        }
    }
}

/// The keys that exist: the workload's `keys` (0..keys), then the inserted keys in the
/// order they were issued. As YCSB's AcknowledgedCounterGenerator, an inserted key counts
/// as existing (may be drawn for reads and updates) once its insert and every insert
/// before it have ended, answered or not: a read never asks for a key whose insert is
/// still in flight, and one whose insert failed is read as not found (and not judged).
pub struct KeySpace {
    loaded: u32,
    /// Key ids stop here (`Scenario::key_count`).
    capacity: u32,
    /// Inserts issued: the next insert writes key `loaded + issued`.
    issued: u32,
    /// Inserts ended, counting from the first, with none missing.
    ended: u32,
    /// Whether each insert from `ended` to `issued` has ended (a later one can end first).
    window: VecDeque<bool>,
}

impl KeySpace {
    pub fn new(loaded: u32, capacity: u32) -> KeySpace {
        KeySpace {
            loaded,
            capacity: capacity.max(loaded),
            issued: 0,
            ended: 0,
            window: VecDeque::new(),
        }
    }

    /// Keys that may be drawn now.
    pub fn live(&self) -> u32 {
        self.loaded + self.ended
    }

    /// Inserts issued so far.
    pub fn issued(&self) -> u32 {
        self.issued
    }

    /// The key of a new insert, or `None` when the key space is full.
    pub fn issue(&mut self) -> Option<KeyId> {
        if self.loaded + self.issued >= self.capacity {
            return None;
        }
        let key = KeyId(self.loaded + self.issued);
        self.issued += 1;
        self.window.push_back(false);
        Some(key)
    }

    /// The insert of `key` ended.
    pub fn done(&mut self, key: KeyId) {
        let offset = key.0.checked_sub(self.loaded + self.ended);
        let slot = offset.and_then(|o| self.window.get_mut(o as usize));
        assert!(
            slot.as_ref().is_some_and(|s| !**s),
            "an insert ends once, after it was issued"
        );
        if let Some(slot) = slot {
            *slot = true;
        }
        while self.window.front() == Some(&true) {
            self.window.pop_front();
            self.ended += 1;
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
            counts[sampler.sample(&mut rng, 1_000).index()] += 1;
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
            let ZipfTable { cumulative, guide } = ZipfTable::new(keys, s);
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
        for sampler in [KeySampler::zipf(10, 0.0), KeySampler::uniform()] {
            let mut counts = [0u32; 10];
            for _ in 0..100_000 {
                counts[sampler.sample(&mut rng, 10).index()] += 1;
            }
            assert!(
                counts.iter().all(|c| (9_400..10_600).contains(c)),
                "{counts:?}"
            );
        }
    }

    #[test]
    fn a_prefix_of_the_table_is_zipf_over_the_live_keys() {
        // One table for 1,000 keys, 100 of them live: Zipf over exactly those 100.
        let mut rng = RngStreams::new(6).stream(Stream::Test, 0);
        let draws = 400_000;
        for sampler in [KeySampler::zipf(1_000, 1.0), KeySampler::latest(1_000, 1.0)] {
            let mut counts = vec![0u32; 1_000];
            for _ in 0..draws {
                counts[sampler.sample(&mut rng, 100).index()] += 1;
            }
            assert!(counts[100..].iter().all(|c| *c == 0), "a key not yet live");
            // P(most popular) = 1 / H(100) = 0.1928; the next gets half of it.
            let (first, second) = match sampler {
                KeySampler::Latest(_) => (counts[99], counts[98]),
                _ => (counts[0], counts[1]),
            };
            let p1 = first as f64 / draws as f64;
            assert!((p1 - 0.1928).abs() < 0.003, "{p1}");
            let ratio = first as f64 / second as f64;
            assert!((ratio - 2.0).abs() < 0.06, "{ratio}");
        }
    }

    #[test]
    fn inserted_keys_become_live_in_order_of_issue() {
        let mut space = KeySpace::new(10, 13);
        let (a, b, c) = (space.issue(), space.issue(), space.issue());
        assert_eq!(
            (a, b, c),
            (Some(KeyId(10)), Some(KeyId(11)), Some(KeyId(12)))
        );
        assert_eq!(space.issue(), None, "the key space is full");
        assert_eq!(space.live(), 10);
        space.done(KeyId(11));
        assert_eq!(space.live(), 10, "key 10's insert has not ended");
        space.done(KeyId(10));
        assert_eq!(space.live(), 12);
        space.done(KeyId(12));
        assert_eq!(space.live(), 13);
    }
}
