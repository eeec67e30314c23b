/**
 * IKE_SA_INIT (RFC 7296 §1.2): proposals, Diffie-Hellman, nonces, NAT detection (§2.23),
 * fragmentation (RFC 7383) and signature hash (RFC 7427) support. The initiator retries with a
 * COOKIE (§2.6) or the group an INVALID_KE_PAYLOAD asks for (§1.2), at message ID 0 again.
 * @module
 */
import type { IkeSa } from "../ike-sa.ts";
import type { Task } from "../task-manager.ts";
import type { ChildTemplate } from "../config.ts";
import { generateKeyShare, type KeyShare } from "../dh.ts";
import { acceptChosen, selectProposal, toWireProposals, formatProposal } from "../proposals.ts";
import { equalBytes } from "../keys.ts";
import { notifyName, summarizeMessage } from "../names.ts";
import { Exchange, Notify, NOTIFY_ERROR_MAX, type IkeHeader, type IkeMessage, type Payload } from "../message.ts";
import { SUPPORTED_HASHES } from "../signature-auth.ts";
import { IkeError } from "../errors.ts";
import {
  certReqs,
  find,
  groupBytes,
  groupName,
  hashList,
  natHash,
  notifies,
  notify,
  parseHashList,
  type PayloadOf,
} from "../payloads.ts";
import { IkeAuthTask } from "./ike-auth.ts";
import { NONCE_BYTES, unreachable } from "./common.ts";

const SPI_ZERO = new Uint8Array(8);
/** Retries after COOKIE or INVALID_KE_PAYLOAD before giving up. */
const INIT_RETRIES = 3;

/** The initiator's IKE_SA_INIT. */
export class IkeInitTask implements Task {
  readonly name = "IKE_SA_INIT";
  readonly exchange = Exchange.IKE_SA_INIT;
  #ike: IkeSa;
  #firstChild?: ChildTemplate;
  #group: number;
  #cookie?: Uint8Array;
  #ks?: KeyShare;
  #retries = 0;
  /** An error notify we declined to act on (unauthenticated), named if the request times out. */
  #declined?: number;

  constructor(ike: IkeSa, firstChild?: ChildTemplate) {
    this.#ike = ike;
    this.#firstChild = firstChild;
    this.#group = ike.conn.ikeProposals[0]?.dh[0] ?? 0;
  }

