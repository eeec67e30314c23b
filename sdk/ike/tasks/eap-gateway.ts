/**
 * The gateway's side of EAP in IKE_AUTH (RFC 7296 §2.16), as charon's eap_authenticator.c
 * server_initiate_eap / server_process_eap: EAP-Identity first when the connection has a remote
 * eap_id (%any or a name), else EAP-MSCHAPv2 right away for the peer's IKE identity; the result
 * is the authenticated EAP identity and the MSK, or EAP-Failure with a reason.
 * @module
 */
import type { IkeSa } from "../ike-sa.ts";
import { HashAlg } from "../../dataplane/suites.ts";
import { formatIdentity, identityMatches, parseIdentity, type IkeIdentity } from "../identity.ts";
import { IdType } from "../message.ts";
import { decodeEap, eapCodeName, EapCode, eapResult, EapType, eapTypeName } from "../eap/eap.ts";
import { identityRequest } from "../eap/eap-identity.ts";
import { MschapV2Server } from "../eap/mschapv2-server.ts";
import { ntHashFromUtf8 } from "../eap/nt-hash.ts";

/** What one EAP payload of the client leads to; every step carries the EAP packet to send. */
export type EapGatewayStep =
  | { kind: "reply"; data: Uint8Array }
  | { kind: "success"; data: Uint8Array; identity: IkeIdentity }
  | { kind: "failed"; data: Uint8Array; reason: string };

/** An identity from the bytes EAP carried (charon: identification_create_from_data, then its text). */
export function identityFromEap(bytes: Uint8Array): IkeIdentity {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  const id = /^[\x21-\x7e]+$/.test(text) ? parseIdentity(text) : "any";
  return id === "any" ? { idType: IdType.KEY_ID, data: bytes.slice() } : id;
}

/** One EAP conversation, gateway side. */
export class EapGateway {
  #ike: IkeSa;
  #identifier = 0;
  #stage: "identity" | "mschapv2" | "done" = "identity";
  #mschap?: MschapV2Server;
  /** The identity EAP runs for: the EAP-Identity answer, or the IKE identity. */
  #peer: IkeIdentity;

  constructor(ike: IkeSa) {
    this.#ike = ike;
    this.#peer = ike.remoteId ?? { idType: 0, data: new Uint8Array(0) };
  }

  /** The MSK after success; {@link wipe} clears it. */
  get msk(): Uint8Array | undefined {
    return this.#mschap?.msk;
  }

  /** Why the last password check failed, if one did (reported when the client gives up). */
  get lastRefusal(): string | undefined {
    return this.#mschap?.lastRefusal;
  }

  /** The first EAP request: EAP-Identity when remote eap_id is configured, else the MSCHAPv2 Challenge. */
  start(): Uint8Array {
    if (this.#ike.conn.remote.eapId !== undefined) {
      this.#identifier = ((this.#ike.host.random(1)[0] ?? 0) % 255) + 1;
      this.#ike.log("IKE", 0, () => `initiating EAP_IDENTITY method (id 0x${this.#hex(this.#identifier)})`);
      return identityRequest(this.#identifier);
    }
    return this.#startMschap();
  }

  #hex(n: number): string {
    return n.toString(16).toUpperCase().padStart(2, "0");
  }

