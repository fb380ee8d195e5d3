//! A logarithmic plot axis whose pixel positions come from `engine::math` (one pure-Rust
//! `log10` on every platform), not from the platform's `ln` as plotters' own `log_scale`
//! does: math libraries (glibc, macOS, Windows, musl) may differ in the last bit, so a
//! value on a pixel's edge could land one pixel apart, and a plot is part of a report that
//! must match byte for byte. (WebAssembly builds draw no plots.)

use crate::engine::math;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use std::ops::Range;

/// Values from `range.start` to `range.end` (both > 0), placed by their `log10`.
#[derive(Clone, Debug)]
pub struct LogAxis {
    range: Range<f64>,
    from: f64,
    to: f64,
}

/// A log axis over `range`; a start at or below 0 is raised to 1e-5 of the end, as plotters'
/// own log scale does.
pub fn log_axis(range: Range<f64>) -> LogAxis {
    let end = range.end.max(f64::MIN_POSITIVE);
    let start = if range.start > 0.0 {
        range.start
    } else {
        end * 1e-5
    };
    LogAxis {
        range: start..end,
        from: math::log10(start),
        to: math::log10(end),
    }
}

/// 10^k, exactly as the decimal literal `1ek` reads (no `powf`).
fn decade(k: i32) -> f64 {
    format!("1e{k}").parse().unwrap_or(f64::NAN)
}

impl LogAxis {
    /// The values `m` x 10^k inside the axis for each multiplier `m`.
    fn multiples(&self, multipliers: &[f64]) -> Vec<f64> {
        let (lo, hi) = (self.range.start, self.range.end);
        let decades = (self.from.floor() as i32)..=(self.to.ceil() as i32);
        decades
            .flat_map(|k| multipliers.iter().map(move |m| m * decade(k)))
            .filter(|v| (lo..=hi).contains(v))
            .collect()
    }

    /// Bold ticks (`light` false) are the decades, with 2 and 5 between them when the
    /// axis spans fewer than three; light ones are every multiple 1 to 9 of a decade, as
    /// on log paper. At most `max_points`: past that, every n-th.
    fn ticks(&self, max_points: usize, light: bool) -> Vec<f64> {
        let mut ticks = self.multiples(&[1.0]);
        let finer = if light {
            self.multiples(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
        } else if ticks.len() < 3 {
            self.multiples(&[1.0, 2.0, 5.0])
        } else {
            Vec::new()
        };
        if !finer.is_empty() && finer.len() <= max_points {
            ticks = finer;
        }
        let every = ticks.len().div_ceil(max_points.max(1)).max(1);
        ticks.into_iter().step_by(every).collect()
    }
}

impl Ranged for LogAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.to - self.from;
        let at = if *value > 0.0 && span > 0.0 {
            (math::log10(*value) - self.from) / span
        } else {
            0.0
        };
        // Rounded as plotters rounds its linear axes, so both kinds of axis line up.
        let pixels = f64::from(limit.1 - limit.0);
        let offset = if pixels > 0.0 {
            (pixels * at + 1e-3).floor()
        } else {
            (pixels * at - 1e-3).ceil()
        };
        limit.0 + offset.clamp(-1e9, 1e9) as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        self.ticks(hint.max_num_points(), hint.weight().allow_light_points())
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decades_are_exact_and_map_to_even_steps() {
        assert_eq!(decade(-3), 0.001);
        assert_eq!(decade(4), 10_000.0);
        let axis = log_axis(0.1..1000.0);
        assert_eq!(axis.map(&0.1, (0, 400)), 0);
        assert_eq!(axis.map(&1.0, (0, 400)), 100);
        assert_eq!(axis.map(&10.0, (0, 400)), 200);
        assert_eq!(axis.map(&1000.0, (0, 400)), 400);
        // Pixels run the other way on a y axis.
        assert_eq!(axis.map(&10.0, (400, 0)), 200);
        assert_eq!(axis.map(&100.0, (400, 0)), 100);
    }

    #[test]
    fn ticks_are_decades_and_light_ones_every_multiple() {
        let axis = log_axis(1.0..100.0);
        assert_eq!(axis.ticks(10, false), vec![1.0, 10.0, 100.0]);
        let narrow = log_axis(1.0..10.0);
        assert_eq!(narrow.ticks(10, false), vec![1.0, 2.0, 5.0, 10.0]);
        assert_eq!(narrow.ticks(3, false), vec![1.0, 10.0]);
        let light = axis.ticks(100, true);
        assert_eq!(light.len(), 19);
        assert_eq!(light[..3], [1.0, 2.0, 3.0]);
        let wide = log_axis(1e-5..1e5);
        assert_eq!(wide.ticks(20, false).len(), 11);
        assert_eq!(wide.ticks(5, false), vec![1e-5, 0.01, 10.0, 10_000.0]);
    }

    #[test]
    fn a_start_at_zero_or_values_out_of_range_do_not_break_the_axis() {
        let axis = log_axis(0.0..10.0);
        assert_eq!(axis.range().start, 1e-4);
        assert_eq!(axis.map(&0.0, (0, 100)), 0);
        assert_eq!(axis.map(&-3.0, (0, 100)), 0);
        assert!(axis.map(&1e300, (0, 100)) > 100);
    }
}
