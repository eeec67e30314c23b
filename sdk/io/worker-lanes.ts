/**
 * The packet workers of a TUN-mode `up`, seen from the main thread: starting one (its script, its
 * control channel, the wait for `ready`) and adding their stats reports into one.
 * @module
 */
import { MessageChannel, Worker } from "node:worker_threads";
import type { SaHandle } from "../dataplane/types.ts";
import { IoError, type IoErrorCode } from "./errors.ts";
import type { FromWorker, WorkerSetup } from "./messages.ts";

export type Stats = Extract<FromWorker, { t: "stats" }>;

/** One packet worker and its control channel. */
export interface Lane {
  worker: Worker;
  ctrl: MessageChannel["port1"];
  wakeFd: number;
  stopped: Promise<void>;
  last?: Stats;
  kick: boolean;
  /** Stats messages received (freshStats waits for one more from each lane). */
  reports: number;
}

/** The worker's script: the compiled .js next to this module, or the .ts under a TypeScript loader. */
function workerUrl(): URL {
  return new URL(import.meta.url.endsWith(".ts") ? "./tunnel-worker.ts" : "./tunnel-worker.js", import.meta.url);
}

/** Starts one packet worker and waits for its `ready` (its socket is bound). */
export async function startLane(
  i: number,
  setup: WorkerSetup,
  on: {
    ike(m: Extract<FromWorker, { t: "ike" }>): void;
    other(m: FromWorker): void;
    fail(code: string, message: string): void;
  },
): Promise<{ lane: Lane; port: number }> {
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(workerUrl(), {
    workerData: { ...setup, ctrl: port2 },
    transferList: [port2],
    name: `ipsec-wasm packet worker ${i}`,
  });
  const stopped = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  let started = false;
  const ready = await new Promise<Extract<FromWorker, { t: "ready" }>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new IoError("WORKER", `packet worker ${i} did not start within 10 s`)),
      10_000,
    );
    worker.on("error", (e) => {
      clearTimeout(timer);
      if (!started) reject(new IoError("WORKER", `packet worker: ${e.message}`));
      else on.fail("WORKER", e.message);
    });
    worker.on("message", (m: FromWorker) => {
      if (m.t === "ready") {
        started = true;
        clearTimeout(timer);
        resolve(m);
        return;
      }
      if (m.t === "fatal") {
        clearTimeout(timer);
        if (!started) reject(new IoError(m.code as IoErrorCode, m.message));
        else on.fail(m.code, m.message);
        return;
      }
      if (m.t === "ike") on.ike(m);
      else on.other(m);
    });
  }).catch(async (e: unknown) => {
    await worker.terminate();
    throw e;
  });
  return { lane: { worker, ctrl: port1, wakeFd: ready.wakeFd, stopped, kick: false, reports: 0 }, port: ready.port };
}

/** Adds the workers' reports: counters summed per SA (only one worker processes each SA), the highest sequence numbers. */
export function mergeStats(list: Stats[]): Stats {
  const [first, ...rest] = list;
  if (!first) throw new RangeError("mergeStats needs at least one report");
  const sas = new Map<SaHandle, Stats["sas"][number]>();
  for (const st of list) {
    for (const e of st.sas) {
      const prev = sas.get(e.h);
      if (!prev) {
        sas.set(e.h, { ...e, stats: { ...e.stats, drops: { ...e.stats.drops } } });
        continue;
      }
      const a = prev.stats,
        b = e.stats;
      if (b.packets > a.packets || (e.replay && (!prev.replay || e.replay.top > prev.replay.top)))
        prev.replay = e.replay ?? prev.replay;
      a.packets += b.packets;
      a.bytes += b.bytes;
      a.seq = a.seq > b.seq ? a.seq : b.seq;
      for (const k of Object.keys(a.drops) as (keyof typeof a.drops)[]) a.drops[k] += b.drops[k];
      if (b.lifetime.soft) a.lifetime.soft = b.lifetime.soft;
      if (b.lifetime.hard) a.lifetime.hard = b.lifetime.hard;
    }
  }
  const byStatus = { ...first.global.byStatus };
  for (const st of rest)
    for (const k of Object.keys(byStatus) as (keyof typeof byStatus)[]) byStatus[k] += st.global.byStatus[k];
  const io = { ...first.io, espDrops: { ...first.io.espDrops }, stageUs: first.io.stageUs && { ...first.io.stageUs } };
  for (const st of rest) {
    for (const [k, v] of Object.entries(st.io)) {
      const sums = io as unknown as Record<string, number | undefined>;
      if (typeof v === "number" && k !== "wallMs") sums[k] = (sums[k] ?? 0) + v;
    }
    for (const [k, v] of Object.entries(st.io.espDrops))
      io.espDrops[k as keyof typeof io.espDrops] = (io.espDrops[k as keyof typeof io.espDrops] ?? 0) + (v ?? 0);
    if (io.stageUs && st.io.stageUs)
      for (const [k, v] of Object.entries(st.io.stageUs))
        io.stageUs[k as keyof typeof io.stageUs] = (io.stageUs[k as keyof typeof io.stageUs] ?? 0) + (v ?? 0);
  }
  return {
    t: "stats",
    sas: [...sas.values()],
    global: { XfrmInNoStates: byStatus["no-sa"], XfrmInHdrError: byStatus["truncated"], byStatus },
    io,
    diagnostics: list.flatMap((st) => st.diagnostics),
  };
}
