/**
 * The packaged dataplane on Cloudflare workerd (the `workerd` condition of `#wasm`): workerd
 * refuses to compile wasm bytes at run time, so the module is imported, and wrangler / Miniflare
 * (esbuild's CompiledWasm rule) hand it over already compiled. No `node:` import, nothing read
 * at module load, no `nodejs_compat` needed.
 * @module
 */
import dataplaneModule from "./dataplane.wasm";

/** The imported, compiled `dataplane.wasm`. */
export async function packagedWasm(): Promise<WebAssembly.Module> {
  return dataplaneModule;
}
