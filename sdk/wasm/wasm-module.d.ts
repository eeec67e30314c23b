// How wrangler and Miniflare hand over an imported .wasm file: already compiled.
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
