// Loads build/primitives.wasm (the raw crypto primitives, test-only entry) and gives
// byte-level helpers, so vector tests can call the wasm functions with real buffers.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Exports of build/primitives.wasm; every function takes pointers (numbers) and lengths. */
export type PrimitiveExports = Record<string, (...args: number[]) => number> & { memory: WebAssembly.Memory };

export interface Primitives {
  x: PrimitiveExports;
  /** Copies bytes into fresh wasm memory and returns the pointer. */
  put(bytes: Uint8Array): number;
  /** Allocates n zeroed bytes and returns the pointer. */
  alloc(n: number): number;
  /** Reads n bytes at ptr (a copy). */
  get(ptr: number, n: number): Uint8Array;
}

const wasmPath = fileURLToPath(new URL("../../build/primitives.wasm", import.meta.url));

export function loadPrimitives(): Primitives {
  const mod = new WebAssembly.Module(readFileSync(wasmPath));
  const inst = new WebAssembly.Instance(mod, {
    env: {
      abort: () => {
        throw new Error("wasm abort");
      },
    },
  });
  const x = inst.exports as unknown as PrimitiveExports;
  const alloc = (n: number): number => {
    const p = x.alloc!(Math.max(n, 1));
    new Uint8Array(x.memory.buffer, p, n).fill(0);
    return p;
  };
  return {
    x,
    alloc,
    put(bytes) {
      const p = alloc(bytes.length);
      new Uint8Array(x.memory.buffer, p, bytes.length).set(bytes);
      return p;
    },
    get(ptr, n) {
      return new Uint8Array(x.memory.buffer, ptr, n).slice();
    },
  };
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));
