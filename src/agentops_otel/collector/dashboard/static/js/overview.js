// Overview page: totals, cost and tokens over time, cost by model, error rate, top sessions.

import { api, ApiError } from "./api.js";
import { barChart, donut, PALETTE, rateChart, ring } from "./charts.js";
import { loading, moneyText, notice, pageHeader, stateBadge, statCard } from "./components.js";
import { h, mount } from "./dom.js";
import * as fmt from "./format.js";
import { replaceQuery } from "./router.js";

const HOUR = 3600e3;
const DAY = 86400e3;
const RANGES = [
  ["24h", "24 hours", DAY, "hour"],
  ["7d", "7 days", 7 * DAY, "day"],
  ["30d", "30 days", 30 * DAY, "day"],
  ["90d", "90 days", 90 * DAY, "day"],
];
const COLORS = { cost: "#6366f1", prompt: "#06b6d4", completion: "#8b5cf6", sessions: "#cbd5e1", errors: "#ef4444" };

/** One entry per bucket from the range start to now, zero where the API reported nothing. */
function fillBuckets(buckets, startMs, step) {
  const byStart = new Map();
  for (const b of buckets) {
    const t = fmt.parseTime(b.start);
    if (t !== null) byStart.set(Math.floor(t / step) * step, b);
  }
  const out = [];
  const first = Math.floor(startMs / step) * step;
  const last = Math.floor(Date.now() / step) * step;
  for (let t = first; t <= last; t += step) out.push({ t, bucket: byStart.get(t) || null });
  // Buckets outside the expected grid (clock skew, another time zone) are still shown.
  for (const [t, bucket] of byStart) if (t < first || t > last) out.push({ t, bucket });
  out.sort((a, b) => a.t - b.t);
  return out;
}

function chartCard(title, subtitle, chart, id) {
  return h("div", { class: "card chart-card", id }, h("div", { class: "card-head" }, h("h2", { class: "card-title" }, title), subtitle ? h("span", { class: "card-sub" }, subtitle) : null), chart);
}

function costByModel(rows) {
  if (!rows.length) return h("div", { class: "chart-empty" }, "No LLM calls in this range");
  const sorted = [...rows].sort((a, b) => fmt.num(b.cost) - fmt.num(a.cost));
  const top = sorted.slice(0, PALETTE.length - 1);
  const rest = sorted.slice(PALETTE.length - 1);
  const segments = top.map((r, i) => ({ label: r.model, value: fmt.num(r.cost), color: PALETTE[i] }));
  if (rest.length) segments.push({ label: fmt.count(rest.length, "other model"), value: rest.reduce((a, r) => a + fmt.num(r.cost), 0), color: PALETTE[PALETTE.length - 1] });
  // Exact, like the total cost card: the API's model costs add up to its total cost.
  const total = fmt.sumMoney(sorted.map((r) => r.cost));
  const maxCost = Math.max(...sorted.map((r) => fmt.num(r.cost)), 1e-12);
  const list = h(
    "table",
    { class: "model-table" },
    h("thead", null, h("tr", null, h("th", null, "Model"), h("th", { class: "num" }, "Calls"), h("th", { class: "num" }, "Tokens"), h("th", { class: "num" }, "Cost"))),
    h("tbody", null, sorted.map((r, i) =>
      h("tr", null,
        h("td", null,
          h("div", { class: "model-name" }, h("span", { class: "legend-swatch", style: { background: PALETTE[Math.min(i, PALETTE.length - 1)] } }), h("span", { class: "ellipsis", title: r.model }, r.model || "(unknown)")),
          h("div", { class: "model-bar" }, h("span", { style: { width: `${(fmt.num(r.cost) / maxCost) * 100}%`, background: PALETTE[Math.min(i, PALETTE.length - 1)] } }))),
        h("td", { class: "num" }, fmt.int(r.calls)),
        h("td", { class: "num" }, fmt.compact(fmt.num(r.prompt_tokens) + fmt.num(r.completion_tokens))),
        h("td", { class: "num strong" }, moneyText(r.cost))))),
  );
  return h("div", { class: "model-breakdown" }, donut(segments, fmt.money(total), fmt.count(sorted.length, "model"), 168, `${fmt.exactMoney(total)} over ${fmt.count(sorted.length, "model")}`), list);
}

