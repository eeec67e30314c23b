// `ipsec-wasm up --metrics` read by the Prometheus project's own OpenMetrics parser (Debian's
// python3-prometheus-client): two `up` processes over loopback UDP, three good echo requests, then
// a peer truncating HMAC-SHA-256 to 96 bits; `status` (text, JSON), the `up` log and the metrics
// endpoint must count and name it (scenario: test/helpers/cli-up.ts). Moved from
// test/unit/cli-obs.test.ts, which runs the same scenario with a parser written from the
// specification (test/helpers/exposition.ts) so that `npm test` needs no Python.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { CliHarness, statusAndMetricsScenario, type Sample } from "../helpers/cli-up.ts";
import { SYSTEM_PYTHON } from "../helpers/interop.ts";

const h = new CliHarness("cli-obs-metrics");
after(() => h.remove());

/** The OpenMetrics body as python3-prometheus-client's OpenMetrics parser reads it (a parse error fails the test). */
function prometheusClient(body: string): Sample[] {
  const py = [
    "import sys, json",
    "from prometheus_client.openmetrics.parser import text_string_to_metric_families",
    "out = [[s.name, s.labels, s.value] for f in text_string_to_metric_families(sys.stdin.read()) for s in f.samples]",
    "print(json.dumps(out))",
  ].join("\n");
  const r = spawnSync(SYSTEM_PYTHON, ["-c", py], {
    input: body,
    encoding: "utf8",
    timeout: 30_000,
    killSignal: "SIGKILL",
  });
  if (r.error)
    throw new Error(
      `${SYSTEM_PYTHON}: ${r.error.message} (needs the Debian packages python3 and python3-prometheus-client)`,
    );
  assert.equal(r.status, 0, `prometheus_client rejected the exposition:\n${r.stderr}\n${body}`);
  return (JSON.parse(r.stdout) as [string, Record<string, string>, number][]).map(([name, labels, value]) => ({
    name,
    labels,
    value,
  }));
}

test(
  "status and /metrics: good packets counted with no diagnostic, then a peer truncating HMAC-SHA-256 to 96 bits is named (text, JSON, log, metrics)",
  { timeout: 120_000 },
  async (t) => {
    t.after(() => h.stop());
    await statusAndMetricsScenario(h, prometheusClient);
  },
);
