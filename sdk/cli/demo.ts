/**
 * `npm run demo`: two ipsec-wasm peers in one process negotiate IKEv2 (PSK) over UDP on 127.0.0.1,
 * then peer A pings through the Child SA and peer B answers every echo request; finally A deletes
 * the IKE SA and B must be left with nothing. Runs twice: AES-GCM with X25519, and AES-CBC +
 * HMAC-SHA-256 with ECP-256. Prints the IKE exchanges as charon would log them, the negotiated
 * proposals and the per-SA counters.
 * @module
 */
import type { SaStats } from "../dataplane/types.ts";
import { IkeError, EXIT_CODES } from "../ike/errors.ts";
import type { ChildSa, IkeSa } from "../ike/ike-sa.ts";
import { formatLog, type LogRecord } from "../ike/log.ts";
import { icmpEcho, echoReplyFor, parseIcmpEcho } from "../packet/icmp.ts";
import { startPeerPair, INNER_A, INNER_B, CONN_A, type PeerPair } from "../node/ike-pair.ts";
import { numberArg, parseCommandArgs, UsageError } from "./args.ts";
import type { CliCommand } from "./command.ts";

/** One configuration the demo negotiates: IKE and ESP proposals in strongSwan notation. */
export interface DemoSuite {
  ike: string;
  esp: string;
}

/** The two configurations `npm run demo` shows. */
export const DEMO_SUITES: readonly DemoSuite[] = [
  { ike: "aes128gcm16-prfsha256-x25519", esp: "aes128gcm16" },
  { ike: "aes128-sha256-prfsha256-ecp256", esp: "aes128-sha256" },
];

/** Knobs of one demo run. */
export interface DemoOptions {
  /** Echo requests per suite. */
  packets: number;
  /** Requests sent before waiting for their replies (keeps loopback socket buffers from overflowing). */
  burst: number;
  /** Bound on one suite: negotiation, pings and DELETE together. */
  timeoutMs: number;
  /** Peer B gets another pre-shared key, to show how a failed negotiation reads. */
  wrongPsk: boolean;
  /** Print every log line up to this level instead of the exchanges that tell the story. */
  logLevel?: 0 | 1 | 2;
}

/** What one suite did. */
export interface DemoSuiteResult {
  suite: DemoSuite;
  /** Negotiated proposals in strongSwan notation as peer A and peer B see them ("" when not negotiated). */
  ikeProposal: { a: string; b: string };
  espProposal: { a: string; b: string };
  /** Both IKE SAs reached ESTABLISHED and the Child SA was installed on both sides. */
  established: boolean;
  requests: number;
  replies: number;
  /** After A's DELETE, neither daemon holds an IKE SA nor either dataplane an SA. */
  cleanedUp: boolean;
  /** Why the negotiation failed. */
  error?: IkeError;
}

const NEGOTIATION_MS = 10_000;

/** The lines that tell the story at level 1: each exchange sent and received, and the proposal picked. */
function isStoryLine(r: LogRecord): boolean {
  return r.level === 0 || (r.level === 1 && /^(generating |parsed |selected proposal: )/.test(r.message));
}

function formatStats(name: string, s: SaStats | undefined): string {
  if (!s) return `  ${name.padEnd(6)} (not installed)`;
  const drops =
    Object.entries(s.drops)
      .filter(([, v]) => v > 0n)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ") || "none";
  return (
    `  ${name.padEnd(6)} spi 0x${s.spi.toString(16).padStart(8, "0")} ${s.direction.padEnd(3)} ${s.esp} (ICV ${s.icvLength * 8} bit)` +
    `  packets ${s.packets}  bytes ${s.bytes}  seq ${s.seq}  drops: ${drops}`
  );
}

