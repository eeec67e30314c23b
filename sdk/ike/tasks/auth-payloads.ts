/**
 * The AUTH payloads of IKE_AUTH (RFC 7296 §2.15, §2.16): our identity payload, AUTH by
 * pre-shared key or signature (RFC 7427), the check of the peer's, and AUTH over an EAP MSK.
 * Shared by the initiator's task and the responder (ike-auth.ts) and the EAP rounds.
 * @module
 */
import type { IkeSa } from "../ike-sa.ts";
import { authOctets, equalBytes, pskAuth } from "../keys.ts";
import { AuthMethod, type Payload } from "../message.ts";
import { formatIdentity, identityMatches, type IkeIdentity } from "../identity.ts";
import { certMatchesIdentity, parseCertificate, verifyChain, type Certificate } from "../x509.ts";
import { signAuth, verifyAuth } from "../signature-auth.ts";
import { IkeError } from "../errors.ts";
import { idBody, ipBytes, type PayloadOf } from "../payloads.ts";

/** Our IDi or IDr: the configured identity, or our address when it is %any. */
export function localIdPayload(ike: IkeSa, type: "IDi" | "IDr"): PayloadOf<"IDi"> {
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

/** Our AUTH payload (PSK or signature) over our first message, the peer's nonce and our ID. */
export async function authPayloads(
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
    ike.log("IKE", 1, () => `authentication of '${ike.fmtId(conn.local.id)}' (myself) with pre-shared key`);
    return [{ type: "AUTH", method: AuthMethod.PSK, data: pskAuth(prf, psk, octets) }];
  }
  if (conn.local.auth !== "pubkey")
    throw new IkeError("INTERNAL", `AUTH for local auth '${conn.local.auth}' is built from the EAP MSK`);
  const key = conn.local.key;
  if (!key) throw new IkeError("CONFIG", `no private key for '${ike.fmtId(conn.local.id)}' (auth = pubkey)`);
  const s = await signAuth(key, octets, { peerHashes: ike.peerHashes });
  ike.log(
    "IKE",
    1,
    () =>
      `authentication of '${ike.fmtId(conn.local.id)}' (myself) with ${s.method === AuthMethod.DIGITAL_SIGNATURE ? "RFC 7427 signature" : `AUTH method ${s.method}`} successful`,
  );
  return [{ type: "AUTH", method: s.method, data: s.data }];
}

/** Checks the peer's identity and AUTH payload; the reason says which side and what. */
export async function verifyPeerAuth(
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
    ike.log("IKE", 0, () => `authentication of ${who} with pre-shared key successful`);
    return { ok: true };
  }
  if (conn.remote.auth !== "pubkey")
    return {
      ok: false,
      reason: `peer ${who} authenticates with a signature (AUTH method ${auth.method}), but remote auth is '${conn.remote.auth}' in connection '${conn.name}'`,
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
  ike.log("IKE", 0, () => `authentication of ${who} with ${v.scheme} successful`);
  return { ok: true };
}

/**
 * AUTH over the EAP MSK (§2.16): prf(prf(MSK, "Key Pad for IKEv2"), signed octets), method
 * "shared key", with the whole 64-byte MSK as the key (strongSwan's get_psk_sig does the same).
 */
export function mskAuthPayload(
  ike: IkeSa,
  idPayload: { idType: number; data: Uint8Array },
  firstMessage: Uint8Array,
  peerNonce: Uint8Array,
  msk: Uint8Array,
): Payload {
  const prf = prfOf(ike);
  const octets = authOctets(prf, firstMessage, peerNonce, skP(ike, true), idBody(idPayload));
  ike.log(
    "IKE",
    1,
    () => `authentication of '${formatIdentity({ idType: idPayload.idType, data: idPayload.data })}' (myself) with EAP`,
  );
  return { type: "AUTH", method: AuthMethod.PSK, data: pskAuth(prf, msk, octets) };
}

/** Checks the peer's AUTH over the EAP MSK; the reason names who and what. */
export function verifyMskAuth(
  ike: IkeSa,
  idp: { idType: number; data: Uint8Array },
  auth: PayloadOf<"AUTH"> | undefined,
  peerFirst: Uint8Array,
  ourNonce: Uint8Array,
  msk: Uint8Array,
): { ok: true } | { ok: false; reason: string } {
  const who = `'${formatIdentity({ idType: idp.idType, data: idp.data })}'`;
  if (!auth) return { ok: false, reason: `AUTH payload missing: peer ${who} sent no AUTH after EAP` };
  const prf = prfOf(ike);
  const octets = authOctets(prf, peerFirst, ourNonce, skP(ike, false), idBody(idp));
  const expected = pskAuth(prf, msk, octets);
  const same = auth.method === AuthMethod.PSK && equalBytes(expected, auth.data);
  expected.fill(0);
  if (!same)
    return {
      ok: false,
      reason: `verification of AUTH payload with EAP MSK failed: the AUTH of ${who} was not computed with the MSK of this EAP-MSCHAPv2 run`,
    };
  ike.log("IKE", 0, () => `authentication of ${who} with EAP successful`);
  return { ok: true };
}
