// The browser page (web/, `npm run build:web`, served by `ipsec-wasm web`) in Debian's headless
// Chromium, driven over the DevTools protocol on a pipe (--remote-debugging-pipe: no port, no
// WebSocket client). The test makes a capture with six suites (node:crypto as the ESP encoder):
// replayed, tampered, bad-padding, cut, unknown-SPI and dummy frames, and an SA whose peer sends
// 96-bit HMAC-SHA-256 ICVs while the SA file says 128. Through the page's file inputs it must show
// every frame's verdict and reason, the icv-truncation diagnostic, the per-SA counters, and its
// download must equal `ipsec-wasm pcap decrypt -o` byte for byte (the verdicts download equals
// `--verdicts`). Also: the same for a pcapng with an `ip xfrm state` file and for the real charon
// log (auto-detected), the page opened from disk (file://), no request but the page's own GETs,
// no `node:` import in the bundles, and the `web` command's busy-port and bad-flag errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createCipheriv } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { request } from "node:http";
import type { Readable, Writable } from "node:stream";
import { main } from "../../sdk/cli/main.ts";
import type { CliIo } from "../../sdk/cli/command.ts";
import { buildEspCapture, ipv4, pcapBytes } from "../fixtures/pcap/make-esp-capture.ts";
import { refEncap, type RefSa } from "../helpers/esp-ref.ts";
import { LINKTYPE_RAW } from "../../sdk/pcap/pcap.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CHROMIUM = "/usr/bin/chromium";
const PAGE = join(ROOT, "web/dist");

// ---- the inputs ----

const hex32 = (n: number): string => `0x${n.toString(16).padStart(8, "0")}`;
const KEY32 = Buffer.alloc(32, 0x3c);
const SALT = Buffer.from("5a5a5a5a", "hex");
const HMAC_KEY = Buffer.alloc(32, 0x1f);
const SHA512_KEY = Buffer.alloc(64, 0x2e);
const CHACHA = { spi: 0x7c7c0001 };
const SHA512 = { spi: 0x51200001 };
const TRUNC = { spi: 0x96000001 };

/** RFC 7634 ChaCha20-Poly1305 ESP (key || salt; nonce = salt || IV; AAD = SPI || seq) by node:crypto. */
function espChacha(seq: number, inner: Buffer): Buffer {
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32BE(CHACHA.spi, 0);
  hdr.writeUInt32BE(seq, 4);
  const iv = Buffer.alloc(8);
  iv.writeUInt32BE(0xabcd, 0);
  iv.writeUInt32BE(seq, 4);
  const padLen = (4 - ((inner.length + 2) % 4)) % 4;
  const pt = Buffer.concat([
    inner,
    Buffer.from(Array.from({ length: padLen }, (_, i) => i + 1)),
    Buffer.from([padLen, 4]),
  ]);
  const c = createCipheriv("chacha20-poly1305", KEY32, Buffer.concat([SALT, iv]), { authTagLength: 16 });
  c.setAAD(hdr, { plaintextLength: pt.length });
  const ct = Buffer.concat([c.update(pt), c.final()]);
  return Buffer.concat([hdr, iv, ct, c.getAuthTag()]);
}

