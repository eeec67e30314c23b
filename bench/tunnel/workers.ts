// Does the packet worker's own work scale with threads? `up --tun --workers 2` splits a tunnel by
// direction: one worker reads the TUN and encapsulates, the other receives the ESP steered to its
// socket and decapsulates. iperf3 through two peers cannot answer this on a 2-core machine (both
// peers, both iperf3 ends and the kernel already keep both cores busy with one worker each, see
// README), so this runs the worker's engine (sdk/io/tunnel-engine.ts: routing, batching, ESP,
// selectors, counters) in worker threads without the kernel: a TUN that hands out packets from a
// ring, a socket that counts what it would send, ESP from a ring made by the peer's keys (replay
// check off, the ring repeats). What it leaves out is each packet's system calls, which run on the
// calling thread's own socket and TUN fd and are not shared between workers.
//
//   node --import tsx bench/tunnel/workers.ts [--suite aes128gcm16] [--size 1400] [--ms 2000] [--reps 3]
//
// Traffic: "both" (as much in as out) and "out" (one direction, as a one-stream TCP sender mostly
// is). 1 worker does everything; 2 workers are "out" + "in" as in `up --workers 2`. Printed: packets
// per second of wall time summed over the workers and 2 workers / 1 (meaningful only with a free
// core per thread), the same ratio projected from CPU time (all packets over the busiest thread's
// CPU time: what the split would give with a core per worker), and each thread's CPU time.
import { Worker } from "node:worker_threads";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Dataplane, type PacketBatch } from "../../sdk/dataplane/dataplane.ts";
import type { EspSuite } from "../../sdk/dataplane/types.ts";
import { TunnelEngine, type UdpSink } from "../../sdk/io/tunnel-engine.ts";
import { loadLibc, type Libc } from "../../sdk/io/libc.ts";
import { fakeTunLibc } from "../../test/helpers/fake-tun-libc.ts";
import { wireTs } from "../../sdk/io/selectors.ts";
import { parseTs } from "../../sdk/ike/ts.ts";
import type { TrafficSelector } from "../../sdk/ike/message.ts";
import { ipv4UdpPacket } from "../packets.ts";
import { median } from "../measure.ts";

type Role = "all" | "out" | "in";
export interface Job {
  suite: EspSuite;
  size: number;
  ms: number;
  role: Role;
  /** What the single worker does with role "all": both directions, or only outbound. */
  traffic: "both" | "out";
  /** Int32Array over this SharedArrayBuffer: [0] becomes 1 when every worker is ready to start, [1] counts the ready ones, [2] stays 0. */
  go: SharedArrayBuffer;
}
export interface Done {
  out: number;
  in: number;
  wallMs: number;
  cpuMs: number;
  drops: number;
}

const BATCH = 64,
  RING = 256;

const ts = (text: string): TrafficSelector[] => parseTs(text).filter((t): t is TrafficSelector => t !== "dynamic");
const key = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);
const keyBytes = (suite: EspSuite): number => (suite === "chacha20poly1305" ? 36 : 20);

/** A libc whose TUN reads copy the next ring packet (BATCH per round, then "would block") and whose writes are counted. */
function ringLibc(ring: Uint8Array[]): { libc: Libc; written: () => number } {
  let i = 0,
    inRound = 0,
    written = 0;
  const libc = fakeTunLibc({
    read(dst) {
      if (inRound === BATCH) {
        inRound = 0;
        return -1;
      }
      inRound++;
      const p = ring[i++ % RING]!;
      const n = Math.min(dst.length, p.length);
      dst.set(n === p.length ? p : p.subarray(0, n));
      return n;
    },
    write: () => void written++,
  });
  return { libc, written: () => written };
}

/** A socket that counts: a real one hands wasm memory to sendmmsg without a copy. */
function countingSink(): UdpSink & { sent: number } {
  const s = {
    sent: 0,
    queued: 0,
    dest: (address: string, port: number) => `${address}:${port}`,
    queue(): void {
      s.queued++;
    },
    flush(): [number, number, number] {
      const n = s.queued;
      s.sent += n;
      s.queued = 0;
      return [n, 0, n ? 1 : 0];
    },
    sendOne: () => true,
  };
  return s;
}

