//! The plots of a run, drawn from `report.json`'s numbers alone, each as SVG and PNG:
//! latency CDF per operation type, the t-visibility curve, the timeline with fault windows
//! shaded, and the versions-per-read histogram.
//!
//! Plots are deterministic: the same report gives the same bytes (no timestamps, no
//! hash-ordered iteration, the embedded font of `font.rs`).

use super::Report;
use super::font;
use super::format::{count, percent_of, short};
use super::log_axis::{LogAxis, log_axis};
use crate::engine::math;
use crate::observer::TimelinePoint;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::error::Error;
use std::io;

type DrawResult = Result<(), Box<dyn Error>>;

const READ: RGBColor = RGBColor(31, 119, 180);
const WRITE: RGBColor = RGBColor(230, 110, 0);
const THIRD: RGBColor = RGBColor(44, 160, 44);
const GREY: RGBColor = RGBColor(110, 110, 110);
const FAULT: RGBAColor = RGBAColor(214, 39, 40, 0.15);
const FONT: &str = "sans-serif";

/// The plots, in the order they are written.
#[derive(Clone, Copy, Debug)]
enum Plot {
    LatencyCdf,
    TVisibility,
    Timeline,
    VersionsPerRead,
}

impl Plot {
    const ALL: [Plot; 4] = [
        Plot::LatencyCdf,
        Plot::TVisibility,
        Plot::Timeline,
        Plot::VersionsPerRead,
    ];

    fn name(self) -> &'static str {
        match self {
            Plot::LatencyCdf => "latency_cdf",
            Plot::TVisibility => "t_visibility",
            Plot::Timeline => "timeline",
            Plot::VersionsPerRead => "versions_per_read",
        }
    }

    fn size(self) -> (u32, u32) {
        match self {
            Plot::LatencyCdf => (1200, 520),
            Plot::Timeline => (1100, 1000),
            Plot::TVisibility | Plot::VersionsPerRead => (900, 560),
        }
    }

    fn draw<DB: DrawingBackend>(self, area: &DrawingArea<DB, Shift>, r: &Report) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE)?;
        match self {
            Plot::LatencyCdf => latency_cdf(area, r),
            Plot::TVisibility => t_visibility(area, r),
            Plot::Timeline => timeline(area, r),
            Plot::VersionsPerRead => versions_per_read(area, r),
        }
    }
}

/// Renders every plot, `<name>.svg` then `<name>.png` for each, handing each file to
/// `take` as it is made.
pub fn for_each(
    report: &Report,
    mut take: impl FnMut(&str, Vec<u8>) -> io::Result<()>,
) -> io::Result<()> {
    font::ensure_registered();
    for plot in Plot::ALL {
        let err = |e: Box<dyn Error>| io::Error::other(format!("plot {}: {e}", plot.name()));
        take(
            &format!("{}.svg", plot.name()),
            svg(plot, report).map_err(err)?,
        )?;
        take(
            &format!("{}.png", plot.name()),
            png(plot, report).map_err(err)?,
        )?;
    }
    Ok(())
}

fn svg(plot: Plot, report: &Report) -> Result<Vec<u8>, Box<dyn Error>> {
    let mut out = String::new();
    {
        let area = SVGBackend::with_string(&mut out, plot.size()).into_drawing_area();
        plot.draw(&area, report)?;
        area.present()?;
    }
    Ok(out.into_bytes())
}

fn png(plot: Plot, report: &Report) -> Result<Vec<u8>, Box<dyn Error>> {
    let (w, h) = plot.size();
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        plot.draw(&area, report)?;
        area.present()?;
    }
    let mut out = Vec::new();
    let mut encoder = ::png::Encoder::new(&mut out, w, h);
    encoder.set_color(::png::ColorType::Rgb);
    encoder.set_depth(::png::BitDepth::Eight);
    encoder.set_compression(::png::Compression::Best);
    encoder.set_adaptive_filter(::png::AdaptiveFilterType::Adaptive);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&rgb)?;
    writer.finish()?;
    Ok(out)
}

