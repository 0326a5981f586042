// Entry point: hash router, API key gate and the header's connection status.

import { ApiError, forgetApiKey, getApiKey, getJson, setApiKey } from "./api.js";
import { errorPage } from "./components.js";
import { h, icon, mount } from "./dom.js";
import { sessionDetailView } from "./detail.js";
import { overviewView } from "./overview.js";
import { currentRoute } from "./router.js";
import { sessionsView } from "./sessions.js";

const view = document.getElementById("view");
const authStatus = document.getElementById("auth-status");
let cleanup = null;

function setActiveNav(name) {
  for (const link of document.querySelectorAll(".nav-link")) {
    link.classList.toggle("active", link.dataset.route === name);
  }
}

function renderAuthStatus() {
  const key = getApiKey();
  if (!key) {
    mount(authStatus);
    return;
  }
  mount(
    authStatus,
    h("span", { class: "key-chip", title: "API key kept in this browser tab only" }, icon("key"), `••••${key.slice(-4)}`),
    h("button", { type: "button", class: "btn btn-ghost btn-sm", id: "sign-out", onclick: () => { forgetApiKey(); route(); } }, "Forget key"),
  );
}

function keyGate(message) {
  setActiveNav(null);
  const input = h("input", { type: "password", id: "api-key", class: "input", placeholder: "Paste your API key", autocomplete: "off", spellcheck: "false", required: true });
  const error = h("div", { class: "form-error", role: "alert" }, message || "");
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Connect");
  const form = h(
    "form",
    {
      class: "card key-card",
      id: "key-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const key = input.value.trim();
        if (!key) return;
        submit.disabled = true;
        error.textContent = "";
        try {
          await getJson("/v2/sessions", { limit: 1 }, { key });
          setApiKey(key);
          route();
        } catch (err) {
          error.textContent = err instanceof ApiError && err.status === 401 ? "That key was not accepted by the collector." : err.message;
          submit.disabled = false;
          input.focus();
        }
      },
    },
    h("div", { class: "key-icon" }, icon("key")),
    h("h1", { class: "key-title" }, "Connect to your collector"),
    h("p", { class: "key-text" }, "Enter a project API key, or a parent key to read the projects of its child keys. It is kept in this browser tab only and sent with each request as the X-Agentops-Api-Key header."),
    h("label", { class: "label", for: "api-key" }, "API key"),
    input,
    error,
    submit,
  );
  mount(view, h("div", { class: "key-wrap" }, form));
  input.focus();
}

function route() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  delete view.dataset.loaded; // each view sets it once its first data is on screen (tests wait on it)
  renderAuthStatus();
  if (!getApiKey()) {
    keyGate();
    return;
  }
  const { parts, query, malformed } = currentRoute();
  if (malformed) {
    setActiveNav(null);
    mount(view, errorPage("This link is broken", "Its address has a malformed %-escape, so it cannot point at a session or page. Check that it was copied whole."));
    view.dataset.loaded = "true";
    window.scrollTo(0, 0);
    return;
  }
  const ctx = {
    query,
    // A view calls this when the API rejects the key (revoked, or the collector restarted).
    unauthorized: () => {
      forgetApiKey();
      renderAuthStatus();
      keyGate("The collector no longer accepts this key. Enter it again.");
    },
  };
  if (parts[0] === "sessions" && parts[1]) {
    setActiveNav("sessions");
    cleanup = sessionDetailView(view, parts[1], ctx);
  } else if (parts[0] === "overview") {
    setActiveNav("overview");
    cleanup = overviewView(view, ctx);
  } else if (parts[0] === "sessions" || parts.length === 0) {
    setActiveNav("sessions");
    cleanup = sessionsView(view, ctx);
  } else {
    location.replace("#/sessions");
  }
  window.scrollTo(0, 0);
}

window.addEventListener("hashchange", route);
route();
