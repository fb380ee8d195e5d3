//! The sweep's pictures, each as SVG and PNG: heatmaps over (R, W) of the key metrics, one
//! set per value of any other grid axes, and the latency-versus-staleness trade-off with
//! its Pareto front. Every figure is drawn by one function generic over the plotters
//! backend, with the bundled font, into memory, then written atomically; the same inputs
//! give the same bytes.

use super::grid::{Plan, display_value, point_id};
use super::stats::{
    Better, METRICS, Metric, READ_AVAILABILITY, READ_P999, STALE_READ_FRACTION, Setting,
    WRITE_AVAILABILITY, WRITE_P999, format_half_width, format_value,
};
use crate::error::Failure;
use crate::report::{font, write_atomic};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub const PLOTS_DIR: &str = "plots";
pub const R_PATH: &str = "replication.r";
pub const W_PATH: &str = "replication.w";

const HEATMAP_METRICS: [usize; 5] = [
    READ_AVAILABILITY,
    WRITE_AVAILABILITY,
    STALE_READ_FRACTION,
    READ_P999,
    WRITE_P999,
];

/// Draws every plot into `out/plots/` and returns one line per plot (or per reason for a
/// missing one) for sweep.md.
pub fn write_all(out: &Path, plan: &Plan, settings: &[Setting]) -> Result<Vec<String>, Failure> {
    let dir = out.join(PLOTS_DIR);
    let mut notes = Vec::new();
    let mut drawn: Vec<String> = Vec::new();
    match (plan.axis(R_PATH), plan.axis(W_PATH)) {
        (Some(r), Some(w)) => match heatmaps(plan, settings, r, w) {
            Ok(maps) => {
                for heatmap in maps {
                    render(&heatmap, &dir, &heatmap.stem)?;
                    drawn.push(heatmap.stem.clone());
                    notes.push(format!(
                        "[`{PLOTS_DIR}/{stem}.svg`]({PLOTS_DIR}/{stem}.svg) (and `.png`): {what}",
                        stem = heatmap.stem,
                        what = heatmap.title
                    ));
                }
            }
            Err(note) => notes.push(note),
        },
        _ => notes.push(format!(
            "No heatmaps: they need both `{R_PATH}` and `{W_PATH}` on the grid, e.g. \
             `--grid {R_PATH}=1,2,3 --grid {W_PATH}=1,2,3`."
        )),
    }
    let tradeoff = Tradeoff::new(plan, settings);
    if tradeoff.points.is_empty() {
        notes.push(
            "No trade-off plot: no setting has both a stale-read fraction and a p99.9 latency."
                .into(),
        );
    } else {
        render(&tradeoff, &dir, "tradeoff")?;
        drawn.push("tradeoff".into());
        notes.push(format!(
            "[`{PLOTS_DIR}/tradeoff.svg`]({PLOTS_DIR}/tradeoff.svg) (and `.png`): p99.9 latency (the worse of \
             reads and writes) against stale-read fraction, one point per setting; red points are \
             Pareto-optimal, joined by the front."
        ));
    }
    remove_stale_plots(&dir, &drawn)?;
    Ok(notes)
}

/// Removes plots an earlier summary of this folder drew and this one did not (a sweep
/// taken over with `--force`, a grid without R or W): sweep.md must not sit beside
/// heatmaps it says do not exist. Only the names this module draws are touched.
fn remove_stale_plots(dir: &Path, drawn: &[String]) -> Result<(), Failure> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(()); // no plots folder: nothing stale
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let (Some(stem), Some(ext)) = (path.file_stem(), path.extension()) else {
            continue;
        };
        let stem = stem.to_string_lossy();
        let ours = stem.starts_with("heatmap-") || stem == "tradeoff";
        if ours && (ext == "svg" || ext == "png") && !drawn.iter().any(|d| *d == stem) {
            std::fs::remove_file(&path).map_err(|e| Failure::cannot("remove", &path, e))?;
        }
    }
    Ok(())
}

