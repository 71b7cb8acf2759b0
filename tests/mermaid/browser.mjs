// PR comments as a reviewer sees them: each Markdown file rendered as GitHub renders a comment (gfm.mjs,
// then Mermaid's own library for the ```mermaid blocks), in headless Chromium at 1,000 px wide, measured
// and photographed.
//
//   node tests/mermaid/browser.mjs OUT_DIR COMMENT.md...
//
// stdout: a JSON array, one object per file: {file, screenshot, height, verdictBottom, firstPlotTop,
// sparseCharts, openDetails, diagrams, errors}. Exit 0 whenever the pages were measured; 2 when the
// harness broke (no Chromium, a module missing). Nothing is downloaded: Chromium is Debian's, started
// with a fresh profile and every background fetch turned off, and every page is built from files here.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const CHROMIUM = process.env.MLOPS_GITOPS_CHROMIUM || "/usr/bin/chromium";
const WIDTH = 1000;
const HERE = fileURLToPath(new URL(".", import.meta.url));

function fail(message) {
  process.stderr.write(`browser.mjs: ${message}\n`);
  process.exit(2);
}

const [outDir, ...files] = process.argv.slice(2);
if (!outDir || !files.length) fail("usage: node browser.mjs OUT_DIR COMMENT.md...");

let chromium, markdownToHtml, githubAlerts;
try {
  ({ chromium } = await import("playwright-core"));
  ({ markdownToHtml, githubAlerts } = await import("./gfm.mjs"));
} catch (e) {
  fail(`cannot load playwright-core/markdown-it (run \`npm ci --prefix tests/mermaid\`): ${e.stack || e}`);
}
const MERMAID = join(HERE, "node_modules", "mermaid", "dist", "mermaid.min.js");

// Roughly GitHub's comment: its fonts, sizes, tables, code, alerts and <details>.
const CSS = `
body { margin: 0; background: #fff; }
.comment { box-sizing: border-box; width: ${WIDTH}px; padding: 16px;
  font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif,
  "Apple Color Emoji", "Segoe UI Emoji", "Noto Color Emoji"; color: #1f2328; word-wrap: break-word; }
.comment > :first-child { margin-top: 0 !important; }
p, blockquote, ul, ol, table, pre, details, .markdown-alert { margin: 0 0 16px; }
h2, h3, h4 { margin: 24px 0 16px; font-weight: 600; line-height: 1.25; }
h2 { font-size: 1.5em; padding-bottom: .3em; border-bottom: 1px solid #d1d9e0; }
h3 { font-size: 1.25em; } h4 { font-size: 1em; }
ul { padding-left: 2em; }
code { padding: .2em .4em; font-size: 85%; background: #818b981f; border-radius: 6px;
  font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace; }
pre { padding: 16px; background: #f6f8fa; border-radius: 6px; overflow: auto; }
pre code { padding: 0; background: none; }
table { display: block; width: max-content; max-width: 100%; overflow: auto; border-spacing: 0; border-collapse: collapse; }
th, td { padding: 6px 13px; border: 1px solid #d1d9e0; }
th { font-weight: 600; } tr:nth-child(2n) { background: #f6f8fa; }
summary { cursor: pointer; display: list-item; }
.markdown-alert { padding: 8px 16px; border-left: .25em solid #0969da; }
.markdown-alert > :last-child { margin-bottom: 0; }
.markdown-alert-title { font-weight: 500; color: #0969da; margin-bottom: 4px; }
.markdown-alert-warning { border-left-color: #9a6700; } .markdown-alert-warning .markdown-alert-title { color: #9a6700; }
.mermaid { margin: 0 0 16px; text-align: center; }
.mermaid svg { max-width: 100%; height: auto; }
`;

