// Session detail page: state, tags, totals, host environment, the span waterfall and the export.

import { api, ApiError, downloadExport } from "./api.js";
import { errorPage, isInactive, loading, metaRow, notice, sessionCost, sessionTags, stateBadge, statCard } from "./components.js";
import { unpricedReason } from "./spanpanel.js";
import { h, icon, isHttpUrl, mount } from "./dom.js";
import * as fmt from "./format.js";
import * as sc from "./semconv.js";
import { emptyPanel, spanPanel } from "./spanpanel.js";
import { Waterfall } from "./waterfall.js";

const POLL_MS = 3000;

function summaryOf(data) {
  // stats carries the SessionSummary fields; session adds host_env and video.
  return { ...(data.stats || {}), ...(data.session || {}), in_progress: Boolean(data.stats && data.stats.in_progress) };
}

function header(data, onDownload) {
  const s = summaryOf(data);
  const video = data.session && data.session.video;
  const copy = h("button", { type: "button", class: "btn btn-ghost btn-icon", title: "Copy session id", "aria-label": "Copy session id", onclick: () => navigator.clipboard && navigator.clipboard.writeText(s.session_id) }, icon("copy"));
  const downloadButton = h("button", { type: "button", class: "btn btn-primary", id: "download-export" }, icon("download"), "Download export");
  downloadButton.addEventListener("click", () => onDownload(downloadButton));
  return h(
    "div",
    { class: "detail-header" },
    h("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" }, h("a", { href: "#/sessions", class: "link" }, "Sessions"), h("span", { class: "crumb-sep" }, "/"), h("span", { class: "mono" }, fmt.shortId(s.session_id))),
    h(
      "div",
      { class: "detail-title-row" },
      h("div", { class: "detail-title" },
        h("h1", { class: "page-title" }, "Session ", h("span", { class: "mono title-id", id: "session-id" }, s.session_id), copy),
        h("div", { class: "detail-state" }, stateBadge(s), s.end_state_reason ? h("span", { class: "state-reason", id: "end-state-reason" }, s.end_state_reason) : null)),
      h("div", { class: "page-actions" },
        isHttpUrl(video) ? h("a", { class: "btn btn-secondary", id: "video-link", href: video, target: "_blank", rel: "noopener noreferrer" }, icon("video"), "Watch video") : null,
        downloadButton),
    ),
    metaRow([
      ["Started", fmt.fullDateTime(s.init_timestamp)],
      ["Ended", s.in_progress ? (isInactive(s) ? `Not ended; last activity ${fmt.fullDateTime(s.last_activity_timestamp)}` : "Still running") : fmt.fullDateTime(s.end_timestamp)],
      ["Duration", fmt.seconds(s.duration_s)],
      ["Project", s.project_id || null],
      ["Service", (data.session && data.session.host_env && data.session.host_env[sc.SERVICE_NAME]) || null],
      ["Models", (s.models || []).join(", ") || null],
      ["Tags", sessionTags(s)],
    ]),
  );
}

/** Why the session's cost is partial, from its unpriced LLM spans' reasons (the same words as each span's). */
function partialNotice(s, spans) {
  if (!s.cost_partial) return null;
  const reasons = new Map();
  for (const span of spans) {
    if (span.kind !== sc.KIND_LLM || (span.cost !== null && span.cost !== undefined)) continue;
    const reason = unpricedReason(span);
    reasons.set(reason, (reasons.get(reason) || 0) + 1);
  }
  const lines = [...reasons].map(([reason, n]) => h("li", null, `${fmt.count(n, "LLM call")}: ${reason}`));
  return h("div", { id: "cost-partial-notice" },
    notice("info", `Partial cost: ${fmt.count(fmt.num(s.unpriced_llm_calls), "LLM call")} without a known cost`, lines.length ? h("ul", { class: "partial-reasons" }, lines) : "Their spans carry no usage or no known model."));
}

/** Token counts side by side, each with its own label: they measure different things, never summed. */
function tokenBreakdown(parts) {
  return h("div", { class: "breakdown", id: "cache-reasoning" }, parts.map(([label, meaning, value]) =>
    h("div", { class: "breakdown-item", title: `${fmt.int(value)} ${meaning} tokens` }, h("span", { class: "breakdown-value" }, fmt.compact(value)), h("span", { class: "breakdown-label" }, label))));
}

function totals(data) {
  const s = summaryOf(data);
  const prompt = fmt.num(s.prompt_tokens);
  const completion = fmt.num(s.completion_tokens);
  return h(
    "div",
    { class: "stat-grid", id: "session-totals" },
    statCard("Cost", sessionCost(s), s.cost_partial ? `${fmt.count(s.llm_calls, "LLM call")}, ${fmt.num(s.unpriced_llm_calls)} without a cost` : fmt.count(s.llm_calls, "LLM call"), "stat-accent"),
    statCard("Tokens", fmt.compact(prompt + completion), `${fmt.int(prompt)} in · ${fmt.int(completion)} out`),
    statCard("Cache & reasoning", tokenBreakdown([["read", "cache read", s.cache_read_tokens], ["write", "cache write", s.cache_creation_tokens], ["reasoning", "reasoning", s.reasoning_tokens]]), "part of the tokens in and out", "stat-breakdown"),
    statCard("Tool calls", fmt.int(s.tool_calls), fmt.count(s.actions, "action")),
    statCard("Events", fmt.int(s.events), `${fmt.pluralWord(s.events, "span")} besides the session`),
    statCard("Errors", fmt.int(s.errors), fmt.num(s.errors) > 0 ? "see red spans below" : "none", fmt.num(s.errors) > 0 ? "stat-danger" : ""),
  );
}

