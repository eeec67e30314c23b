#!/usr/bin/env node
// The `ipsec-wasm` command: compiled JavaScript from dist/ (npm run build), no TypeScript loader.
import { main } from "../dist/cli/main.js";

process.exitCode = await main(process.argv.slice(2));
