// The playground page: scenario controls, runs in a Web Worker, results, comparison,
// share links and the tour. Everything shown comes from the run's report.json; nothing
// is computed here that the simulator did not measure.
import { PRESETS } from "./presets.js";
import { resultCharts, lineChart } from "./charts.js";

const $ = (id) => document.getElementById(id);
const DEFAULT_PRESET = "nrw-tuning";

const state = {
  scenario: null, // the scenario object the controls edit
  text: null, // its text as run (a preset's own text until something is edited)
  current: null, // { label, report, reportText, summary, staleExamples, wallMs, scenarioText }
  pinned: null, // the same, kept as A
  worker: null,
  cancel: null,
};

// ---- the WebAssembly module: fetched and compiled once, instantiated per run ----------
const modulePromise = fetch("dynasim.wasm")
  .then((r) => {
    if (!r.ok) throw new Error(`dynasim.wasm: HTTP ${r.status} (build the page with bash web/build.sh)`);
    return r.arrayBuffer();
  })
  .then((bytes) => WebAssembly.compile(bytes));

// Runs scenario text in a fresh worker; resolves with the results, rejects on a refusal
// (the simulator's validation message), an internal error, or a cancel.
async function simulate(text, onProgress) {
  const module = await modulePromise;
  stopWorker();
  return new Promise((resolve, reject) => {
    const worker = new Worker("worker.js", { type: "module" });
    state.worker = worker;
    state.cancel = () => {
      stopWorker();
      reject(new Error("cancelled"));
    };
    worker.onmessage = ({ data }) => {
      if (data.type === "progress") onProgress?.(data.now, data.endS, data.points);
      else {
        stopWorker();
        if (data.type === "done") resolve(data);
        else reject(new Error(data.message));
      }
    };
    worker.onerror = (e) => {
      stopWorker();
      reject(new Error(e.message || "the worker failed"));
    };
    worker.postMessage({ module, scenario: text });
  });
}

function stopWorker() {
  if (state.worker) state.worker.terminate();
  state.worker = null;
  state.cancel = null;
}

// ---- scenario <-> controls ------------------------------------------------------------
const get = (obj, path, fallback) => path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj) ?? fallback;
function set(obj, path, value) {
  const keys = path.split(".");
  let o = obj;
  for (const k of keys.slice(0, -1)) o = o[k] ??= {};
  o[keys[keys.length - 1]] = value;
}

function loadScenarioText(text, { keepText = true } = {}) {
  const scenario = JSON.parse(text);
  state.scenario = scenario;
  state.text = keepText ? text : JSON.stringify(scenario, null, 2);
  render();
}

function edited() {
  state.text = JSON.stringify(state.scenario, null, 2);
  render();
}

const nodeNames = (s) => (get(s, "cluster.datacenters", []) || []).flatMap((dc) => Array.from({ length: dc.nodes || 0 }, (_, i) => `${dc.name}-${i}`));

function render() {
  const s = state.scenario;
  $("description").textContent = s.description || "";
  for (const k of ["n", "r", "w"]) {
    $(k).value = get(s, `replication.${k}`, 3);
    $(`${k}-out`).textContent = $(k).value;
  }
  const [n, r, w] = ["n", "r", "w"].map((k) => get(s, `replication.${k}`, 0));
  const note = $("quorum-note");
  if (r > n || w > n) {
    note.textContent = `R and W cannot exceed N (${n}); the simulator will say so.`;
    note.className = "note warn";
  } else if (r + w > n) {
    note.textContent = `R + W = ${r + w} > N = ${n}: every read quorum meets every write quorum, as long as they are the home replicas.`;
    note.className = "note good";
  } else {
    note.textContent = `R + W = ${r + w} ≤ N = ${n}: a read may miss the newest acknowledged write.`;
    note.className = "note warn";
  }
  $("sloppy").checked = !!get(s, "replication.sloppy_quorum", true);
  $("versioning").value = get(s, "replication.versioning", "vector_clock");
  $("ops").value = get(s, "workload.ops_per_s", "");
  $("ops").disabled = get(s, "workload.kind", "open_loop") !== "open_loop";
  $("reads").value = get(s, "workload.read_fraction", "");
  $("reads").disabled = $("ops").disabled;
  $("duration").value = s.duration_s;
  $("seed").value = s.seed ?? 1;
  renderDatacenters();
  renderFaults();
  $("json").value = state.text;
  $("json-error").textContent = "";
}

