// The visible text of Markdown as GitHub renders it (gfm.mjs), for the escaping tests.
//
//   node tests/mermaid/render.mjs < cases.json
//
// stdin: a JSON array of {"markdown": "...", "selector": "td"}; stdout: a JSON array of the same
// length, each the textContent of every element the selector matches in the rendered page, in order
// (the whole body's for selector "body"), and the rendered HTML. Exit 2 when the harness broke.

import { readFileSync } from "node:fs";

function fail(message) {
  process.stderr.write(`render.mjs: ${message}\n`);
  process.exit(2);
}

let cases;
try {
  cases = JSON.parse(readFileSync(0, "utf8"));
} catch (e) {
  fail(`stdin is not JSON: ${e.message}`);
}
if (!Array.isArray(cases) || !cases.every((c) => typeof c?.markdown === "string" && typeof c?.selector === "string")) {
  fail('stdin must be a JSON array of {"markdown": string, "selector": string}');
}

let JSDOM, markdownToHtml, githubAlerts;
try {
  ({ JSDOM } = await import("jsdom"));
  ({ markdownToHtml, githubAlerts } = await import("./gfm.mjs"));
} catch (e) {
  fail(`cannot load markdown-it/jsdom (run \`npm ci --prefix tests/mermaid\`): ${e.stack || e}`);
}

const out = [];
for (const { markdown, selector } of cases) {
  const html = markdownToHtml(markdown);
  const { document } = new JSDOM(`<!DOCTYPE html><body>${html}</body>`).window;
  githubAlerts(document);
  out.push({ texts: [...document.querySelectorAll(selector)].map((e) => e.textContent), html: document.body.innerHTML });
}
process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0));
