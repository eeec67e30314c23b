/**
 * libc through koffi (an optional peer dependency, imported only when TUN or recvmmsg/sendmmsg I/O is
 * asked for): the handful of system calls a userspace tunnel needs, and native memory whose
 * addresses stay put, so the batch structures (mmsghdr, iovec, sockaddr, pollfd) are built once
 * and the hot path only writes lengths and addresses into them.
 *
 * Layouts are Linux LP64 (x86-64, aarch64): `struct mmsghdr` 64 bytes (msg_name +0, msg_namelen
 * +8, msg_iov +16, msg_iovlen +24, msg_flags +48, msg_len +56), `struct iovec` 16, `struct pollfd`
 * 8, `struct ifreq` 40 (name at 0, flags u16 at 16). Hot-path functions take addresses as plain
 * numbers (`uintptr_t`): no conversion of JavaScript objects per call.
 * @module
 */
import { IoError } from "./errors.ts";
import { formatIp } from "../net/ip.ts";
import { byteAt } from "../packet/bytes.ts";

/** The koffi module's surface we use (typed loosely: it is an optional peer dependency). */
interface Koffi {
  load(path: string): { func(decl: string): (...args: unknown[]) => unknown };
  alloc(type: string, n: number): unknown;
  free(ptr: unknown): void;
  view(ptr: unknown, len: number): ArrayBuffer;
  address(ptr: unknown): bigint;
  errno(): number;
}

// Linux constants (asm-generic; identical on x86-64 and aarch64).
export const O_RDWR = 2,
  O_NONBLOCK = 0o4000,
  O_CLOEXEC = 0o2000000;
export const AF_INET = 2,
  AF_INET6 = 10,
  SOCK_DGRAM = 2,
  SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1,
  SO_REUSEADDR = 2,
  SO_REUSEPORT = 15,
  SO_ATTACH_REUSEPORT_CBPF = 51,
  SO_SNDBUF = 7,
  SO_RCVBUF = 8,
  SO_SNDBUFFORCE = 32,
  SO_RCVBUFFORCE = 33;
export const IPPROTO_IP = 0,
  IPPROTO_IPV6 = 41,
  IP_MTU_DISCOVER = 10,
  IPV6_MTU_DISCOVER = 23,
  IP_PMTUDISC_DONT = 0;
export const MSG_DONTWAIT = 0x40;
export const POLLIN = 1;
export const EAGAIN = 11,
  EINTR = 4;
export const TUNSETIFF = 0x400454ca,
  IFF_TUN = 0x0001,
  IFF_NO_PI = 0x1000,
  IFF_VNET_HDR = 0x4000;
/** _IOW('T', 208, unsigned int) and _IOW('T', 216, int); TUN_F_* of include/uapi/linux/if_tun.h. */
export const TUNSETOFFLOAD = 0x400454d0,
  TUNSETVNETHDRSZ = 0x400454d8,
  TUN_F_CSUM = 0x01,
  TUN_F_TSO4 = 0x02,
  TUN_F_TSO6 = 0x04,
  TUN_F_USO4 = 0x20,
  TUN_F_USO6 = 0x40;
export const EFD_CLOEXEC = 0o2000000,
  EFD_NONBLOCK = 0o4000;
/** sizeof(struct mmsghdr), (struct iovec), (struct pollfd), (struct ifreq); room for a sockaddr_in6. */
export const MMSGHDR = 64,
  IOVEC = 16,
  POLLFD = 8,
  IFREQ = 40,
  SOCKADDR = 32;

/** A block of native memory: its address (stable until freed) and a view of it. */
export interface NativeBlock {
  readonly address: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  free(): void;
}

