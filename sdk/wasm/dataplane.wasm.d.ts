// Types of the `ipsec-wasm/dataplane.wasm` export: bundlers for workerd (wrangler, Miniflare) hand
// an imported .wasm file over as an already compiled module. Shipped as
// dist/wasm/dataplane.wasm.d.ts (scripts/build-sdk.mjs copies it).
/// <reference path="./web-globals.d.ts" />
declare const dataplane: WebAssembly.Module;
export default dataplane;
