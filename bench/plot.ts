// Line plots of bench/results.json in plain SVG (the style of bench/tunnel/svg.ts, no plotting
// dependency): per suite one file, bench/plot-<suite>.svg, with four panels (encap and decap, packets/s
// and Gbit/s against the inner packet size), one line per implementation. Packets/s span two decades
// and more (per-packet @noble against our batch path), so its axis goes logarithmic when the values
// span more than PPS_LOG_SPAN; Gbit/s stays linear from 0.
import type { BenchResults, Direction, Impl } from "./results.ts";
import { esc, px } from "./svg.ts";

/** The implementations drawn, in legend order: the batch-64 column would sit on the batch-256 line. */
export const PLOT_IMPLS: readonly Impl[] = ["node:crypto", "noble", "ours-b256", "ours-wasm-b256"];

const STYLE: Record<Impl, { label: string; color: string; dash?: string }> = {
  "node:crypto": { label: "node:crypto, per packet", color: "#4477aa" },
  noble: { label: "@noble, per packet", color: "#228833" },
  "ours-b64": { label: "ours, assist on, batch 64", color: "#aa3377" },
  "ours-b256": { label: "ours, assist on, batch 256", color: "#d9541e" },
  "ours-wasm-b256": { label: "ours, wasm AES (assist off), batch 256", color: "#d9541e", dash: "6 4" },
};

/** Above this max/min ratio of packets/s the axis is logarithmic. */
export const PPS_LOG_SPAN = 20;

export interface Series {
  impl: Impl;
  points: { x: number; y: number }[];
}
export interface LinePanel {
  title: string;
  yLabel: string;
  log: boolean;
  series: Series[];
  /** Tick label of a y value. */
  yTick: (v: number) => string;
}

const W = 300, // plot area of one panel
  H = 190,
  ML = 64, // left of the plot area: y ticks and the y label
  MR = 24,
  PT = 26, // above the plot area: the panel title
  PB = 44; // below: x ticks and the x label

/** A tick step of 1, 2 or 5 × 10^k giving 3 to 6 ticks up to `max`. */
function niceStep(max: number): number {
  const raw = max / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const f of [1, 2, 5, 10]) if (f * p >= raw) return f * p;
  return 10 * p;
}

interface Axis {
  lo: number;
  hi: number;
  ticks: number[];
}

/** Linear from 0 in nice steps, or whole decades around the data when `log`. */
export function yAxis(values: number[], log: boolean): Axis {
  const finite = values.filter((v) => Number.isFinite(v));
  if (!log) {
    const max = Math.max(0, ...finite);
    if (!(max > 0)) return { lo: 0, hi: 1, ticks: [0, 1] };
    const step = niceStep(max);
    const n = Math.ceil(max / step - 1e-9);
    return { lo: 0, hi: n * step, ticks: Array.from({ length: n + 1 }, (_, i) => +(i * step).toPrecision(12)) };
  }
  const pos = finite.filter((v) => v > 0);
  if (pos.length === 0) return { lo: 1, hi: 10, ticks: [1, 10] };
  const lo = 10 ** Math.floor(Math.log10(Math.min(...pos)));
  const hi = Math.max(10 ** Math.ceil(Math.log10(Math.max(...pos))), lo * 10);
  const decades = Math.round(Math.log10(hi / lo));
  const ticks: number[] = [];
  for (let k = 0; k <= decades; k++)
    for (const f of decades <= 3 ? [1, 2, 5] : [1]) {
      const t = +(lo * 10 ** k * f).toPrecision(12);
      if (t <= hi * 1.0001) ticks.push(t);
    }
  return { lo, hi, ticks };
}

