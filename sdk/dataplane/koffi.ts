/**
 * koffi, the optional peer dependency through which the SDK reaches libc under Node (sdk/io for
 * sockets and TUN, huge-pages.ts here for madvise): loaded once, by a variable specifier, so that
 * bundlers and type checkers never require the package and workerd and browser bundles stay free
 * of it.
 * @module
 */

/** The koffi module's surface the SDK uses (typed loosely: it is an optional peer dependency). */
export interface Koffi {
  load(path: string): { func(decl: string): (...args: unknown[]) => unknown };
  alloc(type: string, n: number): unknown;
  free(ptr: unknown): void;
  view(ptr: unknown, len: number): ArrayBuffer;
  address(ptr: unknown): bigint;
  errno(): number;
}

let loading: Promise<Koffi | Error> | undefined;

/** The koffi module, or the error (first line of its message) that kept it from loading. */
export function loadKoffi(): Promise<Koffi | Error> {
  loading ??= (async () => {
    try {
      const name = "koffi";
      const mod = (await import(name)) as { default?: Koffi } & Koffi;
      return mod.default ?? mod;
    } catch (e) {
      return new Error((e as Error).message.split("\n")[0]);
    }
  })();
  return loading;
}
