// The IKE daemon fuzzer: mutated, replayed and reflected copies of a recorded session's messages
// fed to an initiator and a responder that hold the same IKE SA (same seed, so the same SPIs and
// keys), and sessions whose datagrams are mutated in flight. Invariants: no exception or
// unhandled rejection, no "internal error", every failure explained, and a clean session
// afterwards still comes up.
import { settle, type Pair } from "../helpers/ike-pair.ts";
import { IkeError } from "../../sdk/ike/errors.ts";
import type { IkeEvent } from "../../sdk/ike/ike-sa.ts";
import type { Prng } from "./prng.ts";
import { BYTE_MUTATIONS, mutateBytes, withBe32 } from "./mutate.ts";
import { establish, exerciseExchanges, recordingPair, type WireMessage } from "./ike-session.ts";

const IKE_OPS = [
  ...BYTE_MUTATIONS,
  "spi-i",
  "spi-r",
  "exchange",
  "flags",
  "message-id",
  "next-payload",
  "version",
  "length",
  "payload-length",
  "replay",
  "reflect",
] as const;
/** One IKE mutation. */
export type IkeOp = (typeof IKE_OPS)[number];

/** Counts of a daemon run. */
export interface DaemonFuzzStats {
  messages: number;
  victims: number;
  sessions: number;
  sessionsUp: number;
  sessionsFailed: Record<string, number>;
  cleanSessions: number;
  /** Datagrams re-sealed with the IKE SA's keys after their inner payloads were mutated. */
  authenticated: number;
  byOp: Record<string, number>;
}

/** Watches a pair: failures must be IkeErrors with a reason, logs must not say "internal error". */
export class PairWatch {
  readonly problems: string[] = [];
  readonly #offs: (() => void)[] = [];
  readonly failures: IkeError[] = [];
  #seenA = 0;
  #seenB = 0;

  constructor(readonly p: Pair) {
    for (const [side, d] of [
      ["a", p.a],
      ["b", p.b],
    ] as const)
      this.#offs.push(d.on((e) => this.#event(side, e)));
  }

  #event(side: string, e: IkeEvent): void {
    if (e.type === "failed" || e.type === "child-failed") {
      if (!(e.error instanceof IkeError))
        this.problems.push(`${side}: ${e.type} with a ${String(e.error)} that is not an IkeError`);
      else if (e.error.code === "INTERNAL") this.problems.push(`${side}: ${e.type}: ${e.error.message}`);
      else if (!e.error.message) this.problems.push(`${side}: ${e.type} (${e.error.code}) without a reason`);
      else this.failures.push(e.error);
    } else if (e.type === "deleted" || e.type === "child-down") {
      if (!e.reason) this.problems.push(`${side}: ${e.type} without a reason`);
    }
  }

  /** Scans new log lines; returns and clears the problems found so far. */
  check(): string[] {
    const scan = (lines: string[], from: number, side: string): number => {
      for (let i = from; i < lines.length; i++)
        if (/internal error/i.test(lines[i]!)) this.problems.push(`${side} log: ${lines[i]!.slice(0, 2000)}`);
      return lines.length;
    };
    this.#seenA = scan(this.p.logs.a, this.#seenA, "a");
    this.#seenB = scan(this.p.logs.b, this.#seenB, "b");
    // Long runs: drop scanned lines.
    if (this.#seenA > 10_000) {
      this.p.logs.a.length = 0;
      this.#seenA = 0;
    }
    if (this.#seenB > 10_000) {
      this.p.logs.b.length = 0;
      this.#seenB = 0;
    }
    return this.problems.splice(0);
  }

  close(): void {
    for (const off of this.#offs) off();
  }
}

