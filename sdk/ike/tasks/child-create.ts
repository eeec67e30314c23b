/**
 * CREATE_CHILD_SA for an additional Child SA (RFC 7296 §1.3.1). The initiator follows an
 * INVALID_KE_PAYLOAD to the group the peer asks for and retries after TEMPORARY_FAILURE (§2.25).
 * @module
 */
import type { ChildSa } from "../child-sa.ts";
import type { IkeSa, MovableTask } from "../ike-sa.ts";
import type { ChildTemplate } from "../config.ts";
import { Exchange, Notify, NOTIFY_ERROR_MAX, type Payload } from "../message.ts";
import { IkeError } from "../errors.ts";
import { find, groupName, hasNotify, notifies, notify } from "../payloads.ts";
import {
  childRequestPayloads,
  completeChild,
  newPendingChild,
  respondChildRequest,
  type PendingChild,
} from "./child-negotiate.ts";
import { NONCE_BYTES, unreachable } from "./common.ts";

/** Wait before retrying a CREATE_CHILD_SA the peer answered with TEMPORARY_FAILURE. */
export const TEMPORARY_FAILURE_RETRY_MS = 2000;

/** The outcome of a CREATE_CHILD_SA response, for a new child or a rekey. */
export type ChildResponse =
  { kind: "retry-group"; template: ChildTemplate } | { kind: "temporary-failure" } | { kind: "done"; child?: ChildSa };

/** Handles a CREATE_CHILD_SA response for `c` (shared by {@link ChildCreateTask} and the rekey task). */
export async function childResponse(ike: IkeSa, c: PendingChild, ps: Payload[]): Promise<ChildResponse> {
  const t = c.template;
  const inv = notifies(ps).find((n) => n.notifyType === Notify.INVALID_KE_PAYLOAD);
  if (inv && c.ks) {
    const g = ((inv.data[0] ?? 0) << 8) | (inv.data[1] ?? 0);
    ike.log("IKE", 0, () => `peer requested PFS group ${groupName(g)} instead of ${groupName(c.group ?? 0)}`);
    c.ks.wipe();
    if (!t.espProposals.some((s) => s.dh.includes(g))) {
      ike.childFailed(
        new IkeError(
          "INVALID_KE_PAYLOAD",
          `peer demands PFS group ${groupName(g)}, which esp_proposals of '${t.name}' do not contain`,
          "remote",
        ),
      );
      return { kind: "done" };
    }
    return {
      kind: "retry-group",
      template: {
        ...t,
        espProposals: t.espProposals.map((s) =>
          s.dh.includes(g) ? { ...s, dh: [g, ...s.dh.filter((x) => x !== g)] } : s,
        ),
      },
    };
  }
  if (hasNotify(ps, Notify.TEMPORARY_FAILURE)) {
    c.ks?.wipe();
    return { kind: "temporary-failure" };
  }
  const nonce = find(ps, "NONCE");
  if (!nonce && !notifies(ps).some((n) => n.notifyType <= NOTIFY_ERROR_MAX)) {
    c.ks?.wipe();
    ike.childFailed(new IkeError("INVALID_SYNTAX", "CREATE_CHILD_SA response lacks a nonce", "remote"));
    return { kind: "done" };
  }
  return { kind: "done", child: await completeChild(ike, c, ps, false, c.nonce, nonce?.data ?? new Uint8Array(0)) };
}

/** An additional Child SA, initiated by us. */
export class ChildCreateTask implements MovableTask {
  readonly name = "CHILD_CREATE";
  readonly exchange = Exchange.CREATE_CHILD_SA;
  #ike: IkeSa;
  #template: ChildTemplate;
  #pending?: PendingChild;

  constructor(ike: IkeSa, t: ChildTemplate) {
    this.#ike = ike;
    this.#template = t;
  }

  build(): Payload[] | undefined {
    const ike = this.#ike;
    if (ike.state !== "ESTABLISHED") return undefined;
    const t = this.#template;
    this.#pending = newPendingChild(ike, t, undefined, (t.espProposals[0]?.dh.length ?? 0) > 0);
    return childRequestPayloads(ike, this.#pending, true);
  }

  async process(ps: Payload[]): Promise<void> {
    const ike = this.#ike;
    if (!this.#pending) return;
    const r = await childResponse(ike, this.#pending, ps);
    if (r.kind === "retry-group") ike.queue(new ChildCreateTask(ike, r.template));
    else if (r.kind === "temporary-failure") {
      ike.log("CHD", 0, () => `peer answered TEMPORARY_FAILURE; retrying in ${TEMPORARY_FAILURE_RETRY_MS / 1000} s`);
      ike.timer(TEMPORARY_FAILURE_RETRY_MS, () => ike.createChild(this.#template));
    }
  }

  moveTo(ike: IkeSa): void {
    this.#ike = ike;
  }

  timeout(): void {
    this.#pending?.ks?.wipe();
    this.#ike.fail(unreachable(this.#ike, "request"));
  }
}

/** The responder's CREATE_CHILD_SA for a new child. */
export async function respondChildCreate(ike: IkeSa, messageId: number, ps: Payload[]): Promise<void> {
  const nonce = find(ps, "NONCE");
  if (!find(ps, "SA") || !nonce) {
    ike.respond(Exchange.CREATE_CHILD_SA, messageId, [notify(Notify.INVALID_SYNTAX)]);
    return;
  }
  const nr = ike.host.random(NONCE_BYTES);
  const res = await respondChildRequest(ike, ps, nonce.data, nr, undefined, false);
  ike.respond(Exchange.CREATE_CHILD_SA, messageId, res.payloads);
  if (res.child) ike.announceChild(res.child);
}
