// Builds the Batch routes page into batch_router/ui/static (or the folder given), reproducibly: the
// same sources and package-lock.json give the same bytes (no timestamps, no source maps).
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "..", "batch_router", "ui", "static"));
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, "src", "page.ts")],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
  legalComments: "eof",
  outfile: join(out, "page.js"),
  logLevel: "warning",
});
for (const file of ["index.html", "page.css", "icon.svg"]) copyFileSync(join(here, "src", file), join(out, file));
