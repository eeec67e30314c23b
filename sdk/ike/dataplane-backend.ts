/**
 * The {@link ChildBackend} on the wasm {@link Dataplane}: a Child SA becomes an inbound and an
 * outbound SA with the child's suite, mode, replay window, volume lifetimes and TFC padding. It
 * remembers which SAs belong to which child, so decapsulated packets and lifetime events find
 * their child again.
 * @module
 */
import type { Dataplane } from "../dataplane/dataplane.ts";
import type { LifetimeLimits, SaConfig, SaHandle, SaLifetime } from "../dataplane/types.ts";
import { parseSuite } from "../dataplane/suites.ts";
import type { ChildBackend } from "./backend.ts";
import type { ChildSa, ChildSaKeys } from "./child-sa.ts";
import type { Endpoint } from "./payloads.ts";
import { IkeError } from "./errors.ts";
import { secretPiece } from "../dataplane/control-crypto.ts";

/** A copy of key material in memory the garbage collector does not move (see secretPiece). */
function secretCopy(k: Uint8Array): Uint8Array {
  const c = secretPiece(k.length);
  c.set(k);
  return c;
}

/** One direction of a Child SA with its keys, as {@link DataplaneBackend} reports them to a key log. */
export interface ChildKeys {
  child: ChildSa;
  direction: "in" | "out";
  spi: number;
  /** Outer source and destination of the packets this SA protects. */
  src: string;
  dst: string;
  /** Dataplane suite keyword (e.g. `aes128gcm16`, `aes128-sha256`). */
  suite: string;
  /** Encryption key (for AEAD suites the key followed by the 4-byte salt), integrity key (empty for AEAD). */
  encKey: Uint8Array;
  integKey: Uint8Array;
}

/** The SAs of one installed child. */
export interface InstalledChild {
  in: SaHandle;
  out?: SaHandle;
  /** Outbound keys waiting for activateOutbound (a rekey responder). */
  outKeys?: { enc: Uint8Array; integ: Uint8Array };
  path: { local: Endpoint; remote: Endpoint };
  lastInbound: number;
}

/** Child SAs in the wasm dataplane. */
export class DataplaneBackend implements ChildBackend {
  readonly #dp: Dataplane;
  readonly #random: (n: number) => Uint8Array;
  readonly #now: () => number;
  readonly #keyLog?: (rec: ChildKeys) => void;
  readonly #children = new Map<ChildSa, InstalledChild>();

  constructor(
    dp: Dataplane,
    opts: { random: (n: number) => Uint8Array; now: () => number; keyLog?: (rec: ChildKeys) => void },
  ) {
    this.#dp = dp;
    this.#random = opts.random;
    this.#now = opts.now;
    this.#keyLog = opts.keyLog;
  }

  allocateSpi(): number {
    for (let i = 0; i < 1000; i++) {
      const b = this.#random(4);
      const spi = ((((b[0] ?? 0) | 0xc0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0;
      if (this.#dp.lookup(spi) < 0 && ![...this.#children.keys()].some((c) => c.spiIn === spi)) return spi;
    }
    throw new IkeError("INTERNAL", "no free SPI found after 1000 tries");
  }

  installChild(
    child: ChildSa,
    keys: ChildSaKeys,
    outbound: boolean,
    path: { local: Endpoint; remote: Endpoint },
  ): void {
    const aead = !hasIntegKey(child.suite);
    const replayWindow = Math.min(4096, Math.max(32, child.template.replayWindow || 32));
    const hIn = this.#dp.addSa({
      mode: child.mode,
      esp: child.suite,
      esn: child.esn,
      spi: child.spiIn,
      direction: "in",
      encKey: keys.encIn,
      integKey: aead ? undefined : keys.integIn,
      replayWindow,
      lifetime: volumeLifetime(child),
    });
    const log = this.#keyLog;
    if (log) {
      const empty = new Uint8Array(0);
      log({
        child,
        suite: child.suite,
        direction: "in",
        spi: child.spiIn,
        src: path.remote.address,
        dst: path.local.address,
        encKey: secretCopy(keys.encIn),
        integKey: aead ? empty : secretCopy(keys.integIn),
      });
      log({
        child,
        suite: child.suite,
        direction: "out",
        spi: child.spiOut,
        src: path.local.address,
        dst: path.remote.address,
        encKey: secretCopy(keys.encOut),
        integKey: aead ? empty : secretCopy(keys.integOut),
      });
    }
    const inst: InstalledChild = { in: hIn, path, lastInbound: this.#now() };
    const out = { enc: secretCopy(keys.encOut), integ: secretCopy(keys.integOut) };
    if (outbound) inst.out = this.#addOutbound(child, out, path);
    else inst.outKeys = out;
    this.#children.set(child, inst);
    child.handles = { in: hIn, out: inst.out };
  }

  #addOutbound(child: ChildSa, k: { enc: Uint8Array; integ: Uint8Array }, path: { remote: Endpoint }): SaHandle {
    const aead = !hasIntegKey(child.suite);
    const h = this.#dp.addSa({
      mode: child.mode,
      esp: child.suite,
      esn: child.esn,
      spi: child.spiOut,
      direction: "out",
      encKey: k.enc,
      integKey: aead ? undefined : k.integ,
      lifetime: volumeLifetime(child),
      ...tfcPadding(child, path.remote),
    });
    k.enc.fill(0);
    k.integ.fill(0);
    return h;
  }