/** ESP as the peer sends it to us: `RING` packets of the inbound SA, encapsulated by a second Dataplane with its keys. */
async function peerEsp(suite: EspSuite, spi: number, k: Uint8Array, size: number): Promise<Uint8Array[]> {
  const dp = await Dataplane.create({ maxSas: 4, batchSize: BATCH });
  const sa = dp.addSa({ spi, direction: "out", mode: "tunnel", esp: suite, encKey: k.slice() });
  const out: Uint8Array[] = [];
  const b: PacketBatch = dp.batch;
  while (out.length < RING) {
    b.reset();
    for (let i = 0; i < BATCH; i++) {
      const p = ipv4UdpPacket(size, 9);
      p.set([10, 9, 0, 9], 12); // from behind the peer (10.9.0.0/16) to us (10.1.0.1)
      p.set([10, 1, 0, 1], 16);
      b.add(recomputeIpv4Checksum(p), sa);
    }
    dp.runEncapsulate(b);
    for (let i = 0; i < b.length; i++) {
      if (b.status(i) !== "ok") throw new Error(`peer encapsulation: ${b.status(i)}`);
      out.push(b.output(i).slice());
    }
  }
  return out;
}

function recomputeIpv4Checksum(p: Uint8Array): Uint8Array {
  p[10] = 0;
  p[11] = 0;
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (p[i]! << 8) | p[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  p[10] = (~sum >> 8) & 0xff;
  p[11] = ~sum & 0xff;
  return p;
}

/** One worker thread: its own Dataplane and engine, as tunnel-worker.ts sets them up. */
export async function runWorker(job: Job): Promise<Done> {
  const kOut = key(keyBytes(job.suite), 1),
    kIn = key(keyBytes(job.suite), 2);
  const tunRing = Array.from({ length: RING }, (_, i) => ipv4UdpPacket(job.size, i)); // 10.1.0.1 -> 10.2.0.x
  const espRing =
    job.role === "out" || job.traffic === "out" ? [] : await peerEsp(job.suite, 0xc0000002, kIn, job.size);
  const dp = await Dataplane.create({ maxSas: 16, batchSize: BATCH });
  const thread = await loadLibc("the bench's thread CPU clock");
  const { libc, written } = ringLibc(tunRing);
  const sink = countingSink();
  const engine = new TunnelEngine(libc, dp, 7, BATCH, sink, () => undefined);
  engine.control({
    t: "add",
    h: 1,
    cfg: { spi: 0xc0000001, direction: "out", mode: "tunnel", esp: job.suite, encKey: kOut.slice() },
  });
  engine.control({
    t: "add",
    h: 2,
    cfg: { spi: 0xc0000002, direction: "in", mode: "tunnel", esp: job.suite, encKey: kIn.slice(), replayWindow: 0 },
  });
  const local = wireTs(ts("10.1.0.0/16")),
    remoteTs = wireTs(ts("10.0.0.0/8"));
  engine.control({
    t: "routes",
    out: [{ h: 1, remote: { address: "198.18.0.2", port: 4500 }, local, remoteTs, mtu: 1500 }],
    in: [{ h: 2, local, remoteTs }],
  });
  const doOut = job.role !== "in",
    doIn = job.traffic === "both" && job.role !== "out";
  const from = () => ({ address: "198.18.0.2", port: 4500 });
  let e = 0;
  const round = (): void => {
    if (doOut) engine.fromTun();
    if (doIn) {
      engine.beginReceive();
      for (let i = 0; i < BATCH; i++) engine.ingest(espRing[e++ % RING]!, from);
      engine.finishReceive();
    }
  };
  for (let i = 0; i < 50; i++) round(); // warm up: JIT, native AES objects
  const sent0 = sink.sent,
    written0 = written();
  const go = new Int32Array(job.go);
  Atomics.add(go, 1, 1);
  Atomics.wait(go, 0, 0);
  // process.cpuUsage() is the whole process's: the thread's own CPU clock comes from libc
  const c0 = thread.threadCpuNs(),
    t0 = performance.now(),
    end = t0 + job.ms;
  if (!doOut && !doIn)
    Atomics.wait(go, 2, 0, job.ms); // one-way traffic: the "in" worker waits, as in poll
  else while (performance.now() < end) for (let i = 0; i < 8; i++) round();
  const wallMs = performance.now() - t0,
    cpuMs = (thread.threadCpuNs() - c0) / 1e6;
  const drops =
    Object.values(engine.io.espDrops).reduce((a, b) => a + b, 0) + engine.io.noRoute + engine.io.policyDrops;
  return { out: sink.sent - sent0, in: written() - written0, wallMs, cpuMs, drops };
}

/**
 * Packets per second the set would move with a core per thread: all its packets over the CPU time
 * of its busiest thread (on a machine where the threads share cores, wall time says less).
 */
function capacity(ds: Done[]): number {
  return ds.reduce((s, d) => s + d.out + d.in, 0) / (Math.max(...ds.map((d) => d.cpuMs)) / 1000);
}

/** Runs `roles.length` workers at once and returns their results. */
async function runSet(base: Omit<Job, "role" | "go">, roles: Role[]): Promise<Done[]> {
  const go = new SharedArrayBuffer(12);
  const flags = new Int32Array(go);
  const workers = roles.map(
    (role) =>
      new Worker(new URL("./workers-thread.mjs", import.meta.url), {
        workerData: { ...base, role, go } satisfies Job,
      }),
  );
  const results = workers.map(
    (w) =>
      new Promise<Done>((resolve, reject) => {
        w.once("message", (m: Done) => resolve(m));
        w.once("error", reject);
        w.once("exit", (code) => reject(new Error(`bench worker exited with ${code}`)));
      }),
  );
  const deadline = Date.now() + 60_000;
  while (Atomics.load(flags, 1) < roles.length) {
    if (Date.now() > deadline) throw new Error("bench workers did not get ready within 60 s");
    await new Promise((r) => setTimeout(r, 5));
  }
  Atomics.store(flags, 0, 1);
  Atomics.notify(flags, 0);
  try {
    return await Promise.all(results);
  } finally {
    for (const w of workers) await w.terminate();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      suite: { type: "string", default: "aes128gcm16" },
      size: { type: "string", default: "64,1400" },
      ms: { type: "string", default: "2000" },
      reps: { type: "string", default: "3" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log("usage: node --import tsx bench/tunnel/workers.ts [--suite S] [--size 64,1400] [--ms 2000] [--reps 3]");
    return;
  }
  const suite = values.suite as EspSuite,
    ms = Number(values.ms),
    reps = Number(values.reps);
  const sizes = values.size.split(",").map(Number);
  console.log(
    `${cpus()[0]?.model ?? "?"} (${cpus().length} cores), Node ${process.version}, ${suite}, ${ms} ms per run, medians of ${reps}, load1 ${loadavg()[0]!.toFixed(2)} at start`,
  );
  console.log(
    "| inner B | traffic | 1 worker pps | 2 workers pps | 2 / 1 (wall) | 2 / 1 (CPU-projected) | CPU ms per thread (1 · 2 workers) |",
  );
  console.log("| ---: | --- | ---: | ---: | ---: | ---: | --- |");
  for (const size of sizes) {
    for (const traffic of ["both", "out"] as const) {
      const one: number[] = [],
        two: number[] = [],
        oneCpu: number[] = [],
        twoCpu: number[] = [];
      let cpu1 = "",
        cpu2 = "";
      for (let r = 0; r < reps; r++) {
        // interleaved: 1 worker, then 2, then 1 …
        const a = await runSet({ suite, size, ms, traffic }, ["all"]);
        const b = await runSet({ suite, size, ms, traffic }, ["out", "in"]);
        for (const d of [...a, ...b])
          if (d.drops) throw new Error(`the engine dropped ${d.drops} packets: the bench is wrong`);
        const pps = (ds: Done[]) => ds.reduce((s, d) => s + (d.out + d.in) / (d.wallMs / 1000), 0);
        one.push(pps(a));
        two.push(pps(b));
        oneCpu.push(capacity(a));
        twoCpu.push(capacity(b));
        cpu1 = a.map((d) => d.cpuMs.toFixed(0)).join("+");
        cpu2 = b.map((d) => d.cpuMs.toFixed(0)).join("+");
      }
      const m1 = median(one),
        m2 = median(two);
      console.log(
        `| ${size} | ${traffic} | ${(m1 / 1000).toFixed(1)} k | ${(m2 / 1000).toFixed(1)} k | ${(m2 / m1).toFixed(2)}× | ${(median(twoCpu) / median(oneCpu)).toFixed(2)}× | ${cpu1} · ${cpu2} |`,
      );
    }
  }
  console.log(`load1 ${loadavg()[0]!.toFixed(2)} at the end`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