function panelSvg(
  p: LinePanel,
  axis: Axis,
  x0: number,
  y0: number,
  xMax: number,
  xTicks: number[],
  xLabel: string,
): string[] {
  const { lo, hi, ticks } = axis;
  const sx = (x: number) => x0 + (x / xMax) * W;
  const sy = p.log
    ? (y: number) => y0 + H - ((Math.log10(y) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * H
    : (y: number) => y0 + H - ((y - lo) / (hi - lo)) * H;
  const o: string[] = [`<g>`, `<text x="${px(x0)}" y="${px(y0 - 10)}" font-weight="bold">${esc(p.title)}</text>`];
  o.push(`<rect x="${px(x0)}" y="${px(y0)}" width="${W}" height="${H}" fill="none" stroke="#bbb"/>`);
  for (const t of ticks) {
    const y = px(sy(t));
    o.push(`<line x1="${px(x0)}" y1="${y}" x2="${px(x0 + W)}" y2="${y}" stroke="#e3e3e3"/>`);
    o.push(
      `<text x="${px(x0 - 5)}" y="${px(sy(t) + 3.5)}" text-anchor="end" fill="#666" font-size="10">${esc(p.yTick(t))}</text>`,
    );
  }
  for (const t of xTicks) {
    const x = px(sx(t));
    o.push(`<line x1="${x}" y1="${px(y0)}" x2="${x}" y2="${px(y0 + H)}" stroke="#eee"/>`);
    o.push(`<text x="${x}" y="${px(y0 + H + 14)}" text-anchor="middle" fill="#666" font-size="10">${t}</text>`);
  }
  o.push(
    `<text x="${px(x0 + W / 2)}" y="${px(y0 + H + 32)}" text-anchor="middle" fill="#444" font-size="11">${esc(xLabel)}</text>`,
    `<text transform="translate(${px(x0 - 48)} ${px(y0 + H / 2)}) rotate(-90)" text-anchor="middle" fill="#444" font-size="11">${esc(p.yLabel)}</text>`,
  );
  for (const s of p.series) {
    const st = STYLE[s.impl];
    const pts = s.points.filter((q) => Number.isFinite(q.y) && (p.log ? q.y > 0 : q.y >= 0));
    if (pts.length === 0) continue;
    o.push(
      `<polyline data-impl="${esc(s.impl)}" fill="none" stroke="${st.color}" stroke-width="2"${st.dash ? ` stroke-dasharray="${st.dash}"` : ""} points="${pts.map((q) => `${px(sx(q.x))},${px(sy(q.y))}`).join(" ")}"/>`,
    );
    for (const q of pts) o.push(`<circle cx="${px(sx(q.x))}" cy="${px(sy(q.y))}" r="2.5" fill="${st.color}"/>`);
  }
  o.push(`</g>`);
  return o;
}

/**
 * One SVG document: a title, caption lines, a legend of the implementations that have data, and the
 * panels in a grid of `cols` columns sharing the x axis (0 to the largest tick).
 */
export function lineChart(
  title: string,
  caption: string[],
  xLabel: string,
  xTicks: number[],
  panels: LinePanel[],
  cols = 2,
): string {
  const impls = PLOT_IMPLS.filter((i) => panels.some((p) => p.series.some((s) => s.impl === i && s.points.length)));
  const rows = Math.ceil(panels.length / cols);
  const cellW = ML + W + MR,
    cellH = PT + H + PB;
  const width = Math.max(cols * cellW + 10, 500);
  const legendW = impls.reduce((a, i) => a + 27 + Math.round(STYLE[i].label.length * 6.4) + 18, 14);
  const legendRows = legendW > width ? 2 : 1;
  const top = 44 + caption.length * 15 + 6 + legendRows * 18;
  const height = top + rows * cellH + 6;
  const o: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    ...caption.map((c, i) => `<text x="10" y="${42 + i * 15}" fill="#555" font-size="11">${esc(c)}</text>`),
  ];
  // The legend, wrapped onto a second line when it does not fit.
  let lx = 14,
    ly = top - 18 - (legendRows - 1) * 18;
  for (const i of impls) {
    const st = STYLE[i];
    const w = 27 + Math.round(st.label.length * 6.4) + 18;
    if (lx > 14 && lx + w > width) {
      lx = 14;
      ly += 18;
    }
    o.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${st.color}" stroke-width="2"${st.dash ? ` stroke-dasharray="${st.dash}"` : ""}/>`,
      `<text x="${lx + 27}" y="${ly + 4}">${esc(st.label)}</text>`,
    );
    lx += w;
  }
  const xMax = Math.max(...xTicks, 1);
  // Panels with the same y label share their axis, so encap and decap compare at a glance.
  const axes = new Map<string, Axis>();
  for (const p of panels)
    if (!axes.has(p.yLabel))
      axes.set(
        p.yLabel,
        yAxis(
          panels
            .filter((q) => q.yLabel === p.yLabel)
            .flatMap((q) => q.series.flatMap((s) => s.points.map((pt) => pt.y))),
          p.log,
        ),
      );
  panels.forEach((p, k) => {
    const x0 = 10 + (k % cols) * cellW + ML,
      y0 = top + Math.floor(k / cols) * cellH + PT;
    o.push(...panelSvg(p, axes.get(p.yLabel)!, x0, y0, xMax, xTicks, xLabel));
  });
  o.push("</svg>");
  return o.join("\n") + "\n";
}

