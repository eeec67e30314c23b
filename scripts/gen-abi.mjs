#!/usr/bin/env node
// Writes sdk/dataplane/abi.generated.ts from the one ABI source in assembly/: the constants of
// assembly/abi.ts (with their tables: status names, lifetime reasons, one union type per prefix)
// and the exported functions of assembly/index.ts (a typed interface and their parameter
// counts). The SDK imports that file instead of copying numbers by hand.
//
//   node scripts/gen-abi.mjs                 write the file (npm run build runs this)
//   node scripts/gen-abi.mjs --check         exit 1 with one line when the committed file is stale
//   --out PATH                               another output file (tests check a stale copy)
//
// Reads the sources with the TypeScript parser (a devDependency already): no wasm build needed.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ABI = "assembly/abi.ts";
const ENTRY = "assembly/index.ts";

/** Prefix → table name and what the table holds; a constant's prefix puts it in one. */
const GROUPS = [
  ["ST_", "StatusCode", "Packet status codes (descriptor D_STATUS, counters M_DROPS and global_counters_ptr)."],
  ["M_", "SaMetaOffset", "Byte offsets inside an SA slot (sa_meta_ptr)."],
  ["F_", "SaFlag", "SA flag bits (sa_add's flags, M_FLAGS)."],
  ["KIND_", "SuiteKindCode", "Suite kinds (sa_add's kind)."],
  ["HASH_", "HashAlgCode", "Hash ids (sa_add's hashAlg, cc_hmac and cc_hash)."],
  ["D_", "DescOffset", "Byte offsets inside a batch descriptor (desc_ptr)."],
  ["R_", "LifeReasonCode", "Lifetime reasons (M_LIFE, sa_life_mark)."],
  ["LE_", "LifeEventOffset", "Byte offsets inside the lifetime event queue (life_events_ptr)."],
  ["ERR_", "SaErrorCode", "Negative results of sa_add and the sa_set_* calls."],
];

/** wasm value types as the JS API passes them. */
const JS_TYPE = {
  i8: "number",
  u8: "number",
  i16: "number",
  u16: "number",
  i32: "number",
  u32: "number",
  bool: "number",
  isize: "number",
  usize: "number",
  f32: "number",
  f64: "number",
  i64: "bigint",
  u64: "bigint",
  void: "void",
};

const parse = (file) =>
  ts.createSourceFile(file, readFileSync(resolve(root, file), "utf8"), ts.ScriptTarget.Latest, true);

/** The TSDoc or `//` comment of a declaration: its own doc comment, else the comment after it on its line. */
function commentOf(node, sf) {
  const text = sf.getFullText();
  const docs = (ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [])
    .filter((c) => text.startsWith("/**", c.pos))
    .map((c) =>
      text
        .slice(c.pos + 3, c.end - 2)
        .replace(/^\s*\*\s?/gm, "")
        .trim(),
    );
  if (docs.length) return docs.at(-1);
  const trailing = (ts.getTrailingCommentRanges(text, node.getEnd()) ?? [])[0];
  return trailing ? text.slice(trailing.pos + 2, trailing.end).trim() : "";
}

function fail(msg) {
  console.error(`gen-abi: ${msg}`);
  process.exit(2);
}

/** Integer value of a constant's initializer: literals and arithmetic on constants above it. */
function evaluate(expr, known, where) {
  if (ts.isNumericLiteral(expr)) return Number(expr.text);
  if (ts.isParenthesizedExpression(expr)) return evaluate(expr.expression, known, where);
  if (ts.isPrefixUnaryExpression(expr) && expr.operator === ts.SyntaxKind.MinusToken)
    return -evaluate(expr.operand, known, where);
  if (ts.isIdentifier(expr)) {
    if (!known.has(expr.text)) fail(`${where}: ${expr.text} is not a constant declared above it in ${ABI}`);
    return known.get(expr.text).value;
  }
  if (ts.isBinaryExpression(expr)) {
    const a = evaluate(expr.left, known, where);
    const b = evaluate(expr.right, known, where);
    switch (expr.operatorToken.kind) {
      case ts.SyntaxKind.PlusToken:
        return a + b;
      case ts.SyntaxKind.MinusToken:
        return a - b;
      case ts.SyntaxKind.AsteriskToken:
        return a * b;
      case ts.SyntaxKind.LessThanLessThanToken:
        return a << b;
      case ts.SyntaxKind.BarToken:
        return a | b;
    }
  }
  return fail(`${where}: only integer literals and + - * << | of constants are understood, got "${expr.getText()}"`);
}

