//! Number formatting shared by `summary.md` and the plots: thousands separators, percentages
//! with the digits that matter, short axis labels. Pure functions of their argument, so
//! the same report always reads the same.

/// A percentage (given in percent) with enough digits to tell small values apart:
/// `99.23%`, `0.31%`, `0.0012%`.
pub fn percent_of(pct: f64) -> String {
    if pct == 0.0 {
        return "0%".into();
    }
    if pct >= 100.0 {
        return "100%".into();
    }
    // Near 100, show how far from it: 99.9995%.
    let from_edge = pct.min(100.0 - pct);
    let mut decimals = if from_edge >= 1.0 {
        2
    } else {
        (2 - crate::engine::math::log10(from_edge).floor() as i32).clamp(2, 6) as usize
    };
    let mut text = format!("{pct:.decimals$}");
    while decimals > 2 && text.ends_with('0') {
        text.pop();
        decimals -= 1;
    }
    text.push('%');
    text
}

/// 1234567 -> "1,234,567".
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n` things, grouped and in the right number: "1 key", "2,000 keys".
pub fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// A rate or amount as prose shows it: whole numbers grouped ("2,000"), others short.
pub fn amount(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let grouped = count(v.abs() as u64);
        if v < 0.0 {
            format!("-{grouped}")
        } else {
            grouped
        }
    } else {
        short(v)
    }
}

/// A short, readable number for axis labels.
pub fn short(v: f64) -> String {
    let s = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn amounts_and_counted_things() {
        use super::{amount, counted};
        assert_eq!(amount(2000.0), "2,000");
        assert_eq!(amount(2.5), "2.5");
        assert_eq!(amount(-1500.0), "-1,500");
        assert_eq!(counted(1, "key", "keys"), "1 key");
        assert_eq!(counted(54807, "key", "keys"), "54,807 keys");
    }

    use super::*;

    #[test]
    fn percentages_keep_the_digits_that_matter() {
        assert_eq!(percent_of(0.0), "0%");
        assert_eq!(percent_of(100.0), "100%");
        assert_eq!(percent_of(99.2), "99.20%");
        assert_eq!(percent_of(0.31), "0.31%");
        assert_eq!(percent_of(0.0012), "0.0012%");
        assert_eq!(percent_of(99.9995), "99.9995%");
        assert_eq!(percent_of(99.94), "99.94%");
        assert_eq!(percent_of(50.0), "50.00%");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(12), "12");
    }
}