/** "1.5M", "200k", "50": tick labels of packets/s. */
export function ppsTick(v: number): string {
  if (v >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(3)}`;
}

/** The figure caption: machine, build and method, in lines that fit the width of two panels. */
export function plotCaption(res: BenchResults): string[] {
  const m = res.machine;
  const lines = [
    `${m.cpu} (${m.cores} cores), Node ${m.node}, ${m.platform}/${m.arch}; commit ${m.gitCommit ?? "?"}, ${m.date.slice(0, 16).replace("T", " ")} UTC`,
    `medians of ${res.config.repetitions} interleaved repetitions of ${res.config.sliceMs} ms, per second of ${res.config.clock === "cpu" ? "process CPU time" : "elapsed time"}; Gbit/s of inner bytes`,
  ];
  if (res.config.quick) lines.push("--quick: a smoke run, the numbers are noise");
  return lines;
}

/** The SVG of one suite, or undefined when results.json has no rows for it. */
export function suitePlot(res: BenchResults, suite: string): string | undefined {
  const rows = res.rows.filter((r) => r.suite === suite && PLOT_IMPLS.includes(r.impl));
  if (rows.length === 0) return undefined;
  const sizes = [...new Set(rows.map((r) => r.size))].sort((a, b) => a - b);
  const series = (direction: Direction, y: "pps" | "gbps"): Series[] =>
    PLOT_IMPLS.map((impl) => ({
      impl,
      points: rows
        .filter((r) => r.impl === impl && r.direction === direction)
        .sort((a, b) => a.size - b.size)
        .map((r) => ({ x: r.size, y: r[y] })),
    })).filter((s) => s.points.length > 0);
  const pps = rows.map((r) => r.pps).filter((v) => v > 0 && Number.isFinite(v));
  const log = pps.length > 0 && Math.max(...pps) / Math.min(...pps) > PPS_LOG_SPAN;
  const panels: LinePanel[] = [];
  for (const direction of ["encap", "decap"] as const) {
    if (!rows.some((r) => r.direction === direction)) continue;
    panels.push(
      {
        title: `${direction}: packets/s`,
        yLabel: `packets/s${log ? " (log scale)" : ""}`,
        log,
        series: series(direction, "pps"),
        yTick: ppsTick,
      },
      {
        title: `${direction}: Gbit/s`,
        yLabel: "Gbit/s of inner bytes",
        log: false,
        series: series(direction, "gbps"),
        yTick: (v) => `${+v.toPrecision(3)}`,
      },
    );
  }
  return lineChart(
    `${suite}: ESP ${panels.length > 2 ? "encap and decap" : "throughput"} against inner packet size`,
    plotCaption(res),
    "inner packet size (bytes)",
    sizes,
    panels,
  );
}

/** File name of a suite's plot, relative to bench/. */
export const plotFile = (suite: string) => `plot-${suite}.svg`;
