// The package on Cloudflare's runtime, from the packed tarball: examples/cloudflare-worker (module
// syntax, no nodejs_compat) installed against the tarball, bundled by wrangler with the package's
// own `workerd` condition, and run in the real workerd binary (npm @cloudflare/workerd-linux-64)
// by `wrangler dev` on 127.0.0.1. ESP packets made here with node:crypto (OpenSSL, nothing shared
// with our dataplane) are POSTed to it; it answers the inner bytes, or why it dropped the packet.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { consumerProject, repo, runOk, tool, type Consumer } from "./harness.ts";
import { wranglerDev, wranglerEnv, type WranglerDev } from "./workerd-harness.ts";
import { ipv4Udp, refEncap, type RefSa } from "../helpers/esp-ref.ts";

const EXAMPLE = repo("examples/cloudflare-worker");

interface ExampleSa {
  spi: string | number;
  esp: string;
  encKey: string;
  integKey?: string;
}
interface Answer {
  status: string;
  spi: string;
  seq: number;
  nextHeader?: number;
  payload?: string;
  error?: string;
}

/** The demo SAs of the example's wrangler.toml (`SAS = '''[…]'''`, JSON in a TOML literal string). */
function exampleSas(toml: string): ExampleSa[] {
  const m = /^SAS = '''([\s\S]*?)'''/m.exec(toml);
  assert.ok(m, "examples/cloudflare-worker/wrangler.toml has no SAS = '''[…]''' variable");
  return JSON.parse(m[1]!) as ExampleSa[];
}

/** The same SA as node:crypto's reference encoder sees it. */
function refSa(sa: ExampleSa): RefSa {
  const enc = Buffer.from(sa.encKey, "hex");
  const spi = Number(sa.spi);
  if (sa.esp === "aes128gcm16")
    return { spi, suite: "gcm", key: enc.subarray(0, 16), salt: enc.subarray(16, 20), icv: 16 };
  if (sa.esp === "aes128-sha256")
    return { spi, suite: "cbc", key: enc, integKey: Buffer.from(sa.integKey!, "hex"), hash: "sha256", icv: 16 };
  throw new Error(`the test has no reference for ${sa.esp}`);
}

