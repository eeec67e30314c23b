/**
 * The page: reads the chosen files into memory, runs the decryption in a Web Worker (or on the
 * page when the page was opened from disk, where browsers refuse workers and fetch), and shows the
 * verdicts, diagnostics and counters; the two downloads are made from memory (blob: URLs).
 * @module
 */
import { SA_FORMATS, type SaFormat } from "../../sdk/pcap/decrypt.ts";
import { failureOf, runDecrypt, type DecryptFailure, type DecryptRequest, type DecryptResponse } from "./run.ts";

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
};
const captureInput = $<HTMLInputElement>("capture");
const sasInput = $<HTMLInputElement>("sas");
const formatSelect = $<HTMLSelectElement>("format");
const modeSelect = $<HTMLSelectElement>("wireshark-mode");
const runButton = $<HTMLButtonElement>("run");
const statusEl = $("status");
const errorEl = $("error");
const results = $("results");
const filterSelect = $<HTMLSelectElement>("filter");

for (const f of SA_FORMATS) formatSelect.append(new Option(f.name, f.format));

/** Rows rendered at most in the verdict table (the download has them all). */
const MAX_ROWS = 5000;
const fromDisk = location.protocol === "file:";

// ---- where the decryption runs ----

declare global {
  // Set by dataplane-wasm.js (the wasm as base64), which is loaded only when it is needed.
  var IPSEC_WASM_BASE64: string | undefined;
}

let embedded: Promise<WebAssembly.Module> | undefined;
/** The dataplane embedded in dataplane-wasm.js: a classic script, which loads from disk too. */
function embeddedWasm(): Promise<WebAssembly.Module> {
  embedded ??= new Promise<void>((resolve, reject) => {
    if (globalThis.IPSEC_WASM_BASE64) return resolve();
    const s = document.createElement("script");
    s.src = "dataplane-wasm.js";
    s.onload = () => resolve();
    s.onerror = () => reject(new Error("dataplane-wasm.js could not be loaded"));
    document.head.append(s);
  }).then(() => {
    const b64 = globalThis.IPSEC_WASM_BASE64 ?? "";
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return WebAssembly.compile(bytes);
  });
  return embedded;
}

type Outcome = { ok: true; res: DecryptResponse } | { ok: false; failure: DecryptFailure };

let worker: Worker | undefined;
let workerBroken = fromDisk;
let seq = 0;
const pending = new Map<number, (o: Outcome) => void>();

function getWorker(): Worker | undefined {
  if (workerBroken) return undefined;
  if (worker) return worker;
  try {
    worker = new Worker("worker.js");
  } catch {
    workerBroken = true;
    return undefined;
  }
  worker.onmessage = (ev: MessageEvent<{ id?: number } & Outcome>) => {
    if (ev.data.id === undefined) return;
    pending.get(ev.data.id)?.(ev.data);
    pending.delete(ev.data.id);
  };
  worker.onerror = (ev) => {
    ev.preventDefault();
    workerBroken = true;
    worker?.terminate();
    worker = undefined;
    for (const [, done] of pending)
      done({ ok: false, failure: { kind: "wasm", message: `the worker failed: ${ev.message}` } });
    pending.clear();
  };
  return worker;
}

async function decrypt(req: DecryptRequest): Promise<{ outcome: Outcome; where: string }> {
  const w = getWorker();
  if (w) {
    const id = ++seq;
    const outcome = await new Promise<Outcome>((resolve) => {
      pending.set(id, resolve);
      w.postMessage({ id, req });
    });
    if (outcome.ok || outcome.failure.kind !== "wasm")
      return { outcome, where: "in a Web Worker, dataplane.wasm fetched from this site" };
    workerBroken = true;
  }
  // On the page itself with the embedded wasm: from disk, or when the worker or the fetch failed.
  const where = fromDisk
    ? "on the page (opened from disk, so no worker; the wasm embedded in dataplane-wasm.js)"
    : "on the page (the worker or the wasm fetch failed; the wasm embedded in dataplane-wasm.js)";
  try {
    return { outcome: { ok: true, res: await runDecrypt(req, { module: await embeddedWasm() }) }, where };
  } catch (e) {
    return { outcome: { ok: false, failure: failureOf(e) }, where };
  }
}

