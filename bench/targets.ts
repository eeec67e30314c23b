// The targets bench/run.ts checks at the end of a run, from the rows of its results (issues 3, 4 and 11).
// `node --import tsx bench/targets.ts [results.json]` evaluates them again on a stored run.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { BenchSuite } from "./baselines/esp-layout.ts";
import type { BenchResults, Direction, Target } from "./results.ts";

export function evaluateTargets(res: BenchResults): Target[] {
  const targets: Target[] = [];
  const best = (suite: BenchSuite, size: number, direction: Direction) =>
    res.rows
      .filter(
        (r) =>
          r.suite === suite &&
          r.size === size &&
          r.direction === direction &&
          (r.impl === "ours-b64" || r.impl === "ours-b256"),
      )
      .sort((a, b) => (b.ratio ?? 0) - (a.ratio ?? 0))[0];
  const ratioTarget = (suite: BenchSuite, size: number, min: number) => {
    for (const direction of ["encap", "decap"] as const) {
      const r = best(suite, size, direction);
      if (!r || r.ratio === null) continue;
      targets.push({
        name: `${suite} ${direction} at ${size} B vs node:crypto`,
        required: `≥ ${min}×`,
        measured: `${r.ratio.toFixed(2)}× (${r.impl})`,
        met: r.ratio >= min,
      });
    }
  };
  ratioTarget("aes128gcm16", 64, 5);
  // issue 11: with the native AES assist (the default dispatch), AES-GCM at 64 B ≥ 8×, at 1400 B ≥ 1.5×
  ratioTarget("aes128gcm16", 64, 8);
  ratioTarget("aes128gcm16", 1400, 1.5);
  ratioTarget("aes128-sha256", 64, 3);
  ratioTarget("aes128gcm16", 1400, 0.5);
  ratioTarget("aes128-sha256", 1400, 0.5);
  // issue 11: HMAC-SHA-256 four packets at a time (and native AES-CBC decryption)
  ratioTarget("aes128-sha256", 1400, 1.5);
  // issue 4: ChaCha20-Poly1305 decapsulation of full-size packets at least 3x per-packet node:crypto
  const chacha = best("chacha20poly1305", 1400, "decap");
  if (chacha && chacha.ratio !== null) {
    targets.push({
      name: "chacha20poly1305 decap at 1400 B vs node:crypto",
      required: "≥ 3×",
      measured: `${chacha.ratio.toFixed(2)}× (${chacha.impl})`,
      met: chacha.ratio >= 3,
    });
  }
  if (res.spiLookup) {
    targets.push({
      name: `SPI lookup: decap cost at ${res.spiLookup.sas.toLocaleString("en-US")} SAs vs 1 SA`,
      required: "within 20%",
      measured: `${(res.spiLookup.extraCost * 100).toFixed(1)}% more per packet`,
      met: res.spiLookup.extraCost <= 0.2,
    });
  }
  return targets;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2] ?? fileURLToPath(new URL("./results.json", import.meta.url));
  const res = JSON.parse(readFileSync(file, "utf8")) as BenchResults;
  res.targets = evaluateTargets(res);
  writeFileSync(file, JSON.stringify(res, null, 2) + "\n");
  for (const t of res.targets)
    console.log(`${t.met ? "met    " : "NOT MET"}  ${t.name}: ${t.measured} (target ${t.required})`);
}
