// The shape of bench/results.json, written by run.ts and read by report.ts.
import type { BenchSuite } from "./baselines/esp-layout.ts";

export type Direction = "encap" | "decap";
/** Implementations in the order the tables show them; node:crypto is the reference for ratios. */
export const IMPLS = ["node:crypto", "noble", "ours-b64", "ours-b256", "ours-wasm-b256"] as const;
export type Impl = (typeof IMPLS)[number];

export interface BenchRow {
  suite: BenchSuite;
  /** Inner packet size in bytes (the whole inner IPv4 packet). */
  size: number;
  direction: Direction;
  impl: Impl;
  /** Median packets per second over the repetitions. */
  pps: number;
  /** Gbit/s of inner bytes at the median pps. */
  gbps: number;
  /** pps divided by node:crypto's pps in the same (suite, size, direction); null when node:crypto was not run. */
  ratio: number | null;
  /** pps of every repetition, in run order. */
  samples: number[];
}

export interface SpiLookupResult {
  suite: string;
  size: number;
  sas: number;
  /** Seconds it took to add all SAs. */
  addSeconds: number;
  /** Decap pps with a single inbound SA in the table. */
  oneSaPps: number;
  /** Decap pps with `sas` SAs in the table, packets spread over `ringSas` random SAs. */
  manySaPps: number;
  /** Decap pps with `sas` SAs in the table, every packet for one SA. */
  manySaOneHotPps: number;
  /** Decap pps with `sas` SAs in the table, packets spread over `fewSas` random SAs (their state fits in cache). */
  manySaFewPps: number;
  fewSas: number;
  /** Packets in every ring; also the number of random SAs of `manySaPps`. */
  ringSas: number;
  /** Extra cost per packet at `sas` SAs versus 1 SA (oneSaPps / manySaPps − 1). */
  extraCost: number;
  /** Wasm memory per SA in bytes (slot, keys, replay state, table entry, and the growth slack of the allocator, which grows memory in large steps), when measured. */
  bytesPerSa?: number;
  /** Whether the rows above ran on transparent huge pages (Dataplane `hugePages`), or why not; absent in older files. */
  hugePages?: { active: true } | { active: false; reason: string };
  /** When they did: the same rows on dataplanes created with `hugePages: false` (4 KiB pages), same run, interleaved. */
  smallPages?: {
    oneSaPps: number;
    manySaPps: number;
    manySaFewPps: number;
    /** oneSaPps / manySaPps − 1, both on 4 KiB pages. */
    extraCost: number;
  };
}

export interface Target {
  name: string;
  required: string;
  measured: string;
  met: boolean;
}

export interface BenchResults {
  machine: {
    cpu: string;
    cores: number;
    node: string;
    v8: string;
    platform: string;
    arch: string;
    date: string;
    /** HEAD when the run started (the working tree may differ). */
    gitCommit?: string;
    /** SHA-256 of the build/dataplane.wasm measured (compiled once at the start of the run). */
    wasmSha256?: string;
  };
  config: {
    sliceMs: number;
    repetitions: number;
    quick: boolean;
    suites: BenchSuite[];
    sizes: number[];
    /** What pps is per: elapsed time, or this process's CPU time (see bench/measure.ts). */
    clock: "wall" | "cpu";
    decapRing: string;
  };
  rows: BenchRow[];
  spiLookup?: SpiLookupResult;
  targets: Target[];
  profile?: ProfileEntry[];
}

/** One line of the `--profile` breakdown: where time goes on our path. */
export interface ProfileEntry {
  what: string;
  size: number;
  nsPerPacket: number;
  note: string;
}

/** The shape of bench/ike-results.json (written by bench/ike-setup.ts), as far as report.ts reads it. */
export interface IkeResults {
  machine: { cpu: string; cores: number; node: string; date: string; gitCommit?: string };
  config: { transport: string; budgetMs: number; quick: boolean; slices?: number };
  groups: IkeGroupResult[];
  /** `--strongswan`: two charons, same groups. */
  strongswan?: IkeGroupResult[];
}

export interface IkeGroupResult {
  group: string;
  /** node:crypto DH ("native") or the pure-JS fallback; absent in older files (they were JS). */
  dh?: "native" | "js";
  setups: number;
  /** Whole cycles (IKE_SA_INIT, IKE_AUTH with the first Child SA, DELETE) per second of CPU time. */
  setupsPerCpuSecond: number;
  setupsPerSecond: number;
  medianMs: number;
}