/** The libc functions, bound once per thread. */
export interface Libc {
  /** `read(fd, addr, len)`: bytes read, or -1 (see {@link errno}). */
  read(fd: number, addr: number, len: number): number;
  /** `write(fd, addr, len)`. */
  write(fd: number, addr: number, len: number): number;
  /** `write` from a JavaScript view (koffi passes the pointer to its contents: no copy). */
  writeView(fd: number, view: Uint8Array, len: number): number;
  close(fd: number): number;
  poll(fdsAddr: number, nfds: number, timeoutMs: number): number;
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: number, len: number): number;
  setsockopt(fd: number, level: number, name: number, valueAddr: number, len: number): number;
  getsockname(fd: number, addr: number, lenAddr: number): number;
  recvmmsg(fd: number, vecAddr: number, n: number, flags: number, timeout: number): number;
  sendmmsg(fd: number, vecAddr: number, n: number, flags: number): number;
  sendto(fd: number, addr: number, len: number, flags: number, to: number, tolen: number): number;
  eventfd(initval: number, flags: number): number;
  /** `open(path, flags)` (variadic in C: declared as such). */
  open(path: string, flags: number): number;
  /** `ioctl(fd, request, addr)` (variadic in C: declared as such). */
  ioctl(fd: number, request: number, addr: number): number;
  /** Address of the first byte of a view (the base of wasm memory, for zero-copy sends from it). */
  addressOf(view: Uint8Array): number;
  /** CPU time this thread has used, ns (CLOCK_THREAD_CPUTIME_ID). */
  threadCpuNs(): number;
  /** errno of the last failed call on this thread. */
  errno(): number;
  /** `strerror` text for an errno value. */
  strerror(e: number): string;
  /** Native memory that never moves (for structures the kernel reads through pointers). */
  alloc(bytes: number): NativeBlock;
}

let cached: Promise<Libc> | undefined;

/**
 * Loads koffi and binds libc, once per thread. Throws an {@link IoError} `FFI_MISSING` when koffi
 * is not installed or does not load, `UNSUPPORTED` off Linux.
 */
export function loadLibc(feature: string): Promise<Libc> {
  cached ??= bind(feature);
  cached.catch(() => {
    cached = undefined;
  });
  return cached;
}

