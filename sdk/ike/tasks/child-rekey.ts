/**
 * Rekeying a Child SA (RFC 7296 §1.3.3, §2.8): CREATE_CHILD_SA with REKEY_SA. The initiator
 * deletes the old pair once the new one is up; the responder keeps sending on the old pair until
 * that DELETE arrives, or until {@link REKEY_SWITCH_MS} passes without it.
 *
 * Collisions (§2.8.1): when both ends rekey the same child at once, both exchanges complete and
 * both ends compare the nonces. The exchange whose lower nonce is the lowest of the four created
 * the redundant pair, and the end that initiated it deletes that pair; the other end (the winner)
 * deletes the old pair. No TEMPORARY_FAILURE, no retry loop.
 * @module
 */
import type { ChildSa } from "../child-sa.ts";
import type { IkeSa, MovableTask } from "../ike-sa.ts";
import type { ChildTemplate } from "../config.ts";
import { Exchange, Notify, ProtocolId, type Payload } from "../message.ts";
import { compareNonces, find, hex, notifies, notify, spiBytes, u32 } from "../payloads.ts";
import { childRequestPayloads, newPendingChild, respondChildRequest, type PendingChild } from "./child-negotiate.ts";
import { childResponse, TEMPORARY_FAILURE_RETRY_MS } from "./child-create.ts";
import { NONCE_BYTES, unreachable } from "./common.ts";

/**
 * How long a rekey responder waits for the old pair's DELETE before it sends on the new pair
 * anyway (the initiator installed the new inbound SA before it sent the request, so the switch
 * is safe; waiting only keeps us off a pair the initiator might not have completed).
 */
export const REKEY_SWITCH_MS = 10_000;

/** Our rekey of one child. */
export class ChildRekeyTask implements MovableTask {
  readonly name = "CHILD_REKEY";
  readonly exchange = Exchange.CREATE_CHILD_SA;
  #ike: IkeSa;
  #old: ChildSa;
  #template: ChildTemplate;
  #pending?: PendingChild;

  constructor(ike: IkeSa, old: ChildSa, template?: ChildTemplate) {
    this.#ike = ike;
    this.#old = old;
    this.#template = template ?? old.template;
  }

