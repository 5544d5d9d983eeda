// The browser files, from the same sources `tsc` compiles: one ESM file of the client (no dependency, for
// any page to import), and the console page (its script bundled with the client, its HTML and CSS copied).
// `node scripts/bundle.mjs lib` builds the library's files only (what the package ships), `console` the
// page only, no argument both.
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { build } from "esbuild";

const common = { bundle: true, format: "esm", platform: "browser", target: "es2022", sourcemap: true, logLevel: "warning" };
const only = process.argv[2];

if (only !== "console") {
  await build({ ...common, entryPoints: ["src/index.ts"], outfile: "dist/browser/live-sessions.js" });
  // tsc -p tsconfig.cjs.json wrote CommonJS into dist/cjs, inside a "type": "module" package: this marker
  // makes Node (and TypeScript) read that folder, .d.ts included, as CommonJS.
  await mkdir("dist/cjs", { recursive: true });
  await writeFile("dist/cjs/package.json", '{ "type": "commonjs" }\n');
}
if (only !== "lib") {
  await build({ ...common, entryPoints: ["console/console.ts"], outfile: "dist/console/console.js" });
  await mkdir("dist/console", { recursive: true });
  for (const file of ["index.html", "console.css"]) await copyFile(`console/${file}`, `dist/console/${file}`);
}
