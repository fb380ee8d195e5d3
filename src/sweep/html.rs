//! `sweep.html`: one self-contained page per finished sweep: for a two-axis grid, a heatmap
//! per headline metric (a colour bar with its scale, each cell's mean and 95% interval,
//! cells whose interval overlaps the best setting's marked, so differences within the
//! noise do not pass for real ones), then a table of every setting that sorts by any
//! column. Made from the same settings as sweep.md and sweep.json.

use super::grid::Plan;
use super::stats::{Better, METRICS, Setting, format_value as show};
use crate::report::html::escape;
use std::fmt::Write;

/// The metrics the heatmaps show (the table shows every one).
const HEATMAPS: &[&str] = &[
    "stale_read_fraction",
    "read_availability",
    "write_availability",
    "read_p999_ms",
    "write_p999_ms",
];

const STYLE: &str = "
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0 auto; max-width: 1180px; padding: 12px 24px; color: #1d1d1f; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 22px; } .lede { color: #444; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { padding: 4px 8px; border: 1px solid #e4e7eb; text-align: right; }
th { background: #f6f7f9; } th.sort { cursor: pointer; } th.sort:hover { background: #e8ecf1; }
.heat td { min-width: 92px; } .heat td.near { outline: 2px solid #111; outline-offset: -3px; }
.bar { display: flex; align-items: center; gap: 6px; font-size: 12px; margin: 2px 0 10px; }
.bar span.scale { width: 220px; height: 12px; background: linear-gradient(to right, #1a9850, #fee08b, #d73027); border-radius: 2px; }
.maps { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 8px 18px; }
small { color: #555; } .heat small { color: inherit; opacity: 0.75; }
";

pub fn render(plan: &Plan, settings: &[Setting]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>dynasim sweep: {name}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>dynasim sweep: {name}</h1>\n<p class=\"lede\">{description}</p>\n<p><small>grid {grid} · seeds {seeds} · {count} settings · fingerprint {fp}</small></p>\n",
        name = escape(&plan.scenario_name),
        description = escape(&plan.scenario_description),
        grid = escape(
            &plan
                .axes
                .iter()
                .map(|a| a.path.as_str())
                .collect::<Vec<_>>()
                .join(" × ")
        ),
        seeds = plan.seeds.len(),
        count = settings.len(),
        fp = escape(&plan.fingerprint),
    );
    if plan.axes.len() == 2 {
        out.push_str("<h2>Heatmaps</h2>\n<p><small>Each cell: the mean over seeds and its 95% interval. Colour: green is the better end of the metric's range over these settings, red the worse. An outlined cell's interval overlaps the best setting's: it is not measurably worse.</small></p>\n<div class=\"maps\">\n");
        for name in HEATMAPS {
            if let Some(m) = METRICS.iter().position(|x| x.name == *name) {
                out.push_str(&heatmap(plan, settings, m));
            }
        }
        out.push_str("</div>\n");
    }
    out.push_str(&table(plan, settings));
    out.push_str(SORT_SCRIPT);
    out.push_str("</body>\n</html>\n");
    out
}

fn heatmap(plan: &Plan, settings: &[Setting], m: usize) -> String {
    let metric = &METRICS[m];
    let means: Vec<f64> = settings.iter().filter_map(|s| s.mean(m)).collect();
    if means.is_empty() {
        return String::new();
    }
    let (lo, hi) = means
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let best = settings
        .iter()
        .filter(|s| s.mean(m).is_some())
        .max_by(|a, b| {
            let (x, y) = (a.mean(m).unwrap_or(0.0), b.mean(m).unwrap_or(0.0));
            let order = x.total_cmp(&y);
            if metric.better == Better::Higher {
                order
            } else {
                order.reverse()
            }
        });
    let best_ci = best.and_then(|s| s.estimates[m].ci95.or(s.mean(m).map(|v| [v, v])));
    let (rows, cols) = (&plan.axes[0], &plan.axes[1]);
    let mut out = format!(
        "<div><h3>{label}</h3>\n<div class=\"bar\">{better_end} <span class=\"scale\"></span> {worse_end}</div>\n<table class=\"heat\">\n<tr><th>{r} \\ {c}</th>",
        label = escape(metric.label),
        better_end = show(
            metric,
            if metric.better == Better::Higher {
                hi
            } else {
                lo
            }
        ),
        worse_end = show(
            metric,
            if metric.better == Better::Higher {
                lo
            } else {
                hi
            }
        ),
        r = escape(&plan.axis_names[0]),
        c = escape(&plan.axis_names[1]),
    );
    for v in &cols.values {
        let _ = write!(out, "<th>{}</th>", escape(&value(v)));
    }
    out.push_str("</tr>\n");
    for rv in &rows.values {
        let _ = write!(out, "<tr><th>{}</th>", escape(&value(rv)));
        for cv in &cols.values {
            let setting = settings.iter().find(|s| {
                let vals = &plan.combinations[s.combination].values;
                vals.first() == Some(rv) && vals.get(1) == Some(cv)
            });
            match setting.and_then(|s| s.mean(m).map(|mean| (s, mean))) {
                None => out.push_str("<td><small>invalid or no value</small></td>"),
                Some((s, mean)) => {
                    let badness = if hi > lo {
                        (mean - lo) / (hi - lo)
                    } else {
                        0.0
                    };
                    let badness = if metric.better == Better::Higher {
                        1.0 - badness
                    } else {
                        badness
                    };
                    let ci = s.estimates[m].ci95;
                    let near = match (ci, best_ci) {
                        (Some([a, b]), Some([x, y])) => a <= y && x <= b,
                        _ => best.is_some_and(|b| b.combination == s.combination),
                    };
                    let interval = ci
                        .map(|[a, b]| {
                            format!(
                                "<br><small>{} – {}</small>",
                                show(metric, a),
                                show(metric, b)
                            )
                        })
                        .unwrap_or_default();
                    let _ = write!(
                        out,
                        "<td class=\"{}\" style=\"background:{}\" title=\"{}\">{}{interval}</td>",
                        if near { "near" } else { "" },
                        colour(badness),
                        escape(&plan.combinations[s.combination].id),
                        show(metric, mean)
                    );
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table></div>\n");
    out
}

fn table(plan: &Plan, settings: &[Setting]) -> String {
    let mut out = String::from(
        "<h2>Every setting</h2>\n<p><small>Click a column to sort by it (again to reverse).</small></p>\n<table id=\"settings\">\n<tr><th class=\"sort\">rank</th><th class=\"sort\">setting</th><th class=\"sort\">Pareto</th>",
    );
    for m in METRICS {
        let _ = write!(out, "<th class=\"sort\">{}</th>", escape(m.label));
    }
    out.push_str("</tr>\n");
    let mut ordered: Vec<&Setting> = settings.iter().collect();
    ordered.sort_by_key(|s| s.rank);
    for s in ordered {
        let _ = write!(
            out,
            "<tr><td data-v=\"{rank}\">{rank}</td><td data-v=\"{id}\">{id}</td><td data-v=\"{p}\">{mark}</td>",
            rank = s.rank,
            id = escape(&plan.combinations[s.combination].id),
            p = u8::from(s.pareto),
            mark = if s.pareto { "yes" } else { "" },
        );
        for (m, metric) in METRICS.iter().enumerate() {
            match s.mean(m) {
                Some(v) => {
                    let _ = write!(out, "<td data-v=\"{v}\">{}</td>", show(metric, v));
                }
                None => out.push_str("<td data-v=\"\">n/a</td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

const SORT_SCRIPT: &str = r##"<script>
document.querySelectorAll("#settings th.sort").forEach((th, col) => {
  th.onclick = () => {
    const table = th.closest("table");
    const rows = [...table.rows].slice(1);
    const dir = th.dataset.dir === "asc" ? -1 : 1;
    th.dataset.dir = dir === 1 ? "asc" : "desc";
    const key = (r) => r.cells[col].dataset.v;
    rows.sort((a, b) => {
      const [x, y] = [key(a), key(b)];
      const [nx, ny] = [parseFloat(x), parseFloat(y)];
      const c = Number.isNaN(nx) || Number.isNaN(ny) ? x.localeCompare(y) : nx - ny;
      return dir * c;
    });
    rows.forEach((r) => table.tBodies[0].appendChild(r));
  };
});
</script>
"##;

/// Green (0, better) through yellow to red (1, worse).
fn colour(badness: f64) -> String {
    let t = badness.clamp(0.0, 1.0);
    let stops = [(0x1a, 0x98, 0x50), (0xfe, 0xe0, 0x8b), (0xd7, 0x30, 0x27)];
    let (a, b, f) = if t < 0.5 {
        (stops[0], stops[1], t * 2.0)
    } else {
        (stops[1], stops[2], t * 2.0 - 1.0)
    };
    let mix = |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * f).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(a.0, b.0),
        mix(a.1, b.1),
        mix(a.2, b.2)
    )
}

fn value(v: &serde_json::Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_colour_scale_runs_green_to_red() {
        assert_eq!(colour(0.0), "#1a9850");
        assert_eq!(colour(0.5), "#fee08b");
        assert_eq!(colour(1.0), "#d73027");
        assert_eq!(colour(7.0), "#d73027");
    }
}
