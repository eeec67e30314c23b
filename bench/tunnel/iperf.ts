// One iperf3 measurement through a path: a one-shot server in the receiving namespace, the client
// in the sending one, and around the client run the tunnel processes' CPU (/proc/PID/stat), the
// machine's busy jiffies (/proc/stat) and load1 (/proc/loadavg).
import { Cleanup, CLK_TCK, cpuSeconds, inNs, load1, machineTicks, run, sleep } from "./sys.ts";

export const MODES = ["tcp", "udp1372", "udp64"] as const;
export type Mode = (typeof MODES)[number];
/** UDP payload bytes per mode: 1372 B payload = 1400-byte inner IPv4 packets, the anchors' TUN MTU. */
export const PAYLOAD: Record<Exclude<Mode, "tcp">, number> = { udp1372: 1372, udp64: 64 };
const PORT = 5299;

/** Where to run iperf3 and whose CPU to charge to the tunnel. */
export interface Endpoints {
  serverNs: string;
  clientNs: string;
  /** iperf3 server address (the far end's inner address). */
  serverIp: string;
  /** client source address (-B), when the route alone would not pick the tunnel's. */
  bindIp?: string;
  /** PIDs of the tunnel processes (threads included); empty for plain veth. */
  pids: number[];
  /** Roots whose whole process tree counts (UML). */
  treeRoots?: number[];
}

export interface Measurement {
  mode: Mode;
  rep: number;
  ok: boolean;
  error?: string;
  /** Received (goodput) Gbit/s of iperf3 payload. */
  gbps: number;
  /** Received packets per second /1000: UDP datagrams, or TCP bytes / MSS. */
  kpps: number;
  /** UDP only: what the sender pushed into the tunnel, kpps. */
  sentKpps?: number;
  retransmits?: number;
  mss?: number;
  /** CPU µs of the tunnel processes per received packet (null without tunnel processes). */
  tunnelUsPerPkt: number | null;
  /** Tunnel processes' CPU in % of one core over the run. */
  tunnelCpuPct: number | null;
  /** The whole machine's busy CPU µs per received packet (iperf3, kernel and anything else running). */
  machineUsPerPkt: number;
  /** Machine busy % of all cores over the run. */
  machineBusyPct: number;
  load1Before: number;
  load1After: number;
  seconds: number;
}

/** Waits (bounded) until load1 is at most `max`, so one run's tail does not land on the next. */
export async function waitLoad(max: number, maxWaitS: number): Promise<void> {
  for (let waited = 0; waited < maxWaitS && load1() > max; waited += 5) await sleep(5000);
}

async function serverListening(ns: string, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (let i = 0; i < 100 && Date.now() < until; i++) {
    if (run("ip", ["netns", "exec", ns, "ss", "-Hltn", `sport = :${PORT}`], 5000).out.includes(`:${PORT}`)) return true;
    await sleep(50);
  }
  return false;
}

/** Runs the client to its end (killed by PID after `timeoutMs`); registered with `cleanup` so an abort kills it too. */
async function runClient(
  cleanup: Cleanup,
  argv: string[],
  timeoutMs: number,
): Promise<{ code: number; out: string; err: string }> {
  const c = cleanup.spawn(argv, process.env, 4_000_000);
  const code = await new Promise<number>((resolve) => {
    const t = setTimeout(() => c.child.kill("SIGKILL"), timeoutMs);
    c.child.on("close", (rc) => {
      clearTimeout(t);
      resolve(rc ?? 124);
    });
  });
  return { code, out: c.out(), err: c.log().slice(-600) };
}

/** CPU and load read just before and just after the iperf3 client ran. */
export interface Sample {
  tunnelS: number;
  busy: number;
  total: number;
  load1: number;
  at: number;
}

export function sample(ep: Pick<Endpoints, "pids" | "treeRoots">): Sample {
  const m = machineTicks();
  return { tunnelS: cpuSeconds(ep.pids, ep.treeRoots), busy: m.busy, total: m.total, load1: load1(), at: Date.now() };
}

