/**
 * libc through `Deno.dlopen` (Deno; needs `--allow-ffi`): see libc.ts for the {@link Libc} it
 * implements. Imported by loadLibc only under Deno.
 *
 * Addresses travel as plain numbers in `usize` parameters (Deno takes a number there: no BigInt
 * per call). Results that always fit 32 bits (byte counts of one datagram or batch, -1 on error)
 * are declared `i32`: the low half of the 64-bit return register, so no BigInt comes back either.
 * Native memory is libc's `calloc`, viewed with `Deno.UnsafePointerView.getArrayBuffer` (the
 * view stays on that memory until `free`). errno is read through `__errno_location()`, whose
 * address is fixed for the thread.
 * @module
 */
import { IoError } from "./errors.ts";
import { callocBlocks, type Libc } from "./libc-types.ts";

/** The parameter and result types of Deno's FFI we use. */
type DenoNativeType = "i32" | "u32" | "usize" | "isize" | "pointer" | "buffer" | "void";
interface DenoForeignFunction {
  name?: string;
  parameters: readonly DenoNativeType[];
  result: DenoNativeType;
}
/** An opaque native pointer (`Deno.PointerObject`), or null for NULL. */
type DenoPointer = object | null;
/** The few members of the `Deno` global this module uses (declared here: no Deno types in the SDK). */
interface DenoFfi {
  dlopen(
    path: string,
    symbols: Record<string, DenoForeignFunction>,
  ): { symbols: Record<string, (...args: unknown[]) => unknown>; close(): void };
  UnsafePointer: {
    create(value: bigint | number): DenoPointer;
    of(view: ArrayBufferView): DenoPointer;
    value(p: DenoPointer): bigint | number;
  };
  UnsafePointerView: {
    getArrayBuffer(p: object, byteLength: number, offset?: number): ArrayBuffer;
    getCString(p: object, offset?: number): string;
  };
}

const SYMBOLS = {
  read: { parameters: ["i32", "usize", "usize"], result: "i32" },
  write: { parameters: ["i32", "usize", "usize"], result: "i32" },
  writeView: { name: "write", parameters: ["i32", "buffer", "usize"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  poll: { parameters: ["usize", "usize", "i32"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "usize", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "usize", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "usize", "usize"], result: "i32" },
  recvmmsg: { parameters: ["i32", "usize", "u32", "i32", "usize"], result: "i32" },
  sendmmsg: { parameters: ["i32", "usize", "u32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "usize", "usize", "i32", "usize", "u32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  // open and ioctl are variadic in C; a fixed prototype passes the same registers on x86-64 and
  // aarch64 Linux (open reads its third argument only with O_CREAT).
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  ioctl: { parameters: ["i32", "usize", "usize"], result: "i32" },
  clock_gettime: { parameters: ["i32", "usize"], result: "i32" },
  calloc: { parameters: ["usize", "usize"], result: "usize" },
  free: { parameters: ["usize"], result: "void" },
  strerror: { parameters: ["i32"], result: "pointer" },
  __errno_location: { parameters: [], result: "usize" },
} as const;

/** `Deno.dlopen` of libc.so.6; `FFI_MISSING` when FFI is not permitted (no --allow-ffi). */
export function bindDeno(feature: string): Libc {
  const deno = (globalThis as unknown as { Deno: DenoFfi }).Deno;
  let lib: ReturnType<DenoFfi["dlopen"]>;
  try {
    lib = deno.dlopen("libc.so.6", SYMBOLS);
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0] ?? "";
    const denied = (e as Error).name === "NotCapable" || /--allow-ffi|ffi access/.test(msg);
    throw new IoError(
      "FFI_MISSING",
      denied
        ? `${feature} needs FFI to libc: run deno with --allow-ffi (or -A) (${msg})`
        : `${feature}: Deno.dlopen("libc.so.6") failed: ${msg}`,
    );
  }
  const s = lib.symbols as unknown as {
    [K in keyof typeof SYMBOLS]: (
      ...a: (number | Uint8Array)[]
    ) => (typeof SYMBOLS)[K]["result"] extends "pointer"
      ? DenoPointer
      : (typeof SYMBOLS)[K]["result"] extends "usize"
        ? bigint | number
        : number;
  };
  const { read, write, writeView, close, poll, socket, setsockopt, getsockname, recvmmsg, sendmmsg, sendto } = s;
  const view = (address: number, bytes: number): ArrayBuffer =>
    deno.UnsafePointerView.getArrayBuffer(deno.UnsafePointer.create(address)!, bytes);
  const errnoView = new DataView(view(Number(s.__errno_location()), 4));
  const alloc = callocBlocks(
    (n) => Number(s.calloc(1, n)),
    (a) => s.free(a),
    (a, n) => view(a, n),
  );
  const ts = alloc(16);
  return {
    read: (fd, a, n) => read(fd, a, n),
    write: (fd, a, n) => write(fd, a, n),
    writeView: (fd, v, n) => writeView(fd, v, n),
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
    addressOf: (v) => Number(deno.UnsafePointer.value(deno.UnsafePointer.of(v))),
    threadCpuNs() {
      s.clock_gettime(3 /* CLOCK_THREAD_CPUTIME_ID */, ts.address);
      return Number(ts.view.getBigInt64(0, true)) * 1e9 + Number(ts.view.getBigInt64(8, true));
    },
    errno: () => errnoView.getInt32(0, true),
    strerror: (e) => {
      const p = s.strerror(e);
      return p ? deno.UnsafePointerView.getCString(p) : `errno ${e}`;
    },
    alloc,
  };
}