function renderDatacenters() {
  const box = $("datacenters");
  box.replaceChildren();
  (get(state.scenario, "cluster.datacenters", []) || []).forEach((dc, i) => {
    const label = document.createElement("label");
    label.className = "row";
    label.textContent = `Nodes in ${dc.name}`;
    const input = document.createElement("input");
    input.type = "number";
    input.min = "1";
    input.step = "1";
    input.value = dc.nodes;
    input.onchange = () => {
      state.scenario.cluster.datacenters[i].nodes = Number(input.value);
      edited();
    };
    label.append(input);
    box.append(label);
  });
}

// ---- the fault timeline editor --------------------------------------------------------
const EDITABLE = ["crash", "partition", "datacenter_outage"];

function faultEnd(f, duration) {
  if (f.duration_s != null) return f.at_s + f.duration_s;
  if (f.replace_after_s != null) return f.at_s + f.replace_after_s;
  return duration;
}

function renderFaults() {
  const s = state.scenario;
  const faults = s.faults || [];
  const duration = s.duration_s || 1;
  const rows = Math.max(faults.length, 1);
  const width = 380;
  const x = (t) => 10 + (Math.min(Math.max(t, 0), duration) / duration) * (width - 20);
  const parts = [`<svg viewBox="0 0 ${width} ${rows * 16 + 26}" role="img" aria-label="fault timeline">`];
  faults.forEach((f, i) => {
    const [l, r] = [x(f.at_s || 0), x(faultEnd(f, duration))];
    parts.push(`<rect x="${l}" y="${4 + i * 16}" width="${Math.max(r - l, 2)}" height="12" rx="2" fill="#e5534b" opacity="0.8"><title>${f.kind} ${f.at_s}-${faultEnd(f, duration)} s</title></rect>`);
    parts.push(`<text x="${Math.min(l + 3, width - 80)}" y="${14 + i * 16}" font-size="9" fill="#fff">${f.kind}</text>`);
  });
  const axisY = rows * 16 + 8;
  parts.push(`<line x1="10" x2="${width - 10}" y1="${axisY}" y2="${axisY}" stroke="#888"/>`);
  for (let k = 0; k <= 4; k++) {
    const t = (duration * k) / 4;
    parts.push(`<text x="${x(t)}" y="${axisY + 13}" font-size="9" text-anchor="middle" fill="#555">${+t.toPrecision(4)} s</text>`);
  }
  parts.push("</svg>");
  $("fault-axis").innerHTML = faults.length ? parts.join("") : '<p class="note">No faults: add one below.</p>';

  const list = $("fault-list");
  list.replaceChildren();
  faults.forEach((f, i) => list.append(faultRow(f, i)));
  const dcs = get(s, "cluster.datacenters", []) || [];
  $("add-outage").disabled = dcs.length < 2;
  $("add-outage").title = dcs.length < 2 ? "needs two datacenters or more" : "";
}

function faultRow(f, i) {
  const row = document.createElement("div");
  row.className = "fault";
  const left = document.createElement("div");
  const title = document.createElement("strong");
  title.textContent = f.kind.replace(/_/g, " ");
  left.append(title, " ");
  if (EDITABLE.includes(f.kind)) {
    left.append(numberField("at", f.at_s, (v) => (f.at_s = v)));
    left.append(numberField("for", f.duration_s ?? "", (v) => (f.duration_s = v), "s (empty: to the end)"));
    left.append(targetSelect(f));
  } else {
    const what = document.createElement("code");
    what.textContent = JSON.stringify(f);
    left.append(what, " (edit in JSON)");
  }
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "remove";
  remove.onclick = () => {
    state.scenario.faults.splice(i, 1);
    edited();
  };
  row.append(left, remove);
  return row;
}

