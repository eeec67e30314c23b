/**
 * Transparent huge pages (THP) for a dataplane's wasm memory: Linux, under Node, with koffi (the
 * optional peer dependency sdk/io uses for libc). Why: with hundreds of thousands of SAs a decap
 * touches SA state spread over hundreds of MB of wasm memory, so on 4 KiB pages nearly every
 * packet also misses the TLB (a two-dimensional page walk in a VM); on 2 MiB pages the SA slots of
 * a million SAs are ~160 TLB entries. DPDK and VPP run their dataplanes on huge pages for this.
 *
 * How: V8 reserves a 32-bit wasm memory whole (the 4 GiB it may reach plus guard pages, PROT_NONE)
 * and grows it in place with mprotect, which splits the mapping but keeps its madvise flags. So one
 * madvise(MADV_HUGEPAGE) over the reservation, after instantiation and before `init` first writes
 * the SA slots, puts every page the memory will ever have on THP: faulted in as 2 MiB pages
 * where the kernel has them, collapsed later by khugepaged where it had not. The address: koffi
 * passes an ArrayBuffer argument as a pointer to its bytes, and memcpy(p, p, 0) returns its first
 * argument. The extent: /proc/self/maps, from that address over the adjacent anonymous mappings,
 * at most 4 GiB. No key or packet byte is read here.
 *
 * Node only: Deno and Bun would need their own FFI (Deno with --allow-ffi) and Bun's engine
 * reserves wasm memory its own way; they report why not. Imported lazily by Dataplane.create, and
 * it imports nothing node-prefixed (process.getBuiltinModule, a variable specifier for koffi), so
 * the bundles for workerd and browsers stay free of Node modules.
 * @module
 */
import type { HugePagesStatus } from "./types.ts";
import { loadKoffi } from "./koffi.ts";

const MADV_HUGEPAGE = 14;
/** The most a 32-bit wasm memory can reach: nothing past it belongs to the memory. */
const WASM32_MAX = 1n << 32n;
const THP_ENABLED = "/sys/kernel/mm/transparent_hugepage/enabled";

interface Fs {
  readFileSync(path: string, encoding: "utf8"): string;
}
interface NodeProcess {
  platform?: string;
  versions?: Record<string, string | undefined>;
  getBuiltinModule?: (id: string) => unknown;
}
interface Ffi {
  addressOf(b: ArrayBuffer): bigint;
  madvise(addr: bigint, len: bigint, advice: number): number;
  errno(): number;
}

const off = (reason: string): HugePagesStatus => ({ active: false, reason });

let ffi: Promise<Ffi | string> | undefined;

/** Binds memcpy and madvise once; a string says why not. */
function bindFfi(): Promise<Ffi | string> {
  ffi ??= (async () => {
    const k = await loadKoffi();
    if (k instanceof Error) return `koffi (an optional peer dependency) did not load: ${k.message}`;
    try {
      const lib = k.load("libc.so.6");
      const memcpy = lib.func("uintptr_t memcpy(void *dst, const void *src, size_t n)");
      const madvise = lib.func("int madvise(uintptr_t addr, size_t len, int advice)");
      return {
        addressOf: (b) => BigInt(memcpy(b, b, 0) as bigint | number),
        madvise: (a, n, advice) => Number(madvise(a, n, advice)),
        errno: () => k.errno(),
      };
    } catch (e) {
      return `libc through koffi: ${(e as Error).message.split("\n")[0]}`;
    }
  })();
  return ffi;
}

/** The bracketed word of the THP `enabled` file (always, madvise, never), or undefined without THP. */
function thpMode(fs: Fs): string | undefined {
  try {
    return /\[(\w+)\]/.exec(fs.readFileSync(THP_ENABLED, "utf8"))?.[1];
  } catch {
    return undefined;
  }
}

/** Mappings of /proc/self/maps as [start, end, perms, rest]. */
function mappings(fs: Fs): [bigint, bigint, string, string][] {
  const out: [bigint, bigint, string, string][] = [];
  for (const line of fs.readFileSync("/proc/self/maps", "utf8").split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (m) out.push([BigInt(`0x${m[1]}`), BigInt(`0x${m[2]}`), m[3]!, `${m[4]} ${m[5]}`.trim()]);
  }
  return out;
}

/**
 * End of the memory's reservation: the read-write anonymous mapping holding `addr`, then the
 * PROT_NONE anonymous mappings right after it (the rest of the reservation), capped at 4 GiB.
 * 0n when `addr` is in no anonymous read-write mapping.
 */
function reservationEnd(fs: Fs, addr: bigint): bigint {
  const maps = mappings(fs);
  const anon = (rest: string) => rest === "0";
  const first = maps.findIndex(([a, b, perms, rest]) => a <= addr && addr < b && perms.startsWith("rw") && anon(rest));
  if (first < 0) return 0n;
  let end = maps[first]![1];
  for (let i = first + 1; i < maps.length; i++) {
    const [a, b, perms, rest] = maps[i]!;
    if (a !== end || perms !== "---p" || !anon(rest)) break;
    end = b;
  }
  return end - addr > WASM32_MAX ? addr + WASM32_MAX : end;
}

/**
 * Advises the wasm memory's whole reservation for transparent huge pages (see the module comment).
 * Never throws: where it cannot, the status says why.
 */
export async function adviseHugePages(memory: { readonly buffer: ArrayBuffer }): Promise<HugePagesStatus> {
  const proc = (globalThis as { process?: NodeProcess }).process;
  if ("Deno" in globalThis || proc?.versions?.bun !== undefined) return off("Node only (not done under Deno or Bun)");
  if (!proc?.versions?.node || typeof proc.getBuiltinModule !== "function") return off("Node only");
  if (proc.platform !== "linux") return off(`Linux only (this is ${proc.platform})`);
  try {
    const fs = proc.getBuiltinModule("fs") as Fs;
    const mode = thpMode(fs);
    if (mode === undefined) return off(`no transparent huge pages in this kernel (${THP_ENABLED})`);
    if (mode === "never") return off(`transparent huge pages are off (${THP_ENABLED}: never)`);
    const f = await bindFfi();
    if (typeof f === "string") return off(f);
    const addr = f.addressOf(memory.buffer);
    const end = reservationEnd(fs, addr);
    if (addr % 4096n !== 0n || end - addr < BigInt(memory.buffer.byteLength))
      return off(`the wasm memory at 0x${addr.toString(16)} is not a mapping of its own in /proc/self/maps`);
    if (f.madvise(addr, end - addr, MADV_HUGEPAGE) !== 0)
      return off(`madvise(MADV_HUGEPAGE) failed: errno ${f.errno()}`);
    return { active: true, bytes: Number(end - addr) };
  } catch (e) {
    return off(`huge pages: ${(e as Error).message.split("\n")[0]}`);
  }
}
