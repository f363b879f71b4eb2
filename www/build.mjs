// Builds the Batch routes page into batch_router/ui/static (or the folder given), reproducibly: the
// same sources and package-lock.json give the same bytes (no timestamps, no source maps).
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "..", "batch_router", "ui", "static"));
mkdirSync(out, { recursive: true });
// plugin.js: what Airflow's UI imports (a React app); standalone.js: the page at /batch-router/.
await build({
  entryPoints: { plugin: join(here, "src", "plugin.ts"), standalone: join(here, "src", "standalone.ts") },
  bundle: true,
  splitting: true, // the page's code once, in a chunk both entry points import
  chunkNames: "page-[hash]",
  minify: true,
  format: "esm",
  target: "es2020",
  loader: { ".css": "text" },
  legalComments: "eof",
  outdir: out,
  logLevel: "warning",
});
for (const file of ["index.html", "icon.svg"]) copyFileSync(join(here, "src", file), join(out, file));
