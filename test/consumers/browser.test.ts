// The package in a real browser, from the packed tarball: examples/browser (index.html + main.js)
// installed against the tarball, bundled by esbuild --platform=browser (the package's `browser`
// condition: dataplane.wasm fetched beside the bundle), served from 127.0.0.1 and run in Debian's
// headless Chromium. The page encapsulates and decapsulates one packet per suite family; the ESP
// bytes it shows are checked against node:crypto (OpenSSL), an implementation that shares nothing
// with ours.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createCipheriv } from "node:crypto";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { consumerProject, repo, runOk, tool, type Consumer } from "./harness.ts";
import { CHROMIUM, launchChromium, serveFiles, type Chromium, type StaticServer } from "./browser-harness.ts";
import { refDecap, refEncap, trailer } from "../helpers/esp-ref.ts";

interface SuiteVector {
  family: string;
  esp: string;
  spi: number;
  encKey: string;
  integKey?: string;
}
interface VectorsModule {
  SUITES: SuiteVector[];
  innerPacket(): Uint8Array;
}
interface PageResult {
  inner: string;
  results: {
    family: string;
    esp: string;
    spi: number;
    encap: string;
    seq: number;
    packet?: string;
    decap?: string;
    nextHeader?: number;
    payload?: string;
    inboundPackets: number;
  }[];
}

const EXAMPLE = repo("examples/browser");
const b = (hex: string): Buffer => Buffer.from(hex, "hex");

/** RFC 7634 ESP with node:crypto: nonce = salt ‖ IV, IV = the 64-bit sequence number, AAD = SPI ‖ seq. */
function chachaEncap(spi: number, keyAndSalt: Buffer, seq: bigint, payload: Uint8Array, nextHeader: number): Buffer {
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32BE(spi >>> 0, 0);
  hdr.writeUInt32BE(Number(seq & 0xffffffffn), 4);
  const iv = Buffer.alloc(8);
  iv.writeBigUInt64BE(seq);
  const pt = trailer(payload, 4, nextHeader);
  const c = createCipheriv(
    "chacha20-poly1305",
    keyAndSalt.subarray(0, 32),
    Buffer.concat([keyAndSalt.subarray(32, 36), iv]),
    { authTagLength: 16 },
  );
  c.setAAD(hdr, { plaintextLength: pt.length });
  const ct = Buffer.concat([c.update(pt), c.final()]);
  return Buffer.concat([hdr, iv, ct, c.getAuthTag()]);
}

