// Small reusable pieces of UI: badges, tag chips, stat cards, notices.

import { h, icon } from "./dom.js";
import * as fmt from "./format.js";
import * as sc from "./semconv.js";

const END_STATES = { Success: "success", Failure: "failure", Indeterminate: "indeterminate" };

/**
 * A session's state as the collector says it (`state`: Running, Inactive, or the end state of an
 * ended session), the same word the list's state filter asks for.
 */
export function sessionState(session) {
  if (session.state) return session.state;
  return session.in_progress ? "Running" : session.end_state || "Indeterminate";
}

export function isInactive(session) {
  return sessionState(session) === "Inactive";
}

/** The state badge of a session: its end state, or "Running" / "Inactive" before it ends. */
export function stateBadge(session) {
  const state = sessionState(session);
  if (state === "Inactive") {
    const title = `No session end received, and no span for over an hour (last ${fmt.relative(session.last_activity_timestamp)}): the process may have exited without ending it`;
    return h("span", { class: "badge badge-neutral badge-inactive", title }, h("span", { class: "dot" }), "Inactive");
  }
  if (state === "Running") return h("span", { class: "badge badge-running", title: "No session end received yet" }, h("span", { class: "pulse" }), "Running");
  const cls = END_STATES[state] || "indeterminate";
  return h("span", { class: `badge badge-${cls}` }, h("span", { class: "dot" }), state);
}

export const KIND_LABELS = {
  [sc.KIND_SESSION]: "Session", [sc.KIND_LLM]: "LLM", [sc.KIND_TOOL]: "Tool",
  [sc.KIND_ACTION]: "Action", [sc.KIND_AGENT]: "Agent", [sc.KIND_ERROR]: "Error",
};

export function kindBadge(kind) {
  const known = kind && Object.hasOwn(KIND_LABELS, kind);
  return h("span", { class: `kind kind-${known ? kind : "other"}` }, known ? KIND_LABELS[kind] : kind || "Span");
}

export function statusBadge(code) {
  if (code === "ERROR") return h("span", { class: "badge badge-failure" }, h("span", { class: "dot" }), "Error");
  if (code === "OK") return h("span", { class: "badge badge-success" }, h("span", { class: "dot" }), "OK");
  return h("span", { class: "badge badge-neutral" }, "Unset");
}

/** Tag chips; `onClick(tag)` makes them buttons; tags in `active` are highlighted. */
export function tagList(tags, onClick, active = null) {
  if (!tags || tags.length === 0) return h("span", { class: "muted" }, "—");
  return h(
    "span",
    { class: "tags" },
    tags.map((tag) =>
      onClick
        ? h("button", { type: "button", class: `tag tag-button${active && active.has(tag) ? " tag-active" : ""}`, title: `Filter by tag “${tag}”`, onclick: (e) => { e.stopPropagation(); onClick(tag); } }, tag)
        : h("span", { class: "tag" }, tag),
    ),
  );
}

/** A money amount as displayed everywhere (fmt.money), with the exact amount as its tooltip. */
export function moneyText(value, cls = "money") {
  return h("span", { class: cls, title: fmt.exactMoney(value) }, fmt.money(value));
}

/** Why a session's cost is partial: some LLM calls have no known cost (their spans say which). */
export function partialReason(session) {
  const n = fmt.num(session.unpriced_llm_calls);
  return `Partial: ${fmt.count(n, "LLM call")} without a known cost (no usage reported, or no price for the model); the cost covers the other calls.`;
}

/** A session's cost, marked "partial" when some of its LLM calls could not be priced. */
export function sessionCost(session, cls = "money") {
  const amount = moneyText(session.cost, cls);
  if (!session.cost_partial) return amount;
  return h("span", { class: "cost-with-partial" }, amount, h("span", { class: "cost-partial", title: partialReason(session) }, "partial"));
}

/**
 * A session's tags. Tags travel on the root span, which is sent when the session ends: a running
 * session without any yet says so instead of looking untagged.
 */
export function sessionTags(session, onClick, active) {
  if (session.in_progress && !(session.tags && session.tags.length)) {
    if (isInactive(session)) return h("span", { class: "tags-pending", title: "Tags are sent with the session's root span, at its end, which never came" }, "not received");
    return h("span", { class: "tags-pending", title: "Tags are sent with the session's root span, so they arrive when the session ends" }, "arrive at session end");
  }
  return tagList(session.tags, onClick, active);
}

export function statCard(label, value, sub, extraClass = "") {
  return h("div", { class: `stat ${extraClass}` }, h("div", { class: "stat-label" }, label), h("div", { class: "stat-value" }, value), sub ? h("div", { class: "stat-sub" }, sub) : null);
}

export function notice(kind, title, message) {
  return h("div", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" }, icon(kind === "error" ? "alert" : "search", "icon notice-icon"), h("div", null, h("div", { class: "notice-title" }, title), message ? h("div", { class: "notice-text" }, message) : null));
}

/** A whole page saying what went wrong, with the way back to the sessions list. */
export function errorPage(title, message) {
  return h("section", { class: "page", id: "error-page" }, h("nav", { class: "breadcrumb" }, h("a", { href: "#/sessions", class: "link" }, "← Sessions")), notice("error", title, message));
}

export function loading(label = "Loading…") {
  return h("div", { class: "loading" }, h("span", { class: "spinner", "aria-hidden": "true" }), label);
}

export function pageHeader(title, subtitle, ...actions) {
  return h("div", { class: "page-header" }, h("div", null, h("h1", { class: "page-title" }, title), subtitle ? h("div", { class: "page-subtitle" }, subtitle) : null), h("div", { class: "page-actions" }, actions));
}

/** A definition list from [label, value] pairs (values are text or nodes). */
export function keyValues(pairs, cls = "kv") {
  return h("dl", { class: cls }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

/** A row of labelled facts (label above value), wrapping as needed. */
export function metaRow(pairs) {
  return h("div", { class: "meta-row" }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").map(([k, v]) => h("div", { class: "meta-item" }, h("div", { class: "meta-label" }, k), h("div", { class: "meta-value" }, v))));
}
