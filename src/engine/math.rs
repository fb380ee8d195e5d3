//! The transcendental functions a seeded run depends on, from one pure-Rust library
//! (`libm`) on every target. `f64::ln`, `exp` and `powf` call the platform's math library
//! (glibc natively, a port of musl's in WebAssembly), and those may differ in the last
//! bit, which would make the browser playground's run differ from the CLI's. Everything
//! that can reach an outcome or a report calls these instead.

pub fn ln(x: f64) -> f64 {
    libm::log(x)
}

pub fn exp(x: f64) -> f64 {
    libm::exp(x)
}

pub fn powf(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

pub fn log10(x: f64) -> f64 {
    libm::log10(x)
}

pub fn exp_m1(x: f64) -> f64 {
    libm::expm1(x)
}

pub fn ln_1p(x: f64) -> f64 {
    libm::log1p(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_the_platform_to_the_last_bits() {
        for x in [1e-300, 0.001, 0.5, 1.0, 2.0, 10.0, 12345.678, 1e300] {
            assert!((ln(x) - x.ln()).abs() <= 2.0 * f64::EPSILON * x.ln().abs().max(1.0));
            assert!((log10(x) - x.log10()).abs() <= 2.0 * f64::EPSILON * x.log10().abs().max(1.0));
        }
        for x in [-700.0, -1.0, -1e-9, 0.0, 1e-9, 0.5, 1.0, 700.0] {
            assert!((exp(x) - x.exp()).abs() <= 2.0 * f64::EPSILON * x.exp());
            assert!(
                (exp_m1(x) - x.exp_m1()).abs() <= 2.0 * f64::EPSILON * x.exp_m1().abs().max(1e-300)
            );
            assert!((ln_1p(x.abs()) - x.abs().ln_1p()).abs() <= 2.0 * f64::EPSILON);
        }
        assert_eq!(powf(2.0, 10.0), 1024.0);
        assert!((powf(0.3, -0.99) - 0.3f64.powf(-0.99)).abs() < 1e-14);
    }
}
