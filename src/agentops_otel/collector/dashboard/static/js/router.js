// Hash routes: "#/sessions", "#/sessions/<id>", "#/overview", each with an optional "?query".

/** A path segment decoded, or null when its %-escapes are malformed ("%E0", "%zz"). */
function decodePart(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

/**
 * Parse "#/sessions/abc?x=1" into {parts: ["sessions", "abc"], query: URLSearchParams, malformed: false}.
 * A link whose path cannot be decoded (a truncated or hand-edited URL) is `malformed`.
 */
export function currentRoute() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodePart);
  const malformed = parts.includes(null);
  return { parts: malformed ? [] : parts, query: new URLSearchParams(query), malformed };
}

/** Record a view's filters in the URL (shareable, survives reload) without a history entry or re-route. */
export function replaceQuery(query) {
  const { parts } = currentRoute();
  const text = query.toString();
  const hash = `#/${parts.map(encodeURIComponent).join("/")}${text ? `?${text}` : ""}`;
  history.replaceState(null, "", hash);
}
