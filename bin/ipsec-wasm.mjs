#!/usr/bin/env node
// The `ipsec-wasm` command. The CLI is TypeScript: register tsx's ESM loader, then run main.ts,
// found relative to this file so the command works from any working directory.
import { register } from "tsx/esm/api";

register();
const { main } = await import(new URL("../sdk/cli/main.ts", import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));
