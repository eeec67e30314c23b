// Turns results into the tables printed by run.ts and written into README.md by report.ts.
import {
  type BenchResults,
  type BenchRow,
  IMPLS,
  type Impl,
  type IkeResults,
  type SpiLookupResult,
} from "./results.ts";

/** Column headers; "assist" is the native AES assist (node:crypto AES-ECB per batch and SA). */
export const LABEL: Record<Impl, string> = {
  "node:crypto": "node:crypto",
  noble: "@noble",
  "ours-b64": "ours, assist on, batch 64",
  "ours-b256": "ours, assist on, batch 256",
  "ours-wasm-b256": "ours, assist off (wasm AES), batch 256",
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
    `(adding the SAs took ${s.addSeconds.toFixed(1)} s)` +
    (s.bytesPerSa !== undefined ? `; ${s.bytesPerSa.toFixed(0)} bytes of dataplane memory per SA` : "") +
    pagesNote(s)
  );
}

/** Which pages the SPI-lookup rows ran on, and the 4 KiB-page rows of the same run when measured. */
function pagesNote(s: SpiLookupResult): string {
  if (!s.hugePages) return "";
  if (!s.hugePages.active) return `; 4 KiB pages (no huge pages: ${s.hugePages.reason})`;
  const p = s.smallPages;
  return (
    "; on transparent huge pages" +
    (p
      ? `; with hugePages false (4 KiB pages): 1 SA ${formatPps(p.oneSaPps)}, ${s.ringSas.toLocaleString("en-US")} random SAs ` +
        `${formatPps(p.manySaPps)}, ${s.fewSas.toLocaleString("en-US")} random SAs ${formatPps(p.manySaFewPps)}, extra cost ${(p.extraCost * 100).toFixed(1)}%`
      : "")
  );
}

const signedPct = (x: number) => `${x < 0 ? "−" : "+"}${Math.abs(x * 100).toFixed(1)}%`;

/**
 * The SA-spread rows in Markdown: decap pps with 1 SA, then with `sas` SAs in the table and the
 * packets for one SA, a few random SAs, many random SAs; the cost per packet against 1 SA.
 */
export function spiSpreadTable(res: BenchResults): string | undefined {
  const s = res.spiLookup;
  if (!s) return undefined;
  const n = (v: number) => v.toLocaleString("en-US");
  // [SAs, spread over, pps, pps of 1 SA on the same pages, pages]; the pages column only when known.
  const pages = s.hugePages ? (s.hugePages.active ? "2 MiB (THP)" : "4 KiB") : undefined;
  const rows: [string, string, number, number, string | undefined][] = [
    ["1", "that SA", s.oneSaPps, s.oneSaPps, pages],
    [n(s.sas), "one SA", s.manySaOneHotPps, s.oneSaPps, pages],
    [n(s.sas), `${n(s.fewSas)} random SAs`, s.manySaFewPps, s.oneSaPps, pages],
    [n(s.sas), `${n(s.ringSas)} random SAs`, s.manySaPps, s.oneSaPps, pages],
  ];
  const p = s.smallPages;
  if (p) {
    rows.push(
      ["1", "that SA", p.oneSaPps, p.oneSaPps, "4 KiB"],
      [n(s.sas), `${n(s.fewSas)} random SAs`, p.manySaFewPps, p.oneSaPps, "4 KiB"],
      [n(s.sas), `${n(s.ringSas)} random SAs`, p.manySaPps, p.oneSaPps, "4 KiB"],
    );
  }
  const col = (x: string | undefined) => (pages ? ` ${x} |` : "");
  const out = [
    `| SAs in the table | packets spread over | decap | cost per packet vs 1 SA |${col("pages")}`,
    `| ---: | --- | ---: | ---: |${col("---")}`,
    ...rows.map(
      ([sas, over, pps, base, pg]) =>
        `| ${sas} | ${over} | ${formatPps(pps)} | ${sas === "1" ? "–" : signedPct(base / pps - 1)} |${col(pg)}`,
    ),
  ];
  const extra = [`adding ${n(s.sas)} SAs took ${s.addSeconds.toFixed(1)} s`];
  extra.push(
    s.bytesPerSa !== undefined
      ? `dataplane memory per SA: ${s.bytesPerSa.toFixed(0)} bytes`
      : "memory per SA: not in results.json",
  );
  if (p) extra.push(`on 4 KiB pages (hugePages: false) ${signedPct(p.extraCost)}`);
  else if (s.hugePages && !s.hugePages.active) extra.push(`4 KiB pages (${s.hugePages.reason})`);
  return (
    `SA spread (${s.suite}, ${s.size} B inner, decap, batch 256${s.hugePages?.active ? ", transparent huge pages" : ""}): ` +
    `extra cost at ${n(s.sas)} SAs, ${n(s.ringSas)} random: **${signedPct(s.extraCost)}** per packet; ${extra.join("; ")}.\n\n` +
    out.join("\n")
  );
}

