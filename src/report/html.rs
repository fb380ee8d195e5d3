//! `report.html`: one self-contained page per run (no network: the CSS, the chart code and
//! the report itself are inline) with the digest, the headline numbers, the charts the
//! browser playground draws (hover values, labelled fault windows, a zoom on the timeline)
//! and summary.md. The chart code is the playground's own (web/charts.js), so the two
//! pages draw the same figures from the same report.json.

use super::Report;
use std::fmt::Write;

/// web/charts.js as a classic script (an inline module could not be read from a file://
/// page in every browser): its `export` keywords are dropped.
fn chart_code() -> String {
    include_str!("../../web/charts.js")
        .replace("export function ", "function ")
        .replace("export const ", "const ")
}

const STYLE: &str = "
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0 auto; max-width: 1180px; padding: 12px 24px; color: #1d1d1f; }
h1 { font-size: 22px; margin: 4px 0; } h2 { font-size: 17px; margin: 18px 0 6px; } h3 { font-size: 15px; }
.lede { color: #444; } .digest { font: 13px ui-monospace, monospace; background: #f3f4f6; padding: 6px 8px; border-radius: 5px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.num { text-align: right; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 10px; }
svg.chart { width: 100%; height: auto; border: 1px solid #eef0f2; border-radius: 6px; }
svg .title { font-size: 13px; font-weight: 600; } svg .tick { font-size: 10px; fill: #555; }
svg .axis { font-size: 11px; fill: #333; } svg .legend { font-size: 10.5px; fill: #333; }
svg .band { font-size: 9px; fill: #9b2c2c; }
svg circle.hover { fill: transparent; } svg circle.hover:hover { fill: #333; }
.zoom { margin: 6px 0; font-size: 13px; } .zoom input { width: 80px; }
code { background: #f3f4f6; padding: 0 3px; border-radius: 3px; }
";

/// The page for `report`, with `summary_md` (summary.md's text) rendered under the charts.
pub fn render(report: &Report, report_json: &str, summary_md: &str) -> String {
    let s = &report.scenario;
    // The report's JSON is most of the page: room for it up front, not by doubling.
    let mut out = String::with_capacity(report_json.len() + 256 * 1024);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>dynasim report: {name}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>dynasim report: {name}</h1>\n<p class=\"lede\">{description}</p>\n<p class=\"digest\">digest {digest} · seed {seed} · {events} events · {simulated:.1} simulated s</p>\n",
        name = escape(&s.name),
        description = escape(&s.description),
        digest = escape(&report.digest),
        seed = report.seed,
        events = super::format::count(report.events),
        simulated = report.simulated_s,
    );
    out.push_str(&headline_table(report));
    out.push_str(
        "<h2>Charts</h2>\n<p class=\"zoom\">Timeline from <input id=\"from\" type=\"number\" step=\"any\"> to <input id=\"to\" type=\"number\" step=\"any\"> simulated s <button id=\"reset\" type=\"button\">whole run</button> (hover a point for its value)</p>\n<div id=\"charts\" class=\"charts\"></div>\n",
    );
    out.push_str("<h2>Summary</h2>\n");
    out.push_str(&markdown(summary_md));
    // `</` cannot end the script early once escaped; JSON allows `\/`. Escaped into the
    // page directly, without a second copy of the JSON.
    out.push_str("<script type=\"application/json\" id=\"report-data\">");
    for (i, piece) in report_json.split("</").enumerate() {
        if i > 0 {
            out.push_str("<\\/");
        }
        out.push_str(piece);
    }
    let _ = write!(
        out,
        "</script>\n<script>\n{charts}\n{PAGE_SCRIPT}</script>\n</body>\n</html>\n",
        charts = chart_code(),
    );
    out
}

const PAGE_SCRIPT: &str = r#"
const report = JSON.parse(document.getElementById("report-data").textContent);
const from = document.getElementById("from"), to = document.getElementById("to");
function draw() {
  const window = { from: from.value === "" ? undefined : Number(from.value), to: to.value === "" ? undefined : Number(to.value) };
  document.getElementById("charts").innerHTML = resultCharts([{ label: report.scenario.name, report }], window).join("");
}
from.onchange = to.onchange = draw;
document.getElementById("reset").onclick = () => { from.value = ""; to.value = ""; draw(); };
draw();
"#;

fn headline_table(report: &Report) -> String {
    let o = &report.observed;
    let pct = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{:.3}%", v * 100.0));
    let ms = |v: f64| format!("{v:.1} ms");
    let rows: Vec<(&str, String)> = vec![
        ("Read availability", pct(o.availability.read)),
        ("Write availability", pct(o.availability.write)),
        (
            "Read availability during faults",
            pct(o.availability.read_during_faults),
        ),
        (
            "Write availability during faults",
            pct(o.availability.write_during_faults),
        ),
        ("Stale reads", pct(o.consistency.stale_read_fraction)),
        (
            "Read latency p50 / p99.9",
            format!(
                "{} / {}",
                ms(o.latency_ms.read.p50),
                ms(o.latency_ms.read.p999)
            ),
        ),
        (
            "Write latency p50 / p99.9",
            format!(
                "{} / {}",
                ms(o.latency_ms.write.p50),
                ms(o.latency_ms.write.p999)
            ),
        ),
        (
            "Lost acknowledged writes",
            super::format::count(report.durability.lost_writes),
        ),
        (
            "Hints stored",
            super::format::count(report.handoff.hints_stored),
        ),
        (
            "Keys still divergent at the end",
            super::format::count(report.convergence.divergent_keys_at_end),
        ),
    ];
    let mut out = String::from("<table>\n");
    for (label, value) in rows {
        let _ = writeln!(
            out,
            "<tr><td>{label}</td><td class=\"num\">{}</td></tr>",
            escape(&value)
        );
    }
    out.push_str("</table>\n");
    out
}

/// The Markdown summary.md uses (headings, tables, lists, paragraphs, `code`) as HTML.
pub fn markdown(text: &str) -> String {
    let mut out = String::new();
    let mut list = false;
    let mut table: Option<usize> = None;
    let close = |out: &mut String, list: &mut bool, table: &mut Option<usize>| {
        if *list {
            out.push_str("</ul>\n");
            *list = false;
        }
        if table.take().is_some() {
            out.push_str("</table>\n");
        }
    };
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(cells) = trimmed.strip_prefix('|').and_then(|t| t.strip_suffix('|')) {
            let cells: Vec<&str> = cells.split('|').map(str::trim).collect();
            if cells
                .iter()
                .all(|c| !c.is_empty() && c.chars().all(|ch| ch == '-' || ch == ':'))
            {
                continue;
            }
            let tag = if table.is_none() { "th" } else { "td" };
            if table.is_none() {
                close(&mut out, &mut list, &mut table);
                out.push_str("<table>\n");
            }
            table = Some(table.unwrap_or(0) + 1);
            out.push_str("<tr>");
            for c in cells {
                let _ = write!(out, "<{tag}>{}</{tag}>", inline(c));
            }
            out.push_str("</tr>\n");
            continue;
        }
        if let Some(item) = trimmed.strip_prefix("- ") {
            if !list {
                close(&mut out, &mut list, &mut table);
                out.push_str("<ul>\n");
                list = true;
            }
            let _ = writeln!(out, "<li>{}</li>", inline(item));
            continue;
        }
        close(&mut out, &mut list, &mut table);
        let level = trimmed.chars().take_while(|c| *c == '#').count();
        if (1..=4).contains(&level) && trimmed[level..].starts_with(' ') {
            let h = (level + 1).min(4);
            let _ = writeln!(out, "<h{h}>{}</h{h}>", inline(trimmed[level..].trim()));
        } else if !trimmed.is_empty() {
            let _ = writeln!(out, "<p>{}</p>", inline(trimmed));
        }
    }
    close(&mut out, &mut list, &mut table);
    out
}

/// Escapes a line and turns `code` spans and **bold** into tags.
fn inline(text: &str) -> String {
    let escaped = escape(text);
    let mut out = String::new();
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            for (j, piece) in part.split("**").enumerate() {
                if j % 2 == 1 {
                    let _ = write!(out, "<strong>{piece}</strong>");
                } else {
                    out.push_str(piece);
                }
            }
        }
    }
    out
}

/// Text for HTML or SVG content and attribute values (`&`, `<`, `>`, `"`).
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_markdown_becomes_tables_lists_and_headings() {
        let html = markdown(
            "# t\n\n| a | b |\n|---|---|\n| 1 | `x<y` |\n\n- one **two**\n- three\n\ntext & more\n",
        );
        assert_eq!(
            html,
            "<h2>t</h2>\n<table>\n<tr><th>a</th><th>b</th></tr>\n<tr><td>1</td><td><code>x&lt;y</code></td></tr>\n</table>\n<ul>\n<li>one <strong>two</strong></li>\n<li>three</li>\n</ul>\n<p>text &amp; more</p>\n"
        );
        assert!(
            !chart_code().contains("export "),
            "charts.js must load as a classic script"
        );
    }
}
