// The browser file, from the same sources `tsc` compiles: one ESM file of the client (no dependency, for
// any page to import).
import { build } from "esbuild";

const common = { bundle: true, format: "esm", platform: "browser", target: "es2022", sourcemap: true, logLevel: "warning" };

await build({ ...common, entryPoints: ["src/index.ts"], outfile: "dist/browser/live-sessions.js" });
