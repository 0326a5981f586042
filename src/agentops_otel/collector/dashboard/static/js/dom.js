// DOM building helpers. Every piece of data becomes a text node or an attribute value set
// through the DOM API; nothing is ever parsed as HTML, anywhere in this app.

const SVG_NS = "http://www.w3.org/2000/svg";

function applyProps(el, props) {
  if (!props) return;
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") Object.assign(el.style, value); // CSSOM: allowed by style-src 'self'
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "href") el.setAttribute("href", safeHref(value));
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

function appendChildren(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) appendChildren(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Create an HTML element: h("td", {class: "num"}, "text", otherNode). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  applyProps(el, props);
  appendChildren(el, children);
  return el;
}

/** Create an SVG element. */
export function svg(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyProps(el, props);
  appendChildren(el, children);
  return el;
}

/** Replace the content of `el` with `children`. */
export function mount(el, ...children) {
  const frag = document.createDocumentFragment();
  appendChildren(frag, children);
  el.replaceChildren(frag);
  return el;
}

/** Only same-page hash links and http(s) URLs become links; anything else (javascript:, data:) is refused. */
export function safeHref(value) {
  const text = String(value);
  if (text.startsWith("#")) return text;
  try {
    const url = new URL(text, location.href);
    if (url.protocol === "http:" || url.protocol === "https:") return url.href;
  } catch {
    // not a URL
  }
  return "#";
}

export function isHttpUrl(value) {
  if (typeof value !== "string") return false;
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

/** A small inline icon from a fixed set of paths (never from data). */
const ICONS = {
  download: "M12 3v12m0 0l-5-5m5 5l5-5M4 19h16",
  video: "M4 6h11v12H4zM15 10l5-3v10l-5-3",
  chevron: "M9 6l6 6-6 6",
  left: "M15 6l-6 6 6 6",
  right: "M9 6l6 6-6 6",
  key: "M3 12a4 4 0 1 0 8 0a4 4 0 1 0-8 0zM11 12h10M18 12v3M15 12v2",
  search: "M11 18a7 7 0 1 1 0-14 7 7 0 0 1 0 14zM16 16l4 4",
  x: "M6 6l12 12M18 6L6 18",
  refresh: "M20 12a8 8 0 1 1-2.3-5.7M20 4v5h-5",
  copy: "M9 9h10v10H9zM5 15V5h10",
  alert: "M12 4l9 16H3zM12 10v4M12 17v.5",
};

export function icon(name, cls = "icon") {
  return svg(
    "svg",
    { class: cls, viewBox: "0 0 24 24", "aria-hidden": "true", fill: "none" },
    svg("path", { d: ICONS[name], stroke: "currentColor", "stroke-width": "2", "stroke-linecap": "round", "stroke-linejoin": "round" }),
  );
}

/** Debounce a function. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