function numberField(label, value, assign, unit = "s") {
  const wrap = document.createElement("label");
  wrap.textContent = `${label} `;
  const input = document.createElement("input");
  input.type = "number";
  input.min = "0";
  input.step = "any";
  input.value = value;
  input.onchange = () => {
    if (input.value === "") assign(undefined);
    else assign(Number(input.value));
    edited();
  };
  wrap.append(input, ` ${unit}`);
  return wrap;
}

function partitionOptions(s) {
  const dcs = (get(s, "cluster.datacenters", []) || []).map((d) => d.name);
  const options = dcs.length >= 2 ? dcs.map((d) => [`${d} | the rest`, [[d]]]) : [];
  if (dcs.length >= 2) options.push([dcs.join(" | "), dcs.map((d) => [d])]);
  const first = (get(s, "cluster.datacenters", []) || [])[0];
  if (first && first.nodes >= 2) {
    const half = Array.from({ length: Math.floor(first.nodes / 2) }, (_, i) => `${first.name}-${i}`);
    options.push([`half of ${first.name} | the rest`, [half]]);
  }
  return options;
}

function targetSelect(f) {
  const s = state.scenario;
  const select = document.createElement("select");
  let options;
  if (f.kind === "crash") options = nodeNames(s).map((name) => [name, [name]]);
  else if (f.kind === "datacenter_outage") options = (get(s, "cluster.datacenters", []) || []).map((d) => [d.name, d.name]);
  else options = partitionOptions(s);
  const current = JSON.stringify(f.kind === "crash" ? f.nodes : f.kind === "datacenter_outage" ? f.datacenter : f.groups);
  if (!options.some(([, v]) => JSON.stringify(v) === current)) options.unshift([`as in the scenario: ${current}`, JSON.parse(current ?? "null")]);
  for (const [label, value] of options) {
    const o = document.createElement("option");
    o.textContent = label;
    o.value = JSON.stringify(value);
    o.selected = o.value === current;
    select.append(o);
  }
  select.onchange = () => {
    const v = JSON.parse(select.value);
    if (f.kind === "crash") f.nodes = v;
    else if (f.kind === "datacenter_outage") f.datacenter = v;
    else f.groups = v;
    edited();
  };
  return select;
}

function addFault(kind) {
  const s = state.scenario;
  const duration = s.duration_s || 60;
  const at = +(duration / 3).toPrecision(3);
  const length = +(duration / 4).toPrecision(3);
  const dcs = get(s, "cluster.datacenters", []) || [];
  const fault = { kind, at_s: at, duration_s: length };
  if (kind === "crash") fault.nodes = [nodeNames(s)[0]];
  if (kind === "partition") fault.groups = partitionOptions(s)[0]?.[1] ?? [[]];
  if (kind === "datacenter_outage") fault.datacenter = dcs[dcs.length - 1].name;
  (s.faults ??= []).push(fault);
  edited();
}

// ---- results ---------------------------------------------------------------------------
const pct = (v) => (v == null ? "n/a" : `${(v * 100).toFixed(v > 0 && v < 0.001 ? 4 : 2)}%`);
const ms = (v) => (v == null ? "n/a" : `${v.toLocaleString("en-US", { maximumFractionDigits: 1 })} ms`);
const count = (v) => (v == null ? "n/a" : Number(v).toLocaleString("en-US"));
const METRICS = [
  ["Read availability", (r) => r.availability?.read, pct, "higher"],
  ["Write availability", (r) => r.availability?.write, pct, "higher"],
  ["Read availability during faults", (r) => r.availability?.read_during_faults, pct, "higher"],
  ["Write availability during faults", (r) => r.availability?.write_during_faults, pct, "higher"],
  ["Stale reads", (r) => r.consistency?.stale_read_fraction, pct, "lower"],
  ["Stale reads during faults", (r) => r.consistency?.stale_read_fraction_during_faults, pct, "lower"],
  ["Read latency p99.9", (r) => r.latency_ms?.read?.p999, ms, "lower"],
  ["Write latency p99.9", (r) => r.latency_ms?.write?.p999, ms, "lower"],
  ["Versions per read (mean)", (r) => r.versioning?.siblings_per_read, (v) => (v == null ? "n/a" : v.toFixed(3)), "lower"],
  ["Lost acknowledged writes", (r) => r.durability?.lost_writes, count, "lower"],
  ["Hints stored", (r) => r.handoff?.hints_stored, count, null],
  ["Keys still divergent at the end", (r) => r.convergence?.divergent_keys_at_end, count, "lower"],
];