function timeout<T>(p: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Pings `opt.packets` times through the Child SA in bursts; resolves to [sent, distinct replies, seconds]. */
async function ping(pair: PeerPair, opt: DemoOptions, deadline: number): Promise<[number, number, number]> {
  const seen = new Set<number>();
  let wake: (() => void) | null = null;
  const queue: Uint8Array[] = [];
  // B answers a whole batch of decapsulated requests with one encapsulation call.
  pair.b.onInner = (pkt) => {
    const reply = echoReplyFor(pkt);
    if (!reply) return;
    if (queue.push(reply) === 1) queueMicrotask(() => pair.b.sendInner(queue.splice(0), INNER_A));
  };
  pair.a.onInner = (pkt) => {
    const e = parseIcmpEcho(pkt);
    if (e && e.type === 0 && e.src === INNER_B && e.dst === INNER_A) seen.add(e.seq);
    wake?.();
  };
  const t0 = performance.now();
  let sent = 0;
  while (sent < opt.packets && performance.now() < deadline) {
    const n = Math.min(opt.burst, opt.packets - sent);
    const burst = Array.from({ length: n }, (_, i) => icmpEcho(INNER_A, INNER_B, 0x1234, sent + i, 56));
    sent += pair.a.sendInner(burst, INNER_B);
    const until = Math.min(deadline, performance.now() + 1000);
    while (seen.size < sent && performance.now() < until) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
      wake = null;
    }
  }
  return [sent, seen.size, (performance.now() - t0) / 1000];
}

/** Negotiates one suite between two fresh peers, pings through it and deletes it. */
export async function runDemoSuite(
  suite: DemoSuite,
  opt: DemoOptions,
  out: (line: string) => void,
): Promise<DemoSuiteResult> {
  const deadline = performance.now() + opt.timeoutMs;
  const res: DemoSuiteResult = {
    suite,
    ikeProposal: { a: "", b: "" },
    espProposal: { a: "", b: "" },
    established: false,
    requests: 0,
    replies: 0,
    cleanedUp: false,
  };
  const show = (peer: "A" | "B", r: LogRecord) => {
    if (opt.logLevel === undefined ? isStoryLine(r) : r.level <= opt.logLevel) out(`  ${peer}  ${formatLog(r)}`);
  };
  const pair = await startPeerPair({
    ike: suite.ike,
    esp: suite.esp,
    pskB: opt.wrongPsk ? "not the key peer A has" : undefined,
    log: show,
  });
  try {
    const { endpointA: ea, endpointB: eb } = pair;
    out(`\nIKE ${suite.ike}, ESP ${suite.esp}, PSK${opt.wrongPsk ? " (peer B has a different key)" : ""}`);
    out(
      `  peer A ${ea.address}[${ea.port}] (inner ${INNER_A}/32)  <-- IKEv2 and ESP-in-UDP -->  peer B ${eb.address}[${eb.port}] (inner 203.0.113.0/24)`,
    );

    let ike: IkeSa, child: ChildSa | undefined;
    try {
      ({ ike, child } = await timeout(
        pair.a.initiate(CONN_A),
        NEGOTIATION_MS,
        () => new IkeError("PEER_UNREACHABLE", `no IKE_SA with peer B within ${NEGOTIATION_MS / 1000} s`),
      ));
    } catch (e) {
      if (!(e instanceof IkeError)) throw e;
      res.error = e;
      out(
        `  negotiation failed: ${e.code} (${e.side === "remote" ? "peer B refused" : "peer A refused"}): ${e.message}`,
      );
      return res;
    }
    const bIke = [...pair.b.sas.values()][0];
    const bChild = bIke ? [...bIke.children.values()][0] : undefined;
    res.ikeProposal = { a: ike.proposal, b: bIke?.proposal ?? "" };
    res.espProposal = { a: child?.proposal ?? "", b: bChild?.proposal ?? "" };
    res.established =
      ike.state === "ESTABLISHED" && bIke?.state === "ESTABLISHED" && child !== undefined && bChild !== undefined;
    out(
      `  negotiated IKE proposal: ${res.ikeProposal.a}${res.ikeProposal.a === res.ikeProposal.b ? "" : `  (peer B: ${res.ikeProposal.b || "none"})`}`,
    );
    out(
      `  negotiated ESP proposal: ${res.espProposal.a}${res.espProposal.a === res.espProposal.b ? "" : `  (peer B: ${res.espProposal.b || "none"})`}`,
    );

    const [sent, replies, seconds] = await ping(pair, opt, deadline);
    res.requests = sent;
    res.replies = replies;
    const [sa] = pair.a.status(),
      [sb] = pair.b.status();
    out(formatStats("A out", sa?.children[0]?.out));
    out(formatStats("B in", sb?.children[0]?.in));
    out(formatStats("B out", sb?.children[0]?.out));
    out(formatStats("A in", sa?.children[0]?.in));
    out(
      `  ${sent} echo requests, ${replies} replies in ${seconds.toFixed(2)} s: ${Math.round((sent + replies) / seconds)} ESP packets/s ` +
        "through both daemons, both dataplanes and the kernel's UDP loopback",
    );

    await timeout(
      pair.a.terminateAll(),
      Math.max(1000, deadline - performance.now()),
      () => new Error("DELETE not answered in time"),
    ).catch((e: Error) => out(`  ${e.message}`));
    // B tears down before it answers, but give its last event-loop turn a bounded chance anyway.
    const empty = () =>
      pair.a.sas.size === 0 &&
      pair.b.sas.size === 0 &&
      pair.dpA.handles().length === 0 &&
      pair.dpB.handles().length === 0;
    for (let i = 0; i < 40 && !empty(); i++) await sleep(25);
    res.cleanedUp = empty();
    out(
      `  after DELETE: peer A holds ${pair.a.sas.size} IKE SAs and ${pair.dpA.handles().length} dataplane SAs, ` +
        `peer B ${pair.b.sas.size} IKE SAs and ${pair.dpB.handles().length} dataplane SAs`,
    );
    return res;
  } finally {
    await pair.close();
  }
}