fn title_style(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

/// Writes a note in the middle of an area that has nothing to plot.
fn empty_note<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, note: &str) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (w, h) = area.dim_in_pixel();
    let style = title_style(18).pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Text::new(
        note.to_string(),
        (w as i32 / 2, h as i32 / 2),
        style,
    ))?;
    Ok(())
}

fn percent_label(v: f64) -> String {
    format!("{}%", short(v * 100.0))
}

/// Latency CDF per operation type (left) and its tail (right), log-scale latency.
fn latency_cdf<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, r: &Report) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let root = root.titled(
        &format!("Latency of successful requests: {}", r.scenario.name),
        title_style(22),
    )?;
    let l = &r.observed.latency_ms;
    let series = [("read", &l.read.cdf, READ), ("write", &l.write.cdf, WRITE)];
    let values = || series.iter().flat_map(|s| s.1.iter().map(|p| p.1));
    let Some(max) = values().reduce(f64::max) else {
        return empty_note(&root, "no successful request");
    };
    let sla = r.observed.sla.sla_ms;
    // Whole decades, so that the axis is labelled at 1, 10, 100, ...
    let min = values()
        .filter(|v| *v > 0.0)
        .reduce(f64::min)
        .unwrap_or(0.001)
        .max(0.001);
    let lo = math::powf(10.0, math::log10(min * 0.999).floor());
    let hi = math::powf(10.0, math::log10(max.max(sla) * 1.05).ceil());
    let clamp = |v: f64| v.max(lo);
    let panels = root.split_evenly((1, 2));

    let mut cdf = latency_panel(&panels[0], "CDF", lo..hi, 0.0..1.0)?;
    draw_log_percent_mesh(&mut cdf, LATENCY_MS, "fraction of requests at or below")?;
    for (name, points, color) in &series {
        if points.is_empty() {
            continue;
        }
        cdf.draw_series(LineSeries::new(
            points.iter().map(|(q, ms)| (clamp(*ms), *q)),
            color.stroke_width(2),
        ))?
        .label(*name)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    cdf.draw_series(DashedLineSeries::new(
        [(sla, 0.0), (sla, 1.0)],
        6,
        4,
        GREY.stroke_width(1),
    ))?
    .label(format!("SLA {} ms", short(sla)))
    // Dashed in the legend too, as the line it names (issue 19: it was drawn solid).
    .legend(|(x, y)| {
        EmptyElement::at((x, y))
            + PathElement::new(vec![(0, 0), (6, 0)], GREY.stroke_width(1))
            + PathElement::new(vec![(10, 0), (16, 0)], GREY.stroke_width(1))
    });
    cdf.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()?;

    // The tail: 1 - q on a log scale, down to 1 in 10,000 requests.
    let mut tail = latency_panel(&panels[1], "tail", lo..hi, log_axis(0.00005..1.0))?;
    draw_log_percent_mesh(&mut tail, LATENCY_MS, "fraction of requests slower")?;
    for (name, points, color) in &series {
        let pts: Vec<(f64, f64)> = points
            .iter()
            .filter(|(q, _)| *q < 1.0)
            .map(|(q, ms)| (clamp(*ms), 1.0 - q))
            .collect();
        if pts.is_empty() {
            continue;
        }
        tail.draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    tail.draw_series(DashedLineSeries::new(
        [(sla, 0.00005), (sla, 1.0)],
        6,
        4,
        GREY.stroke_width(1),
    ))?;
    tail.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()?;
    Ok(())
}

/// The latency panels' axis description.
const LATENCY_MS: &str = "latency (ms, log scale)";

/// A chart with a log axis across (latency, or t).
type LogXChart<'a, DB, Y> = ChartContext<'a, DB, Cartesian2d<LogAxis, Y>>;

/// A panel of the latency figure: latency in ms on a log axis across, `y` up.
fn latency_panel<'a, DB: DrawingBackend, Y: AsRangedCoord<Value = f64>>(
    area: &'a DrawingArea<DB, Shift>,
    caption: &str,
    latency_ms: std::ops::Range<f64>,
    y: Y,
) -> Result<LogXChart<'a, DB, Y::CoordDescType>, Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    Ok(ChartBuilder::on(area)
        .caption(caption, title_style(16))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(log_axis(latency_ms), y)?)
}

