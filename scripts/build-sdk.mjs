#!/usr/bin/env node
// Emits dist/: the SDK compiled to ESM JavaScript with .d.ts and declaration maps (tsc with
// tsconfig.build.json), and the release wasm beside its loaders in dist/wasm/. dist/ is wiped
// first so a file deleted from sdk/ never lingers in the package.
import { copyFileSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";

const root = new URL("../", import.meta.url);
const wasm = new URL("build/dataplane.wasm", root);
if (!existsSync(wasm)) {
  console.error("build-sdk: build/dataplane.wasm is missing; run `npm run build:wasm` first");
  process.exit(2);
}
rmSync(new URL("dist/", root), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const r = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
if (r.status !== 0) process.exit(r.status ?? 1);
copyFileSync(wasm, new URL("dist/wasm/dataplane.wasm", root));

// tsc rewrites "./x.ts" to "./x.js" in the JavaScript but not in declarations; a consumer's
// TypeScript would then refuse them (TS5097). Same length, so the declaration maps stay exact.
const relativeTs = /((?:from|import)\s*\(?\s*["'])(\.\.?\/[^"']*)\.ts(["'])/g;
for (const name of readdirSync(new URL("dist/", root), { recursive: true })) {
  if (!String(name).endsWith(".d.ts")) continue;
  const file = new URL(`dist/${name}`, root);
  const text = readFileSync(file, "utf8");
  const fixed = text.replace(relativeTs, "$1$2.js$3");
  if (fixed !== text) writeFileSync(file, fixed);
}