const rate = (v: number | undefined) =>
  v === undefined || !Number.isFinite(v) ? "–" : v >= 100 ? v.toFixed(0) : v.toFixed(1);

/** IKE setups per CPU-second from bench/ike-results.json: one row per DH group. */
export function ikeTable(ike: IkeResults): string {
  const groups = [...new Set([...ike.groups, ...(ike.strongswan ?? [])].map((g) => g.group))];
  const pick = (dh: "native" | "js", g: string) => ike.groups.find((r) => r.group === g && (r.dh ?? "js") === dh);
  const m = ike.machine;
  const lines = [
    `IKE setups per second of CPU time: IKE_SA_INIT, IKE_AUTH (PSK) with the first Child SA (aes128gcm16), DELETE; ` +
      `both of our peers in one process (${ike.config.transport === "memory" ? "in-memory datagrams" : "UDP on 127.0.0.1"}), ` +
      `strongSwan = two charons in namespaces, CPU of both. \`bench/ike-setup.ts\` of ${m.date.slice(0, 16).replace("T", " ")} UTC, ` +
      `commit ${m.gitCommit ?? "?"}, ${m.cpu} (${m.cores} cores), Node ${m.node}, ${(ike.config.budgetMs / 1000).toFixed(1)} s per group and implementation` +
      `${ike.config.quick ? " (--quick: noisy)" : ""}.`,
    "",
    "| group | ours, native DH (node:crypto) | ours, JS DH (@noble/curves, BigInt) | strongSwan | ours native / strongSwan |",
    "| --- | ---: | ---: | ---: | ---: |",
  ];
  for (const g of groups) {
    const nat = pick("native", g),
      js = pick("js", g),
      sw = ike.strongswan?.find((r) => r.group === g);
    const ratio = nat && sw ? `${(nat.setupsPerCpuSecond / sw.setupsPerCpuSecond).toFixed(2)}×` : "–";
    lines.push(
      `| ${g} | ${rate(nat?.setupsPerCpuSecond)} | ${rate(js?.setupsPerCpuSecond)} | ${sw ? rate(sw.setupsPerCpuSecond) : "not measured"} | ${ratio} |`,
    );
  }
  return lines.join("\n");
}

/**
 * "Where the time goes" at 64 and 1400 B: the aes128gcm16 batch-path split of `--profile` (copy in,
 * run = wasm calls + the native AES step between them, status + copy out) and the wasm primitives.
 */
export function profileLines(res: BenchResults, suite = "aes128gcm16"): string[] {
  const prof = res.profile ?? [];
  const out: string[] = [];
  for (const size of [64, 1400]) {
    const parts: string[] = [];
    for (const dir of ["encap", "decap"]) {
      const prefix = `ours ${suite} ${dir} `;
      const e = prof.filter((p) => p.size === size && p.what.startsWith(prefix) && Number.isFinite(p.nsPerPacket));
      const part = (tail: string) => e.find((p) => p.what.endsWith(tail))?.nsPerPacket;
      const [cin, run, cout] = [part(": copy into arena"), part(": wasm run"), part(": status + copy out")];
      if (cin === undefined || run === undefined || cout === undefined) continue;
      const total = cin + run + cout;
      const pct = (v: number) => `${((100 * v) / total).toFixed(0)}%`;
      parts.push(
        `${dir} ${total.toFixed(0)} ns/packet: copy in ${pct(cin)}, run (wasm + native AES) ${pct(run)}, status + copy out ${pct(cout)}`,
      );
    }
    const prim = (what: string) =>
      prof.find((p) => p.size === size && p.what === what && Number.isFinite(p.nsPerPacket));
    const ghash = prim("primitive: GHASH only"),
      aes = prim("primitive: AES-128 blocks only"),
      seal = prim("primitive: AES-128-GCM seal (whole)");
    if (seal || ghash || aes) {
      const bits = [
        seal && `whole AES-GCM seal ${seal.nsPerPacket.toFixed(0)} ns`,
        ghash && `GHASH ${ghash.nsPerPacket.toFixed(0)} ns`,
        aes && `AES blocks ${aes.nsPerPacket.toFixed(0)} ns`,
      ].filter(Boolean);
      parts.push(`wasm primitives per packet: ${bits.join(", ")}`);
    }
    if (parts.length)
      out.push(
        `where the time goes at ${size} B (${suite}, batch 256, assist on, CPU clock; parts are differences of medians): ${parts.join("; ")}`,
      );
  }
  return out;
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
