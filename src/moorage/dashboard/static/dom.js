// Building the page's DOM from data, safely: text goes in as text nodes, never as markup.
// Nothing in the dashboard uses innerHTML; attribute values are set with setAttribute.

const SVG_NS = "http://www.w3.org/2000/svg";

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
  return node;
}

function setAttributes(node, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") || name === "style") {
      throw new Error(`refusing attribute ${name}`);
    }
    node.setAttribute(name, String(value));
  }
  return node;
}

// h("td", {class: "x"}, "text", child, [more]) -> an HTML element.
export function h(tag, attrs, ...children) {
  return append(setAttributes(document.createElement(tag), attrs), children);
}

// s("rect", {x: 1}) -> an SVG element.
export function s(tag, attrs, ...children) {
  return append(setAttributes(document.createElementNS(SVG_NS, tag), attrs), children);
}

// A link to a page of the dashboard (hash routes only: never a data-made URL).
export function routeLink(route, text, attrs) {
  const parts = route.map((part) => encodeURIComponent(part));
  return h("a", { ...(attrs || {}), href: "#/" + parts.join("/") }, text);
}

export function time(epochSeconds) {
  if (epochSeconds === null || epochSeconds === undefined) return "—";
  return new Date(epochSeconds * 1000).toLocaleTimeString();
}

export function dateTime(epochSeconds) {
  if (epochSeconds === null || epochSeconds === undefined) return "—";
  return new Date(epochSeconds * 1000).toLocaleString();
}

export function number(value, digits) {
  if (value === null || value === undefined) return "—";
  return Number(value).toLocaleString(undefined, { maximumFractionDigits: digits ?? 2 });
}

// A status word with a class per kind of status, for its colour.
export function badge(status) {
  const word = status || "—";
  const kind = /fail|alarm|rolledback|rollbackfailed|error/i.test(word)
    ? "bad"
    : /inservice|^ok$|completed|successful|running|done/i.test(word)
      ? "good"
      : /updating|rollingback|creating|deleting|progress|current|baking|insufficient|starting|stopping|pending/i.test(word)
        ? "busy"
        : "plain";
  return h("span", { class: `badge ${kind}`, "data-status": word }, word);
}

export function section(title, ...children) {
  return h("section", {}, h("h2", {}, title), ...children);
}

export function empty(text) {
  return h("p", { class: "empty" }, text);
}
