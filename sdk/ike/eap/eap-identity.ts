/**
 * EAP-Identity (RFC 3748 §5.1), as strongSwan's eap-identity plugin speaks it: the server's
 * Request carries no prompt, the peer answers with the encoding of its identity (the identity's
 * data, e.g. "alice" for an FQDN or e-mail identity).
 * @module
 */
import { EapCode, EapType, encodeEap } from "./eap.ts";

/** The server's Identity Request. */
export function identityRequest(identifier: number): Uint8Array {
  return encodeEap({ code: EapCode.REQUEST, identifier, type: EapType.IDENTITY, data: new Uint8Array(0) });
}

/** The peer's Identity Response, answering the request `identifier`. */
export function identityResponse(identifier: number, identity: Uint8Array): Uint8Array {
  return encodeEap({ code: EapCode.RESPONSE, identifier, type: EapType.IDENTITY, data: identity });
}
