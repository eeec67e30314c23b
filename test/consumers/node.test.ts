// Node from the packed tarball, beyond the fast subset in test/unit/consumer-node.test.ts (ESM
// import, the consumer program, --help, the install's warnings and dependencies):
//   - the program's committed hex is what node:crypto makes (test/consumers/program/vectors.ts);
//   - `require("ipsec-wasm")` on this Node 20 (the package is ESM-only; Node >= 20.19 loads ESM
//     through require() without a flag or a warning);
//   - `ipsec-wasm pcap decrypt` from the install on a capture whose ESP node:crypto made;
//   - the newest Node (the `node` npm package pinned in test/consumers/tools): ESM program,
//     require, and the bin.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { consumerProject, repo, runOk, tool, type Consumer } from "./harness.ts";
import { vectors } from "./program/vectors.ts";
import { buildEspCapture } from "../fixtures/pcap/make-esp-capture.ts";

const program = (f: string): string => readFileSync(repo(`test/consumers/program/${f}`), "utf8");

/** A CommonJS file: the package through require(), and the same program through require(esm). */
const REQUIRE_IT = `"use strict";
const ipsec = require("ipsec-wasm");
const { EspUdpEndpoint } = require("ipsec-wasm/node/esp-udp");
const { roundtrip } = require("./roundtrip.mjs");
roundtrip().then((r) => console.log(JSON.stringify({ ...r, required: typeof ipsec.Dataplane, subpath: typeof EspUdpEndpoint, suites: ipsec.KNOWN_SUITES.length })));
`;

let consumer: Consumer;

before(
  async () => {
    consumer = await consumerProject("node", {
      files: { "roundtrip.mjs": program("roundtrip.mjs"), "run.mjs": program("run.mjs"), "require-it.cjs": REQUIRE_IT },
    });
  },
  { timeout: 300_000 },
);

after(() => consumer?.remove());

/** The one JSON line a program printed, with every check passed. */
function passed(stdout: string, runtime: RegExp): Record<string, unknown> {
  const lines = stdout.trim().split("\n");
  assert.equal(lines.length, 1, stdout);
  const result = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.match(String(result.runtime), runtime);
  assert.deepEqual(result.failures, undefined);
  assert.equal(result.ok, true, stdout);
  return result;
}

test("the program's committed hex is what node:crypto makes (GCM, CBC+HMAC-SHA-256, ChaCha20-Poly1305)", () => {
  const text = program("roundtrip.mjs");
  const constant = (name: string): string => new RegExp(`const ${name} =\\s*"([0-9a-f]+)";`).exec(text)![1]!;
  const v = vectors();
  assert.equal(constant("INNER"), v.inner);
  assert.equal(constant("GCM_ESP"), v.gcmEsp);
  assert.equal(constant("CBC_ESP"), v.cbcEsp);
  assert.equal(constant("CHACHA_ESP"), v.chachaEsp);
  assert.doesNotMatch(text, /^import .* from "(?!ipsec-wasm")/m, "the program imports nothing but ipsec-wasm");
});

test(
  `require("ipsec-wasm") on Node ${process.versions.node}: require(esm), no flag, no warning`,
  { timeout: 60_000 },
  async () => {
    const [major, minor] = process.versions.node.split(".").map(Number);
    assert.ok(
      major! > 20 || (major === 20 && minor! >= 19),
      `require(esm) without a flag needs Node >= 20.19 (this is ${process.version})`,
    );
    const r = await runOk(process.execPath, ["require-it.cjs"], { cwd: consumer.dir, timeoutMs: 30_000 });
    assert.equal(r.stderr, "", "no ExperimentalWarning");
    const result = passed(r.stdout, new RegExp(`^node ${process.versions.node}$`));
    assert.equal(result.required, "function");
    assert.equal(result.subpath, "function");
    assert.ok(Number(result.suites) > 100);
  },
);

test(
  "ipsec-wasm pcap decrypt from the install: every verdict and inner packet of a node:crypto capture",
  { timeout: 60_000 },
  async () => {
    const cap = buildEspCapture();
    const fixtures = repo("test/fixtures/pcap/");
    const r = await runOk(
      join(consumer.dir, "node_modules/.bin/ipsec-wasm"),
      [
        "pcap",
        "decrypt",
        "--sa",
        join(fixtures, "esp-mixed.sas.json"),
        join(fixtures, "esp-mixed.pcap"),
        "-o",
        "out.pcap",
        "--verdicts",
        "verdicts.jsonl",
      ],
      { cwd: consumer.dir, timeoutMs: 30_000 },
    );
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /0x0e582872/, "the summary names the SAs");
    const verdicts = readFileSync(join(consumer.dir, "verdicts.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { frame: number; verdict: string });
    assert.deepEqual(
      verdicts.map((v) => v.verdict),
      cap.expected.map((e) => e.verdict),
    );
    // The output pcap (classic, LINKTYPE_RAW) holds exactly the inner packets of the ok frames.
    const out = readFileSync(join(consumer.dir, "out.pcap"));
    assert.equal(out.readUInt32LE(0), 0xa1b2c3d4);
    assert.equal(out.readUInt32LE(20), 101, "LINKTYPE_RAW");
    const inners: string[] = [];
    for (let off = 24; off < out.length;) {
      const len = out.readUInt32LE(off + 8);
      inners.push(out.subarray(off + 16, off + 16 + len).toString("hex"));
      off += 16 + len;
    }
    assert.deepEqual(
      inners,
      cap.expected.filter((e) => e.verdict === "ok").map((e) => e.inner!.toString("hex")),
    );
    assert.ok(inners.length >= 3);
  },
);

test(
  "the newest Node (npm package `node`, pinned in test/consumers/tools): ESM program, require(esm), the bin",
  { timeout: 300_000 },
  async () => {
    const node = await tool("node");
    const version = (await runOk(node, ["--version"], { timeoutMs: 30_000 })).stdout.trim();
    const pinned = JSON.parse(readFileSync(repo("test/consumers/tools/package.json"), "utf8")).devDependencies
      .node as string;
    assert.equal(version, `v${pinned}`, "the pinned binary runs here");
    const esm = await runOk(node, ["run.mjs"], { cwd: consumer.dir, timeoutMs: 30_000 });
    assert.equal(esm.stderr, "");
    passed(esm.stdout, new RegExp(`^node ${pinned.replaceAll(".", "\\.")}$`));
    const cjs = await runOk(node, ["require-it.cjs"], { cwd: consumer.dir, timeoutMs: 30_000 });
    assert.equal(cjs.stderr, "");
    assert.equal(passed(cjs.stdout, /^node /).required, "function");
    const help = await runOk(node, [join(consumer.dir, "node_modules/ipsec-wasm/bin/ipsec-wasm.mjs"), "--help"], {
      cwd: consumer.dir,
      timeoutMs: 30_000,
    });
    assert.equal(help.stderr, "");
    assert.match(help.stdout, /^Usage: ipsec-wasm <command>/);
  },
);
