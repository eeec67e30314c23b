/**
 * Rekeying the IKE SA (RFC 7296 §1.3.2, §2.18): CREATE_CHILD_SA with an IKE proposal, a new SPI,
 * a nonce and a KE. The new IKE SA adopts every Child SA (with their timers); the initiator of
 * the surviving exchange deletes the old IKE SA.
 *
 * Collisions (§2.8.2): when both ends rekey at once, both exchanges complete; the one whose lower
 * nonce is the lowest of the four created the redundant IKE SA, which its initiator deletes, and
 * the children go to the other. A request that arrives while one of our Child SA exchanges is in
 * flight is answered TEMPORARY_FAILURE (§2.25.2): that child exchange would finish on the old SA.
 * @module
 */
import type { IkeSa } from "../ike-sa.ts";
import type { Task } from "../task-manager.ts";
import { generateKeyShare, type KeyShare } from "../dh.ts";
import { acceptChosen, selectProposal, toWireProposals } from "../proposals.ts";
import { notifyName } from "../names.ts";
import { Exchange, Notify, NOTIFY_ERROR_MAX, type Payload } from "../message.ts";
import { compareNonces, find, groupBytes, lowerNonce, notifies, notify } from "../payloads.ts";
import { NONCE_BYTES, unreachable } from "./common.ts";
import { IkeDeleteTask } from "./ike-delete.ts";

/** Retry of an IKE rekey the peer refused. */
export const IKE_REKEY_RETRY_MS = 10_000;
/** How long an old IKE SA whose successor the peer made waits for the peer's DELETE. */
export const REKEYED_IKE_LINGER_MS = 30_000;

/** Our rekey of the IKE SA. */
export class IkeRekeyTask implements Task {
  readonly name = "IKE_REKEY";
  readonly exchange = Exchange.CREATE_CHILD_SA;
  #ike: IkeSa;
  #ks?: KeyShare;
  #ni: Uint8Array = new Uint8Array(0);
  #spi: Uint8Array = new Uint8Array(0);

  constructor(ike: IkeSa) {
    this.#ike = ike;
  }

