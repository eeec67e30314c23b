/**
 * The client's side of EAP in IKE_AUTH (RFC 7296 §2.16), as charon's eap_authenticator.c
 * client_process_eap: EAP-Identity answered with our eap_id, EAP-MSCHAPv2 run with the secret of
 * the identity EAP uses, any other method refused with an EAP-Nak asking for MSCHAPv2, and the
 * MSK kept for the AUTH payloads that close the exchange.
 * @module
 */
import type { IkeSa } from "../ike-sa.ts";
import { HashAlg } from "../../dataplane/suites.ts";
import { formatIdentity, type IkeIdentity } from "../identity.ts";
import { IkeError } from "../errors.ts";
import { decodeEap, eapCodeName, EapCode, eapNak, EapType, eapTypeName } from "../eap/eap.ts";
import { identityResponse } from "../eap/eap-identity.ts";
import { MschapV2Peer } from "../eap/mschapv2-peer.ts";
import { ntHashFromUtf8 } from "../eap/nt-hash.ts";

/** What one EAP payload of the gateway leads to. */
export type EapClientStep =
  | { kind: "reply"; data: Uint8Array }
  /** EAP-Success after a method that established the MSK ({@link EapClient.msk}). */
  | { kind: "success" }
  | { kind: "failed"; error: IkeError };

/** Texts of MS-CHAPv2 error codes (RFC 2759 §6), for the client's error. */
const MS_ERRORS: Readonly<Record<number, string>> = {
  646: "restricted logon hours",
  647: "account disabled",
  648: "password expired",
  649: "no dial-in permission",
  691: "authentication failure",
  709: "error changing password",
};

/** The identity we answer EAP-Identity with: eap_id, else the IKE identity. */
export function configuredEapIdentity(ike: IkeSa): IkeIdentity | undefined {
  const e = ike.conn.local.eapId;
  if (e !== undefined && e !== "any") return e;
  const id = ike.conn.local.id;
  return id === "any" ? ike.localId : id;
}

/**
 * Before the first IKE_AUTH request: a CONFIG error when there is no EAP secret for the identity
 * we will authenticate as (there is no point in asking the gateway).
 */
export function checkEapSecret(ike: IkeSa): void {
  const id = configuredEapIdentity(ike);
  const secret = id ? ike.host.findEapSecret?.(id) : undefined;
  if (!secret)
    throw new IkeError(
      "CONFIG",
      `no EAP secret for '${ike.fmtId(id)}' (local auth = eap-mschapv2 in connection '${ike.conn.name}'): add secrets { eap-x { id = ${ike.fmtId(id)}  secret = ... } }`,
    );
}

/** One EAP conversation, client side. */
export class EapClient {
  #ike: IkeSa;
  /** The identity EAP-Identity told the gateway (strongSwan uses the IKE identity when it was not asked). */
  #identity?: IkeIdentity;
  #method?: MschapV2Peer;
  /** The method the gateway asked for that we refused with a Nak. */
  #refused?: number;

  constructor(ike: IkeSa) {
    this.#ike = ike;
  }

  /** The MSK once EAP succeeded; {@link wipe} clears it. */
  get msk(): Uint8Array | undefined {
    return this.#method?.msk;
  }

