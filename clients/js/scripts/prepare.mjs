// npm's `prepare`: runs on `npm install <this folder>` from an app, on `npm pack`, and on `npm ci` here.
// It builds the library (dist/: ESM + .d.ts, CommonJS, the browser file) with the pinned toolchain of
// package-lock.json, installing that toolchain first when this folder has none (a fresh clone), and copies
// the repository's LICENSE in so the packed tarball carries it.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

function run(...args) {
  const result = spawnSync(npm, args, { cwd: here, stdio: "inherit", shell: process.platform === "win32" });
  if (result.status !== 0) {
    console.error(`@live-sessions/client: \`npm ${args.join(" ")}\` failed in ${here}`);
    process.exit(result.status ?? 1);
  }
}

if (!existsSync(path.join(here, "node_modules", "typescript", "package.json"))) {
  // --ignore-scripts: this very script would run again inside it.
  run("ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error");
}
run("run", "--silent", "build:lib");
const license = path.join(here, "..", "..", "LICENSE");
if (existsSync(license)) copyFileSync(license, path.join(here, "LICENSE"));
