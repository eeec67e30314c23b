/**
 * Virtual IP pools (swanctl `pools { name { addrs, dns } }`), with strongSwan's in-memory pool
 * semantics (libcharon/attributes/mem_pool.c): a CIDR pool skips its network and broadcast
 * addresses (10.99.0.0/24 hands out .1 to .254), a range `a-b` hands out every address in it,
 * a single address is a pool of one. Leases belong to identities: a released lease goes offline
 * and stays the identity's, so it gets the same address back when it reconnects; only when no
 * address was never leased does an offline lease of another identity get reassigned.
 * @module
 */
import { formatIp, parseIp } from "../net/ip.ts";
import { ConfigError } from "./config-error.ts";
import { formatIdentity, type IkeIdentity } from "./identity.ts";
import type { VirtualIpLease } from "./config.ts";

/** A pool as configured (swanctl `pools.<name>`). */
export interface VipPoolConfig {
  name: string;
  /** A CIDR subnet (`10.99.0.0/24`), a range (`10.99.0.10-10.99.0.20`) or one address. */
  addrs: string;
  /** DNS servers handed out with the addresses (INTERNAL_IP4_DNS / INTERNAL_IP6_DNS). */
  dns?: string[];
}

/** One lease as `swanctl --list-pools --leases` shows it. */
export interface VipLeaseStatus {
  address: string;
  identity: string;
  online: boolean;
}

/** A pool's counters, like `swanctl --list-pools`. */
export interface VipPoolStatus {
  name: string;
  /** The base address as configured (a subnet's network address, a range's first), as swanctl shows it. */
  base: string;
  size: number;
  online: number;
  offline: number;
  dns: string[];
  leases: VipLeaseStatus[];
}

/** strongSwan limits a pool to 2^31 addresses (POOL_LIMIT). */
const POOL_LIMIT_BITS = 31;

