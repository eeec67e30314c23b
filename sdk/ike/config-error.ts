/**
 * The one error type for configuration input: swanctl.conf files, proposal strings and traffic
 * selectors. Messages are written for the person who edits the file. It lives in ike/ because
 * the proposal and selector parsers here throw it; sdk/config (swanctl.conf, above ike) uses it too.
 * @module
 */

/** What kind of mistake a {@link ConfigError} reports. */
export type ConfigErrorCode = "UNKNOWN_KEYWORD" | "BAD_VALUE" | "SYNTAX" | "MISSING";

/** Where a configuration value came from, for error messages. */
export interface ConfigWhere {
  /** Setting name as written, e.g. `esp_proposals` or `connections.site.children.net.local_ts`. */
  key: string;
  line?: number;
  file?: string;
}

/**
 * A configuration problem: `code` for programs, `message` is one sentence naming the setting, the
 * line and, for unknown keywords, the known ones.
 */
export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly line?: number;
  readonly file?: string;
  constructor(code: ConfigErrorCode, message: string, where?: { line?: number; file?: string }) {
    super(message);
    this.name = "ConfigError";
    this.code = code;
    if (where?.line !== undefined) this.line = where.line;
    if (where?.file !== undefined) this.file = where.file;
  }
}

/** " in esp_proposals (line 12 of swanctl.conf)": the location suffix every message ends its subject with. */
export function describeWhere(where?: ConfigWhere): string {
  if (!where) return "";
  const at = [where.line !== undefined ? `line ${where.line}` : "", where.file ? `of ${where.file}` : ""]
    .filter(Boolean)
    .join(" ");
  return ` in ${where.key}${at ? ` (${at})` : ""}`;
}
