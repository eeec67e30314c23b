// Our side of the comparison: the zero-copy batch path of the dataplane. Every step copies N inner
// packets into the wasm arena, makes ONE runEncapsulate/runDecapsulate call and copies every output
// out again (a real sender must hand the bytes to a socket), so both copies are in the measurement.
import { Dataplane } from "../sdk/dataplane/dataplane.ts";
import type { SaHandle } from "../sdk/dataplane/types.ts";
import { type BaselineSa, type BenchSuite, SUITE_KEYS } from "./baselines/esp-layout.ts";
import type { Step } from "./measure.ts";

/** One dataplane with an outbound and an inbound SA of the same keys (tunnel mode, no ESN). */
export interface OurEndpoint {
  dp: Dataplane;
  out: SaHandle;
  /** Replay protection off (replayWindow 0), so a ring of packets can be decapsulated over and over. */
  in: SaHandle;
}

/** Arena capacity: the largest batch the benchmark runs. */
export const MAX_BATCH = 256;

let pinned: WebAssembly.Module | undefined;
/**
 * Compiles build/dataplane.wasm once, so every dataplane of a run uses the same build even when
 * the file is rebuilt while the benchmark runs. Returns the SHA-256 of the bytes measured.
 */
export async function pinDataplaneModule(): Promise<string> {
  const { readFileSync } = await import("node:fs");
  const { createHash } = await import("node:crypto");
  const bytes = readFileSync(new URL("../build/dataplane.wasm", import.meta.url));
  pinned = await WebAssembly.compile(bytes);
  return createHash("sha256").update(bytes).digest("hex");
}

/** Options for Dataplane.create with the pinned module (when pinned). */
export function dataplaneOptions(
  maxSas: number,
  batchSize: number,
): { maxSas: number; batchSize: number; module?: WebAssembly.Module } {
  return pinned ? { maxSas, batchSize, module: pinned } : { maxSas, batchSize };
}

/**
 * A fresh dataplane with the outbound and inbound SA of `sa` for `suite`; `nativeAes` false keeps
 * AES-GCM on the pure-wasm AES (what workerd and browsers run), true is the default dispatch. The HMAC suites
 * (aes128-sha256, aes128ctr-sha256) say their 16-byte ICV (RFC 4868) explicitly, as the baselines use it.
 */
export async function createOurEndpoint(suite: BenchSuite, sa: BaselineSa, nativeAes = true): Promise<OurEndpoint> {
  const dp = await Dataplane.create({ ...dataplaneOptions(16, MAX_BATCH), nativeAes });
  const common = { spi: sa.spi, mode: "tunnel", esp: suite, encKey: sa.encKey, integKey: sa.integKey } as const;
  const icv = SUITE_KEYS[suite].integKey ? { icvLength: 16 as const } : {};
  const out = dp.addSa({ ...common, ...icv, direction: "out" });
  const inbound = dp.addSa({ ...common, ...icv, direction: "in", replayWindow: 0 });
  return { dp, out, in: inbound };
}

/** ESP packets (SPI..ICV) for `inners`, made by our encoder, with increasing sequence numbers. */
export function encapsulateRing(ep: OurEndpoint, inners: readonly Uint8Array[]): Uint8Array[] {
  return ep.dp.encapsulateBatch(ep.out, [...inners]).map((r, i) => {
    if (r.status !== "ok" || !r.packet) throw new Error(`our encapsulation of ring packet ${i} failed: ${r.status}`);
    return r.packet.slice();
  });
}

/** Where the benchmark copies each output, standing in for the socket write. */
const sink = new Uint8Array(65536);

function batchStep(
  ep: Pick<OurEndpoint, "dp" | "out">,
  ring: readonly Uint8Array[],
  batchSize: number,
  direction: "encap" | "decap",
): Step {
  const { dp } = ep;
  const b = dp.batch;
  const sa = direction === "encap" ? ep.out : -1;
  let next = 0;
  return () => {
    b.reset();
    for (let i = 0; i < batchSize; i++) {
      b.add(ring[next]!, sa);
      next = next + 1 === ring.length ? 0 : next + 1;
    }
    if (direction === "encap") dp.runEncapsulate(b);
    else dp.runDecapsulate(b);
    for (let i = 0; i < batchSize; i++) {
      if (b.status(i) !== "ok") throw new Error(`our ${direction} dropped a packet: ${b.status(i)}`);
      sink.set(b.output(i));
    }
    return batchSize;
  };
}

/** A step that encapsulates `batchSize` packets taken from `inners` in turn. */
export function ourEncapStep(ep: OurEndpoint, inners: readonly Uint8Array[], batchSize: number): Step {
  return batchStep(ep, inners, batchSize, "encap");
}

/** A step that decapsulates `batchSize` packets taken from `espRing` in turn (packets found by SPI). */
export function ourDecapStep(ep: Pick<OurEndpoint, "dp">, espRing: readonly Uint8Array[], batchSize: number): Step {
  return batchStep({ dp: ep.dp, out: -1 }, espRing, batchSize, "decap");
}
