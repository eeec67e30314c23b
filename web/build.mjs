#!/usr/bin/env node
// Builds the static page into web/dist/ (npm run build:web): index.html, style.css, app.js (the
// page) and worker.js (the Web Worker), bundled by esbuild for the browser from the SDK sources, so
// `#wasm` resolves through package.json's `browser` condition (dist/wasm/browser.js: fetch beside
// the script; hence `npm run build` first). dataplane.wasm is copied beside them, and
// dataplane-wasm.js carries it as base64 for pages opened from disk, where browsers refuse fetch
// and workers. Fails if any `node:` import reaches a bundle.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";

const root = new URL("../", import.meta.url);
const out = new URL("web/dist/", root);
const need = ["dist/wasm/browser.js", "dist/wasm/dataplane.wasm"].filter((f) => !existsSync(new URL(f, root)));
if (need.length) {
  console.error(`build-web: ${need.join(", ")} missing; run \`npm run build\` first`);
  process.exit(2);
}
const esbuild = new URL("node_modules/.bin/esbuild", root);
if (!existsSync(esbuild)) {
  console.error("build-web: node_modules/.bin/esbuild missing; run `npm ci`");
  process.exit(2);
}
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const meta = new URL("meta.json", out);
const r = spawnSync(
  esbuild.pathname,
  [
    "app=web/src/main.ts",
    "worker=web/src/worker.ts",
    "--bundle",
    "--platform=browser",
    "--format=iife",
    "--target=es2022",
    "--charset=utf8",
    `--outdir=${out.pathname}`,
    `--metafile=${meta.pathname}`,
    "--log-level=warning",
    // In a classic script import.meta is empty: the packaged loader finds dataplane.wasm relative
    // to the script that runs (the page, or worker.js), which is this directory.
    "--define:import.meta.url=__ipsecWasmScriptUrl",
    "--banner:js=var __ipsecWasmScriptUrl = self.location.href;",
  ],
  { cwd: root, stdio: "inherit" },
);
if (r.status !== 0) process.exit(r.status ?? 1);

const inputs = JSON.parse(readFileSync(meta, "utf8")).inputs;
rmSync(meta);
const nodeImports = Object.entries(inputs).flatMap(([file, i]) =>
  i.imports.filter((x) => x.path.startsWith("node:")).map((x) => `${file} -> ${x.path}`),
);
if (nodeImports.length) {
  console.error(`build-web: node: imports reached the browser bundle:\n  ${nodeImports.join("\n  ")}`);
  process.exit(1);
}
for (const f of ["index.html", "style.css"]) copyFileSync(new URL(`web/${f}`, root), new URL(f, out));
const wasm = readFileSync(new URL("dist/wasm/dataplane.wasm", root));
writeFileSync(new URL("dataplane.wasm", out), wasm);
writeFileSync(
  new URL("dataplane-wasm.js", out),
  `// dataplane.wasm as base64, for the page opened from disk (file://), where fetch cannot read it.\nglobalThis.IPSEC_WASM_BASE64 = "${wasm.toString("base64")}";\n`,
);
console.log(
  `build-web: web/dist/ (app.js, worker.js, dataplane.wasm ${wasm.length} bytes, ${Object.keys(inputs).length} modules bundled)`,
);