function showResults() {
  const runs = [state.pinned, state.current].filter(Boolean);
  if (runs.length === 0) return;
  const cur = state.current || state.pinned;
  $("digest").textContent = runs
    .map((run) => `${runs.length > 1 ? `${run.label}: ` : ""}digest ${run.report.digest} · seed ${run.report.seed} · ${count(run.report.events)} events · ${(run.wallMs / 1000).toFixed(2)} s in this tab`)
    .join("\n");
  const table = $("metrics");
  const head = `<tr><th>metric</th>${runs.map((run) => `<th>${run.label}</th>`).join("")}</tr>`;
  const body = METRICS.map(([label, pick, show, better]) => {
    const values = runs.map((run) => pick(run.report));
    const cells = values.map((v, i) => {
      let cls = "";
      if (i === 1 && better && values[0] != null && v != null && v !== values[0]) cls = (better === "higher") === v > values[0] ? "better" : "worse";
      return `<td class="${cls}">${show(v)}</td>`;
    });
    return `<tr><td>${label}</td>${cells.join("")}</tr>`;
  }).join("");
  table.innerHTML = head + body;
  $("charts").innerHTML = resultCharts(runs).join("");
  $("summary").textContent = cur.summary;
}

// While a run goes on: availability and stale reads over the intervals measured so far
// (the other charts need the finished report), fault windows from the scenario.
function drawLive(points, endS) {
  const faults = (state.scenario.faults || []).map((f) => ({
    kind: f.kind,
    at_s: f.at_s ?? 0,
    end_s: f.duration_s != null ? (f.at_s ?? 0) + f.duration_s : null,
    nodes: f.nodes || [],
  }));
  const report = { faults, simulated_s: endS, timeline: points };
  const runs = [state.pinned, { label: "this run (live)", report }].filter(Boolean);
  const charts = resultCharts(runs, { from: 0, to: endS });
  $("charts").innerHTML = charts.slice(0, 2).join("");
  $("charts").dataset.live = String(points.length);
}

async function runCurrent({ label } = {}) {
  const text = state.text;
  $("run").disabled = true;
  $("cancel").disabled = false;
  $("status").className = "status";
  $("status").textContent = "Starting…";
  $("progress").value = 0;
  try {
    const live = [];
    let drawn = 0;
    delete $("charts").dataset.live;
    const results = await simulate(text, (now, endS, points) => {
      $("progress").value = endS > 0 ? now / endS : 1;
      $("status").textContent = `Simulated ${now.toFixed(1)} of ${endS.toFixed(0)} s…`;
      live.push(...(points || []));
      if (live.length > drawn) {
        drawn = live.length;
        drawLive(live, endS);
      }
    });
    const report = JSON.parse(results.report);
    state.current = {
      label: label || (state.pinned ? "B" : "this run"),
      report,
      reportText: results.report,
      summary: results.summary,
      staleExamples: results.staleExamples,
      wallMs: results.wallMs,
      scenarioText: text,
    };
    $("progress").value = 1;
    $("status").textContent = `Done: ${report.scenario.name}, ${count(report.events)} events in ${(results.wallMs / 1000).toFixed(2)} s.`;
    $("pin").disabled = false;
    showResults();
    return state.current;
  } catch (error) {
    $("status").className = error.message === "cancelled" ? "status" : "status error";
    $("status").textContent = error.message === "cancelled" ? "Cancelled." : error.message;
    throw error;
  } finally {
    $("run").disabled = false;
    $("cancel").disabled = true;
  }
}