  build(): Payload[] | undefined {
    const ike = this.#ike,
      old = this.#old;
    if (old.owner !== ike) {
      old.owner.rekeyChild(old);
      return undefined;
    } // adopted by an IKE rekey meanwhile
    if (ike.state !== "ESTABLISHED" || old.state !== "INSTALLED" || ike.children.get(old.spiIn) !== old)
      return undefined;
    old.state = "REKEYING";
    old.rekeyCollision = undefined;
    ike.log("CHD", 0, () => `rekeying CHILD_SA ${old.name}{${old.uniqueId}} (${hex(spiBytes(old.spiIn))}_i)`);
    this.#pending = newPendingChild(ike, this.#template, old, (this.#template.espProposals[0]?.dh.length ?? 0) > 0);
    return childRequestPayloads(ike, this.#pending, true);
  }

  async process(ps: Payload[]): Promise<void> {
    const ike = this.#ike,
      old = this.#old;
    if (!this.#pending) return;
    const r = await childResponse(ike, this.#pending, ps);
    const theirs = old.rekeyCollision;
    if (r.kind === "done" && r.child) return this.#completed(r.child, theirs);
    if (theirs) return this.#yield(theirs, "our rekey failed");
    if (old.state === "REKEYING") old.state = "INSTALLED";
    if (r.kind === "retry-group") ike.queue(new ChildRekeyTask(ike, old, r.template));
    else if (r.kind === "temporary-failure") {
      ike.log(
        "CHD",
        0,
        () =>
          `peer answered TEMPORARY_FAILURE; retrying the rekey of CHILD_SA ${old.name}{${old.uniqueId}} in ${TEMPORARY_FAILURE_RETRY_MS / 1000} s`,
      );
      old.after(TEMPORARY_FAILURE_RETRY_MS, () => {
        if (old.state === "INSTALLED") old.owner.rekeyChild(old);
      });
    }
  }

  /** Our new pair is up. */
  #completed(ours: ChildSa, theirs: ChildSa | undefined): void {
    const ike = this.#ike,
      old = this.#old;
    if (theirs && theirs.state !== "DELETED" && compareNonces(ours.lowerNonce, theirs.lowerNonce) < 0) {
      ike.log(
        "CHD",
        0,
        () =>
          `CHILD_SA rekey collision lost: our CHILD_SA ${ours.name}{${ours.uniqueId}} is redundant (lowest nonce), deleting it; the peer's {${theirs.uniqueId}} stays`,
      );
      ours.outboundActive = false; // keep sending on the old pair until the winner deletes it
      this.#yield(theirs, "collision lost");
      ike.deleteChild(ours);
      return;
    }
    if (theirs)
      ike.log(
        "CHD",
        0,
        () => `CHILD_SA rekey collision won: the peer deletes its redundant CHILD_SA {${theirs.uniqueId}}`,
      );
    old.replacedBy = ours;
    old.rekeyCollision = undefined;
    if (old.state === "DELETED") return;
    // We initiated the surviving rekey: the new pair carries our traffic now; delete the old one (§2.8).
    old.state = "REKEYED";
    old.owner.deleteChild(old);
  }

  /** The peer's new pair survives: it deletes the old pair, then we switch to its pair. */
  #yield(theirs: ChildSa, why: string): void {
    const old = this.#old;
    old.replacedBy = theirs;
    old.rekeyCollision = undefined;
    this.#ike.log(
      "CHD",
      1,
      () => `${why}: CHILD_SA ${theirs.name}{${theirs.uniqueId}} of the peer's rekey replaces {${old.uniqueId}}`,
    );
    if (old.state === "DELETED") {
      theirs.owner.activateOutbound(theirs);
      return;
    }
    old.state = "REKEYED";
    armSwitch(this.#ike, old, theirs);
  }

  moveTo(ike: IkeSa): void {
    this.#ike = ike;
  }

  timeout(): void {
    this.#pending?.ks?.wipe();
    this.#ike.fail(unreachable(this.#ike, "request"));
  }
}

/** The responder switches to the new pair when the old one's DELETE is overdue. */
function armSwitch(ike: IkeSa, old: ChildSa, next: ChildSa): void {
  next.after(REKEY_SWITCH_MS, () => {
    if (next.outboundActive) return;
    ike.log(
      "CHD",
      0,
      () =>
        `no DELETE for the rekeyed CHILD_SA ${old.name}{${old.uniqueId}} within ${REKEY_SWITCH_MS / 1000} s: sending on {${next.uniqueId}}`,
    );
    next.owner.activateOutbound(next);
  });
}

/** The responder's CREATE_CHILD_SA with REKEY_SA. */
export async function respondChildRekey(ike: IkeSa, messageId: number, ps: Payload[]): Promise<void> {
  const rekey = notifies(ps).find((n) => n.notifyType === Notify.REKEY_SA);
  const nonce = find(ps, "NONCE");
  if (!rekey || !find(ps, "SA") || !nonce) {
    ike.respond(Exchange.CREATE_CHILD_SA, messageId, [notify(Notify.INVALID_SYNTAX)]);
    return;
  }
  const old = rekey.spi.length === 4 ? ike.childByPeerSpi(u32(rekey.spi)) : undefined;
  if (!old) {
    ike.respond(Exchange.CREATE_CHILD_SA, messageId, [
      notify(Notify.CHILD_SA_NOT_FOUND, new Uint8Array(0), ProtocolId.ESP, rekey.spi),
    ]);
    return;
  }
  // REKEYING means our own rekey of this child is in flight: a collision, answered like any rekey
  // and resolved by the nonces when our response arrives. A pair already rekeyed or being deleted
  // is not rekeyed again (§2.25).
  const collision = old.state === "REKEYING";
  if (old.state !== "INSTALLED" && !collision) {
    ike.respond(Exchange.CREATE_CHILD_SA, messageId, [notify(Notify.TEMPORARY_FAILURE)]);
    return;
  }
  ike.log(
    "CHD",
    0,
    () => `peer rekeys CHILD_SA ${old.name}{${old.uniqueId}}${collision ? " while we rekey it too (collision)" : ""}`,
  );
  const nr = ike.host.random(NONCE_BYTES);
  const res = await respondChildRequest(ike, ps, nonce.data, nr, old, false);
  ike.respond(Exchange.CREATE_CHILD_SA, messageId, res.payloads);
  const next = res.child;
  if (!next) return;
  if (collision) old.rekeyCollision = next;
  else {
    old.state = "REKEYED";
    old.replacedBy = next;
    armSwitch(ike, old, next);
  }
  ike.announceChild(next, old);
}
