// Small SVG charts drawn from report.json: lines over time, CDFs and bars. Two runs can
// share a chart (the pinned run A dashed, the current run B solid), and fault windows
// are shaded. No library: a few hundred lines are enough and load with the page.

const W = 460;
const H = 230;
const PAD = { left: 52, right: 12, top: 26, bottom: 40 };
export const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function ticks(min, max, count) {
  const span = max - min || 1;
  const step0 = span / count;
  const mag = Math.pow(10, Math.floor(Math.log10(step0)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) || mag * 10;
  const out = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

const fmt = (v) => (Math.abs(v) >= 1000 ? v.toLocaleString("en-US") : String(+v.toPrecision(4)));

// series: [{ name, points: [[x, y]], color, dashed, step }]; opts: { title, xLabel, yLabel,
// xMin, xMax, yMin, yMax, logX, bands: [[x0, x1, label]], yPercent }. Every point carries a
// hover title with its values; fault bands are labelled, overlapping ones on rows of their own.
export function lineChart(series, opts) {
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));
  if (all.length === 0) return empty(opts.title, "no data in this run");
  const logX = !!opts.logX;
  const tx = (x) => (logX ? Math.log10(Math.max(x, 1e-3)) : x);
  let xMin = opts.xMin ?? Math.min(...all.map((p) => p[0]));
  let xMax = opts.xMax ?? Math.max(...all.map((p) => p[0]));
  if (logX) xMin = Math.max(xMin, 0.01);
  let yMin = opts.yMin ?? Math.min(0, ...all.map((p) => p[1]));
  let yMax = opts.yMax ?? Math.max(...all.map((p) => p[1]));
  if (yMax <= yMin) yMax = yMin + 1;
  if (xMax <= xMin) xMax = xMin + 1;
  const [a, b] = [tx(xMin), tx(xMax)];
  const px = (x) => PAD.left + ((tx(x) - a) / (b - a)) * (W - PAD.left - PAD.right);
  const py = (y) => H - PAD.bottom - ((y - yMin) / (yMax - yMin)) * (H - PAD.top - PAD.bottom);
  const parts = [];
  const rowsEnd = [];
  for (const [x0, x1, label] of opts.bands || []) {
    const l = px(Math.max(x0, xMin));
    const r = px(Math.min(x1 ?? xMax, xMax));
    if (!(r > l)) continue;
    const name = label || "fault";
    parts.push(`<rect x="${l}" y="${PAD.top}" width="${r - l}" height="${H - PAD.top - PAD.bottom}" fill="#f3c1c1" opacity="0.45"><title>${esc(name)}: ${fmt(x0)}-${fmt(x1 ?? xMax)} s</title></rect>`);
    // The first row whose last label ends left of this one.
    let row = rowsEnd.findIndex((end) => end < l);
    if (row < 0) row = rowsEnd.push(0) - 1;
    rowsEnd[row] = l + 6 * name.length + 4;
    parts.push(`<text x="${l + 2}" y="${PAD.top + 9 + row * 10}" class="band">${esc(name)}</text>`);
  }
  const yTicks = ticks(yMin, yMax, 4);
  for (const t of yTicks) {
    const label = opts.yPercent ? `${+(t * 100).toPrecision(3)}%` : fmt(t);
    parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${py(t)}" y2="${py(t)}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${PAD.left - 5}" y="${py(t) + 4}" text-anchor="end" class="tick">${label}</text>`);
  }
  const xTicks = logX
    ? [0.01, 0.1, 1, 10, 100, 1000, 10000, 100000].filter((t) => t >= xMin * 0.999 && t <= xMax * 1.001)
    : ticks(xMin, xMax, 5);
  for (const t of xTicks) {
    parts.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${H - PAD.bottom}" y2="${H - PAD.bottom + 4}" stroke="#888"/>`);
    parts.push(`<text x="${px(t)}" y="${H - PAD.bottom + 16}" text-anchor="middle" class="tick">${fmt(t)}</text>`);
  }
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!logX || p[0] > 0) && p[0] >= xMin && p[0] <= xMax);
    if (pts.length === 0) return;
    let d = "";
    pts.forEach((p, j) => {
      const [x, y] = [px(Math.min(Math.max(p[0], xMin), xMax)), py(p[1])];
      if (j === 0) d += `M${x.toFixed(1)},${y.toFixed(1)}`;
      else if (s.step) d += `H${x.toFixed(1)}V${y.toFixed(1)}`;
      else d += `L${x.toFixed(1)},${y.toFixed(1)}`;
    });
    const color = s.color || COLORS[i % COLORS.length];
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5 3"' : ""}/>`);
    const show = (v, percent) => (percent ? `${+(v * 100).toPrecision(4)}%` : fmt(v));
    for (const p of pts) {
      const tip = `${s.name ? `${s.name}: ` : ""}${opts.xLabel ? `${fmt(p[0])} ${opts.xUnit || ""}`.trim() : fmt(p[0])} → ${show(p[1], opts.yPercent)}`;
      parts.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="3.5" class="hover"><title>${esc(tip)}</title></circle>`);
    }
  });
  parts.push(legend(series));
  return frame(opts.title, opts.xLabel, opts.yLabel, parts.join(""));
}

// groups: category labels; series: [{ name, values: [..per group], color }]
export function barChart(groups, series, opts) {
  const max = Math.max(opts.yMax ?? 0, ...series.flatMap((s) => s.values));
  if (!(max > 0)) return empty(opts.title, "no data in this run");
  const plotW = W - PAD.left - PAD.right;
  const slot = plotW / groups.length;
  const barW = (slot * 0.7) / series.length;
  const py = (y) => H - PAD.bottom - (y / max) * (H - PAD.top - PAD.bottom);
  const parts = [];
  for (const t of ticks(0, max, 4)) {
    parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${py(t)}" y2="${py(t)}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${PAD.left - 5}" y="${py(t) + 4}" text-anchor="end" class="tick">${opts.yPercent ? `${+(t * 100).toPrecision(3)}%` : fmt(t)}</text>`);
  }
  groups.forEach((g, gi) => {
    const x0 = PAD.left + gi * slot + slot * 0.15;
    series.forEach((s, si) => {
      const v = s.values[gi] || 0;
      const color = s.color || COLORS[si % COLORS.length];
      const text = opts.yPercent ? `${(v * 100).toPrecision(3)}%` : fmt(v);
      parts.push(`<rect x="${x0 + si * barW}" y="${py(v)}" width="${barW - 2}" height="${H - PAD.bottom - py(v)}" fill="${color}"${s.dashed ? ' fill-opacity="0.45"' : ""}><title>${esc(s.name)}: ${esc(g)} ${text}</title></rect>`);
    });
    parts.push(`<text x="${PAD.left + gi * slot + slot / 2}" y="${H - PAD.bottom + 16}" text-anchor="middle" class="tick">${esc(g)}</text>`);
  });
  parts.push(legend(series));
  return frame(opts.title, opts.xLabel, opts.yLabel, parts.join(""));
}

