/**
 * IKE_AUTH (RFC 7296 §1.2, §2.15): identities, certificates, AUTH by pre-shared key or signature
 * (RFC 7427), and the first Child SA. A failed authentication is explained by which side and
 * what: identity, key, certificate or signature.
 * @module
 */
import type { IkeSa } from "../ike-sa.ts";
import type { Task } from "../task-manager.ts";
import type { ChildTemplate } from "../config.ts";
import { authOctets, equalBytes, pskAuth } from "../keys.ts";
import { notifyName } from "../names.ts";
import { AuthMethod, CertEncoding, Exchange, Notify, NOTIFY_ERROR_MAX, type Payload } from "../message.ts";
import { formatIdentity, identityMatches, type IkeIdentity } from "../identity.ts";
import { certMatchesIdentity, parseCertificate, verifyChain, type Certificate } from "../x509.ts";
import { signAuth, verifyAuth } from "../signature-auth.ts";
import { IkeError } from "../errors.ts";
import { certReqs, find, idBody, ipBytes, notifies, notify, type PayloadOf } from "../payloads.ts";
import {
  childRequestPayloads,
  completeChild,
  newPendingChild,
  respondChildRequest,
  type PendingChild,
} from "./child-negotiate.ts";
import { unreachable } from "./common.ts";

/** The initiator's IKE_AUTH, carrying the first Child SA when there is one. */
export class IkeAuthTask implements Task {
  readonly name = "IKE_AUTH";
  readonly exchange = Exchange.IKE_AUTH;
  #ike: IkeSa;
  #firstChild?: ChildTemplate;
  #child?: PendingChild;

  constructor(ike: IkeSa, firstChild?: ChildTemplate) {
    this.#ike = ike;
    this.#firstChild = firstChild;
  }

  async build(): Promise<Payload[]> {
    const ike = this.#ike;
    const conn = ike.conn;
    const idi = localIdPayload(ike, "IDi");
    ike.localId = { idType: idi.idType, data: idi.data };
    const payloads: Payload[] = [idi];
    if (conn.local.auth === "pubkey")
      for (const c of conn.local.certs ?? [])
        payloads.push({ type: "CERT", encoding: CertEncoding.X509_SIGNATURE, data: c.der });
    if (conn.remote.auth === "pubkey") payloads.push(...certReqs(ike.host.crypto, conn.remote.cacerts ?? []));
    payloads.push(notify(Notify.INITIAL_CONTACT));
    if (conn.remote.id !== "any")
      payloads.push({ type: "IDr", idType: conn.remote.id.idType, data: conn.remote.id.data });
    payloads.push(...(await authPayloads(ike, idi, ike.initRequest, ike.nr)));
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
      ike.fail(
        new IkeError(
          "AUTHENTICATION_FAILED",
          `peer ${ike.remote.address} rejected our authentication as '${ike.fmtId(ike.localId)}' (AUTHENTICATION_FAILED)` +
            (ike.conn.local.auth === "psk"
              ? ": most likely the pre-shared keys differ, or the peer has no connection for this identity"
              : ": the peer does not trust our certificate or has no connection for this identity"),
          "remote",
        ),
      );
      return;
    }
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
    if (!verdict.ok) {
      // Tell the peer (§2.21.2): an INFORMATIONAL with AUTHENTICATION_FAILED, sent once, not awaited.
      ike.tasks.sendFinal(Exchange.INFORMATIONAL, [notify(Notify.AUTHENTICATION_FAILED)]);
      ike.fail(new IkeError("AUTHENTICATION_FAILED", verdict.reason));
      return;
    }
    ike.established();
    if (this.#child) await completeChild(ike, this.#child, ps, true);
  }

  timeout(): void {
    this.#ike.fail(unreachable(this.#ike, "IKE_AUTH"));
  }
}

/** The responder's IKE_AUTH. */
export async function respondIkeAuth(ike: IkeSa, messageId: number, ps: Payload[]): Promise<void> {
  const idi = find(ps, "IDi"),
    auth = find(ps, "AUTH");
  if (!idi || !auth) {
    ike.respond(Exchange.IKE_AUTH, messageId, [notify(Notify.AUTHENTICATION_FAILED)]);
    ike.fail(new IkeError("INVALID_SYNTAX", "IKE_AUTH request lacks IDi or AUTH"));
    return;
  }
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
  else if (ike.host.findConnection) ike.log("CFG", 0, `no matching peer config found for '${formatIdentity(peerId)}'`);
  const verdict = await verifyPeerAuth(ike, ps, idi, auth, ike.initRequest, ike.nr);
  if (!verdict.ok) {
    ike.respond(Exchange.IKE_AUTH, messageId, [notify(Notify.AUTHENTICATION_FAILED)]);
    ike.fail(new IkeError("AUTHENTICATION_FAILED", verdict.reason));
    return;
  }
  const idr = localIdPayload(ike, "IDr");
  ike.localId = { idType: idr.idType, data: idr.data };
  const out: Payload[] = [idr];
  if (ike.conn.local.auth === "pubkey")
    for (const c of ike.conn.local.certs ?? [])
      out.push({ type: "CERT", encoding: CertEncoding.X509_SIGNATURE, data: c.der });
  out.push(...(await authPayloads(ike, idr, ike.initResponse, ike.ni)));
  const childOut = await respondChildRequest(ike, ps, ike.ni, ike.nr, undefined, true);
  out.push(...childOut.payloads);
  ike.respond(Exchange.IKE_AUTH, messageId, out);
  ike.established();
  if (childOut.child) ike.announceChild(childOut.child);
}

