// The last step of every delivered inbound packet, ESP (decap.ts) and AH (ah.ts): output
// descriptor, counters, lifetime check. Below both, so neither imports the other.
import { D_OUT_OFF, D_OUT_LEN, M_PACKETS, M_BYTES, M_LIM_PACKETS, M_LIM_BYTES, ST_OK } from "../abi";
import { lifetimeCross } from "../sad/lifetime";

/** Output descriptor, counters and the lifetime check of a delivered packet (ESP and AH). */
export function deliver(d: usize, meta: usize, out: usize, outLen: i32): u32 {
  store<u32>(d, <u32>out, D_OUT_OFF);
  store<u32>(d, <u32>outLen, D_OUT_LEN);
  const packets = load<u64>(meta, M_PACKETS) + 1;
  const bytes = load<u64>(meta, M_BYTES) + <u64>outLen;
  store<u64>(meta, packets, M_PACKETS);
  store<u64>(meta, bytes, M_BYTES);
  if (packets >= load<u64>(meta, M_LIM_PACKETS) || bytes >= load<u64>(meta, M_LIM_BYTES)) lifetimeCross(meta);
  return ST_OK;
}
