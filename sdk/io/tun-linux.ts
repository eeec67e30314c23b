/**
 * A Linux TUN device for the tunnel: opened through libc (`/dev/net/tun`, `TUNSETIFF` with
 * `IFF_TUN | IFF_NO_PI`: one bare IP packet per read and write), configured with iproute2 (`ip`):
 * MTU, link up (retried: a race once left a fresh TUN down and reads never returned), the inner
 * address, routes for the remote traffic selectors. The device is not persistent: when the fd
 * closes (also when the process dies) the kernel removes it and every route through it;
 * {@link TunDevice.close} also removes what it added elsewhere (a host route to the peer).
 * @module
 */
import { execFileSync } from "node:child_process";
import { IoError } from "./errors.ts";
import { IFF_NO_PI, IFF_TUN, IFREQ, O_CLOEXEC, O_NONBLOCK, O_RDWR, TUNSETIFF, type Libc } from "./libc.ts";
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

/** A TUN device owned by this process. */
export class TunDevice {
  readonly name: string;
  readonly fd: number;
  readonly #libc: Libc;
  readonly #routes = new Set<string>();
  /** Routes added outside the TUN (a host route to the peer), removed on close. */
  readonly #foreignRoutes: string[][] = [];
  #addresses: string[] = [];
  #closed = false;

  private constructor(libc: Libc, name: string, fd: number) {
    this.#libc = libc;
    this.name = name;
    this.fd = fd;
  }

  /** Creates the device (non-blocking fd, close-on-exec). Needs CAP_NET_ADMIN. */
  static open(libc: Libc, name: string): TunDevice {
    checkTunName(name);
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
      ifr.view.setUint16(16, IFF_TUN | IFF_NO_PI, true);
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
    return new TunDevice(libc, name, fd);
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
