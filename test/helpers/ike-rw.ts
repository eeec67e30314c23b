// Road warriors against one gateway, all IkeSa objects in memory on fake backends and a virtual
// clock: a gateway that signs with a certificate, authenticates clients by EAP-MSCHAPv2 and leases
// virtual IPs from a small in-test pool (same identity, same address), and clients that ask for
// one. Every datagram passes `filter`, so a test can read or rewrite what is on the wire.
import { readFileSync } from "node:fs";
import {
  IkeSa,
  type IkeSaHost,
  type IkeEvent,
  type ChildSa,
  type ChildBackend,
  type Endpoint,
} from "../../sdk/ike/ike-sa.ts";
import { ControlCrypto } from "../../sdk/dataplane/control-crypto.ts";
import { decodeHeader, decodeMessage } from "../../sdk/ike/codec.ts";
import { Exchange, HeaderFlag } from "../../sdk/ike/message.ts";
import { parseCertificate } from "../../sdk/ike/x509.ts";
import { importPrivateKeyPem, type PrivateKey } from "../../sdk/ike/signature-auth.ts";
import { formatIdentity, parseIdentity, type IkeIdentity } from "../../sdk/ike/identity.ts";
import type { IkeConnection, VirtualIpLease } from "../../sdk/ike/config.ts";
import { formatLog } from "../../sdk/ike/log.ts";
import { connection, VirtualClock, settle, seededRandom } from "./ike-pair.ts";

const certDir = new URL("../fixtures/certs/", import.meta.url);
const pem = (f: string): string => readFileSync(new URL(f, certDir), "utf8");
const ca = parseCertificate(pem("ca.pem"));
let gatewayKey: PrivateKey | undefined;

export const GATEWAY = "198.18.0.2";
export const POOL = "rw";

class FakeBackend implements ChildBackend {
  installed = new Set<number>();
  #spi = 0x1000;
  allocateSpi(): number {
    return this.#spi++;
  }
  installChild(child: ChildSa): void {
    this.installed.add(child.spiIn);
  }
  activateOutbound(): void {}
  removeChild(child: ChildSa): void {
    this.installed.delete(child.spiIn);
  }
}

/** The in-test pool: the same identity gets the same address again; exhausted when all are taken. */
export class TestPool {
  readonly byId = new Map<string, string>();
  readonly online = new Map<string, number>(); // address -> SAs using it
  readonly released: string[] = [];
  constructor(
    readonly addresses: string[],
    readonly dns: string[],
  ) {}
  acquire(peer: IkeIdentity, family: 4 | 6, requested?: string): VirtualIpLease | { error: string } {
    const who = `${formatIdentity(peer)}/${family}`;
    const mine = this.addresses.filter((a) => a.includes(":") === (family === 6));
    const taken = [...this.byId.values()];
    let addr = this.byId.get(who);
    if (!addr && requested && mine.includes(requested) && !taken.includes(requested)) addr = requested;
    addr ??= mine.find((a) => !taken.includes(a));
    if (!addr) return { error: `pool '${POOL}' is exhausted (${mine.length} IPv${family} addresses, all leased)` };
    this.byId.set(who, addr);
    this.online.set(addr, (this.online.get(addr) ?? 0) + 1);
    return { pool: POOL, address: addr, dns: family === 4 ? this.dns : ["fd00:1::53"] };
  }
  release(lease: VirtualIpLease, peer: IkeIdentity): void {
    this.released.push(`${lease.address} ${formatIdentity(peer)}`);
    this.online.set(lease.address, (this.online.get(lease.address) ?? 1) - 1);
  }
  /** Addresses with an SA using them. */
  inUse(): string[] {
    return [...this.online].filter(([, n]) => n > 0).map(([a]) => a);
  }
}

export interface Node {
  name: string;
  addr: string;
  conn: IkeConnection;
  sas: Map<string, IkeSa>;
  logs: string[];
  events: IkeEvent[];
  backend: FakeBackend;
  secrets: Map<string, string>;
  /** Every SA this node ever had (responders included). */
  all: IkeSa[];
  host: IkeSaHost;
}

