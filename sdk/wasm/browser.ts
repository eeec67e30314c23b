/**
 * The packaged dataplane in browsers and web workers (the `browser` condition of `#wasm`):
 * fetched from `dataplane.wasm` beside this module. Bundlers that understand
 * `new URL("…", import.meta.url)` should emit the file as an asset (esbuild does not: copy
 * `ipsec-wasm/dataplane.wasm` next to its bundle, as test/consumers/browser does), or pass
 * `{ module }` / `{ wasmBytes }`. No `node:` import reaches a browser.
 * @module
 */

/** Fetches and compiles `dataplane.wasm` (streaming where the server says `application/wasm`). */
export async function packagedWasm(): Promise<WebAssembly.Module> {
  const res = await fetch(new URL("./dataplane.wasm", import.meta.url));
  if (!res.ok) throw new Error(`GET ${res.url} answered ${res.status}`);
  if (res.headers.get("content-type")?.startsWith("application/wasm")) {
    return WebAssembly.compileStreaming(res);
  }
  return WebAssembly.compile(await res.arrayBuffer());
}
