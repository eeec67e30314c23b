/**
 * The responder's INFORMATIONAL (RFC 7296 §1.4, §1.5): Delete payloads for Child SAs and the IKE
 * SA, AUTHENTICATION_FAILED after IKE_AUTH (§2.21.2), and empty liveness checks.
 * @module
 */
import type { IkeSa } from "../ike-sa.ts";
import { Exchange, Notify, ProtocolId, type Payload } from "../message.ts";
import { IkeError } from "../errors.ts";
import { respondChildDelete } from "./child-delete.ts";

export function respondInformational(ike: IkeSa, messageId: number, ps: Payload[]): void {
  const out: Payload[] = [];
  let deleteIke = false;
  for (const p of ps) {
    if (p.type === "D" && p.protocolId === ProtocolId.IKE) deleteIke = true;
    if (p.type === "D" && p.protocolId === ProtocolId.ESP) {
      const ours = respondChildDelete(ike, p);
      if (ours.length) out.push({ type: "D", protocolId: ProtocolId.ESP, spiSize: 4, spis: ours });
    }
    if (p.type === "N" && p.notifyType === Notify.AUTHENTICATION_FAILED) {
      ike.respond(Exchange.INFORMATIONAL, messageId, []);
      // A peer that gives up after we refused its EAP password: our refusal is the reason.
      const refused = ike.pendingAuthFailure;
      ike.fail(
        refused
          ? new IkeError("AUTHENTICATION_FAILED", `${refused} (the client gave up: AUTHENTICATION_FAILED)`)
          : new IkeError(
              "AUTHENTICATION_FAILED",
              `peer ${ike.remote.address} did not accept our authentication as '${ike.fmtId(ike.localId)}' (AUTHENTICATION_FAILED after IKE_AUTH)`,
              "remote",
            ),
      );
      return;
    }
  }
  if (deleteIke) {
    ike.log("IKE", 0, () => `received DELETE for IKE_SA ${ike.conn.name}[${ike.uniqueId}]`);
    ike.respond(Exchange.INFORMATIONAL, messageId, []);
    ike.log("IKE", 0, "IKE_SA deleted");
    const collided = ike.rekeyCollision;
    if (collided) {
      // The peer won our rekey collision (or never saw it) and deletes the old SA: its successor takes the children.
      ike.handOver(collided.successor);
      ike.retire();
      return;
    }
    if (ike.state === "REKEYED") {
      ike.retire();
      return;
    }
    ike.teardown("deleted by peer");
    return;
  }
  if (ps.length === 0) ike.log("IKE", 2, "answering liveness check (DPD)");
  ike.respond(Exchange.INFORMATIONAL, messageId, out);
}
