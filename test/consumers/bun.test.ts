// Bun (npm package `bun`, pinned in test/consumers/tools) from the packed tarball, installed by
// npm into a consumer project: `bun run` of the consumer program, the package through require(),
// and the bin's --help under bun.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { consumerProject, repo, runOk, tool, type Consumer } from "./harness.ts";

const program = (f: string): string => readFileSync(repo(`test/consumers/program/${f}`), "utf8");
const pinned = JSON.parse(readFileSync(repo("test/consumers/tools/package.json"), "utf8")).devDependencies
  .bun as string;

const REQUIRE_IT = `const ipsec = require("ipsec-wasm");
const { EspUdpEndpoint } = require("ipsec-wasm/node/esp-udp");
console.log(JSON.stringify({ dataplane: typeof ipsec.Dataplane, subpath: typeof EspUdpEndpoint, suites: ipsec.KNOWN_SUITES.length }));
`;

let consumer: Consumer;
let bun: string;

before(
  async () => {
    bun = await tool("bun");
    consumer = await consumerProject("bun", {
      files: { "roundtrip.mjs": program("roundtrip.mjs"), "run.mjs": program("run.mjs"), "require-it.cjs": REQUIRE_IT },
    });
  },
  { timeout: 600_000 },
);

after(() => consumer?.remove());

const env = (): NodeJS.ProcessEnv => ({
  ...process.env,
  BUN_INSTALL_CACHE_DIR: join(consumer.dir, ".bun-cache"),
  DO_NOT_TRACK: "1",
  NO_COLOR: "1",
});

test(`bun ${pinned} runs the consumer program from node_modules`, { timeout: 120_000 }, async () => {
  assert.equal(
    (await runOk(bun, ["--version"], { timeoutMs: 30_000 })).stdout.trim(),
    pinned,
    "the pinned binary runs here",
  );
  const r = await runOk(bun, ["run", "run.mjs"], { cwd: consumer.dir, env: env(), timeoutMs: 60_000 });
  assert.equal(r.stderr, "");
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 1, r.stdout);
  const result = JSON.parse(lines[0]!);
  assert.equal(result.runtime, `bun ${pinned}`);
  assert.deepEqual(result.failures, undefined);
  assert.equal(result.ok, true);
});

test("bun: require() of the package and a subpath, and the bin's --help", { timeout: 120_000 }, async () => {
  const r = await runOk(bun, ["run", "require-it.cjs"], { cwd: consumer.dir, env: env(), timeoutMs: 60_000 });
  assert.equal(r.stderr, "");
  const result = JSON.parse(r.stdout);
  assert.deepEqual([result.dataplane, result.subpath], ["function", "function"]);
  assert.ok(result.suites > 100);
  const help = await runOk(bun, [join(consumer.dir, "node_modules/ipsec-wasm/bin/ipsec-wasm.mjs"), "--help"], {
    cwd: consumer.dir,
    env: env(),
    timeoutMs: 60_000,
  });
  assert.equal(help.stderr, "");
  assert.match(help.stdout, /^Usage: ipsec-wasm <command>/);
});