function makeInputs(dir: string): { pcap: string; sas: string; baseFrames: number; truncFrames: number } {
  const base = buildEspCapture();
  // Raw IP: strip the Ethernet header (and VLAN tag) of the fixture's frames.
  const ipOf = (f: Buffer): Buffer => f.subarray(f.readUInt16BE(12) === 0x8100 ? 18 : 14);
  const frames = base.frames.map((f) => ({ ...f, data: ipOf(f.data) }));
  const add = (data: Buffer): void => {
    frames.push({ data, tsSec: 1_700_000_100 + frames.length, tsFrac: 500 });
  };
  const outer = (esp: Buffer, id: number): Buffer => ipv4("198.18.0.10", "198.18.0.20", 50, esp, id);
  const inner = (i: number): Buffer => ipv4("10.7.0.1", "10.8.0.1", 17, Buffer.alloc(24 + i, 0x40 + i), 900 + i);
  for (let i = 1; i <= 3; i++) add(outer(espChacha(i, inner(i)), 10 + i));
  const sha512: RefSa = { spi: SHA512.spi, suite: "cbc", key: KEY32, integKey: SHA512_KEY, hash: "sha512", icv: 32 };
  for (let i = 1; i <= 2; i++)
    add(outer(refEncap(sha512, BigInt(i), inner(10 + i), 4, { iv: Buffer.alloc(16, i) }), 20 + i));
  // The peer truncates HMAC-SHA-256 to 96 bits (Linux `auth hmac(sha256)`); the SA file says 128.
  const trunc: RefSa = {
    spi: TRUNC.spi,
    suite: "cbc",
    key: KEY32.subarray(0, 16),
    integKey: HMAC_KEY,
    hash: "sha256",
    icv: 12,
  };
  const truncFrames = 4;
  for (let i = 1; i <= truncFrames; i++)
    add(outer(refEncap(trunc, BigInt(i), inner(20 + i), 4, { iv: Buffer.alloc(16, 0x60 + i) }), 30 + i));
  const pcap = join(dir, "mixed-suites.pcap");
  writeFileSync(pcap, pcapBytes(frames, LINKTYPE_RAW));
  const sas = JSON.parse(base.sasJson) as { sas: object[] };
  sas.sas.push(
    {
      spi: hex32(CHACHA.spi),
      mode: "tunnel",
      esp: "chacha20poly1305",
      encKey: Buffer.concat([KEY32, SALT]).toString("hex"),
    },
    {
      spi: hex32(SHA512.spi),
      mode: "tunnel",
      esp: "aes256-sha512",
      encKey: KEY32.toString("hex"),
      integKey: SHA512_KEY.toString("hex"),
    },
    {
      spi: hex32(TRUNC.spi),
      mode: "tunnel",
      esp: "aes128-sha256",
      encKey: KEY32.subarray(0, 16).toString("hex"),
      integKey: HMAC_KEY.toString("hex"),
    },
  );
  const sasFile = join(dir, "SAS.json");
  writeFileSync(sasFile, JSON.stringify(sas, null, 1));
  return { pcap, sas: sasFile, baseFrames: base.frames.length, truncFrames };
}

/** The CLI's answer for the same inputs: `-o` bytes, `--verdicts` text, the summary. */
async function cliDecrypt(
  dir: string,
  flag: string,
  sas: string,
  capture: string,
): Promise<{ out: Buffer; jsonl: string; summary: string }> {
  let out = "",
    err = "";
  const io: CliIo = {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
  };
  const o = join(dir, `cli-${Date.now()}-${Math.random().toString(36).slice(2)}.pcap`);
  const v = `${o}.jsonl`;
  const code = await main(["pcap", "decrypt", flag, sas, capture, "-o", o, "--verdicts", v], io);
  assert.equal(code, 0, err);
  return { out: readFileSync(o), jsonl: readFileSync(v, "utf8"), summary: out };
}

// ---- Chromium over the DevTools pipe ----

interface Cdp {
  send(method: string, params?: object, sessionId?: string): Promise<Record<string, unknown>>;
  on(listener: (msg: { method: string; params: Record<string, unknown>; sessionId?: string }) => void): void;
  proc: ChildProcess;
}