function localIdPayload(ike: IkeSa, type: "IDi" | "IDr"): PayloadOf<"IDi"> {
  const id = ike.conn.local.id;
  if (id === "any") {
    const a = ipBytes(ike.local.address);
    return { type, idType: a.length === 4 ? 1 : 5, data: a };
  }
  return { type, idType: id.idType, data: id.data };
}

function skP(ike: IkeSa, ours: boolean): Uint8Array {
  const k = ike.skKeys;
  if (!k) throw new IkeError("INTERNAL", "IKE_AUTH without keys");
  return ours === ike.originalInitiator ? k.skPi : k.skPr;
}

function prfOf(ike: IkeSa): NonNullable<IkeSa["prf"]> {
  if (!ike.prf) throw new IkeError("INTERNAL", "IKE_AUTH without a PRF");
  return ike.prf;
}

async function authPayloads(
  ike: IkeSa,
  idPayload: PayloadOf<"IDi">,
  firstMessage: Uint8Array,
  peerNonce: Uint8Array,
): Promise<Payload[]> {
  const prf = prfOf(ike);
  const conn = ike.conn;
  const octets = authOctets(prf, firstMessage, peerNonce, skP(ike, true), idBody(idPayload));
  if (conn.local.auth === "psk") {
    const psk = conn.psk;
    if (!psk)
      throw new IkeError(
        "CONFIG",
        `no pre-shared key for '${ike.fmtId(conn.local.id)}' - '${ike.fmtId(conn.remote.id)}' in the secrets section`,
      );
    ike.log("IKE", 1, `authentication of '${ike.fmtId(conn.local.id)}' (myself) with pre-shared key`);
    return [{ type: "AUTH", method: AuthMethod.PSK, data: pskAuth(prf, psk, octets) }];
  }
  const key = conn.local.key;
  if (!key) throw new IkeError("CONFIG", `no private key for '${ike.fmtId(conn.local.id)}' (auth = pubkey)`);
  const s = await signAuth(key, octets, { peerHashes: ike.peerHashes });
  ike.log(
    "IKE",
    1,
    `authentication of '${ike.fmtId(conn.local.id)}' (myself) with ${s.method === AuthMethod.DIGITAL_SIGNATURE ? "RFC 7427 signature" : `AUTH method ${s.method}`} successful`,
  );
  return [{ type: "AUTH", method: s.method, data: s.data }];
}

/** Checks the peer's identity and AUTH payload; the reason says which side and what. */
async function verifyPeerAuth(
  ike: IkeSa,
  ps: Payload[],
  idp: { idType: number; data: Uint8Array },
  auth: PayloadOf<"AUTH">,
  peerFirst: Uint8Array,
  ourNonce: Uint8Array,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const conn = ike.conn;
  const peerId: IkeIdentity = { idType: idp.idType, data: idp.data };
  const who = `'${formatIdentity(peerId)}'`;
  if (conn.remote.id !== "any" && !identityMatches(conn.remote.id, peerId)) {
    return {
      ok: false,
      reason: `peer identifies as ${who}, but remote id is '${ike.fmtId(conn.remote.id)}' in connection '${conn.name}'`,
    };
  }
  const prf = prfOf(ike);
  const octets = authOctets(prf, peerFirst, ourNonce, skP(ike, false), idBody(idp));
  if (auth.method === AuthMethod.PSK) {
    if (conn.remote.auth !== "psk")
      return {
        ok: false,
        reason: `peer ${who} authenticates with a pre-shared key, but remote auth is '${conn.remote.auth}' in connection '${conn.name}'`,
      };
    const psk = conn.psk ?? ike.host.findPsk?.(conn.local.id, peerId);
    if (!psk) return { ok: false, reason: `no pre-shared key found for '${ike.fmtId(ike.localId)}' - ${who}` };
    if (!equalBytes(pskAuth(prf, psk, octets), auth.data)) {
      return {
        ok: false,
        reason: `pre-shared key mismatch: the AUTH payload of ${who} does not verify with the key configured for '${ike.fmtId(ike.localId ?? conn.local.id)}' - ${who} (tried 1 shared key, MAC mismatched)`,
      };
    }
    ike.log("IKE", 0, `authentication of ${who} with pre-shared key successful`);
    return { ok: true };
  }
  if (conn.remote.auth !== "pubkey")
    return {
      ok: false,
      reason: `peer ${who} authenticates with a signature (AUTH method ${auth.method}), but remote auth is 'psk' in connection '${conn.name}'`,
    };
  const certs: Certificate[] = [];
  for (const c of ps.filter((p): p is PayloadOf<"CERT"> => p.type === "CERT")) {
    try {
      certs.push(parseCertificate(c.data));
    } catch (e) {
      return { ok: false, reason: `peer ${who} sent a certificate that does not parse: ${(e as Error).message}` };
    }
  }
  const leaf = certs[0];
  if (!leaf) return { ok: false, reason: `peer ${who} sent no certificate, and none is configured for it` };
  if (!certMatchesIdentity(leaf, peerId))
    return {
      ok: false,
      reason: `peer's certificate '${leaf.subject}' does not contain its identity ${who} (subject or subjectAltName)`,
    };
  const chain = await verifyChain(leaf, certs.slice(1), conn.remote.cacerts ?? [], new Date(ike.host.now()));
  if (!chain.ok) return { ok: false, reason: `certificate of ${who} not trusted: ${chain.reason}` };
  const v = await verifyAuth(leaf, auth.method, auth.data, octets);
  if (!v.ok) return { ok: false, reason: `signature of ${who} does not verify: ${v.reason}` };
  ike.log("IKE", 0, `authentication of ${who} with ${v.scheme} successful`);
  return { ok: true };
}
