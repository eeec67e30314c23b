import { readFile } from "node:fs/promises";

/** Reads the packaged dataplane.wasm on Node and Bun. */
export async function readWasmFile(url: URL): Promise<Uint8Array> {
  return new Uint8Array(await readFile(url));
}
