// Drives headless Chromium over the DevTools protocol (Node's built-in WebSocket, no
// packages): opens the playground, runs a preset as the page does, walks the tour,
// checks a share link reopens the same scenario, and takes a screenshot. Fails on any
// console error or uncaught exception in the page or its worker.
//
// node --experimental-websocket web/test/browser.mjs --chromium PATH --url URL
//      --preset NAME --report-out FILE --screenshot FILE
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith("--") ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []),
);
// --report-html FILE (optional): also open a run's self-contained report.html from the file
// system and check its charts, fault labels, hover values and zoom.
for (const need of ["chromium", "url", "preset", "report-out", "screenshot"]) {
  if (!args[need]) {
    console.error(`browser.mjs: --${need} is required`);
    process.exit(2);
  }
}
const TIMEOUT_MS = 300_000;
const deadline = setTimeout(() => fail(`gave up after ${TIMEOUT_MS / 1000} s`), TIMEOUT_MS);

const profile = mkdtempSync(join(tmpdir(), "dynasim-chromium-"));
const chromium = spawn(args.chromium, [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--disable-dev-shm-usage", `--user-data-dir=${profile}`, "--remote-debugging-port=0",
  "--window-size=1440,2200", "about:blank",
], { stdio: ["ignore", "ignore", "pipe"], detached: true });

function fail(message) {
  console.error(`browser test: ${message}`);
  cleanup();
  process.exit(1);
}
function cleanup() {
  clearTimeout(deadline);
  // Chromium's helper processes (zygote, renderers) outlive a killed browser for a moment
  // and write into the profile, which then survived its removal: kill the whole process
  // group (the browser leads one, spawned detached), wait a moment, and retry the removal
  // while late writes land. Synchronous, because fail() must not return.
  try { process.kill(-chromium.pid, "SIGKILL"); } catch { chromium.kill("SIGKILL"); }
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
  try { rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }); } catch {}
}

const wsUrl = await new Promise((resolve, reject) => {
  let seen = "";
  chromium.stderr.on("data", (chunk) => {
    seen += chunk;
    const m = seen.match(/DevTools listening on (ws:\/\/\S+)/);
    if (m) resolve(m[1]);
  });
  chromium.on("exit", (code) => reject(new Error(`chromium exited (${code}) before it listened: ${seen.slice(-2000)}`)));
}).catch((e) => fail(e.message));

// ---- a minimal DevTools protocol client ---------------------------------------------
const socket = new WebSocket(wsUrl);
await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = () => reject(new Error("no DevTools connection")); }).catch((e) => fail(e.message));
let nextId = 1;
const pending = new Map();
const listeners = [];
socket.onmessage = (event) => {
  const msg = JSON.parse(event.data);
  if (msg.id && pending.has(msg.id)) {
    const { resolve, reject } = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error) reject(new Error(`${msg.error.message} ${msg.error.data || ""}`));
    else resolve(msg.result);
  } else if (msg.method) {
    for (const l of listeners) l(msg);
  }
};
const send = (method, params = {}, sessionId) =>
  new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
  });

const errors = [];
listeners.push((msg) => {
  if (msg.method === "Runtime.exceptionThrown") {
    const d = msg.params.exceptionDetails;
    errors.push(`uncaught: ${d.exception?.description || d.text}`);
  } else if (msg.method === "Runtime.consoleAPICalled" && msg.params.type === "error") {
    errors.push(`console.error: ${msg.params.args.map((a) => a.value ?? a.description).join(" ")}`);
  } else if (msg.method === "Log.entryAdded" && msg.params.entry.level === "error") {
    errors.push(`log: ${msg.params.entry.text} ${msg.params.entry.url || ""}`);
  } else if (msg.method === "Target.attachedToTarget" && msg.params.targetInfo.type === "worker") {
    // The worker's own console and exceptions.
    const worker = msg.params.sessionId;
    send("Runtime.enable", {}, worker).catch(() => {});
    send("Runtime.runIfWaitingForDebugger", {}, worker).catch(() => {});
  }
});