  build(): Payload[] {
    const ike = this.#ike;
    this.#ks?.wipe();
    this.#ks = generateKeyShare(this.#group, (n) => ike.host.random(n));
    if (ike.ni.length === 0) ike.ni = ike.host.random(NONCE_BYTES);
    if (ike.conn.encap) ike.log("IKE", 1, "faking NAT situation to enforce UDP encapsulation");
    const payloads: Payload[] = [];
    if (this.#cookie) payloads.push(notify(Notify.COOKIE, this.#cookie));
    payloads.push({ type: "SA", proposals: toWireProposals(ike.conn.ikeProposals, new Uint8Array(0)) });
    payloads.push({ type: "KE", group: this.#group, data: this.#ks.publicValue });
    payloads.push({ type: "NONCE", data: ike.ni });
    payloads.push(...natdPayloads(ike, SPI_ZERO));
    if (ike.conn.fragmentation !== "no") payloads.push(notify(Notify.IKEV2_FRAGMENTATION_SUPPORTED));
    payloads.push(notify(Notify.SIGNATURE_HASH_ALGORITHMS, hashList(SUPPORTED_HASHES)));
    return payloads;
  }

  /** Sends IKE_SA_INIT again, first in line and with message ID 0. */
  #retry(): void {
    this.#ike.tasks.restartInit();
    this.#ike.queue(this, true);
  }

  /**
   * Nothing in an IKE_SA_INIT response is authenticated, so an error notify could be forged by
   * anyone who saw our request (RFC 7296 §2.21.1): acting on it would let one packet stop the
   * connection. COOKIE and INVALID_KE_PAYLOAD only make us retry, and NO_PROPOSAL_CHOSEN fails at
   * once as in strongSwan (a configuration error the user must see now); any other error notify
   * is noted and we keep waiting for a real response until the retransmits run out.
   */
  acceptResponse(ps: Payload[]): boolean {
    const err = notifies(ps).find(
      (n) =>
        n.notifyType <= NOTIFY_ERROR_MAX &&
        n.notifyType !== Notify.INVALID_KE_PAYLOAD &&
        n.notifyType !== Notify.NO_PROPOSAL_CHOSEN,
    );
    if (!err || find(ps, "SA")) return true;
    this.#declined = err.notifyType;
    this.#ike.log(
      "IKE",
      0,
      () =>
        `IKE_SA_INIT answered with ${notifyName(err.notifyType)}, which is not authenticated: ignored, waiting for a valid response (RFC 7296 §2.21.1)`,
      "init-error-notify",
    );
    return false;
  }

  process(ps: Payload[], msg: IkeMessage, raw: Uint8Array): void {
    const ike = this.#ike;
    const ns = notifies(ps);
    const cookie = ns.find((n) => n.notifyType === Notify.COOKIE);
    if (cookie) {
      if (this.#retries++ >= INIT_RETRIES) {
        ike.fail(
          new IkeError(
            "PEER_UNREACHABLE",
            `the peer keeps demanding a COOKIE; giving up after ${INIT_RETRIES} tries`,
            "remote",
          ),
        );
        return;
      }
      ike.log(
        "IKE",
        0,
        () =>
          `received COOKIE notify (${cookie.data.length} bytes): the responder is under load; retrying IKE_SA_INIT with the cookie`,
      );
      this.#cookie = cookie.data;
      this.#retry();
      return;
    }
    const invalidKe = ns.find((n) => n.notifyType === Notify.INVALID_KE_PAYLOAD);
    if (invalidKe) {
      const group = invalidKe.data.length >= 2 ? ((invalidKe.data[0] ?? 0) << 8) | (invalidKe.data[1] ?? 0) : 0;
      const offered = new Set(ike.conn.ikeProposals.flatMap((p) => p.dh));
      if (!offered.has(group) || this.#retries++ >= INIT_RETRIES) {
        ike.fail(
          new IkeError(
            "INVALID_KE_PAYLOAD",
            `peer demands DH group ${groupName(group)}, which the local proposals do not contain (${[...offered].map(groupName).join(", ")})`,
            "remote",
          ),
        );
        return;
      }
      ike.log(
        "IKE",
        0,
        () =>
          `peer didn't accept DH group ${groupName(this.#group)}, it requested ${groupName(group)}: retrying with ${groupName(group)}`,
      );
      this.#group = group;
      this.#retry();
      return;
    }
    const err = ns.find((n) => n.notifyType <= NOTIFY_ERROR_MAX);
    if (err) {
      if (err.notifyType === Notify.NO_PROPOSAL_CHOSEN) {
        ike.fail(
          new IkeError(
            "NO_PROPOSAL_CHOSEN",
            `peer rejected every IKE proposal (NO_PROPOSAL_CHOSEN). Local proposals: ${toWireProposals(ike.conn.ikeProposals, new Uint8Array(0)).map(formatProposal).join(", ")}; compare with the peer's 'proposals'`,
            "remote",
          ),
        );
      } else {
        ike.fail(
          new IkeError(
            "INVALID_SYNTAX",
            `peer's IKE_SA_INIT response carries both ${notifyName(err.notifyType)} and an SA payload`,
            "remote",
          ),
        );
      }
      return;
    }
    const sa = find(ps, "SA"),
      ke = find(ps, "KE"),
      nonce = find(ps, "NONCE");
    if (!sa || !ke || !nonce) {
      ike.fail(new IkeError("INVALID_SYNTAX", "IKE_SA_INIT response lacks SA, KE or Nonce"));
      return;
    }
    const sel = acceptChosen(sa.proposals, ike.conn.ikeProposals);
    if (!sel.ok) {
      ike.fail(new IkeError("NO_PROPOSAL_CHOSEN", `peer chose a proposal we did not offer: ${sel.explanation}`));
      return;
    }
    if (ke.group !== this.#group || sel.chosen.dh !== this.#group) {
      ike.fail(
        new IkeError(
          "INVALID_KE_PAYLOAD",
          `peer's KE uses DH group ${groupName(ke.group)} but we sent ${groupName(this.#group)}`,
        ),
      );
      return;
    }
    ike.spiR = msg.header.spiR.slice();
    ike.nr = nonce.data;
    ike.initResponse = raw;
    ike.peerSupportsFragmentation = ns.some((n) => n.notifyType === Notify.IKEV2_FRAGMENTATION_SUPPORTED);
    ike.peerHashes = parseHashList(ns.find((n) => n.notifyType === Notify.SIGNATURE_HASH_ALGORITHMS)?.data);
    checkNat(ike, ns, true);
    const ks = this.#ks;
    this.#ks = undefined;
    try {
      if (!ks) throw new Error("no key share");
      ike.deriveKeys(sel.chosen, ks.computeSecret(ke.data));
    } catch (e) {
      ike.fail(new IkeError("INVALID_KE_PAYLOAD", `peer's key exchange value is invalid: ${(e as Error).message}`));
      return;
    } finally {
      ks?.wipe();
    }
    ike.host.register(ike);
    if (ike.natDetected && ike.remote.port === 500) {
      // §2.23: with a NAT in the path both sides continue on 4500 with the non-ESP marker.
      ike.remote = { address: ike.remote.address, port: 4500 };
      ike.local = { address: ike.local.address, port: ike.host.natPort() };
      ike.log(
        "NET",
        1,
        () =>
          `switching to port 4500 (NAT-T): ${ike.local.address}[${ike.local.port}] to ${ike.remote.address}[${ike.remote.port}]`,
      );
    }
    ike.queue(new IkeAuthTask(ike, this.#firstChild));
  }

  timeout(): void {
    this.#ks?.wipe();
    const ike = this.#ike;
    if (this.#declined === undefined) {
      ike.fail(unreachable(ike, "IKE_SA_INIT"));
      return;
    }
    const r = ike.conn.retransmit;
    ike.fail(
      new IkeError(
        "PEER_UNREACHABLE",
        `no valid answer to IKE_SA_INIT from ${ike.remote.address}[${ike.remote.port}] after ${r.tries} retransmits: the only answers were ${notifyName(this.#declined)} notifies, which are not authenticated (the peer refuses our request, or someone on the path forges them)`,
        "remote",
      ),
    );
  }
}

/**
 * NAT_DETECTION notifies. The source hash is deliberately wrong: a userspace dataplane can only
 * carry ESP inside UDP (RFC 3948), so we make the peer believe we are behind a NAT, exactly as
 * strongSwan does with encap=yes or kernel-libipsec.
 */
function natdPayloads(ike: IkeSa, spiR: Uint8Array): Payload[] {
  const cc = ike.host.crypto;
  const src = ike.conn.encap ? ike.host.random(20) : natHash(cc, ike.spiI, spiR, ike.local);
  const dst = natHash(cc, ike.spiI, spiR, ike.remote);
  return [notify(Notify.NAT_DETECTION_SOURCE_IP, src), notify(Notify.NAT_DETECTION_DESTINATION_IP, dst)];
}

function checkNat(ike: IkeSa, ns: PayloadOf<"N">[], asInitiator: boolean): void {
  const cc = ike.host.crypto;
  const srcs = ns.filter((n) => n.notifyType === Notify.NAT_DETECTION_SOURCE_IP);
  const dst = ns.find((n) => n.notifyType === Notify.NAT_DETECTION_DESTINATION_IP);
  if (srcs.length === 0 || !dst) {
    ike.log(
      "IKE",
      0,
      "peer sent no NAT_DETECTION notifies: it will not use UDP encapsulation, but ipsec-wasm can only carry ESP in UDP (RFC 3948); Child SAs will not pass traffic",
    );
    ike.natDetected = false;
    return;
  }
  // The request's hashes were made before the responder SPI existed (§2.23).
  const spiRForHash = asInitiator ? ike.spiR : SPI_ZERO;
  const remoteOk = srcs.some((s) => equalBytes(s.data, natHash(cc, ike.spiI, spiRForHash, ike.remote)));
  const localOk = equalBytes(dst.data, natHash(cc, ike.spiI, spiRForHash, ike.local));
  if (!remoteOk) ike.log("IKE", 1, "remote host is behind NAT");
  if (!localOk) ike.log("IKE", 1, "local host is behind NAT, sending keep alives");
  ike.natDetected = !remoteOk || !localOk || ike.conn.encap;
}

/** Answers an IKE_SA_INIT request with an error notify and forgets the SA; returns false. */
function refuseInit(ike: IkeSa, h: IkeHeader, n: number, data?: Uint8Array): false {
  ike.spiR = SPI_ZERO;
  ike.respond(h.exchange, h.messageId, [notify(n, data)]);
  ike.destroy();
  return false;
}

/**
 * The responder's IKE_SA_INIT: returns false if the SA should be forgotten right away (an error
 * was answered).
 */
export function respondIkeInit(ike: IkeSa, bytes: Uint8Array, msg: IkeMessage): boolean {
  ike.initRequest = bytes;
  ike.state = "CONNECTING";
  const ps = msg.payloads;
  const h = msg.header;
  ike.tasks.initAnswered();
  ike.log("ENC", 1, () => `parsed ${summarizeMessage(h.exchange, false, h.messageId, ps)}`);
  ike.log("IKE", 0, () => `${ike.remote.address} is initiating an IKE_SA`);
  const sa = find(ps, "SA"),
    ke = find(ps, "KE"),
    nonce = find(ps, "NONCE");
  if (!sa || !ke || !nonce) {
    ike.log("IKE", 0, "IKE_SA_INIT request lacks SA, KE or Nonce: answered INVALID_SYNTAX");
    return refuseInit(ike, h, Notify.INVALID_SYNTAX);
  }
  const sel = selectProposal(sa.proposals, ike.conn.ikeProposals);
  ike.log("CFG", 1, () => `received proposals: ${sa.proposals.map(formatProposal).join(", ")}`);
  ike.log(
    "CFG",
    1,
    () =>
      `configured proposals: ${toWireProposals(ike.conn.ikeProposals, new Uint8Array(0)).map(formatProposal).join(", ")}`,
  );
  if (!sel.ok) {
    ike.log("IKE", 0, () => `received proposals unacceptable: ${sel.explanation}`);
    ike.error = new IkeError(
      "NO_PROPOSAL_CHOSEN",
      `no acceptable IKE proposal from ${ike.remote.address}: ${sel.explanation}`,
    );
    ike.host.event({ type: "failed", ike, error: ike.error });
    return refuseInit(ike, h, Notify.NO_PROPOSAL_CHOSEN);
  }
  const g = sel.chosen.dh ?? 0;
  if (ke.group !== g) {
    ike.log("IKE", 0, () => `DH group ${groupName(ke.group)} unacceptable, requesting ${groupName(g)}`);
    return refuseInit(ike, h, Notify.INVALID_KE_PAYLOAD, groupBytes(g));
  }
  ike.spiR = ike.host.random(8);
  ike.ni = nonce.data;
  ike.nr = ike.host.random(NONCE_BYTES);
  const ns = notifies(ps);
  ike.peerSupportsFragmentation = ns.some((n) => n.notifyType === Notify.IKEV2_FRAGMENTATION_SUPPORTED);
  ike.peerHashes = parseHashList(ns.find((n) => n.notifyType === Notify.SIGNATURE_HASH_ALGORITHMS)?.data);
  let ks: KeyShare;
  let secret: Uint8Array;
  try {
    ks = generateKeyShare(ke.group, (n) => ike.host.random(n));
    secret = ks.computeSecret(ke.data);
  } catch (e) {
    ike.log("IKE", 0, () => `invalid KE payload from ${ike.remote.address}: ${(e as Error).message}`);
    return refuseInit(ike, h, Notify.INVALID_SYNTAX);
  }
  checkNat(ike, ns, false);
  const cc = ike.host.crypto;
  const src = ike.conn.encap ? ike.host.random(20) : natHash(cc, ike.spiI, ike.spiR, ike.local);
  const out: Payload[] = [
    { type: "SA", proposals: [sel.proposal] },
    { type: "KE", group: ke.group, data: ks.publicValue },
    { type: "NONCE", data: ike.nr },
    notify(Notify.NAT_DETECTION_SOURCE_IP, src),
    notify(Notify.NAT_DETECTION_DESTINATION_IP, natHash(cc, ike.spiI, ike.spiR, ike.remote)),
  ];
  if (ike.conn.remote.auth === "pubkey") out.push(...certReqs(cc, ike.conn.remote.cacerts ?? []));
  if (ike.conn.fragmentation !== "no") out.push(notify(Notify.IKEV2_FRAGMENTATION_SUPPORTED));
  out.push(notify(Notify.SIGNATURE_HASH_ALGORITHMS, hashList(SUPPORTED_HASHES)));
  ike.deriveKeys(sel.chosen, secret);
  ks.wipe();
  ike.respond(h.exchange, h.messageId, out);
  ike.host.register(ike);
  return true;
}