/// A figure that can draw itself on any plotters backend.
trait Figure {
    const SIZE: (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

fn render<F: Figure>(figure: &F, dir: &Path, stem: &str) -> Result<(), Failure> {
    font::ensure_registered();
    let fail = |what: &str, e: String| Failure::trouble(format!("cannot {what} {stem}: {e}"));
    let (w, h) = F::SIZE;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        figure.draw(&root).map_err(|e| fail("draw", e))?;
        root.present().map_err(|e| fail("draw", e.to_string()))?;
    }
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        figure.draw(&root).map_err(|e| fail("draw", e))?;
        root.present().map_err(|e| fail("draw", e.to_string()))?;
    }
    let png = encode_png(&rgb, w, h).map_err(|e| fail("encode", e.to_string()))?;
    for (ext, bytes) in [("svg", svg.as_bytes()), ("png", png.as_slice())] {
        let path = dir.join(format!("{stem}.{ext}"));
        write_atomic(&path, bytes).map_err(|e| Failure::cannot("write", &path, e))?;
    }
    Ok(())
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(bytes)
}

fn text(size: f64) -> TextStyle<'static> {
    TextStyle::from((font::FAMILY, size).into_font())
}

fn centered(size: f64, color: RGBColor) -> TextStyle<'static> {
    TextStyle {
        color: color.to_backend_color(),
        pos: Pos::new(HPos::Center, VPos::Center),
        ..text(size)
    }
}

fn drawn<E: std::fmt::Display>(r: Result<(), E>) -> Result<(), String> {
    r.map_err(|e| e.to_string())
}

const INK: RGBColor = RGBColor(30, 30, 30);
const MUTED: RGBColor = RGBColor(110, 110, 110);
const NO_DATA: RGBColor = RGBColor(222, 222, 222);

