// Charts drawn as inline SVG: time-bucketed bar charts (optionally stacked), a rate line over the
// same buckets, a donut and a ring.
// Charts re-draw at their real pixel width (ResizeObserver) so text never scales.

import { h, svg } from "./dom.js";
import * as fmt from "./format.js";

export const PALETTE = ["#6366f1", "#06b6d4", "#f59e0b", "#10b981", "#ec4899", "#8b5cf6", "#ef4444", "#84cc16", "#64748b"];

/**
 * Round ticks covering [0, max]: about `count` steps of 1, 2, 2.5 or 5 × 10^n; with `integer` (an
 * axis that counts things) only whole steps, so a count of 1 never gets ticks of 0.25.
 */
export function niceTicks(max, count = 4, integer = false) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const steps = [1, 2, 2.5, 5, 10].map((m) => m * mag).filter((s) => !integer || (s >= 1 && Number.isInteger(s)));
  const step = steps.find((s) => s >= raw) ?? (integer ? Math.max(1, Math.ceil(raw)) : 10 * mag);
  const ticks = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Left margin that fits the widest y-axis label (11px tabular digits are about 6.6px wide). */
function axisMargin(labels) {
  return Math.max(40, 14 + Math.ceil(6.6 * Math.max(...labels.map((l) => String(l).length))));
}

function emptyState(text) {
  return h("div", { class: "chart-empty" }, text);
}

/** Call `draw(width)` now and whenever `plot`'s pixel width changes; returns the disconnect. */
function observeWidth(plot, draw) {
  let width = 0;
  const observer = new ResizeObserver(() => {
    const next = Math.floor(plot.clientWidth);
    if (next > 0 && next !== width) {
      width = next;
      draw(width);
    }
  });
  observer.observe(plot);
  return () => observer.disconnect();
}

function legendSwatch(color, dashed = false) {
  return dashed
    ? h("span", { class: "legend-swatch legend-swatch-dashed", style: { borderTopColor: color } })
    : h("span", { class: "legend-swatch", style: { background: color } });
}

/** Show `tip` over bucket `i` of a chart whose buckets are `band` wide from `left`. */
function placeTip(tip, legend, width, left, band, i) {
  tip.hidden = false;
  const x = Math.min(Math.max(left + i * band + band / 2, 80), width - 80);
  Object.assign(tip.style, { left: `${x}px`, top: `${legend.offsetHeight + 4}px` });
}

/**
 * Bar chart over time buckets.
 * data: [{t (ms), label, values: [number per series]}]; series: [{label, color}].
 */
export function barChart({ data, series, stacked = true, formatValue, formatTick = formatValue, integer = false, height = 220, emptyText = "No data in this range" }) {
  const el = h("div", { class: "chart" });
  const tip = h("div", { class: "chart-tip", hidden: true });
  // A legend even for one series, so charts side by side line up.
  const legend = h("div", { class: "chart-legend" }, series.map((s) => h("span", { class: "legend-item" }, h("span", { class: "legend-swatch", style: { background: s.color } }), s.label)));
  const plot = h("div", { class: "chart-plot" });
  el.append(legend, plot, tip);
  const total = data.reduce((sum, d) => sum + d.values.reduce((a, b) => a + b, 0), 0);
  if (total === 0) {
    plot.append(emptyState(emptyText));
    el.destroy = () => {};
    return el;
  }

  const draw = (width) => {
    const totals = data.map((d) => (stacked ? d.values.reduce((a, b) => a + b, 0) : Math.max(...d.values)));
    const ticks = niceTicks(Math.max(...totals), 4, integer);
    const m = { top: 10, right: 8, bottom: 26, left: axisMargin(ticks.map(formatTick)) };
    const w = width - m.left - m.right;
    const ph = height - m.top - m.bottom;
    const yMax = ticks[ticks.length - 1];
    const y = (v) => m.top + ph - (v / yMax) * ph;
    const band = w / data.length;
    const barW = Math.max(1, Math.min(band * 0.72, 42));
    const groupW = stacked ? barW : barW / series.length;
    const root = svg("svg", { class: "chart-svg", width: String(width), height: String(height), viewBox: `0 0 ${width} ${height}`, role: "img" });

    for (const t of ticks) {
      root.append(svg("line", { class: "grid", x1: String(m.left), x2: String(width - m.right), y1: String(y(t)), y2: String(y(t)) }));
      root.append(svg("text", { class: "axis-label", x: String(m.left - 8), y: String(y(t) + 4), "text-anchor": "end" }, formatTick(t)));
    }
    const labelEvery = Math.max(1, Math.ceil(64 / band));
    data.forEach((d, i) => {
      const x0 = m.left + i * band + (band - barW) / 2;
      let acc = 0;
      d.values.forEach((v, j) => {
        if (v <= 0) return;
        const top = stacked ? y(acc + v) : y(v);
        const bottom = stacked ? y(acc) : y(0);
        const x = stacked ? x0 : x0 + j * groupW;
        root.append(svg("rect", { class: "bar", x: String(x), y: String(top), width: String(Math.max(groupW - (stacked ? 0 : 1), 1)), height: String(Math.max(bottom - top, 0.5)), fill: series[j].color, rx: "1.5" }));
        acc += v;
      });
      if (i % labelEvery === 0) {
        root.append(svg("text", { class: "axis-label", x: String(m.left + i * band + band / 2), y: String(height - 8), "text-anchor": "middle" }, d.label));
      }
      const hit = svg("rect", { class: "hit", x: String(m.left + i * band), y: String(m.top), width: String(band), height: String(ph) });
      hit.addEventListener("mouseenter", () => {
        hit.classList.add("active");
        tip.replaceChildren(
          h("div", { class: "tip-title" }, d.tooltipLabel || d.label),
          ...series.map((s, j) => h("div", { class: "tip-row" }, h("span", { class: "legend-swatch", style: { background: s.color } }), h("span", { class: "tip-label" }, s.label), h("span", { class: "tip-value" }, formatValue(d.values[j])))),
        );
        placeTip(tip, legend, width, m.left, band, i);
      });
      hit.addEventListener("mouseleave", () => {
        hit.classList.remove("active");
        tip.hidden = true;
      });
      root.append(hit);
    });
    root.append(svg("line", { class: "axis", x1: String(m.left), x2: String(width - m.right), y1: String(y(0)), y2: String(y(0)) }));
    plot.replaceChildren(root);
  };
  el.destroy = observeWidth(plot, draw);
  return el;
}

