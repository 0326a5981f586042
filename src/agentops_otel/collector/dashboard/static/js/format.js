// Formatting of numbers, money, durations and times for display.

const intFormat = new Intl.NumberFormat("en-US");
const compactFormat = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
const dateTimeFormat = new Intl.DateTimeFormat("en-US", {
  month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});
const fullFormat = new Intl.DateTimeFormat("en-US", {
  year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  hour12: false, timeZoneName: "short",
});
const hourFormat = new Intl.DateTimeFormat("en-US", { hour: "2-digit", minute: "2-digit", hour12: false });
const dayFormat = new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric" });
const utcDayFormat = new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric", timeZone: "UTC" });

export function num(value) {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

export function int(value) {
  return intFormat.format(num(value));
}

/** The word for `n` things: pluralWord(1, "LLM call") is "LLM call", pluralWord(2, "LLM call") "LLM calls". */
export function pluralWord(n, singular, plural = `${singular}s`) {
  return num(n) === 1 ? singular : plural;
}

/** A count with its noun: "1 LLM call", "2 LLM calls", "1,204 spans". */
export function count(n, singular, plural) {
  return `${int(n)} ${pluralWord(n, singular, plural)}`;
}

export function compact(value) {
  const n = num(value);
  return Math.abs(n) < 10000 ? intFormat.format(n) : compactFormat.format(n);
}

const centsFormat = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const SMALLEST_SHOWN = 0.000001;

/**
 * Money for display, one rule everywhere: from $1 on cents ("$12.35", "$1,234.50"); below $1 three
 * significant digits and at least two decimals ("$0.50", "$0.0208", "$0.000161", "$0.00004"), so a
 * sub-cent call is never rounded to a neighbour's price; a non-zero amount under $0.000001 is
 * "<$0.000001", zero "$0.00". The exact figure is `exactMoney` (shown as a tooltip).
 */
export function money(value) {
  const n = num(value);
  if (n === 0) return "$0.00";
  const sign = n < 0 ? "−" : "";
  const abs = Math.abs(n);
  if (abs < SMALLEST_SHOWN) return `${sign}<$${SMALLEST_SHOWN.toFixed(6)}`;
  if (abs >= 1) return `${sign}$${centsFormat.format(abs)}`;
  const decimals = Math.max(2, 2 - Math.floor(Math.log10(abs)));
  const text = abs.toFixed(decimals).replace(/(\.\d\d\d*?)0+$/, "$1");
  return `${sign}$${text}`;
}

/** The amount exactly as the API gave it (a decimal string), for tooltips: "$0.000360". */
export function exactMoney(value) {
  if (value === null || value === undefined || value === "") return "";
  const text = String(value);
  return text.startsWith("-") ? `−$${text.slice(1)}` : `$${text}`;
}

/**
 * The exact sum of money amounts as the API gives them (decimal strings), as a decimal string:
 * sumMoney(["0.1", "0.2"]) is "0.3", not 0.30000000000000004. Anything not a plain decimal is
 * added as a float instead.
 */
export function sumMoney(values) {
  let units = 0n;
  let scale = 0;
  let inexact = 0;
  for (const value of values) {
    const match = /^(-?)(\d*)(?:\.(\d*))?$/.exec(String(value ?? "0").trim());
    if (!match || !(match[2] || match[3])) {
      inexact += num(value);
      continue;
    }
    const [, sign, whole, frac = ""] = match;
    if (frac.length > scale) {
      units *= 10n ** BigInt(frac.length - scale);
      scale = frac.length;
    }
    const amount = BigInt(`${whole || "0"}${frac.padEnd(scale, "0")}`);
    units += sign ? -amount : amount;
  }
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, "0");
  const whole = digits.slice(0, digits.length - scale);
  const frac = digits.slice(digits.length - scale).replace(/0+$/, "");
  const text = `${negative ? "-" : ""}${whole}${frac ? `.${frac}` : ""}`;
  if (inexact) return String(Number(text) + inexact);
  return text === "-0" ? "0" : text;
}

/** Money for chart axes: as few digits as the tick needs ("$0.30", "$0.0025", "$1,200"). */
export function moneyTick(value) {
  const n = num(value);
  if (n === 0) return "$0";
  if (n >= 1) return `$${Number.isInteger(n) ? intFormat.format(n) : n.toFixed(2)}`;
  const [whole, frac = ""] = String(Number(n.toPrecision(6))).split(".");
  return `$${whole}.${frac.padEnd(2, "0")}`;
}

/** Seconds to "350 ms", "12.3 s", "4m 05s", "2h 03m". */
export function seconds(value) {
  if (value === null || value === undefined) return "—";
  return millis(num(value) * 1000);
}

export function millis(value) {
  const ms = num(value);
  if (ms === 0) return "0 ms";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  const hours = Math.floor(m / 60);
  return `${hours}h ${String(m % 60).padStart(2, "0")}m`;
}

export function parseTime(iso) {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

export function dateTime(iso) {
  const t = parseTime(iso);
  return t === null ? "—" : dateTimeFormat.format(t);
}

export function fullDateTime(iso) {
  const t = parseTime(iso);
  return t === null ? "—" : fullFormat.format(t);
}

export function hourLabel(t) {
  return hourFormat.format(t);
}

export function dayLabel(t) {
  return dayFormat.format(t);
}

/** The UTC calendar day of `t`: the collector's day buckets run from UTC midnight to UTC midnight. */
export function utcDayLabel(t) {
  return utcDayFormat.format(t);
}

/** "3 min ago", "2 h ago", "5 d ago". */
export function relative(iso, now = Date.now()) {
  const t = parseTime(iso);
  if (t === null) return "";
  const s = Math.round((now - t) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function shortId(id) {
  return String(id || "").slice(0, 8);
}

export function percent(value) {
  const n = num(value) * 100;
  if (n === 0) return "0%";
  return n < 1 ? `${n.toFixed(2)}%` : `${n.toFixed(1)}%`;
}

/** A rate in [0, 1] for chart axes: "0%", "2.5%", "25%", "100%". */
export function percentTick(value) {
  return `${Number((num(value) * 100).toPrecision(6))}%`;
}

/** An attribute value for display: strings as they are, everything else as JSON. */
export function attrText(value) {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
