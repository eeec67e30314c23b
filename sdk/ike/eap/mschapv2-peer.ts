/**
 * The EAP-MSCHAPv2 peer (client) of RFC 2759 over EAP, as strongSwan's eap_mschapv2.c
 * process_peer: answer the Challenge with the NT-Response, check the server's authenticator
 * response in its Success request (mutual proof of the password), acknowledge it; a Failure
 * request ends the method (strongSwan's client does not retry either).
 * @module
 */
import { challengeHash, challengeResponse, generateAuthenticatorResponse, mschapv2Msk, type Sha1 } from "./mschapv2.ts";
import {
  CHALLENGE_BYTES,
  decodeMschapv2,
  MsOpcode,
  msOpcodeName,
  responseResponse,
  shortResponse,
} from "./mschapv2-packet.ts";

/** What the peer needs: SHA-1, randomness, its user name and the NT hash of its password. */
export interface MschapV2PeerOptions {
  sha1: Sha1;
  random(n: number): Uint8Array;
  /** The identity's encoding, sent as Name; its part after a backslash enters the challenge hash. */
  name: Uint8Array;
  /** NtPasswordHash of the secret; wiped as soon as the Response is computed. */
  ntHash: Uint8Array;
}

/** One step of the peer. */
export type MschapV2PeerStep =
  | { kind: "reply"; packet: Uint8Array; log?: string }
  | { kind: "failed"; reason: string; rejected?: { error: number; text: string } };

/** charon's mschapv2_error_names. */
const ERRORS: Readonly<Record<number, string>> = {
  646: "ERROR_RESTRICTED_LOGON_HOURS",
  647: "ERROR_ACCT_DISABLED",
  648: "ERROR_PASSWD_EXPIRED",
  649: "ERROR_NO_DIALIN_PERMISSION",
  691: "ERROR_AUTHENTICATION_FAILURE",
  709: "ERROR_CHANGING_PASSWORD",
};

/** "ERROR_AUTHENTICATION_FAILURE" for 691. */
export function mschapv2ErrorName(e: number): string {
  return ERRORS[e] ?? `error ${e}`;
}

/** The part of an identity after its first backslash (strongSwan's extract_username). */
export function userPart(name: Uint8Array): Uint8Array {
  const slash = name.indexOf(0x5c);
  return slash < 0 ? name : name.subarray(slash + 1);
}

/** Keeps printable ASCII, as charon's sanitize() does before logging the peer's text. */
export function sanitize(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?");
}

/** One EAP-MSCHAPv2 authentication, peer side. */
export class MschapV2Peer {
  #o: MschapV2PeerOptions;
  #state: "challenge" | "success" | "done" = "challenge";
  #expected = "";
  #msk?: Uint8Array;

  constructor(o: MschapV2PeerOptions) {
    this.#o = o;
  }

  /** The 64-byte MSK once the server's Success was verified; the caller wipes it via {@link wipe}. */
  get msk(): Uint8Array | undefined {
    return this.#state === "done" ? this.#msk : undefined;
  }

  /** Processes the data (after the EAP Type) of a Request with `identifier`. */
  process(identifier: number, data: Uint8Array): MschapV2PeerStep {
    const d = decodeMschapv2(data);
    if (!d.ok) return { kind: "failed", reason: d.reason };
    const m = d.msg;
    if (this.#state === "challenge" && m.opcode === MsOpcode.CHALLENGE) {
      const sha1 = this.#o.sha1;
      const peerChallenge = this.#o.random(CHALLENGE_BYTES);
      const user = userPart(this.#o.name);
      const hash = this.#o.ntHash;
      const ntResponse = challengeResponse(challengeHash(sha1, peerChallenge, m.challenge, user), hash);
      this.#expected = generateAuthenticatorResponse(sha1, hash, ntResponse, peerChallenge, m.challenge, user);
      this.#msk = mschapv2Msk(sha1, hash, ntResponse);
      hash.fill(0);
      this.#state = "success";
      return { kind: "reply", packet: responseResponse(identifier, m.msId, peerChallenge, ntResponse, this.#o.name) };
    }
    if (this.#state === "success" && m.opcode === MsOpcode.SUCCESS && !("short" in m)) {
      const token = m.text.split(" ").find((t) => t.startsWith("S="));
      if (token === undefined) return this.#fail("received invalid EAP-MS-CHAPv2 message: auth string missing");
      if (!/^S=[0-9A-Fa-f]{40}$/.test(token))
        return this.#fail("received invalid EAP-MS-CHAPv2 message: invalid auth string");
      let diff = 0;
      const got = token.toUpperCase();
      for (let i = 0; i < got.length; i++) diff |= got.charCodeAt(i) ^ this.#expected.charCodeAt(i);
      if (diff !== 0)
        return this.#fail(
          "EAP-MS-CHAPv2 verification failed: the gateway's authenticator response (S=) does not prove that it knows our password",
        );
      this.#state = "done";
      const text =
        m.text
          .split(" ")
          .find((t) => t.startsWith("M="))
          ?.slice(2) ?? "";
      return {
        kind: "reply",
        packet: shortResponse(identifier, MsOpcode.SUCCESS),
        log: `EAP-MS-CHAPv2 succeeded: '${sanitize(text)}'`,
      };
    }
    if (this.#state === "success" && m.opcode === MsOpcode.FAILURE && !("short" in m)) {
      const tokens = m.text.split(" ");
      const e = Number.parseInt(tokens.find((t) => t.startsWith("E="))?.slice(2) ?? "0", 10) || 0;
      const text = tokens.find((t) => t.startsWith("M="))?.slice(2) ?? "";
      this.#state = "done";
      this.wipe();
      return {
        kind: "failed",
        reason: `EAP-MS-CHAPv2 failed with error ${mschapv2ErrorName(e)}: '${sanitize(text)}'`,
        rejected: { error: e, text: sanitize(text) },
      };
    }
    return this.#fail(`received unexpected EAP-MS-CHAPv2 message with OpCode (${msOpcodeName(m.opcode)})!`);
  }

  #fail(reason: string): MschapV2PeerStep {
    this.wipe();
    return { kind: "failed", reason };
  }

  /** Wipes the NT hash and the MSK. */
  wipe(): void {
    this.#o.ntHash.fill(0);
    this.#msk?.fill(0);
  }
}
