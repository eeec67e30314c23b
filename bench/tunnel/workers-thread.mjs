// A thread of bench/tunnel/workers.ts. Node 20's workers do not inherit tsx's loader from
// `node --import tsx`, so the thread registers it before importing the TypeScript.
import { parentPort, workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
const { runWorker } = await import("./workers.ts");
parentPort.postMessage(await runWorker(workerData));