/// Viridis, sampled at five stops: dark purple (worst) to yellow (best). Perceptually even
/// and readable by most colour-blind people.
fn viridis(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

enum Cell {
    Invalid,
    Missing,
    Value { mean: f64, half: Option<f64> },
}

struct Heatmap {
    stem: String,
    title: String,
    subtitle: String,
    metric: &'static Metric,
    /// R values, bottom row first.
    rows: Vec<String>,
    /// W values, left column first.
    cols: Vec<String>,
    /// `cells[row][col]`.
    cells: Vec<Vec<Cell>>,
}

/// One heatmap per key metric and per combination of the grid's other axes.
/// Heatmaps multiply with the values of the other axes; past this many slices a note says
/// to narrow the grid instead of writing hundreds of files.
const MAX_HEATMAP_SLICES: usize = 24;

/// A grid point's values as a map key (serializing JSON values cannot fail).
fn key_of(values: &[serde_json::Value]) -> String {
    serde_json::to_string(values).unwrap_or_default()
}

fn heatmaps(plan: &Plan, settings: &[Setting], r: usize, w: usize) -> Result<Vec<Heatmap>, String> {
    let others: Vec<usize> = (0..plan.axes.len()).filter(|&a| a != r && a != w).collect();
    let other_names: Vec<String> = others.iter().map(|&a| plan.axis_names[a].clone()).collect();
    let mut slices: Vec<Vec<serde_json::Value>> = Vec::new();
    let mut seen = BTreeSet::new();
    for c in &plan.combinations {
        let key: Vec<_> = others.iter().map(|&a| c.values[a].clone()).collect();
        if seen.insert(key_of(&key)) {
            slices.push(key);
        }
    }
    if slices.len() > MAX_HEATMAP_SLICES {
        return Err(format!(
            "No heatmaps: the grid's other axes make {} (R, W) slices, more than {MAX_HEATMAP_SLICES} \
             sets of heatmaps; sweep fewer of their values to get them.",
            slices.len()
        ));
    }
    let index: BTreeMap<String, usize> = plan
        .combinations
        .iter()
        .enumerate()
        .map(|(i, c)| (key_of(&c.values), i))
        .collect();
    let mut setting_of = vec![None; plan.combinations.len()];
    for (i, s) in settings.iter().enumerate() {
        setting_of[s.combination] = Some(i);
    }
    let seeds = plan.seeds.len();
    let mut maps = Vec::new();
    for slice in &slices {
        let (suffix, where_) = if others.is_empty() {
            (String::new(), String::new())
        } else {
            let label: Vec<String> = other_names
                .iter()
                .zip(slice)
                .map(|(n, v)| format!("{n}={}", display_value(v)))
                .collect();
            (
                format!("--{}", point_id(&other_names, slice)),
                format!(", {}", label.join(", ")),
            )
        };
        for &m in &HEATMAP_METRICS {
            let metric = &METRICS[m];
            let cells = plan.axes[r]
                .values
                .iter()
                .map(|rv| {
                    plan.axes[w]
                        .values
                        .iter()
                        .map(|wv| {
                            let mut point = vec![serde_json::Value::Null; plan.axes.len()];
                            point[r] = rv.clone();
                            point[w] = wv.clone();
                            for (&a, v) in others.iter().zip(slice) {
                                point[a] = v.clone();
                            }
                            let found = index.get(&key_of(&point)).copied();
                            match found {
                                Some(ci) if !plan.combinations[ci].is_valid() => Cell::Invalid,
                                Some(ci) => match setting_of[ci].map(|s| &settings[s].estimates[m])
                                {
                                    Some(e) if e.mean.is_some() => Cell::Value {
                                        mean: e.mean.unwrap_or_default(),
                                        half: e.half_width(),
                                    },
                                    _ => Cell::Missing,
                                },
                                None => Cell::Missing,
                            }
                        })
                        .collect()
                })
                .collect();
            maps.push(Heatmap {
                stem: format!("heatmap-{}{suffix}", metric.name),
                title: format!("{} over (R, W){where_}", capitalized(metric.label)),
                subtitle: format!(
                    "{}, N={}; mean of {seeds} seed{}{}; brighter is better",
                    plan.scenario_name,
                    n_of(plan),
                    if seeds == 1 { "" } else { "s" },
                    if seeds >= 2 { " ± 95% CI" } else { "" },
                ),
                metric,
                rows: plan.axes[r].values.iter().map(display_value).collect(),
                cols: plan.axes[w].values.iter().map(display_value).collect(),
                cells,
            });
        }
    }
    Ok(maps)
}

/// N as a heatmap subtitle shows it: the base value, or "varies" when N is on the grid.
fn n_of(plan: &Plan) -> String {
    if plan.axis("replication.n").is_some() {
        return "see title".into();
    }
    plan.base
        .pointer("/replication/n")
        .map(display_value)
        .unwrap_or_else(|| "?".into())
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

impl Figure for Heatmap {
    const SIZE: (u32, u32) = (680, 640);

    // long: one heatmap figure (cells, labels, axes) sharing its layout numbers; a split is
    // planned (see ARCHITECTURE.md, known debts).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (w, h) = (Self::SIZE.0 as i32, Self::SIZE.1 as i32);
        drawn(root.fill(&WHITE))?;
        drawn(root.draw(&Text::new(
            self.title.clone(),
            (w / 2, 26),
            centered(21.0, INK),
        )))?;
        drawn(root.draw(&Text::new(
            self.subtitle.clone(),
            (w / 2, 52),
            centered(14.0, MUTED),
        )))?;
        let (left, right, top, bottom) = (120, w - 30, 80, h - 140);
        let (nr, nc) = (self.rows.len().max(1) as i32, self.cols.len().max(1) as i32);
        let (cw, ch) = ((right - left) / nc, (bottom - top) / nr);
        let values: Vec<f64> = self
            .cells
            .iter()
            .flatten()
            .filter_map(|c| {
                if let Cell::Value { mean, .. } = c {
                    Some(*mean)
                } else {
                    None
                }
            })
            .collect();
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let goodness = |v: f64| {
            if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
                return 0.75;
            }
            let t = (v - lo) / (hi - lo);
            if self.metric.better == Better::Higher {
                t
            } else {
                1.0 - t
            }
        };
        // The best cell's interval: a cell whose interval overlaps it is outlined, as not
        // measurably worse (colour alone would stretch noise over the whole palette).
        let best = (self.cells.iter().flatten())
            .filter_map(|c| match c {
                Cell::Value { mean, half } => Some((*mean, half.unwrap_or(0.0))),
                _ => None,
            })
            .max_by(|a, b| goodness(a.0).total_cmp(&goodness(b.0)));
        for (ri, row) in self.cells.iter().enumerate() {
            // The first R value is the bottom row, as on a y axis.
            let y0 = bottom - (ri as i32 + 1) * ch;
            for (ci, cell) in row.iter().enumerate() {
                let x0 = left + ci as i32 * cw;
                let (fill, main, detail) = match cell {
                    Cell::Invalid => (NO_DATA, "invalid".to_string(), None),
                    Cell::Missing => (NO_DATA, "n/a".to_string(), None),
                    Cell::Value { mean, half } => {
                        let detail = half.map(|h| format_half_width(self.metric, *mean, h));
                        (
                            viridis(goodness(*mean)),
                            format_value(self.metric, *mean),
                            detail,
                        )
                    }
                };
                drawn(root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cw, y0 + ch)],
                    fill.filled(),
                )))?;
                drawn(root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cw, y0 + ch)],
                    WHITE.stroke_width(2),
                )))?;
                if let (Cell::Value { mean, half }, Some((b, bh))) = (cell, best)
                    && (mean - b).abs() <= half.unwrap_or(0.0) + bh
                {
                    drawn(root.draw(&Rectangle::new(
                        [(x0 + 4, y0 + 4), (x0 + cw - 4, y0 + ch - 4)],
                        INK.stroke_width(3),
                    )))?;
                }
                let luminance =
                    0.299 * fill.0 as f64 + 0.587 * fill.1 as f64 + 0.114 * fill.2 as f64;
                let ink = if luminance > 140.0 { INK } else { WHITE };
                let (cx, cy) = (x0 + cw / 2, y0 + ch / 2);
                let main_y = if detail.is_some() { cy - 10 } else { cy };
                drawn(root.draw(&Text::new(main, (cx, main_y), centered(18.0, ink))))?;
                if let Some(d) = detail {
                    drawn(root.draw(&Text::new(d, (cx, cy + 14), centered(13.0, ink))))?;
                }
            }
        }
        for (ri, label) in self.rows.iter().enumerate() {
            let y = bottom - ri as i32 * ch - ch / 2;
            drawn(root.draw(&Text::new(
                label.clone(),
                (left - 16, y),
                centered(16.0, INK),
            )))?;
        }
        for (ci, label) in self.cols.iter().enumerate() {
            let x = left + ci as i32 * cw + cw / 2;
            drawn(root.draw(&Text::new(
                label.clone(),
                (x, bottom + 16),
                centered(16.0, INK),
            )))?;
        }
        drawn(root.draw(&Text::new(
            "R",
            (left - 64, (top + bottom) / 2),
            centered(20.0, INK),
        )))?;
        drawn(root.draw(&Text::new(
            "W",
            ((left + right) / 2, bottom + 46),
            centered(20.0, INK),
        )))?;
        drawn(root.draw(&Text::new(
            "R: replicas a read waits for  ·  W: replicas a write waits for",
            (w / 2, h - 60),
            centered(13.0, MUTED),
        )))?;
        drawn(root.draw(&Text::new(
            "grey: invalid setting or no value  ·  outlined: within the best setting's 95% interval",
            (w / 2, h - 40),
            centered(13.0, MUTED),
        )))?;
        if values.is_empty() {
            return Ok(());
        }
        // The colour bar: worse end on the left, better on the right, as the cells use it.
        let (bar_left, bar_right, bar_y) = (w / 2 - 120, w / 2 + 120, h - 22);
        for x in bar_left..bar_right {
            let t = f64::from(x - bar_left) / f64::from(bar_right - bar_left);
            drawn(root.draw(&Rectangle::new(
                [(x, bar_y - 7), (x + 1, bar_y + 7)],
                viridis(t).filled(),
            )))?;
        }
        let (worse, better) = if self.metric.better == Better::Higher {
            (lo, hi)
        } else {
            (hi, lo)
        };
        let side = |h: HPos| TextStyle {
            color: INK.to_backend_color(),
            pos: Pos::new(h, VPos::Center),
            ..text(13.0)
        };
        drawn(root.draw(&Text::new(
            format!("worse {}", format_value(self.metric, worse)),
            (bar_left - 8, bar_y),
            side(HPos::Right),
        )))?;
        drawn(root.draw(&Text::new(
            format!("{} better", format_value(self.metric, better)),
            (bar_right + 8, bar_y),
            side(HPos::Left),
        )))
    }
}

