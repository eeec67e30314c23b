// The recorded tshark reading of our IKEv2 encodings (test/fixtures/ike/encoded.fields.tsv, which
// test/unit/ike-codec.test.ts compares with our decoder field by field) must be what the installed
// tshark (Wireshark 4.0 ISAKMP and EAP dissectors) prints today for encoded.pcap. Moved from
// test/unit/ike-codec.test.ts because it needs Debian's tshark.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { requireTshark } from "../helpers/interop.ts";
import { tsharkFieldArgs } from "../fixtures/ike/samples.ts";

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/ike/${name}`, import.meta.url));

test(
  "tshark (Wireshark 4.0 dissector) reads encoded.pcap as recorded in encoded.fields.tsv",
  { timeout: 60_000 },
  () => {
    const live = execFileSync(requireTshark(), tsharkFieldArgs(fixture("encoded.pcap")), {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 60_000,
    });
    assert.equal(live, readFileSync(fixture("encoded.fields.tsv"), "utf8"));
  },
);
