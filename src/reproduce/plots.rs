//! The figures of reproduce.md: one chart per experiment plot, each series a line or
//! points (dynasim's, the WARS model's) or the paper's own numbers (black crosses), as
//! SVG and PNG with the bundled font, deterministic like every plot of dynasim.

use crate::report::font;
use crate::report::format::short;
use crate::report::log_axis::log_axis;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::error::Error;

type DrawResult = Result<(), Box<dyn Error>>;

const FONT: &str = font::FAMILY;
const SIZE: (u32, u32) = (960, 600);
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(230, 110, 0),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(214, 39, 40),
    RGBColor(110, 110, 110),
];

pub use super::experiment::Style;

/// A series ready to draw.
#[derive(Clone, Debug)]
pub struct Series {
    pub label: String,
    pub style: Style,
    /// A palette index, so that a model's line and dynasim's points share a colour;
    /// `None`: the series' own position.
    pub color: Option<usize>,
    pub points: Vec<(f64, f64)>,
}

#[derive(Clone, Debug)]
pub struct Chart {
    pub title: String,
    pub note: Option<String>,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    pub series: Vec<Series>,
}

/// The chart as (svg bytes, png bytes).
pub fn render(chart: &Chart) -> Result<(Vec<u8>, Vec<u8>), Box<dyn Error>> {
    font::ensure_registered();
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw(&area, chart)?;
        area.present()?;
    }
    let (w, h) = SIZE;
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw(&area, chart)?;
        area.present()?;
    }
    let mut png = Vec::new();
    let mut encoder = ::png::Encoder::new(&mut png, w, h);
    encoder.set_color(::png::ColorType::Rgb);
    encoder.set_depth(::png::BitDepth::Eight);
    encoder.set_compression(::png::Compression::Best);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&rgb)?;
    writer.finish()?;
    Ok((svg.into_bytes(), png))
}

/// The axis range over every drawable point, padded; on a log axis only positive values.
fn range(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return if log { (0.1, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        (lo / 1.5, hi * 1.5)
    } else {
        let pad = ((hi - lo) * 0.06).max(hi.abs().max(1e-9) * 0.02);
        (
            if lo >= 0.0 {
                (lo - pad).max(0.0)
            } else {
                lo - pad
            },
            hi + pad,
        )
    }
}

/// An axis label with the decimals its axis's span needs (0.995 and 0.996 apart on a
/// probability axis near 1); log axes keep `short`.
fn tick(v: f64, span: f64, log: bool) -> String {
    if log || span <= 0.0 || !span.is_finite() {
        return short(v);
    }
    let decimals = (1.0 - crate::engine::math::log10(span / 5.0).floor()).clamp(0.0, 8.0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Chart) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled(&c.title, (FONT, 22).into_font().color(&BLACK))?;
    let drawable = |p: &&(f64, f64)| {
        (!c.log_x || p.0 > 0.0) && (!c.log_y || p.1 > 0.0) && p.0.is_finite() && p.1.is_finite()
    };
    let all = || {
        c.series
            .iter()
            .flat_map(|s| s.points.iter().filter(drawable))
    };
    let (x0, x1) = range(all().map(|p| p.0), c.log_x);
    let (y0, y1) = range(all().map(|p| p.1), c.log_y);
    let mut builder = ChartBuilder::on(&root);
    builder
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(75);
    if let Some(note) = &c.note {
        builder.caption(note, (FONT, 14));
    }
    // Four axis kinds: plotters types linear and log ranges differently.
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(c.x_label.as_str())
                .y_desc(c.y_label.as_str())
                .x_label_formatter(&|v| tick(*v, x1 - x0, c.log_x))
                .y_label_formatter(&|v| tick(*v, y1 - y0, c.log_y))
                .light_line_style(BLACK.mix(0.04))
                .bold_line_style(BLACK.mix(0.2))
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 15))
                .draw()?;
            for (i, s) in c.series.iter().enumerate() {
                let color = match (s.style, s.color) {
                    (Style::Paper, _) => BLACK,
                    (_, Some(k)) => PALETTE[k % PALETTE.len()],
                    (_, None) => PALETTE[i % PALETTE.len()],
                };
                let pts: Vec<(f64, f64)> = s.points.iter().filter(drawable).copied().collect();
                if pts.is_empty() {
                    continue;
                }
                let label = s.label.clone();
                match s.style {
                    Style::Line | Style::LinePoints => {
                        chart
                            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                            .label(label.clone())
                            .legend(move |(x, y)| {
                                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                            });
                        if s.style == Style::LinePoints {
                            chart.draw_series(
                                pts.iter().map(|p| Circle::new(*p, 4, color.filled())),
                            )?;
                        }
                    }
                    Style::Points => {
                        chart
                            .draw_series(pts.iter().map(|p| Circle::new(*p, 5, color.filled())))?
                            .label(label)
                            .legend(move |(x, y)| Circle::new((x + 10, y), 5, color.filled()));
                    }
                    Style::Paper => {
                        chart
                            .draw_series(
                                pts.iter().map(|p| Cross::new(*p, 8, color.stroke_width(3))),
                            )?
                            .label(label)
                            .legend(move |(x, y)| {
                                Cross::new((x + 10, y), 6, color.stroke_width(3))
                            });
                    }
                }
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font((FONT, 14))
                .draw()?;
        }};
    }
    match (c.log_x, c.log_y) {
        (false, false) => body!(builder.build_cartesian_2d(x0..x1, y0..y1)?),
        (true, false) => body!(builder.build_cartesian_2d(log_axis(x0..x1), y0..y1)?),
        (false, true) => body!(builder.build_cartesian_2d(x0..x1, log_axis(y0..y1))?),
        (true, true) => {
            body!(builder.build_cartesian_2d(log_axis(x0..x1), log_axis(y0..y1))?)
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_render_the_same_bytes_twice_and_skip_what_a_log_axis_cannot_show() {
        let chart = Chart {
            title: "t".into(),
            note: Some("note".into()),
            x_label: "x".into(),
            y_label: "y".into(),
            log_x: true,
            log_y: false,
            series: vec![
                Series {
                    label: "model".into(),
                    style: Style::Line,
                    color: Some(1),
                    points: vec![(0.0, 0.4), (1.0, 0.9), (10.0, 0.99)],
                },
                Series {
                    label: "paper".into(),
                    style: Style::Paper,
                    color: None,
                    points: vec![(1.85, 0.999)],
                },
            ],
        };
        let (svg, png) = render(&chart).expect("renders");
        let (svg2, png2) = render(&chart).expect("renders");
        assert_eq!((svg.clone(), png.clone()), (svg2, png2));
        assert!(String::from_utf8_lossy(&svg).contains("paper"));
        assert_eq!(&png[1..4], b"PNG");
    }

    #[test]
    fn ticks_show_the_digits_their_axis_needs() {
        assert_eq!(tick(0.995, 0.04, false), "0.995");
        assert_eq!(tick(0.99, 0.04, false), "0.99");
        assert_eq!(tick(200.0, 1500.0, false), "200");
        assert_eq!(tick(0.25, 3.0, false), "0.25");
    }

    #[test]
    fn ranges_pad_and_fall_back() {
        assert_eq!(range([].into_iter(), true), (0.1, 10.0));
        let (lo, hi) = range([1.0, 3.0].into_iter(), false);
        assert!(lo < 1.0 && hi > 3.0 && lo >= 0.0);
        let (lo, _) = range([0.0, 2.0, 8.0].into_iter(), true);
        assert!(
            (lo - 2.0 / 1.5).abs() < 1e-12,
            "zero is left off a log axis"
        );
    }
}