  build(): Payload[] | undefined {
    const ike = this.#ike;
    if (ike.state !== "ESTABLISHED" || !ike.chosen?.dh) return undefined;
    ike.state = "REKEYING";
    ike.rekeyCollision = undefined;
    const group = ike.chosen.dh;
    this.#ks = generateKeyShare(group, (n) => ike.host.random(n));
    this.#ni = ike.host.random(NONCE_BYTES);
    this.#spi = ike.host.random(8);
    ike.log("IKE", 0, () => `rekeying IKE_SA ${ike.conn.name}[${ike.uniqueId}]`);
    return [
      { type: "SA", proposals: toWireProposals(ike.conn.ikeProposals, this.#spi) },
      { type: "NONCE", data: this.#ni },
      { type: "KE", group, data: this.#ks.publicValue },
    ];
  }

  process(ps: Payload[]): void {
    const ike = this.#ike;
    const ks = this.#ks;
    this.#ks = undefined;
    try {
      const err = notifies(ps).find((n) => n.notifyType <= NOTIFY_ERROR_MAX);
      const sa = find(ps, "SA"),
        nonce = find(ps, "NONCE"),
        ke = find(ps, "KE");
      const failed = (why: string): void => this.#failed(why);
      if (err || !sa || !nonce || !ke || !ks)
        return failed(err ? notifyName(err.notifyType) : "response lacks SA, Nonce or KE");
      const sel = acceptChosen(sa.proposals, ike.conn.ikeProposals);
      const peerSpi = sa.proposals[0]?.spi;
      if (!sel.ok || ke.group !== ike.chosen?.dh || peerSpi?.length !== 8) return failed("response unacceptable");
      let secret: Uint8Array;
      try {
        secret = ks.computeSecret(ke.data);
      } catch (e) {
        return failed(`KE invalid: ${(e as Error).message}`);
      }
      const ours = ike.successor(true, this.#spi, peerSpi.slice(), this.#ni, nonce.data, sel.chosen, secret);
      const theirs = ike.rekeyCollision;
      if (theirs && compareNonces(lowerNonce(this.#ni, nonce.data), theirs.lowerNonce) < 0) {
        ike.log(
          "IKE",
          0,
          () =>
            `IKE_SA rekey collision lost: our IKE_SA ${ike.conn.name}[${ours.uniqueId}] is redundant (lowest nonce), deleting it`,
        );
        ike.handOver(theirs.successor);
        ike.timer(REKEYED_IKE_LINGER_MS, () => ike.retire());
        void ours.delete();
        return;
      }
      if (theirs)
        ike.log(
          "IKE",
          0,
          () =>
            `IKE_SA rekey collision won: the peer deletes its redundant IKE_SA ${ike.conn.name}[${theirs.successor.uniqueId}]`,
        );
      ike.handOver(ours);
      ike.queue(new IkeDeleteTask(ike, { afterRekey: true }), true);
    } finally {
      ks?.wipe();
    }
  }

  /** Our exchange made no SA: the peer's, if it rekeyed at the same time, wins; else retry later. */
  #failed(why: string): void {
    const ike = this.#ike;
    const theirs = ike.rekeyCollision;
    if (theirs) {
      ike.log(
        "IKE",
        0,
        () =>
          `IKE_SA rekey failed (${why}), but the peer's rekey succeeded: its IKE_SA ${ike.conn.name}[${theirs.successor.uniqueId}] takes over`,
      );
      ike.handOver(theirs.successor);
      ike.timer(REKEYED_IKE_LINGER_MS, () => ike.retire());
      return;
    }
    ike.state = "ESTABLISHED";
    ike.log("IKE", 0, () => `IKE_SA rekey failed: ${why}; retrying in ${IKE_REKEY_RETRY_MS / 1000} s`);
    ike.retryRekey(IKE_REKEY_RETRY_MS);
  }

  timeout(): void {
    this.#ks?.wipe();
    this.#ike.fail(unreachable(this.#ike, "request"));
  }
}

/** The responder's CREATE_CHILD_SA with an IKE proposal. */
export function respondIkeRekey(ike: IkeSa, messageId: number, ps: Payload[]): void {
  const collision = ike.state === "REKEYING" && ike.tasks.active?.name === "IKE_REKEY";
  const childBusy = ike.tasks.active?.exchange === Exchange.CREATE_CHILD_SA && !collision;
  if ((ike.state !== "ESTABLISHED" && !collision) || childBusy) {
    ike.respond(Exchange.CREATE_CHILD_SA, messageId, [notify(Notify.TEMPORARY_FAILURE)]);
    return;
  }
  const sa = find(ps, "SA"),
    ke = find(ps, "KE"),
    nonce = find(ps, "NONCE");
  if (!sa || !nonce) {
    ike.respond(Exchange.CREATE_CHILD_SA, messageId, [notify(Notify.INVALID_SYNTAX)]);
    return;
  }
  const sel = selectProposal(sa.proposals, ike.conn.ikeProposals);
  if (!sel.ok || !ke) {
    ike.respond(Exchange.CREATE_CHILD_SA, messageId, [notify(Notify.NO_PROPOSAL_CHOSEN)]);
    return;
  }
  const g = sel.chosen.dh ?? 0;
  if (ke.group !== g) {
    ike.respond(Exchange.CREATE_CHILD_SA, messageId, [notify(Notify.INVALID_KE_PAYLOAD, groupBytes(g))]);
    return;
  }
  const mine = generateKeyShare(ke.group, (n) => ike.host.random(n));
  let secret: Uint8Array;
  try {
    secret = mine.computeSecret(ke.data);
  } catch {
    mine.wipe();
    ike.respond(Exchange.CREATE_CHILD_SA, messageId, [notify(Notify.INVALID_SYNTAX)]);
    return;
  }
  const ni = nonce.data;
  const nr = ike.host.random(NONCE_BYTES);
  const newSpi = ike.host.random(8);
  const peerSpi = sa.proposals.find((p) => p.num === sel.chosen.proposalNum)?.spi ?? sel.proposal.spi;
  const next = ike.successor(false, peerSpi.slice(), newSpi, ni, nr, sel.chosen, secret);
  ike.log(
    "IKE",
    0,
    () =>
      `peer rekeys IKE_SA ${ike.conn.name}[${ike.uniqueId}]: successor ${ike.conn.name}[${next.uniqueId}]${collision ? " while we rekey it too (collision)" : ""}`,
  );
  ike.respond(Exchange.CREATE_CHILD_SA, messageId, [
    { type: "SA", proposals: [{ ...sel.proposal, spi: newSpi }] },
    { type: "NONCE", data: nr },
    { type: "KE", group: ke.group, data: mine.publicValue },
  ]);
  mine.wipe();
  if (collision) {
    ike.rekeyCollision = { successor: next, lowerNonce: lowerNonce(ni, nr) };
    return;
  }
  ike.handOver(next);
  ike.timer(REKEYED_IKE_LINGER_MS, () => ike.retire()); // the peer deletes us; if its DELETE is lost, we go anyway
}
