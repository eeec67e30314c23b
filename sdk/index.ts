/**
 * ipsec-wasm: a userspace IPsec (ESP) stack for JavaScript runtimes.
 * @module
 */
export { Dataplane, PacketBatch, type DataplaneOptions } from "./dataplane/dataplane.ts";
export { DataplaneError, type DataplaneErrorCode } from "./dataplane/errors.ts";
export { parseSuite, KNOWN_SUITES, type Suite } from "./dataplane/suites.ts";
export * from "./dataplane/types.ts";
