// Turns bench/tunnel/results.json into bench/tunnel/results.md (the table), bench/tunnel/plot.svg,
// and the section between <!-- bench-tunnel:start --> and <!-- bench-tunnel:end --> of every
// --readme file that has those markers (default README.md and bench/README.md; a file without
// them is left alone and the section is printed instead).
//   node --import tsx bench/tunnel/report.ts [--results FILE] [--readme FILE]...
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Measurement, Mode } from "./iperf.ts";
import { type PathResult, type TunnelResults, median } from "./results.ts";
import { type Bar, barChart } from "./svg.ts";
import { replaceBetween } from "../sections.ts";

const START = "<!-- bench-tunnel:start -->";
const END = "<!-- bench-tunnel:end -->";
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const MODE_TITLE: Record<Mode, string> = { tcp: "TCP, one stream", udp1372: "UDP 1372 B", udp64: "UDP 64 B" };
const CEILINGS = new Set(["veth", "kernel-uml-none"]);

interface Stat {
  n: number;
  of: number;
  median: number;
  min: number;
  max: number;
}
function stat(runs: Measurement[], mode: Mode, f: (m: Measurement) => number | null): Stat | null {
  const all = runs.filter((m) => m.mode === mode);
  const xs = all
    .filter((m) => m.ok)
    .map(f)
    .filter((x): x is number => x !== null && Number.isFinite(x));
  if (xs.length === 0) return null;
  return { n: xs.length, of: all.length, median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

const f2 = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const range = (s: Stat, fmt: (v: number) => string) => (s.n > 1 ? ` [${fmt(s.min)}–${fmt(s.max)}]` : "");
/** "(2/3 ok)" when some repetitions failed, setup failures (no runs at all) included. */
const partial = (s: Stat, p: PathResult) =>
  s.n < s.of + p.errors.length ? ` (${s.n}/${s.of + p.errors.length} ok)` : "";

function failure(p: PathResult, mode: Mode): string {
  const e = p.runs.find((m) => m.mode === mode && !m.ok)?.error ?? p.errors[0] ?? "not measured";
  return `failed: ${e.replace(/\|/g, "/").replace(/\s+/g, " ").slice(0, 200)}`;
}

function throughputCell(p: PathResult, mode: Mode): string {
  const g = stat(p.runs, mode, (m) => m.gbps),
    k = stat(p.runs, mode, (m) => m.kpps);
  if (!g || !k) return failure(p, mode);
  return mode === "tcp"
    ? `**${f2(g.median)}** Gbit/s${range(g, f2)}, ${f2(k.median)} kpps${partial(g, p)}`
    : `**${f2(k.median)}** kpps${range(k, f2)}, ${f2(g.median)} Gbit/s${partial(k, p)}`;
}

function cpuCell(p: PathResult, modes: Mode[], f: (m: Measurement) => number | null): string {
  return modes
    .map((mode) => {
      const s = stat(p.runs, mode, f);
      return s ? f2(s.median) : "–";
    })
    .join(" · ");
}

function loadCell(p: PathResult): string {
  const xs = p.runs.flatMap((m) => [m.load1Before, m.load1After]).filter((x) => x > 0 || x === 0);
  return xs.length ? `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}` : "–";
}

/** The header line: machine, tools, settings, dates. */
export function machineLine(r: TunnelResults): string {
  const t = r.machine.tools;
  const dates = [
    ...new Set(r.paths.filter((p) => !p.unavailable).map((p) => p.measuredAt.slice(0, 16).replace("T", " "))),
  ];
  return (
    `${r.machine.cpu} (${r.machine.cores} cores, shared with other work), Linux ${r.machine.kernel}, Node ${r.machine.node}, ` +
    `${t.iperf3}, wireguard-go ${t["wireguard-go"]}, strongSwan ${t.charon}, UML ${t["linux.uml"]}; commit ${r.commit}, ` +
    `${dates.join(" and ")} UTC; iperf3 -t ${r.settings.seconds}, medians of ${r.settings.reps} repetitions interleaved across paths ` +
    `[min–max]; load1 ${r.load.before.toFixed(2)} at the start, ${r.load.after.toFixed(2)} at the end`
  );
}

/** The Markdown table (one row per path). */
export function markdownTable(r: TunnelResults): string {
  const modes = r.settings.modes;
  const head = [
    "path",
    ...modes.map((m) => MODE_TITLE[m]),
    `tunnel CPU µs/packet (${modes.map((m) => MODE_TITLE[m].split(",")[0]).join(" · ")})`,
    `machine CPU µs/packet (same)`,
    "load1 min–max",
    "notes",
  ];
  const lines = [
    `| ${head.join(" | ")} |`,
    `| ${head.map((_, i) => (i === 0 || i === head.length - 1 ? "---" : "---:")).join(" | ")} |`,
  ];
  for (const p of r.paths) {
    if (p.unavailable) {
      lines.push(`| ${p.label} | not available: ${p.unavailable.replace(/\|/g, "/")} |${" |".repeat(head.length - 2)}`);
      continue;
    }
    if (!p.runs.some((m) => m.ok)) {
      // nothing measured in any repetition: one reason, not the same one per column
      lines.push(
        `| ${p.label} | ${failure(p, modes[0]!).replace(/failed: rep \d+: /, "failed: ")} |${" |".repeat(head.length - 3)} ${p.note} |`,
      );
      continue;
    }
    lines.push(
      `| ${[
        p.label,
        ...modes.map((m) => throughputCell(p, m)),
        cpuCell(p, modes, (m) => m.tunnelUsPerPkt),
        cpuCell(p, modes, (m) => m.machineUsPerPkt),
        loadCell(p),
        p.note,
      ].join(" | ")} |`,
    );
  }
  return lines.join("\n");
}

export function plot(r: TunnelResults): string {
  const panels = r.settings.modes.map((mode) => ({
    title: MODE_TITLE[mode],
    unit: mode === "tcp" ? "Gbit/s received" : "kpps received",
    // rows that could not run (or never came up) are in the table with their reason; the plot shows measurements
    bars: r.paths
      .filter((p) => !p.unavailable && p.runs.some((m) => m.ok))
      .map((p): Bar => {
        const s = stat(p.runs, mode, (m) => (mode === "tcp" ? m.gbps : m.kpps));
        return s
          ? { label: p.label, median: s.median, min: s.min, max: s.max, ceiling: CEILINGS.has(p.id) }
          : { label: p.label, median: null, min: 0, max: 0, ceiling: CEILINGS.has(p.id), missing: "failed" };
      }),
  }));
  return barChart(
    "iperf3 through userspace and kernel tunnels, two namespaces on one machine",
    `${r.machine.cpu}, ${r.machine.cores} cores; medians of ${r.settings.reps} × ${r.settings.seconds} s, whiskers min–max; commit ${r.commit}`,
    panels,
  );
}

/** The Markdown between the markers; `svgPath` is the plot relative to the README it goes into. */
export function readmeSection(r: TunnelResults, svgPath: string): string {
  return [
    `Measured on ${machineLine(r)}.`,
    "",
    markdownTable(r),
    "",
    `![iperf3 through each tunnel](${svgPath})`,
    "",
    "Received rates (UDP with `-b 0`: what arrives when the sender overloads the path; the sender shares the cores " +
      "with the tunnel). TCP kpps = bytes / MSS. Tunnel CPU = the tunnel processes' own CPU time (/proc/PID/stat, all " +
      "threads, both ends) per received packet; machine CPU = all busy CPU of the machine (iperf3, kernel, tunnel and " +
      "whatever else ran) per received packet.",
    "",
    "Generated by `bench/tunnel/report.ts` from `bench/tunnel/results.json`; `npm run bench:tunnel` measures again.",
  ].join("\n");
}

/** Replaces what lies between this report's markers (see bench/sections.ts). */
export function replaceSection(text: string, section: string): string | undefined {
  return replaceBetween(text, START, END, section);
}

/** Writes results.md and plot.svg beside `resultsPath` and the README sections of `readmes`. */
export function writeReports(
  r: TunnelResults,
  resultsPath: string,
  readmes = [here("../../README.md"), here("../README.md")],
): void {
  const dir = dirname(resultsPath);
  const svg = join(dir, "plot.svg");
  writeFileSync(svg, plot(r));
  writeFileSync(
    join(dir, "results.md"),
    `# bench:tunnel results\n\nMeasured on ${machineLine(r)}.\n\n${markdownTable(r)}\n\n![plot](plot.svg)\n`,
  );
  console.log(`wrote ${join(dir, "results.md")} and ${svg}`);
  let printed = false;
  for (const file of readmes) {
    const text = existsSync(file) ? readFileSync(file, "utf8") : undefined;
    const section = readmeSection(r, relative(dirname(file), svg));
    const updated = text === undefined ? undefined : replaceSection(text, section);
    if (updated === undefined) {
      console.log(
        `${file}: no ${START} … ${END} markers; not edited.${printed ? "" : " The section:\n\n" + section + "\n"}`,
      );
      printed = true;
    } else if (updated !== text) {
      writeFileSync(file, updated);
      console.log(`${file}: bench-tunnel section rewritten`);
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      results: { type: "string", default: here("./results.json") },
      readme: { type: "string", multiple: true },
    },
  });
  const r = JSON.parse(readFileSync(values.results, "utf8")) as TunnelResults;
  writeReports(r, values.results, values.readme);
}
