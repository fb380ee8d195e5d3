//! The one font every plot uses: DejaVu Sans, bundled in the binary (`assets/`, with its
//! license) so that plots look the same, and are byte-identical, on every machine whatever
//! fonts it has installed. plotters' `ab_glyph` text renderer finds fonts only through its
//! registry, so the font is registered under the family name "sans-serif" once per process,
//! before the first plot is drawn.

use plotters::style::{FontStyle, register_font};
use std::sync::Once;

/// The family name plots must ask for.
pub const FAMILY: &str = "sans-serif";

static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// Registers the bundled font; cheap after the first call, safe from any thread.
pub fn ensure_registered() {
    REGISTER.call_once(|| {
        // The bytes are fixed at compile time and checked by a test, so a failure here is
        // a broken build, not something a user can cause.
        let registered = register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok();
        assert!(
            registered,
            "the bundled font assets/DejaVuSans.ttf does not parse"
        );
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::style::{FontDesc, FontFamily};

    #[test]
    fn bundled_font_registers_and_measures_text() {
        ensure_registered();
        ensure_registered();
        let font = FontDesc::new(FontFamily::Name(FAMILY), 20.0, FontStyle::Normal);
        let (w, h) = font
            .box_size("R=2 W=2")
            .expect("the registered font lays out text");
        assert!(w > 40 && h > 10, "{w}x{h}");
    }
}