function startChromium(profile: string): Cdp {
  const proc = spawn(
    CHROMIUM,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-proxy-server",
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
      "--disable-default-apps",
      "--disable-breakpad",
      "--no-pings",
      "--disable-extensions",
      `--user-data-dir=${profile}`,
      "--remote-debugging-pipe",
      "about:blank",
    ],
    { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"], detached: true },
  );
  let stderr = "";
  proc.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  const input = proc.stdio[3] as Writable;
  const output = proc.stdio[4] as Readable;
  let id = 0;
  const waiting = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  const listeners: ((msg: { method: string; params: Record<string, unknown>; sessionId?: string }) => void)[] = [];
  let buf = Buffer.alloc(0);
  output.on("data", (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (let end = buf.indexOf(0); end >= 0; end = buf.indexOf(0)) {
      const msg = JSON.parse(buf.subarray(0, end).toString("utf8"));
      buf = buf.subarray(end + 1);
      if (msg.id !== undefined) {
        const w = waiting.get(msg.id);
        waiting.delete(msg.id);
        if (msg.error) w?.reject(new Error(`${msg.error.message} (${JSON.stringify(msg.error.data ?? "")})`));
        else w?.resolve(msg.result);
      } else {
        for (const l of listeners) l(msg);
      }
    }
  });
  proc.on("exit", (code) => {
    for (const [, w] of waiting) w.reject(new Error(`chromium exited (${code}): ${stderr}`));
    waiting.clear();
  });
  return {
    proc,
    on: (l) => listeners.push(l),
    send: (method, params = {}, sessionId) =>
      new Promise((resolve, reject) => {
        const n = ++id;
        const timer = setTimeout(() => {
          waiting.delete(n);
          reject(new Error(`CDP ${method}: no answer in 20 s`));
        }, 20_000);
        waiting.set(n, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        input.write(JSON.stringify({ id: n, method, params, ...(sessionId ? { sessionId } : {}) }) + "\0");
      }),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One page in the browser, with what the tests need of it. */
async function openPage(cdp: Cdp, url: string, downloads: string) {
  const { targetId } = (await cdp.send("Target.createTarget", { url: "about:blank" })) as { targetId: string };
  const { sessionId } = (await cdp.send("Target.attachToTarget", { targetId, flatten: true })) as { sessionId: string };
  const s = (method: string, params: object = {}): Promise<Record<string, unknown>> =>
    cdp.send(method, params, sessionId);
  const requests: { url: string; method: string }[] = [];
  const problems: string[] = [];
  let loaded: boolean;
  const completed = new Map<string, string>();
  const names = new Map<string, string>();
  const sessions = new Set([sessionId]);
  cdp.on((m) => {
    // The Web Worker is a target of its own: its requests (the wasm fetch) are seen in its session.
    if (m.method === "Target.attachedToTarget" && m.sessionId !== undefined && sessions.has(m.sessionId)) {
      const child = m.params.sessionId as string;
      sessions.add(child);
      void cdp
        .send("Network.enable", {}, child)
        .then(() => cdp.send("Runtime.runIfWaitingForDebugger", {}, child))
        .catch(() => undefined);
    }
    if (
      m.method === "Network.requestWillBeSent" &&
      m.sessionId !== sessionId &&
      m.sessionId !== undefined &&
      sessions.has(m.sessionId)
    ) {
      const r = m.params.request as { url: string; method: string };
      requests.push({ url: r.url, method: r.method });
    }
    if (m.method === "Browser.downloadWillBegin")
      names.set(m.params.guid as string, m.params.suggestedFilename as string);
    if (m.method === "Browser.downloadProgress" && m.params.state === "completed")
      completed.set(m.params.guid as string, names.get(m.params.guid as string) ?? "");
    if (m.sessionId !== sessionId) return;
    if (m.method === "Page.loadEventFired") loaded = true;
    if (m.method === "Network.requestWillBeSent") {
      const r = m.params.request as { url: string; method: string };
      requests.push({ url: r.url, method: r.method });
    }
    if (m.method === "Runtime.exceptionThrown")
      problems.push(
        JSON.stringify(
          (m.params.exceptionDetails as { exception?: { description?: string } }).exception?.description ?? m.params,
        ),
      );
    if (m.method === "Log.entryAdded") {
      const e = m.params.entry as { level: string; text: string; url?: string };
      if (e.level === "error") problems.push(`${e.text} ${e.url ?? ""}`);
    }
  });
  await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: downloads, eventsEnabled: true });
  for (const d of ["Page.enable", "Runtime.enable", "Network.enable", "Log.enable", "DOM.enable"]) await s(d);
  await s("Target.setAutoAttach", { autoAttach: true, waitForDebuggerOnStart: true, flatten: true });
  loaded = false;
  await s("Page.navigate", { url });
  for (let i = 0; i < 200 && !loaded; i++) await sleep(50);
  assert.ok(loaded, `${url} loaded`);

  const evaluate = async <T>(expression: string): Promise<T> => {
    const r = (await s("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
      userGesture: true,
    })) as { result: { value: T }; exceptionDetails?: unknown };
    if (r.exceptionDetails) throw new Error(`${expression}: ${JSON.stringify(r.exceptionDetails)}`);
    return r.result.value;
  };
  const setFiles = async (selector: string, files: string[]): Promise<void> => {
    const { root } = (await s("DOM.getDocument", { depth: 0 })) as { root: { nodeId: number } };
    const { nodeId } = (await s("DOM.querySelector", { nodeId: root.nodeId, selector })) as { nodeId: number };
    assert.ok(nodeId > 0, selector);
    await s("DOM.setFileInputFiles", { nodeId, files });
  };
  /** Waits for the run started by the last input change; returns what the page shows. */
  const results = async (previousStatus: string) => {
    for (let i = 0; i < 600; i++) {
      const st = await evaluate<{ state: string; status: string }>(
        "({ state: document.body.dataset.state, status: document.getElementById('status').textContent })",
      );
      if ((st.state === "done" || st.state === "error") && st.status !== previousStatus) break;
      await sleep(50);
    }
    return evaluate<Shown>(`(() => {
      const text = (id) => document.getElementById(id).textContent;
      const rows = (id) => [...document.getElementById(id).tBodies[0].rows].map((r) => [...r.cells].map((c) => c.textContent));
      return {
        state: document.body.dataset.state, status: text("status"), error: document.getElementById("error").hidden ? "" : text("error"),
        verdicts: rows("verdicts"), sas: rows("sa-table"),
        diagnostics: [...document.querySelectorAll("#diagnostics .diagnostic")].map((d) => ({ kind: d.dataset.kind, text: d.textContent })),
        diagnosticsText: text("diagnostics"),
        counts: Object.fromEntries([...document.querySelectorAll("#counts span")].map((s) => [s.dataset.verdict, s.textContent])),
        summary: text("summary"), engine: text("engine"),
      };
    })()`);
  };
  /** Clicks a download button and returns the file's bytes. */
  const download = async (buttonId: string): Promise<{ name: string; bytes: Buffer }> => {
    const before = new Set(completed.keys());
    await evaluate(`document.getElementById(${JSON.stringify(buttonId)}).click()`);
    for (let i = 0; i < 200; i++) {
      const guid = [...completed.keys()].find((g) => !before.has(g));
      if (guid) {
        const name = completed.get(guid)!;
        const file = readdirSync(downloads).includes(name) ? join(downloads, name) : join(downloads, guid);
        return { name, bytes: readFileSync(file) };
      }
      await sleep(50);
    }
    throw new Error(`no download from #${buttonId}; in ${downloads}: ${readdirSync(downloads).join(", ")}`);
  };
  const close = (): Promise<unknown> => cdp.send("Target.closeTarget", { targetId });
  /** WEB_PAGE_SCREENSHOT=file.png: saves the whole page as the test saw it (for a human look). */
  const screenshot = async (): Promise<void> => {
    const file = process.env.WEB_PAGE_SCREENSHOT;
    if (!file) return;
    await s("Emulation.setDeviceMetricsOverride", { width: 1200, height: 900, deviceScaleFactor: 1, mobile: false });
    const { data } = (await s("Page.captureScreenshot", { format: "png", captureBeyondViewport: true })) as {
      data: string;
    };
    writeFileSync(file, Buffer.from(data, "base64"));
  };
  return { evaluate, setFiles, results, download, requests, problems, close, screenshot };
}