function legend(series) {
  if (series.length < 2) return "";
  return series
    .map((s, i) => {
      const x = W - PAD.right - 150;
      const y = PAD.top + 6 + i * 14;
      const color = s.color || COLORS[i % COLORS.length];
      return `<line x1="${x}" x2="${x + 18}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ""}/><text x="${x + 22}" y="${y + 4}" class="legend">${esc(s.name)}</text>`;
    })
    .join("");
}

function frame(title, xLabel, yLabel, body) {
  return `<svg viewBox="0 0 ${W} ${H}" class="chart" role="img" aria-label="${esc(title)}">
<text x="${PAD.left}" y="16" class="title">${esc(title)}</text>
<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${H - PAD.bottom}" y2="${H - PAD.bottom}" stroke="#888"/>
<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${H - PAD.bottom}" stroke="#888"/>
${body}
<text x="${(PAD.left + W - PAD.right) / 2}" y="${H - 6}" text-anchor="middle" class="axis">${esc(xLabel || "")}</text>
<text transform="translate(12 ${(PAD.top + H - PAD.bottom) / 2}) rotate(-90)" text-anchor="middle" class="axis">${esc(yLabel || "")}</text>
</svg>`;
}

function empty(title, why) {
  return frame(title, "", "", `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="axis">${esc(why)}</text>`);
}

