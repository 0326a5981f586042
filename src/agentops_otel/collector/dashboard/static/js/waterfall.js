// Waterfall timeline of a session's spans, nested by parent.
//
// Sessions can hold thousands of spans, so rows are virtualised: the tree is flattened once into
// an array, and only the rows in (or near) the viewport exist in the DOM, rebuilt in one
// DocumentFragment per scroll frame. Clicks are handled by one delegated listener.

import { KIND_LABELS } from "./components.js";
import { h, icon } from "./dom.js";
import * as fmt from "./format.js";
import * as sc from "./semconv.js";

const ROW_HEIGHT = 30; // px; must match .wf-row height in app.css
const OVERSCAN = 12;
const MIN_BODY = 300; // px: with the toolbar and header, the span panel's minimum height
const MAX_BODY = 640; // px
const KIND_FILTERS = [["all", "All"], [sc.KIND_LLM, "LLM"], [sc.KIND_TOOL, "Tools"], [sc.KIND_ACTION, "Actions"], [sc.KIND_AGENT, "Agents"], [sc.KIND_ERROR, "Errors"]];

function isError(span) {
  return span.status_code === "ERROR" || span.kind === sc.KIND_ERROR;
}

function kindClass(kind) {
  return kind && Object.hasOwn(KIND_LABELS, kind) ? kind : "other";
}

/**
 * Index spans by id and parent in one pass over the spans (times, bounds, order check), then link
 * children to parents; spans whose parent never arrived are shown at the top level.
 */
function buildTree(spans) {
  const nodes = new Array(spans.length);
  const byId = new Map();
  let t0 = Infinity;
  let t1 = -Infinity;
  let sorted = true;
  for (let i = 0; i < spans.length; i += 1) {
    const span = spans[i];
    const start = fmt.parseTime(span.start_time) ?? 0;
    const end = fmt.parseTime(span.end_time) ?? start;
    const node = { span, start, end, children: [], parent: null, depth: -1, error: isError(span), text: String(span.name || "").toLowerCase(), match: false };
    if (i > 0 && start < nodes[i - 1].start) sorted = false;
    nodes[i] = node;
    byId.set(span.span_id, node);
    if (start < t0) t0 = start;
    if (end > t1) t1 = end;
  }
  if (!sorted) nodes.sort((a, b) => a.start - b.start); // the API sends them by start time already
  const roots = [];
  for (const node of nodes) {
    const parent = node.span.parent_span_id ? byId.get(node.span.parent_span_id) : undefined;
    if (parent && parent !== node) {
      node.parent = parent;
      parent.children.push(node);
    } else {
      roots.push(node);
    }
  }
  // Depths by walking down from the roots (iteratively: trees can be deep).
  const walk = (top) => {
    const stack = [[top, 0]];
    while (stack.length) {
      const [node, depth] = stack.pop();
      node.depth = depth;
      for (const child of node.children) stack.push([child, depth + 1]);
    }
  };
  for (const root of roots) walk(root);
  // Spans whose parents form a cycle (bad client data) are reached from no root: cut each cycle
  // at one span, which becomes a root, so every span is shown and no walk up the parents loops.
  for (const node of nodes) {
    if (node.depth >= 0) continue;
    const siblings = node.parent.children;
    siblings.splice(siblings.indexOf(node), 1);
    node.parent = null;
    roots.push(node);
    walk(node);
  }
  if (!Number.isFinite(t0)) { t0 = 0; t1 = 1; }
  return { nodes, roots, byId, t0, total: Math.max(t1 - t0, 1) };
}