struct Point {
    label: String,
    stale_pct: f64,
    tail_ms: f64,
    pareto: bool,
}

struct Tradeoff {
    subtitle: String,
    points: Vec<Point>,
}

impl Tradeoff {
    fn new(plan: &Plan, settings: &[Setting]) -> Tradeoff {
        let points = settings
            .iter()
            .filter_map(|s| {
                let (stale, tail) = s.tradeoff?;
                let id = &plan.combinations[s.combination].id;
                Some(Point {
                    label: if id.is_empty() {
                        "all seeds".into()
                    } else {
                        id.clone()
                    },
                    stale_pct: stale * 100.0,
                    tail_ms: tail,
                    pareto: s.pareto,
                })
            })
            .collect();
        Tradeoff {
            subtitle: format!(
                "{}: one point per setting (mean of {} seed{}); red = Pareto-optimal, lower left is better",
                plan.scenario_name,
                plan.seeds.len(),
                if plan.seeds.len() == 1 { "" } else { "s" }
            ),
            points,
        }
    }
}

impl Figure for Tradeoff {
    const SIZE: (u32, u32) = (800, 600);

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let w = Self::SIZE.0 as i32;
        drawn(root.fill(&WHITE))?;
        let (head, body) = root.split_vertically(70);
        drawn(head.draw(&Text::new(
            "Latency versus staleness",
            (w / 2, 26),
            centered(21.0, INK),
        )))?;
        drawn(head.draw(&Text::new(
            self.subtitle.clone(),
            (w / 2, 52),
            centered(14.0, MUTED),
        )))?;
        let x_range = padded_range(self.points.iter().map(|p| p.stale_pct), 1.0);
        let y_range = padded_range(self.points.iter().map(|p| p.tail_ms), 10.0);
        let mut chart = ChartBuilder::on(&body)
            .margin(20)
            .margin_right(40)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(x_range, y_range)
            .map_err(|e| e.to_string())?;
        drawn(
            chart
                .configure_mesh()
                .x_desc("stale-read fraction (%)")
                .y_desc("p99.9 latency, worse of read and write (ms)")
                .label_style(text(13.0))
                .axis_desc_style(text(15.0))
                .light_line_style(RGBColor(235, 235, 235))
                .draw(),
        )?;
        let mut front: Vec<(f64, f64)> = self
            .points
            .iter()
            .filter(|p| p.pareto)
            .map(|p| (p.stale_pct, p.tail_ms))
            .collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
        drawn(
            chart
                .draw_series(LineSeries::new(front, RED.mix(0.5).stroke_width(2)))
                .map(|_| ()),
        )?;
        for p in &self.points {
            let style = if p.pareto {
                RED.filled()
            } else {
                RGBColor(90, 90, 90).stroke_width(2)
            };
            drawn(
                chart
                    .draw_series(std::iter::once(Circle::new(
                        (p.stale_pct, p.tail_ms),
                        5,
                        style,
                    )))
                    .map(|_| ()),
            )?;
        }
        // Settings often share a point (every R+W>N setting is fresh without faults): points
        // within a few pixels get one label listing them all, and a label that would still
        // overlap another (or run off the figure) moves to the nearest free spot, with a
        // leader line back to its point.
        let mut groups: Vec<((i32, i32), Vec<&Point>)> = Vec::new();
        let ordered = self
            .points
            .iter()
            .filter(|p| p.pareto)
            .chain(self.points.iter().filter(|p| !p.pareto));
        for p in ordered {
            let at = chart.backend_coord(&(p.stale_pct, p.tail_ms));
            match groups
                .iter_mut()
                .find(|(g, _)| (g.0 - at.0).abs() <= 4 && (g.1 - at.1).abs() <= 4)
            {
                Some((_, members)) => members.push(p),
                None => groups.push((at, vec![p])),
            }
        }
        let mut placed: Vec<(i32, i32, i32, i32)> = Vec::new();
        for ((px, py), members) in groups {
            const SHOWN: usize = 4;
            let mut label = members
                .iter()
                .take(SHOWN)
                .map(|p| p.label.as_str())
                .collect::<Vec<_>>()
                .join("  ");
            if members.len() > SHOWN {
                label.push_str(&format!("  +{} more", members.len() - SHOWN));
            }
            let pareto = members[0].pareto;
            let style = text(12.0).color(if pareto { &RED } else { &MUTED });
            let (tw, th) = root
                .estimate_text_size(&label, &style)
                .map_err(|e| e.to_string())?;
            let (tw, th) = (tw as i32, th as i32 + 3);
            let (x, y) = label_spot((px, py), (tw, th), &placed, Self::SIZE);
            placed.push((x, y, x + tw, y + th));
            if (x, y) != (px + 10, py - 18) {
                let leader = if pareto { RED.mix(0.4) } else { MUTED.mix(0.4) };
                drawn(root.draw(&PathElement::new(
                    vec![(px + 3, py), (x - 2, y + th / 2)],
                    leader,
                )))?;
            }
            drawn(root.draw(&Text::new(label, (x, y), style)))?;
        }
        Ok(())
    }
}

