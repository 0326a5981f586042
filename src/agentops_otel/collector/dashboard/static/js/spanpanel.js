// The details of one selected span: timing, LLM usage and cost, messages, exceptions, attributes.
// Prompts and completions are untrusted: they only ever become text nodes.

import { keyValues, kindBadge, statusBadge } from "./components.js";
import { h } from "./dom.js";
import * as fmt from "./format.js";
import * as sc from "./semconv.js";

/** The first of ``keys`` holding a non-empty string. */
function firstOf(a, keys) {
  return keys.map((key) => a[key]).find((v) => typeof v === "string" && v) ?? null;
}

function isLlm(span) {
  const a = span.attributes || {};
  return span.kind === sc.KIND_LLM || Boolean(a[sc.GEN_AI_REQUEST_MODEL] || a[sc.GEN_AI_RESPONSE_MODEL]);
}

/**
 * Why an LLM call has no cost, from its agentops.cost.source, and what to do about it: an OpenAI
 * stream reports usage only when asked (AGENTOPS_OPENAI_STREAM_USAGE, or stream_options.include_usage).
 */
export function unpricedReason(span) {
  const a = span.attributes || {};
  const source = a[sc.COST_SOURCE];
  const model = firstOf(a, sc.MODEL_KEYS);
  if (source === sc.UNKNOWN_MODEL_SOURCE) return `No price known for the model ${model ? `“${model}”` : "(none named)"}.`;
  const provider = String(firstOf(a, [...sc.PROVIDER_KEYS, sc.OPENINFERENCE_SYSTEM]) || "").toLowerCase();
  if (a[sc.GEN_AI_REQUEST_STREAM] === true && provider.includes(sc.PROVIDER_OPENAI)) {
    return "The stream reported no usage: set AGENTOPS_OPENAI_STREAM_USAGE=true (or pass stream_options={\"include_usage\": true}) to have OpenAI send it.";
  }
  if (span.status_code === "ERROR") return "The call failed before reporting usage.";
  return "The call reported no token usage.";
}

function section(title, ...children) {
  return h("section", { class: "panel-section" }, h("h3", { class: "panel-title" }, title), children);
}

function tokenCell(value) {
  return value === undefined || value === null ? h("span", { class: "muted" }, "—") : fmt.int(value);
}

function llmSection(span) {
  const a = span.attributes || {};
  const requestModel = a[sc.GEN_AI_REQUEST_MODEL];
  const responseModel = a[sc.GEN_AI_RESPONSE_MODEL] || a[sc.OPENINFERENCE_MODEL_NAME];
  const model = responseModel && requestModel && responseModel !== requestModel ? `${requestModel} → ${responseModel}` : responseModel || requestModel;
  const input = a[sc.GEN_AI_USAGE_INPUT_TOKENS];
  const output = a[sc.GEN_AI_USAGE_OUTPUT_TOKENS];
  const cost = span.cost ?? a[sc.GEN_AI_USAGE_COST];
  const finish = a[sc.GEN_AI_RESPONSE_FINISH_REASONS];
  const tokens = h(
    "table",
    { class: "mini-table tokens-table" },
    h("tbody", null,
      h("tr", null, h("th", null, "Input"), h("td", { class: "num" }, tokenCell(input))),
      h("tr", { class: "sub" }, h("th", null, "of which cache read"), h("td", { class: "num" }, tokenCell(a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS]))),
      h("tr", { class: "sub" }, h("th", null, "of which cache write"), h("td", { class: "num" }, tokenCell(a[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS]))),
      h("tr", null, h("th", null, "Output"), h("td", { class: "num" }, tokenCell(output))),
      h("tr", { class: "sub" }, h("th", null, "of which reasoning"), h("td", { class: "num" }, tokenCell(a[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS]))),
      h("tr", { class: "total" }, h("th", null, "Total"), h("td", { class: "num" }, fmt.int(fmt.num(input) + fmt.num(output))))),
  );
  const unpriced = cost === undefined || cost === null;
  const costBlock = h(
    "div",
    { class: "cost-block" },
    h("div", { class: "cost-main", id: "span-cost", title: fmt.exactMoney(cost) || null }, unpriced ? "unpriced" : fmt.money(cost)),
    unpriced ? h("div", { class: "cost-reason", id: "span-cost-reason" }, unpricedReason(span)) : null,
    h("div", { class: "cost-sub" },
      a[sc.COST_INPUT] !== undefined ? `input ${fmt.money(a[sc.COST_INPUT])}` : null,
      a[sc.COST_OUTPUT] !== undefined ? ` · output ${fmt.money(a[sc.COST_OUTPUT])}` : null),
    a[sc.COST_SOURCE] ? h("div", { class: "cost-source" }, `source: ${a[sc.COST_SOURCE]}`) : null,
  );
  return section(
    "LLM call",
    keyValues([
      ["Provider", firstOf(a, [...sc.PROVIDER_KEYS, sc.OPENINFERENCE_SYSTEM])],
      ["Model", model || null],
      ["Operation", a[sc.GEN_AI_OPERATION_NAME] || null],
      ["Finish", Array.isArray(finish) ? finish.join(", ") : finish || null],
      ["Response id", a[sc.GEN_AI_RESPONSE_ID] ? h("span", { class: "mono" }, a[sc.GEN_AI_RESPONSE_ID]) : null],
      ["Streamed", a[sc.GEN_AI_REQUEST_STREAM] === undefined ? null : String(a[sc.GEN_AI_REQUEST_STREAM])],
    ], "kv kv-compact"),
    h("div", { class: "llm-usage" }, costBlock, tokens),
  );
}

