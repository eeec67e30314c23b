/**
 * A Linux TUN device for the tunnel: opened through libc (`/dev/net/tun`, `TUNSETIFF` with
 * `IFF_TUN | IFF_NO_PI`: one bare IP packet per read and write; with offloads also
 * `IFF_VNET_HDR` and `TUNSETOFFLOAD`: a `virtio_net_hdr` before each packet, which may be a TCP or
 * UDP super-packet, see tun-offload.ts), configured with iproute2 (`ip`):
 * MTU, link up (retried: a race once left a fresh TUN down and reads never returned), the inner
 * address, routes for the remote traffic selectors. The device is not persistent: when the fd
 * closes (also when the process dies) the kernel removes it and every route through it;
 * {@link TunDevice.close} also removes what it added elsewhere (a host route to the peer).
 * @module
 */
import { execFileSync } from "node:child_process";
import { IoError } from "./errors.ts";
import {
  IFF_NO_PI,
  IFF_TUN,
  IFF_VNET_HDR,
  IFREQ,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  TUN_F_CSUM,
  TUN_F_TSO4,
  TUN_F_TSO6,
  TUN_F_USO4,
  TUN_F_USO6,
  TUNSETIFF,
  TUNSETOFFLOAD,
  TUNSETVNETHDRSZ,
  type Libc,
} from "./libc.ts";
import { VNET_HDR_LEN } from "./tun-offload.ts";
import { formatIp, parseIp } from "../net/ip.ts";

/** Interface names the kernel accepts (IFNAMSIZ 16 with the NUL) and that are safe in argv. */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;

/** Checks a TUN name; throws an `ARGUMENT` IoError naming the rule. */
export function checkTunName(name: string): string {
  if (!NAME.test(name) || name === "." || name === "..") {
    throw new IoError(
      "ARGUMENT",
      `--tun '${name}' is not a usable interface name: 1 to 15 characters of letters, digits, '_', '.', '-'`,
    );
  }
  return name;
}

const PATH = `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/sbin:/sbin`;