/// Where a label of size `(tw, th)` for the point at `(px, py)` goes: right of the point
/// and a little above it when that is free, else the nearest free row below or above, on
/// the right or, near the figure's right edge or when the right is taken, on the left;
/// never past the figure's edges or over the y axis's labels. `placed`: the labels placed so far (x0, y0, x1, y1).
fn label_spot(
    (px, py): (i32, i32),
    (tw, th): (i32, i32),
    placed: &[(i32, i32, i32, i32)],
    (w, h): (u32, u32),
) -> (i32, i32) {
    let (w, h) = (w as i32, h as i32);
    // Inside the plot area: right of the y axis's labels (70 px), below the titles.
    let free = |x: i32, y: i32| {
        x >= 78
            && x + tw <= w - 4
            && y >= 60
            && y + th <= h - 4
            && !placed
                .iter()
                .any(|&(x0, y0, x1, y1)| x < x1 && x + tw > x0 && y < y1 && y + th > y0)
    };
    // A label too wide for either side is slid along its row to fit the figure.
    let (right, left) = (px + 10, px - 10 - tw);
    let slid = right.min(w - 4 - tw).max(78);
    for step in 0..60 {
        for dy in [step * th, -step * th] {
            for x in [right, left, slid] {
                if free(x, py - 18 + dy) {
                    return (x, py - 18 + dy);
                }
            }
        }
    }
    (slid, py - 18)
}