function page(html) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><style>${CSS}</style></head>
<body><div class="comment">${html}</div></body></html>`;
}

// In the page: ```mermaid blocks become Mermaid diagrams (GitHub draws those it shows; a diagram in a
// closed <details> is drawn once opened, so here too only the visible ones are), then the figures.
async function measure() {
  const errors = [];
  const blocks = [...document.querySelectorAll("pre > code.language-mermaid")];
  for (const code of blocks) {
    const box = document.createElement("div");
    box.className = "mermaid";
    box.dataset.source = code.textContent;
    box.textContent = code.textContent;
    code.parentElement.replaceWith(box);
  }
  const shown = [...document.querySelectorAll(".mermaid")].filter((d) => d.checkVisibility());
  mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "default" });
  for (const box of shown) {
    try {
      await mermaid.run({ nodes: [box] });
    } catch (e) {
      errors.push(String(e && e.message ? e.message : e).split("\n")[0]);
    }
  }
  const top = (el) => el.getBoundingClientRect().top + window.scrollY;
  const comment = document.querySelector(".comment");
  const verdict = [...comment.querySelectorAll("p")].find((p) => /\*\*|Pass|Fail|No gates/.test(p.textContent));
  // The first plot drawn in the open: what follows the first heading under "Plots".
  let firstPlotTop = null;
  const plotsHeading = [...comment.querySelectorAll("h3")].find((h) => h.textContent.startsWith("Plots"));
  if (plotsHeading) {
    for (let el = plotsHeading.nextElementSibling; el && el.tagName !== "H3"; el = el.nextElementSibling) {
      if (el.tagName === "H4") {
        for (let d = el.nextElementSibling; d && !/^H[1-4]$/.test(d.tagName); d = d.nextElementSibling) {
          if (d.tagName === "TABLE" || d.classList.contains("mermaid")) {
            firstPlotTop = top(d);
            break;
          }
        }
        break;
      }
    }
  }
  // A chart in the open whose series hold fewer than 3 values: a line between two numbers.
  const sparseCharts = [];
  for (const box of shown) {
    const counts = [...box.dataset.source.matchAll(/^\s*(?:line|bar)\s*\[([^\]]*)\]/gm)].map((m) => m[1].split(",").length);
    if (counts.some((n) => n < 3)) sparseCharts.push(box.dataset.source.split("\n").find((l) => l.includes("title")) || "?");
  }
  return {
    height: Math.ceil(comment.getBoundingClientRect().height),
    verdictBottom: verdict ? Math.ceil(verdict.getBoundingClientRect().bottom + window.scrollY) : null,
    verdict: verdict ? verdict.textContent : null,
    firstPlotTop: firstPlotTop === null ? null : Math.floor(firstPlotTop),
    sparseCharts,
    openDetails: document.querySelectorAll("details[open]").length,
    details: document.querySelectorAll("details").length,
    diagrams: shown.length,
    drawn: shown.filter((d) => d.querySelector("svg")).length,
    errors,
  };
}

const profile = mkdtempSync(join(tmpdir(), "mlops-gitops-chromium-"));
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: WIDTH, height: 800 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
} catch (e) {
  rmSync(profile, { recursive: true, force: true });
  fail(`cannot start ${CHROMIUM}: ${String(e.message || e).split("\n")[0]}`);
}
const results = [];
try {
  const tab = await context.newPage();
  // Nothing from outside: every request that is not this page's own file is refused.
  await tab.route("**/*", (route) => (route.request().url().startsWith("file:") ? route.continue() : route.abort()));
  for (const file of files) {
    const name = basename(file).replace(/\.md$/, "");
    const htmlPath = resolve(outDir, `${name}.html`);
    writeFileSync(htmlPath, page(markdownToHtml(readFileSync(file, "utf8"))));
    await tab.goto(pathToFileURL(htmlPath).href);
    await tab.evaluate(`(${githubAlerts.toString()})(document)`);
    await tab.addScriptTag({ path: MERMAID });
    const figures = await tab.evaluate(measure);
    const screenshot = resolve(outDir, `${name}.png`);
    await tab.screenshot({ path: screenshot, fullPage: true });
    results.push({ file, screenshot, ...figures });
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(results) + "\n", () => process.exit(0));