/// The grid and labels of a chart with ms on a log axis across (`x_desc`) and a fraction,
/// labelled in per cent, up (`y_desc`): the latency panels and t-visibility.
fn draw_log_percent_mesh<DB: DrawingBackend, Y>(
    chart: &mut LogXChart<'_, DB, Y>,
    x_desc: &str,
    y_desc: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|v| short(*v))
        .y_label_formatter(&|v| percent_label(*v))
        .light_line_style(BLACK.mix(0.04))
        .bold_line_style(BLACK.mix(0.2))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 15))
        .draw()?;
    Ok(())
}

/// P(read not stale | t), one step per t-visibility bin that holds reads.
fn t_visibility<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, r: &Report) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let c = &r.observed.consistency;
    let root = root.titled(
        &format!("t-visibility: {}", r.scenario.name),
        title_style(22),
    )?;
    // (lower, upper, p_fresh, reads) with log-friendly edges: the first bin starts at half
    // its upper edge, the open last bin ends at twice its lower edge.
    let bins: Vec<(f64, f64, f64, u64)> = c
        .t_visibility
        .iter()
        .filter_map(|b| {
            let p = b.p_fresh?;
            let upper = b.to_ms.unwrap_or(b.from_ms * 2.0);
            let lower = if b.from_ms > 0.0 {
                b.from_ms
            } else {
                upper / 2.0
            };
            Some((lower, upper, p, b.reads))
        })
        .collect();
    if bins.is_empty() {
        return empty_note(
            &root,
            "no judged read (no read followed an acknowledged write)",
        );
    }
    let lo = bins.iter().map(|b| b.0).fold(f64::INFINITY, f64::min);
    let hi = bins.iter().map(|b| b.1).fold(0.0, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "{} judged reads, {} stale; N={} {}",
                c.judged_reads,
                c.stale_reads,
                r.scenario.replication.n,
                r.scenario.quorum_label()
            ),
            title_style(15),
        )
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(65)
        .build_cartesian_2d(log_axis(lo..hi), 0.0..1.05)?;
    let x_desc = "t = read start - ack of the newest write before it (ms, log scale)";
    draw_log_percent_mesh(&mut chart, x_desc, "P(read not stale | t)")?;
    chart.draw_series(LineSeries::new(
        bins.iter().map(|b| ((b.0 * b.1).sqrt(), b.2)),
        READ.mix(0.5).stroke_width(1),
    ))?;
    chart.draw_series(
        bins.iter()
            .map(|b| PathElement::new(vec![(b.0, b.2), (b.1, b.2)], READ.stroke_width(3))),
    )?;
    chart
        .draw_series(
            bins.iter()
                .map(|b| Circle::new(((b.0 * b.1).sqrt(), b.2), 4, READ.filled())),
        )?
        .label("P(not stale) per bin of t")
        .legend(|(x, y)| Circle::new((x + 10, y), 4, READ.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()?;
    Ok(())
}

/// Fault windows (start, end) in seconds, from the resolved faults.
fn fault_windows(r: &Report) -> Vec<(f64, f64)> {
    r.faults
        .iter()
        .map(|f| (f.at_s, f.end_s.unwrap_or(r.simulated_s)))
        .collect()
}

/// Each fault's label (its kind, and its first node when it names nodes) and the row it
/// sits on: a label that would run into an earlier one on a row goes one row down, so
/// overlapping windows stay readable. `seconds_per_char`: a character's width in seconds.
fn fault_labels(
    faults: &[crate::faults::ResolvedFault],
    seconds_per_char: f64,
) -> Vec<(f64, usize, String)> {
    let mut row_ends: Vec<f64> = Vec::new();
    let mut out = Vec::new();
    for f in faults {
        let label = match f.nodes.first() {
            Some(node) if f.nodes.len() == 1 => format!("{} {node}", f.kind.replace('_', " ")),
            Some(node) => format!("{} {node}…", f.kind.replace('_', " ")),
            None => f.kind.replace('_', " "),
        };
        let end = f.at_s + seconds_per_char * (label.chars().count() + 2) as f64;
        let row = match row_ends.iter().position(|e| *e <= f.at_s) {
            Some(row) => row,
            None => {
                row_ends.push(0.0);
                row_ends.len() - 1
            }
        };
        row_ends[row] = end;
        out.push((f.at_s, row, label));
    }
    out
}

/// Splits a series with gaps into runs of consecutive points.
fn runs(points: impl Iterator<Item = (f64, Option<f64>)>) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (x, y) in points {
        match y {
            Some(y) => out.last_mut().map(|run| run.push((x, y))).unwrap_or(()),
            None if out.last().is_some_and(|run| !run.is_empty()) => out.push(Vec::new()),
            None => {}
        }
    }
    out.retain(|run| !run.is_empty());
    out
}

