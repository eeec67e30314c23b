// HMAC-SHA-256 ICVs of a batch four packets at a time: jobs are queued as packets reach their
// MAC and run through hmacSha256Mac4x (4-lane v128 SHA-256) when four are waiting; fewer left at
// the end of a batch go through hmacMac one by one. Encap queues the ICV of every HMAC-SHA-256
// packet (CBC after its 8-lane encryption, CTR and NULL right away); decap queues the expected
// ICV of every HMAC-SHA-256 packet and compares it in a second pass over the batch, in order
// (decap.ts decapPendingFinish), before anything is decrypted.
//
// Constant time: hmac.ts's compressions are branch- and table-free; the lanes, the queue and the
// flush branch on lengths, counts and the ESN flag only, all public.
import { HASH_SHA256 } from "../abi";
import { hmacMac, hmacSha256Mac4x, HMAC4_JOB_BYTES } from "../crypto/hmac";
import { storeBe32 } from "./ip";

const JOBS: usize = memory.data(4 * HMAC4_JOB_BYTES, 16);
/** Per lane: seq-hi (big-endian, the ESN `b` part), destination of the truncated ICV, its length. */
const SEQHI: usize = memory.data(4 * 16, 16);
const MACS: usize = memory.data(4 * 32, 16);
const DEST: usize = memory.data(4 * 8, 16);
let queued: i32 = 0;

/**
 * Queues HMAC-SHA-256(ctx, a[0..aLen) ‖ seq-hi if esn) into `out` (32 bytes); with `dest` != 0
 * the MAC goes to scratch and its first `icvLen` bytes to `dest` instead.
 */
export function hmacQueue(ctx: usize, a: usize, aLen: i32, seqHi: u32, esn: bool, out: usize, dest: usize, icvLen: i32): void {
  const j = JOBS + <usize>(queued * HMAC4_JOB_BYTES);
  const b = SEQHI + (<usize>queued << 4);
  storeBe32(b, seqHi);
  store<u32>(j, <u32>ctx);
  store<u32>(j, <u32>a, 4);
  store<u32>(j, <u32>aLen, 8);
  store<u32>(j, <u32>b, 12);
  store<u32>(j, esn ? 4 : 0, 16);
  store<u32>(j, <u32>(dest != 0 ? MACS + (<usize>queued << 5) : out), 20);
  store<u32>(DEST + (<usize>queued << 3), <u32>dest);
  store<u32>(DEST + (<usize>queued << 3), <u32>icvLen, 4);
  queued++;
  if (queued == 4) hmacFlush();
}

/** Runs every queued job (four at once when four are waiting). */
export function hmacFlush(): void {
  if (queued == 0) return;
  if (queued == 4) {
    hmacSha256Mac4x(JOBS);
  } else {
    for (let k = 0; k < queued; k++) {
      const j = JOBS + <usize>(k * HMAC4_JOB_BYTES);
      hmacMac(HASH_SHA256, <usize>load<u32>(j), <usize>load<u32>(j, 4), <i32>load<u32>(j, 8),
        <usize>load<u32>(j, 12), <i32>load<u32>(j, 16), <usize>load<u32>(j, 20));
    }
  }
  for (let k = 0; k < queued; k++) {
    const dest = <usize>load<u32>(DEST + (<usize>k << 3));
    if (dest != 0) memory.copy(dest, MACS + (<usize>k << 5), <usize>load<u32>(DEST + (<usize>k << 3), 4));
  }
  queued = 0;
}

// ---- decap: per-descriptor expected ICVs, compared in the second pass ----

/** Per descriptor: [queued u32, seq-hi used u32, pad 8][HMAC-SHA-256 32 bytes]. */
const DESC_STATE_BYTES: usize = 48;
let descState: usize = 0;

/** Reserves the per-descriptor region for batches of up to nBatch packets (init). */
export function hmacLanesInit(nBatch: i32): void {
  descState = heap.alloc(<usize>nBatch * DESC_STATE_BYTES);
  memory.fill(descState, 0, <usize>nBatch * DESC_STATE_BYTES);
}

/** Descriptor i's state block. */
export function hmacStateOf(i: i32): usize {
  return descState + <usize>i * DESC_STATE_BYTES;
}
