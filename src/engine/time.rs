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
            SimTime(us.round() as u64)
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
}
