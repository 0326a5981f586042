// Hash routes: "#/sessions", "#/sessions/<id>", "#/overview", each with an optional "?query".

/** Parse "#/sessions/abc?x=1" into {parts: ["sessions", "abc"], query: URLSearchParams}. */
export function currentRoute() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = hash.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query) };
}

/** Record a view's filters in the URL (shareable, survives reload) without a history entry or re-route. */
export function replaceQuery(query) {
  const { parts } = currentRoute();
  const text = query.toString();
  const hash = `#/${parts.map(encodeURIComponent).join("/")}${text ? `?${text}` : ""}`;
  history.replaceState(null, "", hash);
}
