/**
 * Finds the compiled dataplane. Runtime-neutral: a caller-supplied `WebAssembly.Module`
 * (required on Cloudflare workerd, which refuses to compile bytes at run time) or bytes;
 * otherwise the file next to the package, read with the runtime's own file API.
 * @module
 */
import { DataplaneError } from "./errors.ts";

/** How to obtain the wasm module. */
export interface WasmSource {
  /** A compiled module (workerd: `import mod from "ipsec-wasm/dataplane.wasm"`). */
  module?: WebAssembly.Module;
  /** The module's bytes. */
  wasmBytes?: Uint8Array;
}

const WASM_URL = new URL("../../build/dataplane.wasm", import.meta.url);

interface DenoLike { readFile(path: URL): Promise<Uint8Array> }

async function readPackagedWasm(): Promise<Uint8Array> {
  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  if (deno) return deno.readFile(WASM_URL);
  const { readWasmFile } = await import("../node/wasm-file.ts");
  return readWasmFile(WASM_URL);
}

/** Compiles (or takes) the module. */
export async function loadDataplaneModule(src: WasmSource): Promise<WebAssembly.Module> {
  if (src.module) return src.module;
  try {
    const bytes = src.wasmBytes ?? (await readPackagedWasm());
    return await WebAssembly.compile(bytes as BufferSource);
  } catch (e) {
    throw new DataplaneError(
      "WASM_LOAD",
      `cannot load the dataplane wasm (${(e as Error).message}); run "npm run build", or pass { module } / { wasmBytes }`,
    );
  }
}
