/**
 * Deleting the IKE SA (RFC 7296 §1.4.1): INFORMATIONAL with D(IKE); every Child SA goes with it.
 * After a rekey the old SA is deleted the same way, but its children have moved to the successor.
 * @module
 */
import type { IkeSa } from "../ike-sa.ts";
import type { Task } from "../task-manager.ts";
import { Exchange, ProtocolId, type Payload } from "../message.ts";

/** Our DELETE of the IKE SA. */
export class IkeDeleteTask implements Task {
  readonly name = "IKE_DELETE";
  readonly exchange = Exchange.INFORMATIONAL;
  #ike: IkeSa;
  #done: () => void;
  #afterRekey: boolean;

  constructor(ike: IkeSa, opts: { done?: () => void; afterRekey?: boolean } = {}) {
    this.#ike = ike;
    this.#done = opts.done ?? (() => undefined);
    this.#afterRekey = opts.afterRekey ?? false;
  }

  build(): Payload[] | undefined {
    const ike = this.#ike;
    if (ike.state === "DESTROYED") {
      this.#done();
      return undefined;
    }
    if (!this.#afterRekey) {
      ike.state = "DELETING";
      ike.log(
        "IKE",
        0,
        () =>
          `deleting IKE_SA ${ike.conn.name}[${ike.uniqueId}] between ${ike.local.address}[${ike.fmtId(ike.localId)}]...${ike.remote.address}[${ike.fmtId(ike.remoteId)}]`,
      );
    }
    return [{ type: "D", protocolId: ProtocolId.IKE, spiSize: 0, spis: [] }];
  }

  process(): void {
    const ike = this.#ike;
    if (this.#afterRekey) {
      ike.retire();
      return;
    }
    ike.log("IKE", 0, "IKE_SA deleted");
    ike.teardown("deleted");
    this.#done();
  }

  timeout(): void {
    if (this.#afterRekey) {
      this.#ike.retire();
      return;
    }
    this.#ike.teardown("deleted (the peer did not answer the DELETE)");
    this.#done();
  }
}
