/**
 * IKE_AUTH (RFC 7296 §1.2, §2.15, §2.16): identities, certificates, AUTH by pre-shared key or
 * signature (RFC 7427) or by EAP-MSCHAPv2 and the MSK, the Configuration Payload (virtual IPs,
 * config-payload.ts) and the first Child SA. With EAP the exchange takes several rounds, as in
 * charon: the initiator's task builds the next request after each response (it queues itself
 * again at the front, so each round is an ordinary request with the next message ID, its own
 * retransmits and timeout), and the responder keeps the EAP state of the IKE SA between requests.
 * A failed authentication is explained by which side and what: identity, key, certificate,
 * signature, EAP identity or password.
 * @module
 */
import type { IkeSa } from "../ike-sa.ts";
import type { Task } from "../task-manager.ts";
import type { ChildTemplate } from "../config.ts";
import { notifyName } from "../names.ts";
import { CertEncoding, Exchange, Notify, NOTIFY_ERROR_MAX, type Payload } from "../message.ts";
import { formatIdentity, identityMatches, type IkeIdentity } from "../identity.ts";
import { IkeError } from "../errors.ts";
import { certReqs, find, notifies, notify, type PayloadOf } from "../payloads.ts";
import {
  childRequestPayloads,
  completeChild,
  newPendingChild,
  respondChildRequest,
  type PendingChild,
} from "./child-negotiate.ts";
import { unreachable } from "./common.ts";
import { authPayloads, localIdPayload, mskAuthPayload, verifyMskAuth, verifyPeerAuth } from "./auth-payloads.ts";
import { cpRequest, processCpReply, respondCp } from "./config-payload.ts";
import { checkEapSecret, EapClient } from "./eap-client.ts";
import { EapGateway } from "./eap-gateway.ts";

type IdPayload = { idType: number; data: Uint8Array };

/** The initiator's IKE_AUTH, carrying the first Child SA when there is one; several rounds with EAP. */
export class IkeAuthTask implements Task {
  readonly name = "IKE_AUTH";
  readonly exchange = Exchange.IKE_AUTH;
  #ike: IkeSa;
  #firstChild?: ChildTemplate;
  #child?: PendingChild;
  /** first: IDi (and AUTH unless EAP); eap: one EAP response; auth: AUTH over the MSK. */
  #round: "first" | "eap" | "auth" = "first";
  #eap?: EapClient;
  #eapOut?: Uint8Array;
  #idi?: PayloadOf<"IDi">;
  #idr?: IdPayload;

  constructor(ike: IkeSa, firstChild?: ChildTemplate) {
    this.#ike = ike;
    this.#firstChild = firstChild;
  }

