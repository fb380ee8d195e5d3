//! Virtual time: integer microseconds since the start of the run. Integers keep ordering
//! exact and make the event order independent of floating-point rounding.

use std::fmt;

/// A point in simulated time (or a span of it), in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub fn from_micros(us: u64) -> Self {
        SimTime(us)
    }

    /// Converts milliseconds to time, rounding to the nearest microsecond. Negative and NaN
    /// inputs become zero: a latency sampler never moves time backwards.
    pub fn from_ms_f64(ms: f64) -> Self {
        Self::from_micros_f64(ms * 1_000.0)
    }

    pub fn from_secs_f64(s: f64) -> Self {
        Self::from_micros_f64(s * 1_000_000.0)
    }

    fn from_micros_f64(us: f64) -> Self {
        if us.is_nan() || us <= 0.0 {
            SimTime(0)
        } else if us >= u64::MAX as f64 {
            SimTime(u64::MAX)
        } else {
            // `us.round()` (half away from zero) without the libm call: the integer part
            // is exact as an integer, and the fraction `us - whole` is exact too (zero
            // from 2^52 up, where every double is an integer). Below 2^63 (every time a
            // run reaches) through i64, whose conversions are single instructions.
            if us < 9_223_372_036_854_775_808.0 {
                let whole = us as i64;
                let up = us - whole as f64 >= 0.5;
                SimTime(whole as u64 + u64::from(up))
            } else {
                SimTime(us as u64)
            }
        }
    }

    pub fn as_micros(self) -> u64 {
        self.0
    }

    pub fn as_ms_f64(self) -> f64 {
        self.0 as f64 / 1_000.0
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1_000_000.0
    }

    pub fn saturating_add(self, other: SimTime) -> SimTime {
        SimTime(self.0.saturating_add(other.0))
    }

    pub fn saturating_sub(self, other: SimTime) -> SimTime {
        SimTime(self.0.saturating_sub(other.0))
    }
}

impl std::ops::Add for SimTime {
    type Output = SimTime;
    fn add(self, rhs: SimTime) -> SimTime {
        self.saturating_add(rhs)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.6}s", self.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_and_clamp() {
        assert_eq!(SimTime::from_ms_f64(1.5), SimTime(1_500));
        assert_eq!(SimTime::from_ms_f64(0.0004), SimTime(0));
        assert_eq!(SimTime::from_ms_f64(-3.0), SimTime(0));
        assert_eq!(SimTime::from_ms_f64(f64::NAN), SimTime(0));
        assert_eq!(SimTime::from_secs_f64(2.0).as_ms_f64(), 2_000.0);
        assert_eq!(SimTime(u64::MAX - 1) + SimTime(5), SimTime::MAX);
    }

    /// The conversion rounds exactly as `f64::round` does (half away from zero), on the
    /// halves, next to them, around 2^52 and 2^53, and on a spread of bit patterns.
    #[test]
    fn micros_round_like_f64_round() {
        let two52 = (1u64 << 52) as f64;
        let mut cases = vec![
            0.5,
            1.5,
            2.5,
            0.49999999999999994,
            1.4999999999999998,
            1e-300,
            two52 - 0.5,
            two52 - 1.5,
            two52,
            two52 + 1.0,
            2.0 * two52 + 2.0,
            1e19,
            18_446_744_073_709_549_568.0,
        ];
        let mut bits = 0x3ff0_0000_0000_0001u64;
        for _ in 0..100_000 {
            bits = bits
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let x = f64::from_bits(bits & !(1 << 63));
            if x.is_finite() && x < 1.8e19 {
                cases.push(x);
                // And a value of a few seconds to hours, the usual range.
                cases.push(x.fract() * 1e10);
            }
        }
        assert!(cases.len() > 100_000);
        for us in cases {
            let expected = us.round() as u64;
            assert_eq!(SimTime::from_micros_f64(us), SimTime(expected), "{us:e}");
        }
    }
}
