/**
 * libc through `bun:ffi` (Bun): see libc.ts for the {@link Libc} it implements. Imported by
 * loadLibc only under Bun; `bun:ffi` itself is imported dynamically (other runtimes and type
 * checkers never resolve it).
 *
 * Addresses travel as plain numbers in `ptr` parameters; results that always fit 32 bits (byte
 * counts of one datagram or batch, -1 on error) are declared `i32` (the low half of the return
 * register). Native memory is libc's `calloc`, viewed with `toArrayBuffer`; errno is read through
 * `__errno_location()`, whose address is fixed for the thread.
 * @module
 */
import { IoError } from "./errors.ts";
import { callocBlocks, type Libc } from "./libc-types.ts";

/** The argument and return types of bun:ffi we use. */
type BunFfiType = "i32" | "u32" | "u64" | "ptr" | "void";
/** The few exports of `bun:ffi` this module uses (declared here: no Bun types in the SDK). */
interface BunFfi {
  dlopen(
    path: string,
    symbols: Record<string, { args: readonly BunFfiType[]; returns: BunFfiType }>,
  ): { symbols: Record<string, (...args: unknown[]) => unknown>; close(): void };
  ptr(view: ArrayBufferView): number;
  toArrayBuffer(address: number, byteOffset: number, byteLength: number): ArrayBuffer;
  CString: new (address: number) => { toString(): string };
}

const SYMBOLS = {
  read: { args: ["i32", "ptr", "u64"], returns: "i32" },
  write: { args: ["i32", "ptr", "u64"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  poll: { args: ["ptr", "u64", "i32"], returns: "i32" },
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  bind: { args: ["i32", "ptr", "u32"], returns: "i32" },
  setsockopt: { args: ["i32", "i32", "i32", "ptr", "u32"], returns: "i32" },
  getsockname: { args: ["i32", "ptr", "ptr"], returns: "i32" },
  recvmmsg: { args: ["i32", "ptr", "u32", "i32", "ptr"], returns: "i32" },
  sendmmsg: { args: ["i32", "ptr", "u32", "i32"], returns: "i32" },
  sendto: { args: ["i32", "ptr", "u64", "i32", "ptr", "u32"], returns: "i32" },
  eventfd: { args: ["u32", "i32"], returns: "i32" },
  // open and ioctl are variadic in C; a fixed prototype passes the same registers on x86-64 and
  // aarch64 Linux (open reads its third argument only with O_CREAT).
  open: { args: ["ptr", "i32", "u32"], returns: "i32" },
  ioctl: { args: ["i32", "u64", "ptr"], returns: "i32" },
  clock_gettime: { args: ["i32", "ptr"], returns: "i32" },
  calloc: { args: ["u64", "u64"], returns: "ptr" },
  free: { args: ["ptr"], returns: "void" },
  strerror: { args: ["i32"], returns: "ptr" },
  __errno_location: { args: [], returns: "ptr" },
} as const;

/** `dlopen` of libc.so.6 with bun:ffi; `FFI_MISSING` when that fails. */
export async function bindBun(feature: string): Promise<Libc> {
  let ffi: BunFfi;
  let lib: ReturnType<BunFfi["dlopen"]>;
  try {
    // A variable specifier: bundlers and type checkers must not resolve bun:ffi.
    const name = "bun:ffi";
    ffi = (await import(name)) as BunFfi;
    lib = ffi.dlopen("libc.so.6", SYMBOLS);
  } catch (e) {
    throw new IoError(
      "FFI_MISSING",
      `${feature}: bun:ffi could not open libc.so.6 (${(e as Error).message.split("\n")[0]})`,
    );
  }
  const s = lib.symbols as unknown as {
    [K in keyof typeof SYMBOLS]: (...a: (number | Uint8Array)[]) => number;
  };
  const { read, write, close, poll, socket, setsockopt, getsockname, recvmmsg, sendmmsg, sendto } = s;
  const errnoView = new DataView(ffi.toArrayBuffer(s.__errno_location(), 0, 4));
  const alloc = callocBlocks(
    (n) => Number(s.calloc(1, n)),
    (a) => s.free(a),
    (a, n) => ffi.toArrayBuffer(a, 0, n),
  );
  const ts = alloc(16);
  return {
    read: (fd, a, n) => read(fd, a, n),
    write: (fd, a, n) => write(fd, a, n),
    // bun:ffi passes a typed array's contents for a `ptr` argument (no copy).
    writeView: (fd, v, n) => write(fd, v, n),
    close: (fd) => close(fd),
    poll: (a, n, t) => poll(a, n, t),
    socket: (d, t, p) => socket(d, t, p),
    bind: (fd, a, n) => s.bind(fd, a, n),
    setsockopt: (fd, l, n, a, len) => setsockopt(fd, l, n, a, len),
    getsockname: (fd, a, l) => getsockname(fd, a, l),
    recvmmsg: (fd, v, n, fl, t) => recvmmsg(fd, v, n, fl, t),
    sendmmsg: (fd, v, n, fl) => sendmmsg(fd, v, n, fl),
    sendto: (fd, a, n, fl, to, tl) => sendto(fd, a, n, fl, to, tl),
    eventfd: (v, fl) => s.eventfd(v, fl),
    open: (p, fl) => s.open(new TextEncoder().encode(`${p}\0`), fl, 0),
    ioctl: (fd, r, a) => s.ioctl(fd, r, a),
    addressOf: (v) => ffi.ptr(v),
    threadCpuNs() {
      s.clock_gettime(3 /* CLOCK_THREAD_CPUTIME_ID */, ts.address);
      return Number(ts.view.getBigInt64(0, true)) * 1e9 + Number(ts.view.getBigInt64(8, true));
    },
    errno: () => errnoView.getInt32(0, true),
    strerror: (e) => {
      const p = s.strerror(e);
      return p ? new ffi.CString(p).toString() : `errno ${e}`;
    },
    alloc,
  };
}
