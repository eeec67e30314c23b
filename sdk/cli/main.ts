/**
 * The `ipsec-wasm` command: finds the subcommand in {@link COMMANDS} and runs it.
 * Add a subcommand by appending a {@link CliCommand} (or calling {@link registerCommand}).
 * Exit codes: 0 done, 2 bad arguments or unusable input (one line on stderr), 1 internal error.
 * @module
 */
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { pcapDecryptCommand } from "./pcap-decrypt.ts";
import { demoCommand } from "./demo.ts";
import { upCommand } from "./up.ts";
import { pingCommand } from "./ping.ts";
import { statusCommand } from "./status.ts";
import { downCommand } from "./down.ts";

/** Where a command writes; tests pass their own. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

/** One subcommand, e.g. `pcap decrypt`. */
export interface CliCommand {
  /** Words that select it, e.g. `["pcap", "decrypt"]`. */
  path: string[];
  /** One line for `ipsec-wasm --help`. */
  summary: string;
  /** Full usage text for `ipsec-wasm <path> --help`. */
  usage: string;
  /** Runs with the arguments after the path; resolves to the exit code. */
  run(args: string[], io: CliIo): Promise<number>;
}

/** The dispatch table. */
export const COMMANDS: CliCommand[] = [pcapDecryptCommand, demoCommand, upCommand, pingCommand, statusCommand, downCommand];

/** Adds a subcommand to the table (replacing one with the same path). */
export function registerCommand(cmd: CliCommand): void {
  const i = COMMANDS.findIndex((c) => c.path.join(" ") === cmd.path.join(" "));
  if (i >= 0) COMMANDS[i] = cmd;
  else COMMANDS.push(cmd);
}

const processIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

function topUsage(prefix: string[] = []): string {
  const cmds = COMMANDS.filter((c) => prefix.every((w, i) => c.path[i] === w));
  const width = Math.max(...cmds.map((c) => c.path.join(" ").length));
  return [
    `Usage: ipsec-wasm ${prefix.length ? prefix.join(" ") + " " : ""}<command> [options]`,
    "",
    "Commands:",
    ...cmds.map((c) => `  ${c.path.join(" ").padEnd(width)}  ${c.summary}`),
    "",
    "Run `ipsec-wasm <command> --help` for the options of one command.",
    "",
  ].join("\n");
}

const isHelp = (a: string | undefined): boolean => a === "--help" || a === "-h" || a === "help";

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  if (argv.length === 0) {
    io.err(topUsage());
    return 2;
  }
  if (isHelp(argv[0]) && argv.length === 1) {
    io.out(topUsage());
    return 0;
  }
  if (argv[0] === "--version" || argv[0] === "-V") {
    io.out(`ipsec-wasm ${version()}\n`);
    return 0;
  }
  // Longest path that matches the leading words wins.
  const matches = COMMANDS.filter((c) => c.path.every((w, i) => argv[i] === w)).sort((a, b) => b.path.length - a.path.length);
  const cmd = matches[0];
  if (!cmd) {
    const words = argv.filter((a) => !a.startsWith("-"));
    const group = COMMANDS.some((c) => c.path[0] === words[0]) ? [words[0]] : [];
    if (group.length && (argv.length === 1 || isHelp(argv[1]))) {
      (isHelp(argv[1]) ? io.out : io.err)(topUsage(group));
      return isHelp(argv[1]) ? 0 : 2;
    }
    const what = argv[0].startsWith("-") ? `unknown option '${argv[0]}'` : `unknown command '${argv.slice(0, group.length + 1).join(" ")}'`;
    io.err(`ipsec-wasm: ${what}\nRun \`ipsec-wasm --help\` for usage.\n`);
    return 2;
  }
  const rest = argv.slice(cmd.path.length);
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(cmd.usage);
    return 0;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    const err = e as Error;
    io.err(`ipsec-wasm: internal error: ${err.message}\n`);
    if (process.env.IPSEC_WASM_DEBUG) io.err(`${err.stack}\n`);
    return 1;
  }
}

function invokedDirectly(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) process.exitCode = await main(process.argv.slice(2));
