/**
 * ICV-truncation detector: explains integrity failures on HMAC SAs. The classic outage (seed 000)
 * is one side using HMAC-SHA-256 with 96-bit ICVs (Linux `auth hmac(sha256)`) and the other with
 * RFC 4868's 128 bits: the tunnel is up and every packet is dropped without a word. After each
 * decapsulation run the detector takes a rate-limited sample of the failed packets, asks the wasm
 * dataplane whether they verify at another truncation (the key never leaves wasm), and raises one
 * {@link Diagnostic} per SA that names the peer's ICV length and the line to change.
 * @module
 */
import type { Dataplane, PacketBatch } from "../dataplane/dataplane.ts";
import { parseSuite, SuiteKind } from "../dataplane/suites.ts";
import type { SaConfig, SaHandle } from "../dataplane/types.ts";
import { keyMismatchWording, truncationWording, type HmacHash, type IntegrityFacts } from "./messages.ts";

/** What the failures on one SA amount to. */
export type DiagnosticKind = "icv-truncation" | "integrity-key-mismatch";

/** One SA's explained integrity failures. Field names are stable (tests and tools assert on them). */
export interface Diagnostic {
  /** `icv-truncation`: the peer's packets verify at another ICV length; `integrity-key-mismatch`: at none. */
  kind: DiagnosticKind;
  /** SPI of the inbound SA. */
  spi: number;
  /** Dataplane handle of the SA. */
  sa: SaHandle;
  /** The SA's suite keyword as configured, e.g. `aes128-sha256` (`-esn` appended with ESN). */
  suite: string;
  /** ICV length this SA checks, in bits. */
  configuredIcvBits: number;
  /** ICV length (bits) the peer's packets verify with; only for `icv-truncation`. */
  peerIcvBits?: number;
  /** Failed packets seen on this SA since the detector attached (integrity-failed, plus CBC ones called truncated). */
  failures: number;
  /** Failed packets the wasm probe looked at. */
  probed: number;
  /** Of `probed`, those that verified at `peerIcvBits`. */
  matched: number;
  /** One plain sentence: the SA, the counts, what the peer does and what to change. */
  message: string;
  /** Only the change to make. */
  hint: string;
  /** Always `error`: every packet of the SA that fails this way is lost. */
  severity: "error";
  /** When this SA's first failure was seen (ms, the detector's clock). */
  since: number;
  /** The counts behind the message, by name (the shape every diagnostic shares for status and metrics). */
  evidence: Record<string, number>;
}

/** One probe's answer, for callers that explain packet by packet (`pcap decrypt`). */
export interface ProbeResult {
  /** Index of the packet in the batch just decapsulated. */
  index: number;
  sa: SaHandle;
  spi: number;
  configuredIcvBits: number;
  /** ICV lengths in bits the packet verifies with (empty: none). */
  verifiesAtBits: number[];
}

/** Tuning of {@link IcvTruncationDetector}; the defaults suit a live dataplane. */
export interface IcvTruncationDetectorOptions {
  /** Clock in milliseconds (default `Date.now`). */
  now?: () => number;
  /** Probe every n-th failed packet of an SA (default 1: each, within the rate limit). */
  sampleEvery?: number;
  /** Most probes per SA per second (default 4). */
  maxProbesPerSecond?: number;
  /** Most probes per second over all SAs (default 64), so a flood across many SAs stays cheap. */
  maxTotalProbesPerSecond?: number;
  /** Probed failures needed before claiming a key mismatch (default 3): one damaged packet is not one. */
  minSamples?: number;
  /** While failures continue, raise an updated diagnostic at most this often (default 60 000 ms). */
  repeatEveryMs?: number;
  /** A diagnostic whose SA saw no failure for this long is no longer active (default 600 000 ms). */
  forgetAfterMs?: number;
  /** Where log lines go (default `console.warn`); `null` for none. */
  log?: ((line: string) => void) | null;
  /** Called with every probe's answer. */
  onProbe?: (r: ProbeResult) => void;
}

