/**
 * "Up but silent": a Child SA (or manually keyed SA pair) whose outbound packet counter rises
 * while its inbound SA has verified nothing for a while. That is seed 000's outage as monitoring
 * saw it: tunnel up, client's outbound counter rising, server's inbound at zero, no log line. The
 * detector names the likely causes in order, each with the counters that support it:
 *
 * 1. inbound packets fail their ICV: ICV length or key mismatch (the ICV-truncation detector says
 *    which when the peer's ICVs verify at another length);
 * 2. inbound packets are dropped as replays: the peer's sequence numbers are behind our window;
 * 3. inbound packets fail after the ICV (padding, length, next header): encryption key or mode;
 * 4. XfrmInNoStates rises: ESP arrives for SPIs we have no SA for;
 * 5. nothing arrives at all: UDP 4500 blocked or NAT, the peer's policy or traffic selectors, or
 *    the peer never receives ours.
 *
 * Pairs come from a callback, so the IKE daemon's children ({@link daemonSilencePairs}) and
 * manually keyed SAs work alike. The clock is injected; call {@link SilenceDetector.check}
 * periodically (every few seconds). A diagnostic clears itself when inbound traffic verifies again.
 * @module
 */
import type { Dataplane } from "../dataplane/dataplane.ts";
import type { SaHandle } from "../dataplane/types.ts";
import type { IkeDaemon } from "../ike/daemon.ts";
import { hexSpi } from "./messages.ts";
import type { Diagnostic } from "./types.ts";
import type { DropCounts, DropReason } from "./xfrm-stat.ts";

/** An inbound and an outbound SA that belong together. */
export interface SilencePair {
  /** What the user calls it, e.g. `net{3}` for a Child SA. */
  name: string;
  /** The peer's address or name, for the message. */
  peer?: string;
  in: SaHandle;
  out: SaHandle;
  /** Traffic is expected in our direction only (e.g. syslog out): never raise for this pair. */
  oneWay?: boolean;
}

/** How the detector reads counters and time. */
export interface SilenceDetectorOptions {
  dataplane: Pick<Dataplane, "stats" | "globalStats" | "config">;
  /** The pairs to watch, asked at every check. */
  pairs: () => SilencePair[];
  /** Clock in ms (default `Date.now`). */
  now?: () => number;
  /** Inbound silence that counts as a problem, in ms (default 30 000). Shorter gaps never raise. */
  quietMs?: number;
  /** Outbound packets during the silence needed to raise (default 3). */
  minOutbound?: number;
}

/** A change the detector reports. */
export interface SilenceEvent {
  type: "raised" | "updated" | "cleared";
  diagnostic: Diagnostic;
}

/** The `kind` of the diagnostics this detector raises. */
export const SILENCE_KIND = "up-but-silent";

interface Track {
  inConfig: object;
  outConfig: object;
  inPackets: bigint;
  /** When outbound first rose since inbound last verified (the silence is measured from here). */
  firstOutAt?: number;
  base: { out: bigint; drops: DropCounts; noStates: bigint };
  active?: Diagnostic;
  causes?: string;
}

// Drops after the ICV verified. (`truncated` on an SA comes before it: too short for the SA's ICV
// length; a CBC peer with another ICV length shows up as integrity failures, as in Linux.)
const AFTER_ICV: DropReason[] = ["bad-padding", "bad-next-header", "malformed-inner"];

/** Watches SA pairs for outbound traffic with no verified inbound traffic. */
export class SilenceDetector {
  readonly #o: Required<Omit<SilenceDetectorOptions, "dataplane" | "pairs">> &
    Pick<SilenceDetectorOptions, "dataplane" | "pairs">;
  readonly #tracks = new Map<string, Track>();
  readonly #listeners = new Set<(e: SilenceEvent) => void>();

  constructor(opts: SilenceDetectorOptions) {
    this.#o = { now: Date.now, quietMs: 30_000, minOutbound: 3, ...opts };
  }

