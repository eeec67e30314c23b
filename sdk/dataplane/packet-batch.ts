/**
 * {@link PacketBatch}: the zero-copy batch interface of a Dataplane (sdk/dataplane/dataplane.ts).
 * @module
 */
import { D_NEXT_HDR, D_SA, D_SEQ, D_SPI, D_STATUS } from "./abi.generated.ts";
import { STATUS_NAMES, type SaHandle, type Status } from "./types.ts";

/** What a batch needs of its Dataplane: its descriptor table and arena (internal). */
export interface BatchHost {
  _stage(b: PacketBatch, bytes: Uint8Array, sa: SaHandle, l3: number, dummy: boolean): number;
  _u32(i: number, field: number): number;
  _u64(i: number, field: number): bigint;
  _output(i: number): Uint8Array;
}

/**
 * A batch of packets in the wasm packet arena: add packets (one copy in), run one
 * encapsulate/decapsulate call for all of them, then read statuses and zero-copy output views.
 */
export class PacketBatch {
  /** Packets added since the last reset. */
  length = 0;
  /** @internal true when an added packet uses a CBC SA (needs random IVs). */
  needsIv = false;
  /** @internal bytes of the packets added (native AES dispatch). */
  bytes = 0;
  readonly #dp: BatchHost;
  /** @internal */
  constructor(dp: BatchHost) {
    this.#dp = dp;
  }

  /** Empties the batch (outputs of the previous run become invalid). */
  reset(): void {
    this.length = 0;
    this.needsIv = false;
    this.bytes = 0;
  }

  /**
   * Copies a packet into the next arena slot. For encapsulation `sa` is the outbound SA's handle;
   * for decapsulation `l3HeaderLength` is the number of IP (+UDP) header bytes before the SPI.
   * Returns the packet's index in the batch. Packets larger than the slot are not copied and come
   * back with status `too-big`.
   */
  add(bytes: Uint8Array, sa: SaHandle = -1, l3HeaderLength = 0): number {
    return this.#dp._stage(this, bytes, sa, l3HeaderLength, false);
  }

  /**
   * Adds a dummy packet for encapsulation (RFC 4303 §2.6: Next Header 59, discarded by the
   * receiver): `length` zero bytes of payload (then TFC padding, if the SA has it), on a
   * tunnel-mode outbound SA. Returns its index in the batch.
   */
  addDummy(length: number, sa: SaHandle): number {
    return this.#dp._stage(this, new Uint8Array(length), sa, 0, true);
  }

  /** Verdict of packet i after a run. */
  status(i: number): Status {
    return STATUS_NAMES[this.#dp._u32(i, D_STATUS)] ?? "invalid-sa";
  }
  /** Output bytes of packet i: a view into wasm memory, valid until the next run or reset. Empty unless ok. */
  output(i: number): Uint8Array {
    return this.#dp._output(i);
  }
  /** Sequence number of packet i (64-bit with ESN). */
  seq(i: number): bigint {
    return this.#dp._u64(i, D_SEQ);
  }
  /** SPI of packet i. */
  spi(i: number): number {
    return this.#dp._u32(i, D_SPI);
  }
  /** SA handle that processed packet i, or -1. */
  sa(i: number): SaHandle {
    return this.#dp._u32(i, D_SA) | 0;
  }
  /** Next Header of packet i (from the ESP trailer). */
  nextHeader(i: number): number {
    return this.#dp._u32(i, D_NEXT_HDR);
  }
}