  async build(): Promise<Payload[]> {
    const ike = this.#ike;
    if (this.#round === "eap" && this.#eapOut) return [{ type: "EAP", data: this.#eapOut }];
    if (this.#round === "auth") {
      const msk = this.#eap?.msk;
      if (!msk || !this.#idi) throw new IkeError("INTERNAL", "IKE_AUTH over the MSK without an MSK");
      return [mskAuthPayload(ike, this.#idi, ike.initRequest, ike.nr, msk)];
    }
    const conn = ike.conn;
    const eap = conn.local.auth === "eap-mschapv2";
    const idi = localIdPayload(ike, "IDi");
    this.#idi = idi;
    ike.localId = { idType: idi.idType, data: idi.data };
    if (eap) checkEapSecret(ike);
    const payloads: Payload[] = [idi];
    if (conn.local.auth === "pubkey")
      for (const c of conn.local.certs ?? [])
        payloads.push({ type: "CERT", encoding: CertEncoding.X509_SIGNATURE, data: c.der });
    if (conn.remote.auth === "pubkey") payloads.push(...certReqs(ike.host.crypto, conn.remote.cacerts ?? []));
    // Only when we keep no other IKE SA with this peer: a peer acting on it drops the others (§2.4).
    if (!ike.host.hasContact?.(ike)) payloads.push(notify(Notify.INITIAL_CONTACT));
    if (conn.remote.id !== "any")
      payloads.push({ type: "IDr", idType: conn.remote.id.idType, data: conn.remote.id.data });
    // With EAP the first request has no AUTH (§2.16): the gateway starts EAP in its response.
    if (!eap) payloads.push(...(await authPayloads(ike, idi, ike.initRequest, ike.nr)));
    const cp = cpRequest(ike);
    if (cp) payloads.push(cp);
    if (this.#firstChild) {
      this.#child = newPendingChild(ike, this.#firstChild);
      payloads.push(...childRequestPayloads(ike, this.#child, false));
    }
    return payloads;
  }

  async process(ps: Payload[]): Promise<void> {
    const ike = this.#ike;
    const ns = notifies(ps);
    if (ns.some((n) => n.notifyType === Notify.AUTHENTICATION_FAILED)) {
      this.#eap?.wipe();
      ike.fail(
        new IkeError(
          "AUTHENTICATION_FAILED",
          `peer ${ike.remote.address} rejected our authentication as '${ike.fmtId(ike.localId)}' (AUTHENTICATION_FAILED)` +
            (ike.conn.local.auth === "psk"
              ? ": most likely the pre-shared keys differ, or the peer has no connection for this identity"
              : ike.conn.local.auth === "eap-mschapv2"
                ? ": the gateway has no connection for this identity, or refused the AUTH over our EAP MSK"
                : ": the peer does not trust our certificate or has no connection for this identity"),
          "remote",
        ),
      );
      return;
    }
    if (this.#round === "first") return this.#first(ps);
    if (this.#round === "eap") return this.#eapRound(ps);
    const msk = this.#eap?.msk;
    const v =
      msk && this.#idr
        ? verifyMskAuth(ike, this.#idr, find(ps, "AUTH"), ike.initResponse, ike.ni, msk)
        : { ok: false as const, reason: "no MSK to verify the gateway's AUTH with" };
    this.#eap?.wipe();
    if (!v.ok) return this.#refuse(new IkeError("AUTHENTICATION_FAILED", v.reason));
    await this.#finish(ps);
  }

  async #first(ps: Payload[]): Promise<void> {
    const ike = this.#ike;
    const ns = notifies(ps);
    const idr = find(ps, "IDr"),
      auth = find(ps, "AUTH");
    if (!idr || !auth) {
      const err = ns.find((n) => n.notifyType <= NOTIFY_ERROR_MAX);
      ike.fail(
        new IkeError(
          "INVALID_SYNTAX",
          `IKE_AUTH response lacks IDr or AUTH${err ? ` (peer sent ${notifyName(err.notifyType)})` : ""}`,
          "remote",
        ),
      );
      return;
    }
    ike.remoteId = { idType: idr.idType, data: idr.data };
    const verdict = await verifyPeerAuth(ike, ps, idr, auth, ike.initResponse, ike.ni);
    if (!verdict.ok) return this.#refuse(new IkeError("AUTHENTICATION_FAILED", verdict.reason));
    if (ike.conn.local.auth !== "eap-mschapv2") return this.#finish(ps);
    this.#idr = { idType: idr.idType, data: idr.data };
    const eap = new EapClient(ike);
    this.#eap = eap;
    ike.onDestroy.push(() => eap.wipe());
    return this.#eapRound(ps);
  }

  /** One EAP request of the gateway: answer it in the next round, or go on to AUTH, or fail. */
  #eapRound(ps: Payload[]): void {
    const ike = this.#ike;
    const eap = find(ps, "EAP");
    if (!eap || !this.#eap) {
      const err = notifies(ps).find((n) => n.notifyType <= NOTIFY_ERROR_MAX);
      return this.#refuse(
        new IkeError(
          "AUTHENTICATION_FAILED",
          `IKE_AUTH response lacks the EAP payload EAP-MSCHAPv2 needs${err ? ` (peer sent ${notifyName(err.notifyType)})` : ""}: is remote auth = eap-mschapv2 on the gateway?`,
          "remote",
        ),
      );
    }
    const step = this.#eap.process(eap.data);
    if (step.kind === "failed") return this.#refuse(step.error);
    if (step.kind === "reply") {
      this.#round = "eap";
      this.#eapOut = step.data;
    } else {
      this.#round = "auth";
      this.#eapOut = undefined;
    }
    ike.queue(this, true);
  }

  /** Authentication failed on our side: tell the peer (§2.21.2, sent once, not awaited), fail. */
  #refuse(err: IkeError): void {
    this.#eap?.wipe();
    this.#ike.tasks.sendFinal(Exchange.INFORMATIONAL, [notify(Notify.AUTHENTICATION_FAILED)]);
    this.#ike.fail(err);
  }

  /** The last response: virtual IPs, established, the first child. */
  async #finish(ps: Payload[]): Promise<void> {
    const ike = this.#ike;
    const cp = processCpReply(ike, ps);
    if (cp.missing) ike.log("IKE", 0, "peer assigned no virtual IP");
    ike.established();
    if (this.#child) await completeChild(ike, this.#child, ps, true);
  }

  timeout(): void {
    this.#eap?.wipe();
    this.#ike.fail(unreachable(this.#ike, "IKE_AUTH"));
  }
}

/** The gateway's state between the IKE_AUTH requests of an EAP authentication. */
interface EapSession {
  eap: EapGateway;
  /** The first IKE_AUTH request: its CP and Child SA payloads are answered in the last response. */
  request: Payload[];
  idi: IdPayload;
  idr: PayloadOf<"IDi">;
  /** EAP-Success sent: the next request must carry AUTH over the MSK. */
  succeeded: boolean;
}

const sessions = new WeakMap<IkeSa, EapSession>();

/** The responder's IKE_AUTH: one call per request (several with EAP). */
export async function respondIkeAuth(ike: IkeSa, messageId: number, ps: Payload[]): Promise<void> {
  const session = sessions.get(ike);
  if (session) return continueEap(ike, messageId, ps, session);
  const idi = find(ps, "IDi"),
    auth = find(ps, "AUTH");
  if (!idi) return refuse(ike, messageId, new IkeError("INVALID_SYNTAX", "IKE_AUTH request lacks IDi"));
  const peerId: IkeIdentity = { idType: idi.idType, data: idi.data };
  ike.remoteId = peerId;
  const wantIdr = find(ps, "IDr");
  const better = ike.host.findConnection?.(
    peerId,
    wantIdr ? { idType: wantIdr.idType, data: wantIdr.data } : undefined,
    ike.local,
    ike.remote,
  );
  if (better) ike.conn = better;
  else if (ike.host.findConnection)
    ike.log("CFG", 0, () => `no matching peer config found for '${formatIdentity(peerId)}'`);
  if (!auth) {
    if (ike.conn.remote.auth === "eap-mschapv2") return startEap(ike, messageId, ps, idi);
    ike.log("IKE", 0, "peer requested EAP, config unacceptable");
    const err = new IkeError(
      ike.conn.remote.auth === "psk" || ike.conn.remote.auth === "pubkey" ? "AUTHENTICATION_FAILED" : "INVALID_SYNTAX",
      `peer '${formatIdentity(peerId)}' requested EAP (IKE_AUTH without AUTH), but remote auth is '${ike.conn.remote.auth}' in connection '${ike.conn.name}'`,
    );
    return refuse(ike, messageId, err);
  }
  const verdict = await verifyPeerAuth(ike, ps, idi, auth, ike.initRequest, ike.nr);
  if (!verdict.ok) return refuse(ike, messageId, new IkeError("AUTHENTICATION_FAILED", verdict.reason));
  const out = await ourIdAndAuth(ike);
  await finishResponder(ike, messageId, out.payloads, ps);
}

function refuse(ike: IkeSa, messageId: number, err: IkeError, payloads: Payload[] = []): void {
  sessions.get(ike)?.eap.wipe();
  sessions.delete(ike);
  ike.respond(Exchange.IKE_AUTH, messageId, payloads.length ? payloads : [notify(Notify.AUTHENTICATION_FAILED)]);
  ike.fail(err);
}

/** IDr, our certificates and AUTH (signature or PSK). */
async function ourIdAndAuth(ike: IkeSa): Promise<{ payloads: Payload[]; idr: PayloadOf<"IDi"> }> {
  const idr = localIdPayload(ike, "IDr");
  ike.localId = { idType: idr.idType, data: idr.data };
  const payloads: Payload[] = [idr];
  if (ike.conn.local.auth === "pubkey")
    for (const c of ike.conn.local.certs ?? [])
      payloads.push({ type: "CERT", encoding: CertEncoding.X509_SIGNATURE, data: c.der });
  payloads.push(...(await authPayloads(ike, idr, ike.initResponse, ike.ni)));
  return { payloads, idr };
}

/** The first IKE_AUTH request of an EAP client: our IDr, CERT and AUTH, and the first EAP request. */
async function startEap(ike: IkeSa, messageId: number, ps: Payload[], idi: IdPayload): Promise<void> {
  const conn = ike.conn;
  const peerId: IkeIdentity = { idType: idi.idType, data: idi.data };
  if (conn.remote.id !== "any" && !identityMatches(conn.remote.id, peerId))
    return refuse(
      ike,
      messageId,
      new IkeError(
        "AUTHENTICATION_FAILED",
        `peer identifies as '${formatIdentity(peerId)}', but remote id is '${ike.fmtId(conn.remote.id)}' in connection '${conn.name}'`,
      ),
    );
  const ours = await ourIdAndAuth(ike);
  const eap = new EapGateway(ike);
  ike.onDestroy.push(() => eap.wipe());
  sessions.set(ike, { eap, request: ps, idi, idr: ours.idr, succeeded: false });
  ike.respond(Exchange.IKE_AUTH, messageId, [...ours.payloads, { type: "EAP", data: eap.start() }]);
}

/** A later IKE_AUTH request of an EAP client: the next EAP round, or AUTH over the MSK. */
async function continueEap(ike: IkeSa, messageId: number, ps: Payload[], s: EapSession): Promise<void> {
  if (s.succeeded) {
    const msk = s.eap.msk;
    const v = msk
      ? verifyMskAuth(ike, s.idi, find(ps, "AUTH"), ike.initRequest, ike.nr, msk)
      : { ok: false as const, reason: "no MSK" };
    if (!v.ok || !msk) return refuse(ike, messageId, new IkeError("AUTHENTICATION_FAILED", v.ok ? "no MSK" : v.reason));
    const auth = mskAuthPayload(ike, s.idr, ike.initResponse, ike.ni, msk);
    s.eap.wipe();
    sessions.delete(ike);
    await finishResponder(ike, messageId, [auth], s.request);
    return;
  }
  const eap = find(ps, "EAP");
  if (!eap)
    return refuse(
      ike,
      messageId,
      new IkeError(
        "AUTHENTICATION_FAILED",
        `IKE_AUTH request of '${ike.fmtId(ike.remoteId)}' lacks the EAP payload of the EAP-MSCHAPv2 round`,
      ),
    );
  const step = s.eap.process(eap.data);
  if (step.kind === "failed") {
    // strongSwan sends EAP-Failure without AUTHENTICATION_FAILED (ike_auth.c, peer_auth_failed_no_notify).
    ike.pendingAuthFailure = undefined;
    return refuse(ike, messageId, new IkeError("AUTHENTICATION_FAILED", step.reason), [
      { type: "EAP", data: step.data },
    ]);
  }
  if (step.kind === "success") {
    s.succeeded = true;
    ike.eapIdentity = step.identity;
    ike.pendingAuthFailure = undefined;
  } else ike.pendingAuthFailure = s.eap.lastRefusal;
  ike.respond(Exchange.IKE_AUTH, messageId, [{ type: "EAP", data: step.data }]);
}

/** The last IKE_AUTH response: virtual IPs (CP), the first Child SA; the IKE SA is established. */
async function finishResponder(ike: IkeSa, messageId: number, out: Payload[], request: Payload[]): Promise<void> {
  // Stale SAs of a peer that restarted go first, so their leases are free for this one (§2.4).
  if (notifies(request).some((n) => n.notifyType === Notify.INITIAL_CONTACT)) ike.host.initialContact?.(ike);
  const cp = respondCp(ike, request);
  out.push(...cp.payloads);
  let child;
  if (cp.failed) {
    if (find(request, "SA")) {
      ike.log("IKE", 0, "configuration payload negotiation failed, no CHILD_SA built");
      ike.childFailed(new IkeError("CHILD_SA_FAILED", cp.failed));
    }
  } else {
    const childOut = await respondChildRequest(ike, request, ike.ni, ike.nr, undefined, true);
    out.push(...childOut.payloads);
    child = childOut.child;
  }
  ike.respond(Exchange.IKE_AUTH, messageId, out);
  ike.established();
  if (child) ike.announceChild(child);
}
