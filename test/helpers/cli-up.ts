// `ipsec-wasm up` / `ping` / `status` / `down` as child processes over loopback UDP, shared by
// test/unit/cli-obs.test.ts and test/interop/cli-obs-metrics.test.ts. Every child process and UDP
// socket a test starts is registered with the harness, and `stop()` kills and closes them: call it
// from `t.after` (and `remove()` from `after`), so a failing or timed-out test leaves nothing
// behind that would keep the test file's process, and so `npm test`, from exiting.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { icmpEcho } from "../../sdk/packet/icmp.ts";
import { refEncap } from "./esp-ref.ts";
import { repoPath, unhex } from "./interop.ts";
import { pskConf } from "./psk-conf.ts";

export const CLI = repoPath("bin/ipsec-wasm.mjs");

export interface Side {
  addr: string;
  id: string;
  ts: string;
}
export interface Proc {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number>;
}
/** One metric sample as an exposition parser reads it. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
/** Parses the body of a `/metrics` answer (OpenMetrics); throws (an assertion error) when it is not valid. */
export type MetricsParser = (body: string) => Sample[];

export class CliHarness {
  readonly work: string;
  readonly #children = new Set<ChildProcess>();
  readonly #sockets = new Set<Socket>();

  constructor(prefix: string) {
    this.work = mkdtempSync(join(tmpdir(), `ipsec-wasm-${prefix}-`));
  }

  /** A fresh directory under the work directory (a TMPDIR of its own: where `up` puts its control socket). */
  dir(name: string): string {
    const d = join(this.work, name);
    mkdirSync(d, { recursive: true });
    return d;
  }

  /** A swanctl.conf for `me` with `peer` as the remote side: PSK, IKE AES-GCM, ESP aes128-sha256. */
  conf(
    me: Side,
    peer: Side,
    port: number,
    opts: { esp?: string; ikeRekey?: string; childRekey?: string } = {},
  ): string {
    const path = join(this.work, `${me.id}.conf`);
    writeFileSync(
      path,
      pskConf(me, peer, {
        port,
        esp: opts.esp ?? "aes128-sha256",
        ike: opts.ikeRekey ? `rekey_time = ${opts.ikeRekey}` : "",
        child: opts.childRekey ? `rekey_time = ${opts.childRekey}` : "",
        psk: "cli-obs-test-psk-not-secret",
      }),
    );
    return path;
  }