// The five charts of a result, each overlaying every run given ([{ label, report }]);
// `window` ({ from, to }, simulated seconds) zooms the two charts over time.
export function resultCharts(runs, window = {}) {
  const dashed = (i) => runs.length > 1 && i === 0;
  const named = (run, what) => (runs.length > 1 ? `${run.label}: ${what}` : what);
  const first = runs[runs.length - 1].report;
  const bands = (first.faults || []).map((f) => [f.at_s, f.end_s ?? first.simulated_s, `${f.kind.replace(/_/g, " ")}${f.nodes && f.nodes.length ? ` ${f.nodes.slice(0, 2).join(" ")}${f.nodes.length > 2 ? "…" : ""}` : ""}`]);
  const zoom = { xMin: window.from, xMax: window.to, xUnit: "s" };
  const timeline = (pick) =>
    runs.map((run, i) => ({
      name: run.label,
      color: COLORS[i],
      dashed: dashed(i),
      points: (run.report.timeline || []).map((p) => [p.to_s, pick(p)]).filter((p) => p[1] !== null && p[1] !== undefined),
    }));
  const availability = runs.flatMap((run, i) => [
    { name: named(run, "reads"), color: COLORS[i], dashed: dashed(i), points: (run.report.timeline || []).map((p) => [p.to_s, p.read_availability]).filter((p) => p[1] != null) },
    { name: named(run, "writes"), color: COLORS[i + 2], dashed: dashed(i), points: (run.report.timeline || []).map((p) => [p.to_s, p.write_availability]).filter((p) => p[1] != null) },
  ]);
  const latency = runs.flatMap((run, i) => [
    { name: named(run, "reads"), color: COLORS[i], dashed: dashed(i), points: (run.report.latency_ms?.read?.cdf || []).map(([q, ms]) => [ms, q]) },
    { name: named(run, "writes"), color: COLORS[i + 2], dashed: dashed(i), points: (run.report.latency_ms?.write?.cdf || []).map(([q, ms]) => [ms, q]) },
  ]);
  const visibility = runs.map((run, i) => ({
    name: run.label,
    color: COLORS[i],
    dashed: dashed(i),
    step: true,
    points: (run.report.consistency?.t_visibility || []).filter((b) => b.p_fresh != null).map((b) => [Math.max(b.to_ms, 0.01), b.p_fresh]),
  }));
  const vpr = ["zero", "one", "two", "three", "four_or_more"];
  const versions = runs.map((run, i) => {
    const v = run.report.consistency?.versions_per_read || {};
    const total = vpr.reduce((s, k) => s + (v[k] || 0), 0) || 1;
    return { name: run.label, color: COLORS[i], dashed: dashed(i), values: vpr.map((k) => (v[k] || 0) / total) };
  });
  return [
    lineChart(availability, { title: "Availability per interval", xLabel: "simulated s", yLabel: "requests that succeeded", yMax: 1, yPercent: true, bands, ...zoom }),
    lineChart(timeline((p) => p.stale_read_fraction), { title: "Stale reads per interval", xLabel: "simulated s", yLabel: "share of judged reads", yPercent: true, bands, ...zoom }),
    lineChart(latency, { title: "Latency CDF", xLabel: "ms (log scale)", xUnit: "ms", yLabel: "share of requests", yMin: 0, yMax: 1, logX: true, yPercent: true }),
    lineChart(visibility, { title: "t-visibility: fresh reads by time since the write", xLabel: "ms after the write was acknowledged (log scale)", xUnit: "ms", yLabel: "P(read is fresh)", yMin: 0, yMax: 1, logX: true, yPercent: true }),
    barChart(["0", "1", "2", "3", "4+"], versions, { title: "Versions per read", xLabel: "versions returned", yLabel: "share of reads", yPercent: true }),
  ];
}
