// The long-run fuzz command: `npm run fuzz -- --esp 10000000 --ike 1000000 [--seed N] [--sessions N]`.
// Prints counts and wall times; exits 1 with the seed and the violation when an invariant breaks.
import { parseArgs } from "node:util";
import { EspFuzzer, STATUS_ORDER } from "./esp-fuzz.ts";
import { fuzzIke } from "./ike-fuzz.ts";

const { values } = parseArgs({
  options: {
    esp: { type: "string", default: "1000000" },
    ike: { type: "string", default: "100000" },
    sessions: { type: "string" },
    seed: { type: "string", default: "1" },
  },
});
const num = (s: string | undefined, what: string): number => {
  const n = Number((s ?? "").replaceAll("_", ""));
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`--${what} must be a non-negative integer, got ${s}`);
    process.exit(2);
  }
  return n;
};
const seed = num(values.seed, "seed");
const espPackets = num(values.esp, "esp");
const ikeMessages = num(values.ike, "ike");
const sessions = values.sessions === undefined ? Math.ceil(ikeMessages / 2000) : num(values.sessions, "sessions");
let failed = false;
const secs = (t0: number): string => ((performance.now() - t0) / 1000).toFixed(1);

if (espPackets > 0) {
  const t0 = performance.now();
  const f = await EspFuzzer.create({ seed });
  let lastPrint = 0;
  const v = f.run(espPackets, undefined, (s) => {
    if (s.packets - lastPrint >= 1_000_000) {
      lastPrint = s.packets;
      console.log(`esp: ${s.packets} packets, ${secs(t0)} s`);
    }
  });
  const s = f.stats;
  console.log(`esp seed ${seed}: ${s.packets} packets in ${s.batches} batches over ${s.sas} SAs, ${secs(t0)} s wall`);
  console.log(
    `  by kind: ${Object.entries(s.byKind)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}`,
  );
  console.log(
    `  by status: ${STATUS_ORDER.filter((x) => s.byStatus[x])
      .map((x) => `${x} ${s.byStatus[x]}`)
      .join(", ")}`,
  );
  console.log(
    `  mutations: ${Object.entries(s.byOp)
      .sort()
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}`,
  );
  console.log(`  dropped packets whose arena slot was checked for bytes written in place: ${s.arenaChecked}`);
  if (v.length) {
    failed = true;
    console.log(`esp seed ${seed}: ${v.length} violation(s), first at batch ${v[0]!.batch}:`);
    for (const x of v.slice(0, 10))
      console.log(`  batch ${x.batch}${x.index === undefined ? "" : ` packet ${x.index}`}: ${x.what}`);
  } else console.log("  invariants held after every batch");
}

if (ikeMessages > 0) {
  const t0 = performance.now();
  const r = await fuzzIke({ seed, codec: ikeMessages, daemon: ikeMessages, sessions });
  console.log(`ike seed ${seed}: corpus of ${r.corpus} datagrams; ${secs(t0)} s wall`);
  console.log(
    `  codec: ${r.codec.inputs} inputs (${Object.entries(r.codec.byInput)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}), ${r.codec.ok} decoded, ${r.codec.roundTrips} round trips`,
  );
  console.log(
    `  codec errors: ${Object.entries(r.codec.errors)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}`,
  );
  const d = r.daemon;
  console.log(
    `  daemons: ${d.messages} mutated datagrams (${d.victims} victim pairs), ${d.sessions} in-flight sessions (${d.authenticated} datagrams re-sealed after mutating their inner payloads; ${d.sessionsUp} up, failed: ${JSON.stringify(d.sessionsFailed)}), ${d.cleanSessions} clean sessions afterwards`,
  );
  console.log(
    `  mutations: ${Object.entries(d.byOp)
      .sort()
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}`,
  );
  if (r.violations.length) {
    failed = true;
    console.log(`ike seed ${seed}: violation(s):`);
    for (const x of r.violations.slice(0, 10)) console.log(`  ${x}`);
  } else console.log("  invariants held");
}
process.exit(failed ? 1 : 0);
