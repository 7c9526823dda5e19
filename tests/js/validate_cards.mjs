// Parses Adaptive Cards with the official renderer library (npm "adaptivecards") and reports every
// parse event and validation failure. Input: a JSON array of cards on stdin, or a file path.
// Output: a JSON array, one {index, errors: [...]} per card; an empty list means clean.
// Parsing needs no DOM; we never render, so no browser shim is required.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(resolve(here, "../../package.json"));
// The package's lib/ is extension-less ESM that Node cannot resolve; dist/ is its UMD build.
const AC = require("adaptivecards/dist/adaptivecards.js");

const source = process.argv[2] ? readFileSync(process.argv[2], "utf8") : readFileSync(0, "utf8");
const cards = JSON.parse(source);
if (!Array.isArray(cards)) {
  process.stderr.write("expected a JSON array of cards\n");
  process.exit(2);
}

const eventName = (n) => AC.ValidationEvent[n] ?? String(n);
const results = cards.map((json, index) => {
  const errors = [];
  const card = new AC.AdaptiveCard();
  const context = new AC.SerializationContext();
  try {
    card.parse(json, context);
  } catch (err) {
    errors.push({ phase: "parse", event: "Exception", message: String(err) });
  }
  for (let i = 0; i < context.eventCount; i++) {
    const e = context.getEventAt(i);
    errors.push({ phase: "parse", event: eventName(e.event), message: e.message });
  }
  const validation = card.validateProperties();
  for (const e of validation.validationEvents) {
    errors.push({ phase: "validate", event: eventName(e.event), message: e.message });
  }
  return { index, errors };
});
process.stdout.write(JSON.stringify(results) + "\n");
