// A TypeScript consumer of the packed tarball (test/consumers/typescript/consumer.ts: Dataplane,
// SaConfig, DecapResult, IkeDaemon and its options, the ./node/ike-udp and ./node/esp-udp
// subpaths) type-checks with strict and skipLibCheck false, so every .d.ts the package ships is
// checked too, under moduleResolution node16, nodenext and bundler (module esnext and preserve):
// 0 errors. The compiler and Node's types are the root's versions, pinned in the consumer.
// Two lib settings: with "dom" (a project that also targets browsers or workers) and Node-only
// ("es2023" + @types/node, what @tsconfig/node20 gives a Node project).
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { consumerProject, repo, runBounded, type Consumer } from "./harness.ts";

const version = (pkg: string): string =>
  JSON.parse(readFileSync(repo(`node_modules/${pkg}/package.json`), "utf8")).version;
const RESOLUTIONS = [
  { moduleResolution: "node16", module: "node16" },
  { moduleResolution: "nodenext", module: "nodenext" },
  { moduleResolution: "bundler", module: "esnext" },
  { moduleResolution: "bundler", module: "preserve" },
];

let consumer: Consumer;

before(
  async () => {
    consumer = await consumerProject("typescript", {
      deps: { typescript: version("typescript"), "@types/node": version("@types/node") },
      files: { "src/consumer.ts": readFileSync(repo("test/consumers/typescript/consumer.ts"), "utf8") },
    });
  },
  { timeout: 300_000 },
);

after(() => consumer?.remove());

/** Runs tsc on the consumer with one tsconfig; returns what it printed (empty when clean). */
async function check(name: string, lib: string[], r: { moduleResolution: string; module: string }): Promise<string> {
  const config = consumer.write(
    `tsconfig.${name}.json`,
    JSON.stringify(
      {
        compilerOptions: {
          ...r,
          target: "es2022",
          lib,
          types: ["node"],
          strict: true,
          skipLibCheck: false,
          noEmit: true,
        },
        files: ["src/consumer.ts"],
      },
      null,
      2,
    ),
  );
  const tsc = join(consumer.dir, "node_modules/typescript/bin/tsc");
  const ran = await runBounded(process.execPath, [tsc, "-p", config], { cwd: consumer.dir, timeoutMs: 120_000 });
  assert.equal(ran.timedOut, false);
  return `${ran.status === 0 ? "" : `tsc exited ${ran.status}\n`}${ran.stdout}${ran.stderr}`;
}

test(
  `strict, skipLibCheck false, lib es2022 + dom: node16, nodenext, bundler/esnext, bundler/preserve (typescript ${version("typescript")})`,
  { timeout: 300_000 },
  async () => {
    for (const r of RESOLUTIONS) {
      assert.equal(
        await check(`dom-${r.moduleResolution}-${r.module}`, ["es2022", "dom"], r),
        "",
        `${r.moduleResolution}/${r.module}`,
      );
    }
  },
);

test(
  `strict, skipLibCheck false, Node-only lib es2023 + @types/node ${version("@types/node")}: node16, nodenext, bundler/esnext, bundler/preserve`,
  { timeout: 300_000 },
  async () => {
    const printed: string[] = [];
    for (const r of RESOLUTIONS) printed.push(await check(`node-${r.moduleResolution}-${r.module}`, ["es2023"], r));
    assert.deepEqual(
      printed,
      RESOLUTIONS.map(() => ""),
      printed.join("\n"),
    );
  },
);
