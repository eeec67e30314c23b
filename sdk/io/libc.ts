/**
 * libc through the runtime's FFI (koffi, an optional peer dependency, under Node; `Deno.dlopen`
 * under Deno; `bun:ffi` under Bun; imported only when TUN or recvmmsg/sendmmsg I/O is asked for,
 * one module per runtime: libc-koffi.ts, libc-deno.ts, libc-bun.ts): the handful of system calls a userspace tunnel needs, and native memory whose
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

export type { Libc, NativeBlock } from "./libc-types.ts";
import type { Libc } from "./libc-types.ts";

let cached: Promise<Libc> | undefined;

/** The JavaScript runtime this thread runs in, for the FFI it offers. */
export function ffiRuntime(): "node" | "deno" | "bun" {
  if ("Deno" in globalThis) return "deno";
  if (typeof process !== "undefined" && process.versions?.bun) return "bun";
  return "node";
}

/**
 * Binds libc with the runtime's FFI, once per thread: koffi under Node, `Deno.dlopen` under Deno,
 * `bun:ffi` under Bun. Throws an {@link IoError} `FFI_MISSING` when the FFI is not available (koffi
 * not installed, Deno without --allow-ffi), `UNSUPPORTED` off Linux.
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
  // Each runtime's module is imported only under that runtime (bun:ffi and koffi exist only there).
  const rt = ffiRuntime();
  if (rt === "deno") return (await import("./libc-deno.ts")).bindDeno(feature);
  if (rt === "bun") return (await import("./libc-bun.ts")).bindBun(feature);
  return (await import("./libc-koffi.ts")).bindKoffi(feature);
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