function parseJson(value) {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function pre(text, cls = "msg-text") {
  return h("pre", { class: cls }, text);
}

/** One message part (GenAI conventions: text, tool_call, tool_call_response, ...). */
function part(p) {
  if (typeof p === "string") return pre(p);
  if (p && typeof p === "object") {
    if ((p.type === "text" || p.type === "reasoning") && typeof p.content === "string") return pre(p.content, p.type === "reasoning" ? "msg-text msg-reasoning" : "msg-text");
    if (p.type === "text" && typeof p.text === "string") return pre(p.text);
    if (p.type === "tool_call") {
      const args = typeof p.arguments === "string" ? p.arguments : JSON.stringify(p.arguments ?? {}, null, 2);
      return h("div", { class: "msg-tool" }, h("div", { class: "msg-tool-name" }, `→ ${p.name ?? "tool"}`, p.id ? h("span", { class: "muted mono" }, ` ${p.id}`) : null), pre(args, "msg-code"));
    }
    if (p.type === "tool_call_response") {
      const response = typeof p.response === "string" ? p.response : JSON.stringify(p.response, null, 2);
      return h("div", { class: "msg-tool" }, h("div", { class: "msg-tool-name" }, "← tool result", p.id ? h("span", { class: "muted mono" }, ` ${p.id}`) : null), pre(response, "msg-code"));
    }
  }
  return pre(JSON.stringify(p, null, 2), "msg-code");
}

function message(msg) {
  if (!msg || typeof msg !== "object") return h("div", { class: "msg" }, part(msg));
  const role = String(msg.role ?? msg.type ?? "message");
  let parts;
  if (Array.isArray(msg.parts)) parts = msg.parts.map(part);
  else if (typeof msg.content === "string") parts = [pre(msg.content)];
  else if (Array.isArray(msg.content)) parts = msg.content.map(part);
  else if (typeof msg.content === "string" || msg.type) parts = [part(msg)];
  else parts = [pre(JSON.stringify(msg, null, 2), "msg-code")];
  return h(
    "div",
    { class: `msg msg-${["system", "user", "assistant", "tool"].includes(role) ? role : "other"}` },
    h("div", { class: "msg-role" }, role, msg.finish_reason ? h("span", { class: "muted" }, ` · ${msg.finish_reason}`) : null),
    parts,
  );
}

function messages(value) {
  const parsed = parseJson(value);
  if (typeof parsed === "string") return [h("div", { class: "msg" }, pre(parsed))];
  return (Array.isArray(parsed) ? parsed : [parsed]).map(message);
}

/**
 * Message content sent apart from the span, as GenAI events (log records, or span events): the
 * call's operation.details event holds the same attributes as a span would; older conventions send
 * one event per message (body: content, tool_calls) and one per choice (body: message, finish_reason).
 */
function eventMessages(span) {
  const found = {};
  const input = [];
  const output = [];
  for (const event of [...(span.events || []), ...(span.logs || [])]) {
    const a = event.attributes || {};
    const body = event.body && typeof event.body === "object" ? event.body : a;
    if (event.name === sc.GEN_AI_OPERATION_DETAILS_EVENT) {
      for (const key of [sc.GEN_AI_SYSTEM_INSTRUCTIONS, sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES]) {
        if (a[key] !== undefined && found[key] === undefined) found[key] = a[key];
      }
    } else if (sc.GEN_AI_MESSAGE_EVENTS.includes(event.name)) {
      input.push({ role: event.name.split(".")[1], ...body });
    } else if (event.name === sc.GEN_AI_CHOICE_EVENT) {
      const msg = body.message && typeof body.message === "object" ? body.message : {};
      output.push({ role: "assistant", ...msg, finish_reason: body.finish_reason });
    }
  }
  if (found[sc.GEN_AI_INPUT_MESSAGES] === undefined && input.length) found[sc.GEN_AI_INPUT_MESSAGES] = input;
  if (found[sc.GEN_AI_OUTPUT_MESSAGES] === undefined && output.length) found[sc.GEN_AI_OUTPUT_MESSAGES] = output;
  return found;
}

/**
 * OpenInference's flattened message list (``llm.input_messages.0.message.role`` ...) as messages
 * in the GenAI shape (role and parts), or undefined when the span has none.
 */
function openInferenceMessages(attributes, prefix) {
  const byIndex = new Map();
  for (const [key, value] of Object.entries(attributes)) {
    const match = key.startsWith(`${prefix}.`) && key.slice(prefix.length + 1).match(/^(\d+)\.message\.(.+)$/);
    if (!match) continue;
    const index = Number(match[1]);
    if (!byIndex.has(index)) byIndex.set(index, {});
    byIndex.get(index)[match[2]] = value;
  }
  if (byIndex.size === 0) return undefined;
  return [...byIndex.keys()].sort((x, y) => x - y).map((index) => {
    const fields = byIndex.get(index);
    const parts = [];
    if (typeof fields.content === "string") parts.push({ type: "text", content: fields.content });
    for (let j = 0; fields[`contents.${j}.message_content.text`] !== undefined; j++) {
      parts.push({ type: "text", content: String(fields[`contents.${j}.message_content.text`]) });
    }
    for (let j = 0; fields[`tool_calls.${j}.tool_call.function.name`] !== undefined; j++) {
      parts.push({
        type: "tool_call",
        name: fields[`tool_calls.${j}.tool_call.function.name`],
        id: fields[`tool_calls.${j}.tool_call.id`],
        arguments: fields[`tool_calls.${j}.tool_call.function.arguments`] ?? "",
      });
    }
    return { role: fields.role ?? "message", parts };
  });
}

function messagesSection(span) {
  // The span's own content attributes win; what it lacks comes from its GenAI events, or from
  // OpenInference's flattened message lists.
  const own = span.attributes || {};
  const openInference = {
    [sc.GEN_AI_INPUT_MESSAGES]: openInferenceMessages(own, sc.OPENINFERENCE_INPUT_MESSAGES),
    [sc.GEN_AI_OUTPUT_MESSAGES]: openInferenceMessages(own, sc.OPENINFERENCE_OUTPUT_MESSAGES),
  };
  const a = { ...eventMessages(span), ...Object.fromEntries(Object.entries(openInference).filter(([, v]) => v)), ...own };
  const blocks = [];
  if (a[sc.GEN_AI_SYSTEM_INSTRUCTIONS] !== undefined) {
    const parsed = parseJson(a[sc.GEN_AI_SYSTEM_INSTRUCTIONS]);
    blocks.push(h("div", { class: "msg-group" }, h("div", { class: "msg-group-title" }, "System instructions"), message({ role: "system", parts: Array.isArray(parsed) ? parsed : [parsed] })));
  }
  if (a[sc.GEN_AI_INPUT_MESSAGES] !== undefined) blocks.push(h("div", { class: "msg-group", id: "input-messages" }, h("div", { class: "msg-group-title" }, "Input"), messages(a[sc.GEN_AI_INPUT_MESSAGES])));
  if (a[sc.GEN_AI_OUTPUT_MESSAGES] !== undefined) blocks.push(h("div", { class: "msg-group", id: "output-messages" }, h("div", { class: "msg-group-title" }, "Output"), messages(a[sc.GEN_AI_OUTPUT_MESSAGES])));
  if (blocks.length === 0) return section("Messages", h("p", { class: "muted small" }, "Message content was not captured for this call."));
  return section("Messages", blocks);
}

/**
 * The span's error: each exception event with its stack trace, else the status. The error logs an
 * ErrorEvent records (`agentops.error.logs`) usually are that same traceback: shown here once, and
 * only when no exception already shows the same text.
 */
function exceptionSection(span) {
  const exceptions = (span.events || []).filter((e) => e.name === sc.EXCEPTION_EVENT);
  const a = span.attributes || {};
  if (exceptions.length === 0 && span.status_code !== "ERROR" && !a[sc.ERROR_LOGS]) return null;
  const traces = new Set(exceptions.map((e) => String((e.attributes || {})[sc.EXCEPTION_STACKTRACE] || "").trim()));
  const items = exceptions.map((e) => {
    const ea = e.attributes || {};
    return h(
      "div",
      { class: "exception" },
      h("div", { class: "exception-head" }, h("span", { class: "exception-type" }, ea[sc.EXCEPTION_TYPE] || "Exception"), h("span", { class: "muted small" }, fmt.dateTime(e.timestamp))),
      ea[sc.EXCEPTION_MESSAGE] ? h("div", { class: "exception-message" }, ea[sc.EXCEPTION_MESSAGE]) : null,
      ea[sc.EXCEPTION_STACKTRACE] ? pre(ea[sc.EXCEPTION_STACKTRACE], "stacktrace") : null,
    );
  });
  if (items.length === 0) {
    items.push(h("div", { class: "exception" }, h("div", { class: "exception-head" }, h("span", { class: "exception-type" }, a[sc.ERROR_TYPE] || "Error")), span.status_message ? h("div", { class: "exception-message" }, span.status_message) : null));
  }
  const logs = a[sc.ERROR_LOGS] ? String(a[sc.ERROR_LOGS]) : "";
  if (logs && !traces.has(logs.trim())) items.push(h("div", { class: "exception-logs" }, h("div", { class: "muted small" }, "Logs"), pre(logs, "stacktrace")));
  return h("section", { class: "panel-section panel-error" }, h("h3", { class: "panel-title" }, "Error"), items);
}

function eventsSection(span) {
  const others = (span.events || []).filter((e) => e.name !== sc.EXCEPTION_EVENT);
  if (others.length === 0) return null;
  return section(
    `Events (${others.length})`,
    others.map((e) => h("div", { class: "event" }, h("div", { class: "event-head" }, h("span", { class: "event-name" }, e.name), h("span", { class: "muted small" }, fmt.dateTime(e.timestamp))), attrTable(e.attributes || {}))),
  );
}

/** Log records sent for this span (GenAI events with message content, from the official instrumentations). */
function logsSection(span) {
  const logs = span.logs || [];
  if (logs.length === 0) return null;
  return h("section", { class: "panel-section", id: "span-logs" },
    h("h3", { class: "panel-title" }, `Logs (${logs.length})`),
    logs.map((log) => h("div", { class: "event span-log" },
      h("div", { class: "event-head" }, h("span", { class: "event-name" }, log.name || log.severity || "log"), h("span", { class: "muted small" }, fmt.dateTime(log.timestamp))),
      log.body === null || log.body === undefined ? null : h("div", { class: "attr-value mono log-body" }, fmt.attrText(log.body)),
      Object.keys(log.attributes || {}).length ? attrTable(log.attributes) : null)));
}

function attrTable(attributes) {
  const keys = Object.keys(attributes).sort();
  if (keys.length === 0) return h("p", { class: "muted small" }, "None");
  return h(
    "table",
    { class: "mini-table attr-table" },
    h("tbody", null, keys.map((k) => h("tr", null, h("th", { class: "mono" }, k), h("td", null, h("div", { class: "attr-value mono" }, fmt.attrText(attributes[k])))))),
  );
}

/** The panel for one span. */
export function spanPanel(span) {
  const a = span.attributes || {};
  return h(
    "div",
    { class: "span-panel-inner", id: "span-details", "data-span-id": span.span_id },
    h("div", { class: "panel-head" },
      h("div", { class: "panel-badges" }, kindBadge(span.kind), span.status_code === "UNSET" ? null : statusBadge(span.status_code)),
      h("h2", { class: "panel-name" }, span.name || "(unnamed)")),
    keyValues([
      ["Duration", fmt.millis(span.duration_ms)],
      ["Started", fmt.fullDateTime(span.start_time)],
      ["Span kind", span.span_kind],
      ["Service", span.service_name],
      ["Span id", h("span", { class: "mono" }, span.span_id)],
      ["Parent", span.parent_span_id ? h("span", { class: "mono" }, span.parent_span_id) : null],
      ["Status", span.status_message || null],
      ["Tool", firstOf(a, [sc.GEN_AI_TOOL_NAME, sc.OPENINFERENCE_TOOL_NAME])],
      ["Agent", a[sc.AGENT_NAME] || a[sc.GEN_AI_AGENT_NAME] || null],
    ], "kv kv-compact"),
    exceptionSection(span),
    isLlm(span) ? llmSection(span) : null,
    isLlm(span) ? messagesSection(span) : null,
    eventsSection(span),
    logsSection(span),
    // The error logs are shown in the Error section above, not a second time here.
    section("Attributes", attrTable(Object.fromEntries(Object.entries(a).filter(([k]) => k !== sc.ERROR_LOGS)))),
  );
}

export function emptyPanel() {
  return h("div", { class: "span-panel-empty" }, h("div", { class: "empty-illustration", "aria-hidden": "true" }, h("span"), h("span"), h("span")), h("p", null, "Select a span in the timeline to see its details."), h("p", { class: "muted small" }, "Use ↑ ↓ to move between spans."));
}
