/**
 * What several exchanges share: the nonce length and the error for a request that got no answer.
 * @module
 */
import type { IkeSa } from "../ike-sa.ts";
import { IkeError } from "../errors.ts";

/** Nonce length (§2.10: at least half the PRF key size; strongSwan sends 32 bytes). */
export const NONCE_BYTES = 32;

/** The error for a request that got no answer after every retransmit. */
export function unreachable(ike: IkeSa, what: string): IkeError {
  const r = ike.conn.retransmit;
  let total = 0;
  for (let i = 0; i <= r.tries; i++) total += r.timeoutMs * r.base ** i;
  const code = ike.state === "ESTABLISHED" || ike.state === "REKEYING" ? "PEER_DEAD" : "PEER_UNREACHABLE";
  return new IkeError(
    code,
    `no answer to ${what} from ${ike.remote.address}[${ike.remote.port}] (sent from ${ike.local.address}[${ike.local.port}]) ` +
      `after ${r.tries} retransmits over ${(total / 1000).toFixed(1)} s: the peer is down, or UDP 500/4500 is blocked on the way`,
  );
}
