// One run of the simulator, off the page's thread. The page sends the compiled module
// and the scenario text; the worker posts progress after every slice of simulated time
// and the results at the end. Cancel = the page terminates the worker.
import { Dynasim } from "./dynasim.js";

onmessage = async (event) => {
  const { module, scenario } = event.data;
  try {
    const instance = await WebAssembly.instantiate(module, {});
    const sim = new Dynasim(instance.exports);
    const started = performance.now();
    const endS = sim.start(scenario);
    // About 100 progress messages a run, none shorter than 10 simulated ms.
    const slice = Math.max(endS / 100, 0.01);
    let now = 0;
    let points = 0;
    while (now < endS) {
      now = sim.advance(slice);
      // New timeline points go with the progress, for the live charts.
      const fresh = sim.timeline(points);
      points += fresh.length;
      postMessage({ type: "progress", now, endS, points: fresh });
    }
    const results = sim.finish();
    postMessage({ type: "done", ...results, wallMs: performance.now() - started });
  } catch (error) {
    postMessage({ type: "error", message: error.message || String(error) });
  }
};