/**
 * A rate in [0, 1] per time bucket, as a line with dots; a bucket whose rate is null (nothing to
 * rate) leaves a gap. `reference` (the rate over all buckets) is drawn as a dashed line.
 * data: [{t, label, tooltipLabel, rate, rows: [[label, value]]}], the rows making the tooltip.
 */
export function rateChart({ data, label, color, reference = null, referenceLabel = "", height = 200, emptyText = "No data in this range" }) {
  const el = h("div", { class: "chart chart-rate" });
  const tip = h("div", { class: "chart-tip", hidden: true });
  const legend = h(
    "div",
    { class: "chart-legend" },
    h("span", { class: "legend-item" }, legendSwatch(color), label),
    reference !== null ? h("span", { class: "legend-item" }, legendSwatch("#98a2b3", true), referenceLabel) : null,
  );
  const plot = h("div", { class: "chart-plot", style: { minHeight: `${height}px` } });
  el.append(legend, plot, tip);
  if (!data.some((d) => d.rate !== null)) {
    plot.append(emptyState(emptyText));
    el.destroy = () => {};
    return el;
  }

  const draw = (width) => {
    const highest = Math.max(reference || 0, ...data.map((d) => d.rate || 0));
    const ticks = niceTicks(Math.min(Math.max(highest, 0.04), 1));
    const m = { top: 12, right: 12, bottom: 26, left: axisMargin(ticks.map(fmt.percentTick)) };
    const w = width - m.left - m.right;
    const ph = height - m.top - m.bottom;
    const yMax = ticks[ticks.length - 1];
    const y = (v) => m.top + ph - (Math.min(v, yMax) / yMax) * ph;
    const band = w / data.length;
    const x = (i) => m.left + i * band + band / 2;
    const root = svg("svg", { class: "chart-svg", width: String(width), height: String(height), viewBox: `0 0 ${width} ${height}`, role: "img" });

    for (const t of ticks) {
      root.append(svg("line", { class: "grid", x1: String(m.left), x2: String(width - m.right), y1: String(y(t)), y2: String(y(t)) }));
      root.append(svg("text", { class: "axis-label", x: String(m.left - 8), y: String(y(t) + 4), "text-anchor": "end" }, fmt.percentTick(t)));
    }
    // Runs of consecutive buckets that have a rate: an area and a line each.
    const runs = [];
    data.forEach((d, i) => {
      if (d.rate === null) return;
      const last = runs[runs.length - 1];
      if (last && last[last.length - 1] === i - 1) last.push(i);
      else runs.push([i]);
    });
    for (const run of runs) {
      const points = run.map((i) => `${x(i)},${y(data[i].rate)}`);
      if (run.length > 1) {
        root.append(svg("path", { class: "rate-area", fill: color, d: `M${x(run[0])},${y(0)}L${points.join("L")}L${x(run[run.length - 1])},${y(0)}Z` }));
        root.append(svg("path", { class: "rate-line", stroke: color, d: `M${points.join("L")}` }));
      }
    }
    root.append(svg("line", { class: "axis", x1: String(m.left), x2: String(width - m.right), y1: String(y(0)), y2: String(y(0)) }));
    if (reference !== null) {
      root.append(svg("line", { class: "rate-ref", x1: String(m.left), x2: String(width - m.right), y1: String(y(reference)), y2: String(y(reference)) }));
    }
    const dots = data.map((d, i) => {
      if (d.rate === null) return null;
      // A bucket at 0% is nothing to worry about: a quiet dot, not one in the alert colour.
      const zero = d.rate === 0;
      const dot = svg("circle", { class: zero ? "rate-point rate-point-zero" : "rate-point", cx: String(x(i)), cy: String(y(d.rate)), r: "3.5", stroke: zero ? "#98a2b3" : color });
      root.append(dot);
      return dot;
    });
    const labelEvery = Math.max(1, Math.ceil(64 / band));
    data.forEach((d, i) => {
      if (i % labelEvery === 0) {
        root.append(svg("text", { class: "axis-label", x: String(x(i)), y: String(height - 8), "text-anchor": "middle" }, d.label));
      }
      const hit = svg("rect", { class: "hit", x: String(m.left + i * band), y: String(m.top), width: String(band), height: String(ph) });
      hit.addEventListener("mouseenter", () => {
        hit.classList.add("active");
        if (dots[i]) dots[i].setAttribute("r", "5");
        tip.replaceChildren(
          h("div", { class: "tip-title" }, d.tooltipLabel || d.label),
          ...d.rows.map(([rowLabel, value], j) => h("div", { class: "tip-row" }, j === 0 ? legendSwatch(color) : h("span", { class: "legend-swatch" }), h("span", { class: "tip-label" }, rowLabel), h("span", { class: "tip-value" }, value))),
        );
        placeTip(tip, legend, width, m.left, band, i);
      });
      hit.addEventListener("mouseleave", () => {
        hit.classList.remove("active");
        if (dots[i]) dots[i].setAttribute("r", "3.5");
        tip.hidden = true;
      });
      root.append(hit);
    });
    plot.replaceChildren(root);
  };
  el.destroy = observeWidth(plot, draw);
  return el;
}