// ---- inputs ----

function wireDrop(zone: HTMLElement, input: HTMLInputElement): void {
  zone.addEventListener("dragover", (ev) => {
    ev.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    zone.classList.remove("over");
    if (ev.dataTransfer?.files.length) {
      input.files = ev.dataTransfer.files;
      input.dispatchEvent(new Event("change"));
    }
  });
}
wireDrop($("drop-capture"), captureInput);
wireDrop($("drop-sas"), sasInput);
// Dropping a file anywhere else must not navigate away from the page.
window.addEventListener("dragover", (ev) => ev.preventDefault());
window.addEventListener("drop", (ev) => ev.preventDefault());

function showNames(): void {
  const cap = captureInput.files?.[0];
  $("capture-name").textContent = cap
    ? `${cap.name} (${cap.size.toLocaleString()} bytes)`
    : "drop a file here or click to choose";
  $("drop-capture").classList.toggle("has-file", !!cap);
  const sas = [...(sasInput.files ?? [])];
  $("sas-name").textContent = sas.length
    ? sas.map((f) => f.name).join(", ")
    : "drop one or more files here or click to choose";
  $("drop-sas").classList.toggle("has-file", sas.length > 0);
  runButton.disabled = !cap || sas.length === 0;
}

let last: DecryptResponse | undefined;
let lastCaptureName = "capture";
let running = false;
let again = false;

async function run(): Promise<void> {
  const cap = captureInput.files?.[0];
  const sasFiles = [...(sasInput.files ?? [])];
  if (!cap || sasFiles.length === 0) return;
  if (running) {
    again = true;
    return;
  }
  running = true;
  document.body.dataset.state = "running";
  statusEl.textContent = `Decrypting ${cap.name}…`;
  errorEl.hidden = true;
  try {
    const req: DecryptRequest = {
      capture: { name: cap.name, bytes: new Uint8Array(await cap.arrayBuffer()) },
      sas: await Promise.all(sasFiles.map(async (f) => ({ name: f.name, text: await f.text() }))),
      format: formatSelect.value as SaFormat | "auto",
      wiresharkMode: modeSelect.value as "tunnel" | "transport",
    };
    const { outcome, where } = await decrypt(req);
    if (outcome.ok) {
      last = outcome.res;
      lastCaptureName = cap.name;
      render(outcome.res);
      const r = outcome.res;
      statusEl.textContent =
        `${cap.name}: ${r.captureFormat}, ${r.frames} frames; SAs from ${r.saFiles.map((f) => `${f.name} (${f.formatName}, ${f.count})`).join(", ")}. ` +
        `Decrypted in ${Math.round(r.ms)} ms ${where}.`;
      $("engine").textContent = `ran ${where}`;
      document.body.dataset.state = "done";
    } else {
      results.hidden = true;
      last = undefined;
      errorEl.textContent =
        outcome.failure.kind === "input"
          ? outcome.failure.message
          : `${outcome.failure.kind} error: ${outcome.failure.message}`;
      errorEl.hidden = false;
      statusEl.textContent = "Nothing decrypted.";
      document.body.dataset.state = "error";
    }
  } finally {
    running = false;
    if (again) {
      again = false;
      void run();
    }
  }
}

captureInput.addEventListener("change", () => {
  showNames();
  void run();
});
sasInput.addEventListener("change", () => {
  showNames();
  void run();
});
formatSelect.addEventListener("change", () => void run());
modeSelect.addEventListener("change", () => void run());
runButton.addEventListener("click", () => void run());
filterSelect.addEventListener("change", () => {
  if (last) renderVerdicts(last);
});

