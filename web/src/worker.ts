/**
 * The page's Web Worker: decrypts off the main thread so a large capture does not freeze the
 * page. The dataplane comes from the packaged loader (`#wasm`, browser condition: fetches
 * dataplane.wasm beside this script) unless the page sends a compiled module.
 * @module
 */
import { failureOf, runDecrypt, type DecryptRequest } from "./run.ts";

interface WorkerScope {
  onmessage: ((ev: MessageEvent<{ id: number; req: DecryptRequest; module?: WebAssembly.Module }>) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}
const scope = self as unknown as WorkerScope;

scope.onmessage = async (ev) => {
  const { id, req, module } = ev.data;
  try {
    const res = await runDecrypt(req, module ? { module } : undefined);
    scope.postMessage({ id, ok: true, res }, [res.output.buffer as ArrayBuffer]);
  } catch (e) {
    scope.postMessage({ id, ok: false, failure: failureOf(e) });
  }
};
scope.postMessage({ ready: true });