/** Collects unhandled rejections and uncaught exceptions while a fuzz run is active. */
export class CrashWatch {
  readonly crashes: string[] = [];
  readonly #onRejection = (e: unknown): void => {
    this.crashes.push(`unhandled rejection: ${(e as Error)?.stack ?? String(e)}`);
  };
  readonly #onException = (e: unknown): void => {
    this.crashes.push(`uncaught exception: ${(e as Error)?.stack ?? String(e)}`);
  };
  constructor() {
    process.on("unhandledRejection", this.#onRejection);
    process.on("uncaughtException", this.#onException);
  }
  close(): void {
    process.off("unhandledRejection", this.#onRejection);
    process.off("uncaughtException", this.#onException);
  }
}

/** A mutated (or replayed, or reflected) copy of a recorded message. */
export function mutateIke(
  rng: Prng,
  m: WireMessage,
  corpus: readonly WireMessage[],
  op: IkeOp,
): { bytes: Uint8Array; to: "a" | "b" } {
  const to = m.from === "a" ? "b" : "a";
  const b = m.bytes;
  const set = (i: number, v: number): Uint8Array => {
    const c = b.slice();
    if (i < c.length) c[i] = v;
    return c;
  };
  switch (op) {
    case "spi-i": {
      const c = b.slice();
      c.set(rng.chance(0.5) ? new Uint8Array(8) : rng.bytes(8), 0);
      return { bytes: c, to };
    }
    case "spi-r": {
      const c = b.slice();
      c.set(rng.chance(0.5) ? new Uint8Array(8) : rng.bytes(8), 8);
      return { bytes: c, to };
    }
    case "exchange":
      return { bytes: set(18, rng.pick([33, 34, 35, 36, 37, 38, 43, 0, 255])), to };
    case "flags":
      return { bytes: set(19, b[19]! ^ rng.pick([0x08, 0x20, 0x10, 0x28, 0x01, 0x80])), to };
    case "message-id": {
      const id = ((b[20]! << 24) | (b[21]! << 16) | (b[22]! << 8) | b[23]!) >>> 0;
      return { bytes: withBe32(b, 20, rng.chance(0.7) ? (id + rng.range(-2, 3)) >>> 0 : rng.u32()), to };
    }
    case "next-payload":
      return { bytes: set(16, rng.pick([0, 33, 34, 35, 40, 41, 46, 53, rng.int(256)])), to };
    case "version":
      return { bytes: set(17, rng.pick([0x10, 0x21, 0x30, 0x20 | rng.int(16), rng.int(256)])), to };
    case "length":
      return {
        bytes: withBe32(b, 24, rng.pick([0, 27, 28, b.length - 1, b.length + 1, 0xffffffff, rng.u32()]) >>> 0),
        to,
      };
    case "payload-length": {
      const c = b.slice();
      if (c.length > 31) {
        c[30] = rng.int(256);
        c[31] = rng.int(256);
      }
      return { bytes: c, to };
    }
    case "replay":
      return { bytes: b.slice(), to };
    case "reflect":
      return { bytes: b.slice(), to: m.from };
    default:
      return { bytes: mutateBytes(rng, b, op, rng.pick(corpus).bytes), to };
  }
}

/** Delivers a datagram to one daemon of the pair as if it came over the wire from the other. */
function deliver(p: Pair, corpus: readonly WireMessage[], to: "a" | "b", bytes: Uint8Array): void {
  const toward = corpus.find((m) => m.from !== to)!;
  const d = to === "a" ? p.a : p.b;
  // The daemon's own addresses: a datagram to a from b arrives at b's destination address.
  d.receiveIke(bytes, toward.dst, toward.src);
}

/**
 * Volume: `n` mutated copies of the corpus into victims (fresh pairs of the corpus's seed with
 * the IKE SA up, replaced every `perVictim` messages); each victim ends with a clean session.
 */
export async function fuzzDaemons(
  rng: Prng,
  seed: number,
  corpus: readonly WireMessage[],
  n: number,
  stats: DaemonFuzzStats,
  perVictim = 4000,
): Promise<string[]> {
  const crashes = new CrashWatch();
  const out: string[] = [];
  try {
    let sent = 0;
    while (sent < n && out.length === 0) {
      const { p } = await recordingPair(seed);
      p.filter = undefined;
      const watch = new PairWatch(p);
      stats.victims++;
      const up = await establish(p);
      if (!up.ike) {
        out.push(`victim of seed ${seed} did not come up: ${String(up.error)}`);
        break;
      }
      const quota = Math.min(perVictim, n - sent);
      for (let i = 0; i < quota; i++) {
        const op = rng.pick(IKE_OPS);
        const m = mutateIke(rng, rng.pick(corpus), corpus, op);
        stats.byOp[op] = (stats.byOp[op] ?? 0) + 1;
        stats.messages++;
        try {
          deliver(p, corpus, m.to, m.bytes);
        } catch (e) {
          out.push(
            `receiveIke threw on ${op} to ${m.to}: ${(e as Error).stack ?? String(e)}\n${Buffer.from(m.bytes).toString("hex")}`,
          );
          break;
        }
        if (i % 64 === 63) {
          await settle();
          out.push(...watch.check(), ...crashes.crashes.splice(0));
          if (out.length) {
            out.push(`(victim ${stats.victims}, message ${stats.messages}, last op ${op})`);
            break;
          }
        }
      }
      sent += quota;
      await settle();
      // Let every timer the mutants started fire (half-open timeouts, retransmits, DPD).
      await p.clock.advance(120_000);
      out.push(...watch.check(), ...crashes.crashes.splice(0));
      if (out.length === 0) out.push(...(await cleanSession(p, stats)));
      watch.close();
      p.a.close();
      p.b.close();
    }
  } finally {
    crashes.close();
  }
  return out;
}

/** After fuzzing: a new IKE SA between the same daemons must come up. */
export async function cleanSession(p: Pair, stats: DaemonFuzzStats): Promise<string[]> {
  p.filter = undefined;
  const r = await establish(p);
  if (!r.ike || r.ike.state !== "ESTABLISHED")
    return [`no clean session after fuzzing: ${r.error instanceof Error ? r.error.message : String(r.error)}`];
  stats.cleanSessions++;
  return [];
}

/**
 * Depth: `n` scripted sessions (seeds from the PRNG) with 1..3 datagrams mutated in flight, each
 * replacing its original or injected beside it. Each session must come up or fail with an
 * explained error, without crashes or internal errors; then a clean session must come up.
 */
export async function fuzzSessions(rng: Prng, n: number, stats: DaemonFuzzStats): Promise<string[]> {
  const crashes = new CrashWatch();
  const out: string[] = [];
  try {
    for (let s = 0; s < n && out.length === 0; s++) {
      const seed = rng.u32();
      const { p, wire } = await recordingPair(seed);
      const watch = new PairWatch(p);
      const targets = new Set(Array.from({ length: rng.range(1, 3) }, () => rng.int(20)));
      let index = 0;
      const inject = rng.chance(0.5);
      p.filter = (d) => {
        if (d.esp) return true;
        const i = index++;
        if (!targets.has(i)) return true;
        const op = rng.pick(IKE_OPS.filter((o) => o !== "reflect" && o !== "replay"));
        const m = mutateIke(
          rng,
          { from: d.from.address === "198.18.0.1" ? "a" : "b", src: d.from, dst: d.to, bytes: d.bytes },
          wire.length ? wire : [{ from: "a", src: d.from, dst: d.to, bytes: d.bytes }],
          op,
        );
        stats.byOp[op] = (stats.byOp[op] ?? 0) + 1;
        stats.messages++;
        const peer = d.to.address === "198.18.0.1" ? p.a : p.b;
        setImmediate(() => peer.receiveIke(m.bytes, d.to, d.from));
        return inject;
      };
      stats.sessions++;
      const r = await establish(p);
      if (r.ike) {
        stats.sessionsUp++;
        await exerciseExchanges(p, r.ike).catch((e: unknown) => {
          if (!(e instanceof IkeError)) out.push(`session ${seed}: exchanges rejected with ${String(e)}`);
        });
      } else if (!(r.error instanceof IkeError))
        out.push(`session ${seed}: failed with ${String(r.error)}, not an IkeError`);
      else stats.sessionsFailed[r.error.code] = (stats.sessionsFailed[r.error.code] ?? 0) + 1;
      await p.clock.advance(200_000);
      out.push(...watch.check(), ...crashes.crashes.splice(0));
      if (out.length === 0) out.push(...(await cleanSession(p, stats)));
      if (out.length)
        out.push(
          `(session seed ${seed}, mutated datagrams ${[...targets].join(",")}, ${inject ? "injected beside" : "replacing"} the originals)`,
        );
      watch.close();
      p.a.close();
      p.b.close();
    }
  } finally {
    crashes.close();
  }
  return out;
}