interface SaState {
  handle: SaHandle;
  config: Readonly<SaConfig>;
  facts: IntegrityFacts;
  /** Failed packets seen (sampling counts them). */
  seen: number;
  probed: number;
  /** Probes that verified at some length, by bits. */
  matches: Map<number, number>;
  windowStart: number;
  windowProbes: number;
  firstFailure: number;
  lastFailure: number;
  emitted?: { kind: DiagnosticKind; peer?: number; failures: number; at: number };
}

const HASH_NAMES: Record<number, HmacHash> = { 1: "sha1", 2: "sha256", 3: "sha384", 4: "sha512" };

/**
 * Watches a {@link Dataplane}'s decapsulation runs and explains integrity failures on HMAC SAs.
 * Costs one status read per packet per run; the MACs are recomputed only for the sample.
 */
export class IcvTruncationDetector {
  readonly #dp: Dataplane;
  readonly #now: () => number;
  readonly #sampleEvery: number;
  readonly #perSa: number;
  readonly #total: number;
  readonly #minSamples: number;
  readonly #repeatMs: number;
  readonly #forgetMs: number;
  readonly #log: ((line: string) => void) | null;
  readonly #onProbe?: (r: ProbeResult) => void;
  readonly #sas = new Map<SaHandle, SaState>();
  /** SAs the detector ignores (AEAD), by config object so a reused handle is seen afresh. */
  readonly #ignored = new WeakSet<Readonly<SaConfig>>();
  readonly #listeners = new Set<(d: Diagnostic) => void>();
  readonly #detach: () => void;
  #windowStart = -Infinity;
  #windowProbes = 0;
  #probes = 0;

  /** Attaches to `dp` right away; {@link detach} stops it. */
  constructor(dp: Dataplane, opts: IcvTruncationDetectorOptions = {}) {
    this.#dp = dp;
    this.#now = opts.now ?? Date.now;
    this.#sampleEvery = Math.max(1, Math.floor(opts.sampleEvery ?? 1));
    this.#perSa = opts.maxProbesPerSecond ?? 4;
    this.#total = opts.maxTotalProbesPerSecond ?? 64;
    this.#minSamples = Math.max(1, opts.minSamples ?? 3);
    this.#repeatMs = opts.repeatEveryMs ?? 60_000;
    this.#forgetMs = opts.forgetAfterMs ?? 600_000;
    // eslint-disable-next-line no-console -- documented default; callers pass `log: null` to silence it
    this.#log = opts.log === undefined ? (line) => console.warn(line) : opts.log;
    this.#onProbe = opts.onProbe;
    this.#detach = dp.observeDecapsulation((b) => this.#observe(b));
  }

  /** Stops watching the dataplane (diagnostics already raised stay listed). */
  detach(): void {
    this.#detach();
  }