/** `[--count N] [--wrong-psk] [--log-level 0|1|2]`; throws {@link UsageError}. */
function parseOptions(argv: string[]): DemoOptions {
  const { values } = parseCommandArgs(
    argv,
    {
      count: { type: "string" },
      "wrong-psk": { type: "boolean" },
      "log-level": { type: "string" },
    },
    { command: "demo" },
  );
  const level = values["log-level"];
  if (level !== undefined && level !== "0" && level !== "1" && level !== "2")
    throw new UsageError(`--log-level must be 0, 1 or 2, got '${level}'`);
  return {
    packets:
      values.count === undefined ? 4000 : numberArg("--count", values.count, { min: 1, max: 1_000_000, integer: true }),
    burst: 64,
    timeoutMs: 30_000,
    wrongPsk: values["wrong-psk"] === true,
    logLevel: level === undefined ? undefined : (Number(level) as 0 | 1 | 2),
  };
}

/**
 * Runs the demo with CLI arguments; resolves to the exit code: 0 when both suites negotiated,
 * every echo came back and the DELETE left nothing behind; the {@link EXIT_CODES} code of the IKE
 * failure (e.g. 11 for AUTHENTICATION_FAILED) when a negotiation failed; 1 otherwise.
 * Bad arguments reject with a {@link UsageError} before anything runs.
 */
export async function runDemo(
  argv: string[] = [],
  out: (line: string) => void = (l) => console.log(l),
): Promise<number> {
  const opt = parseOptions(argv);
  out(
    "ipsec-wasm demo: two userspace IPsec peers in one process negotiate IKEv2 over UDP on 127.0.0.1, then ping through the Child SA",
  );
  const results: DemoSuiteResult[] = [];
  for (const s of DEMO_SUITES) results.push(await runDemoSuite(s, opt, out));
  const failed = results.find((r) => r.error);
  const ok = results.every(
    (r) => r.established && r.requests === opt.packets && r.replies === r.requests && r.cleanedUp,
  );
  out(
    ok
      ? "\nboth suites negotiated, every echo request answered through ESP, and DELETE removed every SA"
      : failed
        ? `\nnegotiation failed: ${failed.error!.code}`
        : "\nsome echo requests were not answered or SAs were left behind (see above)",
  );
  return ok ? 0 : failed ? EXIT_CODES[failed.error!.code] : 1;
}

/** `ipsec-wasm demo [--count N] [--wrong-psk] [--log-level 0|1|2]`. */
export const demoCommand: CliCommand = {
  usage:
    "usage: ipsec-wasm demo [--count N] [--wrong-psk] [--log-level 0|1|2]\n" +
    "  --count N          echo requests per suite (default 4000)\n" +
    "  --wrong-psk        give peer B another pre-shared key: shows how AUTHENTICATION_FAILED is reported (exit 11)\n" +
    "  --log-level L      print every IKE log line up to level L instead of one line per exchange\n" +
    "Exit codes: 0 both suites passed, 1 echoes lost or SAs left, 2 bad arguments (one line), 10-19 the IKE failure (11 with --wrong-psk)\n",
  async run(args, io) {
    try {
      return await runDemo(args, (l) => io.out(`${l}\n`));
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      io.err(`ipsec-wasm demo: ${e.message}\n`);
      return 2;
    }
  },
};

if (import.meta.url === `file://${process.argv[1]}`) {
  runDemo(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: Error) => {
      console.error(e.message);
      process.exitCode = 2;
    },
  );
}
