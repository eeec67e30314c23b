// publint and @arethetypeswrong/cli (both pinned in test/consumers/tools) on the tarball that
// `npm pack` makes (packedTarball: the same bytes `attw --pack` would check, without running the
// prepack build a second time in this checkout).
//   - publint --strict, every level down to suggestions: "All good!".
//   - attw: the package is ESM-only by design, so `--profile esm-only` (which ignores the node10
//     and node16-from-CJS resolutions) must exit 0, and under the default profile every problem
//     must be one of those CommonJS resolutions — anything else would hurt ESM consumers too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { packedTarball, runBounded, tool } from "./harness.ts";

test("publint --strict on the packed tarball: All good!", { timeout: 300_000 }, async () => {
  const publint = await tool("publint");
  const r = await runBounded(publint, ["run", "--strict", "--level", "suggestion", packedTarball()], {
    timeoutMs: 120_000,
  });
  assert.equal(r.timedOut, false);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /All good!/, r.stdout);
});

test("attw --profile esm-only on the packed tarball: no problem", { timeout: 300_000 }, async () => {
  const attw = await tool("attw");
  const r = await runBounded(attw, [packedTarball(), "--profile", "esm-only", "--no-color"], { timeoutMs: 120_000 });
  assert.equal(r.timedOut, false);
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test(
  "attw (default profile): the only problems are CommonJS resolutions of an ESM-only package",
  { timeout: 300_000 },
  async () => {
    const attw = await tool("attw");
    const r = await runBounded(attw, [packedTarball(), "--format", "json"], { timeoutMs: 120_000 });
    assert.equal(r.timedOut, false);
    const problems = (
      JSON.parse(r.stdout) as {
        analysis: { problems: { kind: string; entrypoint: string; resolutionKind?: string }[] };
      }
    ).analysis.problems;
    const esmSide = problems.filter((p) => p.resolutionKind !== "node10" && p.resolutionKind !== "node16-cjs");
    assert.deepEqual(esmSide, [], JSON.stringify(esmSide));
    assert.ok(
      problems.some((p) => p.kind === "CJSResolvesToESM" && p.entrypoint === "."),
      "the ESM-only design is what attw sees",
    );
  },
);