interface Shown {
  state: string;
  status: string;
  error: string;
  verdicts: string[][];
  sas: string[][];
  diagnostics: { kind: string; text: string }[];
  diagnosticsText: string;
  counts: Record<string, string>;
  summary: string;
  engine: string;
}

/** The page's verdict rows as the CLI's verdict lines would show them. */
function rowsFromJsonl(jsonl: string): string[][] {
  return jsonl
    .trim()
    .split("\n")
    .map((l) => {
      const v = JSON.parse(l.replace(/"seq": (\d+)/, '"seq": "$1"')) as {
        frame: number;
        spi?: string;
        seq?: string;
        verdict: string;
        reason: string;
      };
      return [String(v.frame), v.spi ?? "", v.seq ?? "", v.verdict, v.reason];
    });
}

// ---- the `web` command ----

async function startServer(extra: string[] = []): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [join(ROOT, "bin/ipsec-wasm.mjs"), "web", ...extra], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  proc.stdout.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  proc.stderr.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  for (let i = 0; i < 200 && !/http:\/\/127\.0\.0\.1:\d+\//.test(out) && proc.exitCode === null; i++) await sleep(50);
  const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(out)?.[0];
  if (!url) {
    kill(proc);
    throw new Error(`ipsec-wasm web did not print its URL: ${out}`);
  }
  return { proc, url };
}

