// The fast consumer check in `npm test`: the packed tarball installed into an empty project
// (the tarball's one dependency, @noble/curves, from npm's cache as `npm ci` left it) and used
// with plain `node`, no TypeScript loader: the ESM import, the consumer program
// (test/consumers/program: GCM, CBC+HMAC, ChaCha20 against node:crypto vectors, a tampered
// packet), the `ipsec-wasm` bin's --help and --version, and the install itself (no warnings,
// only real runtime dependencies). Everything else (require, the CLI on a capture, the newest
// Node, Deno, Bun, bundles, TypeScript, publint/attw) is in test/consumers, run by test:interop.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { consumerProjectLogged, repo, runOk, type Consumer, type Ran } from "../consumers/harness.ts";

const program = (f: string): string => readFileSync(repo(`test/consumers/program/${f}`), "utf8");
let consumer: Consumer;
let install: Ran;

before(
  async () => {
    ({ consumer, install } = await consumerProjectLogged("node-fast", {
      files: { "roundtrip.mjs": program("roundtrip.mjs"), "run.mjs": program("run.mjs") },
    }));
  },
  { timeout: 300_000 },
);

after(() => consumer?.remove());

test(
  "the install prints no warning (no install scripts) and pulls in only runtime dependencies",
  { timeout: 60_000 },
  async () => {
    const printed = install.stdout + install.stderr;
    assert.doesNotMatch(printed, /warn/i, printed);
    const ls = await runOk("npm", ["ls", "--omit=dev", "--all", "--parseable", "--long"], {
      cwd: consumer.dir,
      timeoutMs: 30_000,
    });
    const names = ls.stdout
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.split(":")[1]!.replace(/@[^@]+$/, ""))
      .sort();
    // koffi (FFI for `up --tun`) is an optional peer dependency: a user who wants the TUN installs
    // it; nobody else gets its install script.
    assert.deepEqual(names, ["@noble/curves", "@noble/hashes", "ipsec-wasm"], ls.stdout);
  },
);

test("plain node imports it (ESM) and the consumer program passes every check", { timeout: 60_000 }, async () => {
  const r = await runOk(process.execPath, ["run.mjs"], { cwd: consumer.dir, timeoutMs: 30_000 });
  assert.equal(r.stderr, "");
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 1, r.stdout);
  const result = JSON.parse(lines[0]!);
  assert.equal(result.runtime, `node ${process.versions.node}`);
  assert.deepEqual(result.failures, undefined);
  assert.equal(result.ok, true);
  assert.deepEqual(Object.keys(result.suites), ["aes128gcm16", "chacha20poly1305", "aes128-sha256"]);
  assert.equal(result.tamper.status, "integrity-failed");
  // It is the installed package that ran, compiled JavaScript from dist/.
  const resolved = await runOk(
    process.execPath,
    ["--input-type=module", "-e", "console.log(import.meta.resolve('ipsec-wasm'))"],
    { cwd: consumer.dir, timeoutMs: 30_000 },
  );
  assert.equal(resolved.stdout.trim(), `file://${join(consumer.dir, "node_modules/ipsec-wasm/dist/index.js")}`);
});

test(
  "the ipsec-wasm bin: --help exits 0 with the usage, --version, no TypeScript loader",
  { timeout: 60_000 },
  async () => {
    const bin = join(consumer.dir, "node_modules/.bin/ipsec-wasm");
    const help = await runOk(bin, ["--help"], { cwd: consumer.dir, timeoutMs: 30_000 });
    assert.equal(help.stderr, "");
    assert.match(help.stdout, /^Usage: ipsec-wasm <command> \[options\]/);
    for (const cmd of ["pcap decrypt", "demo", "up", "ping", "status", "down"])
      assert.match(help.stdout, new RegExp(`^  ${cmd} `, "m"));
    const version = await runOk(bin, ["--version"], { cwd: consumer.dir, timeoutMs: 30_000 });
    assert.equal(version.stdout, `ipsec-wasm ${JSON.parse(readFileSync(repo("package.json"), "utf8")).version}\n`);
    const ls = await runOk("npm", ["ls", "--all", "--parseable"], { cwd: consumer.dir, timeoutMs: 30_000 });
    assert.doesNotMatch(ls.stdout, /tsx|typescript|esbuild/, "nothing that loads TypeScript is installed");
  },
);
