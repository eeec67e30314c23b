/**
 * Dead peer detection (RFC 7296 §2.4): an empty INFORMATIONAL request when nothing was heard from
 * the peer for dpd_delay; no answer after every retransmit and the peer is declared dead.
 * @module
 */
import type { IkeSa } from "../ike-sa.ts";
import type { Task } from "../task-manager.ts";
import { Exchange, type Payload } from "../message.ts";
import { IkeError } from "../errors.ts";

/** One liveness check. */
export class DpdTask implements Task {
  readonly name = "DPD";
  readonly exchange = Exchange.INFORMATIONAL;
  #ike: IkeSa;

  constructor(ike: IkeSa) {
    this.#ike = ike;
  }

  build(): Payload[] | undefined {
    return this.#ike.state === "ESTABLISHED" ? [] : undefined;
  }

  process(): void {
    this.#ike.log("IKE", 2, "liveness check answered");
  }

  timeout(): void {
    const ike = this.#ike;
    ike.fail(
      new IkeError(
        "PEER_DEAD",
        `peer ${ike.remote.address}[${ike.remote.port}] did not answer the liveness check (DPD) after ${ike.conn.retransmit.tries} retransmits: considered dead, IKE_SA and its CHILD_SAs removed`,
      ),
    );
  }
}
