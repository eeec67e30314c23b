/**
 * The EAP-MSCHAPv2 server (authenticator) of RFC 2759 over EAP, as strongSwan's eap_mschapv2.c
 * process_server: a Challenge with 16 random bytes, the NT-Response checked against the secret of
 * the user named in the Response, a Success request carrying the authenticator response, and on
 * a wrong password (or unknown user) a Failure request "E=691 R=1 C=<new challenge>" that lets
 * the peer retry, twice at most, before the method fails. strongSwan sleeps 2 s before each
 * retry to slow guessing; we answer at once, and our clients never retry.
 * @module
 */
import { challengeResponse, challengeHash, generateAuthenticatorResponse, mschapv2Msk, type Sha1 } from "./mschapv2.ts";
import {
  CHALLENGE_BYTES,
  challengeRequest,
  decodeMschapv2,
  failureRequest,
  MsOpcode,
  msOpcodeName,
  successRequest,
} from "./mschapv2-packet.ts";
import { userPart } from "./mschapv2-peer.ts";

/** strongSwan's MAX_RETRIES: the third wrong answer ends the method. */
export const MSCHAPV2_MAX_RETRIES = 2;

/** What the server needs. */
export interface MschapV2ServerOptions {
  sha1: Sha1;
  random(n: number): Uint8Array;
  /** NtPasswordHash of the secret of the user named `name` (the Response's Name), or why there is none. */
  ntHashFor(name: Uint8Array): { hash: Uint8Array } | { error: string };
  /** Text of a name for logs and reasons. */
  describe(name: Uint8Array): string;
  log(message: string): void;
}

/** One step of the server. */
export type MschapV2ServerStep =
  | { kind: "reply"; packet: Uint8Array }
  /** The peer acknowledged our Success: the method succeeded for `name`; {@link MschapV2Server.msk} holds the MSK. */
  | { kind: "success"; name: Uint8Array }
  | { kind: "failed"; reason: string };

/** One EAP-MSCHAPv2 authentication, server side. */
export class MschapV2Server {
  #o: MschapV2ServerOptions;
  #state: "response" | "success" | "done" = "response";
  #identifier: number;
  #msId: number;
  #challenge: Uint8Array;
  #retries = 0;
  #msk?: Uint8Array;
  #name?: Uint8Array;
  /** Why the last Response was refused (wrong password, unknown user), for when the peer gives up. */
  lastRefusal?: string;

  constructor(o: MschapV2ServerOptions) {
    this.#o = o;
    // a non-zero identifier; the MS-CHAPv2-ID starts equal to it (eap_mschapv2_create_server)
    this.#identifier = ((o.random(1)[0] ?? 0) % 255) + 1;
    this.#msId = this.#identifier;
    this.#challenge = o.random(CHALLENGE_BYTES);
  }

  /** The identifier of the request in flight (the peer's Response must carry it). */
  get identifier(): number {
    return this.#identifier;
  }

  /** The MSK after success; wiped by {@link wipe}. */
  get msk(): Uint8Array | undefined {
    return this.#state === "done" ? this.#msk : undefined;
  }

  /** The Challenge request. */
  initiate(): Uint8Array {
    return challengeRequest(this.#identifier, this.#msId, this.#challenge);
  }

  /** Processes a Response packet (its identifier and the data after the EAP Type). */
  process(identifier: number, data: Uint8Array): MschapV2ServerStep {
    if (identifier !== this.#identifier)
      return this.#fail("received invalid EAP-MS-CHAPv2 message: unexpected identifier");
    const d = decodeMschapv2(data);
    if (!d.ok) return this.#fail(d.reason);
    const m = d.msg;
    if (this.#state === "response" && m.opcode === MsOpcode.RESPONSE) return this.#response(m);
    if (this.#state === "success" && m.opcode === MsOpcode.SUCCESS && this.#msk && this.#name) {
      this.#state = "done";
      return { kind: "success", name: this.#name };
    }
    if (m.opcode === MsOpcode.FAILURE)
      return this.#fail(this.lastRefusal ?? "the peer aborted EAP-MS-CHAPv2 with a Failure packet");
    return this.#fail(`received unexpected EAP-MS-CHAPv2 message with OpCode (${msOpcodeName(m.opcode)})!`);
  }

  #response(m: { peerChallenge: Uint8Array; ntResponse: Uint8Array; name: Uint8Array }): MschapV2ServerStep {
    const who = this.#o.describe(m.name);
    const secret = this.#o.ntHashFor(m.name);
    if ("error" in secret) {
      this.lastRefusal = `EAP-MSCHAPv2 authentication of '${who}' failed: ${secret.error}`;
      this.#o.log(this.lastRefusal);
      return this.#retry();
    }
    const sha1 = this.#o.sha1;
    const user = userPart(m.name);
    const hash = secret.hash;
    const expected = challengeResponse(challengeHash(sha1, m.peerChallenge, this.#challenge, user), hash);
    let diff = 0;
    for (let i = 0; i < 24; i++) diff |= (expected[i] ?? 0) ^ (m.ntResponse[i] ?? 0);
    if (diff !== 0) {
      hash.fill(0);
      this.lastRefusal = `EAP-MSCHAPv2 authentication of '${who}' failed: the password (NT-Response) does not match the EAP secret for '${who}'`;
      this.#o.log(this.lastRefusal);
      return this.#retry();
    }
    const auth = generateAuthenticatorResponse(sha1, hash, expected, m.peerChallenge, this.#challenge, user);
    this.#msk = mschapv2Msk(sha1, hash, expected);
    hash.fill(0);
    this.#name = m.name;
    this.lastRefusal = undefined;
    this.#state = "success";
    this.#identifier = (this.#identifier + 1) & 0xff;
    return { kind: "reply", packet: successRequest(this.#identifier, this.#msId, auth) };
  }

  /** strongSwan's process_server_retry: a Failure request with a fresh challenge, or the end. */
  #retry(): MschapV2ServerStep {
    if (++this.#retries > MSCHAPV2_MAX_RETRIES) {
      this.#o.log("EAP-MS-CHAPv2 verification failed: maximum number of retries reached");
      return this.#fail(this.lastRefusal ?? "EAP-MS-CHAPv2 verification failed");
    }
    this.#o.log(`EAP-MS-CHAPv2 verification failed, retry (${this.#retries})`);
    this.#challenge = this.#o.random(CHALLENGE_BYTES);
    this.#identifier = (this.#identifier + 1) & 0xff;
    const msId = this.#msId;
    this.#msId = (this.#msId + 1) & 0xff;
    return { kind: "reply", packet: failureRequest(this.#identifier, msId, this.#challenge) };
  }

  #fail(reason: string): MschapV2ServerStep {
    this.#state = "done";
    this.wipe();
    return { kind: "failed", reason };
  }

  /** Wipes the MSK. */
  wipe(): void {
    this.#msk?.fill(0);
    this.#msk = undefined;
  }
}