/// A line series drawn as runs of consecutive points: (legend, colour, runs).
type Series<'a> = (&'a str, RGBColor, Vec<Vec<(f64, f64)>>);

/// Space above the highest value, so the legend in the upper right covers no data.
const HEADROOM: f64 = 1.45;

struct Panel<'a> {
    /// Where the legend goes: availability sits near the top, the others near the bottom.
    legend: SeriesLabelPosition,
    title: &'a str,
    y_desc: &'a str,
    y_range: (f64, f64),
    percent: bool,
    series: Vec<Series<'a>>,
}

/// Availability, p99 latency, stale reads, hint backlog with divergent keys, and (with
/// bounded resources) the longest queues, against simulated time, fault windows shaded.
// long: one four- or five-panel plotters figure drawn top to bottom with shared axes state; a split
// into one helper per panel is planned (see ARCHITECTURE.md, known debts).
fn timeline<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, r: &Report) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let root = root.titled(
        &format!(
            "Timeline: {} (shaded: fault windows; one point per {} s)",
            r.scenario.name, r.scenario.metrics.timeline_interval_s
        ),
        title_style(20),
    )?;
    let t = &r.timeline;
    if t.is_empty() {
        return empty_note(&root, "no timeline interval");
    }
    let mid = |p: &TimelinePoint| (p.from_s + p.to_s) / 2.0;
    let series = |f: fn(&TimelinePoint) -> Option<f64>| runs(t.iter().map(|p| (mid(p), f(p))));
    // Counts measured when an interval closes are drawn where it closes, not mid-interval.
    let at_end = |f: fn(&TimelinePoint) -> Option<f64>| runs(t.iter().map(|p| (p.to_s, f(p))));
    let max_of = |f: fn(&TimelinePoint) -> Option<f64>| t.iter().filter_map(f).fold(0.0, f64::max);

    let min_avail = t
        .iter()
        .flat_map(|p| [p.read_availability, p.write_availability])
        .flatten()
        .fold(1.0, f64::min);
    let gap = (1.0 - min_avail).max(0.01) * 1.15;
    let p99_max = max_of(|p| p.read_p99_ms).max(max_of(|p| p.write_p99_ms));
    let stale_max = max_of(|p| p.stale_read_fraction);
    let count_max = t
        .iter()
        .map(|p| p.hint_backlog.max(p.divergent_keys))
        .max()
        .unwrap_or(0) as f64;
    let mut panels = vec![
        Panel {
            legend: SeriesLabelPosition::LowerRight,
            title: "availability (ok / attempted)",
            y_desc: "availability",
            y_range: ((1.0 - gap).max(0.0), 1.0 + gap * 0.08),
            percent: true,
            series: vec![
                ("read", READ, series(|p| p.read_availability)),
                ("write", WRITE, series(|p| p.write_availability)),
            ],
        },
        Panel {
            legend: SeriesLabelPosition::UpperRight,
            title: "p99 latency of successful requests",
            y_desc: "p99 (ms)",
            y_range: (0.0, (p99_max * HEADROOM).max(1.0)),
            percent: false,
            series: vec![
                ("read", READ, series(|p| p.read_p99_ms)),
                ("write", WRITE, series(|p| p.write_p99_ms)),
            ],
        },
        Panel {
            legend: SeriesLabelPosition::UpperRight,
            title: "stale reads (of judged reads)",
            y_desc: "stale",
            y_range: (0.0, (stale_max * HEADROOM).max(0.01)),
            percent: true,
            series: vec![("stale reads", THIRD, series(|p| p.stale_read_fraction))],
        },
        Panel {
            legend: SeriesLabelPosition::UpperRight,
            title: "hint backlog and divergent keys (at the end of each interval)",
            y_desc: "count",
            y_range: (0.0, (count_max * HEADROOM).max(1.0)),
            percent: false,
            series: vec![
                ("hints held", READ, at_end(|p| Some(p.hint_backlog as f64))),
                (
                    "divergent keys",
                    WRITE,
                    at_end(|p| Some(p.divergent_keys as f64)),
                ),
            ],
        },
    ];
    // With bounded resources: the longest disk and CPU queue of any node, sampled as
    // each interval closes.
    let queue_max = t
        .iter()
        .filter_map(|p| p.queues.as_ref())
        .flat_map(|q| [q.disk_queue_max, q.cpu_queue_max])
        .flatten()
        .max();
    if let Some(queue_max) = queue_max {
        panels.push(Panel {
            legend: SeriesLabelPosition::UpperRight,
            title: "longest queue on any node (jobs waiting, at the end of each interval)",
            y_desc: "jobs",
            y_range: (0.0, (queue_max as f64 * HEADROOM).max(1.0)),
            percent: false,
            series: vec![
                (
                    "disk",
                    READ,
                    at_end(|p| p.queues.as_ref()?.disk_queue_max.map(f64::from)),
                ),
                (
                    "CPU",
                    WRITE,
                    at_end(|p| p.queues.as_ref()?.cpu_queue_max.map(f64::from)),
                ),
            ],
        });
    }
    let windows = fault_windows(r);
    let end_s = r.simulated_s.max(t.last().map_or(0.0, |p| p.to_s));
    let areas = root.split_evenly((panels.len(), 1));
    for (panel, area) in panels.iter().zip(&areas) {
        let (y0, y1) = panel.y_range;
        let mut chart = ChartBuilder::on(area)
            .caption(panel.title, title_style(15))
            .margin(8)
            .x_label_area_size(35)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..end_s, y0..y1)?;
        let percent = panel.percent;
        chart
            .configure_mesh()
            .x_desc("simulated time (s)")
            .y_desc(panel.y_desc)
            .x_label_formatter(&|v| short(*v))
            .y_label_formatter(&|v| {
                if percent {
                    percent_label(*v)
                } else {
                    short(*v)
                }
            })
            .light_line_style(BLACK.mix(0.04))
            .bold_line_style(BLACK.mix(0.2))
            .y_labels(6)
            .x_labels(15)
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()?;
        chart.draw_series(
            windows
                .iter()
                .map(|(a, b)| Rectangle::new([(*a, y0), (b.min(end_s), y1)], FAULT.filled())),
        )?;
        if std::ptr::eq(panel, &panels[0]) {
            // The first panel names the windows (about 6 px a character at 11 px).
            let plot_px = f64::from(area.dim_in_pixel().0.saturating_sub(90).max(1));
            let labels = fault_labels(&r.faults, 6.0 * end_s / plot_px);
            let row_height = (y1 - y0) * 0.075;
            let style = (FONT, 11).into_font().color(&RGBColor(155, 44, 44));
            chart.draw_series(labels.iter().map(|(at, row, label)| {
                let y = y1 - row_height * (*row as f64 + 0.3);
                Text::new(label.clone(), (*at + end_s * 0.003, y), style.clone())
            }))?;
        }
        for (name, color, runs) in &panel.series {
            let color = *color;
            for (i, run) in runs.iter().enumerate() {
                let drawn = if run.len() == 1 {
                    chart.draw_series(std::iter::once(Circle::new(run[0], 3, color.filled())))?
                } else {
                    chart
                        .draw_series(LineSeries::new(run.iter().copied(), color.stroke_width(2)))?
                };
                if i == 0 {
                    drawn.label(*name).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                }
            }
        }
        chart
            .configure_series_labels()
            .position(panel.legend.clone())
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font((FONT, 12))
            .draw()?;
    }
    Ok(())
}

