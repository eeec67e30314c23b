/**
 * EAP packets (RFC 3748 §4): Code, Identifier, Length, and for Request/Response a Type and its
 * data. Decoding never throws: bytes from the peer either become a packet or a reason.
 * @module
 */

/** EAP codes (RFC 3748 §4). */
export const EapCode = { REQUEST: 1, RESPONSE: 2, SUCCESS: 3, FAILURE: 4 } as const;

/** EAP method types this implementation names (RFC 3748 §5, IANA "EAP Method Types"). */
export const EapType = {
  IDENTITY: 1,
  NOTIFICATION: 2,
  NAK: 3,
  MD5: 4,
  OTP: 5,
  GTC: 6,
  TLS: 13,
  SIM: 18,
  TTLS: 21,
  AKA: 23,
  PEAP: 25,
  MSCHAPV2: 26,
  EXPANDED: 254,
} as const;

/** One EAP packet. `type` and `data` (what follows the Type octet) exist for Request and Response only. */
export interface EapPacket {
  code: number;
  identifier: number;
  type?: number;
  data: Uint8Array;
}

// charon's eap_code_names / eap_type_names (src/libstrongswan/eap/eap.c), for log lines.
const CODE_NAMES: ReadonlyMap<number, string> = new Map([
  [1, "EAP_REQUEST"],
  [2, "EAP_RESPONSE"],
  [3, "EAP_SUCCESS"],
  [4, "EAP_FAILURE"],
]);
const TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [1, "EAP_IDENTITY"],
  [2, "EAP_NOTIFICATION"],
  [3, "EAP_NAK"],
  [4, "EAP_MD5"],
  [5, "EAP_OTP"],
  [6, "EAP_GTC"],
  [13, "EAP_TLS"],
  [18, "EAP_SIM"],
  [21, "EAP_TTLS"],
  [23, "EAP_AKA"],
  [25, "EAP_PEAP"],
  [26, "EAP_MSCHAPV2"],
  [254, "EAP_EXPANDED"],
]);

/** "EAP_REQUEST", as charon logs a code. */
export function eapCodeName(code: number): string {
  return CODE_NAMES.get(code) ?? `EAP code ${code}`;
}

/** "EAP_MSCHAPV2", as charon logs a method type. */
export function eapTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `EAP type ${type}`;
}

/** Parses one EAP packet; the reason says what is wrong with it. */
export function decodeEap(bytes: Uint8Array): { ok: true; packet: EapPacket } | { ok: false; reason: string } {
  if (bytes.length < 4)
    return { ok: false, reason: `EAP packet of ${bytes.length} bytes, shorter than its 4-byte header` };
  const code = bytes[0] ?? 0;
  const identifier = bytes[1] ?? 0;
  const length = ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0);
  if (length !== bytes.length)
    return { ok: false, reason: `EAP packet says it is ${length} bytes but ${bytes.length} arrived` };
  if (code === EapCode.SUCCESS || code === EapCode.FAILURE) {
    if (length !== 4) return { ok: false, reason: `${eapCodeName(code)} of ${length} bytes, must be 4` };
    return { ok: true, packet: { code, identifier, data: new Uint8Array(0) } };
  }
  if (code !== EapCode.REQUEST && code !== EapCode.RESPONSE) return { ok: false, reason: `unknown EAP code ${code}` };
  if (length < 5) return { ok: false, reason: `${eapCodeName(code)} without a Type octet` };
  return { ok: true, packet: { code, identifier, type: bytes[4], data: bytes.slice(5) } };
}

/** Encodes an EAP packet (a Type octet is written when `type` is set). */
export function encodeEap(p: EapPacket): Uint8Array {
  const head = p.type === undefined ? 4 : 5;
  const out = new Uint8Array(head + p.data.length);
  out[0] = p.code;
  out[1] = p.identifier & 0xff;
  out[2] = out.length >> 8;
  out[3] = out.length & 0xff;
  if (p.type !== undefined) out[4] = p.type;
  out.set(p.data, head);
  return out;
}

/** EAP-Success or EAP-Failure (RFC 3748 §4.2). */
export function eapResult(code: typeof EapCode.SUCCESS | typeof EapCode.FAILURE, identifier: number): Uint8Array {
  return encodeEap({ code, identifier, data: new Uint8Array(0) });
}

/**
 * A Legacy Nak (RFC 3748 §5.3.1) answering the request `identifier`: the types we would accept,
 * or a single 0 when none (as strongSwan's eap_payload_create_nak writes it).
 */
export function eapNak(identifier: number, wanted: readonly number[]): Uint8Array {
  return encodeEap({
    code: EapCode.RESPONSE,
    identifier,
    type: EapType.NAK,
    data: Uint8Array.from(wanted.length ? wanted : [0]),
  });
}
