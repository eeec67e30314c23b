/**
 * The `ipsec-wasm` command: finds the subcommand in {@link COMMANDS} and runs it.
 * Add a subcommand by appending a {@link CommandEntry} (or calling {@link registerCommand}).
 * Exit codes: 0 done (also when stdout's reader went away), 2 bad arguments or unusable input (one line
 * on stderr), 1 internal error; commands document their own further codes.
 * @module
 */
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { CliIo, CommandEntry } from "./command.ts";

/** The dispatch table. */
export const COMMANDS: CommandEntry[] = [
  {
    path: ["pcap", "decrypt"],
    summary: "decrypt the ESP packets of a pcap capture with known SAs",
    load: async () => (await import("./pcap-decrypt.ts")).pcapDecryptCommand,
  },
  {
    path: ["demo"],
    summary:
      "two userspace IPsec peers on loopback negotiate IKEv2, pass ICMP echo through ESP-in-UDP and print their counters",
    load: async () => (await import("./demo.ts")).demoCommand,
  },
  {
    path: ["up"],
    summary: "establish an IKEv2 connection from a swanctl.conf and hold it (Ctrl-C sends DELETE)",
    load: async () => (await import("./up.ts")).upCommand,
  },
  {
    path: ["ping"],
    summary: "establish a connection and ping through its Child SA; exit 0 only if every echo came back",
    load: async () => (await import("./ping.ts")).pingCommand,
  },
  {
    path: ["status"],
    summary: "list the SAs of running `ipsec-wasm up` processes: swanctl --list-sas, ip -s xfrm state, diagnostics",
    load: async () => (await import("./status.ts")).statusCommand,
  },
  {
    path: ["down"],
    summary: "send DELETE for the IKE SAs of running `ipsec-wasm up` processes and wait for the peers' answers",
    load: async () => (await import("./down.ts")).downCommand,
  },
  {
    path: ["web"],
    summary:
      "serve the page that decrypts ESP captures in the browser (pcap/pcapng + SA file; nothing uploaded) on 127.0.0.1",
    load: async () => (await import("./web.ts")).webCommand,
  },
];

/** Adds a subcommand to the table (replacing one with the same path). */
export function registerCommand(cmd: CommandEntry): void {
  const i = COMMANDS.findIndex((c) => c.path.join(" ") === cmd.path.join(" "));
  if (i >= 0) COMMANDS[i] = cmd;
  else COMMANDS.push(cmd);
}

/** Set when a write to stdout/stderr failed: EPIPE means the reader went away (not an error). */
const closed = { out: "", err: "" };
let watching = false;
/** A closed pipe would otherwise be an unhandled 'error' event with a stack trace. */
function watchStdio(): void {
  if (watching) return;
  watching = true;
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    closed.out ||= e.code ?? "EIO";
  });
  process.stderr.on("error", (e: NodeJS.ErrnoException) => {
    closed.err ||= e.code ?? "EIO";
  });
}

const processIo: CliIo = {
  out: (t) => {
    if (!closed.out) process.stdout.write(t);
  },
  err: (t) => {
    if (!closed.err) process.stderr.write(t);
  },
  outClosed: () => closed.out !== "",
};

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
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
  if (io === processIo) watchStdio();
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
  const matches = COMMANDS.filter((c) => c.path.every((w, i) => argv[i] === w)).sort(
    (a, b) => b.path.length - a.path.length,
  );
  const cmd = matches[0];
  if (!cmd) {
    const words = argv.filter((a) => !a.startsWith("-"));
    const group = words[0] !== undefined && COMMANDS.some((c) => c.path[0] === words[0]) ? [words[0]] : [];
    if (group.length && (argv.length === 1 || isHelp(argv[1]))) {
      (isHelp(argv[1]) ? io.out : io.err)(topUsage(group));
      return isHelp(argv[1]) ? 0 : 2;
    }
    const what = argv[0]?.startsWith("-")
      ? `unknown option '${argv[0]}'`
      : `unknown command '${argv.slice(0, group.length + 1).join(" ")}'`;
    io.err(`ipsec-wasm: ${what}\nRun \`ipsec-wasm --help\` for usage.\n`);
    return 2;
  }
  const rest = argv.slice(cmd.path.length);
  const command = await cmd.load();
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(command.usage);
    return 0;
  }
  try {
    const code = await command.run(rest, io);
    // A reader that went away is the reader's choice; any other failed write to stdout is ours.
    if (io === processIo && closed.out && closed.out !== "EPIPE") {
      io.err(`ipsec-wasm: cannot write to stdout: ${closed.out}\n`);
      return code || 1;
    }
    return code;
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
