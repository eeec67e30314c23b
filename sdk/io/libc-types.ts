/**
 * The libc surface a userspace tunnel uses ({@link Libc}), implemented once per runtime
 * (libc-koffi.ts, libc-deno.ts, libc-bun.ts) and chosen by `loadLibc` in libc.ts.
 * @module
 */
import { IoError } from "./errors.ts";

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

/**
 * `alloc` for an FFI that reaches libc's calloc/free (Deno, Bun): zeroed native memory viewed in
 * place (`view` maps an address to an ArrayBuffer over it), freed once.
 */
export function callocBlocks(
  calloc: (bytes: number) => number,
  free: (address: number) => void,
  view: (address: number, bytes: number) => ArrayBuffer,
): (bytes: number) => NativeBlock {
  return (bytes) => {
    const address = calloc(bytes);
    if (!address) throw new IoError("WORKER", `calloc(${bytes}) failed`);
    const ab = view(address, bytes);
    let freed = false;
    return {
      address,
      bytes: new Uint8Array(ab),
      view: new DataView(ab),
      free: () => {
        if (!freed) {
          freed = true;
          free(address);
        }
      },
    };
  };
}