async function openPage(url, ready = "typeof window.playground === 'object'") {
  const { targetId } = await send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
  for (const domain of ["Runtime.enable", "Log.enable", "Page.enable"]) await send(domain, {}, sessionId);
  await send("Target.setAutoAttach", { autoAttach: true, waitForDebuggerOnStart: false, flatten: true }, sessionId);
  const loaded = new Promise((resolve) => listeners.push((m) => m.method === "Page.loadEventFired" && m.sessionId === sessionId && resolve()));
  await send("Page.navigate", { url }, sessionId);
  await loaded;
  const page = {
    sessionId,
    targetId,
    async eval(expression) {
      const r = await send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }, sessionId);
      if (r.exceptionDetails) throw new Error(r.exceptionDetails.exception?.description || r.exceptionDetails.text);
      return r.result.value;
    },
  };
  for (let i = 0; i < 200 && !(await page.eval(ready)); i++) await new Promise((r) => setTimeout(r, 50));
  if (!(await page.eval(ready))) fail(`${url}: the page did not start (${errors.join("; ")})`);
  return page;
}

try {
  const page = await openPage(args.url);
  // Twice: the first run also waits for the engine's optimising compiler (the module
  // starts in its baseline tier), the second runs the optimised code; both must agree.
  const cold = await page.eval(`playground.runPreset(${JSON.stringify(args.preset)})`);
  const run = await page.eval(`playground.runPreset(${JSON.stringify(args.preset)})`);
  if (cold.report !== run.report) fail("two runs of the same preset in one page gave different reports");
  writeFileSync(args["report-out"], run.report);
  console.log(`browser first run of ${args.preset}: ${(cold.wallMs / 1000).toFixed(2)} s in the page's worker`);
  console.log(`browser run of ${args.preset}: ${(run.wallMs / 1000).toFixed(2)} s in the page's worker`);
  console.log(`browser digest ${run.digest} for scenarios/${args.preset}.json`);

  // The controls edit the scenario; a refused scenario shows the simulator's message;
  // Cancel stops a run.
  const edits = await page.eval(`(async () => {
    const $ = (id) => document.getElementById(id);
    $('preset').value = 'partition'; $('preset').onchange();
    $('add-crash').click();
    const faults = JSON.parse($('json').value).faults.map((f) => f.kind);
    $('r').value = '3'; $('r').oninput();
    const r = JSON.parse($('json').value).replication.r;
    const doc = JSON.parse($('json').value); doc.replication.w = 9;
    $('json').value = JSON.stringify(doc); $('json').onchange();
    await playground.runCurrent().catch(() => {});
    const refused = $('status').textContent;
    $('preset').value = 'baseline'; $('preset').onchange();
    const running = playground.runCurrent().catch((e) => e.message);
    // The timeline charts draw live while the run goes on.
    for (let i = 0; i < 1500 && !(Number($('charts').dataset.live) > 0); i++) await new Promise((r) => setTimeout(r, 20));
    const live = Number($('charts').dataset.live || 0);
    const liveCharts = $('charts').querySelectorAll('svg.chart').length;
    $('cancel').click();
    const cancelled = await running;
    return { faults, r, refused, live, liveCharts, cancelled: typeof cancelled === 'string' ? cancelled : 'the run finished', status: $('status').textContent, runEnabled: !$('run').disabled };
  })()`);
  if (edits.faults.join() !== "partition,crash" || edits.r !== 3) fail(`the controls did not edit the scenario: ${JSON.stringify(edits)}`);
  if (!/replication\.w/.test(edits.refused) || !/9/.test(edits.refused)) fail(`a refused scenario showed: ${edits.refused}`);
  if (edits.cancelled !== "cancelled" || edits.status !== "Cancelled." || !edits.runEnabled) fail(`Cancel did not stop the run: ${JSON.stringify(edits)}`);
  if (!(edits.live > 0) || edits.liveCharts !== 2) fail(`no live charts during a run: ${JSON.stringify(edits)}`);
  console.log(`controls: + crash and R edit the scenario; refused: "${edits.refused.split("\n")[0].slice(0, 90)}"; live charts drew ${edits.live} intervals; Cancel stops a run`);

  for (let step = 0; step < 4; step++) {
    const text = await page.eval(`playground.runTourStep(${step})`);
    if (!/\d/.test(text) || /could not run|No run so far/.test(text)) fail(`tour step ${step + 1} did not explain a result: ${text}`);
    console.log(`tour step ${step + 1}: ${text.slice(0, 110)}…`);
  }

  // A share link reopens exactly the scenario on the page.
  const shared = await page.eval(`(async () => { document.getElementById('share').click();
    for (let i = 0; i < 100 && document.getElementById('share-link').hidden; i++) await new Promise(r => setTimeout(r, 20));
    return { link: document.getElementById('share-link').value, text: document.getElementById('json').value }; })()`);
  const reopened = await openPage(shared.link);
  const text = await reopened.eval("document.getElementById('json').value");
  if (text !== shared.text) fail(`the share link ${shared.link.slice(0, 80)}… opened another scenario`);
  console.log(`share link: ${shared.link.length} characters, reopens the same scenario`);
  // A background tab draws no frames, so the screenshot waits for the first page in front.
  await send("Target.closeTarget", { targetId: reopened.targetId });
  await send("Target.activateTarget", { targetId: page.targetId });
  await send("Page.bringToFront", {}, page.sessionId);

  if (args["report-html"]) {
    const html = await openPage(`file://${args["report-html"]}`, "document.getElementById('charts').children.length > 0");
    const seen = await html.eval(`(() => {
      const charts = () => [...document.querySelectorAll('#charts svg.chart')];
      const before = charts()[0].querySelectorAll('circle.hover').length;
      document.getElementById('from').value = '60'; document.getElementById('to').value = '180';
      document.getElementById('from').onchange();
      const after = charts()[0].querySelectorAll('circle.hover').length;
      return { charts: charts().length, bands: [...document.querySelectorAll('#charts text.band')].map((t) => t.textContent),
        before, after, digest: document.querySelector('.digest').textContent, tables: document.querySelectorAll('table').length,
        tip: charts()[0].querySelector('circle.hover title').textContent };
    })()`);
    if (seen.charts !== 5) fail(`report.html drew ${seen.charts} charts, not 5`);
    if (!seen.bands.some((b) => b.startsWith("partition"))) fail(`report.html labels no partition window: ${JSON.stringify(seen.bands)}`);
    if (!(seen.after > 0 && seen.after < seen.before)) fail(`report.html's zoom kept ${seen.after} of ${seen.before} points`);
    if (!/digest [0-9a-f]{16}/.test(seen.digest) || seen.tables < 3) fail(`report.html lacks its digest or summary tables: ${JSON.stringify(seen)}`);
    console.log(`report.html: ${seen.charts} charts, fault labels ${JSON.stringify([...new Set(seen.bands)])}, zoom 60-180 s keeps ${seen.after} of ${seen.before} points, hover "${seen.tip}"`);
    await send("Target.closeTarget", { targetId: html.targetId });
  }

  if (args["sweep-html"]) {
    const sweep = await openPage(`file://${args["sweep-html"]}`, "document.querySelectorAll('#settings tr').length > 1");
    const seen = await sweep.eval(`(() => {
      const header = [...document.querySelectorAll('#settings th')];
      const col = header.findIndex((th) => th.textContent === 'stale-read fraction');
      header[col].click();
      const values = [...document.querySelectorAll('#settings tr')].slice(1).map((r) => parseFloat(r.cells[col].dataset.v));
      return { maps: document.querySelectorAll('table.heat').length, near: document.querySelectorAll('td.near').length, values };
    })()`);
    const sorted = seen.values.every((v, i) => i === 0 || seen.values[i - 1] <= v);
    if (seen.maps !== 5 || seen.near === 0 || !sorted) fail(`sweep.html: ${JSON.stringify(seen)}`);
    console.log(`sweep.html: ${seen.maps} heatmaps, ${seen.near} cells within the best's interval, the table sorts by stale-read fraction`);
    await send("Target.closeTarget", { targetId: sweep.targetId });
  }

  const shot = await send("Page.captureScreenshot", { format: "png" }, page.sessionId);
  writeFileSync(args.screenshot, Buffer.from(shot.data, "base64"));
  if (errors.length) fail(`the page reported errors:\n  ${errors.join("\n  ")}`);
  console.log("browser test: no console errors");
  cleanup();
  process.exit(0);
} catch (e) {
  fail(`${e.message}${errors.length ? `\n  page errors: ${errors.join("\n  ")}` : ""}`);
}
