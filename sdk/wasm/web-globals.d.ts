// The two Web platform types the public declarations name. A consumer's TypeScript knows them from
// the DOM lib, but a Node-only project (lib es20xx + @types/node) has neither: @types/node declares
// no global WebAssembly namespace and no CryptoKey. Empty interfaces merge with the full
// declarations where those exist, so this adds nothing when the DOM lib is present.
// Shipped as dist/wasm/web-globals.d.ts (scripts/build-sdk.mjs copies it).
/* eslint-disable @typescript-eslint/no-empty-object-type -- empty on purpose: they merge, see above */
declare global {
  namespace WebAssembly {
    interface Module {}
  }
  interface CryptoKey {}
}
export {};
