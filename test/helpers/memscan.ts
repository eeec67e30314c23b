// Searches a live process's writable memory for byte strings (root, or the same user with
// ptrace allowed): /proc/PID/maps for the rw regions, /proc/PID/mem to read them. Used to prove
// that keys of deleted SAs do not linger anywhere in a daemon's memory.
import { closeSync, openSync, readFileSync, readSync } from "node:fs";

/** How many times each needle occurs in the writable memory of `pid`. */
export function scanMemory(pid: number, needles: Uint8Array[]): number[] {
  const counts = needles.map(() => 0);
  const maps = readFileSync(`/proc/${pid}/maps`, "utf8").split("\n");
  const fd = openSync(`/proc/${pid}/mem`, "r");
  const chunk = Buffer.alloc(16 << 20);
  const bufs = needles.map((n) => Buffer.from(n.buffer, n.byteOffset, n.length)); // views: no copy of what we search for
  const overlap = Math.max(...needles.map((n) => n.length)) - 1;
  try {
    for (const line of maps) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) (rw)/.exec(line);
      if (!m) continue;
      const start = BigInt(`0x${m[1]}`),
        end = BigInt(`0x${m[2]}`);
      if (end - start > 4n << 30n) continue; // reservations, not memory
      for (let at = start; at < end; at += BigInt(chunk.length - overlap)) {
        const want = Number(end - at < BigInt(chunk.length) ? end - at : BigInt(chunk.length));
        let got = 0;
        try {
          got = readSync(fd, chunk, 0, want, at);
        } catch {
          break;
        }
        if (got <= 0) break;
        const view = chunk.subarray(0, got);
        // Chunks overlap by the longest needle less one byte, so a match across a boundary is found
        // (and may be counted twice: callers test for zero).
        bufs.forEach((b, i) => {
          for (let k = view.indexOf(b); k >= 0; k = view.indexOf(b, k + 1)) counts[i]! += 1;
        });
        if (got < want) break;
      }
    }
  } finally {
    closeSync(fd);
  }
  return counts;
}
