// Sessions page: filterable, sortable, cursor-paginated list; refreshes itself while sessions run.

import { api, ApiError } from "./api.js";
import { replaceQuery } from "./router.js";
import { loading, notice, pageHeader, partialReason, sessionTags, stateBadge } from "./components.js";
import { h, icon, mount } from "./dom.js";
import * as fmt from "./format.js";

const POLL_MS = 3000;
const RANGES = [
  ["all", "All time", null],
  ["1h", "Last hour", 3600e3],
  ["24h", "Last 24 hours", 86400e3],
  ["7d", "Last 7 days", 7 * 86400e3],
  ["30d", "Last 30 days", 30 * 86400e3],
  ["custom", "Custom range…", null],
];
// [value, label, tooltip]: how a session ended, then (after a divider) sessions not ended yet, as
// their badges read; the API sorts them apart the same way (a span within the last hour or not).
const STATES = [
  ["", "All", "Every session"],
  ["Success", "Success", "Ended Success"],
  ["Failure", "Failure", "Ended Failure"],
  ["Indeterminate", "Indeterminate", "Ended Indeterminate"],
  ["Running", "Running", "Not ended yet, a span within the last hour"],
  ["Inactive", "Inactive", "Not ended, and no span for over an hour: the process may have exited without ending it"],
];
const NOT_ENDED = new Set(["Running", "Inactive"]);
const PAGE_SIZES = [25, 50, 100];

// [label, sort key or null, css class]; on narrow screens "col-secondary" columns give way, then
// "col-tertiary" ones (their figures stay in the Tokens and Started tooltips).
const COLUMNS = [
  ["Started", "init_timestamp", ""],
  ["Session", null, ""],
  ["State", null, ""],
  ["Duration", "duration", "num col-tertiary"],
  ["Tags", null, "col-tags"],
  ["LLM calls", null, "num col-secondary"],
  ["Tool calls", null, "num col-secondary"],
  ["Tokens", "tokens", "num"],
  ["Cost", "cost", "num"],
  ["Errors", "errors", "num"],
];

function readState(query) {
  const limit = Number(query.get("limit"));
  return {
    tags: query.get("tags") || "",
    end_state: query.get("end_state") || "",
    range: query.get("range") || "all",
    from: query.get("from") || "",
    to: query.get("to") || "",
    sort: query.get("sort") || "init_timestamp",
    order: query.get("order") === "asc" ? "asc" : "desc",
    limit: PAGE_SIZES.includes(limit) ? limit : 50,
  };
}

function writeState(state) {
  const query = new URLSearchParams();
  if (state.tags) query.set("tags", state.tags);
  if (state.end_state) query.set("end_state", state.end_state);
  if (state.range !== "all") query.set("range", state.range);
  if (state.range === "custom" && state.from) query.set("from", state.from);
  if (state.range === "custom" && state.to) query.set("to", state.to);
  if (state.sort !== "init_timestamp") query.set("sort", state.sort);
  if (state.order !== "desc") query.set("order", state.order);
  if (state.limit !== 50) query.set("limit", String(state.limit));
  replaceQuery(query);
}

function normaliseTags(text) {
  return text.split(",").map((t) => t.trim()).filter(Boolean).join(",");
}

