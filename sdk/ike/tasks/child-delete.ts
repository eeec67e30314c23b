/**
 * Deleting a Child SA (RFC 7296 §1.4.1): INFORMATIONAL with a Delete payload listing our inbound
 * SPI; the peer answers with its own. When both ends delete the same pair at once, neither
 * response lists it again (§1.4.1), and each end removes it when the first of the two exchanges
 * tells it to.
 * @module
 */
import type { ChildSa } from "../child-sa.ts";
import type { IkeSa, MovableTask } from "../ike-sa.ts";
import { Exchange, ProtocolId, type Payload } from "../message.ts";
import { hex, spiBytes, u32, type PayloadOf } from "../payloads.ts";
import { unreachable } from "./common.ts";

/** Our DELETE of one child. */
export class ChildDeleteTask implements MovableTask {
  readonly name = "CHILD_DELETE";
  readonly exchange = Exchange.INFORMATIONAL;
  #ike: IkeSa;
  #child: ChildSa;

  constructor(ike: IkeSa, child: ChildSa) {
    this.#ike = ike;
    this.#child = child;
  }

  build(): Payload[] | undefined {
    const ike = this.#ike,
      child = this.#child;
    if (child.state === "DELETED") return undefined;
    if (child.owner !== ike) {
      child.owner.deleteChild(child);
      return undefined;
    } // adopted by an IKE rekey meanwhile
    if (ike.children.get(child.spiIn) !== child) return undefined;
    child.state = "DELETING";
    ike.log(
      "CHD",
      0,
      () =>
        `closing CHILD_SA ${child.name}{${child.uniqueId}} with SPIs ${hex(spiBytes(child.spiIn))}_i ${hex(spiBytes(child.spiOut))}_o`,
    );
    return [{ type: "D", protocolId: ProtocolId.ESP, spiSize: 4, spis: [spiBytes(child.spiIn)] }];
  }

  process(): void {
    this.#child.owner.removeChild(this.#child, "deleted");
  }

  moveTo(ike: IkeSa): void {
    this.#ike = ike;
  }

  timeout(): void {
    this.#ike.fail(unreachable(this.#ike, "request"));
  }
}

/**
 * The responder's part of a Delete payload for ESP: removes each child the peer names and returns
 * our inbound SPIs of them for the response (none for a pair we are deleting ourselves).
 */
export function respondChildDelete(ike: IkeSa, d: PayloadOf<"D">): Uint8Array[] {
  const ours: Uint8Array[] = [];
  for (const s of d.spis) {
    const child = ike.childByPeerSpi(u32(s));
    if (!child) continue;
    ike.log("CHD", 0, () => `received DELETE for ESP CHILD_SA with SPI ${hex(s)}`);
    // The pair that replaced it (a rekey we answered, or the winner of a collision) carries our traffic now.
    const next = child.replacedBy ?? child.rekeyCollision;
    if (next && next !== child) next.owner.activateOutbound(next);
    if (child.state !== "DELETING") ours.push(spiBytes(child.spiIn));
    ike.removeChild(child, "deleted by peer");
  }
  return ours;
}
