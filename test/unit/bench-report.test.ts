// bench/report.ts and its helpers on a small made-up results object: the SVG plots parse as XML
// (balanced tags, finite coordinates, one line per implementation and panel, larger values drawn
// higher), and the Markdown section has the table rows, the SA-spread rows, the IKE rows and the
// profile lines. No benchmark runs here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchResults, BenchRow, IkeResults, Impl, ProfileEntry } from "../../bench/results.ts";
import { IMPLS } from "../../bench/results.ts";
import { formatPps, ikeTable, markdownTable, profileLines, spiSpreadTable } from "../../bench/format.ts";
import { PLOT_IMPLS, suitePlot, yAxis } from "../../bench/plot.ts";
import { benchSection, replaceSection, writePlots } from "../../bench/report.ts";

const SIZES = [64, 512, 1400];
/** Made-up pps per implementation at 64 B, falling with size; the spread makes the pps axis log. */
const BASE: Record<Impl, number> = {
  "node:crypto": 150e3,
  noble: 40e3,
  "ours-b64": 1.4e6,
  "ours-b256": 1.5e6,
  "ours-wasm-b256": 1.1e6,
};

function fixture(opts: { suites?: string[]; spread?: number; bytesPerSa?: number } = {}): BenchResults {
  const suites = opts.suites ?? ["aes128gcm16", "chacha20poly1305"];
  const rows: BenchRow[] = [];
  for (const suite of suites)
    for (const size of SIZES)
      for (const direction of ["encap", "decap"] as const)
        for (const impl of IMPLS) {
          const base = opts.spread ? BASE["node:crypto"] * (impl === "noble" ? 1 : opts.spread) : BASE[impl];
          const pps = base / (1 + size / 400) / (direction === "decap" ? 1.1 : 1);
          rows.push({
            suite: suite as BenchRow["suite"],
            size,
            direction,
            impl,
            pps,
            gbps: (pps * size * 8) / 1e9,
            ratio: null,
            samples: [pps],
          });
        }
  const profile: ProfileEntry[] = [];
  for (const size of [64, 1400])
    for (const dir of ["encap", "decap"]) {
      const w = `ours aes128gcm16 ${dir} b=256`;
      profile.push(
        { what: `${w}: copy into arena`, size, nsPerPacket: size / 10, note: "" },
        { what: `${w}: wasm run`, size, nsPerPacket: size, note: "" },
        { what: `${w}: status + copy out`, size, nsPerPacket: size / 5, note: "" },
      );
      profile.push({ what: "primitive: GHASH only", size, nsPerPacket: size / 2, note: "" });
    }
  return {
    machine: {
      cpu: "Test CPU",
      cores: 2,
      node: "v20.0.0",
      v8: "11",
      platform: "linux",
      arch: "x64",
      date: "2026-01-02T03:04:05.000Z",
      gitCommit: "abc1234",
    },
    config: {
      sliceMs: 10,
      repetitions: 1,
      quick: true,
      suites: suites as BenchResults["config"]["suites"],
      sizes: SIZES,
      clock: "cpu",
      decapRing: "",
    },
    rows,
    spiLookup: {
      suite: "null-sha256",
      size: 64,
      sas: 1_000_000,
      addSeconds: 3,
      oneSaPps: 1e6,
      manySaPps: 6e5,
      manySaOneHotPps: 1.1e6,
      manySaFewPps: 9e5,
      fewSas: 1024,
      ringSas: 65536,
      extraCost: 1e6 / 6e5 - 1,
      ...(opts.bytesPerSa !== undefined ? { bytesPerSa: opts.bytesPerSa } : {}),
    },
    targets: [],
    profile,
  };
}

interface El {
  name: string;
  attrs: Record<string, string>;
  children: El[];
}