function localToIso(value) {
  const t = Date.parse(value); // datetime-local values parse as local time
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

function apiParams(state, cursor) {
  let startAfter = null;
  let startBefore = null;
  const range = RANGES.find(([key]) => key === state.range);
  if (range && range[2]) startAfter = new Date(Date.now() - range[2]).toISOString();
  if (state.range === "custom") {
    startAfter = state.from ? localToIso(state.from) : null;
    startBefore = state.to ? localToIso(state.to) : null;
  }
  return {
    limit: state.limit, cursor, tags: state.tags, end_state: state.end_state,
    start_after: startAfter, start_before: startBefore, sort: state.sort, order: state.order,
  };
}

/**
 * Under "No sessions yet": on a collector with no registered keys every key is its own project, so a
 * mistyped key shows an empty one. Says so, and names the keys that have sent spans (by their hint).
 */
function keyHint() {
  const box = h("div", { id: "key-hint" });
  api.status().then((status) => {
    if (status.keys_registered) return;
    const others = status.projects_with_spans || [];
    box.replaceChildren(notice("info", "Is this the key your app sends?", [
      h("p", null, "This collector has no registered keys: every key is its own project, so a session sent with another key (a typo, another app's key) does not show here. Your app's key is the api_key of agentops_otel.init() or AGENTOPS_API_KEY."),
      others.length
        ? h("p", null, "Keys that have sent spans since the collector started: ", others.map((o, i) => [i ? ", " : "", h("code", { class: "key-hint" }, o.key_hint), ` (${fmt.count(o.spans_stored, "span")})`]))
        : h("p", null, "No key has sent spans since the collector started."),
    ]));
  }).catch(() => {});
  return box;
}

/** The models a session called, one a line so each stays readable (the first three, then "+N more"). */
function sessionModels(models) {
  if (models.length === 0) return null;
  const shown = models.slice(0, 3).map((m) => h("div", { class: "ellipsis", title: m }, m));
  if (models.length > 3) shown.push(h("div", { title: models.slice(3).join(", ") }, `+${models.length - 3} more`));
  return h("div", { class: "cell-sub cell-models" }, shown);
}

export function sessionsView(root, ctx) {
  const state = readState(ctx.query);
  let cursors = [null]; // cursors[i] fetches page i
  let page = 0;
  let controller = null;
  let pollTimer = null;
  let lastBody = "";
  let disposed = false;
  let activeTags = new Set();
  // The projects this key reads: a parent key reads its child keys' projects, so rows name theirs.
  let projects = [];
  const scope = api.status().then((status) => { projects = status.projects || []; }).catch(() => {});

  // --- filter bar -------------------------------------------------------------------------
  const tagInput = h("input", { class: "input", id: "filter-tags", type: "search", placeholder: "e.g. prod, checkout", value: state.tags, spellcheck: "false", autocomplete: "off" });
  const stateButtons = STATES.map(([value, label, title]) =>
    h("button", { type: "button", class: "seg-btn", "data-value": value, title, "aria-pressed": String(state.end_state === value), onclick: () => { state.end_state = value; refilter(); } }, label),
  );
  const stateGroup = stateButtons.flatMap((btn) => (btn.dataset.value === "Running" ? [h("span", { class: "seg-sep", "aria-hidden": "true" }), btn] : [btn]));
  const rangeSelect = h("select", { class: "input select", id: "filter-range" }, RANGES.map(([key, label]) => h("option", { value: key, selected: state.range === key }, label)));
  const fromInput = h("input", { class: "input", type: "datetime-local", id: "filter-from", value: state.from, "aria-label": "From" });
  const toInput = h("input", { class: "input", type: "datetime-local", id: "filter-to", value: state.to, "aria-label": "To" });
  const customRange = h("div", { class: "custom-range" }, fromInput, h("span", { class: "muted" }, "to"), toInput);
  const clearButton = h("button", { type: "button", class: "btn btn-ghost", id: "filter-clear", onclick: () => {
    Object.assign(state, { tags: "", end_state: "", range: "all", from: "", to: "" });
    tagInput.value = "";
    rangeSelect.value = "all";
    fromInput.value = "";
    toInput.value = "";
    refilter();
  } }, icon("x"), "Clear");

  tagInput.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); applyTags(); } });
  tagInput.addEventListener("change", applyTags);
  tagInput.addEventListener("search", applyTags);
  rangeSelect.addEventListener("change", () => { state.range = rangeSelect.value; refilter(); });
  fromInput.addEventListener("change", () => { state.from = fromInput.value; refilter(); });
  toInput.addEventListener("change", () => { state.to = toInput.value; refilter(); });

  function applyTags() {
    const tags = normaliseTags(tagInput.value);
    if (tags === state.tags) return;
    state.tags = tags;
    refilter();
  }

  function addTag(tag) {
    const tags = new Set(state.tags ? state.tags.split(",") : []);
    tags.add(tag);
    state.tags = [...tags].join(",");
    tagInput.value = state.tags.split(",").join(", ");
    refilter();
  }

  const filters = h(
    "div",
    { class: "card filter-bar" },
    h("div", { class: "field field-grow" }, h("label", { class: "label", for: "filter-tags" }, "Tags"), h("div", { class: "input-icon" }, icon("search"), tagInput)),
    h("div", { class: "field" }, h("span", { class: "label" }, "State"), h("div", { class: "segmented segmented-wrap", role: "group", "aria-label": "State", id: "filter-state" }, stateGroup)),
    h("div", { class: "field" }, h("label", { class: "label", for: "filter-range" }, "Started"), rangeSelect),
    customRange,
    h("div", { class: "field field-end" }, clearButton),
  );

  // --- table ------------------------------------------------------------------------------
  const headRow = h("tr");
  const tbody = h("tbody");
  const table = h("table", { class: "table", id: "sessions-table" }, h("thead", null, headRow), tbody);
  const tableWrap = h("div", { class: "table-wrap", id: "sessions-table-wrap" }, table);
  const status = h("div", { class: "table-status" });
  const liveBadge = h("span", { class: "live", hidden: true, title: "Refreshing every few seconds" }, h("span", { class: "pulse" }), "Live");
  const pageInfo = h("span", { class: "page-info", id: "page-info" });
  const prevButton = h("button", { type: "button", class: "btn btn-secondary btn-sm", id: "page-prev", onclick: () => { if (page > 0) { page -= 1; load(); } } }, icon("left"), "Previous");
  const nextButton = h("button", { type: "button", class: "btn btn-secondary btn-sm", id: "page-next", onclick: () => { if (cursors[page + 1]) { page += 1; load(); } } }, "Next", icon("right"));
  const sizeSelect = h("select", { class: "input select select-sm", id: "page-size", "aria-label": "Rows per page" }, PAGE_SIZES.map((n) => h("option", { value: String(n), selected: state.limit === n }, `${n} / page`)));
  sizeSelect.addEventListener("change", () => { state.limit = Number(sizeSelect.value); refilter(); });
  const pager = h("div", { class: "pager" }, pageInfo, h("div", { class: "pager-buttons" }, sizeSelect, prevButton, nextButton));

  function renderHead() {
    mount(
      headRow,
      COLUMNS.map(([label, key, cls]) => {
        if (!key) return h("th", { class: cls, scope: "col" }, label);
        const active = state.sort === key;
        const arrow = active ? (state.order === "desc" ? "↓" : "↑") : "↕";
        return h(
          "th",
          { class: `${cls} sortable${active ? " sorted" : ""}`, scope: "col", "aria-sort": active ? (state.order === "desc" ? "descending" : "ascending") : "none" },
          h("button", { type: "button", class: "sort-btn", "data-sort": key, onclick: () => {
            if (state.sort === key) state.order = state.order === "desc" ? "asc" : "desc";
            else { state.sort = key; state.order = "desc"; }
            refilter();
          } }, label, h("span", { class: "sort-arrow", "aria-hidden": "true" }, arrow)),
        );
      }),
    );
  }

  function row(s) {
    const href = `#/sessions/${encodeURIComponent(s.session_id)}`;
    const tokens = fmt.num(s.prompt_tokens) + fmt.num(s.completion_tokens);
    const tokenTitle = `Prompt ${fmt.int(s.prompt_tokens)} · Completion ${fmt.int(s.completion_tokens)} · Cache read ${fmt.int(s.cache_read_tokens)} · Reasoning ${fmt.int(s.reasoning_tokens)}\n${fmt.count(s.llm_calls, "LLM call")} · ${fmt.count(s.tool_calls, "tool call")}`;
    const errors = fmt.num(s.errors);
    const tr = h(
      "tr",
      { class: "row-link", "data-session-id": s.session_id, onclick: (e) => { if (!e.target.closest("a, button")) location.hash = href; } },
      h("td", { class: "nowrap", title: `${fmt.fullDateTime(s.init_timestamp)} · duration ${fmt.seconds(s.duration_s)}` }, h("div", null, fmt.dateTime(s.init_timestamp)), h("div", { class: "cell-sub" }, fmt.relative(s.init_timestamp))),
      h("td", null, h("a", { class: "mono link session-link", href, title: s.session_id }, fmt.shortId(s.session_id)), projects.length > 1 ? h("div", { class: "cell-sub session-project", "data-project": s.project_id }, "project ", h("span", { class: "strong" }, s.project_id)) : null, sessionModels(s.models || [])),
      h("td", { title: s.end_state_reason || "" }, stateBadge(s)),
      h("td", { class: "num nowrap col-tertiary" }, fmt.seconds(s.duration_s)),
      h("td", { class: "col-tags" }, sessionTags(s, addTag, activeTags)),
      h("td", { class: "num col-secondary" }, fmt.int(s.llm_calls)),
      h("td", { class: "num col-secondary" }, fmt.int(s.tool_calls)),
      h("td", { class: "num", title: tokenTitle }, fmt.compact(tokens)),
      h("td", { class: "num strong col-cost", title: s.cost_partial ? `${fmt.exactMoney(s.cost)}\n${partialReason(s)}` : fmt.exactMoney(s.cost) }, fmt.money(s.cost), s.cost_partial ? h("span", { class: "cost-partial" }, "partial") : null),
      h("td", { class: "num" }, errors > 0 ? h("span", { class: "count-pill count-error" }, fmt.int(errors)) : h("span", { class: "muted" }, "0")),
    );
    return tr;
  }

  function renderRows(body) {
    const sessions = body.sessions || [];
    activeTags = new Set(state.tags ? state.tags.split(",") : []);
    if (sessions.length === 0) {
      const empty = page === 0 && !hasFilters()
        ? h("div", { class: "onboarding", id: "sessions-empty" },
          h("h2", { class: "onboarding-title" }, "No sessions yet"),
          h("p", { class: "muted" }, "Sessions appear here as soon as this collector receives their spans. Point your agent at it:"),
          h("pre", { class: "code-block" }, `import agentops_otel\n\nagentops_otel.init(api_key="<this project's key>", endpoint="${location.origin}")`),
          h("p", { class: "muted small" }, `Any OpenTelemetry exporter works too: OTLP/HTTP to ${location.origin}/v1/traces with the X-Agentops-Api-Key header.`),
          keyHint())
        : page === 0 && NOT_ENDED.has(state.end_state)
          ? notice("info", `No ${state.end_state.toLowerCase()} sessions`, state.end_state === "Running"
            ? "A session is running from its first span until it ends, or until it has sent nothing for an hour."
            : "A session is inactive when it has not ended and has sent no span for over an hour.")
          : notice("info", page === 0 ? "No sessions match" : "No more sessions", "Try removing a filter.");
      mount(tbody, h("tr", null, h("td", { colspan: String(COLUMNS.length), class: "empty-cell" }, empty)));
    } else {
      const frag = document.createDocumentFragment();
      for (const s of sessions) frag.appendChild(row(s));
      tbody.replaceChildren(frag);
    }
    cursors[page + 1] = body.next_cursor || null;
    cursors.length = page + 2;
    const first = page * state.limit + (sessions.length ? 1 : 0);
    const last = page * state.limit + sessions.length;
    pageInfo.textContent = sessions.length ? `Showing ${fmt.int(first)}–${fmt.int(last)} · page ${page + 1}` : `Page ${page + 1}`;
    prevButton.disabled = page === 0;
    nextButton.disabled = !body.next_cursor;
  }

  function hasFilters() {
    return Boolean(state.tags || state.end_state || state.range !== "all");
  }

  function wantsLive(body) {
    const sessions = body.sessions || [];
    const newestFirst = page === 0 && state.sort === "init_timestamp" && state.order === "desc";
    return newestFirst || sessions.some((s) => s.in_progress);
  }

  async function load({ quiet = false } = {}) {
    clearTimeout(pollTimer);
    if (controller) controller.abort();
    controller = new AbortController();
    if (!quiet) {
      table.classList.add("is-loading");
      mount(status);
    }
    try {
      const [body] = await Promise.all([api.sessions(apiParams(state, cursors[page]), { signal: controller.signal }), scope]);
      if (disposed) return;
      const text = JSON.stringify(body);
      if (!quiet || text !== lastBody) renderRows(body);
      lastBody = text;
      table.classList.remove("is-loading");
      root.dataset.loaded = "true";
      liveBadge.hidden = !wantsLive(body);
      if (wantsLive(body)) schedulePoll();
    } catch (err) {
      if (err.name === "AbortError" || disposed) return;
      table.classList.remove("is-loading");
      if (err instanceof ApiError && err.status === 401) return ctx.unauthorized();
      if (quiet) return schedulePoll();
      mount(tbody);
      mount(status, notice("error", "Could not load sessions", err.message));
    }
  }

  function schedulePoll() {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(() => {
      if (document.hidden) schedulePoll();
      else load({ quiet: true });
    }, POLL_MS);
  }

  function refilter() {
    writeState(state);
    for (const btn of stateButtons) btn.setAttribute("aria-pressed", String(btn.dataset.value === state.end_state));
    customRange.hidden = state.range !== "custom";
    clearButton.disabled = !hasFilters();
    cursors = [null];
    page = 0;
    renderHead();
    load();
  }

  mount(
    root,
    h(
      "section",
      { class: "page", id: "sessions-page" },
      pageHeader("Sessions", "Every run of your agents, newest first.", liveBadge),
      filters,
      h("div", { class: "card card-flush" }, status, tableWrap, pager),
    ),
  );
  mount(tbody, h("tr", null, h("td", { colspan: String(COLUMNS.length), class: "empty-cell" }, loading())));
  refilter();

  return () => {
    disposed = true;
    clearTimeout(pollTimer);
    if (controller) controller.abort();
  };
}