export interface World {
  clock: VirtualClock;
  gateway: Node;
  clients: Node[];
  pool: TestPool;
  filter?: (d: { from: string; to: string; bytes: Uint8Array }) => Uint8Array | undefined;
  wire: { from: string; bytes: Uint8Array }[];
  /** Called when the gateway creates a responder IKE SA (before it answers IKE_SA_INIT). */
  onResponder?: (ike: IkeSa) => void;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

export interface GatewayOptions {
  eapId?: string;
  pools?: string[];
  poolSize?: number;
  secrets?: Record<string, string>;
  rekeyTime?: number;
  localTs?: string;
  /** Pre-shared key authentication both ways instead of certificate + EAP. */
  psk?: string;
}

export interface ClientOptions {
  id: string;
  eapId?: string;
  vips?: string[];
  secret?: string;
  /** The secret's identity when it differs from eapId ?? id. */
  secretFor?: string;
  remoteTs?: string;
  /** Pre-shared key authentication (the gateway must have `psk` too). */
  psk?: string;
}

export async function makeWorld(g: GatewayOptions, clients: ClientOptions[], seed = 1): Promise<World> {
  const clock = new VirtualClock();
  const crypto = await ControlCrypto.create();
  gatewayKey ??= await importPrivateKeyPem(pem("rsa.key"));
  const nodes = new Map<string, Node>();
  const world = { clock, clients: [], wire: [] } as unknown as World;
  world.pool = new TestPool(
    [
      ...Array.from({ length: g.poolSize ?? 8 }, (_, i) => `10.99.0.${i + 1}`),
      ...Array.from({ length: g.poolSize ?? 8 }, (_, i) => `fd00:99::${i + 1}`),
    ],
    ["10.1.0.53"],
  );
  const deliver = (from: Node, bytes: Uint8Array, local: Endpoint, remote: Endpoint): void => {
    const to = nodes.get(remote.address);
    if (!to) return;
    let b: Uint8Array | undefined = bytes.slice();
    if (world.filter) b = world.filter({ from: from.addr, to: to.addr, bytes: b });
    if (!b) return;
    world.wire.push({ from: from.addr, bytes: b });
    const copy = b;
    setImmediate(() => receive(to, copy, { address: from.addr, port: local.port }, remote.port));
  };
  const receive = (n: Node, bytes: Uint8Array, from: Endpoint, port: number): void => {
    const h = decodeHeader(bytes);
    if (!h.ok) return;
    const local = { address: n.addr, port };
    const fromInitiator = (h.value.flags & HeaderFlag.INITIATOR) !== 0;
    const key = hex(fromInitiator ? h.value.spiR : h.value.spiI);
    const sa = n.sas.get(key);
    if (sa) {
      void sa.receive(bytes, local, from);
      return;
    }
    const isResponse = (h.value.flags & HeaderFlag.RESPONSE) !== 0;
    if (h.value.exchange === Exchange.IKE_SA_INIT && !isResponse && h.value.spiR.every((x) => x === 0)) {
      const msg = decodeMessage(bytes);
      if (!msg.ok) return;
      const ike = new IkeSa(n.host, n.conn, local, from, false, msg.value.header.spiI.slice());
      n.all.push(ike);
      world.onResponder?.(ike);
      if (ike.respondInit(bytes, msg.value)) n.sas.set(hex(ike.localSpi), ike);
    }
  };
  const host = (n: Node): IkeSaHost => ({
    crypto,
    now: () => clock.now(),
    setTimer: (ms, fn) => clock.setTimer(ms, fn),
    clearTimer: (t) => clock.clearTimer(t),
    random: seededRandom(seed * 101 + [...n.addr].reduce((a, c) => a * 31 + c.charCodeAt(0), 7)),
    log: (r) => n.logs.push(formatLog(r)),
    backend: n.backend,
    natPort: () => 4500,
    lastHeard: () => clock.now(),
    register: (ike) => {
      n.sas.set(hex(ike.localSpi), ike);
      if (!n.all.includes(ike)) n.all.push(ike);
    },
    event: (e) => {
      n.events.push(e);
      if (e.type === "deleted" || e.type === "failed") {
        const k = hex(e.ike.localSpi);
        if (n.sas.get(k) === e.ike) n.sas.delete(k);
      }
    },
    send: (bytes, l, remote) => deliver(n, bytes, l, remote),
    findEapSecret: (id) => {
      const s = n.secrets.get(formatIdentity(id));
      return s === undefined ? undefined : new TextEncoder().encode(s);
    },
    acquireVirtualIp: (pools, peer, family, requested) =>
      pools.includes(POOL)
        ? world.pool.acquire(peer, family, requested)
        : { error: `no pool named ${pools.join(", ")}` },
    releaseVirtualIp: (lease, peer) => world.pool.release(lease, peer),
  });
  const node = (name: string, addr: string, conn: IkeConnection, secrets: Map<string, string>): Node => {
    const n = {
      name,
      addr,
      conn,
      sas: new Map(),
      logs: [],
      events: [],
      backend: new FakeBackend(),
      secrets,
      all: [],
    } as unknown as Node;
    n.host = host(n);
    nodes.set(addr, n);
    return n;
  };
  const gwConn: IkeConnection = {
    ...connection({
      name: "rw",
      addr: GATEWAY,
      remoteAddr: "%any",
      id: "swan.example.org",
      localTs: g.localTs ?? "10.1.0.0/16",
      remoteTs: "dynamic",
      rekeyTime: g.rekeyTime,
    }),
    local: {
      auth: "pubkey",
      id: parseIdentity("swan.example.org"),
      certs: [parseCertificate(pem("rsa.pem"))],
      key: gatewayKey,
    },
    remote: {
      auth: "eap-mschapv2",
      id: "any",
      ...(g.eapId === undefined ? {} : { eapId: parseIdentity(g.eapId) }),
    },
    psk: undefined,
    pools: g.pools ?? [POOL],
  };
  if (g.psk !== undefined) {
    gwConn.local = { auth: "psk", id: parseIdentity("swan.example.org") };
    gwConn.remote = { auth: "psk", id: "any" };
    gwConn.psk = new TextEncoder().encode(g.psk);
  }
  world.gateway = node("gateway", GATEWAY, gwConn, new Map(Object.entries(g.secrets ?? {})));
  clients.forEach((c, i) => {
    const addr = `198.18.0.${10 + i}`;
    const conn: IkeConnection = {
      ...connection({
        name: "home",
        addr,
        remoteAddr: GATEWAY,
        id: c.id,
        localTs: "dynamic",
        remoteTs: c.remoteTs ?? "10.1.0.0/16",
      }),
      local: {
        auth: "eap-mschapv2",
        id: parseIdentity(c.id),
        ...(c.eapId === undefined ? {} : { eapId: parseIdentity(c.eapId) }),
      },
      remote: { auth: "pubkey", id: parseIdentity("swan.example.org"), cacerts: [ca] },
      psk: undefined,
      vips: c.vips ?? ["0.0.0.0"],
    };
    if (c.psk !== undefined) {
      conn.local = { auth: "psk", id: parseIdentity(c.id) };
      conn.remote = { auth: "psk", id: parseIdentity("swan.example.org") };
      conn.psk = new TextEncoder().encode(c.psk);
    }
    const secrets = new Map<string, string>();
    if (c.secret !== undefined) secrets.set(c.secretFor ?? c.eapId ?? c.id, c.secret);
    world.clients.push(node(`client${i}`, addr, conn, secrets));
  });
  return world;
}

/** Starts client `i`'s IKE SA with its first child; returns it. */
export function connect(w: World, i: number): IkeSa {
  const n = w.clients[i]!;
  const ike = new IkeSa(n.host, n.conn, { address: n.addr, port: 500 }, { address: GATEWAY, port: 500 }, true);
  n.sas.set(hex(ike.localSpi), ike);
  n.all.push(ike);
  ike.initiate(n.conn.children[0]);
  return ike;
}

export { settle };

/** Lets deliveries and async crypto (certificate signatures) run until `done()` or a bound. */
export async function until(done: () => boolean, rounds = 200): Promise<void> {
  for (let i = 0; i < rounds && !done(); i++) {
    await settle();
    await new Promise((r) => setTimeout(r, 1));
  }
  await settle();
}

/** Until the client's IKE SA leaves CONNECTING. */
export async function settled(ike: IkeSa): Promise<void> {
  await until(() => ike.state !== "CONNECTING" && ike.state !== "CREATED");
}

/** A seeded mutation of an EAP packet (bit flip, truncation, extension, overwrites); half the time with a consistent EAP length. */
export function mutateEap(rnd: (n: number) => Uint8Array, b: Uint8Array): Uint8Array {
  const r = rnd(4);
  const kind = (r[0] ?? 0) % 5;
  let out = b.slice();
  if (kind === 0) {
    const i = (r[1] ?? 0) % out.length;
    out[i] = (out[i] ?? 0) ^ (1 << ((r[2] ?? 0) % 8));
  } else if (kind === 1) out = out.slice(0, (r[1] ?? 0) % out.length);
  else if (kind === 2) out = Uint8Array.from([...out, ...rnd(1 + ((r[1] ?? 0) % 40))]);
  else if (kind === 3) {
    const i = (r[1] ?? 0) % out.length;
    out[i] = r[2] ?? 0;
  } else {
    for (let k = 0; k < 1 + ((r[1] ?? 0) % 6); k++) {
      const i = (rnd(1)[0] ?? 0) % out.length;
      out[i] = rnd(1)[0] ?? 0;
    }
  }
  // half the time keep the EAP length consistent, so the mutation reaches the method
  if ((r[3] ?? 0) & 1 && out.length >= 4) {
    out[2] = out.length >> 8;
    out[3] = out.length & 0xff;
  }
  return out;
}