function pin() {
  if (!state.current) return;
  state.pinned = { ...state.current, label: "A" };
  state.current = null;
  $("pin").disabled = true;
  $("unpin").hidden = false;
  showResults();
}

function unpin() {
  state.pinned = null;
  $("unpin").hidden = true;
  if (state.current) state.current.label = "this run";
  showResults();
}

// ---- share links: #s=<the scenario, deflated, base64url>, #preset=<name> ---------------
async function deflate(text) {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("deflate-raw"));
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function inflate(encoded) {
  const binary = atob(encoded.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  return new Response(stream).text();
}

async function shareLink() {
  const preset = Object.entries(PRESETS).find(([, text]) => text === state.text);
  const hash = preset ? `preset=${encodeURIComponent(preset[0])}` : `s=${await deflate(state.text)}`;
  const url = `${location.origin}${location.pathname}#${hash}`;
  history.replaceState(null, "", `#${hash}`);
  const field = $("share-link");
  field.hidden = false;
  field.value = url;
  field.select();
  try {
    await navigator.clipboard.writeText(url);
    $("status").textContent = "Link copied: it opens this exact scenario (same seed, same numbers).";
  } catch {
    $("status").textContent = "Copy the link above: it opens this exact scenario.";
  }
}

async function loadFromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.has("s")) {
    try {
      loadScenarioText(await inflate(params.get("s")));
      $("preset").value = "";
      return true;
    } catch (e) {
      $("status").className = "status error";
      $("status").textContent = `The link's scenario could not be read (${e.message}); showing a preset instead.`;
    }
  }
  const name = params.get("preset");
  if (name && PRESETS[name]) {
    $("preset").value = name;
    loadScenarioText(PRESETS[name]);
    return true;
  }
  return false;
}

// ---- the tour: each step changes the scenario, runs it, and explains what it measured -----
const tour = [];
let tourRuns = {};

// The tour's cluster: the nrw-tuning preset (12 nodes, two datacenters) with clients
// that coordinate their own requests (client-driven, Dynamo §6.4), so that a quorum of
// one answers from the nearest replica and R, W and N show in both staleness and latency.
function scenarioFromPreset(edit) {
  const s = JSON.parse(PRESETS[DEFAULT_PRESET]);
  s.workload.routing = "client_driven";
  edit(s);
  return s;
}

async function runTourScenario(s, label) {
  state.scenario = s;
  edited();
  $("preset").value = "";
  return runCurrent({ label });
}

const share = (run, pick) => pct(pick(run.report));

// Runs an edited copy of an earlier step's result (running that step first when it has
// not run yet), with that result pinned as A.
async function variantOf(step, key, pinLabel, label, edit) {
  if (!tourRuns[key]) await tour[step].run();
  const before = tourRuns[key];
  state.pinned = { ...before, label: pinLabel };
  $("unpin").hidden = false;
  const s = JSON.parse(before.scenarioText);
  edit(s);
  return { before, b: await runTourScenario(s, label) };
}

tour.push({
  title: "Make R + W > N",
  async run() {
    const calm = (r, w) => scenarioFromPreset((s) => {
      s.name = `tour-r${r}-w${w}`;
      s.description = `The playground's tour, step 1: the nrw-tuning cluster without its partition, client-driven coordination, R=${r}, W=${w}.`;
      s.faults = [];
      s.replication.sloppy_quorum = true;
      s.replication.r = r;
      s.replication.w = w;
    });
    unpin();
    const a = await runTourScenario(calm(1, 1), "R=1, W=1");
    pin();
    state.pinned.label = "A: R=1, W=1";
    const b = await runTourScenario(calm(2, 2), "B: R=2, W=2");
    tourRuns.quorum = b;
    const staleA = a.report.consistency.stale_reads;
    const staleB = b.report.consistency.stale_reads;
    return `${nodeNames(a.report.scenario).length} nodes in ${a.report.scenario.cluster.datacenters.length} datacenters, N=${a.report.scenario.replication.n}, no faults; each client coordinates its own requests. With R=1 and W=1 (R+W ≤ N), ${count(staleA)} of ${count(a.report.consistency.judged_reads)} judged reads (${share(a, (r) => r.consistency.stale_read_fraction)}) missed a write that had already been acknowledged: the write was acknowledged by one replica and the read was answered by another that had not received it yet. With R=2 and W=2 (R+W > N), ${count(staleB)} did (${share(b, (r) => r.consistency.stale_read_fraction)}). The price is latency: read p99.9 went from ${ms(a.report.latency_ms.read.p999)} to ${ms(b.report.latency_ms.read.p999)}, because the second reply often has to come from the other datacenter.`;
  },
});