/// An axis range around the data, zoomed in (the settings of one sweep often differ by a
/// few percent) but never below zero, with extra room above for labels; `min_span` is used
/// when every value is the same.
fn padded_range(values: impl Iterator<Item = f64>, min_span: f64) -> std::ops::Range<f64> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return 0.0..min_span;
    }
    let pad = ((hi - lo) * 0.15).max(min_span / 2.0);
    (lo - pad).max(0.0)..hi + pad * 1.5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_flip_left_at_the_edge_and_step_aside_when_taken() {
        let size = (800, 600);
        assert_eq!(label_spot((300, 300), (100, 15), &[], size), (310, 282));
        // Near the right edge the label goes to the left of its point.
        assert_eq!(label_spot((760, 300), (100, 15), &[], size), (650, 282));
        // Taken on the right: the left; taken on both sides: the next row down.
        let right = (310, 282, 410, 297);
        assert_eq!(
            label_spot((300, 300), (100, 15), &[right], size),
            (190, 282)
        );
        let left = (190, 282, 290, 297);
        assert_eq!(
            label_spot((300, 300), (100, 15), &[right, left], size),
            (310, 297)
        );
    }

    #[test]
    fn viridis_runs_from_purple_to_yellow() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(2.0), viridis(1.0));
        assert_eq!(viridis(0.5), RGBColor(33, 145, 140));
    }
}
