// Validates an AsyncAPI document with the AsyncAPI project's own parser (@asyncapi/parser, pinned in
// package.json): schema validation plus its built-in Spectral ruleset. Usage: node validate.mjs <file.json>
// Prints one JSON object {"errors": [...], "warnings": [...], "version"} and exits 1 when there is an error
// or a warning (a hint or an info does not fail), 2 when the file cannot be read.
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const SEVERITY = ["error", "warning", "info", "hint"];

let text;
try {
  text = readFileSync(process.argv[2], "utf8");
} catch (error) {
  console.error(`cannot read ${process.argv[2]}: ${error.message}`);
  process.exit(2);
}
const { document, diagnostics } = await new Parser().parse(text);
const found = diagnostics.map((d) => ({
  severity: SEVERITY[d.severity] ?? String(d.severity),
  code: d.code,
  message: d.message,
  path: d.path.join("."),
}));
const errors = found.filter((d) => d.severity === "error");
const warnings = found.filter((d) => d.severity === "warning");
console.log(JSON.stringify({ version: document?.version() ?? null, errors, warnings, other: found.length - errors.length - warnings.length }));
process.exit(errors.length || warnings.length || !document ? 1 : 0);