function hostEnv(data) {
  const env = (data.session && data.session.host_env) || {};
  const keys = Object.keys(env).sort();
  return h(
    "details",
    { class: "card host-env", id: "host-env" },
    h("summary", { class: "card-title summary-title" }, "Host environment", h("span", { class: "muted small" }, ` · ${fmt.count(keys.length, "attribute")}`)),
    keys.length
      ? h("div", { class: "host-grid" }, keys.map((k) => h("div", { class: "host-item" }, h("div", { class: "host-key mono" }, k), h("div", { class: "host-value" }, fmt.attrText(env[k])))))
      : h("p", { class: "muted" }, "The session's spans carried no host attributes."),
  );
}

export function sessionDetailView(root, sessionId, ctx) {
  let controller = null;
  let pollTimer = null;
  let disposed = false;
  let waterfall = null;
  let lastShape = "";
  const panel = h("aside", { class: "span-panel card", id: "span-panel" }, emptyPanel());
  const headerSlot = h("div");
  const totalsSlot = h("div");
  const hostSlot = h("div");
  const timelineSlot = h("div", { class: "timeline-main" });

  async function onDownload(button) {
    button.disabled = true;
    try {
      await downloadExport(sessionId, `session-${sessionId}.json`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return ctx.unauthorized();
      mount(panel, notice("error", "Export failed", err.message));
    } finally {
      button.disabled = false;
    }
  }

  function select(span) {
    mount(panel, spanPanel(span));
    panel.scrollTop = 0;
  }

  function render(data) {
    const s = summaryOf(data);
    mount(headerSlot, header(data, onDownload));
    mount(totalsSlot, totals(data), partialNotice(s, data.spans || []));
    mount(hostSlot, hostEnv(data));
    const spans = data.spans || [];
    if (!waterfall) {
      waterfall = new Waterfall({ spans, onSelect: select });
      mount(timelineSlot, waterfall.el);
      // Open on the span people come here for: the first failing event, else the first LLM call.
      const events = spans.filter((sp) => sp.kind !== sc.KIND_SESSION && sp.parent_span_id);
      const first =
        events.find((sp) => (sp.events || []).some((e) => e.name === sc.EXCEPTION_EVENT)) ||
        events.find((sp) => sp.status_code === "ERROR") ||
        events.find((sp) => sp.kind === sc.KIND_LLM);
      if (first) waterfall.select(first.span_id, { scroll: true });
    } else {
      waterfall.setSpans(spans);
      const selected = waterfall.selectedId && spans.find((sp) => sp.span_id === waterfall.selectedId);
      if (selected) mount(panel, spanPanel(selected));
    }
    root.dataset.loaded = "true";
    performance.mark("dashboard:spans-rendered");
    return s.in_progress;
  }

  function shapeOf(stats) {
    return `${stats.events}|${stats.end_timestamp}|${stats.in_progress}|${stats.cost}|${stats.errors}`;
  }

  function renderSummary(stats) {
    // Header and totals first: for a big session they are usable while the spans still load.
    const data = { stats, session: null, spans: null };
    mount(headerSlot, header(data, onDownload));
    mount(totalsSlot, totals(data));
    mount(timelineSlot, loading(`Loading ${fmt.count(fmt.num(stats.events) + 1, "span")}…`));
    root.dataset.summary = "true";
  }

  function failed(err) {
    if (err.name === "AbortError" || disposed) return;
    if (err instanceof ApiError && err.status === 401) return ctx.unauthorized();
    const title = err.status === 404 ? "Session not found" : err.status === 400 ? "Not a session id" : "Could not load the session";
    mount(root, errorPage(title, err.message));
  }

  function schedulePoll() {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, POLL_MS);
  }

  async function loadAll() {
    const signal = controller.signal;
    let done = false;
    api.stats(sessionId, { signal }).then((stats) => { if (!done && !disposed) renderSummary(stats); }, () => {});
    try {
      const data = await api.sessionSpans(sessionId, { signal });
      done = true;
      if (disposed) return;
      performance.mark("dashboard:spans-parsed");
      lastShape = shapeOf(data.stats || {});
      if (render(data)) schedulePoll();
    } catch (err) {
      done = true;
      failed(err);
    }
  }

  // While a session runs, poll its cheap stats; fetch the spans again only when they changed.
  async function poll() {
    if (document.hidden) return schedulePoll();
    try {
      const stats = await api.stats(sessionId, { signal: controller.signal });
      if (disposed) return;
      if (shapeOf(stats) === lastShape) return schedulePoll();
      const data = await api.sessionSpans(sessionId, { signal: controller.signal });
      if (disposed) return;
      lastShape = shapeOf(data.stats || {});
      if (render(data)) schedulePoll();
    } catch (err) {
      if (err.name === "AbortError" || disposed) return;
      if (err instanceof ApiError && err.status === 401) return ctx.unauthorized();
      schedulePoll();
    }
  }

  mount(
    root,
    h(
      "section",
      { class: "page page-detail", id: "session-page" },
      headerSlot,
      totalsSlot,
      h("div", { class: "card card-flush timeline-card" },
        h("div", { class: "card-head" }, h("h2", { class: "card-title" }, "Timeline")),
        h("div", { class: "timeline" }, timelineSlot, panel)),
      hostSlot,
    ),
  );
  mount(timelineSlot, loading("Loading session…"));
  controller = new AbortController();
  loadAll();

  return () => {
    disposed = true;
    clearTimeout(pollTimer);
    controller.abort();
    if (waterfall) waterfall.destroy();
  };
}
