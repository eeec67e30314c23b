/// <reference path="../wasm/web-globals.d.ts" preserve="true" />
/**
 * Finds the compiled dataplane: a caller-supplied `WebAssembly.Module` or bytes, otherwise the
 * packaged `dataplane.wasm` through `#wasm`, which the package's `imports` map resolves per
 * runtime (sdk/wasm/: node:fs on Node, Deno and Bun; an imported module on workerd; fetch in
 * browsers). Nothing here touches a runtime API, so this module loads everywhere.
 * @module
 */
import { packagedWasm } from "#wasm";
import { DataplaneError } from "./errors.ts";

/** How to obtain the wasm module. */
export interface WasmSource {
  /** A compiled module (e.g. `import mod from "ipsec-wasm/dataplane.wasm"` on workerd). */
  module?: WebAssembly.Module;
  /** The module's bytes. */
  wasmBytes?: Uint8Array;
}

/** Compiles (or takes) the module. */
export async function loadDataplaneModule(src: WasmSource): Promise<WebAssembly.Module> {
  if (src.module) return src.module;
  try {
    const found = src.wasmBytes ?? (await packagedWasm());
    return found instanceof WebAssembly.Module ? found : await WebAssembly.compile(found);
  } catch (e) {
    throw new DataplaneError(
      "WASM_LOAD",
      `cannot load the dataplane wasm (${(e as Error).message}); run "npm run build" in a checkout, ` +
        `copy dataplane.wasm beside a bundle, or pass { module } / { wasmBytes }`,
    );
  }
}
