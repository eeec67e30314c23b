// Peak memory and time of `ipsec-wasm pcap decrypt` on a large generated capture (bench/pcap-gen.ts;
// 2,000,000 frames by default, about 430 MB). Measures, not asserts: each run is a child process
// (bin/ipsec-wasm.mjs's main, or another main.ts given with --cli, e.g. an older checkout) whose
// peak RSS is process.resourceUsage().maxRSS, read in the child when it is done.
//   npm run build && node --import tsx bench/pcap-decrypt-rss.ts [--frames N] [--capture FILE] [--cli MAIN.ts|.js]
// Runs: with -o and --verdicts files, and with -q and no outputs. The capture is generated once
// into --capture (default: a temp file, removed at the end unless --capture was given).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCommandArgs, numberArg } from "../sdk/cli/args.ts";
import { writeCapture } from "./pcap-gen.ts";

const root = fileURLToPath(new URL("../", import.meta.url));
const { values } = parseCommandArgs(
  process.argv.slice(2),
  { frames: { type: "string" }, capture: { type: "string" }, cli: { type: "string" } },
  { command: "bench pcap-decrypt-rss" },
);
const frames =
  values.frames === undefined
    ? 2_000_000
    : numberArg("--frames", values.frames, { min: 1, max: 100_000_000, integer: true });
const work = mkdtempSync(join(tmpdir(), "pcap-rss-"));
const capture = values.capture ?? join(work, "capture.pcap");
const main = values.cli ?? join(root, "dist/cli/main.js");
const sas = join(root, "test/fixtures/pcap/esp-mixed.sas.json");

try {
  if (!existsSync(capture)) {
    const t0 = performance.now();
    writeCapture(capture, frames);
    console.log(`generated ${capture}: ${frames} frames in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  console.log(
    `capture ${capture}: ${(statSync(capture).size / 1e6).toFixed(1)} MB; CLI ${main}; Node ${process.version}`,
  );
  const runs: [string, string[]][] = [
    ["-o and --verdicts files", ["-o", join(work, "out.pcap"), "--verdicts", join(work, "out.jsonl")]],
    ["-q, no outputs", ["-q"]],
  ];
  console.log("| run | exit | peak RSS | wall time |\n| --- | ---: | ---: | ---: |");
  for (const [name, extra] of runs) {
    // The child imports the CLI's main, runs it and reports its own peak RSS on stderr's last line.
    const code = `const { main } = await import(${JSON.stringify(main)});
const code = await main(${JSON.stringify(["pcap", "decrypt", "--sa", sas, capture, ...extra])});
process.stderr.write("maxrss-kb " + process.resourceUsage().maxRSS + "\\n");
process.exitCode = code;`;
    const loader = main.endsWith(".ts") ? ["--import", "tsx"] : [];
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [...loader, "--input-type=module", "-e", code], {
      cwd: root,
      encoding: "utf8",
      timeout: 1_800_000,
      killSignal: "SIGKILL",
      maxBuffer: 1 << 26,
    });
    const seconds = (performance.now() - t0) / 1000;
    const kb = Number(/maxrss-kb (\d+)/.exec(r.stderr)?.[1] ?? NaN);
    console.log(`| ${name} | ${r.status ?? r.signal} | ${(kb / 1024).toFixed(0)} MB | ${seconds.toFixed(1)} s |`);
    if (r.status !== 0) console.error(r.stderr.slice(-2000));
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
