//! `trace.svg`: a message sequence (Lamport) diagram, written by hand so that the same
//! trace always gives the same bytes. One vertical lane per client and node involved,
//! one row per event going down (rows follow event order, with the simulated time at the
//! left, so bursts stay readable), arrows for delivered messages, a red cross where a
//! message was dropped, shaded rows while a fault was active.

use super::{Category, Trace, TraceEvent};
use crate::report::html::escape as esc;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Rows drawn at most; the diagram says how many events it left out.
pub const MAX_ROWS: usize = 300;

const ROW_PX: f64 = 18.0;
const LANE_PX: f64 = 120.0;
const LEFT_PX: f64 = 110.0;
const TOP_PX: f64 = 60.0;

pub fn render(trace: &Trace) -> String {
    let focused = trace.events.len() > MAX_ROWS && !trace.focus.is_empty();
    let events: Vec<&TraceEvent> = trace
        .events
        .iter()
        .filter(|e| !focused || super::story::in_focus(trace, e))
        .take(MAX_ROWS)
        .collect();
    let lane_x = lane_positions(&events);
    let width = LEFT_PX + LANE_PX * lane_x.len().max(1) as f64 + 260.0;
    let verdict = wrap(
        &trace.verdict.text,
        ((width - 20.0) / 6.0).max(60.0) as usize,
    );
    let rows = events.len().max(1);
    let height = TOP_PX + ROW_PX * (rows as f64 + 3.0 + verdict.len() as f64);
    let mut d = Diagram {
        events,
        lane_x,
        bottom: y(rows) + ROW_PX,
        s: String::new(),
    };
    d.header(trace, focused, width, height);
    d.fault_shading(trace);
    d.lanes();
    d.time_labels();
    d.events_drawn();
    for (i, text) in verdict.iter().enumerate() {
        let _ = writeln!(
            d.s,
            r#"<text x="10" y="{:.1}" font-size="11">{}</text>"#,
            d.bottom + ROW_PX * (i as f64 + 1.0),
            esc(text)
        );
    }
    d.s.push_str("</svg>\n");
    d.s
}

/// The vertical position of event row `row`.
fn y(row: usize) -> f64 {
    TOP_PX + ROW_PX * (row as f64 + 1.0)
}

/// Lanes: clients first, then nodes, each in name order (numeric suffixes by value).
fn lane_positions<'a>(events: &[&'a TraceEvent]) -> BTreeMap<&'a str, f64> {
    let mut lanes: Vec<&str> = Vec::new();
    for e in events {
        for n in [&e.from, &e.to].into_iter().flatten() {
            if !lanes.contains(&n.as_str()) {
                lanes.push(n.as_str());
            }
        }
    }
    lanes.sort_by_key(|n| lane_order(n));
    (lanes.iter().enumerate())
        .map(|(i, n)| (*n, LEFT_PX + LANE_PX * (i as f64 + 0.5)))
        .collect()
}

/// The diagram being drawn: the rows, where each lane stands, and the SVG so far.
struct Diagram<'a> {
    events: Vec<&'a TraceEvent>,
    lane_x: BTreeMap<&'a str, f64>,
    /// Where lanes end, below the last row.
    bottom: f64,
    s: String,
}