/** A Measurement from iperf3's JSON and the samples around it (also used for the runs inside UML). */
export function toMeasurement(
  json: string,
  failure: string,
  mode: Mode,
  rep: number,
  seconds: number,
  s0: Sample,
  s1: Sample,
  hasTunnel: boolean,
): Measurement {
  const busy = s1.busy - s0.busy,
    total = s1.total - s0.total,
    wall = (s1.at - s0.at) / 1000;
  const m: Measurement = {
    mode,
    rep,
    ok: false,
    gbps: 0,
    kpps: 0,
    tunnelUsPerPkt: null,
    tunnelCpuPct: null,
    machineUsPerPkt: 0,
    machineBusyPct: total > 0 ? (100 * busy) / total : 0,
    load1Before: s0.load1,
    load1After: s1.load1,
    seconds,
    ...parse(json, mode, failure),
  };
  const pkts = m.kpps * 1000 * m.seconds;
  if (m.ok && pkts > 0) {
    m.machineUsPerPkt = ((busy / CLK_TCK) * 1e6) / pkts;
    if (hasTunnel) {
      m.tunnelUsPerPkt = ((s1.tunnelS - s0.tunnelS) * 1e6) / pkts;
      m.tunnelCpuPct = wall > 0 ? (100 * (s1.tunnelS - s0.tunnelS)) / wall : null;
    }
  }
  return m;
}

/** One iperf3 run of `mode` for `seconds` through `ep`; failures come back as ok: false with the reason. */
export async function measure(
  parent: Cleanup,
  ep: Endpoints,
  mode: Mode,
  rep: number,
  seconds: number,
): Promise<Measurement> {
  const cleanup = new Cleanup();
  // the path's cleanup (run on SIGINT too) also ends this run's iperf3 server and client
  parent.add(`iperf3 ${mode} processes`, () => cleanup.run());
  const hasTunnel = ep.pids.length + (ep.treeRoots?.length ?? 0) > 0;
  try {
    cleanup.spawn(inNs(ep.serverNs, ["iperf3", "-s", "-1", "-B", ep.serverIp, "-p", String(PORT)]));
    const s = sample(ep);
    if (!(await serverListening(ep.serverNs, 5000)))
      return toMeasurement("", "iperf3 server did not listen", mode, rep, seconds, s, s, false);
    const args = ["-c", ep.serverIp, "-p", String(PORT), "-J", "-t", String(seconds)];
    if (ep.bindIp) args.push("-B", ep.bindIp);
    if (mode !== "tcp") args.push("-u", "-b", "0", "-l", String(PAYLOAD[mode]));
    const s0 = sample(ep);
    const r = await runClient(cleanup, inNs(ep.clientNs, ["iperf3", ...args]), (seconds + 20) * 1000);
    const s1 = sample(ep);
    return toMeasurement(
      r.out,
      r.code === 0 ? "" : `iperf3 exit ${r.code}: ${r.err.trim().slice(-300)}`,
      mode,
      rep,
      seconds,
      s0,
      s1,
      hasTunnel,
    );
  } finally {
    await cleanup.run();
  }
}

interface IperfJson {
  error?: string;
  start?: { tcp_mss_default?: number };
  end?: {
    sum_received?: { bytes: number; seconds: number; bits_per_second: number };
    sum_sent?: { bytes: number; seconds: number; retransmits?: number };
  };
}

function parse(out: string, mode: Mode, failure: string): Partial<Measurement> {
  let j: IperfJson;
  try {
    j = JSON.parse(out) as IperfJson;
  } catch {
    return { ok: false, error: failure || "iperf3 printed no JSON" };
  }
  const rx = j.end?.sum_received,
    tx = j.end?.sum_sent;
  if (j.error || !rx || !(rx.seconds > 0)) return { ok: false, error: j.error ?? (failure || "no sum_received") };
  const gbps = (rx.bytes * 8) / rx.seconds / 1e9;
  if (mode === "tcp") {
    const mss = j.start?.tcp_mss_default ?? 1448;
    return {
      ok: true,
      gbps,
      mss,
      retransmits: tx?.retransmits,
      kpps: rx.bytes / mss / rx.seconds / 1000,
      seconds: rx.seconds,
    };
  }
  const pl = PAYLOAD[mode];
  return {
    ok: true,
    gbps,
    kpps: rx.bytes / pl / rx.seconds / 1000,
    sentKpps: tx ? tx.bytes / pl / tx.seconds / 1000 : undefined,
    seconds: rx.seconds,
  };
}
