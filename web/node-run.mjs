// Runs scenarios through the WebAssembly module under Node.js and prints one line each,
// `wasm digest HEX for FILE`. With --reports DIR, each run's report.json must also equal
// DIR/NAME/report.json byte for byte (NAME: the file's name without .json), as web/test.sh
// checks against the committed reports; a difference is printed and the exit code is 1.
// Usage: node web/node-run.mjs MODULE.wasm [--reports DIR] SCENARIO.json...
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { Dynasim, runScenario } from "./dynasim.js";

const args = process.argv.slice(2);
const wasmPath = args.shift();
let reports = null;
if (args[0] === "--reports") {
  args.shift();
  reports = args.shift();
}
const sim = await Dynasim.load(readFileSync(wasmPath));
let failed = 0;
for (const file of args) {
  try {
    const { report } = runScenario(sim, readFileSync(file, "utf8"), null, 60);
    let verdict = "";
    if (reports) {
      const committed = join(reports, basename(file, ".json"), "report.json");
      if (!existsSync(committed)) verdict = ", no committed report";
      else if (readFileSync(committed, "utf8") === report) verdict = ", report.json identical";
      else {
        verdict = `, report.json DIFFERS from ${committed}`;
        failed += 1;
      }
    }
    console.log(`wasm digest ${JSON.parse(report).digest} for ${file}${verdict}`);
  } catch (e) {
    console.error(`${file}: ${e.message}`);
    failed += 1;
  }
}
process.exit(failed ? 1 : 0);