/// How many versions successful reads returned (log-scale counts), next to Dynamo §6.3.
fn versions_per_read<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, r: &Report) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let v = &r.observed.consistency.versions_per_read;
    let root = root.titled(
        &format!("Versions per successful read: {}", r.scenario.name),
        title_style(22),
    )?;
    let counts = [v.zero, v.one, v.two, v.three, v.four_or_more];
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return empty_note(&root, "no successful read");
    }
    let labels = ["0 (not found)", "1", "2", "3", "4+"];
    let max = counts.iter().copied().max().unwrap_or(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Dynamo (SOSP 2007, 6.3): 99.94% of requests saw one version, 0.00057% two, 0.00047% three, 0.00009% four",
            title_style(14).color(&GREY),
        )
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (0u32..4u32).into_segmented(),
            log_axis(0.5..max * 8.0),
        )?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("versions (siblings) returned")
        .y_desc("reads (log scale)")
        .x_label_formatter(&|s| match s {
            SegmentValue::CenterOf(i) => labels.get(*i as usize).unwrap_or(&"").to_string(),
            _ => String::new(),
        })
        .y_label_formatter(&|v| count(v.round() as u64))
        .light_line_style(BLACK.mix(0.04))
        .bold_line_style(BLACK.mix(0.2))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 15))
        .draw()?;
    chart.draw_series(
        counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| {
                let i = i as u32;
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.5),
                        (SegmentValue::Exact(i + 1), *n as f64),
                    ],
                    READ.filled(),
                );
                bar.set_margin(0, 0, 18, 18);
                bar
            }),
    )?;
    let text = title_style(14).pos(Pos::new(HPos::Center, VPos::Bottom));
    chart.draw_series(counts.iter().enumerate().map(|(i, n)| {
        let share = *n as f64 / total as f64 * 100.0;
        let label = if *n == 0 {
            "0".to_string()
        } else {
            format!("{} ({})", count(*n), percent_of(share))
        };
        Text::new(
            label,
            (SegmentValue::CenterOf(i as u32), (*n as f64).max(0.5) * 1.3),
            text.clone(),
        )
    }))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::ResolvedFault;

    fn fault(kind: &'static str, at_s: f64, nodes: &[&str]) -> ResolvedFault {
        ResolvedFault {
            index: 0,
            kind,
            at_s,
            end_s: Some(at_s + 30.0),
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            crash_windows: None,
            first_crashes: Vec::new(),
        }
    }

    #[test]
    fn overlapping_fault_labels_take_rows_of_their_own() {
        let faults = [
            fault("crash", 10.0, &["east-1"]),
            fault("partition", 12.0, &[]),
            fault("slow_node", 100.0, &["a", "b"]),
        ];
        let labels = fault_labels(&faults, 1.0);
        assert_eq!(labels[0], (10.0, 0, "crash east-1".to_string()));
        assert_eq!(
            labels[1],
            (12.0, 1, "partition".to_string()),
            "runs into the first"
        );
        assert_eq!(
            labels[2],
            (100.0, 0, "slow node a…".to_string()),
            "room again on row 0"
        );
    }
}
