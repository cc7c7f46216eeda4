#!/usr/bin/env node
// Bundles a service's entry points into dist/ so production runs plain `node dist/x.js`.
// Workspace packages (@nexus/*) export TypeScript source and are inlined; every other
// import stays external and is resolved from node_modules at run time, which keeps native
// addons (uWS, argon2) and pino's worker transports working.
//
// usage: nexus-build src/main.ts [src/other.ts ...] [--migrations]
//   --migrations  copy packages/db/migrations to dist/migrations (for bundles that include @nexus/db)
import { cpSync, rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const args = process.argv.slice(2);
const entries = args.filter((a) => !a.startsWith("--"));
if (entries.length === 0) {
  console.error("usage: nexus-build <entry.ts>... [--migrations]");
  process.exit(2);
}

const outdir = resolve("dist");
rmSync(outdir, { recursive: true, force: true });

const externalUnlessWorkspace = {
  name: "external-unless-workspace",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (a) => {
      if (a.path.startsWith("@nexus/")) return undefined;
      return { path: a.path, external: true };
    });
  },
};

await build({
  entryPoints: entries,
  outdir,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
  plugins: [externalUnlessWorkspace],
});

if (args.includes("--migrations")) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
  cpSync(resolve(root, "packages/db/migrations"), resolve(outdir, "migrations"), { recursive: true });
}
