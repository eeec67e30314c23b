/**
 * What sdk/ike/dh.ts and its native backend (dh-native.ts) share: the error type and the shape of
 * a backend. No key material lives here.
 * @module
 */

/** Why a key exchange was refused. */
export type DhErrorCode = "UNSUPPORTED_GROUP" | "BAD_PUBLIC_LENGTH" | "INVALID_PUBLIC_VALUE" | "ZERO_SHARED_SECRET";

/** A key exchange failure the IKE layer maps to a notify (INVALID_KE_PAYLOAD, INVALID_SYNTAX...). */
export class DhError extends Error {
  /** Machine-readable reason. */
  readonly code: DhErrorCode;
  /**
   * @param code - machine-readable reason
   * @param message - human-readable detail
   */
  constructor(code: DhErrorCode, message: string) {
    super(message);
    this.name = "DhError";
    this.code = code;
  }
}

/** The pure-JS code of one family: private keys are fixed-length byte strings. */
export interface JsBackend {
  /** Draws a private key as the family's rules say (RFC 7748 scalar, rejection sampling for ECP/MODP). */
  newPrivate(randomBytes: (n: number) => Uint8Array): Uint8Array;
  publicOf(priv: Uint8Array): Uint8Array;
  /** g^ir; throws DhError for an invalid peer value (the length is already checked). */
  secretOf(priv: Uint8Array, peer: Uint8Array): Uint8Array;
}

/** One live share: the public value, the secret from a peer value, and wipe. */
export interface ShareState {
  readonly publicValue: Uint8Array;
  secretOf(peer: Uint8Array): Uint8Array;
  wipe(): void;
}

/** Makes shares of one group. */
export interface Backend {
  readonly impl: "native" | "js";
  newShare(randomBytes: (n: number) => Uint8Array): ShareState;
}
