/**
 * The argument parser every `ipsec-wasm` command uses: strict (an unknown option, a missing value,
 * a stray argument or a bad number is a {@link UsageError}, exit 2, one line), and plain
 * TypeScript, so it behaves the same under Node, Deno and Bun whatever their `node:util` offers.
 * Accepts `--name value`, `--name=value`, `-x value`, `-xVALUE`, boolean flags, repeated options and `--`.
 * @module
 */

/** A bad command line: the message is one line, the command exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** One option: a flag (`boolean`) or one taking a value (`string`), maybe repeated. */
export interface OptionSpec {
  type: "boolean" | "string";
  /** One-letter alias, e.g. `o` for `-o`. */
  short?: string;
  /** May be given more than once (values collected in order); otherwise the last one wins. */
  multiple?: boolean;
}

/** The values of a parsed command line: strings, string lists (multiple) or true (flags). */
export type ParsedValues<S extends Record<string, OptionSpec>> = {
  [K in keyof S]?: S[K]["type"] extends "boolean" ? true : S[K]["multiple"] extends true ? string[] : string;
};

/** What {@link parseCommandArgs} returns. */
export interface ParsedArgs<S extends Record<string, OptionSpec>> {
  values: ParsedValues<S>;
  positionals: string[];
}

/**
 * Parses `args` against `spec`. `maxPositionals` (default 0) bounds the arguments that are not
 * options; `command` names the command in messages. Throws {@link UsageError}.
 */
export function parseCommandArgs<S extends Record<string, OptionSpec>>(
  args: readonly string[],
  spec: S,
  opts: { command: string; maxPositionals?: number },
): ParsedArgs<S> {
  const values: Record<string, string | string[] | true> = {};
  const positionals: string[] = [];
  const byShort = new Map(
    Object.entries(spec)
      .filter(([, s]) => s.short)
      .map(([name, s]) => [s.short!, name]),
  );
  const hint = ` (see \`ipsec-wasm ${opts.command} --help\`)`;
  let onlyPositionals = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!; // i < args.length
    // "-" alone is a positional (stdin/stdout), and so is a negative number.
    if (onlyPositionals || !a.startsWith("-") || a === "-" || /^-\d/.test(a)) {
      positionals.push(a);
      continue;
    }
    if (a === "--") {
      onlyPositionals = true;
      continue;
    }
    // `-c5` is `-c 5` when -c takes a value (as ping's own -c does).
    const shortValue = !a.startsWith("--") && a.length > 2 && spec[byShort.get(a.charAt(1)) ?? ""]?.type === "string";
    const eq = a.startsWith("--") ? a.indexOf("=") : shortValue ? 2 : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const name = flag.startsWith("--") ? flag.slice(2) : flag.length === 2 ? byShort.get(flag.charAt(1)) : undefined;
    const s = name !== undefined && Object.prototype.hasOwnProperty.call(spec, name) ? spec[name] : undefined;
    if (!s || name === undefined) throw new UsageError(`unknown option '${flag}'${hint}`);
    if (s.type === "boolean") {
      if (eq > 0) throw new UsageError(`option '${flag}' takes no value${hint}`);
      values[name] = true;
      continue;
    }
    let v: string | undefined;
    if (eq > 0) v = a.slice(shortValue ? eq : eq + 1);
    else {
      v = args[i + 1];
      // A value that looks like a long option is the next option: the value was forgotten.
      if (v === undefined || (v.startsWith("--") && v.length > 2))
        throw new UsageError(`option '${flag}' needs a value${hint}`);
      i++;
    }
    if (s.multiple) ((values[name] ??= []) as string[]).push(v);
    else values[name] = v;
  }
  const max = opts.maxPositionals ?? 0;
  if (positionals.length > max) throw new UsageError(`unexpected argument '${positionals[max]}'${hint}`);
  return { values: values as ParsedValues<S>, positionals };
}

/**
 * A number from the command line: finite decimal, within `min`..`max`, an integer when asked.
 * `what` names it in the message, e.g. `--count`.
 */
export function numberArg(
  what: string,
  text: string,
  range: { min: number; max: number; integer?: boolean; exclusiveMin?: boolean },
): number {
  const n = /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(text.trim()) ? Number(text) : NaN;
  const ok =
    Number.isFinite(n) &&
    (range.exclusiveMin ? n > range.min : n >= range.min) &&
    n <= range.max &&
    (!range.integer || Number.isInteger(n));
  if (!ok) {
    const kind = range.integer ? "an integer" : "a number";
    const bounds = range.exclusiveMin ? `> ${range.min} and <= ${range.max}` : `${range.min}..${range.max}`;
    throw new UsageError(`${what} must be ${kind} ${bounds}, got '${text}'`);
  }
  return n;
}
