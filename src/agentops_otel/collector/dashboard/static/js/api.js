// The collector's REST API (/v2/...). The API key lives in sessionStorage only: it is gone when
// the browser tab closes, and never written to localStorage, a cookie or a URL.

const KEY_STORAGE = "agentops-otel.api-key";
export const KEY_HEADER = "X-Agentops-Api-Key";

export function getApiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function setApiKey(key) {
  sessionStorage.setItem(KEY_STORAGE, key);
}

export function forgetApiKey() {
  sessionStorage.removeItem(KEY_STORAGE);
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET a JSON document. `params` entries that are null/undefined/"" are left out. */
export async function getJson(path, params = {}, { signal, key = getApiKey() } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, String(value));
  }
  let response;
  try {
    response = await fetch(url, { headers: { [KEY_HEADER]: key || "", Accept: "application/json" }, signal, cache: "no-store" });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "Cannot reach the collector. Is it running?");
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body && typeof body.error === "string") message = body.error;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(response.status, message);
  }
  return response.json();
}

/** Save the session's export JSON, exactly as the collector serves it, as a file. */
export async function downloadExport(sessionId, filename) {
  const url = new URL(`/v2/sessions/${encodeURIComponent(sessionId)}/export`, location.origin);
  const response = await fetch(url, { headers: { [KEY_HEADER]: getApiKey() || "" }, cache: "no-store" });
  if (!response.ok) throw new ApiError(response.status, `${response.status} ${response.statusText}`);
  const blob = new Blob([await response.arrayBuffer()], { type: "application/json" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

export const api = {
  sessions: (params, opts) => getJson("/v2/sessions", params, opts),
  stats: (id, opts) => getJson(`/v2/sessions/${encodeURIComponent(id)}/stats`, {}, opts),
  // The detail page's payload: every span once, without the per-span resource the export repeats.
  sessionSpans: (id, opts) => getJson(`/v2/sessions/${encodeURIComponent(id)}/spans`, {}, opts),
  overview: (params, opts) => getJson("/v2/overview", params, opts),
  status: (opts) => getJson("/v2/status", {}, opts),
};