tour.push({
  title: "Add a partition",
  async run() {
    const { b } = await variantOf(0, "quorum", "A: no fault", "B: east | west, 20-50 s", (s) => {
      s.name = "tour-partition";
      s.description = "The playground's tour, step 2: R=2, W=2, sloppy quorum, east and west partitioned from 20 s to 50 s.";
      s.faults = [{ kind: "partition", at_s: 20, duration_s: 30, groups: [["east"], ["west"]] }];
    });
    tourRuns.partition = b;
    const c = b.report.consistency;
    return `Now east and west cannot talk from 20 s to 50 s, still with R=2, W=2 and sloppy quorum on. Writes kept succeeding (write availability during the partition ${share(b, (r) => r.availability.write_during_faults)}): each side wrote to fallback nodes it could reach, which kept ${count(b.report.handoff.hints_stored)} hints to hand back later. But ${pct(c.stale_read_fraction_during_faults)} of the reads during the partition were stale (${count(c.stale_reads_during_faults)} reads), although R+W > N: the two sides' quorums were made of different nodes, so they no longer overlap. Reads that returned two or more versions (siblings): ${count((c.versions_per_read.two || 0) + (c.versions_per_read.three || 0) + (c.versions_per_read.four_or_more || 0))}.`;
  },
});

tour.push({
  title: "Turn sloppy quorum off",
  async run() {
    const { before, b } = await variantOf(1, "partition", "A: sloppy quorum", "B: strict quorum", (s) => {
      s.name = "tour-strict";
      s.description = "The playground's tour, step 3: as step 2 with strict quorums (sloppy quorum off).";
      s.replication.sloppy_quorum = false;
    });
    tourRuns.strict = b;
    return `Same partition, strict quorums: only the three home replicas count. Write availability during the partition went from ${share(before, (r) => r.availability.write_during_faults)} to ${share(b, (r) => r.availability.write_during_faults)}, read availability from ${share(before, (r) => r.availability.read_during_faults)} to ${share(b, (r) => r.availability.read_during_faults)}: a key whose home replicas sit on both sides cannot gather two of them on the side that has only one. Stale reads during the partition went from ${pct(before.report.consistency.stale_read_fraction_during_faults)} to ${pct(b.report.consistency.stale_read_fraction_during_faults)}. That is Dynamo's trade: sloppy quorum buys availability with consistency.`;
  },
});

tour.push({
  title: "Why is this read stale?",
  async run() {
    const run = [state.current, tourRuns.partition, state.pinned].find((r) => r && r.staleExamples && r.staleExamples.length > 0);
    if (!run) return "No run so far has a stale read to explain: try step 2 first, or lower R or W.";
    const e = run.staleExamples[0];
    const faults = e.faults_active.length
      ? `It began during a ${e.faults_active.map((f) => `${f.kind.replace(/_/g, " ")} (${f.at_s}-${f.end_s ?? "end"} s)`).join(" and ")}.`
      : "No fault was in effect: the read simply reached replicas the write had not reached yet.";
    const r = run.report.scenario.replication;
    return `In run “${run.label}”, read ${e.req} by client ${e.client} of key k${e.key} began at ${e.start_s.toFixed(3)} s and ended at ${e.end_s.toFixed(3)} s. The observer, which records every write and its acknowledgement itself, found that it missed write ${e.missed}, acknowledged ${ms(e.since_ack_ms)} before the read began; the read was ${e.k} acknowledged write${e.k === 1 ? "" : "s"} behind. ${faults} The key's home replicas are ${e.home_replicas.join(", ")}; with N=${r.n}, R=${r.r}, W=${r.w}${r.sloppy_quorum ? " and sloppy quorum" : ""}, the ${r.r} replies the read waited for came from nodes that did not yet hold ${e.missed}. The same read, with every message and replica state, is told in full by: dynasim trace FILE --request ${e.req} (FILE: this scenario, saved as JSON).`;
  },
});