function niceStep(total, count) {
  const raw = total / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

export class Waterfall {
  constructor({ spans, onSelect }) {
    this.onSelect = onSelect;
    this.collapsed = new Set();
    this.selectedId = null;
    this.filterText = "";
    this.filterKind = "all";
    this.rows = [];
    this.frame = 0;

    this.search = h("input", { class: "input input-sm", type: "search", id: "wf-search", placeholder: "Filter spans by name", spellcheck: "false", autocomplete: "off" });
    this.search.addEventListener("input", () => { this.filterText = this.search.value.trim().toLowerCase(); this.refresh(true); });
    this.kindButtons = KIND_FILTERS.map(([value, label]) =>
      h("button", { type: "button", class: "seg-btn", "data-kind": value, "aria-pressed": String(value === "all"), onclick: () => this.setKind(value) }, label),
    );
    this.countLabel = h("span", { class: "wf-count muted" });
    const toolbar = h(
      "div",
      { class: "wf-toolbar" },
      h("div", { class: "input-icon input-icon-sm" }, icon("search"), this.search),
      h("div", { class: "segmented segmented-sm", role: "group", "aria-label": "Span kind" }, this.kindButtons),
      h("div", { class: "wf-toolbar-end" },
        this.countLabel,
        h("button", { type: "button", class: "btn btn-ghost btn-sm", onclick: () => this.expandAll() }, "Expand all"),
        h("button", { type: "button", class: "btn btn-ghost btn-sm", onclick: () => this.collapseAll() }, "Collapse all")),
    );
    this.axis = h("div", { class: "wf-axis-ticks" });
    const header = h("div", { class: "wf-header" }, h("div", { class: "wf-label wf-head-label" }, "Span"), h("div", { class: "wf-track wf-axis" }, this.axis));
    this.canvas = h("div", { class: "wf-canvas", role: "tree", "aria-label": "Spans" });
    this.body = h("div", { class: "wf-body", tabindex: "0" }, this.canvas);
    this.el = h("div", { class: "waterfall", id: "waterfall" }, toolbar, header, this.body);

    this.body.addEventListener("scroll", () => this.schedule());
    this.canvas.addEventListener("click", (e) => this.onClick(e));
    this.body.addEventListener("keydown", (e) => this.onKey(e));
    this.resizeObserver = new ResizeObserver(() => this.schedule());
    this.resizeObserver.observe(this.body);
    this.setSpans(spans);
  }

  /** Replace the spans (live sessions), keeping selection, collapsed rows and scroll position. */
  setSpans(spans) {
    this.tree = buildTree(spans);
    performance.mark("dashboard:tree-built");
    this.renderAxis();
    this.refresh(false);
  }

  setKind(kind) {
    this.filterKind = kind;
    for (const btn of this.kindButtons) btn.setAttribute("aria-pressed", String(btn.dataset.kind === kind));
    this.refresh(true);
  }

  filtering() {
    return this.filterText !== "" || this.filterKind !== "all";
  }

  matches(node) {
    if (this.filterKind === sc.KIND_ERROR ? !node.error : this.filterKind !== "all" && node.span.kind !== this.filterKind) return false;
    return this.filterText === "" || node.text.includes(this.filterText);
  }

  /** Flatten the tree into the visible rows: collapsed subtrees skipped; when filtering, matches and their ancestors. */
  flatten() {
    const rows = [];
    let keep = null;
    if (this.filtering()) {
      keep = new Set();
      for (const node of this.tree.nodes) {
        if (!this.matches(node)) continue;
        node.match = true;
        for (let n = node; n && !keep.has(n); n = n.parent) keep.add(n);
      }
    }
    const stack = [...this.tree.roots].reverse();
    while (stack.length) {
      const node = stack.pop();
      if (keep && !keep.has(node)) continue;
      rows.push(node);
      if (keep || !this.collapsed.has(node.span.span_id)) {
        for (let i = node.children.length - 1; i >= 0; i -= 1) stack.push(node.children[i]);
      }
    }
    return rows;
  }

  refresh(toTop) {
    for (const node of this.tree.nodes) node.match = false;
    this.rows = this.flatten();
    this.canvas.style.height = `${this.rows.length * ROW_HEIGHT}px`;
    // Tall enough for the whole tree up to a screenful; the span panel beside it scrolls on its own.
    this.body.style.height = `${Math.min(Math.max(this.rows.length * ROW_HEIGHT, MIN_BODY), MAX_BODY)}px`;
    const total = this.tree.nodes.length;
    this.countLabel.textContent = this.filtering()
      ? `${fmt.int(this.rows.filter((n) => n.match).length)} of ${fmt.count(total, "span")}`
      : fmt.count(total, "span");
    if (toTop) this.body.scrollTop = 0;
    this.render();
  }

  renderAxis() {
    const { total } = this.tree;
    const step = niceStep(total, 5);
    const ticks = [];
    for (let t = 0; t <= total + 1e-9; t += step) {
      ticks.push(h("span", { class: "wf-tick", style: { left: `${(t / total) * 100}%` } }, t === 0 ? "0" : fmt.millis(t)));
    }
    this.axis.replaceChildren(...ticks);
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  render() {
    const viewport = this.body.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.body.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.rows.length, Math.ceil((this.body.scrollTop + viewport) / ROW_HEIGHT) + OVERSCAN);
    const frag = document.createDocumentFragment();
    for (let i = first; i < last; i += 1) frag.appendChild(this.row(this.rows[i], i));
    this.canvas.replaceChildren(frag);
  }

  row(node, index) {
    const { span } = node;
    const { t0, total } = this.tree;
    const kind = kindClass(span.kind);
    const left = ((node.start - t0) / total) * 100;
    const width = Math.max(((node.end - node.start) / total) * 100, 0);
    const hasChildren = node.children.length > 0;
    const collapsed = this.collapsed.has(span.span_id) && !this.filtering();
    const classes = ["wf-row"];
    if (span.span_id === this.selectedId) classes.push("selected");
    if (node.error) classes.push(span.kind === sc.KIND_SESSION ? "is-failed-session" : "is-error");
    if (this.filtering() && !node.match) classes.push("dim");

    const toggle = hasChildren
      ? h("button", { type: "button", class: `wf-toggle${collapsed ? "" : " open"}`, "aria-label": collapsed ? "Expand" : "Collapse", tabindex: "-1" }, icon("chevron"))
      : h("span", { class: "wf-toggle-space" });
    const meta = [];
    if (span.kind === sc.KIND_LLM) {
      const attrs = span.attributes || {};
      const model = sc.MODEL_KEYS.map((key) => attrs[key]).find((v) => typeof v === "string" && v);
      if (span.cost) meta.push(fmt.money(span.cost));
      else meta.push("unpriced");
      if (model && !String(span.name).includes(model)) meta.push(model);
    }
    if (hasChildren && collapsed) meta.push(`+${node.children.length}`);
    const duration = fmt.millis(span.duration_ms ?? node.end - node.start);
    // Duration beside the bar: right of it, else left of it, else (a bar spanning the track) inside it.
    let place = "right";
    if (left + width > 78) place = left > 14 ? "left" : "inside";
    const durationStyle = place === "left" ? { right: `${100 - left}%` } : place === "inside" ? { right: `${100 - left - width}%` } : { left: `${left + width}%` };
    const durationLabel = h("span", { class: `wf-dur wf-dur-${place}`, style: durationStyle }, duration);

    return h(
      "div",
      {
        class: classes.join(" "),
        role: "treeitem",
        "aria-level": String(node.depth + 1),
        "aria-expanded": hasChildren ? String(!collapsed) : null,
        "aria-selected": String(span.span_id === this.selectedId),
        "data-span-id": span.span_id,
        "data-kind": span.kind || "",
        style: { top: `${index * ROW_HEIGHT}px` },
      },
      h(
        "div",
        { class: "wf-label", style: { paddingLeft: `${8 + Math.min(node.depth, 24) * 16}px` }, title: span.name },
        toggle,
        h("span", { class: `wf-dot kind-bg-${kind}` }),
        h("span", { class: "wf-name" }, span.name || "(unnamed)"),
        node.error ? h("span", { class: "wf-err", title: "Error" }, "!") : null,
        meta.length ? h("span", { class: "wf-meta" }, meta.join(" · ")) : null,
      ),
      h("div", { class: "wf-track" }, h("div", { class: `wf-bar kind-bg-${kind}`, style: { left: `${left}%`, width: `${width}%` } }), durationLabel),
    );
  }

  onClick(event) {
    const rowEl = event.target.closest(".wf-row");
    if (!rowEl) return;
    const id = rowEl.dataset.spanId;
    if (event.target.closest(".wf-toggle")) {
      this.toggle(id);
      return;
    }
    this.select(id);
  }

  toggle(id) {
    if (this.collapsed.has(id)) this.collapsed.delete(id);
    else this.collapsed.add(id);
    this.refresh(false);
  }

  expandAll() {
    this.collapsed.clear();
    this.refresh(false);
  }

  collapseAll() {
    for (const node of this.tree.nodes) if (node.children.length && node.parent) this.collapsed.add(node.span.span_id);
    this.refresh(true);
  }

  /** Select a span by id: reveal it (expanding its ancestors), scroll to it and tell the page. */
  select(id, { scroll = false } = {}) {
    const node = this.tree.byId.get(id);
    if (!node) return;
    this.selectedId = id;
    let expanded = false;
    for (let n = node.parent; n; n = n.parent) expanded = this.collapsed.delete(n.span.span_id) || expanded;
    if (expanded) this.refresh(false);
    let index = this.rows.indexOf(node);
    if (index < 0 && this.filtering()) {
      this.search.value = "";
      this.filterText = "";
      this.setKind("all");
      index = this.rows.indexOf(node);
    }
    if (scroll && index >= 0) this.scrollToIndex(index);
    this.render();
    this.onSelect(node.span);
  }

  scrollToIndex(index) {
    const top = index * ROW_HEIGHT;
    const viewport = this.body.clientHeight;
    if (top < this.body.scrollTop) this.body.scrollTop = top;
    else if (top + ROW_HEIGHT > this.body.scrollTop + viewport) this.body.scrollTop = top + ROW_HEIGHT - viewport;
  }

  onKey(event) {
    if (!["ArrowDown", "ArrowUp", "ArrowLeft", "ArrowRight", "Enter"].includes(event.key)) return;
    event.preventDefault();
    let index = this.rows.findIndex((n) => n.span.span_id === this.selectedId);
    const node = this.rows[index];
    if (event.key === "ArrowDown") index = Math.min(this.rows.length - 1, index + 1);
    else if (event.key === "ArrowUp") index = Math.max(0, index - 1);
    else if (node && event.key === "ArrowLeft" && node.children.length && !this.collapsed.has(node.span.span_id)) return this.toggle(node.span.span_id);
    else if (node && event.key === "ArrowRight" && this.collapsed.has(node.span.span_id)) return this.toggle(node.span.span_id);
    else return;
    if (this.rows[index]) this.select(this.rows[index].span.span_id, { scroll: true });
  }

  destroy() {
    this.resizeObserver.disconnect();
    cancelAnimationFrame(this.frame);
  }
}
