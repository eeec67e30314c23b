// Two IKE daemons wired back to back in memory (no sockets) with a virtual clock, so the state
// machine can be driven deterministically: every datagram can be inspected, dropped or delayed.
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import { ControlCrypto } from "../../sdk/dataplane/control-crypto.ts";
import { IkeDaemon, type Clock, type IkeDaemonOptions, type IkeTransport } from "../../sdk/ike/daemon.ts";
import type { Endpoint, TimerId } from "../../sdk/ike/ike-sa.ts";
import type { IkeConnection, ChildTemplate } from "../../sdk/ike/config.ts";
import { DEFAULT_RETRANSMIT } from "../../sdk/ike/config.ts";
import { parseProposals } from "../../sdk/ike/proposals.ts";
import { parseTs } from "../../sdk/ike/ts.ts";
import { parseIdentity } from "../../sdk/ike/identity.ts";
import { formatLog, type LogRecord } from "../../sdk/ike/log.ts";

/** A virtual clock: timers fire only when the test advances time. */
export class VirtualClock implements Clock {
  t = Date.now();
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;
  now(): number {
    return this.t;
  }
  setTimer(ms: number, fn: () => void): TimerId {
    const id = this.#next++;
    this.#timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimer(t: TimerId): void {
    this.#timers.delete(t as number);
  }
  /** Advances time, firing due timers in order (bounded). */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      let first: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.#timers) if (e[1].at <= end && (!first || e[1].at < first[1].at)) first = e;
      if (!first) break;
      this.#timers.delete(first[0]);
      this.t = Math.max(this.t, first[1].at);
      first[1].fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

/** Lets queued deliveries and promise chains run. */
export async function settle(): Promise<void> {
  const turns = async (): Promise<void> => {
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  };
  await turns();
  // WebCrypto's sign/verify/importKey run on libuv's thread pool: they finish in real time, not in
  // event-loop turns, so on a busy machine 50 turns may not be enough. Wait for them (at most
  // 10,000 rounds of a 1 ms timer and 50 turns: a call that never settles cannot hang the test).
  for (let round = 0; webCryptoInFlight > 0 && round < 10_000; round++) {
    await new Promise((r) => setTimeout(r, 1));
    await turns();
  }
}

/** WebCrypto calls started and not yet settled, counted by wrapping the methods the SDK uses. */
let webCryptoInFlight = 0;
{
  const subtle = globalThis.crypto.subtle as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  for (const m of [
    "sign",
    "verify",
    "importKey",
    "exportKey",
    "digest",
    "generateKey",
    "deriveBits",
    "encrypt",
    "decrypt",
  ]) {
    const orig = subtle[m]!.bind(subtle);
    subtle[m] = (...a: unknown[]) => {
      webCryptoInFlight++;
      return orig(...a).finally(() => webCryptoInFlight--);
    };
  }
}

export interface PeerOptions {
  name?: string;
  addr: string;
  remoteAddr: string;
  id: string;
  remoteId?: string;
  proposals?: string;
  espProposals?: string;
  localTs?: string;
  remoteTs?: string;
  psk?: string;
  dpdDelay?: number;
  rekeyTime?: number;
  childRekeyTime?: number;
  mode?: "tunnel" | "transport";
  extra?: Partial<IkeConnection>;
  child?: Partial<ChildTemplate>;
}

export function connection(o: PeerOptions): IkeConnection {
  const child: ChildTemplate = {
    name: "net",
    localTs: parseTs(o.localTs ?? "dynamic"),
    remoteTs: parseTs(o.remoteTs ?? "dynamic"),
    espProposals: parseProposals(o.espProposals ?? "aes128gcm16", "ESP"),
    mode: o.mode ?? "tunnel",
    startAction: "none",
    dpdAction: "clear",
    closeAction: "none",
    rekeyTime: o.childRekeyTime ?? 0,
    lifeTime: 0,
    randTime: 0,
    rekeyBytes: 0,
    lifeBytes: 0,
    rekeyPackets: 0,
    lifePackets: 0,
    replayWindow: 64,
    ...o.child,
  };
  return {
    name: o.name ?? "peer",
    localAddrs: [o.addr],
    remoteAddrs: [o.remoteAddr],
    localPort: 500,
    remotePort: 500,
    ikeProposals: parseProposals(o.proposals ?? "aes128gcm16-prfsha256-x25519", "IKE"),
    local: { auth: "psk", id: parseIdentity(o.id) },
    remote: { auth: "psk", id: parseIdentity(o.remoteId ?? "%any") },
    psk: new TextEncoder().encode(o.psk ?? "loopback-test-psk"),
    children: [child],
    dpdDelay: o.dpdDelay ?? 0,
    dpdTimeout: 0,
    rekeyTime: o.rekeyTime ?? 0,
    overTime: 0,
    randTime: 0,
    fragmentation: "yes",
    encap: true,
    keyingTries: 1,
    retransmit: { ...DEFAULT_RETRANSMIT },
    ...o.extra,
  };
}

/** A filter on the wire: return false to drop a datagram. */
export type WireFilter = (d: { from: Endpoint; to: Endpoint; bytes: Uint8Array; esp: boolean }) => boolean;

export interface Pair {
  a: IkeDaemon;
  b: IkeDaemon;
  clock: VirtualClock;
  dpA: Dataplane;
  dpB: Dataplane;
  logs: { a: string[]; b: string[] };
  wire: { ike: number; esp: number; dropped: number };
  filter?: WireFilter;
}

/** A deterministic random source (xorshift32) so a test can replay the same nonces, SPIs and keys. */
export function seededRandom(seed: number): (n: number) => Uint8Array {
  let x = seed >>> 0 || 1;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      out[i] = x & 255;
    }
    return out;
  };
}