// ---- output ----

const hex32 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;

function cell(tr: HTMLTableRowElement, text: string, cls?: string): void {
  const td = tr.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
}

function render(r: DecryptResponse): void {
  results.hidden = false;
  const diag = $("diagnostics");
  diag.replaceChildren();
  if (r.diagnostics.length === 0) {
    const p = document.createElement("p");
    p.className = "none";
    p.textContent = "None: no SA showed an ICV-length disagreement or a key mismatch.";
    diag.append(p);
  }
  for (const d of r.diagnostics) {
    const box = document.createElement("div");
    box.className = "diagnostic";
    box.dataset.kind = d.kind;
    const head = document.createElement("span");
    head.className = "kind";
    head.textContent = `${d.kind} (SPI ${hex32(d.spi)})`;
    const msg = document.createElement("p");
    msg.className = "message";
    msg.textContent = d.message;
    const hint = document.createElement("p");
    hint.className = "hint";
    hint.textContent = `Fix: ${d.hint}`;
    box.append(head, msg, hint);
    diag.append(box);
  }

  const counts = $("counts");
  counts.replaceChildren();
  for (const [v, n] of Object.entries(r.counts)) {
    const s = document.createElement("span");
    s.dataset.verdict = v;
    s.textContent = `${v}: ${n}`;
    counts.append(s);
  }

  const saTable = $<HTMLTableElement>("sa-table");
  const saBody = saTable.tBodies[0] ?? saTable.createTBody(); // index.html has the <tbody>
  saBody.replaceChildren();
  for (const s of r.sas) {
    const tr = saBody.insertRow();
    cell(tr, hex32(s.spi), "spi");
    cell(tr, s.esp);
    cell(tr, s.mode);
    cell(tr, `${s.icvLength * 8} bits`, "num");
    cell(tr, s.packets.toString(), "num");
    cell(tr, s.bytes.toString(), "num");
    cell(tr, s.seq.toString(), "num");
    cell(
      tr,
      Object.entries(s.drops)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ") || "none",
    );
    cell(tr, s.origin);
  }
  $("summary").textContent = r.summary;
  renderVerdicts(r);
}

function renderVerdicts(r: DecryptResponse): void {
  const verdicts = $<HTMLTableElement>("verdicts");
  const body = verdicts.tBodies[0] ?? verdicts.createTBody(); // index.html has the <tbody>
  const rows = filterSelect.value === "problems" ? r.verdicts.filter((v) => v.verdict !== "ok") : r.verdicts;
  const frag = document.createDocumentFragment();
  for (const v of rows.slice(0, MAX_ROWS)) {
    const tr = document.createElement("tr");
    tr.className = `v-${v.verdict}`;
    cell(tr, String(v.frame), "num");
    cell(tr, v.spi === undefined ? "" : hex32(v.spi), "spi");
    cell(tr, v.seq === undefined ? "" : v.seq.toString(), "seq num");
    cell(tr, v.verdict, "verdict");
    cell(tr, v.reason, "reason");
    frag.append(tr);
  }
  body.replaceChildren(frag);
  $("verdicts-note").textContent =
    rows.length > MAX_ROWS
      ? `Showing the first ${MAX_ROWS} of ${rows.length} frames; the verdicts download has them all.`
      : `${rows.length} frames.`;
}

function download(data: BlobPart, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
const baseName = (): string => lastCaptureName.replace(/\.(pcapng|pcap|cap|dmp)$/i, "");
$("download").addEventListener("click", () => {
  if (last) download(last.output as BlobPart, `${baseName()}.decrypted.pcap`, "application/vnd.tcpdump.pcap");
});
$("download-verdicts").addEventListener("click", () => {
  if (last) download(last.jsonl, `${baseName()}.verdicts.jsonl`, "application/jsonl");
});

showNames();
if (fromDisk) $("engine").textContent = "opened from disk: runs on the page with the embedded wasm";
