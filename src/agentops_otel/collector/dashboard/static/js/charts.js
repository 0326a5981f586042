// Charts drawn as inline SVG: time-bucketed bar charts (optionally stacked), a donut and a ring.
// Charts re-draw at their real pixel width (ResizeObserver) so text never scales.

import { h, svg } from "./dom.js";

export const PALETTE = ["#6366f1", "#06b6d4", "#f59e0b", "#10b981", "#ec4899", "#8b5cf6", "#ef4444", "#84cc16", "#64748b"];

/** Round ticks covering [0, max]: about `count` steps of 1, 2, 2.5 or 5 × 10^n. */
export function niceTicks(max, count = 4) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function emptyState(text) {
  return h("div", { class: "chart-empty" }, text);
}

/**
 * Bar chart over time buckets.
 * data: [{t (ms), label, values: [number per series]}]; series: [{label, color}].
 */
export function barChart({ data, series, stacked = true, formatValue, formatTick = formatValue, height = 220, emptyText = "No data in this range" }) {
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

  let width = 0;
  const draw = () => {
    const m = { top: 10, right: 8, bottom: 26, left: 58 };
    const w = width - m.left - m.right;
    const ph = height - m.top - m.bottom;
    const totals = data.map((d) => (stacked ? d.values.reduce((a, b) => a + b, 0) : Math.max(...d.values)));
    const ticks = niceTicks(Math.max(...totals));
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
        tip.hidden = false;
        const left = Math.min(Math.max(m.left + i * band + band / 2, 80), width - 80);
        Object.assign(tip.style, { left: `${left}px`, top: `${legend.offsetHeight + 4}px` });
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
  const observer = new ResizeObserver(() => {
    const next = Math.floor(plot.clientWidth);
    if (next > 0 && next !== width) {
      width = next;
      draw();
    }
  });
  observer.observe(plot);
  el.destroy = () => observer.disconnect();
  return el;
}

/** A donut of shares: segments [{label, value, color}], with a centre label. */
export function donut(segments, centre, sub, size = 168) {
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
  root.append(svg("text", { class: "donut-value", x: String(size / 2), y: String(size / 2 + 2), "text-anchor": "middle" }, centre));
  if (sub) root.append(svg("text", { class: "donut-sub", x: String(size / 2), y: String(size / 2 + 20), "text-anchor": "middle" }, sub));
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
