// CBC encryption is serial within a packet, so one packet fills only 1 of the 8 lanes of the
// bitsliced AES core. Here up to 8 packets of the same SA are chained side by side: lane k
// carries packet k, and every AES pass advances all of them by one block. Lanes whose packet
// is shorter are fed zeros (their result is discarded); which lanes are busy depends only
// on packet lengths, which are public.
import { aesEncrypt8 } from "../crypto/aes";

export const CBC_LANES: i32 = 8;
// Per lane: [data ptr u32, length u32, chain ptr u32 (IV, then last ciphertext block)].
const lanes = memory.data(CBC_LANES * 12, 16);
const blocks = memory.data(CBC_LANES * 16, 16);
let count: i32 = 0;

/** Number of packets waiting. */
export function cbcPending(): i32 { return count; }

/** Queues `len` bytes (a multiple of 16) at `data` to be encrypted in place with the IV at `iv`. */
export function cbcQueue(data: usize, len: i32, iv: usize): void {
  const l = lanes + <usize>count * 12;
  store<u32>(l, <u32>data);
  store<u32>(l, <u32>len, 4);
  store<u32>(l, <u32>iv, 8);
  count++;
}

/** Encrypts every queued packet with one key schedule and empties the queue. */
export function cbcFlush(ks: usize, rounds: i32): void {
  let maxLen = 0;
  for (let k = 0; k < count; k++) maxLen = max(maxLen, <i32>load<u32>(lanes + <usize>k * 12, 4));
  for (let off = 0; off < maxLen; off += 16) {
    for (let k = 0; k < CBC_LANES; k++) {
      const l = lanes + <usize>k * 12;
      const b = blocks + (<usize>k << 4);
      if (k < count && off < <i32>load<u32>(l, 4)) {
        const p = <usize>load<u32>(l) + <usize>off;
        v128.store(b, v128.xor(v128.load(p), v128.load(<usize>load<u32>(l, 8))));
      } else {
        v128.store(b, i32x4.splat(0));
      }
    }
    aesEncrypt8(ks, rounds, blocks, blocks);
    for (let k = 0; k < count; k++) {
      const l = lanes + <usize>k * 12;
      if (off < <i32>load<u32>(l, 4)) {
        const p = <usize>load<u32>(l) + <usize>off;
        v128.store(p, v128.load(blocks + (<usize>k << 4)));
        store<u32>(l, <u32>p, 8);
      }
    }
  }
  count = 0;
}
