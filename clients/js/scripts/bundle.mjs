// The browser files, from the same sources `tsc` compiles: one ESM file of the client (no dependency, for
// any page to import), and the console page (its script bundled with the client, its HTML and CSS copied).
import { copyFile, mkdir } from "node:fs/promises";
import { build } from "esbuild";

const common = { bundle: true, format: "esm", platform: "browser", target: "es2022", sourcemap: true, logLevel: "warning" };

await build({ ...common, entryPoints: ["src/index.ts"], outfile: "dist/browser/live-sessions.js" });
await build({ ...common, entryPoints: ["console/console.ts"], outfile: "dist/console/console.js" });
await mkdir("dist/console", { recursive: true });
for (const file of ["index.html", "console.css"]) await copyFile(`console/${file}`, `dist/console/${file}`);