export async function makePair(
  optA: PeerOptions,
  optB: PeerOptions,
  opts: {
    cookieThreshold?: number;
    seed?: number;
    keyLog?: IkeDaemonOptions["keyLog"];
    /** More options for either daemon (pools, eapSecrets, resolveHost...). */
    a?: Partial<IkeDaemonOptions>;
    b?: Partial<IkeDaemonOptions>;
  } = {},
): Promise<Pair> {
  const clock = new VirtualClock();
  const cc = await ControlCrypto.create();
  const dpA = await Dataplane.create({ maxSas: 64, batchSize: 64 });
  const dpB = await Dataplane.create({ maxSas: 64, batchSize: 64 });
  const pair = {
    clock,
    dpA,
    dpB,
    logs: { a: [] as string[], b: [] as string[] },
    wire: { ike: 0, esp: 0, dropped: 0 },
  } as Pair;
  const daemons: Record<string, IkeDaemon> = {};
  const transportFor = (me: "a" | "b", addr: string): IkeTransport => ({
    natPort: 4500,
    sendIke(bytes, local, remote) {
      const copy = bytes.slice();
      const d = { from: { address: addr, port: local.port }, to: remote, bytes: copy, esp: false };
      if (pair.filter && !pair.filter(d)) {
        pair.wire.dropped++;
        return;
      }
      pair.wire.ike++;
      const peer = daemons[me === "a" ? "b" : "a"];
      setImmediate(() => peer!.receiveIke(copy, remote, d.from));
    },
    sendEsp(packets, local, remote) {
      const peerName = me === "a" ? "b" : "a";
      const kept = packets.filter(
        (p) =>
          !pair.filter ||
          pair.filter({ from: { address: addr, port: local.port }, to: remote, bytes: p, esp: true }) ||
          (pair.wire.dropped++, false),
      );
      pair.wire.esp += kept.length;
      const dp = peerName === "a" ? dpA : dpB;
      const copies = kept.map((p) => p.slice());
      setImmediate(() => daemons[peerName]!.receiveEsp(dp.decapsulateBatch(copies)));
    },
  });
  const sink = (which: "a" | "b") => (r: LogRecord) => {
    pair.logs[which].push(formatLog(r));
  };
  daemons.a = new IkeDaemon({
    dataplane: dpA,
    crypto: cc,
    connections: [connection(optA)],
    transport: transportFor("a", optA.addr),
    log: sink("a"),
    clock,
    cookieThreshold: opts.cookieThreshold,
    localAddress: optA.addr,
    random: opts.seed === undefined ? undefined : seededRandom(opts.seed),
    keyLog: opts.keyLog,
    ...opts.a,
  });
  daemons.b = new IkeDaemon({
    dataplane: dpB,
    crypto: cc,
    connections: [connection(optB)],
    transport: transportFor("b", optB.addr),
    log: sink("b"),
    clock,
    cookieThreshold: opts.cookieThreshold,
    localAddress: optB.addr,
    random: opts.seed === undefined ? undefined : seededRandom(opts.seed * 7919 + 1),
    ...opts.b,
  });
  pair.a = daemons.a;
  pair.b = daemons.b;
  return pair;
}
