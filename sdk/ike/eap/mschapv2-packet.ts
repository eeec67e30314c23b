/**
 * EAP-MSCHAPv2 packets (draft-kamath-pppext-eap-mschapv2, RFC 2759 §4-§6) in the exact layout of
 * strongSwan's eap_mschapv2.c: after the EAP Type octet come OpCode, MS-CHAPv2-ID, MS-Length
 * (EAP length - 5) and the OpCode's data. Parsing works on the {@link EapPacket} data (what follows
 * the Type) and never throws.
 * @module
 */
import { EapCode, EapType, encodeEap } from "./eap.ts";

/** MS-CHAPv2 OpCodes (RFC 2759 §4). */
export const MsOpcode = { CHALLENGE: 1, RESPONSE: 2, SUCCESS: 3, FAILURE: 4, CHANGE_PASSWORD: 7 } as const;

/** Length of the challenges (authenticator and peer). */
export const CHALLENGE_BYTES = 16;
/** Value-Size of a Response: Peer-Challenge 16, Reserved 8, NT-Response 24, Flags 1. */
const RESPONSE_VALUE_BYTES = 49;
/** The Name strongSwan's server puts in its Challenge (MSCHAPV2_HOST_NAME). */
export const SERVER_NAME = "strongSwan";

/** A parsed MS-CHAPv2 message. */
export type MsMessage =
  | { opcode: 1; msId: number; challenge: Uint8Array; name: Uint8Array }
  | { opcode: 2; msId: number; peerChallenge: Uint8Array; ntResponse: Uint8Array; name: Uint8Array }
  | { opcode: 3 | 4; msId: number; text: string }
  /** A peer's Success or Failure response: the OpCode alone (the "short header"). */
  | { opcode: 3 | 4; short: true };

const latin1 = (b: Uint8Array): string => String.fromCharCode(...b);
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

/** Opcode names as charon's mschapv2_opcode_names. */
export function msOpcodeName(op: number): string {
  return (
    {
      1: "MSCHAPV2_CHALLENGE",
      2: "MSCHAPV2_RESPONSE",
      3: "MSCHAPV2_SUCCESS",
      4: "MSCHAPV2_FAILURE",
      7: "MSCHAPV2_CHANGE_PASSWORD",
    }[op] ?? `OpCode ${op}`
  );
}

/** Parses the data of an EAP-MSCHAPv2 packet (after the EAP Type octet); `reason` as charon words it. */
export function decodeMschapv2(data: Uint8Array): { ok: true; msg: MsMessage } | { ok: false; reason: string } {
  const tooShort = { ok: false as const, reason: "received invalid EAP-MS-CHAPv2 message: too short" };
  if (data.length < 1) return tooShort;
  const opcode = data[0] ?? 0;
  if ((opcode === MsOpcode.SUCCESS || opcode === MsOpcode.FAILURE) && data.length === 1)
    return { ok: true, msg: { opcode, short: true } };
  if (data.length < 4) return tooShort;
  const msId = data[1] ?? 0;
  const body = data.subarray(4);
  switch (opcode) {
    case MsOpcode.CHALLENGE: {
      // the name MUST be at least one octet long
      if (body.length < 1 + CHALLENGE_BYTES + 1) return tooShort;
      if (body[0] !== CHALLENGE_BYTES)
        return { ok: false, reason: "received invalid EAP-MS-CHAPv2 message: invalid challenge size" };
      return {
        ok: true,
        msg: { opcode, msId, challenge: body.slice(1, 17), name: body.slice(17) },
      };
    }
    case MsOpcode.RESPONSE: {
      if (body.length < 1 + RESPONSE_VALUE_BYTES) return tooShort;
      return {
        ok: true,
        msg: {
          opcode,
          msId,
          peerChallenge: body.slice(1, 17),
          ntResponse: body.slice(25, 49),
          // strongSwan reads at most 255 name bytes
          name: body.slice(50, 50 + 255),
        },
      };
    }
    case MsOpcode.SUCCESS:
    case MsOpcode.FAILURE: {
      // A C string to strongSwan: it ends at the first NUL (strongSwan's Success carries one).
      const nul = body.indexOf(0);
      return { ok: true, msg: { opcode, msId, text: latin1(nul < 0 ? body : body.subarray(0, nul)) } };
    }
    default:
      return { ok: false, reason: `EAP-MS-CHAPv2 received packet with unsupported OpCode (${msOpcodeName(opcode)})!` };
  }
}

function packet(code: number, identifier: number, opcode: number, msId: number, body: Uint8Array): Uint8Array {
  const data = new Uint8Array(4 + body.length);
  data[0] = opcode;
  data[1] = msId;
  const msLength = data.length; // MS-Length: the EAP length (5 + data) minus 5
  data[2] = msLength >> 8;
  data[3] = msLength & 0xff;
  data.set(body, 4);
  return encodeEap({ code, identifier, type: EapType.MSCHAPV2, data });
}

/** The server's Challenge request: Value-Size 16, the challenge, the name "strongSwan". */
export function challengeRequest(identifier: number, msId: number, challenge: Uint8Array): Uint8Array {
  const body = new Uint8Array(1 + CHALLENGE_BYTES + SERVER_NAME.length);
  body[0] = CHALLENGE_BYTES;
  body.set(challenge, 1);
  body.set(ascii(SERVER_NAME), 1 + CHALLENGE_BYTES);
  return packet(EapCode.REQUEST, identifier, MsOpcode.CHALLENGE, msId, body);
}

/** The peer's Response: Peer-Challenge, 8 reserved zero bytes, NT-Response, Flags 0, the user name. */
export function responseResponse(
  identifier: number,
  msId: number,
  peerChallenge: Uint8Array,
  ntResponse: Uint8Array,
  name: Uint8Array,
): Uint8Array {
  const body = new Uint8Array(1 + RESPONSE_VALUE_BYTES + name.length);
  body[0] = RESPONSE_VALUE_BYTES;
  body.set(peerChallenge, 1);
  body.set(ntResponse, 25);
  body.set(name, 50);
  return packet(EapCode.RESPONSE, identifier, MsOpcode.RESPONSE, msId, body);
}

/**
 * The server's Success request, byte for byte as strongSwan's: "S=<40 hex> M=Welcome2strongSwan"
 * and the C string's terminating NUL.
 */
export function successRequest(identifier: number, msId: number, authenticatorResponse: string): Uint8Array {
  return packet(
    EapCode.REQUEST,
    identifier,
    MsOpcode.SUCCESS,
    msId,
    ascii(`${authenticatorResponse} M=Welcome2strongSwan\0`),
  );
}

/** The server's Failure request as strongSwan sends it on a wrong password: "E=691 R=1 C=<new challenge>". */
export function failureRequest(identifier: number, msId: number, newChallenge: Uint8Array): Uint8Array {
  const hex = Array.from(newChallenge, (b) => b.toString(16).padStart(2, "0"))
    .join("")
    .toUpperCase();
  return packet(EapCode.REQUEST, identifier, MsOpcode.FAILURE, msId, ascii(`E=691 R=1 C=${hex}`));
}

/** The peer's Success or Failure response: EAP header, Type and the OpCode alone. */
export function shortResponse(identifier: number, opcode: 3 | 4): Uint8Array {
  return encodeEap({ code: EapCode.RESPONSE, identifier, type: EapType.MSCHAPV2, data: Uint8Array.of(opcode) });
}
