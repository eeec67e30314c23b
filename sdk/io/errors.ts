/**
 * Errors of the Node packet I/O (TUN device, batched UDP): one typed error whose message is one
 * sentence a user can act on.
 * @module
 */

/** What failed. */
export type IoErrorCode =
  /** No FFI to libc: koffi (an optional peer dependency of Node) missing, or Deno without --allow-ffi. */
  | "FFI_MISSING"
  /** This platform has no implementation (TUN and recvmmsg/sendmmsg are Linux only). */
  | "UNSUPPORTED"
  /** Opening or configuring the TUN device failed (permissions, name in use, iproute2 missing). */
  | "TUN"
  /** Creating, binding or using the UDP socket failed. */
  | "SOCKET"
  /** The packet worker failed or stopped. */
  | "WORKER"
  /** A bad option (interface name, MTU, I/O mode). */
  | "ARGUMENT";

/** Exit codes of `ipsec-wasm up --tun` for I/O failures (documented in its usage). */
export const IO_EXIT_CODES: Record<IoErrorCode, number> = {
  ARGUMENT: 2,
  FFI_MISSING: 20,
  UNSUPPORTED: 20,
  TUN: 21,
  SOCKET: 22,
  WORKER: 23,
};

/** A failure of the packet I/O layer. */
export class IoError extends Error {
  override readonly name = "IoError";
  readonly code: IoErrorCode;
  constructor(code: IoErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
