// GitHub-flavoured Markdown as a PR comment renders it, for the tests: markdown-it with raw HTML
// (GitHub keeps <details> and <summary>), tables and strikethrough, bare links, and a line break
// where the text breaks a line (comments, unlike files, keep them); then GitHub's alerts
// (`> [!WARNING]` as the first line of a quote) turned into the box GitHub draws, by `githubAlerts`,
// which works on any DOM (jsdom in render.mjs, Chromium in browser.mjs).

import MarkdownIt from "markdown-it";

const md = new MarkdownIt({ html: true, linkify: true, breaks: true });

export function markdownToHtml(markdown) {
  return md.render(markdown);
}

// Sent to the page as its source text (browser.mjs), so it names nothing outside itself.
export function githubAlerts(document) {
  const MARK = /^\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\][ \t]*(\n|$)/;
  const ALERTS = { NOTE: "Note", TIP: "Tip", IMPORTANT: "Important", WARNING: "Warning", CAUTION: "Caution" };
  for (const quote of [...document.querySelectorAll("blockquote")]) {
    const first = quote.firstElementChild;
    if (!first || first.tagName !== "P" || !first.firstChild || first.firstChild.nodeType !== 3) continue;
    const found = MARK.exec(first.firstChild.data);
    if (!found) continue;
    first.firstChild.data = first.firstChild.data.slice(found[0].length);
    if (!found[2] && first.firstChild.nextSibling && first.firstChild.nextSibling.nodeName === "BR") {
      first.firstChild.nextSibling.remove();
    }
    if (first.firstChild.data === "") first.firstChild.remove();
    if (first.firstChild && first.firstChild.nodeType === 3) first.firstChild.data = first.firstChild.data.replace(/^\n/, "");
    if (!first.textContent.trim() && !first.children.length) first.remove();
    const box = document.createElement("div");
    box.className = `markdown-alert markdown-alert-${found[1].toLowerCase()}`;
    const title = document.createElement("p");
    title.className = "markdown-alert-title";
    title.textContent = ALERTS[found[1]];
    box.append(title, ...quote.childNodes);
    quote.replaceWith(box);
  }
}