/** A strict little XML reader: balanced tags, quoted attributes, no stray '<' or '&' in text. */
function parseXml(xml: string): El {
  const root: El = { name: "#root", attrs: {}, children: [] };
  const stack = [root];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf("<", i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    assert.doesNotMatch(text, /&(?!(amp|lt|gt|quot);)/, `bare & in text ${text}`);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    assert.ok(m, `malformed tag at ${xml.slice(lt, lt + 60)}`);
    const [, close, name, attrText, selfClose] = m;
    if (close) {
      const open = stack.pop()!;
      assert.equal(open.name, name, `</${name}> closes <${open.name}>`);
    } else {
      const attrs: Record<string, string> = {};
      for (const a of attrText!.matchAll(/([\w:-]+)="([^"]*)"/g)) {
        assert.ok(!(a[1]! in attrs), `duplicate attribute ${a[1]}`);
        attrs[a[1]!] = a[2]!;
      }
      const el: El = { name: name!, attrs, children: [] };
      stack.at(-1)!.children.push(el);
      if (!selfClose) stack.push(el);
    }
    i = lt + m[0].length;
  }
  assert.equal(stack.length, 1, `unclosed <${stack.at(-1)!.name}>`);
  assert.equal(root.children.length, 1);
  return root.children[0]!;
}

