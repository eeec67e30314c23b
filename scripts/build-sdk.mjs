#!/usr/bin/env node
// Emits dist/: the SDK compiled to ESM JavaScript with .d.ts and declaration maps (tsc with
// tsconfig.build.json), and the release wasm beside its loaders in dist/wasm/. dist/ is wiped
// first so a file deleted from sdk/ never lingers in the package.
import { copyFileSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

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
// Hand-written declarations tsc does not emit: the Web globals the public types name, and the
// types of the `./dataplane.wasm` export.
for (const dts of ["web-globals.d.ts", "dataplane.wasm.d.ts"]) {
  copyFileSync(new URL(`sdk/wasm/${dts}`, root), new URL(`dist/wasm/${dts}`, root));
}

// tsc rewrites "./x.ts" to "./x.js" in the JavaScript but not in declarations; a consumer's
// TypeScript would then refuse them (TS5097). Same length, so the declaration maps stay exact.
// It also points preserved `/// <reference path>`s back into sdk/; they belong to the copies in dist/.
const relativeTs = /((?:from|import)\s*\(?\s*["'])(\.\.?\/[^"']*)\.ts(["'])/g;
const referencePath = /(\/\/\/ <reference path=")([^"]+)(")/g;
const sdkDir = fileURLToPath(new URL("sdk/", root));
const distDir = fileURLToPath(new URL("dist/", root));
for (const name of readdirSync(distDir, { recursive: true })) {
  if (!String(name).endsWith(".d.ts")) continue;
  const file = resolve(distDir, String(name));
  const text = readFileSync(file, "utf8");
  const fixed = text.replace(relativeTs, "$1$2.js$3").replace(referencePath, (all, open, path, close) => {
    const target = resolve(dirname(file), path);
    if (!target.startsWith(sdkDir)) return all;
    return open + relative(dirname(file), resolve(distDir, relative(sdkDir, target))) + close;
  });
  if (fixed !== text) writeFileSync(file, fixed);
}
