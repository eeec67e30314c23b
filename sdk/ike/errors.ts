/**
 * Why a negotiation failed, as a typed error with one sentence a network engineer understands.
 * Codes are the RFC 7296 notify names where one exists.
 * @module
 */

/** Failure reasons. */
export type IkeErrorCode =
  | "NO_PROPOSAL_CHOSEN"
  | "AUTHENTICATION_FAILED"
  | "TS_UNACCEPTABLE"
  | "INVALID_KE_PAYLOAD"
  | "IKEV1_PEER"
  | "PEER_UNREACHABLE"
  | "PEER_DEAD"
  | "INVALID_SYNTAX"
  | "CHILD_SA_FAILED"
  | "DELETED"
  | "CONFIG"
  | "INTERNAL";

/** Exit codes the CLI uses per failure, so scripts can tell them apart. */
export const EXIT_CODES: Record<IkeErrorCode, number> = {
  NO_PROPOSAL_CHOSEN: 10,
  AUTHENTICATION_FAILED: 11,
  TS_UNACCEPTABLE: 12,
  INVALID_KE_PAYLOAD: 13,
  IKEV1_PEER: 14,
  PEER_UNREACHABLE: 15,
  PEER_DEAD: 16,
  INVALID_SYNTAX: 17,
  CHILD_SA_FAILED: 18,
  DELETED: 19,
  CONFIG: 2,
  INTERNAL: 70,
};

/** A failed negotiation: the code, which side detected it, and the explanation. */
export class IkeError extends Error {
  override readonly name = "IkeError";
  readonly code: IkeErrorCode;
  /** "local": we refused; "remote": the peer told us so (with a notify). */
  readonly side: "local" | "remote";
  constructor(code: IkeErrorCode, message: string, side: "local" | "remote" = "local") {
    super(message);
    this.code = code;
    this.side = side;
  }
}
