/**
 * A Child SA pair as negotiated, and the owner of its own time-based lifetime: the rekey timer
 * (rekey_time minus a random part of rand_time) and the hard life timer (life_time). The timers
 * call whichever IKE SA owns the child when they fire, so a child adopted by the successor of an
 * IKE rekey keeps its schedule (RFC 7296 §2.8: Child SAs move to the new IKE SA).
 *
 * Lifecycle (state names as charon's):
 *   INSTALLED --rekey started--> REKEYING --new pair up--> REKEYED --DELETE--> DELETED
 *   INSTALLED --delete started--> DELETING --answered--> DELETED
 * @module
 */
import type { TrafficSelector } from "./message.ts";
import type { ChildTemplate } from "./config.ts";

/** Child SA states, named as charon names them. */
export type ChildState = "INSTALLED" | "REKEYING" | "REKEYED" | "DELETING" | "DELETED";

/** Keys of one installed Child SA, from our point of view. */
export interface ChildSaKeys {
  encIn: Uint8Array;
  integIn: Uint8Array;
  encOut: Uint8Array;
  integOut: Uint8Array;
}

/** What a child asks of the IKE SA that owns it when one of its timers fires. */
export interface ChildSaOwner {
  rekeyChild(child: ChildSa): void;
  deleteChild(child: ChildSa): void;
  /** Takes the child out of the dataplane and the owner (after a DELETE exchange). */
  removeChild(child: ChildSa, reason: string): void;
  /** Switches the child's outbound SA on (a rekey responder's new pair). */
  activateOutbound(child: ChildSa): void;
  /** Hard lifetime reached: delete it. */
  expireChild(child: ChildSa, why: string): void;
}

/** Timers of the host (a real or a virtual clock). */
export interface ChildClock {
  setTimer(ms: number, fn: () => void): unknown;
  clearTimer(t: unknown): void;
  /** Random bytes, for rand_time's jitter. */
  random(n: number): Uint8Array;
}

/** The negotiated facts of a Child SA pair. */
export interface ChildSaInit {
  name: string;
  spiIn: number;
  spiOut: number;
  suite: string;
  /** strongSwan notation of the proposal, or a function that makes it when first asked. */
  proposal: string | (() => string);
  mode: "tunnel" | "transport";
  esn: boolean;
  localTs: TrafficSelector[];
  remoteTs: TrafficSelector[];
  template: ChildTemplate;
  installedAt: number;
  outboundActive: boolean;
  /** The lower of the two nonces of the exchange that created it (RFC 7296 §2.8.1 collisions). */
  lowerNonce: Uint8Array;
  /** Whether we initiated the exchange that created it. */
  weInitiated: boolean;
}

let nextChildId = 1;

/** A Child SA pair. */
export class ChildSa {
  readonly uniqueId = nextChildId++;
  readonly name: string;
  state: ChildState = "INSTALLED";
  /** SPI the peer sends to (our inbound) and the SPI we send to (the peer's inbound). */
  readonly spiIn: number;
  readonly spiOut: number;
  /** Dataplane suite keyword, e.g. "aes128gcm16". */
  readonly suite: string;
  #proposal: string | (() => string);
  /** strongSwan notation of the negotiated proposal, e.g. "ESP:AES_GCM_16_128/NO_EXT_SEQ". */
  get proposal(): string {
    if (typeof this.#proposal !== "string") this.#proposal = this.#proposal();
    return this.#proposal;
  }
  readonly mode: "tunnel" | "transport";
  readonly esn: boolean;
  readonly localTs: TrafficSelector[];
  readonly remoteTs: TrafficSelector[];
  readonly template: ChildTemplate;
  readonly installedAt: number;
  /** Whether our outbound traffic uses this SA yet (a rekey responder waits for the old SA's DELETE). */
  outboundActive: boolean;
  readonly lowerNonce: Uint8Array;
  readonly weInitiated: boolean;
  /** The pair that replaced this one in a rekey (set once the new pair is installed). */
  replacedBy?: ChildSa;
  /** The pair the peer created by rekeying this one while our own rekey of it was in flight (RFC 7296 §2.8.1). */
  rekeyCollision?: ChildSa;
  /** Set by the host when it installs the SA in the dataplane. */
  handles?: { in: number; out?: number };

  #owner: ChildSaOwner;
  #clock?: ChildClock;
  #timers = new Set<unknown>();

  constructor(init: ChildSaInit, owner: ChildSaOwner) {
    this.name = init.name;
    this.spiIn = init.spiIn;
    this.spiOut = init.spiOut;
    this.suite = init.suite;
    this.#proposal = init.proposal;
    this.mode = init.mode;
    this.esn = init.esn;
    this.localTs = init.localTs;
    this.remoteTs = init.remoteTs;
    this.template = init.template;
    this.installedAt = init.installedAt;
    this.outboundActive = init.outboundActive;
    this.lowerNonce = init.lowerNonce;
    this.weInitiated = init.weInitiated;
    this.#owner = owner;
  }

  /** The IKE SA this child belongs to now. */
  get owner(): ChildSaOwner {
    return this.#owner;
  }

  /** Moves the child to the successor of an IKE rekey; its timers keep their schedule. */
  adopt(owner: ChildSaOwner): void {
    this.#owner = owner;
  }

  /** Starts the rekey and life timers from the child's template (0 = off). */
  startTimers(clock: ChildClock): void {
    this.#clock = clock;
    const t = this.template;
    if (t.rekeyTime > 0) {
      this.#arm(jitter(t.rekeyTime, t.randTime, clock), () => {
        if (this.state === "INSTALLED") this.#owner.rekeyChild(this);
      });
    }
    if (t.lifeTime > 0) {
      this.#arm(t.lifeTime * 1000, () => {
        if (this.state !== "DELETING" && this.state !== "DELETED")
          this.#owner.expireChild(this, `its hard lifetime (${t.lifeTime} s)`);
      });
    }
  }

  /** Runs `fn` after `ms` unless the child is deleted first. */
  after(ms: number, fn: () => void): void {
    if (this.#clock) this.#arm(ms, fn);
  }

  #arm(ms: number, fn: () => void): void {
    const clock = this.#clock!;
    const t = clock.setTimer(ms, () => {
      this.#timers.delete(t);
      if (this.state !== "DELETED") fn();
    });
    this.#timers.add(t);
  }

  /** The child is gone: no timer of it fires again. */
  deleted(): void {
    this.state = "DELETED";
    for (const t of this.#timers) this.#clock?.clearTimer(t);
    this.#timers.clear();
  }
}

/** rekey_time minus a uniformly random part of rand_time, in ms (at least 1 s). */
export function jitter(rekeySeconds: number, randSeconds: number, clock: { random(n: number): Uint8Array }): number {
  const b = clock.random(2);
  const r = randSeconds > 0 ? Math.floor(((((b[0] ?? 0) << 8) | (b[1] ?? 0)) / 65536) * randSeconds) : 0;
  return Math.max(1, rekeySeconds - r) * 1000;
}