  #startMschap(): Uint8Array {
    const ike = this.#ike;
    this.#stage = "mschapv2";
    const m = new MschapV2Server({
      sha1: (x) => ike.host.crypto.hash(HashAlg.Sha1, x),
      random: (n) => ike.host.random(n),
      describe: (name) => formatIdentity(identityFromEap(name)),
      log: (msg) => ike.log("IKE", 0, msg),
      ntHashFor: (name) => {
        const id = identityFromEap(name);
        if (!identityMatches(this.#peer, id) && formatIdentity(id) !== formatIdentity(this.#peer))
          ike.log("IKE", 0, () => `EAP-MS-CHAPv2 username: '${formatIdentity(id)}'`);
        const secret = ike.host.findEapSecret?.(id);
        if (!secret)
          return {
            error: `no EAP secret for '${formatIdentity(id)}' (no EAP key found for hosts '${ike.fmtId(ike.localId)}' - '${formatIdentity(id)}')`,
          };
        return { hash: ntHashFromUtf8(secret) };
      },
    });
    this.#mschap = m;
    const out = m.initiate();
    this.#identifier = m.identifier;
    ike.log("IKE", 0, () => `initiating EAP_MSCHAPV2 method (id 0x${this.#hex(m.identifier)})`);
    return out;
  }

  /** Processes one EAP payload of the client; never throws on malformed input. */
  process(bytes: Uint8Array): EapGatewayStep {
    const ike = this.#ike;
    const d = decodeEap(bytes);
    const inId = bytes.length >= 2 ? (bytes[1] ?? 0) : 0;
    if (!d.ok) {
      ike.log("IKE", 0, "received invalid EAP response, sending EAP_FAILURE");
      return this.#fail(inId, `invalid EAP payload from '${ike.fmtId(ike.remoteId)}': ${d.reason}`);
    }
    const p = d.packet;
    if (p.code !== EapCode.RESPONSE || p.type === undefined) {
      ike.log("IKE", 0, () => `received ${eapCodeName(p.code)}, sending EAP_FAILURE`);
      return this.#fail(p.identifier, `the client sent ${eapCodeName(p.code)} where an EAP_RESPONSE belongs`);
    }
    const expected = this.#stage === "identity" ? EapType.IDENTITY : EapType.MSCHAPV2;
    if (p.type === EapType.NAK) {
      ike.log("IKE", 0, "received EAP_NAK, sending EAP_FAILURE");
      const wants = [...p.data].filter((t) => t !== 0).map(eapTypeName);
      return this.#fail(
        p.identifier,
        `peer '${ike.fmtId(ike.remoteId)}' refused ${eapTypeName(expected)} with EAP_NAK (${wants.length ? `it asks for ${wants.join(", ")}` : "it proposes no method"})`,
      );
    }
    if (p.type !== expected || p.identifier !== this.#identifier) {
      ike.log("IKE", 0, "received invalid EAP response, sending EAP_FAILURE");
      return this.#fail(
        p.identifier,
        `the client answered ${eapTypeName(expected)} (id 0x${this.#hex(this.#identifier)}) with ${eapTypeName(p.type)} (id 0x${this.#hex(p.identifier)})`,
      );
    }
    if (this.#stage === "identity") return this.#identity(p.data);
    const m = this.#mschap;
    if (!m) return this.#fail(p.identifier, "EAP-MSCHAPv2 response before the method started");
    const step = m.process(p.identifier, p.data);
    if (step.kind === "reply") {
      this.#identifier = m.identifier;
      return { kind: "reply", data: step.packet };
    }
    if (step.kind === "failed") {
      ike.log("IKE", 0, () => `EAP method EAP_MSCHAPV2 failed for peer ${ike.fmtId(ike.remoteId)}`);
      return this.#fail(p.identifier, step.reason);
    }
    const identity = identityFromEap(step.name);
    const required = ike.conn.remote.eapId;
    if (required !== undefined && required !== "any" && !identityMatches(required, identity)) {
      ike.log("IKE", 0, () => `EAP method EAP_MSCHAPV2 failed for peer ${ike.fmtId(ike.remoteId)}`);
      return this.#fail(
        p.identifier,
        `constraint check failed: EAP identity '${formatIdentity(identity)}' required '${formatIdentity(required)}' (connection '${ike.conn.name}')`,
      );
    }
    ike.log("IKE", 0, "EAP method EAP_MSCHAPV2 succeeded, MSK established");
    this.#stage = "done";
    return { kind: "success", data: eapResult(EapCode.SUCCESS, p.identifier), identity };
  }

  #identity(data: Uint8Array): EapGatewayStep {
    const ike = this.#ike;
    if (data.length > 0) {
      this.#peer = identityFromEap(data);
      ike.log("IKE", 0, () => `received EAP identity '${formatIdentity(this.#peer)}'`);
    } else
      ike.log("IKE", 0, () => `client did not send an EAP identity, assume IKE identity '${ike.fmtId(this.#peer)}'`);
    const required = ike.conn.remote.eapId;
    if (required !== undefined && required !== "any" && !identityMatches(required, this.#peer))
      return this.#fail(
        this.#identifier,
        `EAP identity '${formatIdentity(this.#peer)}' does not match eap_id '${formatIdentity(required)}' of connection '${ike.conn.name}'`,
      );
    return { kind: "reply", data: this.#startMschap() };
  }

  #fail(identifier: number, reason: string): EapGatewayStep {
    this.#stage = "done";
    this.wipe();
    return { kind: "failed", data: eapResult(EapCode.FAILURE, identifier), reason };
  }

  /** Wipes the MSK. */
  wipe(): void {
    this.#mschap?.wipe();
  }
}