impl Diagram<'_> {
    fn header(&mut self, trace: &Trace, focused: bool, width: f64, height: f64) {
        let s = &mut self.s;
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans, sans-serif" font-size="10">"#
        );
        s.push_str(r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#333"/></marker></defs>"##);
        s.push('\n');
        let _ = writeln!(
            s,
            r#"<rect x="0" y="0" width="{width:.0}" height="{height:.0}" fill="white"/>"#
        );
        let _ = writeln!(
            s,
            r#"<text x="10" y="18" font-size="13" font-weight="bold">{}</text>"#,
            esc(&format!(
                "{}: {} (seed {}), key k{}",
                trace.target, trace.scenario, trace.seed, trace.key
            ))
        );
        let left_out = trace.events.len().saturating_sub(self.events.len());
        let shown = if left_out > 0 {
            format!(
                "; {} of {} recorded events drawn{}",
                self.events.len(),
                trace.events.len(),
                if focused {
                    format!(" (those of {})", trace.focus.join(", "))
                } else {
                    String::new()
                }
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            r##"<text x="10" y="34" fill="#555">{}</text>"##,
            esc(&format!(
                "time goes down, one row per event; arrows: delivered messages; red ×: dropped; shaded: fault active{shown}"
            ))
        );
    }

    /// Shades the rows whose time lies in a fault window (node faults: their lanes only).
    fn fault_shading(&mut self, trace: &Trace) {
        for f in &trace.faults {
            let (from, to) = ((f.at_s * 1e6) as u64, f.end_s.map(|e| (e * 1e6) as u64));
            let inside: Vec<usize> = (self.events.iter().enumerate())
                .filter(|(_, e)| e.time_us >= from && to.is_none_or(|t| e.time_us < t))
                .map(|(i, _)| i)
                .collect();
            let (Some(first), Some(last)) = (inside.first(), inside.last()) else {
                continue;
            };
            let (x, w) = if f.nodes.is_empty() || f.kind == "partition" {
                (LEFT_PX, LANE_PX * self.lane_x.len() as f64)
            } else {
                let xs: Vec<f64> = (f.nodes.iter())
                    .filter_map(|n| self.lane_x.get(n.as_str()).copied())
                    .collect();
                match (
                    xs.iter().cloned().reduce(f64::min),
                    xs.iter().cloned().reduce(f64::max),
                ) {
                    (Some(a), Some(b)) => (a - LANE_PX * 0.4, b - a + LANE_PX * 0.8),
                    _ => continue,
                }
            };
            let top = y(*first) - ROW_PX / 2.0;
            let h = y(*last) - y(*first) + ROW_PX;
            let _ = writeln!(
                self.s,
                r##"<rect x="{x:.1}" y="{top:.1}" width="{w:.1}" height="{h:.1}" fill="#f4b6b6" fill-opacity="0.35"/>"##
            );
            let _ = writeln!(
                self.s,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#a33">{}</text>"##,
                x + w - 3.0,
                top + 11.0,
                esc(&format!("fault #{} {}", f.index, f.kind))
            );
        }
    }

    fn lanes(&mut self) {
        for (name, x) in &self.lane_x {
            let _ = writeln!(
                self.s,
                r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#999" stroke-dasharray="3,3"/>"##,
                TOP_PX, self.bottom
            );
            let _ = writeln!(
                self.s,
                r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{}</text>"#,
                TOP_PX - 4.0,
                esc(name)
            );
        }
    }

    /// Time labels at the left, where the time changes.
    fn time_labels(&mut self) {
        let mut last_time = u64::MAX;
        for (i, e) in self.events.iter().enumerate() {
            if e.time_us != last_time {
                let _ = writeln!(
                    self.s,
                    r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">{:.6}s</text>"##,
                    LEFT_PX - 6.0,
                    y(i) + 3.0,
                    e.time_us as f64 / 1e6
                );
                last_time = e.time_us;
            }
        }
    }

    /// Arrows for sends (to their arrival rows), marks for everything else.
    fn events_drawn(&mut self) {
        let mut arrivals = self.arrival_rows();
        for i in 0..self.events.len() {
            let e = self.events[i];
            match e.category {
                Category::Send => self.send(i, e, &mut arrivals),
                Category::Deliver | Category::Drop => {}
                _ => self.mark(i, e),
            }
        }
    }

    /// Arrival rows of delivered messages (and drops at down nodes), by message identity.
    fn arrival_rows(&self) -> BTreeMap<(String, String, &'static str, u64), Vec<usize>> {
        let mut arrivals: BTreeMap<_, Vec<usize>> = BTreeMap::new();
        for (i, e) in self.events.iter().enumerate() {
            if matches!(e.category, Category::Deliver | Category::Drop)
                && let (Some(f), Some(t), Some(m)) = (&e.from, &e.to, e.message)
            {
                arrivals
                    .entry((f.clone(), t.clone(), m, e.time_us))
                    .or_default()
                    .push(i);
            }
        }
        arrivals
    }

    fn lane(&self, n: &Option<String>) -> Option<f64> {
        n.as_deref().and_then(|n| self.lane_x.get(n).copied())
    }

    fn send(
        &mut self,
        i: usize,
        e: &TraceEvent,
        arrivals: &mut BTreeMap<(String, String, &'static str, u64), Vec<usize>>,
    ) {
        let (Some(x1), Some(x2)) = (self.lane(&e.from), self.lane(&e.to)) else {
            return;
        };
        let label = esc(&short(e.message.unwrap_or(""), &e.writes));
        let y1 = y(i);
        let arrival = e.arrive_us.and_then(|t| {
            let key = (e.from.clone()?, e.to.clone()?, e.message?, t);
            let rows = arrivals.get_mut(&key)?;
            (!rows.is_empty()).then(|| rows.remove(0))
        });
        let color = if e.message.is_some_and(|m| m.starts_with("client")) {
            "#1f5fa8"
        } else {
            "#333"
        };
        let s = &mut self.s;
        match (e.fate, arrival) {
            (Some("in_flight"), Some(row)) => {
                let dropped = self.events[row].category == Category::Drop;
                let y2 = y(row);
                let _ = writeln!(
                    s,
                    r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{color}" stroke-width="1.2"{}/>"#,
                    if dropped {
                        ""
                    } else {
                        r#" marker-end="url(#arrow)""#
                    }
                );
                if dropped {
                    cross(s, x2, y2);
                }
            }
            (Some("in_flight"), None) => {
                // Arrives after the rows drawn: a dashed arrow off the bottom.
                let bottom = self.bottom;
                let _ = writeln!(
                    s,
                    r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{bottom:.1}" stroke="{color}" stroke-dasharray="4,3" marker-end="url(#arrow)"/>"#
                );
            }
            _ => {
                // Dropped as it left: a short stub from the sender towards the receiver,
                // the cross at its end, short of the next lane (a cross half-way sat on
                // another node's lane), and the receiver named in the label.
                let xm = x1 + (x2 - x1).signum() * ((x2 - x1).abs() * 0.45).min(LANE_PX * 0.4);
                let ym = y1 + ROW_PX * 0.6;
                let _ = writeln!(
                    s,
                    r##"<line x1="{x1:.1}" y1="{y1:.1}" x2="{xm:.1}" y2="{ym:.1}" stroke="#c00" stroke-width="1.2"/>"##
                );
                cross(s, xm, ym);
            }
        }
        let label = match (e.fate, arrival) {
            (Some("in_flight"), _) => label,
            _ => format!("{label} → {}", esc(e.to.as_deref().unwrap_or("?"))),
        };
        let anchor = if x2 >= x1 { "start" } else { "end" };
        let dx = if x2 >= x1 { 4.0 } else { -4.0 };
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="{anchor}" font-size="9" fill="{color}">{label}</text>"#,
            x1 + dx,
            y1 - 2.0
        );
    }

    /// A dot and text on the event's lane (or a line across when it has none).
    fn mark(&mut self, i: usize, e: &TraceEvent) {
        let Some(x) = self.lane(&e.from) else {
            // Not tied to a lane (a partition starting): a line across.
            let _ = writeln!(
                self.s,
                r##"<text x="{:.1}" y="{:.1}" fill="#a33">{}</text>"##,
                LEFT_PX + 4.0,
                y(i) + 3.0,
                esc(&e.text)
            );
            return;
        };
        let fill = match e.category {
            Category::Invoke | Category::Complete => "#1f5fa8",
            Category::Replica => "#2a8a2a",
            Category::Quorum | Category::Coordinate => "#8a5a00",
            Category::Fault => "#c00",
            _ => "#555",
        };
        let _ = writeln!(
            self.s,
            r#"<circle cx="{x:.1}" cy="{:.1}" r="3" fill="{fill}"/>"#,
            y(i)
        );
        let _ = writeln!(
            self.s,
            r#"<text x="{:.1}" y="{:.1}" fill="{fill}" font-size="9">{}</text>"#,
            x + 6.0,
            y(i) + 3.0,
            esc(&truncate(&e.text, 70))
        );
    }
}

fn cross(s: &mut String, x: f64, y: f64) {
    let d = 4.5;
    let _ = writeln!(
        s,
        r##"<path d="M {:.1} {:.1} L {:.1} {:.1} M {:.1} {:.1} L {:.1} {:.1}" stroke="#c00" stroke-width="2"/>"##,
        x - d,
        y - d,
        x + d,
        y + d,
        x - d,
        y + d,
        x + d,
        y - d
    );
}

/// Clients first, then nodes; within each, by prefix and then number.
fn lane_order(name: &str) -> (u8, String, u64) {
    let (prefix, num) = match name.rsplit_once('-') {
        Some((p, n)) => (p.to_string(), n.parse().unwrap_or(0)),
        None => (name.to_string(), 0),
    };
    (u8::from(prefix != "c"), prefix, num)
}

fn short(kind: &str, writes: &[String]) -> String {
    match writes.first() {
        Some(w) if writes.len() == 1 => format!("{kind} {w}"),
        Some(w) => format!("{kind} {w}+{}", writes.len() - 1),
        None => kind.to_string(),
    }
}

/// Splits `text` into lines of at most `width` characters at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.last_mut().expect("one line at least");
        if !last.is_empty() && last.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut t: String = text.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}
