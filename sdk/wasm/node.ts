/**
 * The packaged dataplane on Node, Deno and Bun (the `default` condition of `#wasm`): the file
 * `dataplane.wasm` beside this module, read with `node:fs` (Deno and Bun provide it). After
 * bundling, the same relative URL is looked up beside the bundle, so copy `dataplane.wasm` next
 * to it (`ipsec-wasm/dataplane.wasm` is exported for that), or pass `{ wasmBytes }` / `{ module }`.
 * @module
 */
import { readFile } from "node:fs/promises";

/** Reads `dataplane.wasm` from the package (or from beside a bundle). */
export async function packagedWasm(): Promise<Uint8Array> {
  // The URL is made here, not at module load: nothing runs until a caller needs the file.
  return new Uint8Array(await readFile(new URL("./dataplane.wasm", import.meta.url)));
}
