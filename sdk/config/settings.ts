/**
 * The strongswan.conf settings syntax swanctl.conf is written in (sections, `key = value` to the
 * end of the line, `#` comments, "quoted" values) as strongSwan's settings_lexer.l and parser read
 * it, and the value parsers the sections share (durations, sizes, booleans, choices, lists).
 * Errors name the line.
 * @module
 */
import { ConfigError, describeWhere, type ConfigWhere } from "../ike/config-error.ts";

export interface Setting {
  value: string;
  line: number;
}
export interface Section {
  name: string;
  path: string;
  line: number;
  keys: Map<string, Setting>;
  sections: Map<string, Section>;
}

type Token =
  | { kind: "name"; text: string; line: number }
  | { kind: "value"; text: string; line: number }
  | { kind: "{" | "}" | "=" | "nl" | "eof"; line: number };

/** Splits settings syntax into tokens the way strongSwan's settings_lexer.l does. */
export function tokenize(text: string, file?: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  const err = (msg: string, at = line): ConfigError =>
    new ConfigError("SYNTAX", `${msg} (line ${at}${file ? ` of ${file}` : ""})`, { line: at, file });
  const isSpace = (c: string): boolean => c === " " || c === "\t" || c === "\r";
  while (i < text.length) {
    const c = text.charAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === "#") {
      while (i < text.length && text.charAt(i) !== "\n") i++;
      continue;
    }
    if (c === "\n") {
      out.push({ kind: "nl", line });
      line++;
      i++;
      continue;
    }
    if (c === "{" || c === "}") {
      out.push({ kind: c, line });
      i++;
      continue;
    }
    if (c === '"') throw err("a quoted string can only be a value, after '='");
    if (c === "=") {
      out.push({ kind: "=", line });
      i++;
      // value: words and "strings" up to the end of the line, '#' or '}', joined by one space
      const parts: string[] = [];
      const start = line;
      while (i < text.length) {
        const v = text.charAt(i);
        if (isSpace(v)) {
          i++;
          continue;
        }
        if (v === "\n" || v === "#" || v === "}") break;
        if (v === '"') {
          const open = line;
          let s = "";
          i++;
          for (;;) {
            if (i >= text.length) throw err("unterminated quoted string", open);
            const q = text.charAt(i);
            if (q === '"') {
              i++;
              break;
            }
            if (q === "\r") {
              i++;
              continue;
            }
            if (q === "\\") {
              const n = text[i + 1];
              if (n === undefined) throw err("unterminated quoted string", open);
              if (n === "n") s += "\n";
              else if (n === "r") s += "\r";
              else if (n === "t") s += "\t";
              else if (n === "\n")
                line++; // an escaped line end joins the lines
              else if (n === "\r" && text[i + 2] === "\n") {
                line++;
                i++;
              } else s += n;
              i += 2;
              continue;
            }
            if (q === "\n") line++;
            s += q;
            i++;
          }
          parts.push(s);
          continue;
        }
        let w = "";
        while (i < text.length && !'#}"\r\n\t '.includes(text.charAt(i))) w += text.charAt(i++);
        parts.push(w);
      }
      out.push({ kind: "value", text: parts.join(" "), line: start });
      continue;
    }
    let w = "";
    while (i < text.length && !'#{}="\r\n\t '.includes(text.charAt(i))) w += text.charAt(i++);
    if (w === "include") {
      let j = i;
      while (text.charAt(j) === " " || text.charAt(j) === "\t") j++;
      if (j > i && text.charAt(j) !== "=" && text.charAt(j) !== "\n" && j < text.length) {
        throw err("'include' statements are not supported by ipsec-wasm; put the included settings into this file");
      }
    }
    out.push({ kind: "name", text: w, line });
  }
  out.push({ kind: "eof", line });
  return out;
}

/** Builds the section tree; repeated sections merge and a repeated key keeps its last value, as in strongSwan. */
export function parseSettings(text: string, file?: string): Section {
  const tokens = tokenize(text, file);
  let pos = 0;
  const err = (msg: string, line: number): ConfigError =>
    new ConfigError("SYNTAX", `${msg} (line ${line}${file ? ` of ${file}` : ""})`, { line, file });
  const root: Section = { name: "", path: "", line: 0, keys: new Map(), sections: new Map() };
  const eof = tokens[tokens.length - 1]!; // tokenize always ends with an eof token
  const body = (sec: Section, opener?: number): void => {
    for (;;) {
      const t = tokens[pos++] ?? eof;
      if (t.kind === "nl") continue;
      if (t.kind === "eof") {
        if (opener !== undefined)
          throw err(`section '${sec.path}' opened at line ${opener} is missing its closing '}'`, t.line);
        return;
      }
      if (t.kind === "}") {
        if (opener === undefined) throw err("'}' without a section to close", t.line);
        return;
      }
      if (t.kind !== "name")
        throw err(`expected a setting name or section name, found '${t.kind === "value" ? t.text : t.kind}'`, t.line);
      let n = tokens[pos] ?? eof;
      if (n.kind === "=") {
        pos++;
        const v = tokens[pos] ?? eof;
        const value = v.kind === "value" ? (pos++, v.text) : "";
        sec.keys.set(t.text, { value, line: t.line });
        continue;
      }
      let p = pos;
      while (tokens[p]?.kind === "nl") p++;
      n = tokens[p] ?? eof;
      if (n.kind !== "{") throw err(`expected '=' or '{' after '${t.text}'`, t.line);
      pos = p + 1;
      const path = sec.path ? `${sec.path}.${t.text}` : t.text;
      const child = sec.sections.get(t.text) ?? {
        name: t.text,
        path,
        line: t.line,
        keys: new Map(),
        sections: new Map(),
      };
      sec.sections.set(t.text, child);
      body(child, n.line);
    }
  };
  body(root);
  return root;
}

