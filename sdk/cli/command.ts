/**
 * What the `ipsec-wasm` command and its subcommands share: the output they write to and the
 * shape of a subcommand. main.ts dispatches to the subcommands and they import only this, so
 * imports in sdk/cli run one way (main -> commands -> command.ts).
 * @module
 */

/** Where a command writes; tests pass their own. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** True once stdout's reader went away (EPIPE, e.g. `| head`): long writers stop, quietly, exit 0. */
  outClosed?(): boolean;
}

/** What a subcommand module exports: its usage text and how it runs. */
export interface CliCommand {
  /** Full usage text for `ipsec-wasm <path> --help`. */
  usage: string;
  /** Runs with the arguments after the path; resolves to the exit code. */
  run(args: string[], io: CliIo): Promise<number>;
}

/**
 * One row of the dispatch table, e.g. `pcap decrypt`. The module behind it is imported only when
 * the command runs, so `ipsec-wasm --help` loads none of IKE, the dataplane or the diagnostics.
 */
export interface CommandEntry {
  /** Words that select it, e.g. `["pcap", "decrypt"]`. */
  path: string[];
  /** One line for `ipsec-wasm --help`. */
  summary: string;
  /** Imports the command's module. */
  load(): Promise<CliCommand>;
}
