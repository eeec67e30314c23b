// Deliberately broken decapsulators for the harness's self-check: each wraps the real dataplane
// and breaks one promise, and the invariant checker must report it.
import { dataplaneDecap, type Decapper } from "./esp-fuzz.ts";

/** A broken ICV compare: the first mutant that failed its ICV comes back `ok` with its bytes as payload. */
export function forgingDecap(): { decap: Decapper; forged: () => number } {
  let forged = 0;
  const decap: Decapper = (dp, staged) => {
    const v = dataplaneDecap(dp, staged);
    if (forged) return v;
    const i = v.findIndex((x, k) => x.status === "integrity-failed" && staged[k]!.kind === "mutant");
    if (i >= 0) {
      v[i] = { ...v[i]!, status: "ok", payload: staged[i]!.bytes.slice(16) };
      forged++;
    }
    return v;
  };
  return { decap, forged: () => forged };
}

/** A leak: the first packet that failed its ICV keeps bytes in its output. */
export function leakingDecap(): Decapper {
  let leaked = false;
  return (dp, staged) => {
    const v = dataplaneDecap(dp, staged);
    if (leaked) return v;
    const i = v.findIndex((x) => x.status === "integrity-failed");
    if (i >= 0) {
      v[i] = { ...v[i]!, payload: new Uint8Array(32) };
      leaked = true;
    }
    return v;
  };
}

/** A replay check that lets one duplicate through: the first `replay` verdict becomes `ok`. */
export function replayHoleDecap(): Decapper {
  let done = false;
  return (dp, staged) => {
    const v = dataplaneDecap(dp, staged);
    if (done) return v;
    const i = v.findIndex((x, k) => x.status === "replay" && staged[k]!.kind === "replayed");
    if (i >= 0) {
      v[i] = { ...v[i]!, status: "ok", payload: staged[i]!.bytes.slice(8) };
      done = true;
    }
    return v;
  };
}

/** Decrypt-in-place without a wipe: the first packet that failed its ICV leaves changed bytes in its slot. */
export function dirtyArenaDecap(): Decapper {
  let done = false;
  return (dp, staged) => {
    const v = dataplaneDecap(dp, staged);
    if (done) return v;
    const i = v.findIndex((x) => x.status === "integrity-failed" && x.arena !== undefined && x.arena.length > 24);
    if (i >= 0) {
      for (let k = 16; k < 24; k++) v[i]!.arena![k] = staged[i]!.bytes[k]! ^ 0x5a;
      done = true;
    }
    return v;
  };
}