// ------------------------------------------------------------------ values

export const whereOf = (sec: Section, key: string, s: Setting, file?: string): ConfigWhere => ({
  key: sec.path ? `${sec.path}.${key}` : key,
  line: s.line,
  file,
});

export function badValue(msg: string, where: ConfigWhere): ConfigError {
  return new ConfigError("BAD_VALUE", msg, where);
}

/** Seconds from a swanctl time value: "3600", "30m", "1h", "1d", "10s" (charon's parse_time). */
export function parseDuration(text: string, where?: ConfigWhere): number {
  const m = /^([0-9]+) *([dhms]?)$/i.exec(text.trim());
  if (!m)
    throw badValue(
      `'${text}'${describeWhere(where)} is not a time; write seconds or a number with s, m, h or d, e.g. 30m`,
      where ?? { key: "time" },
    );
  const unit: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86400 };
  return Number(m[1]) * unit[(m[2] ?? "").toLowerCase()]!; // the pattern admits only these units
}

/** Bytes from a swanctl volume value: "1G", "500M", "100k", "1048576" (binary units, charon's parse_bytes). */
export function parseSize(text: string, where?: ConfigWhere): number {
  const m = /^([0-9]+) *([kmg]?)$/i.exec(text.trim());
  if (!m)
    throw badValue(
      `'${text}'${describeWhere(where)} is not a byte count; write a number, optionally with k, M or G (powers of 1024)`,
      where ?? { key: "size" },
    );
  const unit: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
  const n = Number(m[1]) * unit[(m[2] ?? "").toLowerCase()]!; // the pattern admits only these units
  if (!Number.isSafeInteger(n))
    throw badValue(`'${text}'${describeWhere(where)} is too large`, where ?? { key: "size" });
  return n;
}

export function parseUint(text: string, where: ConfigWhere, max = 0xffffffff): number {
  if (!/^[0-9]+$/.test(text.trim()) || Number(text) > max)
    throw badValue(`'${text}'${describeWhere(where)} is not a whole number from 0 to ${max}`, where);
  return Number(text);
}

const BOOLS: Record<string, boolean> = {
  yes: true,
  true: true,
  enabled: true,
  "1": true,
  no: false,
  false: false,
  disabled: false,
  "0": false,
};
export function parseBool(text: string, where: ConfigWhere): boolean {
  const b = BOOLS[text.trim().toLowerCase()];
  if (b === undefined) throw badValue(`'${text}'${describeWhere(where)} is not yes or no`, where);
  return b;
}

export function parseChoice<T extends string>(text: string, map: Record<string, T>, where: ConfigWhere): T {
  const v = map[text.trim().toLowerCase()];
  if (v === undefined) {
    const known = [...new Set(Object.keys(map))].join(", ");
    throw badValue(`'${text}'${describeWhere(where)} is not one of ${known}`, where);
  }
  return v;
}

export const list = (text: string): string[] =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");

// ------------------------------------------------------------------ sections

/** Rejects keys of `sec` that are not in `known`, and subsections that `sections` does not accept. */
export function checkKeys(
  sec: Section,
  known: string[],
  file: string | undefined,
  reasons: Record<string, string> = {},
): void {
  for (const [key, s] of sec.keys) {
    if (known.includes(key)) continue;
    const where = whereOf(sec, key, s, file);
    if (reasons[key]) throw new ConfigError("UNKNOWN_KEYWORD", `${reasons[key]}${describeWhere(where)}`, where);
    const tail = known.length ? `; known: ${known.join(", ")}` : ": only sections belong here";
    throw new ConfigError(
      "UNKNOWN_KEYWORD",
      `unknown setting '${key}'${describeWhere({ ...where, key: sec.path })}${tail}`,
      where,
    );
  }
}

export function unknownSection(sec: Section, known: string, file?: string): ConfigError {
  return new ConfigError(
    "UNKNOWN_KEYWORD",
    `unknown section '${sec.name}'${describeWhere({ key: sec.path, line: sec.line, file })}; known: ${known}`,
    { line: sec.line, file },
  );
}
