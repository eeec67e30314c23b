/**
 * `npm run demo`: two ipsec-wasm dataplanes in one process exchange ESP-in-UDP over loopback
 * with manually keyed SAs (like `ip xfrm state add`): peer A pings through the tunnel, peer B
 * answers every echo request, for aes128gcm16 and aes128-sha256. Prints per-SA counters and
 * the throughput. (IKE replaces the manual keys once it lands.)
 * @module
 */
import { Dataplane } from "../dataplane/dataplane.ts";
import type { SaHandle, SaStats } from "../dataplane/types.ts";
import { EspUdpEndpoint } from "../node/esp-udp.ts";
import { icmpEcho, echoReplyFor, parseIcmpEcho } from "../packet/icmp.ts";
import type { CliCommand } from "./main.ts";

const LOOPBACK = "127.0.0.1";
const INNER_A = "198.51.100.1";
const INNER_B = "203.0.113.2";

interface Options { packets: number; burst: number; timeoutMs: number; suites: string[] }

function keysFor(esp: string): { encKey: Uint8Array; integKey?: Uint8Array } {
  const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  if (esp.startsWith("aes128gcm")) return { encKey: rnd(20) };
  return { encKey: rnd(16), integKey: rnd(32) };
}

function formatStats(name: string, s: SaStats): string {
  const drops = Object.entries(s.drops).filter(([, v]) => v > 0n).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  return `  ${name.padEnd(6)} spi 0x${s.spi.toString(16).padStart(8, "0")} ${s.direction.padEnd(3)} ${s.esp} (ICV ${s.icvLength * 8} bit)` +
    `  packets ${s.packets}  bytes ${s.bytes}  seq ${s.seq}  drops: ${drops}`;
}

async function runSuite(esp: string, opt: Options): Promise<boolean> {
  const a = await Dataplane.create({ maxSas: 8, batchSize: 256 });
  const b = await Dataplane.create({ maxSas: 8, batchSize: 256 });
  const spiAB = (0xc0000000 | (crypto.getRandomValues(new Uint32Array(1))[0] & 0xffffff)) >>> 0;
  const spiBA = (spiAB ^ 0x00800000) >>> 0;
  const kAB = keysFor(esp), kBA = keysFor(esp);
  const sa = (spi: number, direction: "in" | "out", k: typeof kAB) => ({ spi, direction, mode: "tunnel" as const, esp, ...k, replayWindow: direction === "in" ? 1024 : undefined });
  const aOut = a.addSa(sa(spiAB, "out", kAB)), bIn = b.addSa(sa(spiAB, "in", kAB));
  const bOut = b.addSa(sa(spiBA, "out", kBA)), aIn = a.addSa(sa(spiBA, "in", kBA));

  let replies = 0;
  let bPort = 0;
  let aPort = 0;
  let wake: (() => void) | null = null;
  const epB = await EspUdpEndpoint.bind(b, LOOPBACK, 0, {
    onDecap(results) {
      // Answer the whole batch of echo requests with one encapsulation call.
      const out = results.flatMap((r) => (r.status === "ok" && r.payload ? [echoReplyFor(r.payload)] : []));
      epB.send(bOut, out.filter((p): p is Uint8Array => p !== null), LOOPBACK, aPort);
    },
  });
  const epA = await EspUdpEndpoint.bind(a, LOOPBACK, 0, {
    onDecap(results) {
      for (const r of results) {
        const e = r.status === "ok" && r.payload ? parseIcmpEcho(r.payload) : null;
        if (e && e.type === 0 && e.src === INNER_B) replies++;
      }
      wake?.();
    },
  });
  bPort = epB.port; aPort = epA.port;
  console.log(`\n${esp}: peer A udp ${LOOPBACK}:${aPort} (inner ${INNER_A})  <-- ESP-in-UDP -->  peer B udp ${LOOPBACK}:${bPort} (inner ${INNER_B})`);

  const t0 = performance.now();
  const deadline = t0 + opt.timeoutMs;
  let sent = 0;
  while (sent < opt.packets && performance.now() < deadline) {
    const n = Math.min(opt.burst, opt.packets - sent);
    const burst = Array.from({ length: n }, (_, i) => icmpEcho(INNER_A, INNER_B, 0x1234, (sent + i) & 0xffff, 56));
    sent += epA.send(aOut, burst, LOOPBACK, bPort);
    // Wait for this burst's replies (bounded), so loopback socket buffers never overflow.
    const until = Math.min(deadline, performance.now() + 1000);
    while (replies < sent && performance.now() < until) {
      await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, 50); });
      wake = null;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  await epA.close(); await epB.close();

  console.log(formatStats("A out", a.stats(aOut)));
  console.log(formatStats("B in", b.stats(bIn)));
  console.log(formatStats("B out", b.stats(bOut)));
  console.log(formatStats("A in", a.stats(aIn)));
  console.log(`  ${sent} echo requests, ${replies} replies in ${seconds.toFixed(2)} s: ` +
    `${Math.round((sent + replies) / seconds)} ESP packets/s through both dataplanes and the kernel's UDP loopback`);
  return replies === sent && sent === opt.packets;
}

/** Runs the demo; resolves to the process exit code (0 when every echo came back). */
export async function runDemo(argv: string[] = []): Promise<number> {
  const count = Number(argv[argv.indexOf("--count") + 1]);
  const opt: Options = {
    packets: argv.includes("--count") && count > 0 ? count : 4000,
    burst: 64, timeoutMs: 20_000, suites: ["aes128gcm16", "aes128-sha256"],
  };
  console.log("ipsec-wasm demo: two userspace ESP peers on loopback, manually keyed SAs (IKE comes later)");
  let ok = true;
  for (const s of opt.suites) ok = (await runSuite(s, opt)) && ok;
  console.log(ok ? "\nall echo requests answered through ESP" : "\nsome echo requests were not answered (see counters above)");
  return ok ? 0 : 1;
}

/** `ipsec-wasm demo [--count N]`. */
export const demoCommand: CliCommand = {
  path: ["demo"],
  summary: "two userspace ESP peers on loopback pass ICMP echo through ESP-in-UDP and print their counters",
  usage: "usage: ipsec-wasm demo [--count N]   (N echo requests per suite, default 4000)\n",
  run: (args) => runDemo(args),
};

if (import.meta.url === `file://${process.argv[1]}`) {
  runDemo(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
