//! The font every plot uses: DejaVu Sans, embedded in the binary (assets/DejaVuSans.ttf,
//! license in assets/DejaVuSans-LICENSE.txt) so no system font is needed and plots come
//! out the same on every machine.

use plotters::style::FontStyle;
use std::sync::Once;

static REGISTER: Once = Once::new();

/// Registers the embedded font as plotters' "sans-serif"; call before drawing text.
pub fn ensure_registered() {
    REGISTER.call_once(|| {
        let font = include_bytes!("../../assets/DejaVuSans.ttf");
        let registered = plotters::style::register_font("sans-serif", FontStyle::Normal, font);
        assert!(
            registered.is_ok(),
            "the embedded font is a valid TrueType font"
        );
    });
}