function kill(p: ChildProcess | undefined): void {
  if (p?.pid === undefined || p.exitCode !== null || p.signalCode !== null) return;
  try {
    process.kill(-p.pid, "SIGKILL"); // its process group: chromium's helpers too
  } catch {
    p.kill("SIGKILL");
  }
}

function runCli(args: string[], timeout = 15_000): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [join(ROOT, "bin/ipsec-wasm.mjs"), ...args], {
    encoding: "utf8",
    timeout,
    killSignal: "SIGKILL",
  });
}

// ---- the tests ----

test(
  "build:web bundles the page for the browser: no node: import, the wasm beside it and embedded",
  { timeout: 120_000 },
  () => {
    assert.ok(
      existsSync(join(ROOT, "dist/cli/web.js")) && existsSync(join(ROOT, "dist/wasm/browser.js")),
      "run `npm run build` first (test:interop does)",
    );
    const r = spawnSync(process.execPath, [join(ROOT, "web/build.mjs")], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 90_000,
      killSignal: "SIGKILL",
    });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    for (const f of ["index.html", "style.css", "app.js", "worker.js", "dataplane.wasm", "dataplane-wasm.js"])
      assert.ok(existsSync(join(PAGE, f)), f);
    for (const f of ["app.js", "worker.js"]) {
      const js = readFileSync(join(PAGE, f), "utf8");
      assert.doesNotMatch(js, /["'`]node:/, `${f}: a node: import reached the bundle`);
      assert.doesNotMatch(js, /\brequire\(/, `${f}: CommonJS require in a browser bundle`);
    }
    // The worker loads the wasm with the package's browser loader (fetch beside the script).
    assert.match(
      readFileSync(join(PAGE, "worker.js"), "utf8"),
      /fetch\(new URL\("\.\/dataplane\.wasm", __ipsecWasmScriptUrl\)\)/,
    );
    assert.deepEqual(readFileSync(join(PAGE, "dataplane.wasm")), readFileSync(join(ROOT, "dist/wasm/dataplane.wasm")));
    // The page's sources and the SDK core they import type-check without Node's types.
    const tsc = spawnSync(
      process.execPath,
      [join(ROOT, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", "web/tsconfig.json"],
      { cwd: ROOT, encoding: "utf8", timeout: 90_000, killSignal: "SIGKILL" },
    );
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
    const embedded = /IPSEC_WASM_BASE64 = "([A-Za-z0-9+/=]+)"/.exec(
      readFileSync(join(PAGE, "dataplane-wasm.js"), "utf8"),
    )?.[1];
    assert.ok(embedded && Buffer.from(embedded, "base64").equals(readFileSync(join(PAGE, "dataplane.wasm"))));
  },
);

test("ipsec-wasm web: help, a refused flag, a busy port: one clear line each", { timeout: 60_000 }, async () => {
  const help = runCli(["web", "--help"]);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^Usage: ipsec-wasm web \[--port N\]/);
  const top = runCli(["--help"]);
  assert.match(top.stdout, /\n {2}web +serve the page that decrypts ESP captures/);
  const bad = runCli(["web", "--listen", "0.0.0.0"]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^ipsec-wasm web: unknown option '--listen' \(see `ipsec-wasm web --help`\)\n$/);
  assert.equal(runCli(["web", "--port", "70000"]).status, 2);
  const missing = runCli(["web", "--dir", tmpdir()]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /has no index\.html/);

  const first = await startServer();
  try {
    const port = new URL(first.url).port;
    const busy = runCli(["web", "--port", port]);
    assert.equal(busy.status, 2);
    assert.equal(
      busy.stderr,
      `ipsec-wasm web: port ${port} on 127.0.0.1 is in use; choose another with --port, or leave --port out for a free one\n`,
    );
    // Only the page's files, only GET/HEAD, only for its own Host.
    const ok = await fetch(first.url);
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get("content-security-policy") ?? "", /connect-src 'self'/);
    assert.equal((await fetch(new URL("dataplane.wasm", first.url))).headers.get("content-type"), "application/wasm");
    assert.equal((await fetch(new URL("/../../package.json", first.url))).status, 404);
    assert.equal((await fetch(new URL("/%2e%2e/%2e%2e/package.json", first.url))).status, 404);
    assert.equal((await fetch(first.url, { method: "POST", body: "x" })).status, 405);
    const rebound = await new Promise<number | undefined>((resolve, reject) => {
      const u = new URL(first.url);
      request({ host: u.hostname, port: u.port, path: "/", headers: { Host: `evil.example:${u.port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      })
        .on("error", reject)
        .end();
    });
    assert.equal(rebound, 421, "a request for another host name (DNS rebinding) is refused");
    // Ctrl-C: the server closes and exits 0.
    const exited = new Promise<number | null>((r) => first.proc.on("exit", (c) => r(c)));
    first.proc.kill("SIGINT");
    assert.equal(await Promise.race([exited, sleep(5000).then(() => -1)]), 0);
  } finally {
    kill(first.proc);
  }
});

test(
  "Chromium: drop a capture and an SA file; verdicts, diagnostics, counters; the download is the CLI's output",
  { timeout: 180_000 },
  async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} missing: apt-get install chromium`);
    assert.ok(existsSync(join(PAGE, "app.js")), "the page is built by the first test (node web/build.mjs)");
    const work = mkdtempSync(join(tmpdir(), "web-page-"));
    const downloads = join(work, "downloads");
    let server: ChildProcess | undefined;
    let cdp: Cdp | undefined;
    try {
      const inputs = makeInputs(work);
      const served = await startServer();
      server = served.proc;
      cdp = startChromium(join(work, "profile"));
      const page = await openPage(cdp, served.url, downloads);
      assert.equal(
        await page.evaluate("document.title"),
        "ipsec-wasm: decrypt an ESP capture in your browser",
        await page.evaluate("document.body.innerText.slice(0, 500)"),
      );

      // 1. The made capture (classic pcap, raw IP) with SAS.json.
      const want = await cliDecrypt(work, "--sa", inputs.sas, inputs.pcap);
      await page.setFiles("#capture", [inputs.pcap]);
      await page.setFiles("#sas", [inputs.sas]);
      let shown = await page.results("Choose a capture and an SA file.");
      assert.equal(shown.state, "done", shown.error || shown.status);
      assert.match(
        shown.status,
        /mixed-suites\.pcap: pcap, 24 frames; SAs from SAS\.json \(SAS\.json \(ipsec-wasm\), 6\)\. Decrypted in \d+ ms in a Web Worker/,
      );
      assert.deepEqual(shown.verdicts, rowsFromJsonl(want.jsonl), "the verdict table is the CLI's verdicts file");
      const verdictOf = (frame: number): string => shown.verdicts[frame - 1]![3]!;
      assert.deepEqual([4, 5, 6, 7, 8, 9, 11, 12, 13].map(verdictOf), [
        "replay",
        "integrity-failed",
        "no-sa",
        "nat-keepalive",
        "not-esp",
        "not-esp",
        "dummy",
        "malformed",
        "malformed",
      ]);
      const n0 = inputs.baseFrames;
      assert.equal(n0, 15);
      assert.deepEqual(
        shown.verdicts.slice(n0, n0 + 3).map((r) => [r[1], r[3]]),
        Array(3).fill([hex32(CHACHA.spi), "ok"]),
        "ChaCha20-Poly1305",
      );
      assert.deepEqual(
        shown.verdicts.slice(n0 + 3, n0 + 5).map((r) => [r[1], r[3]]),
        Array(2).fill([hex32(SHA512.spi), "ok"]),
        "AES-256-CBC + HMAC-SHA-512",
      );
      const trunc = shown.verdicts.slice(n0 + 5);
      assert.equal(trunc.length, inputs.truncFrames);
      for (const r of trunc) {
        assert.equal(r[3], "integrity-failed");
        assert.match(r[4]!, /does not verify with this SA's 128-bit ICV but does with 96 bits/);
      }
      // The diagnostic text, as the CLI's summary has it.
      assert.deepEqual(
        shown.diagnostics.map((d) => d.kind),
        ["icv-truncation"],
      );
      const line = /\tdiagnostic icv-truncation: (.*)\n/.exec(want.summary)?.[1];
      assert.ok(line && shown.diagnostics[0]!.text.includes(line), `${shown.diagnosticsText}\n---\n${want.summary}`);
      assert.match(
        shown.diagnostics[0]!.text,
        /SA 0x96000001 \(aes128-sha256, 128-bit ICV\): 4 integrity failures; the peer's packets verify with a 96-bit ICV/,
      );
      assert.match(shown.diagnostics[0]!.text, /Fix: .*aes128-sha256_96/);
      // Counters: the CLI's numbers per SA and per verdict.
      assert.equal(shown.summary, want.summary);
      assert.deepEqual(
        shown.counts,
        Object.fromEntries(
          /frames \d+: (.*)\n/
            .exec(want.summary)![1]!
            .split(", ")
            .map((x) => {
              const [v, n] = x.split(" ");
              return [v, `${v}: ${n}`];
            }),
        ),
      );
      assert.deepEqual(
        shown.sas.map((r) => [r[0], r[1], r[4]]),
        [
          ["0x0e582872", "aes128gcm16", "3"],
          ["0x00001001", "aes128-sha256", "2"],
          ["0xc0ffee01", "aes256gcm16-esn", "1"],
          [hex32(CHACHA.spi), "chacha20poly1305", "3"],
          [hex32(SHA512.spi), "aes256-sha512", "2"],
          [hex32(TRUNC.spi), "aes128-sha256", "0"],
        ],
      );
      assert.match(shown.sas[5]![7]!, /integrity-failed 4/);
      await page.screenshot();
      // The downloads, byte for byte.
      const pcap = await page.download("download");
      assert.equal(pcap.name, "mixed-suites.decrypted.pcap");
      assert.ok(pcap.bytes.equals(want.out), `download ${pcap.bytes.length} bytes, CLI ${want.out.length}`);
      const jsonl = await page.download("download-verdicts");
      assert.equal(jsonl.bytes.toString("utf8"), want.jsonl);

      // 2. A pcapng (editcap's) with `ip xfrm state` text, format chosen by detection.
      const ng = join(ROOT, "test/fixtures/pcap/esp-mixed.pcapng"),
        xfrm = join(ROOT, "test/fixtures/pcap/esp-mixed.xfrm.txt");
      const want2 = await cliDecrypt(work, "--xfrm", xfrm, ng);
      const before = shown.status;
      await page.setFiles("#sas", [xfrm]);
      await page.setFiles("#capture", [ng]);
      for (let i = 0; i < 100 && !(shown = await page.results(before)).status.includes("esp-mixed.pcapng"); i++)
        await sleep(50);
      assert.equal(shown.state, "done", shown.error);
      assert.match(
        shown.status,
        /esp-mixed\.pcapng: pcapng, 15 frames; SAs from esp-mixed\.xfrm\.txt \(ip xfrm state, 3\)/,
      );
      assert.deepEqual(shown.verdicts, rowsFromJsonl(want2.jsonl));
      assert.match(shown.diagnosticsText, /^None/);
      assert.ok((await page.download("download")).bytes.equals(want2.out));

      // 3. The real strongSwan capture with one daemon's charon log (chd 4), auto-detected.
      const swanPcap = join(ROOT, "test/fixtures/charon/capture.pcap"),
        swanLog = join(ROOT, "test/fixtures/charon/responder.log");
      const want3 = await cliDecrypt(work, "--charon", swanLog, swanPcap);
      const before3 = shown.status;
      await page.setFiles("#capture", [swanPcap]);
      await page.setFiles("#sas", [swanLog]);
      for (let i = 0; i < 100 && !(shown = await page.results(before3)).status.includes("responder.log"); i++)
        await sleep(50);
      assert.equal(shown.state, "done", shown.error);
      assert.match(shown.status, /SAs from responder\.log \(strongSwan charon log \(chd 4\), 12\)/);
      assert.equal(shown.counts.ok, "ok: 36");
      assert.deepEqual(shown.verdicts, rowsFromJsonl(want3.jsonl));
      assert.ok((await page.download("download")).bytes.equals(want3.out));

      // 4. A file that is no SA file: one sentence, no results.
      const bogus = join(work, "notes.txt");
      writeFileSync(bogus, "these are not keys\n");
      const before4 = shown.status;
      await page.setFiles("#sas", [bogus]);
      shown = await page.results(before4);
      assert.equal(shown.state, "error");
      assert.match(shown.error, /^notes\.txt: cannot tell its format/);

      // Nothing left the page: every request was a GET of the page's own files.
      const origin = new URL(served.url).origin;
      const foreign = page.requests.filter(
        (r) => !(r.method === "GET" && r.url.startsWith(`${origin}/`)) && !r.url.startsWith("blob:"),
      );
      assert.deepEqual(foreign, [], "requests other than the page's own GETs");
      assert.deepEqual(
        [...new Set(page.requests.map((r) => new URL(r.url).pathname))].sort(),
        ["/", "/app.js", "/dataplane.wasm", "/style.css", "/worker.js"],
        "the page, its script and style, the worker, and the wasm the worker fetched",
      );
      assert.deepEqual(page.problems, []);
      await page.close();

      // 5. Opened from disk: no worker, no fetch; the embedded wasm; the same bytes.
      const disk = await openPage(cdp, `file://${join(PAGE, "index.html")}`, downloads);
      await disk.setFiles("#capture", [inputs.pcap]);
      await disk.setFiles("#sas", [inputs.sas]);
      const fromDisk = await disk.results("Choose a capture and an SA file.");
      assert.equal(fromDisk.state, "done", fromDisk.error);
      assert.match(
        fromDisk.status,
        /on the page \(opened from disk, so no worker; the wasm embedded in dataplane-wasm\.js\)/,
      );
      assert.deepEqual(fromDisk.verdicts, rowsFromJsonl(want.jsonl));
      assert.deepEqual(
        fromDisk.diagnostics.map((d) => d.kind),
        ["icv-truncation"],
      );
      assert.ok((await disk.download("download")).bytes.equals(want.out));
      assert.ok(
        disk.requests.every((r) => r.url.startsWith("file://") || r.url.startsWith("blob:")),
        JSON.stringify(disk.requests),
      );
      assert.deepEqual(disk.problems, []);
    } finally {
      kill(cdp?.proc);
      kill(server);
      rmSync(work, { recursive: true, force: true });
    }
  },
);
