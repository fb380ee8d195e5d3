// The page's (and web/node-run.mjs's) handle on the WebAssembly module: strings in and
// out of its memory, a run advanced in slices. See web/module/src/lib.rs for the exports.

export class Dynasim {
  static async load(bytes) {
    const { instance } = await WebAssembly.instantiate(bytes, {});
    return new Dynasim(instance.exports);
  }

  constructor(exports) {
    this.x = exports;
  }

  output() {
    const ptr = this.x.dynasim_output_ptr();
    const len = this.x.dynasim_output_len();
    return new TextDecoder().decode(new Uint8Array(this.x.memory.buffer, ptr, len));
  }

  // Sets a run up; throws the validation message (field, value, what is allowed).
  start(scenarioText) {
    const bytes = new TextEncoder().encode(scenarioText);
    const ptr = this.x.dynasim_alloc(bytes.length);
    new Uint8Array(this.x.memory.buffer, ptr, bytes.length).set(bytes);
    let code;
    try {
      code = this.x.dynasim_start(ptr, bytes.length);
    } finally {
      this.x.dynasim_free(ptr, bytes.length);
    }
    if (code !== 0) throw new Error(this.output());
    return this.x.dynasim_end_s();
  }

  // Runs up to sliceS more simulated seconds; returns the simulated time reached.
  advance(sliceS) {
    return this.guarded(() => this.x.dynasim_advance(sliceS));
  }

  // The timeline points measured so far, from index `from` on.
  timeline(from) {
    this.x.dynasim_timeline(from);
    return JSON.parse(this.output());
  }

  // Finishes the run: { report (report.json's text, as the CLI writes it), summary
  // (summary.md), staleExamples (the first stale reads, see src/playground.rs) }.
  finish() {
    return this.guarded(() => {
      if (this.x.dynasim_finish() !== 0) throw new Error(this.output());
      const report = this.output();
      this.x.dynasim_summary();
      const summary = this.output();
      this.x.dynasim_stale_examples();
      return { report, summary, staleExamples: JSON.parse(this.output()) };
    });
  }

  // A trap (a panic inside the simulator) becomes an Error carrying the panic's message.
  guarded(f) {
    try {
      return f();
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) {
        this.x.dynasim_panic_message();
        throw new Error(`the simulator stopped on an internal error: ${this.output() || e.message}`);
      }
      throw e;
    }
  }
}

// Runs a scenario to its end, calling onProgress(simulatedS, endS) between slices.
export function runScenario(sim, scenarioText, onProgress, sliceS = 1) {
  const endS = sim.start(scenarioText);
  for (;;) {
    const now = sim.advance(sliceS);
    if (onProgress) onProgress(now, endS);
    if (now >= endS) break;
  }
  return sim.finish();
}
