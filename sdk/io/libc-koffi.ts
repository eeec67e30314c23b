/**
 * libc through koffi (Node; an optional peer dependency): see libc.ts for the {@link Libc} it
 * implements. Imported by loadLibc only under Node.
 * @module
 */
import { IoError } from "./errors.ts";
import type { Libc, NativeBlock } from "./libc-types.ts";
import { loadKoffi } from "../dataplane/koffi.ts";

/** Binds libc with koffi; `FFI_MISSING` when koffi does not load. */
export async function bindKoffi(feature: string): Promise<Libc> {
  const k = await loadKoffi();
  if (k instanceof Error) {
    throw new IoError(
      "FFI_MISSING",
      `${feature} needs koffi (FFI to libc, an optional peer dependency), which did not load (${k.message}): run \`npm install koffi@3\`; without it only node:dgram (\`--io dgram\`, no --tun) carries ESP-in-UDP`,
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