const toBig = (b: Uint8Array): bigint => b.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n);
function fromBig(v: bigint, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = bytes - 1; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

/** The key leases are kept under: type and bytes, so "alice" as FQDN and as KEY_ID stay apart. */
function idKey(id: IkeIdentity): string {
  return `${id.idType}:${Array.from(id.data, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

interface Holder {
  display: string;
  /** Offsets this identity has online; one entry per IKE SA using it (a second device may share). */
  online: number[];
  /** Offsets released by this identity, oldest first: its own again on reconnect. */
  offline: number[];
}

/** One pool of addresses. */
export class VipPool {
  readonly name: string;
  readonly family: 4 | 6;
  readonly dns: readonly string[];
  /** Number of addresses handed out at most. */
  readonly size: number;
  readonly #start: bigint;
  readonly #base: bigint;
  readonly #bytes: number;
  readonly #holders = new Map<string, Holder>();
  /** Owner (identity key) of every offset leased so far, online or offline. */
  readonly #owner = new Map<number, string>();
  /** Offline offsets in release order: the oldest is reassigned first when the pool is full. */
  #offlineOrder: number[] = [];
  #unused = 0;

  /** Parses `addrs`; a bad value is a {@link ConfigError} naming the pool. */
  constructor(cfg: VipPoolConfig) {
    this.name = cfg.name;
    const where = `pool '${cfg.name}': addrs = ${cfg.addrs}`;
    const text = cfg.addrs.trim();
    const range = /^([^-/\s]+)\s*-\s*([^-/\s]+)$/.exec(text);
    let start: bigint, size: number, bytes: number;
    if (range) {
      const from = parseIp(range[1] ?? ""),
        to = parseIp(range[2] ?? "");
      if (!from || !to || from.length !== to.length)
        throw new ConfigError("BAD_VALUE", `${where} is not a range of two addresses of one family`);
      const a = toBig(from),
        b = toBig(to);
      // mem_pool_create_range(): only the last 32 bits may differ.
      if (b < a) throw new ConfigError("BAD_VALUE", `${where}: the range ends before it starts`);
      if (b - a >= 1n << BigInt(POOL_LIMIT_BITS))
        throw new ConfigError("BAD_VALUE", `${where}: the range is larger than 2^31 addresses`);
      start = a;
      this.#base = a;
      size = Number(b - a) + 1;
      bytes = from.length;
    } else {
      const m = /^([^/\s]+)(?:\/(\d{1,3}))?$/.exec(text);
      const base = m ? parseIp(m[1] ?? "") : undefined;
      if (!m || !base)
        throw new ConfigError(
          "BAD_VALUE",
          `${where} is not a subnet (10.99.0.0/24), a range (10.99.0.10-10.99.0.20) or an address`,
        );
      bytes = base.length;
      const addrBits = bytes * 8;
      const prefix = m[2] === undefined ? addrBits : Number(m[2]);
      if (prefix > addrBits)
        throw new ConfigError("BAD_VALUE", `${where}: /${prefix} is longer than an IPv${bytes === 4 ? 4 : 6} address`);
      const hostBits = Math.min(addrBits - prefix, POOL_LIMIT_BITS);
      const b = toBig(base);
      const diff = Number(b & ((1n << BigInt(hostBits)) - 1n));
      size = 2 ** hostBits;
      start = b;
      this.#base = b;
      if (size > 2) {
        // mem_pool_create(): the network address and the broadcast address are never handed out;
        // a base inside the subnet starts there.
        if (diff === 0) {
          start = b + 1n;
          size -= 2;
        } else size -= diff + 1;
      } else if (diff) size--;
    }
    this.family = bytes === 4 ? 4 : 6;
    this.#bytes = bytes;
    this.#start = start;
    this.size = size;
    this.dns = (cfg.dns ?? []).map((d) => {
      const ip = parseIp(d.trim());
      if (!ip) throw new ConfigError("BAD_VALUE", `pool '${cfg.name}': dns = ${d} is not an IP address`);
      return formatIp(ip);
    });
  }

  /** The address at `offset` (0 = the first handed out). */
  address(offset: number): string {
    return formatIp(fromBig(this.#start + BigInt(offset), this.#bytes));
  }

  /** The offset of `address`, or undefined outside the pool. */
  offsetOf(address: string): number | undefined {
    const ip = parseIp(address);
    if (!ip || ip.length !== this.#bytes) return undefined;
    const d = toBig(ip) - this.#start;
    return d >= 0n && d < BigInt(this.size) ? Number(d) : undefined;
  }

  /** Addresses leased (online or kept offline for their identity). */
  get leased(): number {
    return this.#owner.size;
  }

  #holder(id: IkeIdentity): Holder {
    const key = idKey(id);
    let h = this.#holders.get(key);
    if (!h) {
      h = { display: formatIdentity(id), online: [], offline: [] };
      this.#holders.set(key, h);
    }
    return h;
  }

  #goOnline(h: Holder, offset: number): void {
    const i = h.offline.indexOf(offset);
    if (i >= 0) {
      h.offline.splice(i, 1);
      this.#offlineOrder = this.#offlineOrder.filter((o) => o !== offset);
    }
    h.online.push(offset);
  }

  /**
   * The identity's own lease (mem_pool's MEM_POOL_EXISTING): the requested address if it holds
   * it, else its oldest offline lease. Undefined if it has none to give.
   */
  existing(id: IkeIdentity, requested?: string): string | undefined {
    const h = this.#holders.get(idKey(id));
    if (!h) return undefined;
    const want = requested === undefined ? undefined : this.offsetOf(requested);
    if (want !== undefined && this.#owner.get(want) === idKey(id)) {
      this.#goOnline(h, want);
      return this.address(want);
    }
    const off = h.offline[0];
    if (off === undefined) return undefined;
    this.#goOnline(h, off);
    return this.address(off);
  }

  /** The requested address, when it is in the pool and nobody holds it. */
  requested(id: IkeIdentity, requested: string): string | undefined {
    const want = this.offsetOf(requested);
    if (want === undefined || this.#owner.has(want)) return undefined;
    this.#owner.set(want, idKey(id));
    this.#goOnline(this.#holder(id), want);
    return this.address(want);
  }

  /** An address never leased before (MEM_POOL_NEW), lowest first. */
  fresh(id: IkeIdentity): string | undefined {
    while (this.#unused < this.size && this.#owner.has(this.#unused)) this.#unused++;
    if (this.#unused >= this.size) return undefined;
    const off = this.#unused++;
    this.#owner.set(off, idKey(id));
    this.#goOnline(this.#holder(id), off);
    return this.address(off);
  }

  /** The oldest offline lease of another identity, taken over (MEM_POOL_REASSIGN). */
  reassign(id: IkeIdentity): string | undefined {
    const off = this.#offlineOrder.shift();
    if (off === undefined) return undefined;
    const prev = this.#holders.get(this.#owner.get(off) ?? "");
    if (prev) prev.offline = prev.offline.filter((o) => o !== off);
    this.#owner.set(off, idKey(id));
    this.#goOnline(this.#holder(id), off);
    return this.address(off);
  }

  /** Releases one online use of `address` by `id`; the last one takes the lease offline. False if it was not leased to `id`. */
  release(address: string, id: IkeIdentity): boolean {
    const off = this.offsetOf(address);
    const h = this.#holders.get(idKey(id));
    if (off === undefined || !h) return false;
    const i = h.online.indexOf(off);
    if (i < 0) return false;
    h.online.splice(i, 1);
    if (!h.online.includes(off)) {
      h.offline.push(off);
      this.#offlineOrder.push(off);
    }
    return true;
  }

  /** Counters and leases. */
  status(): VipPoolStatus {
    const leases: VipLeaseStatus[] = [];
    let online = 0,
      offline = 0;
    for (const h of this.#holders.values()) {
      for (const o of new Set(h.online)) {
        online++;
        leases.push({ address: this.address(o), identity: h.display, online: true });
      }
      for (const o of h.offline) {
        offline++;
        leases.push({ address: this.address(o), identity: h.display, online: false });
      }
    }
    return {
      name: this.name,
      base: formatIp(fromBig(this.#base, this.#bytes)),
      size: this.size,
      online,
      offline,
      dns: [...this.dns],
      leases,
    };
  }
}

/** The daemon's pools, by name: leases across the pools a connection names, in their order. */
export class VipPools {
  readonly #pools = new Map<string, VipPool>();

  /** Builds the pools; a bad `addrs`/`dns` or a duplicate name is a {@link ConfigError}. */
  constructor(configs: readonly VipPoolConfig[] = []) {
    for (const c of configs) {
      if (this.#pools.has(c.name)) throw new ConfigError("BAD_VALUE", `pool '${c.name}' is defined twice`);
      this.#pools.set(c.name, new VipPool(c));
    }
  }

  /** The pool called `name`. */
  get(name: string): VipPool | undefined {
    return this.#pools.get(name);
  }

  /** Names of every pool. */
  get names(): string[] {
    return [...this.#pools.keys()];
  }

  /**
   * Leases an address of `family` for `peer`, trying the pools in order and each way across all
   * of them before the next (as charon's attribute provider does): the identity's own lease
   * (`requested`, or an offline one), the requested address if free, a never-leased address, then
   * the oldest offline lease of someone else. `{ error }` says why there is none.
   */
  acquire(
    names: readonly string[],
    peer: IkeIdentity,
    family: 4 | 6,
    requested?: string,
  ): VirtualIpLease | { error: string } {
    const unknown = names.filter((n) => !this.#pools.has(n));
    if (unknown.length) return { error: `unknown pool${unknown.length > 1 ? "s" : ""} '${unknown.join("', '")}'` };
    const pools = names.map((n) => this.#pools.get(n)!).filter((p) => p.family === family);
    if (pools.length === 0)
      return { error: `no IPv${family} pool among ${names.map((n) => `'${n}'`).join(", ") || "the configured ones"}` };
    const want = requested !== undefined && requested !== "0.0.0.0" && requested !== "::" ? requested : undefined;
    const ways: ((p: VipPool) => string | undefined)[] = [
      (p) => p.existing(peer, want),
      (p) => (want !== undefined ? p.requested(peer, want) : undefined),
      (p) => p.fresh(peer),
      (p) => p.reassign(peer),
    ];
    for (const way of ways)
      for (const p of pools) {
        const address = way(p);
        if (address !== undefined) return { pool: p.name, address, dns: [...p.dns] };
      }
    return {
      error: pools.map((p) => `pool '${p.name}' is exhausted (${p.leased} addresses leased)`).join("; "),
    };
  }

  /** Gives a lease back: it goes offline, kept for the same identity. False if it was not leased to `peer`. */
  release(lease: VirtualIpLease, peer: IkeIdentity): boolean {
    return this.#pools.get(lease.pool)?.release(lease.address, peer) ?? false;
  }

  /** Every pool's counters and leases. */
  status(): VipPoolStatus[] {
    return [...this.#pools.values()].map((p) => p.status());
  }
}
