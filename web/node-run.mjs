// Runs scenarios through the WebAssembly module under Node.js and prints one line each,
// `wasm digest HEX for FILE`, to hold the module to the CLI's digests (web/test.sh).
// Usage: node web/node-run.mjs MODULE.wasm SCENARIO.json...
import { readFileSync } from "node:fs";
import { Dynasim, runScenario } from "./dynasim.js";

const [wasmPath, ...scenarios] = process.argv.slice(2);
const sim = await Dynasim.load(readFileSync(wasmPath));
let failed = 0;
for (const file of scenarios) {
  try {
    const { report } = runScenario(sim, readFileSync(file, "utf8"), null, 60);
    console.log(`wasm digest ${JSON.parse(report).digest} for ${file}`);
  } catch (e) {
    console.error(`${file}: ${e.message}`);
    failed += 1;
  }
}
process.exit(failed ? 1 : 0);