function renderTour() {
  const list = $("tour-steps");
  list.replaceChildren();
  tour.forEach((step, i) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = step.title;
    button.onclick = async () => {
      $("tour-text").textContent = "Running…";
      try {
        $("tour-text").textContent = await step.run();
        li.className = "done";
      } catch (e) {
        $("tour-text").textContent = e.message === "cancelled" ? "" : `The step could not run: ${e.message}`;
      }
    };
    li.append(button);
    list.append(li);
  });
}

// ---- wiring ------------------------------------------------------------------------------
function init() {
  const presets = $("preset");
  const custom = document.createElement("option");
  custom.value = "";
  custom.textContent = "(edited)";
  presets.append(custom);
  for (const name of Object.keys(PRESETS)) {
    const o = document.createElement("option");
    o.value = o.textContent = name;
    presets.append(o);
  }
  presets.onchange = () => presets.value && loadScenarioText(PRESETS[presets.value]);
  for (const k of ["n", "r", "w"]) {
    $(k).oninput = () => {
      set(state.scenario, `replication.${k}`, Number($(k).value));
      presets.value = "";
      edited();
    };
  }
  const bind = (id, path, read) => {
    $(id).onchange = () => {
      set(state.scenario, path, read($(id)));
      presets.value = "";
      edited();
    };
  };
  bind("sloppy", "replication.sloppy_quorum", (e) => e.checked);
  bind("versioning", "replication.versioning", (e) => e.value);
  bind("ops", "workload.ops_per_s", (e) => Number(e.value));
  bind("reads", "workload.read_fraction", (e) => Number(e.value));
  bind("duration", "duration_s", (e) => Number(e.value));
  bind("seed", "seed", (e) => Number(e.value));
  $("add-crash").onclick = () => addFault("crash");
  $("add-partition").onclick = () => addFault("partition");
  $("add-outage").onclick = () => addFault("datacenter_outage");
  $("json").onchange = () => {
    try {
      state.scenario = JSON.parse($("json").value);
      state.text = $("json").value;
      presets.value = Object.keys(PRESETS).find((k) => PRESETS[k] === state.text) || "";
      render();
    } catch (e) {
      $("json-error").textContent = `Not valid JSON: ${e.message}`;
    }
  };
  $("run").onclick = () => runCurrent().catch(() => {});
  $("cancel").onclick = () => state.cancel?.();
  $("pin").onclick = pin;
  $("unpin").onclick = unpin;
  $("share").onclick = () => shareLink();
  renderTour();
  modulePromise.catch((e) => {
    $("status").className = "status error";
    $("status").textContent = e.message;
  });
}

init();
const fromLink = await loadFromHash();
if (!fromLink) {
  $("preset").value = DEFAULT_PRESET;
  loadScenarioText(PRESETS[DEFAULT_PRESET]);
}
window.addEventListener("hashchange", loadFromHash);

// For web/test.sh (and the curious, from the console): run a preset as the page does.
window.playground = {
  async runPreset(name) {
    $("preset").value = name;
    loadScenarioText(PRESETS[name]);
    const run = await runCurrent();
    return { digest: run.report.digest, report: run.reportText, wallMs: run.wallMs };
  },
  runCurrent,
  runTourStep: async (i) => {
    const text = await tour[i].run();
    $("tour-text").textContent = text;
    return text;
  },
  lineChart,
};
