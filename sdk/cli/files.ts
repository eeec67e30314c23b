/**
 * File plumbing for streaming commands (`pcap decrypt`): a capture read in chunks, outputs
 * written in large buffered pieces and opened only at their first byte (a run refused before
 * its first frame leaves no file behind), and the check that an output is not an input.
 * @module
 */
import { closeSync, openSync, statSync, writeSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { resolve } from "node:path";
import { InputError } from "../pcap/verdicts.ts";

const errCode = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** Bytes per read of the capture: large enough for few calls, small enough to stay out of RSS. */
const READ_CHUNK = 1 << 20;
/** Bytes collected before one write. */
const WRITE_CHUNK = 1 << 20;

/** Opens `path` for reading; a failure is an {@link InputError} naming it as `what`. */
export async function openInput(path: string, what: string): Promise<{ handle: FileHandle; size: number }> {
  try {
    const handle = await open(path, "r");
    const st = await handle.stat();
    if (st.isDirectory()) {
      await handle.close();
      throw Object.assign(new Error("EISDIR"), { code: "EISDIR" });
    }
    return { handle, size: st.size };
  } catch (e) {
    throw new InputError(`cannot read ${what} ${path}: ${errCode(e)}`);
  }
}

/** The file's bytes in chunks of 1 MiB, each a fresh array (the reader may keep a chunk's tail); closes the file at the end. */
export async function* fileChunks(
  handle: FileHandle,
  path: string,
  onRead: (bytes: number) => void = () => undefined,
): AsyncGenerator<Uint8Array> {
  try {
    for (;;) {
      const buf = new Uint8Array(READ_CHUNK);
      let n: number;
      try {
        n = (await handle.read(buf, 0, READ_CHUNK, null)).bytesRead;
      } catch (e) {
        throw new InputError(`cannot read capture ${path}: ${errCode(e)}`);
      }
      if (n === 0) return;
      onRead(n);
      yield buf.subarray(0, n);
    }
  } finally {
    await handle.close();
  }
}

/** An output file, opened (truncated) at the first write, written in 1 MiB pieces. */
export class LazyFileWriter {
  readonly path: string;
  #fd: number | undefined;
  #parts: Uint8Array[] = [];
  #pending = 0;

  constructor(path: string) {
    this.path = path;
  }

  write(data: Uint8Array | string): void {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    this.#parts.push(bytes);
    this.#pending += bytes.length;
    if (this.#pending >= WRITE_CHUNK) this.flush();
  }

  flush(): void {
    try {
      this.#fd ??= openSync(this.path, "w");
      for (const p of this.#parts) for (let off = 0; off < p.length;) off += writeSync(this.#fd, p, off);
    } catch (e) {
      throw new InputError(`cannot write ${this.path}: ${errCode(e)}`);
    }
    this.#parts = [];
    this.#pending = 0;
  }

  /** Writes what is left and closes (an output never written stays unopened). */
  close(): void {
    if (this.#fd !== undefined || this.#parts.length) this.flush();
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

/**
 * Refuses an output that is one of the inputs (same path, or the same file through a link),
 * or two outputs that are one file: writing would destroy the capture while it is read.
 */
export function checkOutputs(
  inputs: { path: string; what: string }[],
  outputs: { path: string; what: string }[],
): void {
  const identity = (path: string): string => {
    try {
      const st = statSync(path);
      return `${st.dev}:${st.ino}`;
    } catch {
      return `path:${resolve(path)}`;
    }
  };
  const seen = new Map<string, string>();
  for (const i of inputs) seen.set(identity(i.path), i.what);
  for (const o of outputs) {
    const id = identity(o.path);
    const clash = seen.get(id);
    if (clash) throw new InputError(`${o.what} ${o.path} is the ${clash}: refusing to overwrite it`);
    seen.set(id, o.what);
  }
}
