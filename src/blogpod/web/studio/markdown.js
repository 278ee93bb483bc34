// A tiny Markdown renderer for the live preview.
//
// The model's text is untrusted, so nothing here ever parses HTML: every block and inline
// span becomes a DOM node built with createElement + textContent, and links keep only
// http(s) or same-site URLs. It covers what a post needs while it streams (headings,
// paragraphs, lists, quotes, fenced code, emphasis, code spans, links); the published page
// is rendered by the server with a full parser.

const SAFE_URL = /^(https?:\/\/|\/(?!\/)|#)/i;

/** Append the inline spans of `text` (emphasis, code, links) to `parent`. */
function appendInline(parent, text) {
  const pattern = /(`[^`]+`)|(\*\*[^*]+\*\*|__[^_]+__)|(\*[^*\s][^*]*\*|_[^_\s][^_]*_)|(\[[^\]]+\]\([^)\s]+\))/;
  let rest = text;
  while (rest.length > 0) {
    const match = pattern.exec(rest);
    if (!match) {
      parent.append(document.createTextNode(rest));
      return;
    }
    if (match.index > 0) parent.append(document.createTextNode(rest.slice(0, match.index)));
    const token = match[0];
    if (match[1]) {
      const code = document.createElement("code");
      code.textContent = token.slice(1, -1);
      parent.append(code);
    } else if (match[2]) {
      const strong = document.createElement("strong");
      appendInline(strong, token.slice(2, -2));
      parent.append(strong);
    } else if (match[3]) {
      const em = document.createElement("em");
      appendInline(em, token.slice(1, -1));
      parent.append(em);
    } else {
      const close = token.indexOf("](");
      const label = token.slice(1, close);
      const url = token.slice(close + 2, -1);
      if (SAFE_URL.test(url)) {
        const link = document.createElement("a");
        link.href = url;
        link.rel = "noopener noreferrer nofollow";
        appendInline(link, label);
        parent.append(link);
      } else {
        parent.append(document.createTextNode(label));
      }
    }
    rest = rest.slice(match.index + token.length);
  }
}

function block(tag, text) {
  const node = document.createElement(tag);
  appendInline(node, text);
  return node;
}

/** Render `source` into a DocumentFragment. Safe for any input. */
export function renderMarkdown(source) {
  const fragment = document.createDocumentFragment();
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  let paragraph = [];
  let list = null;
  let quote = null;

  const flushParagraph = () => {
    if (paragraph.length) fragment.append(block("p", paragraph.join(" ")));
    paragraph = [];
  };
  const closeContainers = () => {
    flushParagraph();
    list = null;
    quote = null;
  };

  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    const fence = /^\s*(```|~~~)\s*([\w+-]*)/.exec(line);
    if (fence) {
      closeContainers();
      const pre = document.createElement("pre");
      const code = document.createElement("code");
      if (fence[2]) code.dataset.lang = fence[2];
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) {
        body.push(lines[i]);
        i += 1;
      }
      code.textContent = body.join("\n");
      pre.append(code);
      fragment.append(pre);
      continue;
    }
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      closeContainers();
      fragment.append(block(`h${heading[1].length}`, heading[2]));
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      closeContainers();
      fragment.append(document.createElement("hr"));
      continue;
    }
    const item = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(line);
    if (item) {
      flushParagraph();
      quote = null;
      const ordered = /\d/.test(item[1]);
      const tag = ordered ? "ol" : "ul";
      if (!list || list.tagName.toLowerCase() !== tag) {
        list = document.createElement(tag);
        fragment.append(list);
      }
      list.append(block("li", item[2]));
      continue;
    }
    const quoted = /^\s*>\s?(.*)$/.exec(line);
    if (quoted) {
      flushParagraph();
      list = null;
      if (!quote) {
        quote = document.createElement("blockquote");
        fragment.append(quote);
      }
      quote.append(block("p", quoted[1]));
      continue;
    }
    if (line.trim() === "") {
      closeContainers();
      continue;
    }
    if (list && /^\s{2,}\S/.test(line) && list.lastElementChild) {
      list.lastElementChild.append(document.createTextNode(" "));
      appendInline(list.lastElementChild, line.trim());
      continue;
    }
    list = null;
    quote = null;
    paragraph.push(line.trim());
  }
  flushParagraph();
  return fragment;
}

/** Words in `text`, as a reader would count them. */
export function countWords(text) {
  const words = text.match(/[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu);
  return words ? words.length : 0;
}