/** A donut of shares: segments [{label, value, color}], with a centre label (`centreTitle` its tooltip). */
export function donut(segments, centre, sub, size = 168, centreTitle = null) {
  const r = size / 2 - 14;
  const c = 2 * Math.PI * r;
  const total = segments.reduce((a, s) => a + s.value, 0);
  const root = svg("svg", { class: "donut", width: String(size), height: String(size), viewBox: `0 0 ${size} ${size}`, role: "img" });
  root.append(svg("circle", { class: "donut-track", cx: String(size / 2), cy: String(size / 2), r: String(r) }));
  const group = svg("g", { transform: `rotate(-90 ${size / 2} ${size / 2})` });
  let offset = 0;
  if (total > 0) {
    for (const s of segments) {
      const len = (s.value / total) * c;
      if (len <= 0) continue;
      const gap = segments.length > 1 && len > 3 ? 1.5 : 0;
      group.append(svg("circle", { class: "donut-seg", cx: String(size / 2), cy: String(size / 2), r: String(r), stroke: s.color, "stroke-dasharray": `${Math.max(len - gap, 0.5)} ${c}`, "stroke-dashoffset": String(-offset) }, svg("title", null, s.label)));
      offset += len;
    }
  }
  root.append(group);
  const middle = svg("g", { class: "donut-centre" }, centreTitle ? svg("title", null, centreTitle) : null);
  middle.append(svg("text", { class: "donut-value", x: String(size / 2), y: String(size / 2 + 2), "text-anchor": "middle" }, centre));
  if (sub) middle.append(svg("text", { class: "donut-sub", x: String(size / 2), y: String(size / 2 + 20), "text-anchor": "middle" }, sub));
  root.append(middle);
  return root;
}

/** A small progress ring for a rate in [0, 1]. */
export function ring(rate, size = 44, cls = "ring") {
  const r = size / 2 - 4;
  const c = 2 * Math.PI * r;
  const clamped = Math.min(Math.max(rate, 0), 1);
  return svg(
    "svg",
    { class: cls, width: String(size), height: String(size), viewBox: `0 0 ${size} ${size}`, "aria-hidden": "true" },
    svg("circle", { class: "ring-track", cx: String(size / 2), cy: String(size / 2), r: String(r) }),
    svg("circle", { class: "ring-value", cx: String(size / 2), cy: String(size / 2), r: String(r), "stroke-dasharray": `${clamped * c} ${c}`, transform: `rotate(-90 ${size / 2} ${size / 2})` }),
  );
}
