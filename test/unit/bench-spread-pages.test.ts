// The SA-spread report (bench/format.ts) with the page size the SPI-lookup rows ran on: huge
// pages plus the 4 KiB rows of the same run, 4 KiB only with the reason, and an older results file
// that does not say (no pages column). Made-up numbers; no benchmark runs here.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { BenchResults, SpiLookupResult } from "../../bench/results.ts";
import { formatPps, spiLookupLine, spiSpreadTable } from "../../bench/format.ts";

const base: SpiLookupResult = {
  suite: "null-sha256",
  size: 64,
  sas: 1_000_000,
  addSeconds: 6,
  oneSaPps: 1.2e6,
  manySaPps: 1.05e6,
  manySaOneHotPps: 1.19e6,
  manySaFewPps: 1.14e6,
  fewSas: 1024,
  ringSas: 65536,
  extraCost: 1.2e6 / 1.05e6 - 1,
};
const results = (spiLookup: SpiLookupResult) => ({ spiLookup }) as unknown as BenchResults;
const rowCells = (table: string) =>
  table
    .split("\n")
    .filter((l) => /^\| [\d,]+ \|/.test(l))
    .map((l) => l.split("|").map((c) => c.trim()));

test("spread table: huge-page rows, then the 4 KiB rows of the same run against their own 1 SA", () => {
  const small = { oneSaPps: 1.21e6, manySaPps: 1.0e6, manySaFewPps: 1.1e6, extraCost: 1.21e6 / 1.0e6 - 1 };
  const res = results({ ...base, hugePages: { active: true }, smallPages: small });
  const table = spiSpreadTable(res)!;
  const rows = rowCells(table);
  assert.equal(rows.length, 7);
  assert.deepEqual(
    rows.map((r) => r[5]),
    [...Array(4).fill("2 MiB (THP)"), ...Array(3).fill("4 KiB")],
  );
  const last = rows[6]!;
  assert.equal(last[3], formatPps(small.manySaPps));
  assert.equal(last[4], `+${((small.oneSaPps / small.manySaPps - 1) * 100).toFixed(1)}%`);
  assert.match(table, /transparent huge pages/);
  assert.match(spiLookupLine(res), /hugePages false \(4 KiB pages\).*extra cost 21\.0%/);
});

test("spread table: 4 KiB only says why; an older file has no pages column", () => {
  const why = "koffi (an optional peer dependency) did not load";
  const off = results({ ...base, hugePages: { active: false, reason: why } });
  assert.deepEqual(
    rowCells(spiSpreadTable(off)!).map((r) => r[5]),
    Array(4).fill("4 KiB"),
  );
  assert.ok(spiSpreadTable(off)!.includes(why));
  assert.ok(spiLookupLine(off).includes(why));
  const old = spiSpreadTable(results(base))!;
  assert.equal(rowCells(old).length, 4);
  assert.ok(
    rowCells(old).every((r) => r.length === 6),
    "no pages column",
  );
  assert.doesNotMatch(old, /pages/);
});
