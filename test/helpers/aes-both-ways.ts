// `test` for the dataplane suites: every test runs twice, with the native AES assist forced on for
// every batch (minBytes 0, so even one-packet batches take it) and with it off (the pure-wasm AES
// that workerd and browsers run). Dataplane.create is wrapped for the test's duration so the
// suites need no other change; a test that passes `nativeAes` itself keeps its own choice.
// Under Node the native variant also checks that every dataplane it made really ran native.
import { test as nodeTest } from "node:test";
import assert from "node:assert/strict";
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";

type Create = typeof Dataplane.create;
const MODES = ["native-aes", "wasm-aes"] as const;
const isNode = typeof (globalThis as { Deno?: unknown }).Deno === "undefined" && typeof process !== "undefined";

/** node:test's `test(name, fn)`, registered once per AES mode. */
export function test(name: string, fn: () => unknown): void {
  for (const mode of MODES) {
    nodeTest(`${name} [${mode}]`, async () => {
      const original: Create = Dataplane.create.bind(Dataplane);
      const made: Dataplane[] = [];
      Dataplane.create = async (opts = {}) => {
        const dp = await original({ nativeAes: mode === "native-aes" ? { minBytes: 0 } : false, ...opts });
        made.push(dp);
        return dp;
      };
      try {
        await fn();
      } finally {
        Dataplane.create = original;
      }
      if (mode === "native-aes" && isNode)
        assert.ok(
          made.every((dp) => dp.nativeAes),
          "native AES is available under Node",
        );
      if (mode === "wasm-aes")
        assert.ok(
          made.every((dp) => !dp.nativeAes),
          "wasm AES only",
        );
    });
  }
}
