// IKE setup rate of two checkouts in one process: `--base DIR` (another checkout of this repository,
// e.g. `git archive <commit> | tar -x -C DIR` with node_modules, build and dist linked in) and this one.
// Both SDK trees are imported side by side (different paths, so two module graphs), each runs its own
// pair of peers in memory as bench/ike-setup.ts does, and the two alternate in short slices on the
// CPU clock (process.cpuUsage), so load on a shared machine hits both alike and the ratio holds.
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const { values: flags } = parseArgs({
  options: {
    base: { type: "string" },
    group: { type: "string", default: "x25519" },
    slices: { type: "string", default: "12" },
    "slice-ms": { type: "string", default: "500" },
  },
});
if (!flags.base) {
  console.log("usage: node --import tsx bench/ike-ab.ts --base DIR [--group x25519] [--slices 12] [--slice-ms 500]");
  process.exit(2);
}
const group = flags.group;
const slices = Number(flags.slices),
  sliceMs = Number(flags["slice-ms"]);

interface Side {
  pair: {
    a: { initiate(c: string): Promise<{ child?: unknown }>; terminateAll(): Promise<void> };
    b: { sas: Map<string, unknown> };
    close(): Promise<void>;
  };
  conn: string;
}

async function load(root: string): Promise<Side> {
  const pair = (await import(resolve(root, "sdk/node/ike-pair.ts"))) as {
    startPeerPair(o: object): Promise<Side["pair"]>;
    CONN_A: string;
  };
  const cc = (await import(resolve(root, "sdk/dataplane/control-crypto.ts"))) as {
    ControlCrypto: { create(): Promise<unknown> };
  };
  const crypto = await cc.ControlCrypto.create();
  const p = await pair.startPeerPair({
    ike: `aes128gcm16-prfsha256-${group}`,
    esp: "aes128gcm16",
    transport: "memory",
    crypto,
  });
  return { pair: p, conn: pair.CONN_A };
}

async function once(s: Side): Promise<void> {
  const { child } = await s.pair.a.initiate(s.conn);
  if (!child) throw new Error("IKE SA came up without its Child SA");
  await s.pair.a.terminateAll();
  for (let i = 0; i < 100 && s.pair.b.sas.size > 0; i++) await new Promise((r) => setImmediate(r));
}

const here = fileURLToPath(new URL("..", import.meta.url));
const sides = { base: await load(resolve(flags.base)), this: await load(here) };
const tally = { base: { n: 0, us: 0 }, this: { n: 0, us: 0 } };
for (const k of ["base", "this"] as const) for (let i = 0; i < 20; i++) await once(sides[k]);
for (let i = 0; i < slices; i++) {
  for (const k of i % 2 ? (["this", "base"] as const) : (["base", "this"] as const)) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    while (performance.now() - t0 < sliceMs) {
      await once(sides[k]);
      tally[k].n++;
    }
    const c = process.cpuUsage(c0);
    tally[k].us += c.user + c.system;
  }
}
const rate = (k: "base" | "this"): number => tally[k].n / (tally[k].us / 1e6);
const ms = (k: "base" | "this"): string => (tally[k].us / 1000 / tally[k].n).toFixed(3);
console.log(
  `${group}, native DH, ${slices} alternating slices of ${sliceMs} ms, CPU clock: base ${rate("base").toFixed(1)} setups/CPU-s ` +
    `(${ms("base")} ms, ${tally.base.n} setups), this ${rate("this").toFixed(1)} (${ms("this")} ms, ${tally.this.n} setups), ` +
    `this/base ${(rate("this") / rate("base")).toFixed(2)}×`,
);
await sides.base.pair.close();
await sides.this.pair.close();