function topSessions(sessions) {
  if (!sessions.length) return h("div", { class: "chart-empty" }, "No sessions in this range");
  // A parent key reads several projects: when the table mixes them, each row names its own.
  const mixed = new Set(sessions.map((s) => s.project_id)).size > 1;
  return h(
    "table",
    { class: "table table-compact", id: "top-sessions" },
    h("thead", null, h("tr", null, h("th", null, "Session"), h("th", null, "Started"), h("th", null, "State"), h("th", { class: "num" }, "LLM calls"), h("th", { class: "num" }, "Tokens"), h("th", { class: "num" }, "Cost"))),
    h("tbody", null, sessions.map((s) => {
      const href = `#/sessions/${encodeURIComponent(s.session_id)}`;
      return h("tr", { class: "row-link", onclick: (e) => { if (!e.target.closest("a")) location.hash = href; } },
        h("td", null, h("a", { class: "mono link", href }, fmt.shortId(s.session_id)), mixed ? h("div", { class: "cell-sub session-project", "data-project": s.project_id }, "project ", h("span", { class: "strong" }, s.project_id)) : null),
        h("td", { class: "nowrap" }, fmt.dateTime(s.init_timestamp)),
        h("td", null, stateBadge(s)),
        h("td", { class: "num" }, fmt.int(s.llm_calls)),
        h("td", { class: "num" }, fmt.compact(fmt.num(s.prompt_tokens) + fmt.num(s.completion_tokens))),
        h("td", { class: "num strong" }, moneyText(s.cost)));
    })),
  );
}