  /** Calls `fn` on every raise, update and clear. Returns the unsubscribe function. */
  on(fn: (e: SilenceEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** The diagnostics active now. */
  diagnostics(): Diagnostic[] {
    return [...this.#tracks.values()].flatMap((t) => (t.active ? [t.active] : []));
  }

  /** Reads the counters once; returns what changed (also sent to listeners). */
  check(): SilenceEvent[] {
    const { dataplane: dp, quietMs, minOutbound } = this.#o;
    const now = this.#o.now();
    const noStates = dp.globalStats().XfrmInNoStates;
    const events: SilenceEvent[] = [];
    const seen = new Set<string>();
    for (const p of this.#o.pairs()) {
      const key = `${p.in}/${p.out}`;
      let inStats, outStats, inConfig, outConfig;
      try {
        inStats = dp.stats(p.in);
        outStats = dp.stats(p.out);
        inConfig = dp.config(p.in);
        outConfig = dp.config(p.out);
      } catch {
        continue; // removed between pairs() and now: gone below
      }
      seen.add(key);
      let t = this.#tracks.get(key);
      // A handle reused by a new SA starts afresh.
      if (t && (t.inConfig !== inConfig || t.outConfig !== outConfig)) {
        this.#clear(t, events);
        t = undefined;
      }
      if (!t) {
        this.#tracks.set(key, {
          inConfig,
          outConfig,
          inPackets: inStats.packets,
          base: { out: outStats.packets, drops: { ...inStats.drops }, noStates },
        });
        continue;
      }
      if (inStats.packets > t.inPackets) {
        // Inbound verified: whatever we said is over; the next silence is measured from here.
        this.#clear(t, events);
        t.inPackets = inStats.packets;
        t.firstOutAt = undefined;
        t.base = { out: outStats.packets, drops: { ...inStats.drops }, noStates };
        continue;
      }
      const sent = outStats.packets - t.base.out;
      // An idle tunnel is not a silent one: the clock starts with the first unanswered packet.
      if (sent > 0n) t.firstOutAt ??= now;
      const quiet = t.firstOutAt === undefined ? 0 : now - t.firstOutAt;
      if (p.oneWay || quiet < quietMs || sent < BigInt(minOutbound)) continue;
      const d = this.#diagnose(p, inStats.spi, outStats.spi, quiet, sent, t, inStats.drops, noStates);
      const causes = String(d.evidence.causes);
      const type = !t.active ? "raised" : t.causes !== causes ? "updated" : undefined;
      t.active = { ...d, since: t.active?.since ?? now };
      t.causes = causes;
      if (type) events.push({ type, diagnostic: t.active });
    }
    for (const [key, t] of this.#tracks) {
      if (seen.has(key)) continue;
      this.#clear(t, events);
      this.#tracks.delete(key);
    }
    for (const e of events) for (const l of this.#listeners) l(e);
    return events;
  }

  #clear(t: Track, events: SilenceEvent[]): void {
    if (t.active) events.push({ type: "cleared", diagnostic: t.active });
    t.active = undefined;
    t.causes = undefined;
  }

  #diagnose(
    p: SilencePair,
    spiIn: number,
    spiOut: number,
    quietMs: number,
    sent: bigint,
    t: Track,
    drops: DropCounts,
    noStates: bigint,
  ): Diagnostic {
    const delta = (r: DropReason): bigint => drops[r] - (t.base.drops[r] ?? 0n);
    const integrity = delta("integrity-failed");
    const badLength = delta("truncated");
    const replay = delta("replay");
    const after = AFTER_ICV.map((r) => [r, delta(r)] as const).filter(([, n]) => n > 0n);
    const afterTotal = after.reduce((s, [, n]) => s + n, 0n);
    const noSa = noStates - t.base.noStates;
    const inSpi = hexSpi(spiIn),
      outSpi = hexSpi(spiOut);
    const causes: { id: string; text: string; fix: string }[] = [];
    if (integrity + badLength > 0n) {
      const what = [
        ...(integrity > 0n ? [`${integrity} failed their ICV`] : []),
        ...(badLength > 0n ? [`${badLength} had a length that does not fit its ICV length and cipher block`] : []),
      ].join(" and ");
      causes.push({
        id: "integrity",
        text: `${integrity + badLength} packets reached ${inSpi}: ${what}. The ICV length or the integrity key differs from the peer's (an icv-truncation diagnostic for ${inSpi} names the peer's ICV length when only the truncation differs)`,
        fix: `make ICV length and integrity key match the peer's for ${inSpi} (96-bit vs 128-bit HMAC-SHA-256 is the usual suspect)`,
      });
    }
    if (replay > 0n) {
      causes.push({
        id: "replay",
        text: `${replay} packets on ${inSpi} were dropped as replays: the peer's sequence numbers are behind our window (it restarted its counter with the same keys, or resends old packets)`,
        fix: "re-key (new SPIs and keys) instead of restarting one side's sequence numbers",
      });
    }
    if (afterTotal > 0n) {
      causes.push({
        id: "decrypt",
        text: `${afterTotal} packets on ${inSpi} passed the ICV but failed after it (${after.map(([r, n]) => `${r} ${n}`).join(", ")}): the encryption key or the mode (tunnel/transport) differs`,
        fix: `compare the encryption key and the mode of ${inSpi} with the peer's`,
      });
    }
    if (noSa > 0n) {
      causes.push({
        id: "no-sa",
        text: `XfrmInNoStates rose by ${noSa}: ESP arrives for SPIs we have no SA for, so the peer sends to an SPI other than ${inSpi} (a missed rekey or DELETE, a restarted peer, or a stale manually keyed SA)`,
        fix: "re-establish the IKE SA (or correct the manual SA's SPI) so both sides agree on the SPIs",
      });
    }
    if (causes.length === 0) {
      causes.push({
        id: "nothing",
        text: `nothing arrives for ${inSpi} (no packet verified or dropped, no unknown SPI): UDP 4500 from the peer is blocked or its NAT mapping is gone, the peer's policy or traffic selectors do not send this traffic back into the tunnel, or the peer never receives ours (check its inbound counter for ${outSpi})`,
        fix: `capture UDP 4500 from ${p.peer ?? "the peer"} here, and look at the peer's inbound counter for ${outSpi} and its policies`,
      });
    }
    const secs = Math.round(quietMs / 1000);
    const who = `${p.name}${p.peer ? ` (peer ${p.peer})` : ""}`;
    return {
      kind: SILENCE_KIND,
      severity: "error",
      message:
        `SA pair ${who} is up but silent: ${sent} packets went out on ${outSpi} over ${secs} s and nothing verified on ${inSpi} in that time. ` +
        `Likely causes, most likely first: ${causes.map((c, i) => `(${i + 1}) ${c.text}`).join("; ")}.`,
      hint: causes[0]!.fix, // never empty: "nothing" is added when no other cause is
      spi: spiIn,
      sa: p.in,
      since: 0,
      evidence: {
        causes: causes.map((c) => c.id).join(","),
        quietMs,
        outboundPackets: sent,
        inboundPackets: 0n,
        integrityFailed: integrity,
        lengthMismatch: badLength,
        replay,
        failedAfterIcv: afterTotal,
        XfrmInNoStates: noSa,
        spiIn: inSpi,
        spiOut: outSpi,
      },
    };
  }
}

/**
 * The IKE daemon's Child SAs as pairs (those with both SAs installed), named like charon names
 * them (`net{3}`) with the peer's address.
 */
export function daemonSilencePairs(daemon: IkeDaemon): () => SilencePair[] {
  return () => {
    const out: SilencePair[] = [];
    for (const ike of new Set(daemon.sas.values())) {
      for (const child of ike.children.values()) {
        const h = daemon.childHandles(child);
        if (!h || h.out === undefined) continue;
        out.push({ name: `${child.name}{${child.uniqueId}}`, peer: ike.remote.address, in: h.in, out: h.out });
      }
    }
    return out;
  };
}