  /** Processes one EAP payload of the gateway; never throws on malformed input. */
  process(bytes: Uint8Array): EapClientStep {
    const ike = this.#ike;
    const d = decodeEap(bytes);
    if (!d.ok) return this.#failed(`invalid EAP payload from the gateway: ${d.reason}`);
    const p = d.packet;
    const idHex = `0x${p.identifier.toString(16).toUpperCase().padStart(2, "0")}`;
    if (p.code === EapCode.SUCCESS) {
      if (!this.#method || !this.#method.msk)
        return this.#failed("received unexpected EAP_SUCCESS: the gateway ended EAP before EAP-MSCHAPv2 completed");
      ike.log("IKE", 0, "EAP method EAP_MSCHAPV2 succeeded, MSK established");
      return { kind: "success" };
    }
    if (p.code === EapCode.FAILURE) {
      ike.log("IKE", 0, "received EAP_FAILURE, EAP authentication failed");
      const as = `'${ike.fmtId(this.#identity ?? ike.localId)}'`;
      if (this.#refused !== undefined)
        return this.#failed(
          `the gateway requested ${eapTypeName(this.#refused)} authentication, we do EAP-MSCHAPv2 only (sent EAP_NAK asking for EAP_MSCHAPV2); it answered EAP_FAILURE`,
          "remote",
        );
      return this.#failed(`the gateway ended EAP authentication of ${as} with EAP_FAILURE`, "remote");
    }
    if (p.code !== EapCode.REQUEST || p.type === undefined)
      return this.#failed(`received ${eapCodeName(p.code)} from the gateway, expected an EAP_REQUEST`);
    if (p.type === EapType.IDENTITY) {
      const id = configuredEapIdentity(ike);
      if (!id) return this.#failed("no identity to answer EAP_IDENTITY with");
      ike.log("IKE", 0, () => `server requested EAP_IDENTITY (id ${idHex}), sending '${formatIdentity(id)}'`);
      this.#identity = id;
      return { kind: "reply", data: identityResponse(p.identifier, id.data) };
    }
    if (!this.#method) {
      ike.log("IKE", 0, `server requested ${eapTypeName(p.type)} authentication (id ${idHex})`);
      if (p.type !== EapType.MSCHAPV2) {
        ike.log("IKE", 0, "requesting EAP_MSCHAPV2 authentication, sending EAP_NAK");
        this.#refused = p.type;
        return { kind: "reply", data: eapNak(p.identifier, [EapType.MSCHAPV2]) };
      }
      // Without an EAP-Identity round, MSCHAPv2 runs as the IKE identity (charon's load_method).
      const me = this.#identity ?? ike.localId;
      const secret = me ? ike.host.findEapSecret?.(me) : undefined;
      if (!me || !secret) {
        const hint = this.#identity
          ? ""
          : " (the gateway asked for no EAP identity, so EAP-MSCHAPv2 runs as our IKE identity; set eap_id = %any on the gateway to ask for it)";
        return this.#failed(
          `no EAP key found for hosts '${ike.fmtId(ike.remoteId)}' - '${ike.fmtId(me)}'${hint}`,
          "local",
          "CONFIG",
        );
      }
      this.#method = new MschapV2Peer({
        sha1: (x) => ike.host.crypto.hash(HashAlg.Sha1, x),
        random: (n) => ike.host.random(n),
        name: me.data,
        ntHash: ntHashFromUtf8(secret),
      });
    }
    if (p.type !== EapType.MSCHAPV2)
      return this.#failed(`received ${eapTypeName(p.type)} request in the middle of EAP-MSCHAPv2`);
    const step = this.#method.process(p.identifier, p.data);
    if (step.kind === "reply") {
      if (step.log) ike.log("IKE", 0, step.log);
      return { kind: "reply", data: step.packet };
    }
    ike.log("IKE", 0, step.reason);
    ike.log("IKE", 0, "EAP_MSCHAPV2 method failed");
    if (step.rejected) {
      const who = ike.fmtId(this.#identity ?? ike.localId);
      const text = MS_ERRORS[step.rejected.error] ?? `error ${step.rejected.error}`;
      return this.#failed(
        `the gateway rejected the EAP-MSCHAPv2 password for '${who}' (E=${step.rejected.error} ${text}): check the EAP secret of '${who}' on both sides`,
        "remote",
      );
    }
    return this.#failed(`EAP-MSCHAPv2 with the gateway failed: ${step.reason}`);
  }

  #failed(
    reason: string,
    side: "local" | "remote" = "local",
    code: "AUTHENTICATION_FAILED" | "CONFIG" = "AUTHENTICATION_FAILED",
  ): EapClientStep {
    this.wipe();
    return { kind: "failed", error: new IkeError(code, reason, side) };
  }

  /** Wipes the NT hash and the MSK. */
  wipe(): void {
    this.#method?.wipe();
  }
}