  /** Calls `fn` whenever a diagnostic is raised or updated. Returns the unsubscribe function. */
  on(fn: (d: Diagnostic) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Probes run so far (each recomputes up to four MACs in wasm). */
  get probes(): number {
    return this.#probes;
  }

  /** Active diagnostics: SAs still installed that failed within `forgetAfterMs`, by SPI. */
  diagnostics(): Diagnostic[] {
    const now = this.#now();
    const installed = new Set(this.#dp.handles());
    const out: Diagnostic[] = [];
    for (const [h, s] of this.#sas) {
      if (!installed.has(h) || this.#dp.config(h) !== s.config) {
        this.#sas.delete(h);
        continue;
      }
      if (now - s.lastFailure >= this.#forgetMs) continue;
      const d = this.#diagnose(s);
      if (d) out.push(d);
    }
    return out.sort((a, b) => a.spi - b.spi);
  }

  #observe(b: PacketBatch): void {
    const touched = new Set<SaState>();
    for (let i = 0; i < b.length; i++) {
      const status = b.status(i);
      if (status !== "integrity-failed" && status !== "truncated") continue;
      const h = b.sa(i);
      if (h < 0) continue; // no SA: nothing to probe with
      const s = this.#state(h);
      if (!s) continue;
      s.facts.failures++;
      if (status === "truncated") s.facts.truncated++;
      s.lastFailure = this.#now();
      if (s.facts.failures === 1) s.firstFailure = s.lastFailure;
      touched.add(s);
      if (s.seen++ % this.#sampleEvery !== 0 || !this.#admit(s)) continue;
      this.#probes++;
      s.probed++;
      const bits = this.#dp.icvProbe(i).map((bytes) => bytes * 8);
      for (const b of bits) s.matches.set(b, (s.matches.get(b) ?? 0) + 1);
      this.#onProbe?.({
        index: i,
        sa: h,
        spi: s.facts.spi,
        configuredIcvBits: s.facts.configuredIcvBits,
        verifiesAtBits: bits,
      });
    }
    for (const s of touched) this.#evaluate(s);
  }

  /** Per-SA state for an HMAC SA, or undefined for SAs the detector has nothing to say about. */
  #state(h: SaHandle): SaState | undefined {
    const config = this.#dp.config(h);
    if (this.#ignored.has(config)) return undefined;
    const known = this.#sas.get(h);
    if (known && known.config === config) return known;
    const suite = parseSuite(config.esp);
    const hash = HASH_NAMES[suite.hash];
    // AEAD suites authenticate inside the cipher: no truncation to try, nothing to claim.
    if (suite.kind === SuiteKind.Gcm || !hash) {
      this.#ignored.add(config);
      return undefined;
    }
    const esn = config.esn ?? suite.esn;
    const s: SaState = {
      handle: h,
      config,
      facts: {
        spi: config.spi >>> 0,
        suite: suite.name + (esn ? "-esn" : ""),
        encryption: suite.name.replace(/-.*/, ""),
        hash,
        esn,
        configuredIcvBits: (config.icvLength ?? suite.icvBytes) * 8,
        allowedIcvBits: suite.allowedIcv.map((n) => n * 8),
        failures: 0,
        truncated: 0,
      },
      seen: 0,
      probed: 0,
      matches: new Map(),
      windowStart: -Infinity,
      windowProbes: 0,
      firstFailure: 0,
      lastFailure: 0,
    };
    this.#sas.set(h, s);
    return s;
  }

  /** Rate limit: fixed one-second windows, per SA and over all SAs. */
  #admit(s: SaState): boolean {
    const now = this.#now();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#windowProbes = 0;
    }
    if (now - s.windowStart >= 1000) {
      s.windowStart = now;
      s.windowProbes = 0;
    }
    if (s.windowProbes >= this.#perSa || this.#windowProbes >= this.#total) return false;
    s.windowProbes++;
    this.#windowProbes++;
    return true;
  }

  #evaluate(s: SaState): void {
    const d = this.#diagnose(s);
    if (!d) return;
    const now = this.#now();
    const e = s.emitted;
    const changed = !e || e.kind !== d.kind || e.peer !== d.peerIcvBits;
    if (!changed && (d.failures === e.failures || now - e.at < this.#repeatMs)) return;
    s.emitted = { kind: d.kind, peer: d.peerIcvBits, failures: d.failures, at: now };
    this.#log?.(`ipsec-wasm: ${d.message}`);
    for (const fn of this.#listeners) fn({ ...d });
  }

  #diagnose(s: SaState): Diagnostic | undefined {
    let peer = 0,
      matched = 0;
    for (const [bits, n] of s.matches)
      if (n > matched) {
        peer = bits;
        matched = n;
      }
    const f = s.facts;
    const base = {
      spi: f.spi,
      sa: s.handle,
      suite: f.suite,
      configuredIcvBits: f.configuredIcvBits,
      failures: f.failures,
      probed: s.probed,
      severity: "error" as const,
      since: s.firstFailure,
    };
    const evidence = {
      failures: f.failures,
      truncated: f.truncated,
      probed: s.probed,
      matched,
      configuredIcvBits: f.configuredIcvBits,
    };
    // A MAC that verifies at >= 96 bits with our key is proof (forgery odds 2^-96): one suffices.
    if (matched > 0) {
      return {
        kind: "icv-truncation",
        ...base,
        peerIcvBits: peer,
        matched,
        evidence: { ...evidence, peerIcvBits: peer },
        ...truncationWording(f, peer),
      };
    }
    // Key mismatch needs several failures and no packet ever verified on this SA: a right key
    // delivered those, so failures among them are damage, not configuration.
    if (s.probed < this.#minSamples || this.#dp.stats(s.handle).packets > 0n) return undefined;
    return { kind: "integrity-key-mismatch", ...base, matched: 0, evidence, ...keyMismatchWording(f) };
  }
}
