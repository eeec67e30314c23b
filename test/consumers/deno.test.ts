// Deno (the repository's pinned devDependency `deno`, node_modules/.bin/deno) from the packed
// tarball: a package.json project with the tarball installed by npm and `nodeModulesDir:
// "manual"` in deno.json, so `npm:ipsec-wasm` resolves from that node_modules (nothing from a
// registry: --cached-only with an empty DENO_DIR). The only permission it needs is reading the
// packaged dataplane.wasm: --allow-read=node_modules.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { consumerProject, repo, runBounded, runOk, type Consumer } from "./harness.ts";

const program = (f: string): string => readFileSync(repo(`test/consumers/program/${f}`), "utf8");

/** Imports the package as `npm:ipsec-wasm` and bare, checks both are the one install, runs the program. */
const MAIN = `import * as viaNpm from "npm:ipsec-wasm";
import * as bare from "ipsec-wasm";
import { DenoIkeUdpTransport } from "npm:ipsec-wasm/deno/ike-udp";
import { roundtrip } from "./roundtrip.mjs";
const result = await roundtrip();
console.log(JSON.stringify({ ...result, sameModule: viaNpm.Dataplane === bare.Dataplane, denoSubpath: typeof DenoIkeUdpTransport,
  resolved: import.meta.resolve("npm:ipsec-wasm") }));
`;

let consumer: Consumer;
let denoDir: string;
const deno = repo("node_modules/.bin/deno");

before(
  async () => {
    consumer = await consumerProject("deno", {
      files: {
        "roundtrip.mjs": program("roundtrip.mjs"),
        "main.mjs": MAIN,
        "deno.json": JSON.stringify({ nodeModulesDir: "manual" }),
      },
    });
    denoDir = mkdtempSync(join(tmpdir(), "ipsec-wasm-deno-dir-"));
  },
  { timeout: 300_000 },
);

after(() => {
  consumer?.remove();
  if (denoDir) rmSync(denoDir, { recursive: true, force: true });
});

const env = (): NodeJS.ProcessEnv => ({ ...process.env, DENO_DIR: denoDir, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" });

test(
  "deno run of a file importing npm:ipsec-wasm from the consumer's node_modules: the program passes",
  { timeout: 120_000 },
  async () => {
    assert.ok(existsSync(deno), `${deno} is missing: \`npm ci\` at the repository root installs the pinned deno`);
    const version = (await runOk(deno, ["--version"], { env: env(), timeoutMs: 30_000 })).stdout.split("\n")[0];
    const r = await runOk(deno, ["run", "--cached-only", "--no-prompt", "--allow-read=node_modules", "main.mjs"], {
      cwd: consumer.dir,
      env: env(),
      timeoutMs: 60_000,
    });
    assert.equal(r.stderr, "");
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 1, r.stdout);
    const result = JSON.parse(lines[0]!);
    assert.match(result.runtime, /^deno 2\./, version);
    assert.equal(`deno ${result.runtime.slice(5)}`, version!.split(" ").slice(0, 2).join(" "));
    assert.deepEqual(result.failures, undefined);
    assert.equal(result.ok, true);
    assert.equal(result.sameModule, true, "npm:ipsec-wasm and the bare specifier are the same install");
    assert.equal(result.denoSubpath, "function");
    assert.ok(result.resolved.startsWith(`file://${consumer.dir}/node_modules/ipsec-wasm/`), result.resolved);
  },
);

test(
  "without --allow-read Deno refuses to read the packaged wasm, and the error says which flag",
  { timeout: 120_000 },
  async () => {
    const r = await runBounded(deno, ["run", "--cached-only", "--no-prompt", "main.mjs"], {
      cwd: consumer.dir,
      env: env(),
      timeoutMs: 60_000,
    });
    assert.equal(r.timedOut, false);
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      /cannot load the dataplane wasm \(Requires read access to ".*node_modules\/ipsec-wasm\/dist\/wasm\/dataplane\.wasm", run again with the --allow-read flag\)/,
    );
  },
);