  activateOutbound(child: ChildSa): void {
    const inst = this.#children.get(child);
    if (!inst || inst.out !== undefined || !inst.outKeys) return;
    inst.out = this.#addOutbound(child, inst.outKeys, inst.path);
    inst.outKeys = undefined;
    child.handles = { in: inst.in, out: inst.out };
  }

  removeChild(child: ChildSa): void {
    const inst = this.#children.get(child);
    if (!inst) return;
    this.#dp.removeSa(inst.in);
    if (inst.out !== undefined) this.#dp.removeSa(inst.out);
    inst.outKeys?.enc.fill(0);
    inst.outKeys?.integ.fill(0);
    this.#children.delete(child);
  }

  /** The SAs of a child, if installed. */
  installed(child: ChildSa): InstalledChild | undefined {
    return this.#children.get(child);
  }

  /** Every installed child with its SAs. */
  entries(): IterableIterator<[ChildSa, InstalledChild]> {
    return this.#children.entries();
  }
}

/**
 * rekey_bytes/rekey_packets as the dataplane's soft limits and life_bytes/life_packets as its hard
 * ones, per SA and direction as the kernel counts them. Time limits are the ChildSa's own timers.
 */
function volumeLifetime(child: ChildSa): SaLifetime | undefined {
  const t = child.template;
  if (t.rekeyBytes <= 0 && t.rekeyPackets <= 0 && t.lifeBytes <= 0 && t.lifePackets <= 0) return undefined;
  const soft = limits(t.rekeyBytes, t.rekeyPackets);
  const hard = limits(t.lifeBytes, t.lifePackets);
  return soft || hard ? { ...(soft ? { soft } : {}), ...(hard ? { hard } : {}) } : undefined;
}

function limits(bytes: number, packets: number): LifetimeLimits | undefined {
  return bytes > 0 || packets > 0
    ? { ...(bytes > 0 ? { bytes } : {}), ...(packets > 0 ? { packets } : {}) }
    : undefined;
}

/**
 * swanctl's `tfc_padding` for the outbound SA (RFC 4303 §2.7, tunnel mode only, as in strongSwan):
 * "mtu" pads to what fits a 1500-byte path inside UDP encapsulation, which we always use.
 */
function tfcPadding(child: ChildSa, remote: Endpoint): Pick<SaConfig, "tfc" | "pathMtu" | "outer"> {
  const t = child.template.tfcPadding;
  if (t === undefined || child.mode !== "tunnel") return {};
  if (t !== "mtu") return { tfc: t };
  return { tfc: "mtu", pathMtu: 1500, outer: { ipVersion: remote.address.includes(":") ? 6 : 4, udpEncap: true } };
}

/** AEAD suites (GCM, GMAC, ChaCha20-Poly1305) take all their keying material as encKey. */
function hasIntegKey(suite: string): boolean {
  return parseSuite(suite).integKeyBytes > 0;
}
