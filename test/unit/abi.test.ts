// The generated ABI file (sdk/dataplane/abi.generated.ts, from assembly/abi.ts and
// assembly/index.ts by scripts/gen-abi.mjs) against the built wasm itself: the export names and
// parameter counts WebAssembly reports, and the layout numbers the module returns at run time.
// Also the generator's --check mode, which CI relies on to catch a stale file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as abi from "../../sdk/dataplane/abi.generated.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const wasm = new WebAssembly.Module(readFileSync(join(root, "build/dataplane.wasm")));
const instance = new WebAssembly.Instance(wasm, {
  env: {
    abort: () => {
      throw new Error("wasm abort");
    },
  },
});
const x = instance.exports as unknown as abi.DataplaneExports;

const genAbi = (...args: string[]) =>
  spawnSync(process.execPath, [join(root, "scripts/gen-abi.mjs"), ...args], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
  });

test("the generated exports are exactly the wasm's functions, with the wasm's parameter counts", () => {
  const exported = WebAssembly.Module.exports(wasm);
  const functions = exported
    .filter((e) => e.kind === "function")
    .map((e) => e.name)
    .sort();
  assert.deepEqual(functions, Object.keys(abi.EXPORT_ARITY).sort());
  assert.deepEqual(
    exported.filter((e) => e.kind !== "function"),
    [{ name: "memory", kind: "memory" }],
  );
  const arity = Object.fromEntries(
    functions.map((n) => [n, (instance.exports[n] as (...a: unknown[]) => unknown).length]),
  );
  assert.deepEqual(arity, { ...abi.EXPORT_ARITY });
});

test("the layout numbers the wasm returns are the generated constants", () => {
  assert.equal(x.layout_sa_meta_bytes(), abi.SA_META_BYTES);
  assert.equal(x.layout_desc_bytes(), abi.DESC_BYTES);
  assert.equal(x.layout_headroom(), abi.HEADROOM);
  assert.equal(x.layout_tailroom(), abi.TAILROOM);
  // The drop counters and the descriptor fields fit their regions.
  assert.ok(abi.M_DROPS + abi.STATUS_SLOTS * 8 <= abi.SA_META_BYTES);
  assert.ok(abi.STATUS_NAMES.length <= abi.STATUS_SLOTS);
  assert.ok(abi.D_NEXT_HDR + 4 <= abi.DESC_BYTES);
});

test("status names are the public drop reasons, in wasm code order", () => {
  // Public API (SaStats.drops keys, metrics labels): renaming an ST_ constant renames a counter.
  assert.deepEqual(
    [...abi.STATUS_NAMES],
    [
      "ok",
      "no-sa",
      "replay",
      "integrity-failed",
      "bad-padding",
      "truncated",
      "seq-overflow",
      "lifetime-expired",
      "dummy",
      "bad-next-header",
      "too-big",
      "invalid-sa",
      "malformed-inner",
    ],
  );
  abi.STATUS_NAMES.forEach((name, code) => {
    const constant = `ST_${name.toUpperCase().replace(/-/g, "_")}` as keyof typeof abi;
    assert.equal(abi[constant], code, constant);
  });
  assert.deepEqual([...abi.LIFE_REASON_NAMES], [null, "bytes", "packets", "seconds", "sequence"]);
});

test("gen-abi --check passes on the committed file and names a stale or missing one in one line", () => {
  const ok = genAbi("--check");
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stderr, "");

  const dir = mkdtempSync(join(tmpdir(), "ipsec-wasm-abi-"));
  try {
    const stale = join(dir, "abi.generated.ts");
    const current = readFileSync(join(root, "sdk/dataplane/abi.generated.ts"), "utf8");
    writeFileSync(stale, current.replace("export const M_SEQ = 32;", "export const M_SEQ = 36;"));
    const r = genAbi("--check", "--out", stale);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^gen-abi: .*abi\.generated\.ts is stale \(assembly\/abi\.ts or assembly\/index\.ts changed\); run `node scripts\/gen-abi\.mjs` and commit it\n$/,
    );

    const missing = genAbi("--check", "--out", join(dir, "absent.ts"));
    assert.equal(missing.status, 1);
    assert.match(
      missing.stderr,
      /^gen-abi: .*absent\.ts is missing; run `node scripts\/gen-abi\.mjs` and commit it\n$/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