const all = (e: El): El[] => [e, ...e.children.flatMap(all)];
const GEOMETRY = ["x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "width", "height", "points", "transform"];

function checkSvg(svg: string, expectImpls: readonly Impl[]): El[] {
  const doc = parseXml(svg);
  assert.equal(doc.name, "svg");
  for (const e of all(doc))
    for (const a of GEOMETRY) {
      const v = e.attrs[a];
      if (v === undefined || v === "100%") continue;
      const nums = v.match(/-?[\d.]+(e-?\d+)?|NaN|Infinity/g) ?? [];
      assert.ok(nums.length > 0, `${e.name} ${a}="${v}"`);
      for (const n of nums) assert.ok(Number.isFinite(Number(n)), `${e.name} ${a}="${v}"`);
    }
  const panels = doc.children.filter((e) => e.name === "g");
  assert.ok(panels.length > 0);
  for (const g of panels) {
    const lines = g.children.filter((e) => e.name === "polyline" || e.name === "path");
    assert.deepEqual(lines.map((l) => l.attrs["data-impl"]).sort(), [...expectImpls].sort());
  }
  return panels;
}

const pointsOf = (l: El) => l.attrs.points!.split(" ").map((p) => p.split(",").map(Number) as [number, number]);

test("suitePlot: well-formed SVG, four panels, one line per plotted implementation", () => {
  const res = fixture();
  for (const suite of res.config.suites) {
    const svg = suitePlot(res, suite)!;
    const panels = checkSvg(svg, PLOT_IMPLS);
    assert.equal(panels.length, 4);
    assert.match(svg, /abc1234/, "caption names the commit");
    assert.match(svg, /Test CPU/, "caption names the machine");
    assert.match(svg, /packets\/s \(log scale\)/, "40 kpps to 1.5 Mpps needs a log axis");
    for (const g of panels) {
      const lines = g.children.filter((e) => e.name === "polyline");
      for (const l of lines) {
        const pts = pointsOf(l);
        assert.equal(pts.length, SIZES.length);
        for (let k = 1; k < pts.length; k++) assert.ok(pts[k]![0] > pts[k - 1]![0], "x grows with the size");
      }
      // At 64 B, ours (1.5M) is above node:crypto (150k) above @noble (40k): smaller SVG y.
      const y64 = (impl: Impl) => pointsOf(lines.find((l) => l.attrs["data-impl"] === impl)!)[0]![1];
      assert.ok(y64("ours-b256") < y64("node:crypto"));
      assert.ok(y64("node:crypto") < y64("noble"));
    }
  }
  assert.equal(suitePlot(res, "aes128-sha256"), undefined, "no rows, no plot");
});

test("suitePlot: linear pps axis when the values are close; missing and NaN values are left out", () => {
  const res = fixture({ suites: ["aes128gcm16"], spread: 3 });
  assert.doesNotMatch(suitePlot(res, "aes128gcm16")!, /log scale/);
  // Drop @noble entirely and give node:crypto a NaN: @noble has no line, NaN is not drawn.
  res.rows = res.rows.filter((r) => r.impl !== "noble");
  const bad = res.rows.find((r) => r.impl === "node:crypto" && r.size === 512)!;
  bad.pps = NaN;
  bad.gbps = NaN;
  const svg = suitePlot(res, "aes128gcm16")!;
  assert.doesNotMatch(svg, /NaN|Infinity/);
  checkSvg(
    svg,
    PLOT_IMPLS.filter((i) => i !== "noble"),
  );
});

test("yAxis: ticks cover the data, log ticks are decades", () => {
  const lin = yAxis([0.3, 2.2], false);
  assert.equal(lin.lo, 0);
  assert.ok(lin.hi >= 2.2 && lin.ticks.at(-1) === lin.hi);
  const log = yAxis([40e3, 1.5e6], true);
  assert.equal(log.lo, 1e4);
  assert.equal(log.hi, 1e7);
  assert.ok(log.ticks.includes(1e5) && log.ticks.includes(1e6));
});

test("markdown: table rows, assist columns, SA spread, IKE and profile lines", () => {
  const res = fixture({ bytesPerSa: 640 });
  const table = markdownTable(res);
  assert.equal(table.split("\n").length, 2 + 2 * SIZES.length * 2);
  assert.match(table.split("\n")[0]!, /ours, assist on, batch 256/);
  assert.match(table.split("\n")[0]!, /assist off \(wasm AES\)/);

  const spread = spiSpreadTable(res)!;
  const s = res.spiLookup!;
  for (const pps of [s.oneSaPps, s.manySaOneHotPps, s.manySaFewPps, s.manySaPps])
    assert.match(spread, new RegExp(`\\| ${formatPps(pps).replace(".", "\\.")} \\|`));
  assert.match(spread, /\| 1,000,000 \| 65,536 random SAs \|/);
  assert.match(spread, /640 bytes/);
  delete res.spiLookup!.bytesPerSa;
  assert.match(spiSpreadTable(res)!, /memory per SA: not in results\.json/);

  const ike: IkeResults = {
    machine: { cpu: "Test CPU", cores: 2, node: "v20.0.0", date: "2026-01-02T03:04:05.000Z", gitCommit: "def5678" },
    config: { transport: "memory", budgetMs: 1000, quick: false },
    groups: ["x25519", "modp2048"].flatMap((group) =>
      (["native", "js"] as const).map((dh) => ({
        group,
        dh,
        setups: 10,
        setupsPerCpuSecond: dh === "native" ? 800 : 150,
        setupsPerSecond: 1,
        medianMs: 1,
      })),
    ),
    strongswan: [{ group: "x25519", setups: 5, setupsPerCpuSecond: 100, setupsPerSecond: 1, medianMs: 40 }],
  };
  const it = ikeTable(ike);
  assert.match(it, /def5678/);
  assert.match(it, /\| x25519 \| 800 \| 150 \| 100 \| 8\.00× \|/);
  assert.match(it, /\| modp2048 \| 800 \| 150 \| not measured \| – \|/);

  const prof = profileLines(res);
  assert.equal(prof.length, 2);
  assert.match(prof[0]!, /^where the time goes at 64 B/);
  assert.match(prof[1]!, /^where the time goes at 1400 B/);
  // copy in : run : copy out = 0.1 : 1 : 0.2 of the fixture.
  assert.match(prof[1]!, /encap 1820 ns\/packet: copy in 8%, run \(wasm \+ native AES\) 77%, status \+ copy out 15%/);

  const section = benchSection(res, { ike, plots: [{ suite: "aes128gcm16", path: "bench/plot-aes128gcm16.svg" }] });
  assert.match(section, /!\[aes128gcm16[^\]]*\]\(bench\/plot-aes128gcm16\.svg\)/);
  for (const part of [table, spiSpreadTable(res)!, it, prof[0]!.slice(1)])
    assert.ok(section.includes(part), part.slice(0, 40));
  const readme = "# x\n\nsee `<!-- bench:start -->` below\n<!-- bench:start -->\nold\n<!-- bench:end -->\ntail\n";
  assert.equal(
    replaceSection(readme, "new"),
    "# x\n\nsee `<!-- bench:start -->` below\n<!-- bench:start -->\nnew\n<!-- bench:end -->\ntail\n",
  );
});

test("writePlots: one file per suite with rows", () => {
  const dir = mkdtempSync(join(tmpdir(), "bench-report-"));
  try {
    const res = fixture();
    const files = writePlots(res, dir);
    assert.deepEqual(
      files.map((f) => f.suite),
      res.config.suites,
    );
    for (const f of files) checkSvg(readFileSync(f.file, "utf8"), PLOT_IMPLS);
  } finally {
    rmSync(dir, { recursive: true });
  }
});