/** The constants of assembly/abi.ts, in order. */
function readConstants() {
  const sf = parse(ABI);
  const known = new Map();
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st)) fail(`${ABI} must import nothing (it is the lowest layer)`);
    if (!ts.isVariableStatement(st)) continue;
    if (!st.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) continue;
    if (!(st.declarationList.flags & ts.NodeFlags.Const)) fail(`${ABI}: only \`export const\` belongs here`);
    for (const d of st.declarationList.declarations) {
      const name = d.name.getText();
      if (!d.initializer) fail(`${ABI}: ${name} has no value`);
      const value = evaluate(d.initializer, known, name);
      if (!Number.isSafeInteger(value)) fail(`${ABI}: ${name} is not an integer`);
      known.set(name, { name, value, wasmType: d.type?.getText() ?? "i32", doc: commentOf(st, sf) });
    }
  }
  return [...known.values()];
}

/** A function declaration's signature, for the exports interface. */
function signature(fn, sf, exportName) {
  const params = fn.parameters.map((p) => {
    const t = p.type?.getText() ?? "";
    if (!(t in JS_TYPE))
      fail(`${sf.fileName}: parameter ${p.name.getText()} of ${exportName} has type "${t}", not a wasm value type`);
    return { name: p.name.getText(), type: JS_TYPE[t] };
  });
  const r = fn.type?.getText() ?? "void";
  if (!(r in JS_TYPE)) fail(`${sf.fileName}: ${exportName} returns "${r}", not a wasm value type`);
  return { name: exportName, params, result: JS_TYPE[r], doc: commentOf(fn, sf) };
}

/** Exported functions of assembly/index.ts, following `export { a as b } from "./x"`. */
function readExports() {
  const sf = parse(ENTRY);
  const out = [];
  const functionIn = (file, name) => {
    const src = parse(file);
    const fn = src.statements.find((s) => ts.isFunctionDeclaration(s) && s.name?.text === name);
    if (!fn) fail(`${ENTRY} re-exports ${name} from ${file}, which declares no such function`);
    return [fn, src];
  };
  for (const st of sf.statements) {
    const exported = st.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    if (ts.isFunctionDeclaration(st) && exported) out.push(signature(st, sf, st.name.text));
    else if (ts.isExportDeclaration(st)) {
      if (!st.moduleSpecifier || !st.exportClause || !ts.isNamedExports(st.exportClause)) {
        fail(`${ENTRY}: only \`export { name } from "./file"\` re-exports are understood`);
      }
      const file = relative(root, resolve(root, dirname(ENTRY), `${st.moduleSpecifier.text}.ts`));
      for (const el of st.exportClause.elements) {
        const [fn, src] = functionIn(file, (el.propertyName ?? el.name).text);
        out.push(signature(fn, src, el.name.text));
      }
    } else if (exported)
      fail(`${ENTRY}: an export that is not a function (${st.getText().slice(0, 40)}…); add it to the generator`);
  }
  return out;
}