async function bind(feature: string): Promise<Libc> {
  if (process.platform !== "linux") {
    throw new IoError(
      "UNSUPPORTED",
      `${feature} needs Linux (TUN devices and recvmmsg/sendmmsg); this is ${process.platform}: use --io dgram without --tun`,
    );
  }
  let k: Koffi;
  try {
    // A variable specifier: bundlers and type checkers must not require the optional package.
    const name = "koffi";
    const mod = (await import(name)) as { default?: Koffi } & Koffi;
    k = mod.default ?? mod;
  } catch (e) {
    throw new IoError(
      "FFI_MISSING",
      `${feature} needs koffi (FFI to libc, an optional peer dependency), which did not load (${(e as Error).message.split("\n")[0]}): run \`npm install koffi@3\`; without it only node:dgram (\`--io dgram\`, no --tun) carries ESP-in-UDP`,
    );
  }
  const lib = k.load("libc.so.6");
  const f = (decl: string): ((...a: unknown[]) => number) => lib.func(decl) as (...a: unknown[]) => number;
  const read = f("long read(int fd, uintptr_t buf, size_t n)");
  const write = f("long write(int fd, uintptr_t buf, size_t n)");
  const writeView = f("long write(int fd, const void *buf, size_t n)");
  const close = f("int close(int fd)");
  const poll = f("int poll(uintptr_t fds, unsigned long n, int timeout)");
  const socket = f("int socket(int domain, int type, int protocol)");
  const bindFn = f("int bind(int fd, uintptr_t addr, uint32_t len)");
  const setsockopt = f("int setsockopt(int fd, int level, int name, uintptr_t value, uint32_t len)");
  const getsockname = f("int getsockname(int fd, uintptr_t addr, uintptr_t len)");
  const recvmmsg = f("int recvmmsg(int fd, uintptr_t vec, unsigned int n, int flags, uintptr_t timeout)");
  const sendmmsg = f("int sendmmsg(int fd, uintptr_t vec, unsigned int n, int flags)");
  const sendto = f("long sendto(int fd, uintptr_t buf, size_t n, int flags, uintptr_t to, uint32_t tolen)");
  const eventfd = f("int eventfd(unsigned int initval, int flags)");
  const open = f("int open(const char *path, int flags, ...)");
  const ioctl = f("int ioctl(int fd, unsigned long request, ...)");
  const memcpyAddr = f("uintptr_t memcpy(void *dst, const void *src, size_t n)");
  const clockGettime = f("int clock_gettime(int clock, uintptr_t ts)");
  const alloc = (bytes: number): NativeBlock => {
    const p = k.alloc("uint8_t", bytes);
    const address = Number(k.address(p));
    const ab = k.view(p, bytes);
    const u8 = new Uint8Array(ab);
    u8.fill(0);
    let freed = false;
    return {
      address,
      bytes: u8,
      view: new DataView(ab),
      free: () => {
        if (!freed) {
          freed = true;
          k.free(p);
        }
      },
    };
  };
  const ts = alloc(16);
  const strerror = lib.func("const char *strerror(int e)") as (e: number) => string;
  return {
    read: (fd, a, n) => read(fd, a, n),
    write: (fd, a, n) => write(fd, a, n),
    writeView: (fd, v, n) => writeView(fd, v, n),
    close: (fd) => close(fd),
    poll: (a, n, t) => poll(a, n, t),
    socket: (d, t, p) => socket(d, t, p),
    bind: (fd, a, n) => bindFn(fd, a, n),
    setsockopt: (fd, l, n, a, len) => setsockopt(fd, l, n, a, len),
    getsockname: (fd, a, l) => getsockname(fd, a, l),
    recvmmsg: (fd, v, n, fl, t) => recvmmsg(fd, v, n, fl, t),
    sendmmsg: (fd, v, n, fl) => sendmmsg(fd, v, n, fl),
    sendto: (fd, a, n, fl, to, tl) => sendto(fd, a, n, fl, to, tl),
    eventfd: (v, fl) => eventfd(v, fl),
    open: (p, fl) => open(p, fl),
    ioctl: (fd, r, a) => ioctl(fd, r, "uintptr_t", a),
    // memcpy(v, v, 0) copies nothing and returns its first argument: the address koffi passed.
    addressOf: (v) => Number(memcpyAddr(v, v, 0)),
    threadCpuNs() {
      clockGettime(3 /* CLOCK_THREAD_CPUTIME_ID */, ts.address);
      return Number(ts.view.getBigInt64(0, true)) * 1e9 + Number(ts.view.getBigInt64(8, true));
    },
    errno: () => k.errno(),
    strerror: (e) => strerror(e),
    alloc,
  };
}

/** Writes a sockaddr_in / sockaddr_in6 for `ip` (4 or 16 bytes) and `port` at `off`; returns its length. */
export function writeSockaddr(v: DataView, off: number, ip: Uint8Array, port: number): number {
  for (let i = 0; i < SOCKADDR; i++) v.setUint8(off + i, 0);
  if (ip.length === 4) {
    v.setUint16(off, AF_INET, true);
    v.setUint16(off + 2, port, false);
    for (let i = 0; i < 4; i++) v.setUint8(off + 4 + i, byteAt(ip, i));
    return 16;
  }
  v.setUint16(off, AF_INET6, true);
  v.setUint16(off + 2, port, false);
  for (let i = 0; i < 16; i++) v.setUint8(off + 8 + i, byteAt(ip, i));
  return 28;
}

/** Reads the address and port of a sockaddr_in / sockaddr_in6 at `off`. */
export function readSockaddr(v: DataView, off: number): { address: string; port: number } {
  const family = v.getUint16(off, true);
  const port = v.getUint16(off + 2, false);
  if (family === AF_INET) {
    return {
      address: `${v.getUint8(off + 4)}.${v.getUint8(off + 5)}.${v.getUint8(off + 6)}.${v.getUint8(off + 7)}`,
      port,
    };
  }
  return { address: formatIp(new Uint8Array(v.buffer, v.byteOffset + off + 8, 16).slice()), port };
}