  /** `ipsec-wasm ARGS` as a child (TMPDIR = `tmp`), stdout and stderr collected into `out()`. */
  spawn(args: string[], tmp: string): Proc {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, TMPDIR: tmp }, cwd: repoPath(".") });
    this.#children.add(child);
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", (e) => (out += `\n[spawn error: ${e.message}]\n`));
    const exited = new Promise<number>((r) => child.on("exit", (c) => r(c ?? -1)));
    return { child, out: () => out, exited };
  }

  startUp(args: string[], tmp: string): Proc {
    return this.spawn(["up", ...args], tmp);
  }

  /** `ipsec-wasm ARGS` run to completion (killed after 30 s). */
  cli(tmp: string, args: string[]): { code: number; out: string } {
    const r = spawnSync(process.execPath, [CLI, ...args], {
      env: { ...process.env, TMPDIR: tmp },
      encoding: "utf8",
      timeout: 30_000,
      killSignal: "SIGKILL",
    });
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}${r.error ? `\n[${r.error.message}]` : ""}` };
  }

  /** A UDP socket bound to `addr` (closed by stop()). */
  async udpSocket(addr: string): Promise<Socket> {
    const sock = createSocket("udp4");
    this.#sockets.add(sock);
    sock.on("close", () => this.#sockets.delete(sock));
    await new Promise<void>((r) => sock.bind(0, addr, () => r()));
    return sock;
  }

  /** SIGKILLs every child still running (stopped ones too) and closes every socket; waits until the children are gone. */
  async stop(): Promise<void> {
    for (const s of this.#sockets) {
      try {
        s.close();
      } catch {
        /* already closed */
      }
    }
    this.#sockets.clear();
    const gone: Promise<unknown>[] = [];
    for (const c of this.#children) {
      if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
        gone.push(
          new Promise((r) => {
            c.once("close", r);
            setTimeout(r, 5000).unref();
          }),
        );
        c.kill("SIGKILL");
      }
    }
    this.#children.clear();
    await Promise.all(gone);
  }

  /** stop(), then the work directory goes. */
  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.work, { recursive: true, force: true });
  }
}

/** A UDP port free on both 127.0.0.1 and 127.0.0.2. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const s = createSocket("udp4");
    const port = await new Promise<number>((r) => s.bind(0, "127.0.0.1", () => r(s.address().port)));
    const t = createSocket("udp4");
    const ok = await new Promise<boolean>((r) => {
      t.once("error", () => r(false));
      t.bind(port, "127.0.0.2", () => r(true));
    });
    s.close();
    try {
      t.close();
    } catch {
      /* not bound */
    }
    if (ok) return port;
  }
  throw new Error("no free UDP port on 127.0.0.1 and 127.0.0.2");
}

/** Waits until `p`'s output matches `re` (polling every `step` ms, at most `ms`), then asserts it. */
export async function waitFor(p: { out: () => string }, re: RegExp, ms = 20_000, step = 100): Promise<void> {
  for (let t = 0; t < ms && !re.test(p.out()); t += step) await new Promise((r) => setTimeout(r, step));
  assert.match(p.out(), re);
}

/** The esp_sa line of the SA from `src`: SPI and keys (Wireshark's UAT fields, quoted). */
export function exportedSa(file: string, src: string): { spi: number; encKey: Uint8Array; integKey: Uint8Array } {
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const f = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
    if (f.length === 8 && f[1] === src)
      return { spi: Number(f[3]), encKey: unhex(f[5]!.slice(2)), integKey: unhex(f[7]!.slice(2)) };
  }
  throw new Error(`no esp_sa line from ${src} in ${file}`);
}

export function value(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/** GET /metrics asking for OpenMetrics (10 s at most); the body read by `parse` (a parse error fails the test). */
async function scrape(url: string, parse: MetricsParser): Promise<{ contentType: string; samples: Sample[] }> {
  const res = await fetch(url, {
    headers: { accept: "application/openmetrics-text; version=1.0.0" },
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(res.status, 200);
  const body = await res.text();
  return { contentType: res.headers.get("content-type") ?? "", samples: parse(body) };
}

/**
 * Two `up` processes negotiate (IKE AES-GCM, ESP aes128-sha256). Packets built with node:crypto
 * from the keys `--wireshark-keys` exported are sent to the responder: first three good echo
 * requests (answered through the tunnel), then packets of a peer that truncates to 96 bits (the
 * Linux `auth hmac(sha256)` default of seed 000). `status` must show no diagnostic before and name
 * the mismatch after (text and JSON) with the fix, count the failures as the kernel's
 * XfrmInStateProtoError, and `up` must log it; the `--metrics` endpoint, read by `parse`, must carry
 * the same counters and the diagnostic. `down --all` ends both.
 */
export async function statusAndMetricsScenario(h: CliHarness, parse: MetricsParser): Promise<void> {
  const port = await freePort();
  const R: Side = { addr: "127.0.0.1", id: "resp.example.org", ts: "203.0.113.2/32" };
  const I: Side = { addr: "127.0.0.2", id: "init.example.org", ts: "198.51.100.1/32" };
  const rtmp = h.dir("resp-ctl"),
    itmp = h.dir("init-ctl");
  const keys = join(h.work, "keys");
  const resp = h.startUp(
    ["--listen", "--conf", h.conf(R, I, port), "--wireshark-keys", keys, "--metrics", "127.0.0.1:0"],
    rtmp,
  );
  await waitFor(resp, /listening on/);
  const url = /up: metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(resp.out())?.[1];
  assert.ok(url, resp.out());
  const init = h.startUp(["--conf", h.conf(I, R, port)], itmp);
  await waitFor(init, /ESTABLISHED, IKEv2/);
  await waitFor(resp, /up: CHILD_SA net/);

  const clean = h.cli(rtmp, ["status"]);
  assert.equal(clean.code, 0, clean.out);
  assert.match(clean.out, /^t: #\d+, ESTABLISHED, IKEv2, [0-9a-f]{16}_i [0-9a-f]{16}_r\*$/m);
  assert.match(clean.out, /ESP:AES_CBC-128\/HMAC_SHA2_256_128/);
  assert.match(clean.out, /auth-trunc hmac\(sha256\) .* 128$/m);
  assert.match(clean.out, /no active diagnostics/);

  const sa = exportedSa(join(keys, "esp_sa"), I.addr);
  const spiHex = `0x${sa.spi.toString(16).padStart(8, "0")}`;
  const sock = await h.udpSocket(I.addr);
  const send = async (seq: number, icv: number): Promise<void> => {
    const esp = refEncap(
      { spi: sa.spi, suite: "cbc", key: sa.encKey, integKey: sa.integKey, hash: "sha256", icv },
      BigInt(seq),
      icmpEcho("198.51.100.1", "203.0.113.2", 99, seq),
      4,
      { iv: new Uint8Array(16).fill(seq) },
    );
    await new Promise<void>((r) => sock.send(esp, port, R.addr, () => r()));
  };
  // Three good echo requests: counted in, answered out, no diagnostic.
  for (let seq = 1; seq <= 3; seq++) await send(seq, 16);
  let m = await scrape(url, parse);
  for (let i = 0; i < 50 && value(m.samples, "ipsec_sa_packets_total", { spi: spiHex }) !== 3; i++) {
    await new Promise((r) => setTimeout(r, 100));
    m = await scrape(url, parse);
  }
  assert.match(m.contentType, /^application\/openmetrics-text; version=1\.0\.0/);
  const labels = { spi: spiHex, direction: "in", child: "net", peer: I.addr, suite: "aes128-sha256" };
  assert.equal(
    value(m.samples, "ipsec_sa_packets_total", labels),
    3,
    JSON.stringify(m.samples.filter((s) => s.labels.spi === spiHex)),
  );
  assert.equal(value(m.samples, "ipsec_sa_icv_bits", labels), 128);
  assert.equal(
    value(m.samples, "ipsec_sa_packets_total", { direction: "out", child: "net" }),
    3,
    "the echo replies went out",
  );
  assert.equal(value(m.samples, "ipsec_diagnostics_active", {}), 0);

  // A peer with Linux's 96-bit truncation: right keys, right SPI, 12-byte ICV.
  const sent = 6;
  for (let seq = 4; seq < 4 + sent; seq++) {
    await send(seq, 12);
    // the detector samples at most 4 failures per SA per second: spread them out
    await new Promise((r) => setTimeout(r, 300));
  }
  sock.close();
  await waitFor(resp, new RegExp(`\\[ESP\\] .*SA ${spiHex} \\(aes128-sha256, 128-bit ICV\\).*96-bit ICV`));

  const text = h.cli(rtmp, ["status"]);
  assert.equal(text.code, 0, text.out);
  assert.match(text.out, /1 active diagnostic:/);
  // (with CBC a 12-byte ICV read as 16 leaves the ciphertext off the block size: the dataplane may
  // call that an integrity failure, as the kernel does, or a length it cannot have, "truncated")
  assert.match(
    text.out,
    new RegExp(
      `icv-truncation: SA ${spiHex} \\(aes128-sha256, 128-bit ICV\\): ${sent} (integrity failures|packets dropped as truncated)\\b.*96-bit ICV`,
    ),
  );
  assert.match(text.out, /fix: .*aes128-sha256_96/);
  assert.match(text.out, new RegExp(`XfrmInStateProtoError\\s+${sent}$`, "m"));

  const json = h.cli(rtmp, ["status", "--json"]);
  assert.equal(json.code, 0, json.out);
  const reports = JSON.parse(json.out) as {
    diagnostics: { kind: string; spi: number; peerIcvBits?: number }[];
    ikeSas: { children: { icvBits: number }[] }[];
  }[];
  assert.equal(reports.length, 1);
  assert.deepEqual(
    reports[0]!.diagnostics.map((d) => [d.kind, d.spi, d.peerIcvBits]),
    [["icv-truncation", sa.spi, 96]],
  );
  assert.equal(reports[0]!.ikeSas[0]!.children[0]!.icvBits, 128);

  m = await scrape(url, parse);
  assert.equal(value(m.samples, "ipsec_diagnostics_active", {}), 1);
  assert.equal(value(m.samples, "ipsec_sa_packets_total", labels), 3, "failed packets are not counted as processed");
  const dropped = m.samples
    .filter((s) => s.name === "ipsec_sa_drops_total" && s.labels.spi === spiHex)
    .reduce((n, s) => n + s.value, 0);
  assert.equal(dropped, sent);
  assert.equal(value(m.samples, "ipsec_xfrm_stat_total", { stat: "XfrmInStateProtoError" }), sent);

  const down = h.cli(itmp, ["down", "--all"]);
  assert.equal(down.code, 0, down.out);
  assert.equal(await init.exited, 0);
  assert.equal(h.cli(rtmp, ["down", "--all"]).code, 0);
  assert.equal(await resp.exited, 0);
}