async function post(worker: WranglerDev, body: Uint8Array): Promise<{ http: number; answer: Answer }> {
  const res = await fetch(worker.url, {
    method: "POST",
    body: new Uint8Array(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  try {
    return { http: res.status, answer: JSON.parse(text) as Answer };
  } catch {
    throw new Error(`the worker answered ${res.status} with no JSON: ${text}\n--- wrangler\n${worker.output()}`);
  }
}

test(
  "examples/cloudflare-worker from the packed tarball: wrangler bundle with the workerd condition, ESP decapsulated in workerd",
  { timeout: 240_000 },
  async (t) => {
    const wrangler = await tool("wrangler");
    const toml = readFileSync(join(EXAMPLE, "wrangler.toml"), "utf8");
    assert.doesNotMatch(
      toml,
      /^\s*compatibility_flags\s*=/m,
      "the example must run without compatibility flags (no nodejs_compat)",
    );
    const sas = exampleSas(toml);
    assert.deepEqual(
      sas.map((s) => s.esp),
      ["aes128gcm16", "aes128-sha256"],
    );

    let consumer: Consumer | undefined;
    let worker: WranglerDev | undefined;
    try {
      consumer = await consumerProject("workerd", {
        files: { "src/index.js": readFileSync(join(EXAMPLE, "src/index.js"), "utf8"), "wrangler.toml": toml },
      });
      const dir = consumer.dir;

      // What `wrangler deploy` would upload, written to out/ instead: the bundle imports the wasm as
      // a separate module (wrangler's CompiledWasm rule), not bytes, and nothing from node:.
      const home = join(dir, ".wrangler-home");
      mkdirSync(home);
      const built = await runOk(wrangler, ["deploy", "--dry-run", "--outdir", "out"], {
        cwd: dir,
        env: wranglerEnv(home),
        timeoutMs: 120_000,
      });
      const bundle = readFileSync(join(dir, "out/index.js"), "utf8");
      assert.doesNotMatch(bundle, /["'`]node:/, "a node: specifier reached the worker bundle");
      assert.match(
        bundle,
        /^\/\/ node_modules\/ipsec-wasm\/dist\/wasm\/workerd\.js$/m,
        "the package's workerd loader is not in the bundle",
      );
      assert.doesNotMatch(
        bundle,
        /ipsec-wasm\/dist\/wasm\/(node|browser)\.js/,
        "another runtime's loader is in the worker bundle",
      );
      const wasmImport = /^import \w+ from "\.\/([0-9a-f]+-dataplane\.wasm)";$/m.exec(bundle);
      assert.ok(wasmImport, "the bundle does not import dataplane.wasm as a module");
      assert.ok(
        readdirSync(join(dir, "out")).includes(wasmImport[1]!),
        `${wasmImport[1]} was not written beside the bundle`,
      );
      assert.deepEqual(
        readFileSync(join(dir, "out", wasmImport[1]!)),
        readFileSync(join(dir, "node_modules/ipsec-wasm/dist/wasm/dataplane.wasm")),
        "the wasm module is the package's dataplane.wasm",
      );
      assert.match(built.stdout, /env\.SAS/, "the SAs are an environment variable of the worker");

      // The same project in workerd. Dataplane.create() gets no options there: only an imported,
      // already compiled WebAssembly.Module works, since workerd refuses to compile bytes.
      worker = await wranglerDev(wrangler, dir, { timeoutMs: 60_000 });
      const inner = ipv4Udp(100, 0x5a);
      for (const sa of sas) {
        const ref = refSa(sa);
        const spiHex = `0x${ref.spi.toString(16).padStart(8, "0")}`;

        const ok = await post(worker, refEncap(ref, 1n, inner, 4));
        assert.equal(ok.http, 200, `${sa.esp}: ${JSON.stringify(ok.answer)}`);
        assert.deepEqual(
          ok.answer,
          { status: "ok", spi: spiHex, seq: 1, nextHeader: 4, payload: Buffer.from(inner).toString("hex") },
          `${sa.esp}: decapsulated in workerd`,
        );

        // A flipped ciphertext bit (GCM) / ICV bit (CBC+HMAC) with a fresh sequence number.
        const tampered = refEncap(ref, 2n, inner, 4);
        tampered[ref.suite === "gcm" ? 20 : tampered.length - 1]! ^= 0x01;
        const bad = await post(worker, tampered);
        assert.equal(bad.http, 422);
        assert.deepEqual(bad.answer, { status: "integrity-failed", spi: spiHex, seq: 2 }, `${sa.esp}: tampered packet`);

        // The isolate keeps its SAs: the first packet again is a replay.
        const again = await post(worker, refEncap(ref, 1n, inner, 4));
        assert.equal(again.answer.status, "replay", `${sa.esp}: replayed packet`);
      }
      const unknown = await post(worker, refEncap({ ...refSa(sas[0]!), spi: 0x0badf00d }, 1n, inner, 4));
      assert.deepEqual(unknown.answer, { status: "no-sa", spi: "0x0badf00d", seq: 1 });

      const wranglerVersion = /wrangler (\d+\.\d+\.\d+)/.exec(built.stdout)?.[1] ?? "?";
      const workerdVersion = (await runOk(await tool("workerd"), ["--version"], { timeoutMs: 10_000 })).stdout.trim();
      t.diagnostic(
        `wrangler ${wranglerVersion}, ${workerdVersion}: ${sas.map((s) => s.esp).join(", ")} ok, tampered → integrity-failed, replay, no-sa; bundle ${bundle.length} bytes`,
      );
    } finally {
      await worker?.stop();
      consumer?.remove();
    }
  },
);
