// The type of `#wasm` as the SDK sees it: each runtime's loader (sdk/wasm/*.ts) returns either
// the bytes or an already compiled module. package.json's `imports` points its `types` here.
export declare function packagedWasm(): Promise<Uint8Array | WebAssembly.Module>;
