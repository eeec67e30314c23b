// A line parser for the OpenMetrics and Prometheus text formats, written from the two
// specifications (HELP/TYPE before samples, counters with _total, # EOF, no duplicate series, label
// escaping), not from sdk/diag/metrics.ts. Used by test/unit/diag-metrics.test.ts and
// test/unit/cli-obs.test.ts; the Prometheus project's own parser reads the same output in
// test/interop/metrics-parser.test.ts and test/interop/cli-obs-metrics.test.ts.
import assert from "node:assert/strict";

export interface ParsedFamily {
  name: string;
  help?: string;
  type?: string;
  samples: { name: string; labels: Record<string, string>; value: string }[];
}

/** A strict line parser for both text formats (the spec's grammar, not the library's); failures are assertion errors. */
export function parseExposition(text: string, format: "openmetrics" | "prometheus"): ParsedFamily[] {
  assert.ok(text.endsWith("\n"), "ends with a line feed");
  const lines = text.slice(0, -1).split("\n");
  if (format === "openmetrics") {
    assert.equal(lines.at(-1), "# EOF");
    assert.equal(lines.filter((l) => l === "# EOF").length, 1);
    lines.pop();
  } else {
    assert.ok(!lines.includes("# EOF"));
  }
  const fams: ParsedFamily[] = [];
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  for (const line of lines) {
    if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
      const [, kw, name, rest] = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)!;
      assert.match(name!, NAME);
      let f = fams.at(-1);
      if (!f || f.name !== name || f.samples.length) {
        assert.ok(!fams.some((x) => x.name === name), `family ${name} declared twice`);
        f = { name: name!, samples: [] };
        fams.push(f);
      }
      if (kw === "HELP") {
        assert.equal(f.help, undefined);
        f.help = rest;
      } else {
        assert.equal(f.help !== undefined, true, `HELP before TYPE for ${name}`);
        f.type = rest;
      }
      continue;
    }
    assert.ok(!line.startsWith("#"), `unexpected comment ${line}`);
    // name, optional {labels}, one space, value
    let i = 0;
    while (i < line.length && line[i] !== "{" && line[i] !== " ") i++;
    const name = line.slice(0, i);
    assert.match(name, NAME);
    const labels: Record<string, string> = {};
    if (line[i] === "{") {
      i++;
      while (line[i] !== "}") {
        const eq = line.indexOf("=", i);
        const key = line.slice(i, eq);
        assert.match(key, /^[a-zA-Z_][a-zA-Z0-9_]*$/);
        assert.equal(line[eq + 1], '"');
        let v = "";
        let j = eq + 2;
        for (; line[j] !== '"'; j++) {
          assert.ok(j < line.length, `unterminated label value in ${line}`);
          if (line[j] === "\\") {
            const e = line[++j];
            assert.ok(e === "\\" || e === '"' || e === "n", `bad escape \\${e}`);
            v += e === "n" ? "\n" : e;
          } else v += line[j];
        }
        assert.ok(!(key in labels), `label ${key} twice`);
        labels[key] = v;
        i = j + 1;
        if (line[i] === ",") i++;
      }
      i++;
    }
    assert.equal(line[i], " ");
    const value = line.slice(i + 1);
    assert.match(value, /^(-?\d+(\.\d+)?(e[+-]?\d+)?|NaN|[+-]Inf)$/);
    const f = fams.at(-1);
    assert.ok(f, `sample ${name} before any family`);
    const expected = f.type === "counter" ? (format === "openmetrics" ? `${f.name}_total` : f.name) : f.name;
    assert.equal(name, expected, `sample ${name} in family ${f.name} (${f.type})`);
    if (f.type === "counter") assert.ok(name.endsWith("_total"));
    f.samples.push({ name, labels, value });
  }
  for (const f of fams) {
    assert.ok(f.help && f.type, `${f.name} has HELP and TYPE`);
    const keys = f.samples.map((s) => JSON.stringify(Object.entries(s.labels).sort()));
    assert.equal(new Set(keys).size, keys.length, `${f.name}: duplicate series`);
  }
  return fams;
}
