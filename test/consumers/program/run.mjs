// Prints roundtrip()'s result as one JSON line; the exit code is 1 when a check failed.
import { roundtrip } from "./roundtrip.mjs";

const result = await roundtrip();
console.log(JSON.stringify(result));
if (!result.ok && globalThis.process) globalThis.process.exitCode = 1;
