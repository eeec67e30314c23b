// A small seeded PRNG (sfc32, seeded through splitmix32) so that every fuzz run is a function of its
// seed: a failure prints the seed and batch, and the same command reproduces it.

/** Deterministic random source: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator). */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const split = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = split();
    this.#b = split();
    this.#c = split();
    this.#d = split();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** Uniform integer in [0, n) for n >= 1 (n < 2^32; the modulo bias is irrelevant for fuzzing). */
  int(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() < p * 4294967296;
  }

  /** One element of a non-empty array. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  /** n random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    this.fill(out);
    return out;
  }

  /** Fills a buffer with random bytes. */
  fill(out: Uint8Array): void {
    for (let i = 0; i < out.length; i += 4) {
      const r = this.u32();
      out[i] = r;
      if (i + 1 < out.length) out[i + 1] = r >>> 8;
      if (i + 2 < out.length) out[i + 2] = r >>> 16;
      if (i + 3 < out.length) out[i + 3] = r >>> 24;
    }
  }

  /** Shuffles in place (Fisher–Yates). */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = xs[i];
      xs[i] = xs[j]!;
      xs[j] = t!;
    }
    return xs;
  }
}

/**
 * Runs fn with `crypto.getRandomValues` drawing from the PRNG, so that code which takes its
 * randomness from the platform (the dataplane's CBC IVs) produces the same bytes for the same seed.
 */
export function withSeededRandom<T>(rng: Prng, fn: () => T): T {
  const c = globalThis.crypto;
  const original = Object.getOwnPropertyDescriptor(c, "getRandomValues");
  Object.defineProperty(c, "getRandomValues", {
    configurable: true,
    writable: true,
    value: <V extends ArrayBufferView | null>(view: V): V => {
      if (view) rng.fill(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
      return view;
    },
  });
  try {
    return fn();
  } finally {
    if (original) Object.defineProperty(c, "getRandomValues", original);
    else delete (c as { getRandomValues?: unknown }).getRandomValues;
  }
}