/** "ST_NO_SA" → "no-sa". */
const kebab = (name, prefix) => name.slice(prefix.length).toLowerCase().replace(/_/g, "-");
/** `head item, item, … tail` wrapped at 110 columns, continuation lines indented by two. */
function wrap(head, items, sep, tail) {
  const lines = [];
  let cur = head;
  items.forEach((it, i) => {
    const piece = it + (i < items.length - 1 ? sep.trimEnd() : tail);
    if (cur.length + piece.length + 1 > 110 && cur.trim() !== "") {
      lines.push(cur.trimEnd());
      cur = "  ";
    }
    cur += (/[ ([]$/.test(cur) || cur === "" ? "" : " ") + piece;
  });
  lines.push(cur);
  return lines.join("\n");
}
const docLine = (doc, indent = "") =>
  doc ? `${indent}/** ${doc.replace(/\*\//g, "*\\/").replace(/\n/g, ` `)} */\n` : "";

/** Names indexed by code 0..n-1 (no gaps), from the constants with this prefix. */
function namesByCode(constants, prefix, zeroName) {
  const group = constants.filter((c) => c.name.startsWith(prefix));
  const names = [];
  for (const c of group) {
    if (names[c.value] !== undefined) fail(`${ABI}: ${c.name} reuses code ${c.value}`);
    names[c.value] = kebab(c.name, prefix);
  }
  if (zeroName !== undefined) {
    if (names[0] !== undefined) fail(`${ABI}: ${prefix}* codes start at 1 (0 means none)`);
    names[0] = zeroName;
  }
  for (let i = 0; i < names.length; i++) if (names[i] === undefined) fail(`${ABI}: ${prefix}* codes skip ${i}`);
  return names;
}

function generate() {
  const constants = readConstants();
  const exports = readExports();
  const statusNames = namesByCode(constants, "ST_");
  const lifeReasons = namesByCode(constants, "R_", null);
  const lines = [
    "// Generated by scripts/gen-abi.mjs from assembly/abi.ts and assembly/index.ts: do not edit.",
    "// Change those and run `node scripts/gen-abi.mjs` (npm run build does); CI fails when this is stale.",
    "/**",
    " * The wasm dataplane's ABI as the SDK sees it: memory offsets, flags, codes and the exports.",
    " * @module",
    " */",
    "",
  ];
  for (const c of constants) lines.push(`${docLine(c.doc)}export const ${c.name} = ${c.value};`);
  lines.push("");
  for (const [prefix, type, doc] of GROUPS) {
    const members = constants.filter((c) => c.name.startsWith(prefix)).map((c) => `typeof ${c.name}`);
    if (members.length === 0) fail(`${ABI}: no ${prefix}* constants`);
    lines.push(
      docLine(doc) +
        wrap(
          `export type ${type} =`,
          members.map((m, i) => (i ? "| " : "") + m),
          "",
          ";",
        ),
    );
  }
  lines.push(
    "",
    "/** Status names by code: ST_NO_SA is `no-sa`. One per drop counter. */",
    wrap(
      "export const STATUS_NAMES = [",
      statusNames.map((n) => JSON.stringify(n)),
      ",",
      "] as const;",
    ),
    "/** Lifetime reasons by code (M_LIFE bytes, sa_life_mark); code 0 is none. */",
    wrap(
      "export const LIFE_REASON_NAMES = [",
      lifeReasons.map((n) => JSON.stringify(n)),
      ",",
      "] as const;",
    ),
    "",
    "/** The dataplane wasm's exports (assembly/index.ts); i64 and u64 arrive as bigint. */",
    "export interface DataplaneExports {",
    "  /** The module's WebAssembly.Memory (only its buffer is read). */",
    "  readonly memory: { readonly buffer: ArrayBuffer };",
  );
  for (const f of exports) {
    const params = f.params.map((p) => `${p.name}: ${p.type}`);
    lines.push(
      docLine(f.doc, "  ") +
        (params.length
          ? wrap(`  ${f.name}(`, params, ",", `): ${f.result};`).replace(/\n {2}/g, "\n    ")
          : `  ${f.name}(): ${f.result};`),
    );
  }
  lines.push(
    "}",
    "",
    "/** Parameter count of every exported function (a wasm function's `length`). */",
    "export const EXPORT_ARITY = {",
    ...exports.map((f) => `  ${f.name}: ${f.params.length},`),
    '} as const satisfies Record<Exclude<keyof DataplaneExports, "memory">, number>;',
    "",
  );
  return lines.join("\n").replace(/\n\n\n+/g, "\n\n");
}

const args = process.argv.slice(2);
const outIdx = args.indexOf("--out");
const out = resolve(
  root,
  outIdx >= 0 ? (args[outIdx + 1] ?? fail("--out needs a path")) : "sdk/dataplane/abi.generated.ts",
);
const text = generate();
if (args.includes("--check")) {
  const shown = relative(root, out);
  if (!existsSync(out)) {
    console.error(`gen-abi: ${shown} is missing; run \`node scripts/gen-abi.mjs\` and commit it`);
    process.exit(1);
  }
  if (readFileSync(out, "utf8") !== text) {
    console.error(
      `gen-abi: ${shown} is stale (${ABI} or ${ENTRY} changed); run \`node scripts/gen-abi.mjs\` and commit it`,
    );
    process.exit(1);
  }
} else if (!existsSync(out) || readFileSync(out, "utf8") !== text) {
  writeFileSync(out, text);
}