/** Navigates a fresh tab to `url` and polls #result until the page says it is done. */
async function runPage(
  chromium: Chromium,
  url: string,
  timeoutMs: number,
): Promise<{ state: string; text: string; sessionId: string }> {
  const { targetId } = await chromium.send<{ targetId: string }>("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await chromium.send<{ sessionId: string }>("Target.attachToTarget", {
    targetId,
    flatten: true,
  });
  await chromium.send("Runtime.enable", {}, sessionId);
  await chromium.send("Page.enable", {}, sessionId);
  const nav = await chromium.send<{ errorText?: string }>("Page.navigate", { url }, sessionId);
  if (nav.errorText) throw new Error(`Chromium could not load ${url}: ${nav.errorText}`);
  const deadline = Date.now() + timeoutMs;
  const expression = `(() => { const e = document.getElementById("result"); return e ? { state: e.dataset.state ?? "", text: e.textContent ?? "" } : null; })()`;
  for (;;) {
    const r = await chromium.send<{ result: { value?: { state: string; text: string } | null } }>(
      "Runtime.evaluate",
      { expression, returnByValue: true },
      sessionId,
    );
    const v = r.result.value;
    if (v && v.state !== "running") return { ...v, sessionId };
    if (Date.now() > deadline)
      throw new Error(`the page did not finish in ${timeoutMs} ms (#result: ${JSON.stringify(v)})`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

test(
  "examples/browser from the packed tarball: esbuild --platform=browser bundle, headless Chromium, ESP bytes equal node:crypto's",
  { timeout: 240_000 },
  async (t) => {
    // A missing tool is a failure that says how to install it, before the slower steps.
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: install Debian's Chromium with \`apt-get update && apt-get install -y chromium\``,
    );
    const esbuild = await tool("esbuild");

    let consumer: Consumer | undefined;
    let server: StaticServer | undefined;
    let chromium: Chromium | undefined;
    try {
      consumer = await consumerProject("browser", {
        files: Object.fromEntries(
          ["index.html", "main.js", "vectors.js"].map((f) => [f, readFileSync(join(EXAMPLE, f), "utf8")]),
        ),
      });
      const dir = consumer.dir;

      // The build the example's README gives: esbuild for the browser, then dataplane.wasm (the
      // package's `ipsec-wasm/dataplane.wasm` export) copied beside the bundle.
      await runOk(
        esbuild,
        [
          "main.js",
          "--bundle",
          "--platform=browser",
          "--format=esm",
          "--outdir=dist",
          "--metafile=meta.json",
          "--log-level=warning",
        ],
        { cwd: dir, timeoutMs: 60_000 },
      );
      const packagedWasm = createRequire(join(dir, "package.json")).resolve("ipsec-wasm/dataplane.wasm");
      copyFileSync(packagedWasm, join(dir, "dist/dataplane.wasm"));

      const bundle = readFileSync(join(dir, "dist/main.js"), "utf8");
      assert.doesNotMatch(bundle, /["'`]node:/, "a node: specifier reached the browser bundle");
      assert.match(
        bundle,
        /new URL\(\s*["']\.\/dataplane\.wasm["']\s*,\s*import\.meta\.url\s*\)/,
        "the bundle should fetch dataplane.wasm beside itself",
      );
      const inputs = Object.keys(
        (JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) as { inputs: Record<string, unknown> }).inputs,
      );
      assert.ok(
        inputs.includes("node_modules/ipsec-wasm/dist/wasm/browser.js"),
        `the browser loader is not in the bundle: ${inputs.join(", ")}`,
      );
      assert.ok(
        !inputs.some((f) => /ipsec-wasm\/dist\/wasm\/(node|workerd)\.js$/.test(f)),
        `another runtime's loader is in the browser bundle: ${inputs.join(", ")}`,
      );
      assert.ok(
        inputs.every((f) => !f.startsWith("sdk/") && !f.endsWith(".ts")),
        "the bundle was built from TypeScript sources, not the package's dist/",
      );

      server = await serveFiles({
        "/index.html": join(dir, "index.html"),
        "/dist/main.js": join(dir, "dist/main.js"),
        "/dist/dataplane.wasm": join(dir, "dist/dataplane.wasm"),
      });
      chromium = await launchChromium({ timeoutMs: 30_000 });
      const version = await chromium.send<{ product: string }>("Browser.getVersion");
      const page = await runPage(chromium, `${server.url}index.html`, 60_000);

      const exceptions = chromium.events.filter((e) => e.method === "Runtime.exceptionThrown");
      const consoleErrors = chromium.events.filter(
        (e) => e.method === "Runtime.consoleAPICalled" && e.params.type === "error",
      );
      assert.equal(
        page.state,
        "ok",
        `${version.product}: the page reported ${page.state}:\n${page.text}\nexceptions: ${JSON.stringify(exceptions)}\nserver: ${server.log.join("; ")}`,
      );
      assert.deepEqual(exceptions, [], "uncaught exceptions in the page");
      assert.deepEqual(consoleErrors, [], "console errors in the page");
      assert.ok(
        server.log.includes("GET /dist/dataplane.wasm 200 application/wasm"),
        `the wasm was not fetched beside the bundle: ${server.log.join("; ")}`,
      );

      // What the page showed, byte for byte.
      const vectors = (await import(pathToFileURL(join(EXAMPLE, "vectors.js")).href)) as VectorsModule;
      const inner = Buffer.from(vectors.innerPacket());
      const result = JSON.parse(page.text) as PageResult;
      assert.equal(result.inner, inner.toString("hex"));
      assert.deepEqual(
        result.results.map((r) => r.family),
        ["gcm", "cbc-hmac", "chacha20"],
      );
      for (const r of result.results) {
        const v = vectors.SUITES.find((s) => s.family === r.family)!;
        assert.equal(r.encap, "ok", `${r.esp}: encapsulate`);
        assert.equal(r.decap, "ok", `${r.esp}: decapsulate`);
        assert.equal(r.seq, 1, `${r.esp}: first packet of a fresh SA`);
        assert.equal(r.nextHeader, 4, `${r.esp}: IPv4 inside`);
        assert.equal(r.payload, inner.toString("hex"), `${r.esp}: decapsulated bytes`);
        assert.equal(r.inboundPackets, 1, `${r.esp}: inbound SA counted the packet`);
        const packet = b(r.packet!);
        const enc = b(v.encKey);
        if (r.family === "gcm") {
          const expected = refEncap(
            { spi: v.spi, suite: "gcm", key: enc.subarray(0, 16), salt: enc.subarray(16, 20), icv: 16 },
            1n,
            inner,
            4,
          );
          assert.equal(r.packet, expected.toString("hex"), "aes128gcm16 ESP differs from node:crypto's (RFC 4106)");
        } else if (r.family === "chacha20") {
          const expected = chachaEncap(v.spi, enc, 1n, inner, 4);
          assert.equal(
            r.packet,
            expected.toString("hex"),
            "chacha20poly1305 ESP differs from node:crypto's (RFC 7634)",
          );
        } else {
          // CBC takes a random IV: node:crypto verifies the HMAC and decrypts instead.
          const sa = {
            spi: v.spi,
            suite: "cbc" as const,
            key: enc,
            integKey: b(v.integKey!),
            hash: "sha256" as const,
            icv: 16,
          };
          const got = refDecap(sa, packet);
          assert.equal(
            got.payload.toString("hex"),
            inner.toString("hex"),
            "aes128-sha256: node:crypto decrypts the page's packet to the inner bytes",
          );
          assert.equal(got.nextHeader, 4);
          assert.equal(got.seq, 1);
          assert.equal(
            packet.length,
            8 + 16 + Math.ceil((inner.length + 2) / 16) * 16 + 16,
            "SPI+seq, IV, padded ciphertext, 16-byte ICV",
          );
        }
        assert.equal(packet.readUInt32BE(0), v.spi, `${r.esp}: SPI on the wire`);
      }
      t.diagnostic(
        `${version.product}: ${result.results.map((r) => `${r.esp} ok`).join(", ")}; bundle ${bundle.length} bytes`,
      );
    } finally {
      await chromium?.close();
      await server?.close();
      consumer?.remove();
    }
  },
);
