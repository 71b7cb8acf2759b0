// Validates Mermaid diagrams with Mermaid's own parser, offline, in one Node process.
//
//   node tests/mermaid/check.mjs < diagrams.json
//
// stdin: a JSON array of diagram sources (the bodies of ```mermaid blocks, without the fences).
// stdout: a JSON array of the same length: null where `mermaid.parse` accepted the diagram, else its
// error message on one line. Exit 0 whenever the check ran, even if diagrams are invalid; exit 2 when
// the harness itself broke (bad input, mermaid or jsdom missing or failing to load).
//
// mermaid.parse needs a DOM (DOMPurify, and some diagram modules touch `document` while loading), so
// jsdom's window is installed as the globals a browser would have before mermaid is imported.

import { readFileSync } from "node:fs";

function fail(message) {
  process.stderr.write(`check.mjs: ${message}\n`);
  process.exit(2);
}

// Anything Mermaid (or a dependency) logs must not reach stdout, which carries the JSON answer.
for (const level of ["log", "info", "warn", "error", "debug", "trace"]) {
  console[level] = (...args) => process.stderr.write(args.map(String).join(" ") + "\n");
}

let diagrams;
try {
  diagrams = JSON.parse(readFileSync(0, "utf8"));
} catch (e) {
  fail(`stdin is not JSON: ${e.message}`);
}
if (!Array.isArray(diagrams) || !diagrams.every((d) => typeof d === "string")) {
  fail("stdin must be a JSON array of strings");
}

let mermaid;
try {
  const { JSDOM } = await import("jsdom");
  const { window } = new JSDOM("<!DOCTYPE html><html><body></body></html>", { pretendToBeVisual: true });
  const globals = {
    window,
    document: window.document,
    navigator: window.navigator,
    DOMParser: window.DOMParser,
    Element: window.Element,
    HTMLElement: window.HTMLElement,
    SVGElement: window.SVGElement,
    Node: window.Node,
    MutationObserver: window.MutationObserver,
    getComputedStyle: window.getComputedStyle.bind(window),
  };
  for (const [name, value] of Object.entries(globals)) {
    // Node 21+ defines a read-only `navigator`; defineProperty replaces it either way.
    Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
  mermaid = (await import("mermaid")).default;
  mermaid.initialize({ startOnLoad: false, logLevel: "fatal", securityLevel: "strict" });
} catch (e) {
  fail(`cannot load mermaid/jsdom (run \`npm ci --prefix tests/mermaid\`): ${e.stack || e}`);
}

function oneLine(error) {
  const text = error instanceof Error ? error.message : typeof error === "string" ? error : JSON.stringify(error);
  const lines = String(text)
    .split("\n")
    .map((s) => s.trim())
    .filter(Boolean);
  return lines.join(" | ") || "parse failed without a message";
}

const results = [];
for (const text of diagrams) {
  try {
    const ok = await mermaid.parse(text);
    // With suppressErrors unset, parse throws on errors; a false return would still mean invalid.
    results.push(ok === false ? "mermaid.parse returned false" : null);
  } catch (e) {
    results.push(oneLine(e));
  }
}
process.stdout.write(JSON.stringify(results) + "\n", () => process.exit(0));
