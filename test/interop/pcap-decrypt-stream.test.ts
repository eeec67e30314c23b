// `pcap decrypt` streams: 200,000 generated frames (bench/pcap-gen.ts, ESP by node:crypto) run
// through the real CLI in a child process whose peak RSS (process.resourceUsage().maxRSS, read in
// the child) must stay under 300 MB. The whole-capture code before streaming needed about 2.6 KB
// per frame (5.3 GB for 2,000,000 frames; about 600 MB here). The verdict totals must be those of
// the generator's rule, frame by frame: every 50th a replay, every 89th an unknown SPI, ...
// (bench/pcap-gen.ts; 2,000,000 frames is bench/pcap-decrypt-rss.ts.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeCapture } from "../../bench/pcap-gen.ts";
import { repoPath } from "../helpers/interop.ts";

const FRAMES = 200_000;

/** The verdict of frame n (0-based) by the generator's rule; a replayed duplicate repeats a frame that decrypted. */
function expectedCounts(frames: number): Record<string, number> {
  const c: Record<string, number> = {
    ok: 0,
    "no-sa": 0,
    replay: 0,
    "integrity-failed": 0,
    malformed: 0,
    dummy: 0,
    "nat-keepalive": 0,
    "not-esp": 0,
  };
  let last = "";
  for (let n = 0; n < frames; n++) {
    let v: string;
    if (n % 50 === 49 && last) v = last === "ok" ? "replay" : last;
    else if (n % 101 === 100) v = "not-esp";
    else if (n % 211 === 210) v = "nat-keepalive";
    else if (n % 89 === 88) v = "no-sa";
    else if (n % 97 === 96) v = "integrity-failed";
    else v = "ok";
    c[v]!++;
    last = v;
  }
  return c;
}

test(
  "pcap decrypt streams 200,000 frames in under 300 MB of RSS with the generator's verdict totals",
  { timeout: 120_000 },
  () => {
    const work = mkdtempSync(join(tmpdir(), "pcap-stream-"));
    try {
      const capture = join(work, "capture.pcap");
      writeCapture(capture, FRAMES);
      const args = [
        "pcap",
        "decrypt",
        "--sa",
        repoPath("test/fixtures/pcap/esp-mixed.sas.json"),
        capture,
        "-o",
        join(work, "out.pcap"),
        "--verdicts",
        join(work, "v.jsonl"),
        "--json",
      ];
      const code = `const { main } = await import(${JSON.stringify(repoPath("dist/cli/main.js"))});
process.exitCode = await main(${JSON.stringify(args)});
process.stderr.write("maxrss-kb " + process.resourceUsage().maxRSS + "\\n");`;
      const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], {
        encoding: "utf8",
        timeout: 90_000,
        killSignal: "SIGKILL",
        maxBuffer: 1 << 24,
      });
      assert.equal(r.status, 0, r.stderr);
      const mb = Number(/maxrss-kb (\d+)/.exec(r.stderr)![1]) / 1024;
      console.log(`# peak RSS ${mb.toFixed(0)} MB for ${FRAMES} frames`);
      assert.ok(mb < 300, `peak RSS ${mb.toFixed(0)} MB`);
      const summary = JSON.parse(r.stdout) as { frames: number; counts: Record<string, number> };
      assert.equal(summary.frames, FRAMES);
      assert.deepEqual(summary.counts, expectedCounts(FRAMES));
      const lines = readFileSync(join(work, "v.jsonl"), "utf8").trimEnd().split("\n");
      assert.equal(lines.length, FRAMES);
      assert.match(lines[FRAMES - 1]!, new RegExp(`^\\{"frame": ${FRAMES}, `));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
);