/** Runs `ip ARGS` (bounded); returns stdout, throws a `TUN` IoError with ip's message. */
export function ip(args: string[], timeoutMs = 5000): string {
  try {
    return execFileSync("ip", args, {
      encoding: "utf8",
      timeout: timeoutMs,
      env: { ...process.env, PATH },
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (e) {
    const err = e as { code?: string; stderr?: string; message: string };
    if (err.code === "ENOENT")
      throw new IoError(
        "TUN",
        "the `ip` command (Debian package iproute2) is not installed: it configures the TUN device",
      );
    throw new IoError("TUN", `ip ${args.join(" ")} failed: ${(err.stderr ?? err.message).trim()}`);
  }
}

/** A range of addresses (inclusive) as the fewest CIDR prefixes that cover exactly it. */
export function rangeToPrefixes(start: Uint8Array, end: Uint8Array): string[] {
  const bits = start.length * 8;
  const toBig = (b: Uint8Array): bigint => b.reduce((a, x) => (a << 8n) | BigInt(x), 0n);
  const fromBig = (v: bigint): Uint8Array => {
    const out = new Uint8Array(start.length);
    for (let i = out.length - 1; i >= 0; i--) {
      out[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    return out;
  };
  let lo = toBig(start);
  const hi = toBig(end);
  const out: string[] = [];
  while (lo <= hi && out.length < 256) {
    let size = 0;
    // Largest aligned block starting at lo that does not pass hi.
    while (size < bits && (lo & ((1n << BigInt(size + 1)) - 1n)) === 0n && lo + (1n << BigInt(size + 1)) - 1n <= hi)
      size++;
    out.push(`${formatIp(fromBig(lo))}/${bits - size}`);
    lo += 1n << BigInt(size);
  }
  return out;
}

/**
 * What the TUN does beyond one bare packet per read/write: `vnetHdr` (every read and write starts
 * with a virtio_net_hdr), `tso` (the kernel hands over TCP super-packets, TUN_F_TSO4|6 with
 * TUN_F_CSUM), `uso` (UDP too, TUN_F_USO4|6, Linux 6.2; then GSO_UDP_L4 writes are understood).
 */
export interface TunOffload {
  vnetHdr: boolean;
  tso: boolean;
  uso: boolean;
}

const NO_OFFLOAD: TunOffload = { vnetHdr: false, tso: false, uso: false };

/** A TUN device owned by this process. */
export class TunDevice {
  readonly name: string;
  readonly fd: number;
  /** The offloads the kernel accepted (all false without `offload` or when it refused them). */
  readonly offload: TunOffload;
  readonly #libc: Libc;
  readonly #routes = new Set<string>();
  /** Routes added outside the TUN (a host route to the peer), removed on close. */
  readonly #foreignRoutes: string[][] = [];
  #addresses: string[] = [];
  #closed = false;

  private constructor(libc: Libc, name: string, fd: number, offload: TunOffload) {
    this.#libc = libc;
    this.name = name;
    this.fd = fd;
    this.offload = offload;
  }

  /**
   * Creates the device (non-blocking fd, close-on-exec). Needs CAP_NET_ADMIN. `offload`: ask for
   * IFF_VNET_HDR and TSO (and USO where the kernel has it); when the kernel refuses the header or
   * every offload, the device is created again without them (today's bare packets).
   */
  static open(libc: Libc, name: string, offload = false): TunDevice {
    checkTunName(name);
    if (offload) {
      let fd = -1;
      try {
        fd = TunDevice.#create(libc, name, IFF_VNET_HDR);
      } catch {
        /* a kernel without IFF_VNET_HDR on TUN: today's device below */
      }
      const got = fd >= 0 ? TunDevice.#offloads(libc, fd) : undefined;
      if (got) return new TunDevice(libc, name, fd, got);
      if (fd >= 0) libc.close(fd);
    }
    return new TunDevice(libc, name, TunDevice.#create(libc, name, 0), NO_OFFLOAD);
  }

  /** TUNSETVNETHDRSZ 10 and TUNSETOFFLOAD (TCP, then TCP+UDP); undefined when neither is taken. */
  static #offloads(libc: Libc, fd: number): TunOffload | undefined {
    const sz = libc.alloc(8);
    try {
      sz.view.setInt32(0, VNET_HDR_LEN, true);
      if (libc.ioctl(fd, TUNSETVNETHDRSZ, sz.address) < 0) return undefined;
    } finally {
      sz.free();
    }
    // TUNSETOFFLOAD takes its flags by value
    const tcp = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    // IPSEC_WASM_TUN_USO=off: TCP offloads only (UDP packets are read and written one by one)
    if (process.env.IPSEC_WASM_TUN_USO !== "off" && libc.ioctl(fd, TUNSETOFFLOAD, tcp | TUN_F_USO4 | TUN_F_USO6) === 0)
      return { vnetHdr: true, tso: true, uso: true };
    if (libc.ioctl(fd, TUNSETOFFLOAD, tcp) === 0) return { vnetHdr: true, tso: true, uso: false };
    return undefined;
  }

  static #create(libc: Libc, name: string, extraFlags: number): number {
    const fd = libc.open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      const e = libc.errno();
      throw new IoError(
        "TUN",
        `cannot open /dev/net/tun: ${libc.strerror(e)}${e === 1 || e === 13 ? " (creating a TUN device needs root or CAP_NET_ADMIN)" : ""}`,
      );
    }
    const ifr = libc.alloc(IFREQ);
    try {
      for (let i = 0; i < name.length; i++) ifr.bytes[i] = name.charCodeAt(i);
      ifr.view.setUint16(16, IFF_TUN | IFF_NO_PI | extraFlags, true);
      if (libc.ioctl(fd, TUNSETIFF, ifr.address) < 0) {
        const e = libc.errno();
        libc.close(fd);
        throw new IoError(
          "TUN",
          `TUNSETIFF ${name} failed: ${libc.strerror(e)}${e === 16 ? ` (an interface named ${name} already exists)` : e === 1 ? " (needs root or CAP_NET_ADMIN)" : ""}`,
        );
      }
    } finally {
      ifr.free();
    }
    return fd;
  }

  /** Sets the MTU and brings the link up, checking that it is up (retried a few times). */
  up(mtu: number): void {
    ip(["link", "set", "dev", this.name, "mtu", String(mtu)]);
    for (let i = 0; i < 20; i++) {
      ip(["link", "set", "dev", this.name, "up"]);
      const state = ip(["-o", "link", "show", "dev", this.name]);
      if (/[<,]UP[,>]/.test(state)) return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
    }
    throw new IoError("TUN", `${this.name} stays down after 20 'ip link set up' attempts`);
  }

  /** Sets only the MTU (the link stays as it is). */
  setMtu(mtu: number): void {
    ip(["link", "set", "dev", this.name, "mtu", String(mtu)]);
  }

  /** Assigns the inner addresses (CIDR text, e.g. `10.1.0.1/32`), replacing earlier ones. */
  setAddresses(cidrs: string[]): void {
    for (const a of this.#addresses) if (!cidrs.includes(a)) ip(["addr", "del", a, "dev", this.name]);
    for (const a of cidrs)
      if (!this.#addresses.includes(a)) ip(["addr", "add", a, "dev", this.name, ...(a.includes(":") ? ["nodad"] : [])]);
    this.#addresses = [...cidrs];
  }

  /** Inner addresses assigned by {@link setAddresses}. */
  get addresses(): readonly string[] {
    return this.#addresses;
  }

  /**
   * Makes the routes through the TUN exactly `prefixes` (CIDR). A prefix that contains `peer` (the
   * outer address of the IKE peer) would capture the ESP packets themselves: first a host route
   * to the peer through today's path is added (and removed on close).
   */
  syncRoutes(prefixes: string[], peer?: string, log?: (line: string) => void): void {
    const want = new Set(prefixes);
    for (const r of this.#routes) {
      if (want.has(r)) continue;
      try {
        ip(["route", "del", r, "dev", this.name]);
      } catch {
        /* gone with an address change */
      }
      this.#routes.delete(r);
    }
    for (const r of want) {
      if (this.#routes.has(r)) continue;
      if (peer && prefixContains(r, peer)) this.#pinPeer(peer);
      const src = this.#addresses.find((a) => a.includes(":") === r.includes(":"));
      try {
        ip(["route", "add", r, "dev", this.name, ...(src ? ["src", src.replace(/\/.*/, "")] : [])]);
        this.#routes.add(r);
      } catch (e) {
        // An existing route for the same prefix is someone else's: never replace or remove it.
        if (!/File exists/.test((e as Error).message)) throw e;
        log?.(`${this.name}: route ${r} not added: the host already has a route for it (\`ip route show ${r}\`)`);
      }
    }
  }

  /** Routes currently installed through the TUN. */
  get routes(): string[] {
    return [...this.#routes];
  }

  #pinPeer(peer: string): void {
    const host = `${peer}/${peer.includes(":") ? 128 : 32}`;
    if (this.#foreignRoutes.some((r) => r[2] === host)) return;
    const got = ip(["-o", "route", "get", peer]);
    const dev = / dev (\S+)/.exec(got)?.[1];
    const via = / via (\S+)/.exec(got)?.[1];
    if (!dev || dev === this.name) return;
    const args = ["route", "add", host, ...(via ? ["via", via] : []), "dev", dev];
    try {
      ip(args);
    } catch {
      return; /* the host already has one: it is not ours to remove */
    }
    this.#foreignRoutes.push(args);
  }

  /**
   * Removes the routes, the host route to the peer and closes the fd (the kernel then deletes
   * the device). Synchronous, so it also runs from a process `exit` handler. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const r of this.#routes) {
      try {
        ip(["route", "del", r, "dev", this.name]);
      } catch {
        /* removed with the device */
      }
    }
    this.#routes.clear();
    for (const args of this.#foreignRoutes) {
      try {
        ip(["route", "del", ...args.slice(2)]);
      } catch {
        /* already gone */
      }
    }
    this.#foreignRoutes.length = 0;
    this.#libc.close(this.fd);
  }
}

/** Whether CIDR `prefix` contains `addr` (same family). */
function prefixContains(prefix: string, addr: string): boolean {
  const [net = "", lenText] = prefix.split("/");
  const a = addrBits(addr),
    n = addrBits(net);
  if (a === undefined || n === undefined || a.bits !== n.bits) return false;
  const shift = BigInt(a.bits - Number(lenText));
  return a.value >> shift === n.value >> shift;
}

function addrBits(text: string): { value: bigint; bits: number } | undefined {
  const b = parseIp(text);
  return b ? { value: b.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n), bits: b.length * 8 } : undefined;
}