export function overviewView(root, ctx) {
  let rangeKey = RANGES.some(([k]) => k === ctx.query.get("range")) ? ctx.query.get("range") : "7d";
  let controller = null;
  let charts = [];
  let disposed = false;
  const content = h("div", { class: "overview-content" });
  const buttons = RANGES.map(([key, label]) =>
    h("button", { type: "button", class: "seg-btn", "data-range": key, "aria-pressed": String(key === rangeKey), onclick: () => { rangeKey = key; load(); } }, label),
  );

  function destroyCharts() {
    for (const c of charts) c.destroy();
    charts = [];
  }

  function render(data, startMs, bucket) {
    destroyCharts();
    const step = bucket === "hour" ? HOUR : DAY;
    const filled = fillBuckets(data.buckets || [], startMs, step);
    // The API's buckets are aligned on UTC: an hour reads the same anywhere, so hours are shown in
    // local time; a day is a UTC day, so it is labelled as one (a local date would be off by one).
    const label = (t) => (bucket === "hour" ? fmt.hourLabel(t) : fmt.utcDayLabel(t));
    const tooltipLabel = (t) => (bucket === "hour" ? `${fmt.dayLabel(t)}, ${fmt.hourLabel(t)}` : `${fmt.utcDayLabel(t)} (UTC)`);
    const per = bucket === "hour" ? "per hour" : "per day (UTC)";
    const series = (pick) => filled.map(({ t, bucket: b }) => ({ t, label: label(t), tooltipLabel: tooltipLabel(t), values: pick(b || {}) }));
    const totals = data.totals || {};
    const errorRate = fmt.num(data.error_rate);

    const costChart = barChart({ data: series((b) => [fmt.num(b.cost)]), series: [{ label: "Cost", color: COLORS.cost }], formatValue: fmt.money, formatTick: fmt.moneyTick });
    const tokenChart = barChart({
      data: series((b) => [fmt.num(b.prompt_tokens), fmt.num(b.completion_tokens)]),
      series: [{ label: "Prompt", color: COLORS.prompt }, { label: "Completion", color: COLORS.completion }],
      formatValue: fmt.int, formatTick: fmt.compact, integer: true,
    });
    const errorChart = barChart({
      data: series((b) => [fmt.num(b.sessions), fmt.num(b.errors)]),
      series: [{ label: "Sessions", color: COLORS.sessions }, { label: "Error spans", color: COLORS.errors }],
      stacked: false, formatValue: fmt.int, formatTick: fmt.compact, integer: true,
    });
    // Per bucket, the headline's rate: sessions that ended Failure or had an error / sessions.
    const rateChartEl = rateChart({
      data: filled.map(({ t, bucket: b }) => {
        const sessions = fmt.num(b && b.sessions);
        const failed = fmt.num(b && b.failed_sessions);
        const rate = sessions ? (b.error_rate === undefined ? failed / sessions : fmt.num(b.error_rate)) : null;
        const rows = sessions
          ? [["Error rate", fmt.percent(rate)], ["Failed sessions", `${fmt.int(failed)} of ${fmt.int(sessions)}`], ["Error spans", fmt.int(b.errors)]]
          : [["Error rate", "—"], ["Sessions", "0"]];
        return { t, label: label(t), tooltipLabel: tooltipLabel(t), rate, rows };
      }),
      label: "Error rate", color: COLORS.errors, reference: errorRate, referenceLabel: `Overall ${fmt.percent(errorRate)}`,
      emptyText: "No sessions in this range",
    });
    charts = [costChart, tokenChart, errorChart, rateChartEl];
    const failedSessions = totals.failed_sessions;

    mount(
      content,
      h("div", { class: "stat-grid stat-grid-5", id: "overview-totals" },
        statCard("Sessions", fmt.int(totals.sessions), `in the last ${RANGES.find(([k]) => k === rangeKey)[1]}`),
        statCard("LLM calls", fmt.int(totals.llm_calls), fmt.count(totals.errors, "error")),
        statCard("Total cost", moneyText(totals.cost), fmt.num(totals.sessions) ? `${fmt.money(fmt.num(totals.cost) / fmt.num(totals.sessions))} per session` : "—", "stat-accent"),
        statCard("Tokens", fmt.compact(fmt.num(totals.prompt_tokens) + fmt.num(totals.completion_tokens)), `${fmt.compact(totals.prompt_tokens)} in · ${fmt.compact(totals.completion_tokens)} out`),
        h("div", { class: `stat stat-ring${errorRate > 0.1 ? " stat-danger" : ""}`, id: "error-rate", title: "Sessions that ended Failure or had an error, of the sessions started in this range" },
          h("div", null, h("div", { class: "stat-label" }, "Error rate"), h("div", { class: "stat-value" }, fmt.percent(errorRate)), h("div", { class: "stat-sub" }, failedSessions === undefined ? "sessions failed or with errors" : `${fmt.int(failedSessions)} of ${fmt.int(totals.sessions)} failed`)),
          ring(errorRate))),
      h("div", { class: "grid-2" },
        chartCard("Cost over time", per, costChart, "chart-cost"),
        chartCard("Tokens over time", per, tokenChart, "chart-tokens")),
      h("div", { class: "grid-2" },
        chartCard("Cost by model", null, costByModel(data.cost_by_model || []), "chart-models"),
        chartCard("Sessions and errors", per, errorChart, "chart-errors")),
      chartCard("Error rate over time", `${per} · failed sessions / sessions`, rateChartEl, "chart-error-rate"),
      h("div", { class: "card card-flush" }, h("div", { class: "card-head" }, h("h2", { class: "card-title" }, "Top sessions by cost")), topSessions(data.top_sessions || [])),
    );
    root.dataset.loaded = "true";
  }

  async function load() {
    for (const btn of buttons) btn.setAttribute("aria-pressed", String(btn.dataset.range === rangeKey));
    replaceQuery(new URLSearchParams(rangeKey === "7d" ? "" : `range=${rangeKey}`));
    const [, , span, bucket] = RANGES.find(([k]) => k === rangeKey);
    const startMs = Date.now() - span;
    if (controller) controller.abort();
    controller = new AbortController();
    content.classList.add("is-loading");
    try {
      const data = await api.overview({ start_after: new Date(startMs).toISOString(), bucket }, { signal: controller.signal });
      if (disposed) return;
      content.classList.remove("is-loading");
      render(data, startMs, bucket);
    } catch (err) {
      if (err.name === "AbortError" || disposed) return;
      content.classList.remove("is-loading");
      if (err instanceof ApiError && err.status === 401) return ctx.unauthorized();
      mount(content, notice("error", "Could not load the overview", err.message));
    }
  }

  mount(
    root,
    h("section", { class: "page", id: "overview-page" },
      pageHeader("Overview", "Cost, tokens and errors across all sessions.", h("div", { class: "segmented", role: "group", "aria-label": "Time range", id: "overview-range" }, buttons)),
      content),
  );
  mount(content, loading());
  load();

  return () => {
    disposed = true;
    destroyCharts();
    if (controller) controller.abort();
  };
}
