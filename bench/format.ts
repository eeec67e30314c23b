// Turns results into the tables printed by run.ts and written into README.md by report.ts.
import { type BenchResults, type BenchRow, IMPLS, type Impl } from "./results.ts";

const LABEL: Record<Impl, string> = {
  "node:crypto": "node:crypto",
  noble: "@noble",
  "ours-b64": "ours, batch 64",
  "ours-b256": "ours, batch 256",
  "ours-wasm-b256": "ours, wasm AES, batch 256",
};

/** 1234567 -> "1.23 Mpps". */
export function formatPps(pps: number): string {
  if (pps >= 1e6) return `${(pps / 1e6).toFixed(2)} Mpps`;
  if (pps >= 1e3) return `${(pps / 1e3).toFixed(1)} kpps`;
  return `${pps.toFixed(0)} pps`;
}

function cell(r: BenchRow | undefined): string {
  if (!r) return "–";
  const ratio = r.impl === "node:crypto" || r.ratio === null ? "" : ` (${r.ratio.toFixed(2)}×)`;
  return `${formatPps(r.pps)} ${r.gbps.toFixed(2)} Gb/s${ratio}`;
}

/** Rows grouped as one line per (suite, size, direction). */
function lines(res: BenchResults): { key: string[]; cells: string[] }[] {
  const out: { key: string[]; cells: string[] }[] = [];
  for (const suite of res.config.suites)
    for (const size of res.config.sizes)
      for (const direction of ["encap", "decap"] as const) {
        const rows = res.rows.filter((r) => r.suite === suite && r.size === size && r.direction === direction);
        if (rows.length === 0) continue;
        out.push({
          key: [suite, String(size), direction],
          cells: IMPLS.map((i) => cell(rows.find((r) => r.impl === i))),
        });
      }
  return out;
}

/** The console table: one line per (suite, size, direction), one column per implementation. */
export function textTable(res: BenchResults): string {
  const head = ["suite", "inner B", "dir", ...IMPLS.map((i) => LABEL[i])];
  const body = lines(res).map((l) => [...l.key, ...l.cells]);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((r) => r[c]!.length)));
  const fmt = (r: string[]) =>
    r
      .map((v, c) => (c === 1 ? v.padStart(widths[c]!) : v.padEnd(widths[c]!)))
      .join("  ")
      .trimEnd();
  return [fmt(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(fmt)].join("\n");
}

/** The same table in Markdown, for README.md. */
export function markdownTable(res: BenchResults): string {
  const head = ["suite", "inner B", "dir", ...IMPLS.map((i) => LABEL[i])];
  const body = lines(res).map((l) => [...l.key, ...l.cells]);
  const row = (r: string[]) => `| ${r.join(" | ")} |`;
  return [row(head), row(head.map((_, c) => (c === 1 ? "---:" : "---"))), ...body.map(row)].join("\n");
}

/** One sentence with the SPI lookup numbers. */
export function spiLookupLine(res: BenchResults): string {
  const s = res.spiLookup;
  if (!s) return "SPI lookup: not measured";
  return (
    `SPI lookup (${s.suite}, ${s.size} B, decap, batch 256): 1 SA ${formatPps(s.oneSaPps)}; ` +
    `${s.sas.toLocaleString("en-US")} SAs, packets over ${s.ringSas.toLocaleString("en-US")} random SAs ${formatPps(s.manySaPps)}; ` +
    `same table, ${s.fewSas.toLocaleString("en-US")} random SAs ${formatPps(s.manySaFewPps)}; same table, one SA ${formatPps(s.manySaOneHotPps)}; extra cost per packet ${(s.extraCost * 100).toFixed(1)}% ` +
    `(adding the SAs took ${s.addSeconds.toFixed(1)} s)`
  );
}

/** One line per target of the issue: met or not, measured vs required. */
export function targetLines(res: BenchResults): string[] {
  return res.targets.map((t) => `${t.met ? "met    " : "NOT MET"}  ${t.name}: ${t.measured} (target ${t.required})`);
}

/** Machine, Node version, date and method, for the table caption. */
export function machineLine(res: BenchResults): string {
  const m = res.machine;
  const build =
    m.gitCommit || m.wasmSha256
      ? `, commit ${m.gitCommit ?? "?"}, dataplane.wasm sha256 ${m.wasmSha256?.slice(0, 12) ?? "?"}`
      : "";
  return (
    `${m.cpu} (${m.cores} cores), Node ${m.node}, ${m.platform}/${m.arch}, ${m.date}${build}; ` +
    `${res.config.repetitions} interleaved repetitions of ${res.config.sliceMs} ms, medians, per ${res.config.clock === "cpu" ? "second of process CPU time" : "second of elapsed time"}${res.config.quick ? " (--quick: smoke run, numbers are noise)" : ""}`
  );
}
